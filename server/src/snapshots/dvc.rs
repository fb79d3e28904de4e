//! DVC: a version (an MD5 hash, `.dir` for a directory) can be read while its object is in a
//! cache or a remote, and for a directory, every file it lists. DVC 3 keeps objects under
//! `files/md5/ab/cdef…`, DVC 2 under `ab/cdef…`; both are looked for. `dvc gc` removes the
//! objects no kept commit, branch or tag names.

use object_store::path::Path;
use serde_json::Value;

use super::{missing, open, read, some, Probe};

/// The two places an object can be in a store, DVC 3's first.
fn object_paths(root: &Path, hash: &str) -> [Path; 2] {
    let (head, tail) = hash.split_at(2);
    let at = |parts: &[&str]| -> Path {
        root.parts()
            .chain(parts.iter().map(|p| object_store::path::PathPart::from(*p)))
            .collect()
    };
    [at(&["files", "md5", head, tail]), at(&[head, tail])]
}

fn is_hash(h: &str) -> bool {
    let hex = h.strip_suffix(".dir").unwrap_or(h);
    hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Whether the object for `hash` is in one of `stores`.
pub async fn probe(stores: &[String], hash: &str) -> Probe {
    if !is_hash(hash) {
        return Probe::Gone(format!("'{hash}' is not a DVC object hash (MD5)"));
    }
    if stores.is_empty() {
        return Probe::Unknown(
            "no DVC cache or remote to ask: give --dvc-store (a .dvc/cache folder or a remote's path or s3:// URL), or run in the DVC repository".into(),
        );
    }
    let mut answers = Vec::new();
    for s in stores {
        match in_store(s, hash).await {
            Ok(Probe::Present(found)) => return Probe::Present(found),
            Ok(other) => answers.push(other),
            Err(e) => answers.push(Probe::Unknown(e)),
        }
    }
    // A directory half gone in one store is worth naming over a plain "not there".
    let why: Vec<String> = answers
        .iter()
        .filter_map(|a| match a {
            Probe::Gone(w) | Probe::Unknown(w) => Some(w.clone()),
            Probe::Present(_) => None,
        })
        .collect();
    if answers.iter().all(|a| matches!(a, Probe::Gone(_))) {
        Probe::Gone(why.join("; "))
    } else {
        Probe::Unknown(why.join("; "))
    }
}

async fn in_store(location: &str, hash: &str) -> Result<Probe, String> {
    let place = open(location)?;
    for (layout, path) in object_paths(&place.root, hash).into_iter().enumerate() {
        let Some(bytes) = read(&place, &path).await? else {
            continue;
        };
        if !hash.ends_with(".dir") {
            return Ok(Probe::Present(format!("DVC object {hash} in {location}")));
        }
        // A directory: its listing names every file's object.
        let listing: Value = serde_json::from_slice(&bytes).map_err(|e| {
            format!(
                "{}, a DVC directory listing, is not JSON: {e}",
                place.show(&path)
            )
        })?;
        let entries = listing.as_array().cloned().unwrap_or_default();
        let mut files = Vec::with_capacity(entries.len());
        for e in &entries {
            let Some(md5) = e["md5"].as_str().filter(|h| is_hash(h)) else {
                return Err(format!("{} lists a file without an MD5", place.show(&path)));
            };
            files.push(object_paths(&place.root, md5)[layout].clone());
        }
        let gone = missing(&place, files).await?;
        if gone.is_empty() {
            return Ok(Probe::Present(format!(
                "DVC directory {hash} in {location}, its {} files present",
                entries.len()
            )));
        }
        return Ok(Probe::Gone(format!(
            "{} of the {} files of DVC directory {hash} are gone from {location}: {}",
            gone.len(),
            entries.len(),
            some(&place, &gone)
        )));
    }
    Ok(Probe::Gone(format!(
        "DVC object {hash} is not in {location} (removed by dvc gc?)"
    )))
}

/// The stores of the DVC repository at `repo`: its cache (`.dvc/cache`, or `cache.dir` in its
/// configuration) and every remote its configuration names (`.dvc/config`, `.dvc/config.local`).
/// Relative paths in the configuration are relative to `.dvc/`, as DVC reads them.
pub fn stores_of_repo(repo: &std::path::Path) -> Vec<String> {
    let dvc = repo.join(".dvc");
    if !dvc.is_dir() {
        return Vec::new();
    }
    let mut cache = None;
    let mut remotes = Vec::new();
    for file in ["config", "config.local"] {
        let Ok(text) = std::fs::read_to_string(dvc.join(file)) else {
            continue;
        };
        let (c, r) = parse_config(&text);
        cache = c.or(cache);
        remotes.extend(r);
    }
    let absolute = |p: String| -> String {
        if p.contains("://") || p.starts_with('/') {
            p
        } else {
            dvc.join(p).to_string_lossy().into_owned()
        }
    };
    let cache = cache.map_or_else(
        || dvc.join("cache").to_string_lossy().into_owned(),
        absolute,
    );
    let mut stores = vec![absolute_path(&cache)];
    stores.extend(remotes.into_iter().map(absolute).map(|p| absolute_path(&p)));
    stores.dedup();
    stores
}

/// A local path made absolute (and normalized) when it exists; URLs as they are.
fn absolute_path(p: &str) -> String {
    if p.contains("://") {
        return p.to_string();
    }
    std::fs::canonicalize(p).map_or_else(|_| p.to_string(), |c| c.to_string_lossy().into_owned())
}

/// `cache.dir` and the remotes' `url`s of a DVC configuration (an INI file).
fn parse_config(text: &str) -> (Option<String>, Vec<String>) {
    let mut section = String::new();
    let (mut cache, mut remotes) = (None, Vec::new());
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') && line.ends_with(']') {
            // `['remote "name"']`, as DVC writes it, or `[remote "name"]`.
            section = line[1..line.len() - 1]
                .trim()
                .trim_matches('\'')
                .to_string();
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let (key, value) = (key.trim(), value.trim().to_string());
        if section == "cache" && key == "dir" {
            cache = Some(value);
        } else if section.starts_with("remote") && key == "url" {
            remotes.push(value);
        }
    }
    (cache, remotes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_are_looked_for_in_both_layouts() {
        let [v3, v2] = object_paths(&Path::from("r"), "0123456789abcdef0123456789abcdef.dir");
        assert_eq!(
            v3,
            Path::from("r/files/md5/01/23456789abcdef0123456789abcdef.dir")
        );
        assert_eq!(v2, Path::from("r/01/23456789abcdef0123456789abcdef.dir"));
        assert!(is_hash("0123456789abcdef0123456789abcdef"));
        assert!(!is_hash("../../etc/passwd"));
    }

    #[test]
    fn the_configuration_names_cache_and_remotes() {
        let (cache, remotes) = parse_config(
            "[core]\n    remote = store\n['remote \"store\"']\n    url = ../../remote\n[cache]\n    dir = /big/cache\n['remote \"s3\"']\n    url = s3://bucket/dvc\n",
        );
        assert_eq!(cache.as_deref(), Some("/big/cache"));
        assert_eq!(remotes, vec!["../../remote", "s3://bucket/dvc"]);
    }
}
