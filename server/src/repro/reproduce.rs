//! "Give me this model's exact training data back": for a dataset version (a model, or any
//! dataset), the run that wrote it, its manifest, and for every input of every run in the
//! manifest the concrete way to read that exact data again, by the tool that keeps it — DVC,
//! Delta Lake, Iceberg, lakeFS — or the plain statement that no snapshot id was recorded.

use std::collections::BTreeSet;

use async_graphql::SimpleObject;
use serde::Serialize;
use serde_json::Value;

use super::{
    find_dataset, manifest_with, Manifest, ManifestDataset, ReproError, Result, VersionCache,
    Versions,
};
use crate::model::NodeId;
use crate::snapshots::{kind_of, location};
use crate::store::{DatasetVersion, Store};

/// How one input's exact data comes back.
#[derive(Debug, Clone, Serialize, SimpleObject, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Recovery {
    pub dataset_id: String,
    pub namespace: String,
    pub name: String,
    /// Tributary's version id.
    pub version: Option<String>,
    /// The snapshot id the producer gave (a DVC hash, a Delta version, an Iceberg snapshot, a
    /// lakeFS commit).
    pub producer_version: Option<String>,
    /// `dvc`, `delta`, `iceberg`, `lakefs`, `other` (a snapshot id of a tool not known here),
    /// `fingerprint` (only a digest of the data, MLflow's) or `none` (no snapshot id).
    pub kind: String,
    /// The command or query that reads exactly that data, when one can be given.
    pub command: Option<String>,
    /// Whether the exact data can be named: a snapshot id was recorded.
    pub exact: bool,
    pub note: String,
    /// The run that read it.
    pub read_by_run: String,
}

/// A dataset version, what made it, and how to get each of its inputs back exactly.
#[derive(Debug, Clone, Serialize, SimpleObject, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Reproduction {
    pub dataset_id: String,
    pub version: String,
    pub producer_version: Option<String>,
    /// The run that wrote the version, with its upstream runs to the depth asked for.
    pub manifest: Manifest,
    /// Every input of every run in the manifest, once each.
    pub inputs: Vec<Recovery>,
    /// Whether every input can be read back exactly.
    pub exact: bool,
}

fn recovery(
    input: &ManifestDataset,
    version: Option<&DatasetVersion>,
    reader: &Manifest,
) -> Recovery {
    let mut r = Recovery {
        dataset_id: input.dataset_id.clone(),
        namespace: input.namespace.clone(),
        name: input.name.clone(),
        version: input.version.clone(),
        producer_version: input.producer_version.clone(),
        kind: "none".into(),
        command: None,
        exact: false,
        note: String::new(),
        read_by_run: reader.run_id.clone(),
    };
    let Some(pv) = input.producer_version.clone() else {
        r.note = "no snapshot id was recorded: this input cannot be reproduced exactly".into();
        return r;
    };
    let fingerprint = version
        .and_then(|v| v.facets.get("mlflow"))
        .and_then(|m| m.get("versionKind"))
        .and_then(Value::as_str)
        == Some("fingerprint");
    if fingerprint {
        r.kind = "fingerprint".into();
        r.note = format!(
            "only MLflow's digest of the data ({pv}) was recorded, a fingerprint, not a snapshot id: this input cannot be read back exactly"
        );
        return r;
    }
    r.exact = true;
    let facets: Vec<&serde_json::Map<String, Value>> =
        version.map_or(Vec::new(), |v| vec![&v.facets, &v.io_facets]);
    r.kind = kind_of(&input.namespace, &facets).into();
    let (ns, name) = (&input.namespace, &input.name);
    match r.kind.as_str() {
        "dvc" => {
            // The reading run's commit holds the dvc.lock that names this hash.
            let commit = reader
                .job
                .source_code_location
                .as_ref()
                .and_then(|l| l.version.clone());
            match commit {
                Some(c) => {
                    r.command = Some(format!("git checkout {c} && dvc checkout {name}"));
                    r.note = format!("DVC object {pv}, as dvc.lock at commit {c} names it");
                }
                None => {
                    r.command = Some(format!("dvc checkout {name}"));
                    r.note = format!(
                        "DVC object {pv}; no commit was recorded, so check out the commit whose dvc.lock names it first"
                    );
                }
            }
        }
        "delta" => {
            r.command = Some(format!(
                "SELECT * FROM delta.`{}` VERSION AS OF {pv}",
                location(ns, name)
            ));
            r.note =
                format!("Delta table version {pv} (still there unless VACUUM removed its files)");
        }
        "iceberg" => {
            r.command = Some(format!("SELECT * FROM {name} FOR VERSION AS OF {pv}"));
            r.note = format!("Iceberg snapshot {pv} (still there unless it expired)");
        }
        "lakefs" => {
            let repo = ns.trim_start_matches("lakefs://").trim_end_matches('/');
            r.command = Some(format!(
                "lakectl fs download --recursive lakefs://{repo}/{pv}/{} .",
                name.trim_start_matches('/')
            ));
            r.note = format!("lakeFS commit {pv}");
        }
        _ => {
            r.note = format!(
                "snapshot id {pv} was recorded; read the dataset at that version with the tool that keeps it"
            );
        }
    }
    r
}

/// The reproduction of a dataset version (the current one when `reference` is `None`).
pub async fn reproduce(
    store: &dyn Store,
    namespace: &str,
    name: &str,
    reference: Option<&str>,
    depth: u32,
) -> Result<Reproduction> {
    let versions = Versions::of(store, find_dataset(store, namespace, name).await?).await?;
    let version = match reference {
        Some(r) => versions.get(r)?,
        None => versions
            .dataset
            .current_version
            .as_deref()
            .and_then(|id| versions.resolve(id))
            .or_else(|| versions.versions.first())
            .ok_or_else(|| ReproError::NotFound(format!("dataset '{name}' has no version")))?,
    };
    let run = version.created_by_run.clone().ok_or_else(|| {
        ReproError::NotFound(format!(
            "version '{}' of dataset '{name}' was not written by a run Tributary knows, so what it was made from is unknown",
            version.id
        ))
    })?;
    // The manifest reads every input's versions; the recoveries look at them again.
    let mut cache = VersionCache::default();
    let manifest = manifest_with(store, &run, depth, &mut cache).await?;

    // Every input of every run of the manifest, once.
    let mut readers: Vec<(&Manifest, &ManifestDataset)> = Vec::new();
    let mut stack = vec![&manifest];
    while let Some(m) = stack.pop() {
        readers.extend(m.inputs.iter().map(|i| (m, i)));
        stack.extend(m.upstream.iter());
    }
    let mut seen = BTreeSet::new();
    let mut inputs = Vec::new();
    for (reader, input) in readers {
        if !seen.insert((input.dataset_id.clone(), input.version.clone())) {
            continue;
        }
        let versions = cache.versions(store, &input.namespace, &input.name).await?;
        let version = input
            .version
            .as_deref()
            .and_then(|id| versions.and_then(|vs| vs.versions.iter().find(|v| v.id == id)));
        inputs.push(recovery(input, version, reader));
    }
    inputs.sort_by(|a, b| (&a.dataset_id, &a.version).cmp(&(&b.dataset_id, &b.version)));
    Ok(Reproduction {
        dataset_id: NodeId::dataset(namespace, name),
        version: version.id.clone(),
        producer_version: version.producer_version.clone(),
        exact: inputs.iter().all(|i| i.exact),
        manifest,
        inputs,
    })
}
