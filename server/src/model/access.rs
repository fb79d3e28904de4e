//! Who may do what: API keys, their scopes, the server's authentication mode, and the audit
//! trail's entries. Knows nothing of HTTP or SQL: the HTTP layer decides which scope a request
//! needs, the store keeps keys (hashed) and audit entries.
//!
//! A key reads `trb_<id>_<secret>`: the id (public, 12 hex digits) finds the stored key, and the
//! SHA-256 of the whole key is compared with the stored hash in constant time. Only the hash is
//! kept; the key itself is printed once, when it is made.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// What a key allows. `admin` allows everything; the others only their own family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Sending OpenLineage events (`POST /api/v1/lineage`, `/lineage/batch`).
    Ingest,
    /// Every `GET`, GraphQL queries, `/metrics`.
    Read,
    /// Deletes, tags, namespace and tag `PUT`, GraphQL mutations, the audit trail.
    Admin,
}

impl Scope {
    pub const ALL: [Scope; 3] = [Scope::Ingest, Scope::Read, Scope::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Ingest => "ingest",
            Scope::Read => "read",
            Scope::Admin => "admin",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scope {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Scope::ALL
            .into_iter()
            .find(|scope| scope.as_str() == s.trim())
            .ok_or_else(|| format!("'{s}' is not a scope (ingest, read or admin)"))
    }
}

/// Which requests need a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthMode {
    /// Anyone who reaches the port may do anything (the loopback, zero-setup default).
    Off,
    /// Reads are anonymous; ingest and changes need a key with the scope.
    Writes,
    /// Every API request needs a key with the scope.
    All,
}

impl AuthMode {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMode::Off => "off",
            AuthMode::Writes => "writes",
            AuthMode::All => "all",
        }
    }

    /// Whether a request needing `scope` may be made without a key.
    pub fn anonymous_may(self, scope: Scope) -> bool {
        match self {
            AuthMode::Off => true,
            AuthMode::Writes => scope == Scope::Read,
            AuthMode::All => false,
        }
    }
}

impl fmt::Display for AuthMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AuthMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "off" => Ok(AuthMode::Off),
            "writes" => Ok(AuthMode::Writes),
            "all" => Ok(AuthMode::All),
            other => Err(format!(
                "'{other}' is not an auth mode (off, writes or all)"
            )),
        }
    }
}

/// A stored key: everything but the key itself.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyRecord {
    /// The public part of the key (`trb_<id>_…`).
    pub id: String,
    pub name: String,
    pub scopes: Vec<Scope>,
    /// Hex SHA-256 of the whole key.
    #[serde(skip)]
    pub hash: String,
    /// Microseconds since the epoch.
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

impl KeyRecord {
    /// Whether the key may make a request needing `scope`.
    pub fn allows(&self, scope: Scope) -> bool {
        self.revoked_at.is_none() && self.scopes.iter().any(|&s| s == scope || s == Scope::Admin)
    }

    /// Whether `presented` is this key: the hashes compared in constant time.
    pub fn matches(&self, presented: &str) -> bool {
        let Ok(stored) = hex::decode(&self.hash) else {
            return false;
        };
        let given = Sha256::digest(presented.as_bytes());
        stored.len() == given.len() && bool::from(stored.ct_eq(given.as_slice()))
    }

    /// Scopes as stored (`ingest,read`).
    pub fn scopes_text(scopes: &[Scope]) -> String {
        scopes
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Scopes from their stored text; unknown words are dropped (never widen access).
    pub fn parse_scopes(text: &str) -> Vec<Scope> {
        text.split(',').filter_map(|s| s.parse().ok()).collect()
    }
}

/// A new key, and the record to store for it.
pub struct NewKey {
    /// The key to hand to the user once.
    pub secret: String,
    pub record: KeyRecord,
}

/// The longest key name accepted.
pub const MAX_KEY_NAME: usize = 128;

/// Makes a key for `name` with `scopes` (deduplicated, sorted).
pub fn new_key(name: &str, scopes: &[Scope], now: i64) -> Result<NewKey, String> {
    let name = name.trim();
    if name.is_empty() || name.len() > MAX_KEY_NAME {
        return Err(format!("a key name has 1 to {MAX_KEY_NAME} characters"));
    }
    if name.chars().any(char::is_control) {
        return Err("a key name has no control characters".into());
    }
    if scopes.is_empty() {
        return Err("a key needs at least one scope (ingest, read or admin)".into());
    }
    let mut scopes = scopes.to_vec();
    scopes.sort();
    scopes.dedup();
    let mut id = [0u8; 6];
    let mut secret = [0u8; 24];
    getrandom::fill(&mut id).map_err(|e| format!("no randomness for a key: {e}"))?;
    getrandom::fill(&mut secret).map_err(|e| format!("no randomness for a key: {e}"))?;
    let id = hex::encode(id);
    let secret = format!("trb_{id}_{}", hex::encode(secret));
    let hash = hex::encode(Sha256::digest(secret.as_bytes()));
    Ok(NewKey {
        secret,
        record: KeyRecord {
            id,
            name: name.to_string(),
            scopes,
            hash,
            created_at: now,
            revoked_at: None,
        },
    })
}

/// The id part of a presented key, when it has the shape of one.
pub fn key_id(presented: &str) -> Option<&str> {
    let rest = presented.strip_prefix("trb_")?;
    let (id, secret) = rest.split_once('_')?;
    let hex_digits = |s: &str| s.bytes().all(|b| b.is_ascii_hexdigit());
    (id.len() == 12 && hex_digits(id) && !secret.is_empty()).then_some(id)
}

/// Who made a request: a key's name, or nobody (auth off, or an anonymous read).
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Principal {
    #[default]
    Anonymous,
    Key(KeyRecord),
}

impl Principal {
    /// The name the audit trail records.
    pub fn actor(&self) -> &str {
        match self {
            Principal::Anonymous => "anonymous",
            Principal::Key(k) => &k.name,
        }
    }
}

/// Who made a request and from where: what GraphQL resolvers and handlers need to record an
/// admin action in the audit trail.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Caller {
    pub principal: Principal,
    /// The client's address.
    pub remote: Option<String>,
}

