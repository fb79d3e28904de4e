//! `tributary sync mlflow`: an MLflow tracking server's runs as OpenLineage events, read through
//! MLflow's REST API (`experiments/search`, `runs/search`, `logged-models/search`,
//! `registered-models/search`, `model-versions/search`). Each MLflow run is a run of a job named after its experiment (the
//! run id is MLflow's own, a UUID without dashes); its dataset inputs are inputs, versioned by
//! what their source names (a Delta table version, an Iceberg snapshot id, a lakeFS commit in
//! the URI, a `rev`/`version`/`md5` in the URI's query) or else by MLflow's
//! digest, marked as a fingerprint rather than a snapshot id; each registered model version it
//! produced is an output dataset of type MODEL named after the registered model and versioned by
//! its version number, and each model it logged but never registered one named after the logged
//! model and versioned by its model id. Params, the run name and the git commit go in facets. Sending again adds
//! nothing; new runs and versions are picked up. Against a Tributary server, model aliases are
//! put on the versions as version tags (that is not OpenLineage; other servers are left alone).

use std::collections::BTreeMap;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::Args;
use serde_json::{json, Map, Value};

use super::client;
use super::repro::segment;
use super::sync::{Delivery, JOB_TYPE_FACET, LOCATION_FACET, RUN_EVENT_SCHEMA, VERSION_FACET};
use crate::config::Config;
use crate::model::time::iso;

const PRODUCER: &str = concat!("urn:tributary:sync-mlflow:", env!("CARGO_PKG_VERSION"));
/// Where the `mlflow` facets are described.
const MLFLOW_FACET: &str = "https://github.com/tributary/tributary/blob/main/README.md#mlflow";
const STORAGE_FACET: &str =
    "https://openlineage.io/spec/facets/1-0-1/StorageDatasetFacet.json#/$defs/StorageDatasetFacet";
const DATASET_TYPE_FACET: &str =
    "https://openlineage.io/spec/facets/1-0-0/DatasetTypeDatasetFacet.json#/$defs/DatasetTypeDatasetFacet";

#[derive(Args)]
pub struct MlflowArgs {
    /// The MLflow tracking server, e.g. http://127.0.0.1:5001 or https://mlflow.example.com
    /// (MLFLOW_TRACKING_TOKEN, or MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD, sign
    /// the requests; MLFLOW_TRACKING_SERVER_CERT_PATH adds a CA, MLFLOW_TRACKING_INSECURE_TLS
    /// turns certificate checks off).
    #[arg(long, env = "MLFLOW_TRACKING_URI")]
    tracking_uri: String,
    /// Only these experiments (repeatable); every experiment by default.
    #[arg(long = "experiment")]
    experiments: Vec<String>,
    /// Namespace of the jobs and models (default mlflow://<host:port>).
    #[arg(long)]
    namespace: Option<String>,
    #[command(flatten)]
    delivery: Delivery,
}

/// A minimal MLflow REST client over the CLI's HTTP client.
struct Mlflow {
    endpoint: client::Endpoint,
    /// The `Authorization` header MLflow's own client would send, from its environment.
    authorization: Option<String>,
}

/// The `Authorization` header MLflow's clients send: `Bearer` with `MLFLOW_TRACKING_TOKEN`, else
/// `Basic` with `MLFLOW_TRACKING_USERNAME` and `MLFLOW_TRACKING_PASSWORD`.
fn authorization(
    token: Option<String>,
    user: Option<String>,
    password: Option<String>,
) -> Option<String> {
    use base64::Engine;
    let present = |v: Option<String>| v.filter(|v| !v.is_empty());
    if let Some(token) = present(token) {
        return Some(format!("Bearer {token}"));
    }
    let user = present(user)?;
    let password = password.unwrap_or_default();
    let pair = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    Some(format!("Basic {pair}"))
}

