//! Data management: the master's two databases, compaction, backups and resets. The
//! rules (one data operation at a time, an audit entry for each, no reset of user
//! accounts) are kept by the master behind [`crate::service::DataAdmin`].

use serde::{Deserialize, Serialize};

/// Audit action of a compaction.
pub const ACTION_COMPACT: &str = "data.compact";
/// Audit action of cancelling a scheduled compaction.
pub const ACTION_COMPACT_CANCEL: &str = "data.compact_cancel";
/// Audit action of a backup download.
pub const ACTION_BACKUP: &str = "data.backup";
/// Audit action of a reset.
pub const ACTION_RESET: &str = "data.reset";
/// Largest `older_than_days`.
pub const MAX_DAYS: u32 = 36_500;
const DAY_MS: u64 = 86_400_000;

/// One of the master's two databases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum DataEnv {
    /// Cluster records, accounts, sessions, audit log.
    Data,
    /// Metric samples.
    Performance,
}

impl DataEnv {
    /// `data` or `performance`.
    pub fn name(self) -> &'static str {
        match self {
            DataEnv::Data => "data",
            DataEnv::Performance => "performance",
        }
    }

    /// Parses `data` or `performance`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "data" => Some(DataEnv::Data),
            "performance" => Some(DataEnv::Performance),
            _ => None,
        }
    }
}

/// A consistent copy of a database, open and already unlinked.
#[derive(Debug)]
pub struct BackupFile {
    /// The copy, positioned at its start.
    pub file: std::fs::File,
    /// Its length in bytes.
    pub len: u64,
}

/// Sizes before and after compacting one database.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CompactedEnv {
    /// Which database.
    pub env: DataEnv,
    /// Size of the live file, bytes.
    pub live_bytes: u64,
    /// Size of a compacted copy, bytes.
    pub compacted_bytes: u64,
    /// How long the copy took, ms.
    pub took_ms: u64,
}

/// What a compaction found.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CompactReport {
    /// One entry per database.
    pub envs: Vec<CompactedEnv>,
    /// Whether the compaction of the live files is now scheduled for the next start.
    pub scheduled: bool,
}

/// A compaction waiting for the master's next start.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ScheduledCompaction {
    /// When it was asked for, Unix ms.
    pub requested_at_ms: u64,
}

/// What compacting one database did.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EnvCompacted {
    /// `data` or `performance`.
    pub env: String,
    /// File size before, bytes.
    pub before_bytes: u64,
    /// File size after, bytes.
    pub after_bytes: u64,
    /// How long it took, ms.
    pub took_ms: u64,
}

/// The last compaction of the live files.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LastCompaction {
    /// When it ended, Unix ms.
    pub finished_at_ms: u64,
    /// The databases it compacted.
    pub envs: Vec<EnvCompacted>,
    /// Why it stopped, if it failed (the files it did not finish are unchanged).
    pub error: Option<String>,
}

/// Whether a compaction is scheduled, and how the last one went.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CompactionStatus {
    /// The scheduled compaction, if any.
    pub scheduled: Option<ScheduledCompaction>,
    /// The last one, if any ran.
    pub last: Option<LastCompaction>,
}

/// What a reset may delete. There is deliberately no category for user accounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ResetCategory {
    /// Metric samples of every node.
    Samples,
    /// Audit log entries.
    Audit,
}

impl ResetCategory {
    /// `samples` or `audit`.
    pub fn name(self) -> &'static str {
        match self {
            ResetCategory::Samples => "samples",
            ResetCategory::Audit => "audit",
        }
    }

    /// Parses a category; user accounts are refused with their own message.
    pub fn parse(text: &str) -> Result<Self, crate::Invalid> {
        match text.trim() {
            "samples" => Ok(ResetCategory::Samples),
            "audit" => Ok(ResetCategory::Audit),
            "users" | "accounts" | "user" => Err(crate::Invalid::new(
                "category",
                "user accounts are never reset from the console",
            )),
            other => Err(crate::Invalid::new(
                "category",
                format!("unknown category {other:?}: use \"samples\" or \"audit\""),
            )),
        }
    }
}

/// Parses the day count of a reset.
pub fn parse_days(text: &str) -> Result<u32, crate::Invalid> {
    text.trim()
        .parse::<u32>()
        .ok()
        .filter(|d| *d <= MAX_DAYS)
        .ok_or_else(|| {
            crate::Invalid::new(
                "older_than_days",
                format!("older_than_days must be a whole number from 0 to {MAX_DAYS}"),
            )
        })
}

/// The cutoff of a reset, Unix ms: entries before it are deleted.
pub fn cutoff_ms(now_ms: u64, days: u32) -> u64 {
    now_ms.saturating_sub(u64::from(days) * DAY_MS)
}
