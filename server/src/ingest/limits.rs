//! What the store can hold, checked before anything is stored, the same on every backend: no NUL
//! character anywhere (Postgres text cannot hold one), names no longer than `MAX_NAME_BYTES`
//! (they are index keys), and at most `MAX_DATASETS` inputs and as many outputs per event (one
//! event's cost stays bounded, so it cannot hold up everyone else's ingest).

use serde_json::{Map, Value};

use super::Problem;

/// The longest namespace, name, field, source or tag, in bytes (UTF-8). A namespace and a name
/// together stay under Postgres' largest index entry (about 2,700 bytes).
pub const MAX_NAME_BYTES: usize = 1024;
/// The most inputs, and the most outputs, one event may list.
pub const MAX_DATASETS: usize = 2_000;
/// The most problems reported for one event.
const MAX_PROBLEMS: usize = 20;

/// Every reason the store could not hold this event, with JSON pointers; empty when it can.
pub fn check(event: &Value) -> Vec<Problem> {
    let mut problems = Vec::new();
    nul_free(event, &mut String::new(), &mut problems);
    if let Some(obj) = event.as_object() {
        names(obj, &mut problems);
    }
    problems.truncate(MAX_PROBLEMS);
    problems
}

/// Every string (or key) holding a NUL, by JSON pointer; empty when there is none.
pub fn nul_paths(v: &Value) -> Vec<Problem> {
    let mut out = Vec::new();
    nul_free(v, &mut String::new(), &mut out);
    out
}

/// Whether a name taken from a URL or a request body fits the store: no NUL, not too long.
pub fn check_name(what: &str, value: &str) -> Result<(), Problem> {
    if value.contains('\0') {
        return Err(Problem::new(
            what,
            "must not contain the NUL character (U+0000)",
        ));
    }
    if value.len() > MAX_NAME_BYTES {
        return Err(too_long(what, value));
    }
    Ok(())
}

fn too_long(path: &str, value: &str) -> Problem {
    Problem::new(
        path,
        format!(
            "is {} bytes long; the limit is {MAX_NAME_BYTES} bytes",
            value.len()
        ),
    )
}

fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// Whether any string or key in `v` holds a NUL: the common answer (no) without building the
/// path of every value on the way.
fn has_nul(v: &Value) -> bool {
    match v {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(has_nul),
        Value::Object(map) => map
            .iter()
            .any(|(k, item)| k.contains('\0') || has_nul(item)),
        _ => false,
    }
}

/// Every NUL in `v`, each with its JSON pointer (looked for only where there is one).
fn nul_free(v: &Value, path: &mut String, out: &mut Vec<Problem>) {
    if !has_nul(v) {
        return;
    }
    if out.len() >= MAX_PROBLEMS {
        return;
    }
    match v {
        Value::String(s) if s.contains('\0') => out.push(Problem::new(
            path.clone(),
            "must not contain the NUL character (U+0000)",
        )),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let len = path.len();
                path.push('/');
                path.push_str(&i.to_string());
                nul_free(item, path, out);
                path.truncate(len);
            }
        }
        Value::Object(map) => {
            for (k, item) in map {
                let len = path.len();
                path.push('/');
                path.push_str(&escape(k));
                if k.contains('\0') {
                    out.push(Problem::new(
                        path.clone(),
                        "a key must not contain the NUL character (U+0000)",
                    ));
                } else {
                    nul_free(item, path, out);
                }
                path.truncate(len);
            }
        }
        _ => {}
    }
}

/// Checks `namespace` and `name` of an object (a job, a dataset, a symlink identifier).
fn key_pair(obj: &Map<String, Value>, at: &str, out: &mut Vec<Problem>) {
    for key in ["namespace", "name"] {
        if let Some(Value::String(s)) = obj.get(key) {
            if s.len() > MAX_NAME_BYTES {
                out.push(too_long(&format!("{at}/{key}"), s));
            }
        }
    }
}

fn object(v: Option<&Value>) -> Option<&Map<String, Value>> {
    v.and_then(Value::as_object)
}

