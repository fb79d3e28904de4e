//! Snapshots at the source: whether the exact data a dataset version names can still be read,
//! asked of the storage that keeps it rather than of Tributary's own metadata.
//!
//! - Delta Lake: the table's `_delta_log` still has the version, and every data file live at
//!   that version still exists (`VACUUM` has not removed it);
//! - Iceberg: the snapshot is still in the table's current metadata (not expired) and its
//!   manifest list exists;
//! - DVC: the object for the hash (and, for a directory, every file it lists) is in a cache or a
//!   remote;
//! - lakeFS: the commit exists, through the lakeFS API.
//!
//! Tables are found where OpenLineage's naming puts them: namespace `file` and an absolute path,
//! or `s3://bucket` and the key. Local disks and S3-compatible stores go through `object_store`
//! (credentials and endpoint from the usual `AWS_*` variables).

pub mod delta;
pub mod dvc;
pub mod iceberg;
pub mod lakefs;

use std::sync::Arc;

use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use serde_json::{Map, Value};

/// What the storage said about one snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    /// It can be read; what was found.
    Present(String),
    /// It cannot be read any more; why.
    Gone(String),
    /// The storage could not be asked (no snapshot id, a tool or a store Tributary cannot
    /// read, the store did not answer); why. A gate treats it as a miss.
    Unknown(String),
}

/// The tool that keeps a dataset, told by its namespace and its stored facets: `dvc`, `lakefs`,
/// `iceberg`, `delta` or `other`.
pub fn kind_of(namespace: &str, facets: &[&Map<String, Value>]) -> &'static str {
    let facet = |key: &str| facets.iter().find_map(|f| f.get(key));
    let layer = facet("storage")
        .and_then(|s| s.get("storageLayer"))
        .and_then(Value::as_str)
        .map(str::to_ascii_lowercase);
    if namespace.starts_with("dvc://") || facet("dvc").is_some() {
        "dvc"
    } else if namespace.starts_with("lakefs://") {
        "lakefs"
    } else if layer.as_deref() == Some("iceberg")
        || facet("icebergCommitReport").is_some()
        || facet("icebergScanReport").is_some()
    {
        "iceberg"
    } else if layer.as_deref() == Some("delta") {
        "delta"
    } else {
        "other"
    }
}

/// A dataset's location: the namespace's storage and the name (a bare path for `file`).
pub fn location(namespace: &str, name: &str) -> String {
    if namespace == "file" || namespace.is_empty() {
        name.to_string()
    } else {
        format!(
            "{}/{}",
            namespace.trim_end_matches('/'),
            name.trim_start_matches('/')
        )
    }
}

/// Where DVC objects and lakeFS commits are looked up.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// DVC caches and remotes (paths or `s3://` URLs).
    pub dvc_stores: Vec<String>,
    /// The lakeFS API, when configured.
    pub lakefs: Option<lakefs::LakeFs>,
}

impl Sources {
    /// The DVC stores given, else those `TRIBUTARY_DVC_STORES` lists (comma-separated), else
    /// those of the DVC repository in the working directory (its cache and its remotes); lakeFS
    /// from lakectl's environment variables.
    pub fn discover(dvc_stores: Vec<String>) -> Sources {
        let from_env: Vec<String> = std::env::var("TRIBUTARY_DVC_STORES")
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        let dvc_stores = if !dvc_stores.is_empty() {
            dvc_stores
        } else if !from_env.is_empty() {
            from_env
        } else {
            dvc::stores_of_repo(std::path::Path::new("."))
        };
        Sources {
            dvc_stores,
            lakefs: lakefs::LakeFs::from_env(),
        }
    }
}

/// The server's sources, discovered once (its environment and working directory do not change
/// while it runs): every request that asks a storage shares them.
pub fn for_server() -> &'static Sources {
    static SOURCES: std::sync::OnceLock<Sources> = std::sync::OnceLock::new();
    SOURCES.get_or_init(|| Sources::discover(Vec::new()))
}

/// One dataset version to look for at its source.
#[derive(Debug, Clone)]
pub struct Target<'a> {
    pub namespace: &'a str,
    pub name: &'a str,
    /// The snapshot id the producer gave (Delta version, Iceberg snapshot id, DVC hash, lakeFS
    /// commit).
    pub producer_version: Option<&'a str>,
    /// From `kind_of`.
    pub kind: &'a str,
}

impl<'a> Target<'a> {
    /// A stored version's target: the tool told by its namespace and facets.
    pub fn of(
        namespace: &'a str,
        name: &'a str,
        producer_version: Option<&'a str>,
        facets: &[&Map<String, Value>],
    ) -> Target<'a> {
        Target {
            namespace,
            name,
            producer_version,
            kind: kind_of(namespace, facets),
        }
    }
}

