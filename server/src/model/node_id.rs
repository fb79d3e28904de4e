//! Node ids, the one form REST, GraphQL and the UI share (Marquez's): `dataset:{namespace}:{name}`,
//! `job:{namespace}:{name}`, `datasetField:{namespace}:{dataset}:{field}`, `run:{uuid}`.
//!
//! Namespaces contain colons (`postgres://host:5432`) and so may names, so the text alone does
//! not say where the namespace ends: `NodeId::parse` checks the form once, and `splits` offers
//! every `(namespace, name)` reading, for a lookup against known names to pick (Marquez resolves
//! ids the same way). A field is what follows the last colon of a `datasetField` id.

use std::fmt;

use uuid::Uuid;

/// What a node id names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeIdKind {
    Dataset,
    Job,
    DatasetField,
    Run,
}

/// A node id, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeId {
    kind: NodeIdKind,
    /// `{namespace}:{name}`, split only by `splits` (empty for a run).
    qualified: String,
    /// The field of a `datasetField` id.
    field: Option<String>,
    /// The run of a `run` id.
    run: Option<Uuid>,
}

/// Why a text is not a node id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{id}' is not a node id ({reason}): use dataset:{{namespace}}:{{name}}, job:{{namespace}}:{{name}}, datasetField:{{namespace}}:{{dataset}}:{{field}} or run:{{uuid}}")]
pub struct NodeIdError {
    pub id: String,
    pub reason: &'static str,
}

impl NodeId {
    /// Checks a node id's form.
    pub fn parse(id: &str) -> Result<NodeId, NodeIdError> {
        let err = |reason| NodeIdError {
            id: id.to_string(),
            reason,
        };
        let (kind, rest) = if let Some(r) = id.strip_prefix("dataset:") {
            (NodeIdKind::Dataset, r)
        } else if let Some(r) = id.strip_prefix("job:") {
            (NodeIdKind::Job, r)
        } else if let Some(r) = id.strip_prefix("datasetField:") {
            (NodeIdKind::DatasetField, r)
        } else if let Some(r) = id.strip_prefix("run:") {
            let run = Uuid::parse_str(r).map_err(|_| err("a run id is a UUID"))?;
            return Ok(NodeId {
                kind: NodeIdKind::Run,
                qualified: String::new(),
                field: None,
                run: Some(run),
            });
        } else {
            return Err(err("unknown kind"));
        };
        let (qualified, field) = match kind {
            NodeIdKind::DatasetField => {
                let (dataset, field) = rest.rsplit_once(':').ok_or_else(|| err("no field"))?;
                if field.is_empty() {
                    return Err(err("an empty field"));
                }
                (dataset, Some(field.to_string()))
            }
            _ => (rest, None),
        };
        if !qualified.contains(':') {
            return Err(err("no namespace"));
        }
        Ok(NodeId {
            kind,
            qualified: qualified.to_string(),
            field,
            run: None,
        })
    }

    /// What it names.
    pub fn kind(&self) -> NodeIdKind {
        self.kind
    }

    /// The field of a `datasetField` id.
    pub fn field(&self) -> Option<&str> {
        self.field.as_deref()
    }

    /// Every `(namespace, name)` the id can be read as, the shortest namespace first.
    pub fn splits(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.qualified
            .match_indices(':')
            .map(|(i, _)| (&self.qualified[..i], &self.qualified[i + 1..]))
    }

    /// The id of a dataset.
    pub fn dataset(namespace: &str, name: &str) -> String {
        format!("dataset:{namespace}:{name}")
    }

    /// The id of a job.
    pub fn job(namespace: &str, name: &str) -> String {
        format!("job:{namespace}:{name}")
    }

    /// The id of a dataset's field.
    pub fn dataset_field(namespace: &str, dataset: &str, field: &str) -> String {
        format!("datasetField:{namespace}:{dataset}:{field}")
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.kind, &self.field, self.run) {
            (NodeIdKind::Dataset, _, _) => write!(f, "dataset:{}", self.qualified),
            (NodeIdKind::Job, _, _) => write!(f, "job:{}", self.qualified),
            (NodeIdKind::DatasetField, field, _) => write!(
                f,
                "datasetField:{}:{}",
                self.qualified,
                field.as_deref().unwrap_or_default()
            ),
            (NodeIdKind::Run, _, run) => write!(f, "run:{}", run.unwrap_or_default()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_namespace_with_colons_offers_every_split() {
        let id = NodeId::parse("dataset:postgres://db:5432:shop.orders").unwrap();
        assert_eq!(id.kind(), NodeIdKind::Dataset);
        let splits: Vec<_> = id.splits().collect();
        assert_eq!(
            splits,
            [
                ("postgres", "//db:5432:shop.orders"),
                ("postgres://db", "5432:shop.orders"),
                ("postgres://db:5432", "shop.orders"),
            ]
        );
        assert_eq!(id.to_string(), "dataset:postgres://db:5432:shop.orders");
    }

    #[test]
    fn a_field_is_what_follows_the_last_colon() {
        let id = NodeId::parse("datasetField:s3://bucket:path/t:amount").unwrap();
        assert_eq!(id.field(), Some("amount"));
        assert!(id.splits().any(|s| s == ("s3://bucket", "path/t")));
        assert_eq!(id.to_string(), "datasetField:s3://bucket:path/t:amount");
        assert_eq!(
            NodeId::dataset_field("s3://bucket", "path/t", "amount"),
            id.to_string()
        );
    }

    #[test]
    fn malformed_ids_say_why() {
        for (bad, reason) in [
            ("table", "unknown kind"),
            ("dataset:orders", "no namespace"),
            ("datasetField:ns:t:", "an empty field"),
            ("run:not-a-uuid", "a run id is a UUID"),
        ] {
            assert_eq!(NodeId::parse(bad).unwrap_err().reason, reason, "{bad}");
        }
        let run = NodeId::parse("run:5355b91b-32b4-4477-b660-3adadee198b2").unwrap();
        assert_eq!(run.kind(), NodeIdKind::Run);
        assert_eq!(run.to_string(), "run:5355b91b-32b4-4477-b660-3adadee198b2");
    }
}
