//! Iceberg: a snapshot can be read while it is in the table's current metadata (expiring it
//! removes it there) and its manifest list exists. The current metadata file is the one
//! `metadata/version-hint.text` names (Hadoop tables) or else the newest `*.metadata.json`
//! under `metadata/` (catalog tables write `NNNNN-<uuid>.metadata.json`, numbered in order).

use std::io::Read;

use object_store::path::Path;
use object_store::ObjectMeta;
use serde_json::Value;

use super::{file_path, list, missing, read, Place, Probe};

/// Whether snapshot `snapshot` of the Iceberg table at `table` can still be read.
pub async fn probe(table: &Place, snapshot: &str) -> Probe {
    match check(table, snapshot).await {
        Ok(p) => p,
        Err(e) => Probe::Unknown(e),
    }
}

/// The order of a metadata file's name: `v3.metadata.json` → 3, `00012-….metadata.json` → 12.
fn number(name: &str) -> Option<u64> {
    let head = name.split(['-', '.']).next()?;
    head.trim_start_matches('v').parse().ok()
}

/// The current metadata file among those listed.
fn newest(files: &[ObjectMeta]) -> Option<&ObjectMeta> {
    files
        .iter()
        .filter(|m| {
            m.location
                .filename()
                .is_some_and(|n| n.ends_with(".metadata.json"))
        })
        .max_by_key(|m| (m.location.filename().and_then(number), m.last_modified))
}

/// A metadata file's JSON (gzip-compressed ones too: `….gz.metadata.json`).
fn parse(name: &str, bytes: &[u8]) -> Result<Value, String> {
    let text = if name.ends_with(".gz.metadata.json") || bytes.starts_with(&[0x1f, 0x8b]) {
        let mut s = Vec::new();
        flate2::read::GzDecoder::new(bytes)
            .read_to_end(&mut s)
            .map_err(|e| format!("{name} is not gzip: {e}"))?;
        s
    } else {
        bytes.to_vec()
    };
    serde_json::from_slice(&text).map_err(|e| format!("{name} is not JSON: {e}"))
}

async fn check(table: &Place, snapshot: &str) -> Result<Probe, String> {
    let Ok(id) = snapshot.parse::<i64>() else {
        return Ok(Probe::Gone(format!(
            "'{snapshot}' is not an Iceberg snapshot id"
        )));
    };
    let dir = table.join("metadata");
    let current: Path = match read(table, &table.join("metadata/version-hint.text")).await? {
        Some(h) => {
            let n = String::from_utf8_lossy(&h).trim().to_string();
            table.join(&format!("metadata/v{n}.metadata.json"))
        }
        None => {
            let files = list(table, &dir).await?;
            match newest(&files) {
                Some(m) => m.location.clone(),
                None => {
                    return Ok(Probe::Gone(format!(
                        "no Iceberg metadata under {}: the table is gone or was moved",
                        table.show(&dir)
                    )))
                }
            }
        }
    };
    let name = table.show(&current);
    let bytes = read(table, &current)
        .await?
        .ok_or_else(|| format!("{name}, the current metadata, cannot be read"))?;
    let metadata = parse(&name, &bytes)?;
    let snapshots = metadata["snapshots"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let Some(found) = snapshots
        .iter()
        .find(|s| s["snapshot-id"].as_i64() == Some(id))
    else {
        let mut kept: Vec<String> = snapshots
            .iter()
            .filter_map(|s| s["snapshot-id"].as_i64().map(|i| i.to_string()))
            .collect();
        kept.truncate(5);
        return Ok(Probe::Gone(format!(
            "snapshot {id} is not in the table's current metadata ({name}): it was expired; the table keeps {}",
            if kept.is_empty() {
                "no snapshots".to_string()
            } else {
                format!("snapshots {}", kept.join(", "))
            }
        )));
    };
    let Some(list_uri) = found["manifest-list"].as_str() else {
        return Ok(Probe::Present(format!(
            "Iceberg snapshot {id}: in {name} (a v1 table without a manifest list; manifests not checked)"
        )));
    };
    let manifest_list = file_path(&table.root, list_uri)?;
    if !missing(table, vec![manifest_list]).await?.is_empty() {
        return Ok(Probe::Gone(format!(
            "snapshot {id} is in {name}, but its manifest list {list_uri} is gone"
        )));
    }
    Ok(Probe::Present(format!(
        "Iceberg snapshot {id}: in {name}, its manifest list present"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_files_are_ordered_by_their_number() {
        assert_eq!(number("v3.metadata.json"), Some(3));
        assert_eq!(
            number("00012-0f1e2d3c-aaaa-bbbb-cccc-000000000000.metadata.json"),
            Some(12)
        );
        assert_eq!(number("version-hint.text"), None);
    }

    #[test]
    fn compressed_metadata_is_read() {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(br#"{"snapshots": []}"#).unwrap();
        let bytes = gz.finish().unwrap();
        assert_eq!(
            parse("00001-x.gz.metadata.json", &bytes).unwrap()["snapshots"],
            serde_json::json!([])
        );
        assert!(parse("00001-x.metadata.json", b"{").is_err());
    }
}