impl Mlflow {
    async fn at(uri: &str) -> anyhow::Result<(Mlflow, String)> {
        let trust = client::Trust::from_env(
            "MLFLOW_TRACKING_SERVER_CERT_PATH",
            "MLFLOW_TRACKING_INSECURE_TLS",
        );
        let endpoint = client::Endpoint::parse(uri, "--tracking-uri", &trust).await?;
        let var = |name: &str| std::env::var(name).ok();
        let authorization = authorization(
            var("MLFLOW_TRACKING_TOKEN"),
            var("MLFLOW_TRACKING_USERNAME"),
            var("MLFLOW_TRACKING_PASSWORD"),
        );
        let host = endpoint.host().to_string();
        Ok((
            Mlflow {
                endpoint,
                authorization,
            },
            host,
        ))
    }

    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> anyhow::Result<Value> {
        let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        let mut headers = vec![("Accept", "application/json")];
        if !bytes.is_empty() {
            headers.push(("Content-Type", "application/json"));
        }
        if let Some(auth) = &self.authorization {
            headers.push(("Authorization", auth));
        }
        let r = self
            .endpoint
            .request(method, path, &headers, &bytes)
            .await
            .with_context(|| format!("cannot reach MLflow at {}", self.endpoint.url()))?;
        if r.status != 200 {
            bail!(
                "MLflow answered {} to {path}: {}",
                r.status,
                String::from_utf8_lossy(&r.body)
            );
        }
        Ok(r.json())
    }

    /// Every page of a search, by `next_page_token`.
    async fn pages(&self, path: &str, body: Value, key: &str) -> anyhow::Result<Vec<Value>> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut b = body.clone();
            if let Some(t) = &token {
                b["page_token"] = t.clone().into();
            }
            let page = self.call("POST", path, Some(b)).await?;
            out.extend(page[key].as_array().cloned().unwrap_or_default());
            match page["next_page_token"].as_str() {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => return Ok(out),
            }
        }
    }

    /// A GET search, paged by `page_token` in the query.
    async fn get_pages(&self, path: &str, key: &str) -> anyhow::Result<Vec<Value>> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let sep = if path.contains('?') { '&' } else { '?' };
            let url = match &token {
                Some(t) => format!("{path}{sep}max_results=1000&page_token={}", segment(t)),
                None => format!("{path}{sep}max_results=1000"),
            };
            let page = self.call("GET", &url, None).await?;
            out.extend(page[key].as_array().cloned().unwrap_or_default());
            match page["next_page_token"].as_str() {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => return Ok(out),
            }
        }
    }
}

/// `[{key, value}]` as a map.
fn pairs(list: &Value) -> BTreeMap<String, String> {
    list.as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| {
            Some((
                p["key"].as_str()?.to_string(),
                p["value"].as_str()?.to_string(),
            ))
        })
        .collect()
}

/// An MLflow run id (32 hex digits) as the UUID it is.
fn run_uuid(id: &str) -> Option<String> {
    uuid::Uuid::parse_str(id).ok().map(|u| u.to_string())
}

fn ms_to_iso(ms: &Value) -> Option<String> {
    let ms = ms.as_i64().or_else(|| ms.as_str()?.parse().ok())?;
    Some(iso(ms * 1000))
}

