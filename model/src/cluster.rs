//! The cluster's persistent records: enrolled nodes and one-time join tokens.
//!
//! Records are stored as JSON (the master's `store::schema` says where). Fixed-size byte arrays
//! (public keys, token hashes) are written as lowercase hex strings so that a dump of the
//! database stays readable. Every field that is not part of a record's identity carries
//! `#[serde(default)]`, so a record written by an older build (missing a newer field) still
//! loads; unknown fields written by a newer build are ignored.

use serde::{Deserialize, Serialize};

/// A slave (agent) that has enrolled with this master.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeRecord {
    /// Node id, allocated by the store at enrolment (starts at 1, never reused).
    pub id: u64,
    /// The node's static Noise public key (its identity).
    #[serde(with = "hex32")]
    pub public_key: [u8; 32],
    /// Host name as last reported by the node (empty until its first `HostInfo`).
    #[serde(default)]
    pub hostname: String,
    /// Agent version string as last reported by the node.
    #[serde(default)]
    pub agent_version: String,
    /// When the node enrolled, Unix milliseconds.
    #[serde(default)]
    pub enrolled_at_ms: u64,
    /// Last time the master heard from the node, Unix milliseconds.
    #[serde(default)]
    pub last_seen_ms: u64,
    /// A revoked node may not connect; it keeps its id and key so it can be restored.
    #[serde(default)]
    pub revoked: bool,
    /// Static facts about the host, as last reported.
    #[serde(default)]
    pub host_info: Option<protocol::HostInfo>,
}

/// A join token an operator created. The secret itself is never stored, only its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinTokenRecord {
    /// Hash of the token's secret; the record's key.
    #[serde(with = "hex32")]
    pub secret_hash: [u8; 32],
    /// When the token was created, Unix milliseconds.
    #[serde(default)]
    pub created_at_ms: u64,
    /// The token is valid while `now_ms < expires_at_ms`.
    #[serde(default)]
    pub expires_at_ms: u64,
    /// The node that enrolled with this token; a token enrols at most one node.
    #[serde(default)]
    pub used_by: Option<u64>,
    /// Free-form operator note ("rack 3 web servers").
    #[serde(default)]
    pub note: String,
}

impl JoinTokenRecord {
    /// Whether the token may still enrol a node at `now_ms`; the refusal says why not.
    ///
    /// A used token is reported as [`EnrollRefusal::TokenUsed`] even when it has also
    /// expired, because that is the more useful message for an operator.
    pub fn check_usable(&self, now_ms: u64) -> Result<(), EnrollRefusal> {
        if self.used_by.is_some() {
            Err(EnrollRefusal::TokenUsed)
        } else if now_ms >= self.expires_at_ms {
            Err(EnrollRefusal::TokenExpired)
        } else {
            Ok(())
        }
    }
}

/// Why an enrolment was refused. These are answers, not store failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum EnrollRefusal {
    /// No token with this secret exists.
    #[error("unknown join token")]
    UnknownToken,
    /// The token already enrolled a node.
    #[error("join token already used")]
    TokenUsed,
    /// The token's lifetime is over.
    #[error("join token expired")]
    TokenExpired,
    /// This public key already belongs to an enrolled node.
    #[error("public key already enrolled as node {node_id}")]
    KeyAlreadyEnrolled {
        /// The node that owns the key.
        node_id: u64,
    },
}

/// Lowercase hex encoding of a 32-byte array.
pub fn to_hex(bytes: &[u8; 32]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(64);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// Parses 64 hex digits (either case) into 32 bytes; `None` on any other input.
pub fn from_hex(text: &str) -> Option<[u8; 32]> {
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
    let text = text.as_bytes();
    if text.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (slot, pair) in out.iter_mut().zip(text.chunks_exact(2)) {
        *slot = (nibble(pair[0])? << 4) | nibble(pair[1])?;
    }
    Some(out)
}

/// Serde adapter: `[u8; 32]` as a 64-character hex string.
mod hex32 {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub(super) fn serialize<S: Serializer>(bytes: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::to_hex(bytes))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        super::from_hex(&text).ok_or_else(|| D::Error::custom("expected 64 hex digits"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip_and_rejects_bad_input() {
        let mut key = [0u8; 32];
        for (i, b) in key.iter_mut().enumerate() {
            *b = (i as u8).wrapping_mul(37);
        }
        let text = to_hex(&key);
        assert_eq!(text.len(), 64);
        assert_eq!(from_hex(&text), Some(key));
        assert_eq!(from_hex(&text.to_uppercase()), Some(key));
        assert_eq!(from_hex(&text[..62]), None);
        assert_eq!(from_hex(&format!("{}zz", &text[..62])), None);
        assert_eq!(from_hex("é"), None);
    }

    #[test]
    fn node_record_json_is_readable_and_tolerates_missing_fields() {
        let node = NodeRecord {
            id: 7,
            public_key: [0xab; 32],
            hostname: "web-1".into(),
            agent_version: "0.1.0".into(),
            enrolled_at_ms: 1,
            last_seen_ms: 2,
            revoked: false,
            host_info: None,
        };
        let json = serde_json::to_string(&node).unwrap();
        assert!(json.contains(&"ab".repeat(32)), "{json}");
        let back: NodeRecord = serde_json::from_str(&json).unwrap();
        assert_eq!(back, node);

        let old = format!(r#"{{"id":3,"public_key":"{}","extra":1}}"#, "00".repeat(32));
        let loaded: NodeRecord = serde_json::from_str(&old).unwrap();
        assert_eq!(loaded.id, 3);
        assert!(!loaded.revoked);
        assert!(loaded.host_info.is_none());

        let bad = r#"{"id":3,"public_key":"abc"}"#;
        assert!(serde_json::from_str::<NodeRecord>(bad).is_err());
    }

    #[test]
    fn token_usability() {
        let mut t = JoinTokenRecord {
            secret_hash: [1; 32],
            created_at_ms: 0,
            expires_at_ms: 100,
            used_by: None,
            note: String::new(),
        };
        assert_eq!(t.check_usable(99), Ok(()));
        assert_eq!(t.check_usable(100), Err(EnrollRefusal::TokenExpired));
        t.used_by = Some(1);
        assert_eq!(t.check_usable(200), Err(EnrollRefusal::TokenUsed));
        let json = serde_json::to_string(&t).unwrap();
        assert_eq!(serde_json::from_str::<JoinTokenRecord>(&json).unwrap(), t);
    }
}
