//! The lineage graph's vocabulary, shared by the store (which keeps it) and the in-memory graph
//! (which walks it): node keys, edge intervals, a job's versions as stored, what a commit
//! changed, and the interface a whole load is handed through. Knows nothing of SQL or of petgraph.

use std::collections::HashMap;
use std::sync::Arc;

use crate::json;
use crate::model::prepared::PreparedEvent;
use crate::model::time::Micros;
use crate::model::NodeId;

/// What a node is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NodeKind {
    Dataset,
    Job,
}

/// A node's identity: kind, namespace, name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeKey {
    pub kind: NodeKind,
    pub namespace: Arc<str>,
    pub name: Arc<str>,
}

impl NodeKey {
    pub fn dataset(namespace: &str, name: &str) -> Self {
        NodeKey {
            kind: NodeKind::Dataset,
            namespace: namespace.into(),
            name: name.into(),
        }
    }

    pub fn job(namespace: &str, name: &str) -> Self {
        NodeKey {
            kind: NodeKind::Job,
            namespace: namespace.into(),
            name: name.into(),
        }
    }

    /// The node id shared by REST, GraphQL and the UI: `dataset:{namespace}:{name}`.
    pub fn id(&self) -> String {
        match self.kind {
            NodeKind::Dataset => NodeId::dataset(&self.namespace, &self.name),
            NodeKind::Job => NodeId::job(&self.namespace, &self.name),
        }
    }

    /// The same id as a JSON string, written into `out` without making the `String` first (the
    /// large lineage answers write thousands).
    pub fn write_json_id(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(match self.kind {
            NodeKind::Dataset => b"\"dataset:",
            NodeKind::Job => b"\"job:",
        });
        json::write_str_contents(out, &self.namespace);
        out.push(b':');
        json::write_str_contents(out, &self.name);
        out.push(b'"');
    }
}

/// An interval `[from, to)`; `to == Micros::MAX` while it still holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct EdgeSpan {
    pub from: Micros,
    pub to: Micros,
}

impl EdgeSpan {
    /// Whether the interval holds at `t` (or now, for `None`).
    pub fn holds(&self, at: Option<Micros>) -> bool {
        match at {
            None => self.to == Micros::MAX,
            Some(t) => self.from <= t && t < self.to,
        }
    }
}

/// Datasets as `(namespace, name)`.
pub type DatasetNames = Vec<(String, String)>;

/// A job's versions as the store knows them: what each read and wrote, and when it held.
#[derive(Debug, Clone, PartialEq)]
pub struct GraphJob {
    pub namespace: String,
    pub name: String,
    pub deleted_at: Option<Micros>,
    /// The versions are those valid from this time on (`Micros::MIN`: the whole history;
    /// `Micros::MAX`: none, only the job itself): what held before it is as the graph has it.
    pub since: Micros,
    /// The versions are those valid before this time (`Micros::MAX`: to the end of the
    /// history): what holds from it on is as the graph has it, and the last version ends there.
    pub until: Micros,
    /// `(span, inputs, outputs)` with datasets as `(namespace, name)`.
    pub versions: Vec<(EdgeSpan, DatasetNames, DatasetNames)>,
}

/// A column edge: an output field that comes from an input dataset's field.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ColumnEdge {
    pub output_field: String,
    pub input: NodeKey,
    pub input_field: String,
}

