//! Persistence of console accounts, sessions and the audit log: the [`AuthStore`] trait,
//! which the master implements on its LMDB store, and [`MemoryAuthStore`] for tests.
//!
//! Methods are synchronous and may block on disk; the web layer calls them through
//! `spawn_blocking`. Every write is durable when the method returns `Ok`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

use model::StoreFailure;
use model::account::{SessionRecord, UserRecord};
use model::audit::{AuditEntry, AuditId, AuditPage, AuditQuery, AuditRecord, collect_page};
use model::token::ApiTokenRecord;

use super::audit::{AuditLimits, MAX_AUDIT_ENTRY_BYTES};

/// Bytes of an audit key (`AuditId`), counted with each entry's size.
const AUDIT_KEY_BYTES: u64 = 16;

/// The refusal of an entry whose encoding exceeds [`MAX_AUDIT_ENTRY_BYTES`].
pub fn entry_too_large(size: usize) -> StoreFailure {
    StoreFailure(format!(
        "the audit entry is {size} bytes, above the {MAX_AUDIT_ENTRY_BYTES}-byte limit"
    ))
}

/// Persistence of users, sessions and audit entries.
pub trait AuthStore: Send + Sync + 'static {
    /// Whether a first user was ever registered. Once true it stays true, even if the user
    /// records are later removed: registration can never be reopened.
    fn registration_closed(&self) -> Result<bool, StoreFailure>;

    /// Creates `user` and closes registration, in one transaction. `Ok(false)` (and nothing
    /// written) when registration was already closed.
    fn register_first_user(&self, user: &UserRecord) -> Result<bool, StoreFailure>;

    /// The user with this name.
    fn user(&self, username: &str) -> Result<Option<UserRecord>, StoreFailure>;

    /// Replaces an existing user; `Ok(false)` when there is no such user.
    fn update_user(&self, user: &UserRecord) -> Result<bool, StoreFailure>;

    /// Inserts or replaces a session.
    fn put_session(&self, session: &SessionRecord) -> Result<(), StoreFailure>;

    /// The session with this id.
    fn session(&self, id: &str) -> Result<Option<SessionRecord>, StoreFailure>;

    /// Removes a session; `Ok(false)` when it did not exist.
    fn delete_session(&self, id: &str) -> Result<bool, StoreFailure>;

    /// Removes every session of `username`; returns how many.
    fn delete_sessions_of(&self, username: &str) -> Result<u64, StoreFailure>;

    /// Removes sessions with `expires_at_ms <= now_ms`; returns how many.
    fn prune_sessions(&self, now_ms: u64) -> Result<u64, StoreFailure>;

    /// Removes audit entries written before `older_than_ms` (Unix ms); returns how many.
    /// User accounts, sessions and the registration flag are untouched.
    fn prune_audit(&self, older_than_ms: u64) -> Result<u64, StoreFailure>;

    /// Appends an audit entry under a fresh id (time `entry.at_ms`, next sequence number),
    /// then removes the oldest entries the store's [`AuditLimits`] no longer allow, in the
    /// same transaction. An entry whose encoding exceeds [`MAX_AUDIT_ENTRY_BYTES`] is
    /// refused.
    fn append_audit(&self, entry: &AuditEntry) -> Result<AuditId, StoreFailure>;

    /// Entries matching `query`, newest first (see `audit::collect_page`).
    fn query_audit(&self, query: &AuditQuery) -> Result<AuditPage, StoreFailure>;

    /// Stores a new API token, unless `max` tokens exist already (`Ok(false)`, nothing
    /// written). An id already taken is an error.
    fn insert_api_token(&self, record: &ApiTokenRecord, max: usize) -> Result<bool, StoreFailure>;

    /// The API token with this id.
    fn api_token(&self, id: &str) -> Result<Option<ApiTokenRecord>, StoreFailure>;

    /// Every API token, in id order.
    fn api_tokens(&self) -> Result<Vec<ApiTokenRecord>, StoreFailure>;

    /// Removes an API token; returns it, `None` when there was none.
    fn delete_api_token(&self, id: &str) -> Result<Option<ApiTokenRecord>, StoreFailure>;

    /// Sets the last use of an existing API token; `Ok(false)` (nothing written) when it
    /// is gone.
    fn touch_api_token(&self, id: &str, at_ms: u64) -> Result<bool, StoreFailure>;
}

