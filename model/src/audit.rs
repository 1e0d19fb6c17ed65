//! The audit log: who did what, to what, when, from where, with what result.
//!
//! Entries are keyed by [`AuditId`], a time-ordered unique id (Unix milliseconds in the high
//! 64 bits, a store-wide sequence number in the low 64), so two operations in the same
//! millisecond never collide (the original keyed records by the second and lost some).
//! Stores return entries newest first through [`collect_page`], which applies an
//! [`AuditQuery`]'s filters and paging the same way for every store.
//!
//! The master writes one entry per operation where the operation ends (see
//! [`crate::service`]); the action names in [`actions`] are part of the API.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

use crate::error::StoreFailure;

/// Action names written by the console itself.
pub mod actions {
    /// First-user registration.
    pub const REGISTER: &str = "auth.register";
    /// A login attempt (form or API).
    pub const LOGIN: &str = "auth.login";
    /// A logout.
    pub const LOGOUT: &str = "auth.logout";
    /// A password change.
    pub const PASSWORD_CHANGE: &str = "auth.password";
    /// A password set from the command line (`commander user reset-password`).
    pub const PASSWORD_RESET: &str = "auth.password_reset";
    /// A change of the console language.
    pub const LANGUAGE: &str = "auth.language";
    /// A state-changing request refused for a missing or wrong CSRF token.
    pub const CSRF_REFUSED: &str = "http.csrf";
    /// A request refused because its API token lacks the scope the route needs.
    pub const SCOPE_REFUSED: &str = "http.scope";
    /// An API token created.
    pub const TOKEN_CREATE: &str = "token.create";
    /// An API token revoked.
    pub const TOKEN_REVOKE: &str = "token.revoke";
}

/// Most entries one query returns.
pub const MAX_PAGE: usize = 500;
/// Entries one query returns unless asked otherwise.
pub const DEFAULT_PAGE: usize = 50;
/// Most entries one query examines; past that it returns what it found and a cursor.
pub const SCAN_LIMIT: usize = 20_000;

/// The outcome of an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum AuditResult {
    /// It was done.
    Ok,
    /// It was tried and failed (wrong password, backend error).
    Failed,
    /// It was refused before being tried (locked address, registration closed, CSRF).
    Denied,
}

impl AuditResult {
    /// `ok`, `failed` or `denied`.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditResult::Ok => "ok",
            AuditResult::Failed => "failed",
            AuditResult::Denied => "denied",
        }
    }
}

impl FromStr for AuditResult {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "ok" => Ok(AuditResult::Ok),
            "failed" => Ok(AuditResult::Failed),
            "denied" => Ok(AuditResult::Denied),
            _ => Err(()),
        }
    }
}

/// One operation, as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// When, Unix milliseconds.
    pub at_ms: u64,
    /// Who: the signed-in user, or the name tried at a failed login (may be empty).
    pub user: String,
    /// What, e.g. `auth.login` (see [`actions`]).
    pub action: String,
    /// What it was done to (a user, a node, a container), may be empty.
    pub target: String,
    /// The client address (see `auth::client`).
    pub client: String,
    /// The outcome.
    pub result: AuditResult,
    /// Why it failed or was denied, or other detail; may be empty.
    #[serde(default)]
    pub detail: String,
    /// The credential other than a console session `user` acted through, e.g.
    /// `token:0123456789abcdef (ci)` for an API token; empty for a session.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub via: String,
}

impl AuditEntry {
    /// An entry by `user` from `client`, stamped when it is written (`at_ms` 0).
    pub fn new(
        user: &str,
        action: &str,
        target: &str,
        client: impl fmt::Display,
        result: AuditResult,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            at_ms: 0,
            user: user.to_owned(),
            action: action.to_owned(),
            target: target.to_owned(),
            client: client.to_string(),
            result,
            detail: detail.into(),
            via: String::new(),
        }
    }

    /// The entry, attributed to the credential `via` (see [`AuditEntry::via`]).
    pub fn via(mut self, via: impl Into<String>) -> Self {
        self.via = via.into();
        self
    }
}

/// A time-ordered unique id: `at_ms << 64 | sequence`. Printed as 32 hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AuditId(pub u128);