/// An input dataset of an MLflow run: where its source says it lives, and its version — what
/// the source names, else MLflow's digest (a fingerprint of the data, not a snapshot id).
fn input_dataset(namespace: &str, input: &Value) -> Value {
    let d = &input["dataset"];
    let name = d["name"].as_str().unwrap_or("dataset").to_string();
    let digest = d["digest"].as_str().map(str::to_string);
    let source: Value = d["source"]
        .as_str()
        .and_then(|s| serde_json::from_str(s).ok())
        .unwrap_or(Value::Null);
    let uri = ["uri", "url", "path", "location"]
        .iter()
        .find_map(|k| source[*k].as_str())
        .map(str::to_string);
    let number = |key: &str| {
        source[key]
            .as_i64()
            .map(|v| v.to_string())
            .or_else(|| source[key].as_str().map(str::to_string))
    };
    // Delta's table version, or an Iceberg snapshot id when the source names one.
    let layer = if source["delta_table_version"].is_null() {
        (!source["snapshot_id"].is_null()).then_some("iceberg")
    } else {
        Some("delta")
    };
    let mut snapshot: Option<String> =
        number("delta_table_version").or_else(|| number("snapshot_id"));
    let (mut ns, mut ds_name) = (namespace.to_string(), name.clone());
    if let Some(table) = source["delta_table_name"].as_str() {
        ds_name = table.to_string();
    }
    if let Some(uri) = &uri {
        // A version named in the URI's query (`…?rev=<dvc hash>`, `…?version=7`).
        let (uri, query) = uri.split_once('?').unwrap_or((uri.as_str(), ""));
        let named = query.split('&').find_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            ["version", "rev", "md5", "snapshot", "snapshot_id", "commit"]
                .contains(&k)
                .then(|| v.to_string())
                .filter(|v| !v.is_empty())
        });
        snapshot = snapshot.or(named);
        let uri = uri.to_string();
        if let Some((scheme, rest)) = uri.split_once("://") {
            let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
            ns = format!("{scheme}://{authority}");
            ds_name = format!("/{path}");
            // lakefs://repo/<ref>/path: the ref is the version, the dataset is the path.
            if scheme == "lakefs" {
                if let Some((reference, path)) = path.split_once('/') {
                    snapshot = snapshot.or(Some(reference.to_string()));
                    ds_name = format!("/{path}");
                }
            }
        } else {
            ns = "file".into();
            ds_name = uri.clone();
        }
    }
    let fingerprint = snapshot.is_none();
    let version = snapshot.or(digest.clone());
    let mut facets = Map::new();
    if let Some(v) = &version {
        facets.insert(
            "version".into(),
            json!({"_producer": PRODUCER, "_schemaURL": VERSION_FACET, "datasetVersion": v}),
        );
    }
    if let Some(layer) = layer {
        facets.insert(
            "storage".into(),
            json!({"_producer": PRODUCER, "_schemaURL": STORAGE_FACET, "storageLayer": layer, "fileFormat": "parquet"}),
        );
    }
    facets.insert(
        "mlflow".into(),
        json!({"_producer": PRODUCER, "_schemaURL": MLFLOW_FACET, "name": name, "digest": digest,
            "sourceType": d["source_type"], "versionKind": if fingerprint { "fingerprint" } else { "snapshot" },
            "context": pairs(&input["tags"]).get("mlflow.data.context")}),
    );
    json!({"namespace": ns, "name": ds_name, "facets": facets})
}