/// Column edges from a `columnLineage` facet's JSON text (`fields.{out}.inputFields[{namespace,
/// name, field}]`), sorted, each once; entries without the three strings are skipped.
pub fn column_edges(facet: &str) -> Vec<ColumnEdge> {
    use serde::Deserialize;
    // The usual shape, read straight into what is kept; anything else through `Value`.
    #[derive(Deserialize)]
    struct Facet {
        #[serde(default)]
        fields: std::collections::BTreeMap<String, Field>,
    }
    #[derive(Deserialize)]
    struct Field {
        #[serde(rename = "inputFields", default)]
        input_fields: Vec<Input>,
    }
    #[derive(Deserialize)]
    struct Input {
        namespace: String,
        name: String,
        field: String,
    }
    let mut out = Vec::new();
    match serde_json::from_str::<Facet>(facet) {
        Ok(parsed) => {
            for (output_field, spec) in parsed.fields {
                for input in spec.input_fields {
                    out.push(ColumnEdge {
                        output_field: output_field.clone(),
                        input: NodeKey::dataset(&input.namespace, &input.name),
                        input_field: input.field,
                    });
                }
            }
        }
        Err(_) => {
            let value: serde_json::Value = serde_json::from_str(facet).unwrap_or_default();
            let fields = value.get("fields").and_then(serde_json::Value::as_object);
            for (output_field, spec) in fields.into_iter().flatten() {
                for input in spec
                    .get("inputFields")
                    .and_then(serde_json::Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let text = |k: &str| input.get(k).and_then(serde_json::Value::as_str);
                    if let (Some(ns), Some(name), Some(field)) =
                        (text("namespace"), text("name"), text("field"))
                    {
                        out.push(ColumnEdge {
                            output_field: output_field.clone(),
                            input: NodeKey::dataset(ns, name),
                            input_field: field.to_string(),
                        });
                    }
                }
            }
        }
    }
    out.sort_by(|a, b| {
        (&a.output_field, &a.input, &a.input_field).cmp(&(
            &b.output_field,
            &b.input,
            &b.input_field,
        ))
    });
    out.dedup();
    out
}

/// A dataset as a graph node: key, `datasetType`, deletion time.
pub type GraphDataset = (NodeKey, Option<String>, Option<Micros>);

/// What a commit did to the graph, said by the change set itself, so that the graph takes it
/// without reading the store back. Only the graph can tell whether a job's new versions come
/// after everything it holds of that job (then they are appended as they are), so each job is
/// offered as the read-back from its cut would give it if they do; what cannot be said without
/// the store is in `read_back`.
#[derive(Debug, Clone, Default)]
pub struct GraphDelta {
    /// Every dataset the commit wrote, as it now is.
    pub datasets: Vec<GraphDataset>,
    /// Every job the commit wrote whose versions it did not move or replace, with the versions
    /// it added (`since`: the first one's start; `Micros::MAX` when it added none).
    pub jobs: Vec<GraphJob>,
    /// Datasets to which the commit gave a new current version that is the latest of the
    /// versions it wrote: their column history, if it comes after everything the graph holds.
    pub columns: Vec<ColumnDelta>,
    /// What must be read back anyway: jobs whose stored versions moved or went, column histories
    /// changed otherwise, what already-stored events name.
    pub read_back: GraphChange,
}

/// A dataset's column history as a commit extended it: the commit's versions of the dataset
/// that carry a `columnLineage` facet, and its new current version, by time (the current one
/// last).
#[derive(Debug, Clone)]
pub struct ColumnDelta {
    pub namespace: String,
    pub name: String,
    /// From when on the history changed: where it is read back from if the graph cannot take
    /// `entries` as they are.
    pub cut: Micros,
    /// When the version that was current before the commit was created; `None` when the
    /// dataset had no version.
    pub previous: Option<Micros>,
    /// `(created_at, columnLineage facet text)`, sorted, the new current version last.
    pub entries: Vec<(Micros, Option<Box<serde_json::value::RawValue>>)>,
}

/// A job's history, or a dataset's column history, to be read back: `(namespace, name, since,
/// end)`, from `since` (`Micros::MIN`: the whole history) up to the next version or entry after
/// `end` (`Micros::MAX`: to the end), as [`Cuts::job_end`] and [`Cuts::column_end`] give it.
pub type HistoryFrom = (String, String, Micros, Micros);

/// What receives a whole load of the graph from the store: rows joined by id, in this order —
/// every dataset, every job, every job version, then every edge (a version's input or output).
/// The in-memory graph's loader implements it; the store only calls it.
pub trait GraphSink: Send {
    /// A dataset row.
    fn dataset(
        &mut self,
        id: &str,
        namespace: &str,
        name: &str,
        dataset_type: Option<&str>,
        deleted_at: Option<Micros>,
    );
    /// A job row.
    fn job(&mut self, id: &str, namespace: &str, name: &str, deleted_at: Option<Micros>);
    /// A job version and when it started to hold.
    fn version(&mut self, id: &str, job_id: &str, valid_from: Micros);
    /// A version's input (`direction` `in`) or output (`out`).
    fn edge(&mut self, version_id: &str, direction: &str, dataset_id: &str);
}