/// The names that become keys in the store: jobs, datasets and their aliases, parent jobs,
/// sources, fields.
fn names(event: &Map<String, Value>, out: &mut Vec<Problem>) {
    if let Some(job) = object(event.get("job")) {
        key_pair(job, "/job", out);
    }
    if let Some(parent) = object(event.get("run"))
        .and_then(|r| object(r.get("facets")))
        .and_then(|f| object(f.get("parent")))
        .and_then(|p| object(p.get("job")))
    {
        key_pair(parent, "/run/facets/parent/job", out);
    }
    if let Some(d) = object(event.get("dataset")) {
        dataset(d, "/dataset", out);
    }
    for list in ["inputs", "outputs"] {
        let Some(items) = event.get(list).and_then(Value::as_array) else {
            continue;
        };
        if items.len() > MAX_DATASETS {
            out.push(Problem::new(
                format!("/{list}"),
                format!(
                    "lists {} datasets; the limit is {MAX_DATASETS} per event (send the rest in \
                     further events of the same run)",
                    items.len()
                ),
            ));
            continue;
        }
        for (i, item) in items.iter().enumerate() {
            if let Some(d) = item.as_object() {
                dataset(d, &format!("/{list}/{i}"), out);
            }
        }
    }
}

fn dataset(d: &Map<String, Value>, at: &str, out: &mut Vec<Problem>) {
    key_pair(d, at, out);
    let Some(facets) = object(d.get("facets")) else {
        return;
    };
    if let Some(ids) = object(facets.get("symlinks"))
        .and_then(|s| s.get("identifiers"))
        .and_then(Value::as_array)
    {
        for (i, id) in ids.iter().enumerate() {
            if let Some(id) = id.as_object() {
                key_pair(id, &format!("{at}/facets/symlinks/identifiers/{i}"), out);
            }
        }
    }
    if let Some(Value::String(s)) = object(facets.get("dataSource")).and_then(|s| s.get("name")) {
        if s.len() > MAX_NAME_BYTES {
            out.push(too_long(&format!("{at}/facets/dataSource/name"), s));
        }
    }
    if let Some(fields) = object(facets.get("schema"))
        .and_then(|s| s.get("fields"))
        .and_then(Value::as_array)
    {
        for (i, f) in fields.iter().enumerate() {
            if let Some(Value::String(s)) = f.get("name") {
                if s.len() > MAX_NAME_BYTES {
                    out.push(too_long(&format!("{at}/facets/schema/fields/{i}/name"), s));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_nul_anywhere_is_named_by_its_pointer() {
        let p = check(&json!({"job": {"namespace": "a\u{0}b", "name": "j"},
            "run": {"facets": {"x/y": {"k\u{0}": 1}}}}));
        let paths: Vec<&str> = p.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(paths, ["/job/namespace", "/run/facets/x~1y/k\u{0}"]);
    }

    #[test]
    fn names_past_the_limit_are_refused_where_they_are() {
        let long = "x".repeat(MAX_NAME_BYTES + 1);
        let p = check(&json!({"job": {"namespace": "ns", "name": long},
            "outputs": [{"namespace": "db", "name": "ok", "facets": {
                "symlinks": {"identifiers": [{"namespace": "h", "name": long, "type": "TABLE"}]}}}]}));
        let paths: Vec<&str> = p.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(
            paths,
            ["/job/name", "/outputs/0/facets/symlinks/identifiers/0/name"]
        );
        let fits = "x".repeat(MAX_NAME_BYTES);
        assert!(check(&json!({"job": {"namespace": fits, "name": fits}})).is_empty());
    }

    #[test]
    fn too_many_inputs_are_refused_in_one_problem() {
        let inputs: Vec<Value> = (0..=MAX_DATASETS)
            .map(|i| json!({"namespace": "db", "name": format!("t{i}")}))
            .collect();
        let p = check(&json!({"inputs": inputs}));
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].path, "/inputs");
    }

    #[test]
    fn problems_are_capped() {
        let many: Vec<Value> = (0..100).map(|_| json!("\u{0}")).collect();
        assert_eq!(check(&json!({"x": many})).len(), MAX_PROBLEMS);
    }
}
