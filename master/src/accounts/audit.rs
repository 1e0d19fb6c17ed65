//! Bounds of the audit log and the record of failed audit writes.
//!
//! - [`AuditLimits`]: how much audit history a store keeps (`audit.maxEntries`,
//!   `audit.maxBytes`, `audit.maxAgeDays`). Stores apply them in the transaction that appends
//!   an entry, removing the oldest entries first, so a flood of audited requests can never
//!   fill the `data` environment that nodes, tokens, users, sessions and tasks share.
//! - [`AuditWrites`]: failed writes counted with the last error and its time, behind
//!   [`model::audit::AuditWriteHealth`] (the health check and the
//!   `commander_audit_write_failures_total` counter).

use std::sync::Mutex;

use model::audit::{AUDIT_DEGRADED_FOR_MS, AuditWriteHealth};

/// Default `audit.maxEntries`.
pub const DEFAULT_AUDIT_MAX_ENTRIES: u64 = 1_000_000;
/// Default `audit.maxBytes`: a quarter of the `data` environment's 1 GiB map.
pub const DEFAULT_AUDIT_MAX_BYTES: u64 = 256 * 1024 * 1024;
/// Smallest accepted `audit.maxBytes`.
pub const MIN_AUDIT_MAX_BYTES: u64 = 1024 * 1024;
/// Largest encoded audit entry a store accepts, bytes. Entries bounded by the accounts
/// service (`AUDITED_FIELD_CHARS`, `AUDITED_DETAIL_CHARS`) stay below it even when every
/// character needs a six-byte JSON escape.
pub const MAX_AUDIT_ENTRY_BYTES: usize = 16 * 1024;
/// Longest error message kept for [`AuditWriteHealth::last_error`], characters.
pub const LAST_ERROR_CHARS: usize = 256;

/// How much audit history a store keeps. When an append takes the log over a bound, the
/// oldest entries are removed in the same transaction: down to `max_entries`, and down to
/// 15/16 of `max_bytes` (so that pruning by size happens in batches, not at every append).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditLimits {
    /// Most entries kept (`audit.maxEntries`).
    pub max_entries: u64,
    /// Most bytes the audit database may occupy in the store (`audit.maxBytes`): its
    /// B-tree and overflow pages for LMDB, key and value bytes for the memory store.
    pub max_bytes: u64,
    /// Entries older than this before the newest one are removed (`audit.maxAgeDays`);
    /// `None` keeps entries whatever their age.
    pub max_age_ms: Option<u64>,
}

impl Default for AuditLimits {
    fn default() -> Self {
        Self {
            max_entries: DEFAULT_AUDIT_MAX_ENTRIES,
            max_bytes: DEFAULT_AUDIT_MAX_BYTES,
            max_age_ms: None,
        }
    }
}

impl AuditLimits {
    /// The size pruning aims for once `max_bytes` is exceeded.
    pub fn low_water_bytes(&self) -> u64 {
        self.max_bytes - self.max_bytes / 16
    }

    /// The oldest time kept when the newest entry is at `newest_ms` (`None`: no age bound).
    pub fn keep_from_ms(&self, newest_ms: u64) -> Option<u64> {
        self.max_age_ms.map(|age| newest_ms.saturating_sub(age))
    }
}

#[derive(Debug, Default)]
struct Writes {
    failures: u64,
    last_error: Option<String>,
    last_failure_at_ms: Option<u64>,
    last_write_failed: bool,
}

/// Counts audit writes that failed, with the last error and when; sans-io (times passed in).
#[derive(Debug, Default)]
pub struct AuditWrites {
    inner: Mutex<Writes>,
}

impl AuditWrites {
    fn lock(&self) -> std::sync::MutexGuard<'_, Writes> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A write succeeded (at `now_ms`).
    pub fn succeeded(&self, now_ms: u64) {
        let _ = now_ms;
        self.lock().last_write_failed = false;
    }

    /// A write failed at `now_ms` with `error`.
    pub fn failed(&self, now_ms: u64, error: &str) {
        let mut w = self.lock();
        w.failures = w.failures.saturating_add(1);
        w.last_error = Some(error.chars().take(LAST_ERROR_CHARS).collect());
        w.last_failure_at_ms = Some(now_ms);
        w.last_write_failed = true;
    }

