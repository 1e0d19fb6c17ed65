//! The console's accounts, sessions and audit log in the `data` environment: the
//! [`crate::accounts::AuthStore`] implementation of [`LmdbStore`]. The layout is in [`super::schema`]
//! (`console_users`, `console_sessions`, `audit`, and two `meta` keys).
//!
//! The audit log is bounded: every append also removes the oldest entries beyond the
//! store's `AuditLimits` (count, bytes of its pages in the map, age), in the same
//! transaction, so audited requests can never fill the map that cluster data shares.
//!
//! Registration closes by writing `meta/console_registered` in the transaction that creates
//! the first user; nothing ever removes that key, so deleting accounts (by a data reset or
//! by hand) cannot reopen registration. Audit ids take their sequence number from
//! `meta/next_audit_seq` in the appending transaction, so they are unique across restarts.

use std::ops::Bound::{Excluded, Included, Unbounded};

use crate::accounts::AuthStore;
use crate::accounts::audit::MAX_AUDIT_ENTRY_BYTES;
use crate::accounts::store::entry_too_large;
use heed::types::Bytes;
use heed::{CommitToken, Database, DatabaseOpener, DatabaseStat, OnCommit, RwTxn, WithoutTls};
use model::StoreFailure;
use model::account::{SessionRecord, UserRecord};
use model::audit::{AuditEntry, AuditId, AuditPage, AuditQuery, AuditRecord, collect_page};
use model::token::ApiTokenRecord;

use super::StoreError;
use super::lmdb::{LmdbStore, decode, encode};
use super::schema;

/// The console's databases.
pub(crate) struct ConsoleDbs<'e> {
    users: Database<'e, Bytes, Bytes>,
    sessions: Database<'e, Bytes, Bytes>,
    audit: Database<'e, Bytes, Bytes>,
}

impl<'e> ConsoleDbs<'e> {
    /// Creates (or opens) the databases inside the store's opening transaction.
    pub(crate) fn create(
        o: &DatabaseOpener<'e, WithoutTls>,
        w: &mut RwTxn<'e>,
    ) -> Result<Self, StoreError> {
        Ok(Self {
            users: o.create_database(w, Some(schema::CONSOLE_USERS_DB))?,
            sessions: o.create_database(w, Some(schema::CONSOLE_SESSIONS_DB))?,
            audit: o.create_database(w, Some(schema::AUDIT_DB))?,
        })
    }
}

impl OnCommit for ConsoleDbs<'_> {
    type Committed = ConsoleDbs<'static>;

    fn on_commit(self, token: &CommitToken) -> ConsoleDbs<'static> {
        ConsoleDbs {
            users: self.users.on_commit(token),
            sessions: self.sessions.on_commit(token),
            audit: self.audit.on_commit(token),
        }
    }
}

/// Deletes the `count` oldest entries of `db` (its lowest keys); returns how many went.
fn delete_oldest(
    wtxn: &mut RwTxn<'_>,
    db: &Database<'_, Bytes, Bytes>,
    count: u64,
) -> Result<u64, StoreError> {
    let skip = usize::try_from(count).unwrap_or(usize::MAX);
    let first_kept = db
        .iter(wtxn)?
        .nth(skip)
        .transpose()?
        .map(|(k, _)| k.to_vec());
    let removed = match first_kept {
        Some(k) => db.delete_range(wtxn, &(Unbounded, Excluded(k.as_slice())))?,
        None => {
            let all = db.len(wtxn)?;
            db.clear(wtxn)?;
            usize::try_from(all).unwrap_or(usize::MAX)
        }
    };
    Ok(removed as u64)
}

fn fail(e: impl Into<StoreError>) -> StoreFailure {
    StoreFailure(e.into().to_string())
}

fn read_u64(raw: Option<&[u8]>, key: &str) -> Result<Option<u64>, StoreError> {
    raw.map(|b| {
        schema::decode_node_id(b).ok_or_else(|| StoreError::Corrupt {
            key: format!("{}/{key}", schema::META_DB),
            reason: format!("expected 8 bytes, found {}", b.len()),
        })
    })
    .transpose()
}

/// Bytes the pages of `stat`'s database occupy in the map.
fn db_bytes(stat: &DatabaseStat) -> u64 {
    let pages = stat.branch_pages + stat.leaf_pages + stat.overflow_pages;
    (pages as u64).saturating_mul(u64::from(stat.page_size))
}