/// Asks the storage whether `target`'s snapshot can still be read.
pub async fn probe(sources: &Sources, target: &Target<'_>) -> Probe {
    let Some(version) = target.producer_version else {
        return Probe::Unknown(
            "no snapshot id was recorded for this version, so its storage cannot be asked".into(),
        );
    };
    let at = location(target.namespace, target.name);
    match target.kind {
        "delta" => match open(&at) {
            Ok(table) => delta::probe(&table, version).await,
            Err(why) => Probe::Unknown(why),
        },
        "iceberg" => match open(&at) {
            Ok(table) => iceberg::probe(&table, version).await,
            Err(why) => Probe::Unknown(why),
        },
        "dvc" => dvc::probe(&sources.dvc_stores, version).await,
        "lakefs" => match &sources.lakefs {
            Some(api) => {
                let repository = target
                    .namespace
                    .trim_start_matches("lakefs://")
                    .trim_end_matches('/');
                api.probe(repository, version).await
            }
            None => Probe::Unknown(
                "lakeFS is not configured: set LAKECTL_SERVER_ENDPOINT_URL and its credentials"
                    .into(),
            ),
        },
        _ => Probe::Unknown(format!(
            "snapshot id {version} was recorded, but the tool that keeps {at} is not one Tributary can ask (Delta, Iceberg, DVC, lakeFS): say which with the `storage` facet's storageLayer"
        )),
    }
}

/// Asks the storage about a stored dataset version; `None` when there is nothing it can be asked
/// (no snapshot id, or a tool other than Delta, Iceberg, DVC and lakeFS).
pub async fn probe_version(
    sources: &Sources,
    namespace: &str,
    name: &str,
    version: &crate::store::DatasetVersion,
) -> Option<Probe> {
    let facets = [&version.facets, &version.io_facets];
    probe_facets(
        sources,
        namespace,
        name,
        version.producer_version.as_deref(),
        &facets,
    )
    .await
}

/// `probe_version` from a version's parts: its snapshot id and its facets.
pub async fn probe_facets(
    sources: &Sources,
    namespace: &str,
    name: &str,
    producer_version: Option<&str>,
    facets: &[&Map<String, Value>],
) -> Option<Probe> {
    let target = Target::of(namespace, name, producer_version, facets);
    if target.kind == "other" || producer_version.is_none() {
        return None;
    }
    Some(probe(sources, &target).await)
}

/// A probe's answer as the API says it: `present`, `gone`, `unchecked` or `none`, and the detail.
pub fn state_of(probe: Option<Probe>) -> (&'static str, String) {
    match probe {
        None => (
            "none",
            "no snapshot the storage can be asked about was recorded".to_string(),
        ),
        Some(Probe::Present(what)) => ("present", what),
        Some(Probe::Gone(why)) => ("gone", why),
        Some(Probe::Unknown(why)) => ("unchecked", why),
    }
}

/// HTTPS (S3, lakeFS) on ring, as everywhere in the binary: installed once as the process's
/// rustls provider, which reqwest asks for.
fn tls() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A place in an object store: a table's folder, a DVC cache.
#[derive(Debug)]
pub struct Place {
    pub store: Arc<dyn ObjectStore>,
    pub root: Path,
    /// What goes before a path to show it as the user wrote it: `/` or `s3://bucket/`.
    shown_as: String,
}

impl Place {
    /// `path` as the user would write it.
    fn show(&self, path: &Path) -> String {
        format!("{}{path}", self.shown_as)
    }

    /// `name` (one or more segments) under the root.
    fn join(&self, name: &str) -> Path {
        self.root.parts().chain(Path::from(name).parts()).collect()
    }
}

/// The object store and the path within it of a location: an absolute local path,
/// `file:///path`, or `s3://bucket/key` (also `s3a://`).
pub fn open(location: &str) -> Result<Place, String> {
    if let Some(rest) = location
        .strip_prefix("s3://")
        .or_else(|| location.strip_prefix("s3a://"))
    {
        let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(format!("'{location}' names no bucket"));
        }
        tls();
        // A gate and a page wait seconds, not object_store's default three minutes of retries,
        // for a store that does not answer.
        let retry = object_store::RetryConfig {
            max_retries: 2,
            retry_timeout: std::time::Duration::from_secs(20),
            ..Default::default()
        };
        let store = object_store::aws::AmazonS3Builder::from_env()
            .with_retry(retry)
            .with_bucket_name(bucket)
            .build()
            .map_err(|e| format!("cannot reach the S3 bucket '{bucket}': {e}"))?;
        return Ok(Place {
            store: Arc::new(store),
            root: Path::from(key.trim_matches('/')),
            shown_as: format!("s3://{bucket}/"),
        });
    }
    let local = location.strip_prefix("file://").unwrap_or(location);
    if local.starts_with('/') {
        let path = Path::from_absolute_path(local)
            .map_err(|e| format!("'{location}' is not a usable path: {e}"))?;
        return Ok(Place {
            store: Arc::new(object_store::local::LocalFileSystem::new()),
            root: path,
            shown_as: "/".into(),
        });
    }
    Err(format!(
        "Tributary cannot read the storage of '{location}': local paths and s3:// are supported"
    ))
}