/// The jobs and datasets a batch of events touched: what a graph must read back.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GraphChange {
    pub jobs: Vec<(String, String)>,
    pub datasets: Vec<(String, String)>,
    /// The store instance that committed it (a server skips its own announcements).
    #[serde(default)]
    pub origin: String,
    /// From when on each history changed, where the committing store knows; a job or dataset
    /// it does not name is read back whole. Not announced to replicas.
    #[serde(skip)]
    pub cuts: Cuts,
}

/// From when on histories changed in a commit: per job the earliest `valid_from` of its
/// versions written or removed, per dataset the earliest `created_at` of its versions whose
/// column lineage (or being current) changed; `Micros::MAX` when none did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Cuts {
    pub jobs: HashMap<(String, String), Micros>,
    pub columns: HashMap<(String, String), Micros>,
    /// Per dataset whose current version the change left as it was, the latest `created_at` of
    /// the versions it wrote: its column history changed only up to the next entry after that
    /// one, so it is read back only that far. Absent: to the end.
    pub column_ends: HashMap<(String, String), Micros>,
    /// Per job whose new versions do not all come after what the graph holds, the latest start
    /// among them: its history changed only up to the next version after that one, so it is
    /// read back only that far. Absent: to the end.
    pub job_ends: HashMap<(String, String), Micros>,
}

impl Cuts {
    /// Where a job's history is to be read from: its cut, or the beginning when unknown.
    pub fn job(&self, key: &(String, String)) -> Micros {
        self.jobs.get(key).copied().unwrap_or(Micros::MIN)
    }

    /// The latest start among the versions a change wrote of a job whose history it changed
    /// only up to the next version after that one; `Micros::MAX` when it is to be read to its end.
    pub fn job_end(&self, key: &(String, String)) -> Micros {
        self.job_ends.get(key).copied().unwrap_or(Micros::MAX)
    }

    /// The latest version a change wrote of a dataset whose history it changed only up to the
    /// next entry after that one; `Micros::MAX` when the history is to be read to its end.
    pub fn column_end(&self, key: &(String, String)) -> Micros {
        self.column_ends.get(key).copied().unwrap_or(Micros::MAX)
    }

    /// Where a dataset's column lineage is to be read from; `None` when it did not change.
    pub fn columns(&self, key: &(String, String)) -> Option<Micros> {
        match self.columns.get(key).copied() {
            Some(Micros::MAX) => None,
            Some(t) => Some(t),
            None => Some(Micros::MIN),
        }
    }
}

impl GraphChange {
    /// A change of one dataset.
    pub fn dataset(namespace: &str, name: &str) -> Self {
        GraphChange {
            datasets: vec![(namespace.to_string(), name.to_string())],
            ..Default::default()
        }
    }

    /// A change of one job.
    pub fn job(namespace: &str, name: &str) -> Self {
        GraphChange {
            jobs: vec![(namespace.to_string(), name.to_string())],
            ..Default::default()
        }
    }