impl AuditId {
    /// The id of the `seq`-th entry written at `at_ms`.
    pub fn new(at_ms: u64, seq: u64) -> Self {
        Self((u128::from(at_ms) << 64) | u128::from(seq))
    }

    /// The time part.
    pub fn at_ms(self) -> u64 {
        u64::try_from(self.0 >> 64).unwrap_or(u64::MAX)
    }

    /// The 16-byte big-endian store key (sorts by time, then sequence).
    pub fn to_key(self) -> [u8; 16] {
        self.0.to_be_bytes()
    }

    /// Decodes a store key.
    pub fn from_key(key: &[u8]) -> Option<Self> {
        Some(Self(u128::from_be_bytes(key.try_into().ok()?)))
    }
}

impl fmt::Display for AuditId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}

impl FromStr for AuditId {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        if s.len() != 32 {
            return Err(());
        }
        u128::from_str_radix(s, 16).map(AuditId).map_err(|_| ())
    }
}

/// An entry with its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    /// Its id.
    pub id: AuditId,
    /// The entry.
    pub entry: AuditEntry,
}

/// Filters and paging of an audit query. Entries come newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditQuery {
    /// Only this user (exact).
    pub user: Option<String>,
    /// Only this action, or a family: `auth` matches `auth.login`, `auth.logout`...
    pub action: Option<String>,
    /// Only this outcome.
    pub result: Option<AuditResult>,
    /// Only entries at or after this time (Unix ms).
    pub since_ms: Option<u64>,
    /// Only entries at or before this time (Unix ms).
    pub until_ms: Option<u64>,
    /// Only entries older than this id (the `next` cursor of the previous page).
    pub before: Option<AuditId>,
    /// Page size, 1..=[`MAX_PAGE`].
    pub limit: usize,
}

impl Default for AuditQuery {
    fn default() -> Self {
        Self {
            user: None,
            action: None,
            result: None,
            since_ms: None,
            until_ms: None,
            before: None,
            limit: DEFAULT_PAGE,
        }
    }
}

impl AuditQuery {
    /// Whether `entry` passes the user, action and result filters (time bounds are applied
    /// by the range the store scans).
    pub fn matches(&self, entry: &AuditEntry) -> bool {
        let user_ok = self.user.as_ref().is_none_or(|u| *u == entry.user);
        let action_ok = self.action.as_ref().is_none_or(|a| {
            entry.action == *a
                || (entry.action.starts_with(a.as_str())
                    && entry.action.as_bytes().get(a.len()) == Some(&b'.'))
        });
        let result_ok = self.result.is_none_or(|r| r == entry.result);
        user_ok && action_ok && result_ok
    }

    /// Smallest id in range (inclusive).
    pub fn lower_bound(&self) -> AuditId {
        AuditId::new(self.since_ms.unwrap_or(0), 0)
    }

    /// Largest id in range (inclusive), or `None` when the range is empty.
    pub fn upper_bound(&self) -> Option<AuditId> {
        let until = AuditId::new(self.until_ms.unwrap_or(u64::MAX), u64::MAX);
        let upper = match self.before {
            Some(before) => until.min(AuditId(before.0.checked_sub(1)?)),
            None => until,
        };
        (upper >= self.lower_bound()).then_some(upper)
    }
}

/// One page of results.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuditPage {
    /// Matching entries, newest first.
    pub entries: Vec<AuditRecord>,
    /// Pass as `before` to continue, when more may exist.
    pub next: Option<AuditId>,
}

/// How the master's audit writes have gone since it started: a write that fails is logged
/// and counted here (the operation it describes has already happened), so that the health
/// check and monitoring can see that the audit trail has gaps.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AuditWriteHealth {
    /// Audit entries that could not be written since the master started.
    pub write_failures: u64,
    /// The last write failure's message (bounded), if any.
    pub last_error: Option<String>,
    /// When the last write failed, Unix ms.
    pub last_failure_at_ms: Option<u64>,
    /// Whether audit writes count as failing now: the last write failed, or one failed
    /// within the last [`AUDIT_DEGRADED_FOR_MS`].
    pub degraded: bool,
}

/// How long after an audit write failure the audit log still counts as degraded, even when
/// later writes succeed (a failure at the map limit comes and goes with pruning), ms.
pub const AUDIT_DEGRADED_FOR_MS: u64 = 15 * 60 * 1000;