/// The path in `store` of a file a table names: relative to the table (percent-encoded, as
/// Delta writes it) or an absolute URI in the same store.
fn file_path(table: &Path, file: &str) -> Result<Path, String> {
    if let Some(rest) = file.strip_prefix("file://") {
        return Path::from_url_path(rest).map_err(|e| format!("'{file}': {e}"));
    }
    if let Some((_, rest)) = file.split_once("://") {
        // s3://bucket/key: the key, in the bucket the table is in.
        let key = rest.split_once('/').map_or("", |(_, k)| k);
        return Path::from_url_path(key).map_err(|e| format!("'{file}': {e}"));
    }
    if file.starts_with('/') {
        return Path::from_absolute_path(file).map_err(|e| format!("'{file}': {e}"));
    }
    let relative = Path::from_url_path(file).map_err(|e| format!("'{file}': {e}"))?;
    Ok(table.parts().chain(relative.parts()).collect())
}

/// Which of `paths` no longer exist (at most 16 asked at once).
async fn missing(place: &Place, paths: Vec<Path>) -> Result<Vec<Path>, String> {
    let store = place.store.as_ref();
    use futures_util::stream::{self, StreamExt};
    let answers: Vec<(Path, object_store::Result<object_store::ObjectMeta>)> = stream::iter(paths)
        .map(|p| async move {
            let r = store.head(&p).await;
            (p, r)
        })
        .buffer_unordered(16)
        .collect()
        .await;
    let mut gone = Vec::new();
    for (path, answer) in answers {
        match answer {
            Ok(_) => {}
            Err(object_store::Error::NotFound { .. }) => gone.push(path),
            Err(e) => {
                return Err(format!(
                    "cannot ask the storage about {}: {e}",
                    place.show(&path)
                ))
            }
        }
    }
    gone.sort();
    Ok(gone)
}

/// An object's bytes, `None` when it does not exist.
async fn read(place: &Place, path: &Path) -> Result<Option<Vec<u8>>, String> {
    match place.store.get(path).await {
        Ok(r) => r
            .bytes()
            .await
            .map(|b| Some(b.to_vec()))
            .map_err(|e| format!("cannot read {}: {e}", place.show(path))),
        Err(object_store::Error::NotFound { .. }) => Ok(None),
        Err(e) => Err(format!("cannot read {}: {e}", place.show(path))),
    }
}

/// The names directly under `dir`, with their sizes and modification times.
async fn list(place: &Place, dir: &Path) -> Result<Vec<object_store::ObjectMeta>, String> {
    place
        .store
        .list_with_delimiter(Some(dir))
        .await
        .map(|l| l.objects)
        .map_err(|e| format!("cannot list {}: {e}", place.show(dir)))
}

/// A few paths, for a message: the first three and how many more.
fn some(place: &Place, paths: &[Path]) -> String {
    let mut s: Vec<String> = paths.iter().take(3).map(|p| place.show(p)).collect();
    if paths.len() > 3 {
        s.push(format!("and {} more", paths.len() - 3));
    }
    s.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_join_storage_and_path() {
        assert_eq!(location("file", "/data/orders"), "/data/orders");
        assert_eq!(
            location("s3://lake/", "/warehouse/orders"),
            "s3://lake/warehouse/orders"
        );
    }

    #[test]
    fn the_tool_is_told_by_namespace_and_facets() {
        assert_eq!(kind_of("dvc://repo", &[]), "dvc");
        assert_eq!(kind_of("lakefs://repo", &[]), "lakefs");
        assert_eq!(kind_of("postgres://db:5432", &[]), "other");
        let delta = serde_json::json!({"storage": {"storageLayer": "Delta"}});
        assert_eq!(kind_of("file", &[delta.as_object().unwrap()]), "delta");
    }

    #[test]
    fn table_files_resolve_relative_and_absolute() {
        let table = Path::from("lake/orders");
        assert_eq!(
            file_path(&table, "part-0%20a.parquet").unwrap(),
            Path::from("lake/orders/part-0 a.parquet")
        );
        assert_eq!(
            file_path(&table, "s3://bucket/lake/orders/metadata/snap.avro").unwrap(),
            Path::from("lake/orders/metadata/snap.avro")
        );
        assert_eq!(
            file_path(&table, "file:///w/t/metadata/snap.avro").unwrap(),
            Path::from("w/t/metadata/snap.avro")
        );
        assert_eq!(
            file_path(&table, "/w/t/m.avro").unwrap(),
            Path::from("w/t/m.avro")
        );
    }

    #[test]
    fn other_storage_is_named_not_guessed() {
        assert!(open("gs://bucket/t").unwrap_err().contains("s3://"));
        assert!(open("s3:///t").is_err());
        assert!(open("/tmp/t").is_ok());
    }
}
