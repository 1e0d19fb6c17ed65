//! API tokens for scripts and CI: named, scoped, expiring, revocable bearer credentials
//! (`Authorization: Bearer cmdr_…`) accepted on the JSON API next to console sessions.
//!
//! A token reads `cmdr_<id>_<secret>`: the prefix makes a leaked token recognisable (secret
//! scanners, logs), `<id>` (16 hex digits) names its record so verification is one lookup,
//! and `<secret>` (64 hex digits, 256 random bits) is shown once, at creation. Only the
//! SHA-256 of the secret is stored; a slow password hash is not needed for a secret of that
//! entropy. The master compares hashes in constant time.
//!
//! Scopes are ordered: [`Scope::Read`] (GET and HEAD), [`Scope::Operate`] (read, plus node,
//! container, image and task operations), [`Scope::Admin`] (everything a token may do:
//! also data management and the tokens themselves). A token holds the highest scope it
//! was given. Account routes that act on the person (logout, password, language) need a
//! console session whatever the scope.
//!
//! Expiry: `expires_in_days` from 1 to [`MAX_EXPIRY_DAYS`], or `null` for a token that
//! never expires (as Nomad and Portainer allow); the field must be present, so no expiry is
//! always an explicit choice. The console offers 90 days by default.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::Invalid;
use crate::error::StoreFailure;

/// What every API token starts with.
pub const TOKEN_PREFIX: &str = "cmdr_";
/// Hex digits of a token id.
pub const ID_HEX: usize = 16;
/// Hex digits of a token secret.
pub const SECRET_HEX: usize = 64;
/// Longest token name, in characters.
pub const MAX_NAME_CHARS: usize = 64;
/// Longest lifetime, in days (ten years).
pub const MAX_EXPIRY_DAYS: u32 = 3650;
/// Most tokens the master keeps; creating one more is refused (revoke unused ones).
pub const MAX_TOKENS: usize = 200;
/// `last_used_at` is written at most once per this many milliseconds per token.
pub const LAST_USED_INTERVAL_MS: u64 = 60_000;
/// One day, in milliseconds.
pub const DAY_MS: u64 = 24 * 3600 * 1000;

/// What a token may do. Ordered: a higher scope includes the lower ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Scope {
    /// GET and HEAD requests only.
    Read,
    /// Read, plus node, container, image and task operations.
    Operate,
    /// Everything a token may do, including data management and API tokens.
    Admin,
}

impl Scope {
    /// Every scope, lowest first.
    pub const ALL: [Scope; 3] = [Scope::Read, Scope::Operate, Scope::Admin];

    /// `read`, `operate` or `admin`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Operate => "operate",
            Scope::Admin => "admin",
        }
    }

    /// Parses a scope name (exact, lower case).
    pub fn parse(text: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Whether a holder of `self` may do what needs `needed`.
    pub fn covers(self, needed: Scope) -> bool {
        self >= needed
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An API token as listed: everything but its secret and hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiToken {
    /// Its id (16 hex digits), part of the token.
    pub id: String,
    /// What it is for.
    pub name: String,
    /// Its scopes, sorted, without duplicates (the highest counts).
    pub scopes: Vec<Scope>,
    /// The user who created it; requests made with it act as this user.
    pub creator: String,
    /// Creation time, Unix ms.
    pub created_at_ms: u64,
    /// End of validity, Unix ms (exclusive); `None`: never expires.
    pub expires_at_ms: Option<u64>,
    /// Last accepted use, Unix ms, written at most once per [`LAST_USED_INTERVAL_MS`].
    #[serde(default)]
    pub last_used_at_ms: Option<u64>,
}

impl ApiToken {
    /// The highest scope it holds (read when it somehow holds none).
    pub fn scope(&self) -> Scope {
        self.scopes.iter().copied().max().unwrap_or(Scope::Read)
    }

    /// Whether it has expired at `now_ms`.
    pub fn expired(&self, now_ms: u64) -> bool {
        self.expires_at_ms.is_some_and(|end| end <= now_ms)
    }

    /// How the audit log names it: `token:ID (name)`.
    pub fn audit_label(&self) -> String {
        format!("token:{} ({})", self.id, self.name)
    }
}

/// An API token as stored: the listed part and the SHA-256 of its secret. `Debug` leaves
/// the hash out.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiTokenRecord {
    /// Everything but the hash.
    #[serde(flatten)]
    pub token: ApiToken,
    /// SHA-256 of the secret, 64 lower-case hex digits.
    pub secret_hash: String,
}

impl fmt::Debug for ApiTokenRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiTokenRecord")
            .field("token", &self.token)
            .field("secret_hash", &"<redacted>")
            .finish()
    }
}