pub async fn run(config: &Config, direct: bool, args: MlflowArgs) -> anyhow::Result<ExitCode> {
    let (mlflow, host) = Mlflow::at(&args.tracking_uri).await?;
    let namespace = args
        .namespace
        .clone()
        .unwrap_or_else(|| format!("mlflow://{host}"));

    let experiments: Vec<Value> = if args.experiments.is_empty() {
        mlflow
            .pages(
                "/api/2.0/mlflow/experiments/search",
                json!({"max_results": 1000}),
                "experiments",
            )
            .await?
    } else {
        let mut out = Vec::new();
        for name in &args.experiments {
            let e = mlflow
                .call(
                    "GET",
                    &format!(
                        "/api/2.0/mlflow/experiments/get-by-name?experiment_name={}",
                        segment(name)
                    ),
                    None,
                )
                .await?;
            out.push(e["experiment"].clone());
        }
        out
    };
    let names: BTreeMap<String, String> = experiments
        .iter()
        .filter_map(|e| {
            Some((
                e["experiment_id"].as_str()?.to_string(),
                e["name"].as_str()?.to_string(),
            ))
        })
        .collect();
    let runs = if names.is_empty() {
        Vec::new()
    } else {
        mlflow
            .pages(
                "/api/2.0/mlflow/runs/search",
                json!({"experiment_ids": names.keys().collect::<Vec<_>>(), "max_results": 1000}),
                "runs",
            )
            .await?
    };

    // Registered model versions, by the run that produced them; aliases by (model, version).
    let mut produced: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    let mut aliases: Vec<(String, String, String)> = Vec::new();
    let mut registered_ids = std::collections::BTreeSet::new();
    let models = mlflow
        .get_pages(
            "/api/2.0/mlflow/registered-models/search",
            "registered_models",
        )
        .await?;
    for m in &models {
        let Some(model) = m["name"].as_str() else {
            continue;
        };
        for a in m["aliases"].as_array().into_iter().flatten() {
            if let (Some(alias), Some(version)) = (a["alias"].as_str(), a["version"].as_str()) {
                aliases.push((model.to_string(), version.to_string(), alias.to_string()));
            }
        }
        let filter = segment(&format!("name='{}'", model.replace('\'', "\\'")));
        let versions = mlflow
            .get_pages(
                &format!("/api/2.0/mlflow/model-versions/search?filter={filter}"),
                "model_versions",
            )
            .await?;
        for v in versions {
            if let Some(model_id) = v["model_id"].as_str() {
                registered_ids.insert(model_id.to_string());
            }
            if let (Some(run), Some(version)) = (v["run_id"].as_str(), v["version"].as_str()) {
                produced
                    .entry(run.to_string())
                    .or_default()
                    .push((model.to_string(), version.to_string()));
            }
        }
    }

    // Models logged by a run but never registered (MLflow 3's logged models): outputs too,
    // versioned by their model id. Older servers have no such endpoint.
    let registered: std::collections::BTreeSet<String> = registered_ids;
    if !names.is_empty() {
        let logged = mlflow
            .pages(
                "/api/2.0/mlflow/logged-models/search",
                json!({"experiment_ids": names.keys().collect::<Vec<_>>(), "max_results": 100}),
                "models",
            )
            .await
            .unwrap_or_default();
        for m in logged {
            let info = &m["info"];
            let (Some(id), Some(name), Some(run)) = (
                info["model_id"].as_str(),
                info["name"].as_str(),
                info["source_run_id"].as_str(),
            ) else {
                continue;
            };
            if !registered.contains(id) {
                produced
                    .entry(run.to_string())
                    .or_default()
                    .push((name.to_string(), id.to_string()));
            }
        }
    }

    let mut events = Vec::new();
    for r in &runs {
        let info = &r["info"];
        let Some(id) = info["run_id"].as_str().or(info["run_uuid"].as_str()) else {
            continue;
        };
        let Some(run_id) = run_uuid(id) else {
            continue;
        };
        let experiment = info["experiment_id"]
            .as_str()
            .and_then(|e| names.get(e))
            .cloned()
            .unwrap_or_else(|| "mlflow".into());
        let event_type = match info["status"].as_str() {
            Some("FINISHED") => "COMPLETE",
            Some("FAILED") => "FAIL",
            Some("KILLED") => "ABORT",
            _ => "RUNNING",
        };
        let Some(time) = ms_to_iso(&info["end_time"]).or_else(|| ms_to_iso(&info["start_time"]))
        else {
            continue;
        };
        let tags = pairs(&r["data"]["tags"]);
        let params = pairs(&r["data"]["params"]);
        let mut job_facets = json!({"jobType": {"_producer": PRODUCER, "_schemaURL": JOB_TYPE_FACET,
            "processingType": "BATCH", "integration": "MLFLOW", "jobType": "TRAINING"}});
        if let Some(commit) = tags.get("mlflow.source.git.commit") {
            let url = tags
                .get("mlflow.source.git.repoURL")
                .or_else(|| tags.get("mlflow.source.name"))
                .cloned()
                .unwrap_or_default();
            job_facets["sourceCodeLocation"] = json!({"_producer": PRODUCER, "_schemaURL": LOCATION_FACET,
                "type": "git", "url": url, "version": commit});
        }
        let outputs: Vec<Value> = produced
            .get(id)
            .into_iter()
            .flatten()
            .map(|(model, version)| {
                json!({"namespace": namespace, "name": model, "facets": {
                    "datasetType": {"_producer": PRODUCER, "_schemaURL": DATASET_TYPE_FACET, "datasetType": "MODEL"},
                    "version": {"_producer": PRODUCER, "_schemaURL": VERSION_FACET, "datasetVersion": version},
                }})
            })
            .collect();
        let inputs: Vec<Value> = r["inputs"]["dataset_inputs"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|i| input_dataset(&namespace, i))
            .collect();
        events.push(json!({
            "eventType": event_type,
            "eventTime": time,
            "producer": PRODUCER,
            "schemaURL": RUN_EVENT_SCHEMA,
            "run": {"runId": run_id, "facets": {"mlflow": {"_producer": PRODUCER, "_schemaURL": MLFLOW_FACET,
                "runId": id, "runName": info["run_name"], "experimentId": info["experiment_id"],
                "params": params, "commit": tags.get("mlflow.source.git.commit")}}},
            "job": {"namespace": namespace, "name": experiment, "facets": job_facets},
            "inputs": inputs,
            "outputs": outputs,
        }));
    }
    let what = format!("MLflow at {}", args.tracking_uri);
    let code = args.delivery.send(config, direct, &what, events).await?;
    if args.delivery.posts(direct) && code == ExitCode::SUCCESS {
        tag_aliases(args.delivery.server(), &namespace, &aliases).await;
    }
    Ok(code)
}