impl LmdbStore {
    /// Applies the audit limits inside the appending transaction, the newest entry being
    /// at `newest_ms`: entries older than the age bound go, then the oldest beyond
    /// `max_entries`, then, when the audit database's pages exceed `max_bytes`, the oldest
    /// until they are under the low-water mark. Returns how many entries went.
    fn enforce_audit_limits(
        &self,
        wtxn: &mut RwTxn<'_>,
        newest_ms: u64,
    ) -> Result<u64, StoreError> {
        let limits = &self.audit_limits;
        let audit = &self.console.audit;
        let mut removed = 0u64;
        if let Some(from) = limits.keep_from_ms(newest_ms) {
            let bound = AuditId::new(from, 0).to_key();
            removed += audit.delete_range(wtxn, &(Unbounded, Excluded(bound.as_slice())))? as u64;
        }
        let entries = audit.len(wtxn)?;
        if entries > limits.max_entries {
            removed += delete_oldest(wtxn, audit, entries - limits.max_entries)?;
        }
        let mut stat = audit.stat(wtxn)?;
        if db_bytes(&stat) <= limits.max_bytes {
            return Ok(removed);
        }
        let target = limits.low_water_bytes();
        while stat.entries > 0 && db_bytes(&stat) > target {
            // Entries are about the same size: remove the share of them that is over the
            // target (at least one), then measure again.
            let bytes = db_bytes(&stat);
            let share =
                (stat.entries as u128 * u128::from(bytes - target)).div_ceil(u128::from(bytes));
            let count = u64::try_from(share).unwrap_or(u64::MAX).max(1);
            removed += delete_oldest(wtxn, audit, count)?;
            stat = audit.stat(wtxn)?;
        }
        Ok(removed)
    }

    fn read_session(&self, raw: &[u8], id: &[u8]) -> Result<SessionRecord, StoreError> {
        decode(raw, || {
            format!(
                "{}/{}",
                schema::CONSOLE_SESSIONS_DB,
                String::from_utf8_lossy(id)
            )
        })
    }

    /// Deletes the sessions `doomed` picks (and unreadable ones); returns how many.
    fn delete_sessions_where(
        &self,
        doomed: impl Fn(&SessionRecord) -> bool,
    ) -> Result<u64, StoreError> {
        let mut wtxn = self.data.write_txn()?;
        let mut victims = Vec::new();
        for entry in self.console.sessions.iter(&wtxn)? {
            let (key, raw) = entry?;
            match self.read_session(raw, key) {
                Ok(s) if !doomed(&s) => {}
                _ => victims.push(key.to_vec()),
            }
        }
        for key in &victims {
            self.console.sessions.delete(&mut wtxn, key)?;
        }
        wtxn.commit()?;
        Ok(victims.len() as u64)
    }
}

impl AuthStore for LmdbStore {
    fn registration_closed(&self) -> Result<bool, StoreFailure> {
        let rtxn = self.data.read_txn().map_err(fail)?;
        let flag = self
            .meta
            .get(&rtxn, schema::CONSOLE_REGISTERED_KEY)
            .map_err(fail)?;
        Ok(flag.is_some())
    }

    fn register_first_user(&self, user: &UserRecord) -> Result<bool, StoreFailure> {
        let json = encode(user, "console user").map_err(fail)?;
        let mut wtxn = self.data.write_txn().map_err(fail)?;
        if self
            .meta
            .get(&wtxn, schema::CONSOLE_REGISTERED_KEY)
            .map_err(fail)?
            .is_some()
        {
            return Ok(false);
        }
        self.console
            .users
            .put(&mut wtxn, user.username.as_bytes(), &json)
            .map_err(fail)?;
        self.meta
            .put(
                &mut wtxn,
                schema::CONSOLE_REGISTERED_KEY,
                &user.created_at_ms.to_be_bytes(),
            )
            .map_err(fail)?;
        wtxn.commit().map_err(fail)?;
        Ok(true)
    }

    fn user(&self, username: &str) -> Result<Option<UserRecord>, StoreFailure> {
        let rtxn = self.data.read_txn().map_err(fail)?;
        self.console
            .users
            .get(&rtxn, username.as_bytes())
            .map_err(fail)?
            .map(|raw| decode(raw, || format!("{}/{username}", schema::CONSOLE_USERS_DB)))
            .transpose()
            .map_err(fail)
    }

    fn update_user(&self, user: &UserRecord) -> Result<bool, StoreFailure> {
        let json = encode(user, "console user").map_err(fail)?;
        let key = user.username.as_bytes();
        let mut wtxn = self.data.write_txn().map_err(fail)?;
        if self.console.users.get(&wtxn, key).map_err(fail)?.is_none() {
            return Ok(false);
        }
        self.console
            .users
            .put(&mut wtxn, key, &json)
            .map_err(fail)?;
        wtxn.commit().map_err(fail)?;
        Ok(true)
    }

    fn put_session(&self, session: &SessionRecord) -> Result<(), StoreFailure> {
        let json = encode(session, "console session").map_err(fail)?;
        let mut wtxn = self.data.write_txn().map_err(fail)?;
        self.console
            .sessions
            .put(&mut wtxn, session.id.as_bytes(), &json)
            .map_err(fail)?;
        wtxn.commit().map_err(fail)
    }

