//! The difference between two versions of a dataset: schema fields, facets, statistics.

use std::collections::{BTreeMap, BTreeSet};

use async_graphql::SimpleObject;
use serde::Serialize;
use serde_json::{Map, Value};

use super::RunRef;
use crate::store::DatasetVersion;

/// A schema field; nested fields are named by their path (`address.city`).
#[derive(Debug, Clone, Serialize, SimpleObject, PartialEq)]
pub struct FieldInfo {
    pub name: String,
    #[serde(rename = "type")]
    #[graphql(name = "type")]
    pub kind: Option<String>,
    pub description: Option<String>,
}

/// A field whose type or description changed.
#[derive(Debug, Clone, Serialize, SimpleObject, PartialEq)]
pub struct FieldChange {
    pub name: String,
    pub from: FieldInfo,
    pub to: FieldInfo,
}

/// A number on both sides, and how it moved.
#[derive(Debug, Clone, Serialize, SimpleObject, PartialEq)]
pub struct StatDelta {
    pub from: Option<i64>,
    pub to: Option<i64>,
    pub delta: Option<i64>,
}

/// Statistics the versions' facets carry (`outputStatistics`, `dataQualityMetrics`).
#[derive(Debug, Clone, Serialize, SimpleObject, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Statistics {
    pub row_count: Option<StatDelta>,
    pub bytes: Option<StatDelta>,
}

/// One side of a diff.
#[derive(Debug, Clone, Serialize, SimpleObject, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct VersionSide {
    pub version: String,
    pub producer_version: Option<String>,
    pub created_at: String,
    pub tags: Vec<String>,
    /// The run (and through it the job version) that wrote this version.
    pub created_by_run: Option<RunRef>,
}

/// What changed from one version of a dataset to another.
#[derive(Debug, Clone, Serialize, SimpleObject, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct VersionDiff {
    pub dataset_id: String,
    pub from: VersionSide,
    pub to: VersionSide,
    pub fields_added: Vec<FieldInfo>,
    pub fields_removed: Vec<FieldInfo>,
    pub fields_changed: Vec<FieldChange>,
    /// Facets (of the version or of the write) that differ, were added or removed, by name.
    pub facets_changed: Vec<String>,
    pub statistics: Statistics,
}

fn collect_fields(list: &[Value], prefix: &str, out: &mut Vec<FieldInfo>) {
    for f in list {
        let Some(name) = f.get("name").and_then(Value::as_str) else {
            continue;
        };
        let name = if prefix.is_empty() {
            name.to_string()
        } else {
            format!("{prefix}.{name}")
        };
        let s = |k: &str| f.get(k).and_then(Value::as_str).map(str::to_string);
        out.push(FieldInfo {
            name: name.clone(),
            kind: s("type"),
            description: s("description"),
        });
        if let Some(nested) = f.get("fields").and_then(Value::as_array) {
            collect_fields(nested, &name, out);
        }
    }
}

/// A version's schema fields, nested ones flattened to dotted paths, in schema order.
pub fn fields(v: &DatasetVersion) -> Vec<FieldInfo> {
    let mut out = Vec::new();
    collect_fields(&v.fields(), "", &mut out);
    out
}

fn stat(v: &DatasetVersion, keys: &[(&str, &str)]) -> Option<i64> {
    keys.iter().find_map(|(facet, field)| {
        v.io_facets
            .get(*facet)
            .or_else(|| v.facets.get(*facet))
            .and_then(|f| f.get(*field))
            .and_then(Value::as_i64)
    })
}

fn delta(a: Option<i64>, b: Option<i64>) -> Option<StatDelta> {
    (a.is_some() || b.is_some()).then(|| StatDelta {
        from: a,
        to: b,
        delta: a.zip(b).map(|(a, b)| b - a),
    })
}

fn changed_facets(a: &Map<String, Value>, b: &Map<String, Value>, out: &mut BTreeSet<String>) {
    let names: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    for name in names {
        if a.get(name) != b.get(name) {
            out.insert(name.clone());
        }
    }
}