/// Puts each model alias on its version as a version tag (a Tributary server's own API; a
/// refusal is reported, not fatal: the lineage is in).
async fn tag_aliases(server: &str, namespace: &str, aliases: &[(String, String, String)]) {
    let Ok(server) = super::repro::Server::at(server).await else {
        return;
    };
    for (model, version, alias) in aliases {
        let path = format!(
            "/api/v1/namespaces/{}/datasets/{}/versions/{}/tags/{}",
            segment(namespace),
            segment(model),
            segment(version),
            segment(alias)
        );
        match server.put(&path).await {
            Ok(r) if r.status == 200 => {}
            Ok(r) => eprintln!(
                "could not tag {model} version {version} '{alias}': {}",
                String::from_utf8_lossy(&r.body)
            ),
            Err(e) => eprintln!("could not tag {model} version {version} '{alias}': {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_signed_as_mlflow_signs_them() {
        let s = |v: &str| Some(v.to_string());
        assert_eq!(
            authorization(s("t0k"), s("ann"), s("pw")).as_deref(),
            Some("Bearer t0k"),
            "the token wins"
        );
        // base64("ann:pw")
        assert_eq!(
            authorization(None, s("ann"), s("pw")).as_deref(),
            Some("Basic YW5uOnB3")
        );
        assert_eq!(
            authorization(s(""), s("ann"), None).as_deref(),
            Some("Basic YW5uOg==")
        );
        assert_eq!(authorization(None, None, s("pw")), None);
    }

    #[test]
    fn inputs_are_versioned_by_their_source_else_by_digest() {
        let delta = json!({"dataset": {"name": "orders", "digest": "d1", "source_type": "delta",
            "source": "{\"path\": \"s3://lake/orders\", \"delta_table_version\": 7}"}});
        let d = input_dataset("mlflow://h", &delta);
        assert_eq!(d["namespace"], "s3://lake");
        assert_eq!(d["name"], "/orders");
        assert_eq!(d["facets"]["version"]["datasetVersion"], "7");
        assert_eq!(d["facets"]["mlflow"]["versionKind"], "snapshot");
        let lakefs = json!({"dataset": {"name": "x", "digest": "d2",
            "source": "{\"uri\": \"lakefs://repo/c0ffee/data/train.csv\"}"}});
        let d = input_dataset("ns", &lakefs);
        assert_eq!(
            (d["namespace"].as_str(), d["name"].as_str()),
            (Some("lakefs://repo"), Some("/data/train.csv"))
        );
        assert_eq!(d["facets"]["version"]["datasetVersion"], "c0ffee");
        let iceberg = json!({"dataset": {"name": "events", "digest": "d3",
            "source": "{\"uri\": \"s3://wh/db/events\", \"snapshot_id\": 3051729675574597004}"}});
        let d = input_dataset("ns", &iceberg);
        assert_eq!(
            d["facets"]["version"]["datasetVersion"],
            "3051729675574597004"
        );
        assert_eq!(d["facets"]["storage"]["storageLayer"], "iceberg");
        let dvc = json!({"dataset": {"name": "raw", "digest": "d4",
            "source": "{\"url\": \"https://git.example/repo/data/raw.csv?rev=9f2c1e\"}"}});
        let d = input_dataset("ns", &dvc);
        assert_eq!(
            (d["namespace"].as_str(), d["name"].as_str()),
            (Some("https://git.example"), Some("/repo/data/raw.csv"))
        );
        assert_eq!(d["facets"]["version"]["datasetVersion"], "9f2c1e");
        let pandas = json!({"dataset": {"name": "frame", "digest": "abc123", "source_type": "code", "source": "{}"}});
        let d = input_dataset("mlflow://h", &pandas);
        assert_eq!(
            (d["namespace"].as_str(), d["name"].as_str()),
            (Some("mlflow://h"), Some("frame"))
        );
        assert_eq!(d["facets"]["version"]["datasetVersion"], "abc123");
        assert_eq!(d["facets"]["mlflow"]["versionKind"], "fingerprint");
    }

    #[test]
    fn mlflow_run_ids_are_uuids() {
        assert_eq!(
            run_uuid("0123456789abcdef0123456789abcdef").as_deref(),
            Some("01234567-89ab-cdef-0123-456789abcdef")
        );
        assert_eq!(run_uuid("nope"), None);
    }
}