    fn session(&self, id: &str) -> Result<Option<SessionRecord>, StoreFailure> {
        let rtxn = self.data.read_txn().map_err(fail)?;
        self.console
            .sessions
            .get(&rtxn, id.as_bytes())
            .map_err(fail)?
            .map(|raw| self.read_session(raw, id.as_bytes()))
            .transpose()
            .map_err(fail)
    }

    fn delete_session(&self, id: &str) -> Result<bool, StoreFailure> {
        let mut wtxn = self.data.write_txn().map_err(fail)?;
        let deleted = self
            .console
            .sessions
            .delete(&mut wtxn, id.as_bytes())
            .map_err(fail)?;
        wtxn.commit().map_err(fail)?;
        Ok(deleted)
    }

    fn delete_sessions_of(&self, username: &str) -> Result<u64, StoreFailure> {
        self.delete_sessions_where(|s| s.username == username)
            .map_err(fail)
    }

    fn prune_sessions(&self, now_ms: u64) -> Result<u64, StoreFailure> {
        self.delete_sessions_where(|s| s.expires_at_ms <= now_ms)
            .map_err(fail)
    }

    fn prune_audit(&self, older_than_ms: u64) -> Result<u64, StoreFailure> {
        let bound = AuditId::new(older_than_ms, 0).to_key();
        let mut wtxn = self.data.write_txn().map_err(fail)?;
        let removed = self
            .console
            .audit
            .delete_range(&mut wtxn, &(Unbounded, Excluded(bound.as_slice())))
            .map_err(fail)?;
        wtxn.commit().map_err(fail)?;
        Ok(removed as u64)
    }

    fn append_audit(&self, entry: &AuditEntry) -> Result<AuditId, StoreFailure> {
        let json = encode(entry, "audit entry").map_err(fail)?;
        if json.len() > MAX_AUDIT_ENTRY_BYTES {
            return Err(entry_too_large(json.len()));
        }
        let mut wtxn = self.data.write_txn().map_err(fail)?;
        let seq = read_u64(
            self.meta
                .get(&wtxn, schema::NEXT_AUDIT_SEQ_KEY)
                .map_err(fail)?,
            schema::NEXT_AUDIT_SEQ_KEY,
        )
        .map_err(fail)?
        .unwrap_or(0);
        let id = AuditId::new(entry.at_ms, seq);
        self.console
            .audit
            .put(&mut wtxn, &id.to_key(), &json)
            .map_err(fail)?;
        self.meta
            .put(
                &mut wtxn,
                schema::NEXT_AUDIT_SEQ_KEY,
                &seq.wrapping_add(1).to_be_bytes(),
            )
            .map_err(fail)?;
        let removed = self
            .enforce_audit_limits(&mut wtxn, entry.at_ms)
            .map_err(fail)?;
        wtxn.commit().map_err(fail)?;
        if removed > 0 {
            tracing::debug!(removed, "audit log pruned to its limits");
        }
        Ok(id)
    }

    fn query_audit(&self, query: &AuditQuery) -> Result<AuditPage, StoreFailure> {
        let Some(upper) = query.upper_bound() else {
            return Ok(AuditPage::default());
        };
        let (lo, hi) = (query.lower_bound().to_key(), upper.to_key());
        let rtxn = self.data.read_txn().map_err(fail)?;
        let range = self
            .console
            .audit
            .rev_range(&rtxn, &(Included(lo.as_slice()), Included(hi.as_slice())))
            .map_err(fail)?;
        let scan = range.map(|item| {
            let (key, raw) = item.map_err(fail)?;
            let id = AuditId::from_key(key).ok_or_else(|| {
                StoreFailure(format!("{}: key of {} bytes", schema::AUDIT_DB, key.len()))
            })?;
            let entry = decode(raw, || format!("{}/{id}", schema::AUDIT_DB)).map_err(fail)?;
            Ok(AuditRecord { id, entry })
        });
        collect_page(query, scan)
    }

    fn insert_api_token(&self, record: &ApiTokenRecord, max: usize) -> Result<bool, StoreFailure> {
        self.api_tokens_insert(record, max).map_err(fail)
    }

    fn api_token(&self, id: &str) -> Result<Option<ApiTokenRecord>, StoreFailure> {
        self.api_tokens_get(id).map_err(fail)
    }

    fn api_tokens(&self) -> Result<Vec<ApiTokenRecord>, StoreFailure> {
        self.api_tokens_list().map_err(fail)
    }

    fn delete_api_token(&self, id: &str) -> Result<Option<ApiTokenRecord>, StoreFailure> {
        self.api_tokens_delete(id).map_err(fail)
    }

    fn touch_api_token(&self, id: &str, at_ms: u64) -> Result<bool, StoreFailure> {
        self.api_tokens_touch(id, at_ms).map_err(fail)
    }
}

#[cfg(test)]
mod tests;