/// A token to create, validated ([`NewApiToken::parse`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApiToken {
    /// Its name, 1 to [`MAX_NAME_CHARS`] characters, no control characters.
    pub name: String,
    /// Its scopes, sorted, without duplicates, not empty.
    pub scopes: Vec<Scope>,
    /// Lifetime in days, 1 to [`MAX_EXPIRY_DAYS`]; `None`: never expires.
    pub expires_in_days: Option<u32>,
}

impl NewApiToken {
    /// Checks a request: `name` (trimmed) 1 to [`MAX_NAME_CHARS`] characters without
    /// control characters, `scopes` non-empty and known, `expires_in_days` 1 to
    /// [`MAX_EXPIRY_DAYS`] or `None` for no expiry.
    pub fn parse(
        name: &str,
        scopes: &[String],
        expires_in_days: Option<i64>,
    ) -> Result<NewApiToken, Invalid> {
        let mut parsed = Vec::with_capacity(scopes.len().min(Scope::ALL.len()));
        for s in scopes {
            let scope = Scope::parse(s.trim()).ok_or_else(|| {
                Invalid::new(
                    "scopes",
                    format!(
                        "unknown scope {:?}: use read, operate or admin",
                        s.chars().take(32).collect::<String>()
                    ),
                )
            })?;
            parsed.push(scope);
        }
        let days = match expires_in_days {
            None => None,
            Some(d) => Some(
                u32::try_from(d)
                    .ok()
                    .filter(|d| (1..=MAX_EXPIRY_DAYS).contains(d))
                    .ok_or_else(expiry_invalid)?,
            ),
        };
        let new = NewApiToken {
            name: name.trim().to_owned(),
            scopes: parsed,
            expires_in_days: days,
        };
        new.check()?;
        Ok(new)
    }

    /// Checks the rules of [`NewApiToken::parse`] on an already built value (the master
    /// checks again what the console sent), and sorts and dedups the scopes.
    pub fn check(&self) -> Result<(), Invalid> {
        let chars = self.name.chars().count();
        if chars == 0 || chars > MAX_NAME_CHARS {
            return Err(Invalid::new(
                "name",
                "the name must have 1 to 64 characters",
            ));
        }
        if self.name.chars().any(char::is_control) {
            return Err(Invalid::new(
                "name",
                "the name must not contain control characters",
            ));
        }
        if self.scopes.is_empty() {
            return Err(Invalid::new(
                "scopes",
                "give at least one scope: read, operate or admin",
            ));
        }
        if self
            .expires_in_days
            .is_some_and(|d| !(1..=MAX_EXPIRY_DAYS).contains(&d))
        {
            return Err(expiry_invalid());
        }
        Ok(())
    }

    /// The scopes sorted, without duplicates.
    pub fn normalized_scopes(&self) -> Vec<Scope> {
        let mut scopes = self.scopes.clone();
        scopes.sort_unstable();
        scopes.dedup();
        scopes
    }
}

fn expiry_invalid() -> Invalid {
    Invalid::new(
        "expires_in_days",
        "expires_in_days must be a whole number of days from 1 to 3650, or null for a token that never expires",
    )
}

/// A token just created: its listed part and the whole token, shown this once.
#[derive(Clone)]
pub struct CreatedApiToken {
    /// The record as listed.
    pub token: ApiToken,
    /// `cmdr_<id>_<secret>`: never stored, never shown again.
    pub secret: String,
}

impl fmt::Debug for CreatedApiToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CreatedApiToken")
            .field("token", &self.token)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// The parts of a presented token: `cmdr_<id>_<secret>`, or `None` when it is not shaped
/// like one (wrong prefix, length or digits).
pub fn split_token(token: &str) -> Option<(&str, &str)> {
    let rest = token.strip_prefix(TOKEN_PREFIX)?;
    if rest.len() != ID_HEX + 1 + SECRET_HEX {
        return None;
    }
    let (id, secret) = rest.split_once('_')?;
    let hex = |s: &str| s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    (id.len() == ID_HEX && secret.len() == SECRET_HEX && hex(id) && hex(secret))
        .then_some((id, secret))
}

/// Whether `token` claims to be an API token (starts with [`TOKEN_PREFIX`]).
pub fn is_api_token(token: &str) -> bool {
    token.starts_with(TOKEN_PREFIX)
}