/// Builds a page from `scan`, the entries in `[lower_bound, upper_bound]` newest first.
/// Stops at `limit` matches or after [`SCAN_LIMIT`] entries examined.
pub fn collect_page<I>(query: &AuditQuery, scan: I) -> Result<AuditPage, StoreFailure>
where
    I: IntoIterator<Item = Result<AuditRecord, StoreFailure>>,
{
    let limit = query.limit.clamp(1, MAX_PAGE);
    let mut page = AuditPage::default();
    for (examined, item) in scan.into_iter().enumerate() {
        let record = item?;
        if examined >= SCAN_LIMIT {
            // More may exist; continue from just above the first one not examined.
            page.next = Some(AuditId(record.id.0.saturating_add(1)));
            return Ok(page);
        }
        if page.entries.len() == limit {
            page.next = page.entries.last().map(|r| r.id);
            return Ok(page);
        }
        if query.matches(&record.entry) {
            page.entries.push(record);
        }
    }
    Ok(page)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(at_ms: u64, user: &str, action: &str, result: AuditResult) -> AuditEntry {
        AuditEntry {
            at_ms,
            user: user.into(),
            action: action.into(),
            target: String::new(),
            client: "127.0.0.1".into(),
            result,
            detail: String::new(),
            via: String::new(),
        }
    }

    #[test]
    fn ids_order_by_time_then_sequence_and_round_trip() {
        let a = AuditId::new(1_000, 7);
        let b = AuditId::new(1_000, 8);
        let c = AuditId::new(1_001, 0);
        assert!(a < b && b < c);
        assert!(a.to_key() < b.to_key() && b.to_key() < c.to_key());
        assert_eq!(AuditId::from_key(&c.to_key()), Some(c));
        assert_eq!(a.at_ms(), 1_000);
        assert_eq!(a.to_string().parse::<AuditId>(), Ok(a));
        assert_eq!(a.to_string().len(), 32);
        assert!("xyz".parse::<AuditId>().is_err());
    }

    #[test]
    fn filters() {
        let q = AuditQuery {
            action: Some("auth".into()),
            ..AuditQuery::default()
        };
        assert!(q.matches(&entry(1, "a", "auth.login", AuditResult::Ok)));
        assert!(!q.matches(&entry(1, "a", "authx.login", AuditResult::Ok)));
        assert!(!q.matches(&entry(1, "a", "docker.pull", AuditResult::Ok)));
        let q = AuditQuery {
            user: Some("a".into()),
            result: Some(AuditResult::Failed),
            ..AuditQuery::default()
        };
        assert!(q.matches(&entry(1, "a", "x", AuditResult::Failed)));
        assert!(!q.matches(&entry(1, "b", "x", AuditResult::Failed)));
        assert!(!q.matches(&entry(1, "a", "x", AuditResult::Ok)));
    }

    #[test]
    fn bounds_and_paging() {
        let q = AuditQuery {
            since_ms: Some(10),
            until_ms: Some(20),
            before: Some(AuditId::new(15, 0)),
            ..AuditQuery::default()
        };
        assert_eq!(q.lower_bound(), AuditId::new(10, 0));
        assert_eq!(q.upper_bound(), Some(AuditId::new(14, u64::MAX)));
        let empty = AuditQuery {
            before: Some(AuditId::new(10, 0)),
            since_ms: Some(10),
            ..AuditQuery::default()
        };
        assert_eq!(empty.upper_bound(), None);

        let records: Vec<AuditRecord> = (0..5u64)
            .rev()
            .map(|i| AuditRecord {
                id: AuditId::new(i, 0),
                entry: entry(i, "a", "x", AuditResult::Ok),
            })
            .collect();
        let q = AuditQuery {
            limit: 2,
            ..AuditQuery::default()
        };
        let page = collect_page(&q, records.iter().cloned().map(Ok)).unwrap();
        assert_eq!(page.entries.len(), 2);
        assert_eq!(page.entries[0].id, AuditId::new(4, 0));
        assert_eq!(page.next, Some(AuditId::new(3, 0)));
        let page = collect_page(&q, records.into_iter().skip(4).map(Ok)).unwrap();
        assert_eq!((page.entries.len(), page.next), (1, None));
    }
}