#[derive(Debug, Default)]
struct Inner {
    registered: bool,
    users: BTreeMap<String, UserRecord>,
    sessions: BTreeMap<String, SessionRecord>,
    audit: BTreeMap<AuditId, (AuditEntry, u64)>,
    audit_bytes: u64,
    next_seq: u64,
    api_tokens: BTreeMap<String, ApiTokenRecord>,
}

impl Inner {
    /// Removes the entries before `bound`; returns how many.
    fn remove_audit_before(&mut self, bound: AuditId) -> u64 {
        let keep = self.audit.split_off(&bound);
        let gone = std::mem::replace(&mut self.audit, keep);
        self.audit_bytes -= gone.values().map(|(_, size)| size).sum::<u64>();
        gone.len() as u64
    }

    /// Removes the oldest entry; false when there is none.
    fn remove_oldest(&mut self) -> bool {
        match self.audit.pop_first() {
            Some((_, (_, size))) => {
                self.audit_bytes -= size;
                true
            }
            None => false,
        }
    }

    /// Applies `limits` after an append of an entry at `newest_ms`.
    fn enforce(&mut self, limits: &AuditLimits, newest_ms: u64) {
        if let Some(from) = limits.keep_from_ms(newest_ms) {
            self.remove_audit_before(AuditId::new(from, 0));
        }
        while self.audit.len() as u64 > limits.max_entries && self.remove_oldest() {}
        if self.audit_bytes > limits.max_bytes {
            while self.audit_bytes > limits.low_water_bytes() && self.remove_oldest() {}
        }
    }
}

/// An in-memory [`AuthStore`] with the same semantics as the master's LMDB one.
#[derive(Debug, Default)]
pub struct MemoryAuthStore {
    inner: Mutex<Inner>,
    limits: AuditLimits,
    fail_audit_writes: AtomicBool,
}