/// Compares two versions.
pub fn diff(
    dataset_id: String,
    a: &DatasetVersion,
    b: &DatasetVersion,
    from: VersionSide,
    to: VersionSide,
) -> VersionDiff {
    let before = fields(a);
    let after = fields(b);
    let old: BTreeMap<&str, &FieldInfo> = before.iter().map(|f| (f.name.as_str(), f)).collect();
    let new: BTreeMap<&str, &FieldInfo> = after.iter().map(|f| (f.name.as_str(), f)).collect();
    let fields_added = after
        .iter()
        .filter(|f| !old.contains_key(f.name.as_str()))
        .cloned()
        .collect();
    let fields_removed = before
        .iter()
        .filter(|f| !new.contains_key(f.name.as_str()))
        .cloned()
        .collect();
    let fields_changed = after
        .iter()
        .filter_map(|f| {
            let was = old.get(f.name.as_str())?;
            (was.kind != f.kind || was.description != f.description).then(|| FieldChange {
                name: f.name.clone(),
                from: (*was).clone(),
                to: f.clone(),
            })
        })
        .collect();
    let mut facets = BTreeSet::new();
    changed_facets(&a.facets, &b.facets, &mut facets);
    changed_facets(&a.io_facets, &b.io_facets, &mut facets);
    const ROWS: &[(&str, &str)] = &[
        ("outputStatistics", "rowCount"),
        ("dataQualityMetrics", "rowCount"),
    ];
    const BYTES: &[(&str, &str)] = &[
        ("outputStatistics", "size"),
        ("dataQualityMetrics", "bytes"),
    ];
    VersionDiff {
        dataset_id,
        from,
        to,
        fields_added,
        fields_removed,
        fields_changed,
        facets_changed: facets.into_iter().collect(),
        statistics: Statistics {
            row_count: delta(stat(a, ROWS), stat(b, ROWS)),
            bytes: delta(stat(a, BYTES), stat(b, BYTES)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn version(id: &str, facets: Value, io: Value) -> DatasetVersion {
        DatasetVersion {
            id: id.into(),
            dataset_id: "d".into(),
            producer_version: None,
            created_by_run: None,
            created_at: 0,
            facets: facets.as_object().cloned().unwrap_or_default(),
            io_facets: io.as_object().cloned().unwrap_or_default(),
            checksum: String::new(),
            checksum_valid: true,
        }
    }

    fn side(v: &str) -> VersionSide {
        VersionSide {
            version: v.into(),
            producer_version: None,
            created_at: String::new(),
            tags: vec![],
            created_by_run: None,
        }
    }

    #[test]
    fn fields_added_removed_changed_and_statistics() {
        let a = version(
            "a",
            json!({"schema": {"fields": [
                {"name": "id", "type": "INT"},
                {"name": "email", "type": "TEXT"},
                {"name": "address", "type": "STRUCT", "fields": [{"name": "city", "type": "TEXT"}]}
            ]}}),
            json!({"outputStatistics": {"rowCount": 100, "size": 2048}}),
        );
        let b = version(
            "b",
            json!({"schema": {"fields": [
                {"name": "id", "type": "BIGINT"},
                {"name": "address", "type": "STRUCT", "fields": [{"name": "zip", "type": "TEXT"}]},
                {"name": "signup", "type": "DATE", "description": "first seen"}
            ]}}),
            json!({"outputStatistics": {"rowCount": 150}}),
        );
        let d = diff("dataset:n:t".into(), &a, &b, side("a"), side("b"));
        let names = |l: &[FieldInfo]| l.iter().map(|f| f.name.clone()).collect::<Vec<_>>();
        assert_eq!(names(&d.fields_added), ["address.zip", "signup"]);
        assert_eq!(names(&d.fields_removed), ["email", "address.city"]);
        assert_eq!(d.fields_changed.len(), 1);
        assert_eq!(d.fields_changed[0].name, "id");
        assert_eq!(d.fields_changed[0].from.kind.as_deref(), Some("INT"));
        assert_eq!(d.fields_changed[0].to.kind.as_deref(), Some("BIGINT"));
        assert_eq!(d.facets_changed, ["outputStatistics", "schema"]);
        let rows = d.statistics.row_count.expect("row counts on both sides");
        assert_eq!(
            (rows.from, rows.to, rows.delta),
            (Some(100), Some(150), Some(50))
        );
        let bytes = d.statistics.bytes.expect("bytes on one side");
        assert_eq!(
            (bytes.from, bytes.to, bytes.delta),
            (Some(2048), None, None)
        );
    }

    #[test]
    fn identical_versions_differ_in_nothing() {
        let a = version(
            "a",
            json!({"schema": {"fields": [{"name": "id", "type": "INT"}]}}),
            json!({}),
        );
        let d = diff("x".into(), &a, &a.clone(), side("a"), side("a"));
        assert!(
            d.fields_added.is_empty() && d.fields_removed.is_empty() && d.fields_changed.is_empty()
        );
        assert!(d.facets_changed.is_empty());
        assert_eq!(d.statistics.row_count, None);
    }
}