/// Whether `id` is shaped like a token id (16 lower-case hex digits).
pub fn valid_id(id: &str) -> bool {
    id.len() == ID_HEX && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Why a token could not be created, listed or revoked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenFailure {
    /// The request breaks a rule (400).
    #[error("{0}")]
    Invalid(Invalid),
    /// The caller may not manage tokens: only a console session or an admin-scoped token
    /// may (403).
    #[error("managing API tokens needs a console session or a token with the admin scope")]
    Forbidden,
    /// No token has this id (404).
    #[error("no API token {0:?}")]
    NotFound(String),
    /// [`MAX_TOKENS`] tokens exist already (409).
    #[error("there are already 200 API tokens; revoke unused ones first")]
    TooMany,
    /// Store or randomness failure (500; the log has details).
    #[error("Something went wrong on the server; the master's log has the details.")]
    Internal(String),
}

impl From<StoreFailure> for TokenFailure {
    fn from(e: StoreFailure) -> Self {
        TokenFailure::Internal(e.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn scopes_are_ordered_and_parsed() {
        assert!(Scope::Admin.covers(Scope::Operate));
        assert!(Scope::Operate.covers(Scope::Read));
        assert!(!Scope::Read.covers(Scope::Operate));
        assert_eq!(Scope::parse("operate"), Some(Scope::Operate));
        assert_eq!(Scope::parse("Admin"), None);
        assert_eq!(serde_json::to_string(&Scope::Read).unwrap(), "\"read\"");
    }

    #[test]
    fn new_token_rules() {
        let ok = NewApiToken::parse(" ci deploy ", &strings(&["read", "operate"]), Some(30));
        let ok = ok.unwrap();
        assert_eq!(ok.name, "ci deploy");
        assert_eq!(ok.expires_in_days, Some(30));
        assert!(NewApiToken::parse("x", &strings(&["read"]), None).is_ok());
        assert!(NewApiToken::parse(&"名".repeat(64), &strings(&["read"]), Some(3650)).is_ok());

        let field = |r: Result<NewApiToken, Invalid>| r.unwrap_err().field;
        assert_eq!(
            field(NewApiToken::parse("", &strings(&["read"]), Some(1))),
            "name"
        );
        assert_eq!(
            field(NewApiToken::parse("  ", &strings(&["read"]), Some(1))),
            "name"
        );
        let long = "a".repeat(65);
        assert_eq!(
            field(NewApiToken::parse(&long, &strings(&["read"]), Some(1))),
            "name"
        );
        assert_eq!(
            field(NewApiToken::parse("a\nb", &strings(&["read"]), Some(1))),
            "name"
        );
        assert_eq!(field(NewApiToken::parse("a", &[], Some(1))), "scopes");
        assert_eq!(
            field(NewApiToken::parse("a", &strings(&["root"]), Some(1))),
            "scopes"
        );
        for days in [0, -1, 3651, i64::MAX] {
            let r = NewApiToken::parse("a", &strings(&["read"]), Some(days));
            assert_eq!(field(r), "expires_in_days", "{days}");
        }
    }

    #[test]
    fn token_shape() {
        let id = "0123456789abcdef";
        let secret = "f".repeat(64);
        let token = format!("cmdr_{id}_{secret}");
        assert_eq!(split_token(&token), Some((id, secret.as_str())));
        assert!(is_api_token(&token));
        assert_eq!(split_token(&token[..token.len() - 1]), None);
        assert_eq!(split_token(&token.replace("cmdr_", "cmdx_")), None);
        assert_eq!(split_token(&token.to_uppercase()), None);
        assert_eq!(split_token(&format!("cmdr_{id}-{secret}")), None);
        assert_eq!(split_token("cmdr_"), None);
        assert!(valid_id(id));
        assert!(!valid_id("0123"));
    }

    #[test]
    fn debug_hides_hash_and_secret() {
        let token = ApiToken {
            id: "0123456789abcdef".into(),
            name: "ci".into(),
            scopes: vec![Scope::Read],
            creator: "admin".into(),
            created_at_ms: 1,
            expires_at_ms: None,
            last_used_at_ms: None,
        };
        let record = ApiTokenRecord {
            token: token.clone(),
            secret_hash: "h".repeat(64),
        };
        assert!(!format!("{record:?}").contains("hhhh"));
        let created = CreatedApiToken {
            token,
            secret: "cmdr_secret".into(),
        };
        assert!(!format!("{created:?}").contains("cmdr_secret"));
        let json = serde_json::to_string(&record).unwrap();
        let back: ApiTokenRecord = serde_json::from_str(&json).unwrap();
        assert_eq!(back, record);
    }
}