impl MemoryAuthStore {
    /// An empty store: registration open.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty store keeping at most `limits` of audit history (size counted as key plus
    /// JSON value bytes).
    pub fn with_audit_limits(limits: AuditLimits) -> Self {
        Self {
            limits,
            ..Self::default()
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Removes every user record, as a data reset might (tests: registration must stay
    /// closed).
    pub fn remove_all_users(&self) {
        self.lock().users.clear();
    }

    /// Makes every later audit append fail (`true`) or work again (`false`), as a full or
    /// broken store would (tests of the health check).
    pub fn fail_audit_writes(&self, fail: bool) {
        self.fail_audit_writes.store(fail, Ordering::Relaxed);
    }

    /// How many sessions are stored.
    pub fn session_count(&self) -> usize {
        self.lock().sessions.len()
    }
}

impl AuthStore for MemoryAuthStore {
    fn registration_closed(&self) -> Result<bool, StoreFailure> {
        Ok(self.lock().registered)
    }

    fn register_first_user(&self, user: &UserRecord) -> Result<bool, StoreFailure> {
        let mut inner = self.lock();
        if inner.registered {
            return Ok(false);
        }
        inner.registered = true;
        inner.users.insert(user.username.clone(), user.clone());
        Ok(true)
    }

    fn user(&self, username: &str) -> Result<Option<UserRecord>, StoreFailure> {
        Ok(self.lock().users.get(username).cloned())
    }

    fn update_user(&self, user: &UserRecord) -> Result<bool, StoreFailure> {
        let mut inner = self.lock();
        match inner.users.get_mut(&user.username) {
            Some(slot) => {
                *slot = user.clone();
                Ok(true)
            }
            None => Ok(false),
        }
    }

    fn put_session(&self, session: &SessionRecord) -> Result<(), StoreFailure> {
        self.lock()
            .sessions
            .insert(session.id.clone(), session.clone());
        Ok(())
    }

    fn session(&self, id: &str) -> Result<Option<SessionRecord>, StoreFailure> {
        Ok(self.lock().sessions.get(id).cloned())
    }

    fn delete_session(&self, id: &str) -> Result<bool, StoreFailure> {
        Ok(self.lock().sessions.remove(id).is_some())
    }

    fn delete_sessions_of(&self, username: &str) -> Result<u64, StoreFailure> {
        let mut inner = self.lock();
        let before = inner.sessions.len();
        inner.sessions.retain(|_, s| s.username != username);
        Ok((before - inner.sessions.len()) as u64)
    }

    fn prune_sessions(&self, now_ms: u64) -> Result<u64, StoreFailure> {
        let mut inner = self.lock();
        let before = inner.sessions.len();
        inner.sessions.retain(|_, s| s.expires_at_ms > now_ms);
        Ok((before - inner.sessions.len()) as u64)
    }

    fn prune_audit(&self, older_than_ms: u64) -> Result<u64, StoreFailure> {
        let mut inner = self.lock();
        Ok(inner.remove_audit_before(AuditId::new(older_than_ms, 0)))
    }

    fn append_audit(&self, entry: &AuditEntry) -> Result<AuditId, StoreFailure> {
        let size = serde_json::to_vec(entry)
            .map_err(|e| StoreFailure(format!("cannot encode the audit entry: {e}")))?
            .len();
        if size > MAX_AUDIT_ENTRY_BYTES {
            return Err(entry_too_large(size));
        }
        if self.fail_audit_writes.load(Ordering::Relaxed) {
            return Err(StoreFailure(
                "LMDB error: MDB_MAP_FULL (simulated by the test store)".into(),
            ));
        }
        let size = size as u64 + AUDIT_KEY_BYTES;
        let mut inner = self.lock();
        let id = AuditId::new(entry.at_ms, inner.next_seq);
        inner.next_seq = inner.next_seq.wrapping_add(1);
        inner.audit.insert(id, (entry.clone(), size));
        inner.audit_bytes += size;
        inner.enforce(&self.limits, entry.at_ms);
        Ok(id)
    }

    fn query_audit(&self, query: &AuditQuery) -> Result<AuditPage, StoreFailure> {
        let Some(upper) = query.upper_bound() else {
            return Ok(AuditPage::default());
        };
        let inner = self.lock();
        let scan = inner
            .audit
            .range(query.lower_bound()..=upper)
            .rev()
            .map(|(id, (entry, _))| {
                Ok(AuditRecord {
                    id: *id,
                    entry: entry.clone(),
                })
            });
        collect_page(query, scan)
    }

    fn insert_api_token(&self, record: &ApiTokenRecord, max: usize) -> Result<bool, StoreFailure> {
        let mut inner = self.lock();
        if inner.api_tokens.len() >= max {
            return Ok(false);
        }
        if inner.api_tokens.contains_key(&record.token.id) {
            return Err(StoreFailure("API token id already taken".into()));
        }
        inner
            .api_tokens
            .insert(record.token.id.clone(), record.clone());
        Ok(true)
    }

    fn api_token(&self, id: &str) -> Result<Option<ApiTokenRecord>, StoreFailure> {
        Ok(self.lock().api_tokens.get(id).cloned())
    }

    fn api_tokens(&self) -> Result<Vec<ApiTokenRecord>, StoreFailure> {
        Ok(self.lock().api_tokens.values().cloned().collect())
    }

    fn delete_api_token(&self, id: &str) -> Result<Option<ApiTokenRecord>, StoreFailure> {
        Ok(self.lock().api_tokens.remove(id))
    }

    fn touch_api_token(&self, id: &str, at_ms: u64) -> Result<bool, StoreFailure> {
        Ok(match self.lock().api_tokens.get_mut(id) {
            Some(record) => {
                record.token.last_used_at_ms = Some(at_ms);
                true
            }
            None => false,
        })
    }
}
