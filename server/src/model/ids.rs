//! Deterministic identifiers. Importing the same events into an empty store gives the same ids,
//! so every id here is a name-based (v5) UUID over a canonical description of the thing.

use uuid::Uuid;

/// The UUID namespace all Tributary ids are derived in.
const ROOT: Uuid = Uuid::from_u128(0x7f1b_2c8e_4a0d_4e55_9a3c_61d2_b0e4_f9a7);

fn derive(kind: &str, parts: &[&str]) -> Uuid {
    // Parts are joined with a NUL. A NUL inside a part is escaped (as U+0001 U+0002, and
    // U+0001 itself as U+0001 U+0001), so no two lists of parts give the same text:
    // ("a:b", "c") and ("a", "b:c"), ("a\0b", "c") and ("a", "b\0c") never collide. Parts
    // without either character are joined as they are, so the ids of ordinary names are stable.
    let mut buf = String::with_capacity(64);
    buf.push_str(kind);
    for p in parts {
        buf.push('\0');
        if p.contains(['\0', '\u{1}']) {
            for c in p.chars() {
                match c {
                    '\0' => buf.push_str("\u{1}\u{2}"),
                    '\u{1}' => buf.push_str("\u{1}\u{1}"),
                    c => buf.push(c),
                }
            }
        } else {
            buf.push_str(p);
        }
    }
    Uuid::new_v5(&ROOT, buf.as_bytes())
}

/// A run id as sent. Marquez accepts runIds that are not UUIDs; they map to a stable UUID.
pub fn run_uuid(run_id: &str) -> Uuid {
    match Uuid::parse_str(run_id.trim()) {
        Ok(u) => u,
        Err(_) => derive("run", &[run_id]),
    }
}

/// The id of a dataset from its (namespace, name).
pub fn dataset_id(namespace: &str, name: &str) -> Uuid {
    derive("dataset", &[namespace, name])
}

/// The id of a job from its (namespace, name).
pub fn job_id(namespace: &str, name: &str) -> Uuid {
    derive("job", &[namespace, name])
}

/// How a dataset version is identified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionKey<'a> {
    /// The producer said which version this is (Delta version, Iceberg snapshot, lakeFS commit).
    Producer(&'a str),
    /// The version a run wrote, when the producer did not name one.
    WrittenBy(Uuid),
    /// A version described by a DatasetEvent: the hash of its canonical content.
    Content(&'a str),
}

/// The id of a dataset version.
pub fn dataset_version_id(dataset: Uuid, key: VersionKey<'_>) -> Uuid {
    let d = dataset.to_string();
    match key {
        VersionKey::Producer(v) => derive("dsv-producer", &[&d, v]),
        VersionKey::WrittenBy(run) => derive("dsv-run", &[&d, &run.to_string()]),
        VersionKey::Content(hash) => derive("dsv-content", &[&d, hash]),
    }
}

/// The id of a job version from the canonical text of what defines it.
pub fn job_version_id(job: Uuid, canonical: &str) -> Uuid {
    derive("job-version", &[&job.to_string(), canonical])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_uuid_run_id_is_kept() {
        let id = "5355b91b-32b4-4477-b660-3adadee198b2";
        assert_eq!(run_uuid(id).to_string(), id);
    }

    #[test]
    fn a_non_uuid_run_id_maps_to_the_same_uuid_every_time() {
        assert_eq!(
            run_uuid("manual__2024-01-01"),
            run_uuid("manual__2024-01-01")
        );
        assert_ne!(
            run_uuid("manual__2024-01-01"),
            run_uuid("manual__2024-01-02")
        );
    }

    #[test]
    fn names_with_separators_do_not_collide() {
        assert_ne!(dataset_id("a:b", "c"), dataset_id("a", "b:c"));
        assert_ne!(dataset_id("a\0b", "c"), dataset_id("a", "b\0c"));
        assert_ne!(dataset_id("a\u{1}", "b"), dataset_id("a", "\u{1}b"));
    }

    #[test]
    fn ordinary_names_keep_the_ids_they_always_had() {
        assert_eq!(
            dataset_id("postgres://db:5432", "shop.public.orders"),
            Uuid::new_v5(
                &ROOT,
                "dataset\0postgres://db:5432\0shop.public.orders".as_bytes()
            )
        );
    }
}