    /// The state at `now_ms`: degraded while the last write failed and for
    /// [`AUDIT_DEGRADED_FOR_MS`] after any failure.
    pub fn health(&self, now_ms: u64) -> AuditWriteHealth {
        let w = self.lock();
        let recent = w
            .last_failure_at_ms
            .is_some_and(|failed| now_ms.saturating_sub(failed) < AUDIT_DEGRADED_FOR_MS);
        let degraded = w.last_write_failed || recent;
        AuditWriteHealth {
            write_failures: w.failures,
            last_error: w.last_error.clone(),
            last_failure_at_ms: w.last_failure_at_ms,
            degraded,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_counted_and_degrade_for_a_while() {
        let writes = AuditWrites::default();
        assert_eq!(writes.health(0), AuditWriteHealth::default());
        writes.succeeded(1_000);
        assert!(!writes.health(1_000).degraded);

        writes.failed(2_000, &"x".repeat(1_000));
        let h = writes.health(2_000);
        assert!(h.degraded);
        assert_eq!(h.write_failures, 1);
        assert_eq!(h.last_failure_at_ms, Some(2_000));
        assert_eq!(h.last_error.map(|e| e.len()), Some(LAST_ERROR_CHARS));

        // A later success (even in the same millisecond): still degraded within the
        // window, healthy after it.
        writes.succeeded(2_000);
        assert!(writes.health(3_000).degraded);
        let later = 2_000 + AUDIT_DEGRADED_FOR_MS;
        let h = writes.health(later);
        assert!(!h.degraded);
        assert_eq!(h.write_failures, 1, "the counter never goes down");

        // The last write failed: degraded however long ago.
        writes.failed(later + 1, "MDB_MAP_FULL");
        assert!(writes.health(later + 10 * AUDIT_DEGRADED_FOR_MS).degraded);
    }

    /// The memory store applies the same bounds as the LMDB one (see `store::console`).
    #[test]
    fn memory_store_keeps_the_newest_entries_within_its_limits() {
        use crate::accounts::{AuthStore, MemoryAuthStore};
        use model::audit::{AuditEntry, AuditQuery, AuditResult};

        let entry = |at_ms: u64| AuditEntry {
            at_ms,
            user: "admin".into(),
            action: "x.y".into(),
            target: String::new(),
            client: "127.0.0.1".into(),
            result: AuditResult::Ok,
            detail: "d".repeat(900),
            via: String::new(),
        };
        let by_count = MemoryAuthStore::with_audit_limits(AuditLimits {
            max_entries: 10,
            ..AuditLimits::default()
        });
        let by_size = MemoryAuthStore::with_audit_limits(AuditLimits {
            max_bytes: 100 * 1024,
            ..AuditLimits::default()
        });
        for at in 0..1_000 {
            by_count.append_audit(&entry(at)).unwrap();
            by_size.append_audit(&entry(at)).unwrap();
        }
        let all = AuditQuery {
            limit: model::audit::MAX_PAGE,
            ..AuditQuery::default()
        };
        let times = |s: &MemoryAuthStore| -> Vec<u64> {
            let page = s.query_audit(&all).unwrap();
            page.entries.iter().map(|r| r.entry.at_ms).collect()
        };
        assert_eq!(times(&by_count), (990..1_000).rev().collect::<Vec<_>>());
        let kept = times(&by_size);
        // About 1 KiB each: between the low-water mark and the cap, the newest, no gap.
        assert!((90..=100).contains(&kept.len()), "{}", kept.len());
        assert_eq!(
            kept,
            (1_000 - kept.len() as u64..1_000).rev().collect::<Vec<_>>()
        );
    }

    #[test]
    fn limits_default_and_low_water() {
        let l = AuditLimits::default();
        assert_eq!(l.max_entries, 1_000_000);
        assert_eq!(l.low_water_bytes(), DEFAULT_AUDIT_MAX_BYTES / 16 * 15);
        assert_eq!(l.keep_from_ms(5), None);
        let aged = AuditLimits {
            max_age_ms: Some(10),
            ..l
        };
        assert_eq!(aged.keep_from_ms(100), Some(90));
        assert_eq!(aged.keep_from_ms(5), Some(0));
    }
}
