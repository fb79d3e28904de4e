//! Canonical JSON (keys sorted at every level, no whitespace) and the hashes taken over it, so
//! the same content always hashes the same however it was formatted.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::json;

/// Canonical text of a JSON value. `serde_json` is built without `preserve_order`, so its
/// objects are sorted maps and plain serialisation is already canonical (a test below fails if
/// a dependency ever turns that feature on).
pub fn canonical(v: &Value) -> String {
    v.to_string()
}

/// Writes a value's canonical text (the same bytes as [`canonical`]) to `out`.
pub fn write(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Object(map) => write_object(map, out, |_, v, out| write(v, out)),
        Value::Array(items) => write_array(items, out, |_, v, out| write(v, out)),
        Value::String(s) => json::write_str(out, s),
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Number(n) => serde_json::to_writer(out, n).expect("a number serialises"),
    }
}

/// Writes an object's canonical text to `out`, each member's value by `member` (which must write
/// it canonically, as [`write`] does): where a caller needs to know where in the text a member's
/// value lies.
pub fn write_object(
    map: &Map<String, Value>,
    out: &mut Vec<u8>,
    mut member: impl FnMut(&str, &Value, &mut Vec<u8>),
) {
    out.push(b'{');
    for (i, (key, v)) in map.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        json::write_str(out, key);
        out.push(b':');
        member(key, v, out);
    }
    out.push(b'}');
}

/// Writes an array's canonical text to `out`, each item by `item` (given its index; it must
/// write the item canonically, as [`write`] does).
pub fn write_array(
    items: &[Value],
    out: &mut Vec<u8>,
    mut item: impl FnMut(usize, &Value, &mut Vec<u8>),
) {
    out.push(b'[');
    for (i, v) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        item(i, v, out);
    }
    out.push(b']');
}

/// SHA-256 of a text.
pub fn sha256(text: &[u8]) -> [u8; 32] {
    Sha256::digest(text).into()
}

/// SHA-256 of a value's canonical text.
pub fn hash(v: &Value) -> [u8; 32] {
    let mut out = Vec::new();
    write(v, &mut out);
    sha256(&out)
}

/// SHA-256 of an object's canonical text, the object held as its map (no `Value` made of it).
pub fn hash_object(map: &Map<String, Value>) -> [u8; 32] {
    let mut out = Vec::new();
    write_object(map, &mut out, |_, v, out| write(v, out));
    sha256(&out)
}

/// SHA-256 of a text, in hex.
pub fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_json_sorts_keys_at_every_level() {
        let a: Value =
            serde_json::from_str(r#"{"b":1,"a":{"d":[{"y":1,"x":2}],"c":null}}"#).unwrap();
        assert_eq!(
            canonical(&a),
            r#"{"a":{"c":null,"d":[{"x":2,"y":1}]},"b":1}"#
        );
    }

    #[test]
    fn the_hash_is_that_of_the_canonical_text() {
        // Longer than the hashing buffer, with strings that need escaping.
        let fields: Vec<Value> = (0..400)
            .map(|i| serde_json::json!({"name": format!("col_{i}"), "doc": "a \"quoted\"\ttab"}))
            .collect();
        let v = serde_json::json!({"z": fields, "a": {"é": "ü", "n": 1.5}});
        let text = canonical(&v);
        assert!(text.len() > 16384, "{}", text.len());
        let whole: [u8; 32] = Sha256::digest(text.as_bytes()).into();
        assert_eq!(hash(&v), whole);
    }

    #[test]
    fn the_written_text_is_the_canonical_text() {
        let v: Value = serde_json::from_str(
            r#"{"z": [1, 2.5, -3e2, null, true, {}, []], "a": "é \u0000 \" \\ / \u2028 😀 \u001f",
                "m": {"b": {"\"k\u0001": 1e300}, "a": [[]], "": -0.0}, "n": 18446744073709551615}"#,
        )
        .unwrap();
        let mut out = Vec::new();
        write(&v, &mut out);
        assert_eq!(String::from_utf8(out).unwrap(), canonical(&v));
    }

    #[test]
    fn formatting_does_not_change_the_hash() {
        let a: Value = serde_json::from_str(r#"{"a": 1, "b": [1, 2]}"#).unwrap();
        let b: Value = serde_json::from_str(r#"{ "b":[1,2],"a":1 }"#).unwrap();
        assert_eq!(hash(&a), hash(&b));
    }
}