    /// Adds `more`, keeping each job and dataset once; a history either side reads whole stays
    /// whole, else it is read from the earlier cut.
    pub fn merge(&mut self, more: GraphChange) {
        fn side(
            list: &[(String, String)],
            cuts: &HashMap<(String, String), Micros>,
            key: &(String, String),
        ) -> Option<Micros> {
            if list.contains(key) {
                cuts.get(key).copied()
            } else {
                Some(Micros::MAX)
            }
        }
        let mut cuts = Cuts::default();
        // A history read to its end on either side is read to its end.
        for (list, more_list, mine, theirs, into) in [
            (
                &self.jobs,
                &more.jobs,
                &self.cuts.job_ends,
                &more.cuts.job_ends,
                &mut cuts.job_ends,
            ),
            (
                &self.datasets,
                &more.datasets,
                &self.cuts.column_ends,
                &more.cuts.column_ends,
                &mut cuts.column_ends,
            ),
        ] {
            let end = |list: &[(String, String)],
                       ends: &HashMap<(String, String), Micros>,
                       key: &(String, String)| {
                if list.contains(key) {
                    ends.get(key).copied().unwrap_or(Micros::MAX)
                } else {
                    Micros::MIN
                }
            };
            for key in list.iter().chain(more_list) {
                let e = end(list, mine, key).max(end(more_list, theirs, key));
                if e != Micros::MAX {
                    into.insert(key.clone(), e);
                }
            }
        }
        for (list, more_list, mine, theirs, into) in [
            (
                &self.jobs,
                &more.jobs,
                &self.cuts.jobs,
                &more.cuts.jobs,
                &mut cuts.jobs,
            ),
            (
                &self.datasets,
                &more.datasets,
                &self.cuts.columns,
                &more.cuts.columns,
                &mut cuts.columns,
            ),
        ] {
            for key in list.iter().chain(more_list) {
                if let (Some(a), Some(b)) = (side(list, mine, key), side(more_list, theirs, key)) {
                    into.insert(key.clone(), a.min(b));
                }
            }
        }
        self.cuts = cuts;
        for (list, extra) in [
            (&mut self.jobs, more.jobs),
            (&mut self.datasets, more.datasets),
        ] {
            list.extend(extra);
            list.sort();
            list.dedup();
        }
    }

    /// What a batch of events touched.
    pub fn of<'a>(events: impl IntoIterator<Item = &'a PreparedEvent>) -> Self {
        let mut jobs = std::collections::BTreeSet::new();
        let mut datasets = std::collections::BTreeSet::new();
        for p in events {
            let e = &p.event;
            if let Some(j) = &e.job {
                jobs.insert((j.namespace.clone(), j.name.clone()));
            }
            for d in e.inputs.iter().chain(&e.outputs).chain(&e.dataset) {
                datasets.insert((d.namespace.clone(), d.name.clone()));
            }
        }
        GraphChange {
            jobs: jobs.into_iter().collect(),
            datasets: datasets.into_iter().collect(),
            origin: String::new(),
            cuts: Cuts::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_written_as_json_is_the_id_serialised() {
        for key in [
            NodeKey::dataset("ns\"1", "a\\b"),
            NodeKey::job("s3://bucket:with:colons", "line\nbreak é"),
        ] {
            let mut out = Vec::new();
            key.write_json_id(&mut out);
            assert_eq!(
                String::from_utf8(out).unwrap(),
                serde_json::to_string(&key.id()).unwrap()
            );
        }
    }

    #[test]
    fn column_edges_read_the_usual_shape_and_survive_odd_ones() {
        let usual = r#"{"_producer": "p", "fields": {
            "total": {"inputFields": [
                {"namespace": "db", "name": "orders", "field": "amount",
                 "transformations": [{"type": "DIRECT", "subtype": "IDENTITY"}]},
                {"namespace": "db", "name": "orders", "field": "amount"}]},
            "id": {"inputFields": [{"namespace": "db", "name": "orders", "field": "id"}]},
            "note": {}}}"#;
        let edge = |out: &str, field: &str| ColumnEdge {
            output_field: out.into(),
            input: NodeKey::dataset("db", "orders"),
            input_field: field.into(),
        };
        assert_eq!(
            column_edges(usual),
            [edge("id", "id"), edge("total", "amount")],
            "sorted, each once, fields without inputs left out"
        );
        // An entry without a field name, or with a number for one: that entry is skipped.
        let odd = r#"{"fields": {"total": {"inputFields": [
            {"namespace": "db", "name": "orders"},
            {"namespace": "db", "name": "orders", "field": 7},
            {"namespace": "db", "name": "orders", "field": "amount"}]}}}"#;
        assert_eq!(column_edges(odd), [edge("total", "amount")]);
        assert!(column_edges("not json").is_empty());
        assert!(column_edges(r#"{"fields": []}"#).is_empty());
    }
}