impl Caller {
    /// The audit entry for `action` on `target`, made now.
    pub fn did(&self, action: &str, target: String, now: i64) -> AuditEntry {
        AuditEntry {
            at: now,
            actor: self.principal.actor().to_string(),
            action: action.to_string(),
            target,
            remote: self.remote.clone(),
        }
    }
}

/// One recorded admin action.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    /// Microseconds since the epoch.
    pub at: i64,
    /// The key's name, `anonymous` when no key was needed, or `cli:<user>` for commands run
    /// against the database directly.
    pub actor: String,
    /// What was done, e.g. `DELETE /api/v1/namespaces/{ns}` or `key.revoke`.
    pub action: String,
    /// What it was done to, e.g. the request path or the key's name.
    pub target: String,
    /// The client's address, when it came over HTTP.
    pub remote: Option<String>,
}

impl AuditEntry {
    /// An entry for an action taken now by `actor` outside HTTP (the CLI, the scheduler).
    pub fn by(actor: &str, action: &str, target: String) -> Self {
        AuditEntry {
            at: crate::model::time::now_micros(),
            actor: actor.to_string(),
            action: action.to_string(),
            target,
            remote: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_key_matches_itself_and_nothing_else() {
        let k = new_key("airflow", &[Scope::Ingest, Scope::Ingest], 1).unwrap();
        assert_eq!(k.record.scopes, vec![Scope::Ingest]);
        assert_eq!(key_id(&k.secret), Some(k.record.id.as_str()));
        assert!(k.record.matches(&k.secret));
        let mut other = k.secret.clone();
        other.pop();
        other.push(if k.secret.ends_with('0') { '1' } else { '0' });
        assert!(!k.record.matches(&other));
        // Only the hash is kept.
        assert!(!k.record.hash.contains(&k.secret[4..]));
    }

    #[test]
    fn admin_allows_everything_and_a_revoked_key_nothing() {
        let mut k = new_key("ops", &[Scope::Admin], 1).unwrap().record;
        assert!(Scope::ALL.iter().all(|&s| k.allows(s)));
        k.revoked_at = Some(2);
        assert!(Scope::ALL.iter().all(|&s| !k.allows(s)));
        let reader = new_key("bi", &[Scope::Read], 1).unwrap().record;
        assert!(reader.allows(Scope::Read));
        assert!(!reader.allows(Scope::Ingest) && !reader.allows(Scope::Admin));
    }

    #[test]
    fn modes_decide_what_is_anonymous() {
        assert!(Scope::ALL.iter().all(|&s| AuthMode::Off.anonymous_may(s)));
        assert!(AuthMode::Writes.anonymous_may(Scope::Read));
        assert!(!AuthMode::Writes.anonymous_may(Scope::Ingest));
        assert!(Scope::ALL.iter().all(|&s| !AuthMode::All.anonymous_may(s)));
    }

    #[test]
    fn key_ids_are_read_only_from_well_formed_keys() {
        assert_eq!(key_id("trb_0123456789ab_ff"), Some("0123456789ab"));
        for bad in [
            "",
            "trb_",
            "trb_0123456789ab_",
            "trb_xyz_ff",
            "Bearer x",
            "trb_0123456789ab",
        ] {
            assert_eq!(key_id(bad), None, "{bad}");
        }
    }

    #[test]
    fn names_and_scopes_are_checked() {
        assert!(new_key("", &[Scope::Read], 1).is_err());
        assert!(new_key("a\nb", &[Scope::Read], 1).is_err());
        assert!(new_key("x", &[], 1).is_err());
        assert_eq!(
            KeyRecord::parse_scopes("read,admin,root"),
            vec![Scope::Read, Scope::Admin]
        );
        assert!("root".parse::<Scope>().is_err());
    }
}
