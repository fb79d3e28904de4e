//! Canonical JSON (keys sorted at every level, no whitespace) and the hashes taken over it, so
//! the same content always hashes the same however it was formatted.

use serde_json::Value;
use sha2::{Digest, Sha256};

/// Canonical text of a JSON value. `serde_json` is built without `preserve_order`, so its
/// objects are sorted maps and plain serialisation is already canonical (a test below fails if
/// a dependency ever turns that feature on).
pub fn canonical(v: &Value) -> String {
    v.to_string()
}

/// SHA-256 of a value's canonical text.
pub fn hash(v: &Value) -> [u8; 32] {
    Sha256::digest(canonical(v).as_bytes()).into()
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
    fn formatting_does_not_change_the_hash() {
        let a: Value = serde_json::from_str(r#"{"a": 1, "b": [1, 2]}"#).unwrap();
        let b: Value = serde_json::from_str(r#"{ "b":[1,2],"a":1 }"#).unwrap();
        assert_eq!(hash(&a), hash(&b));
    }
}
