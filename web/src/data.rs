//! Data management: database sizes, compaction, backups and resets, as JSON API calls and as
//! the operations behind the Data page (`data_page`).
//!
//! - `POST /api/v1/data/compact` writes a compacted copy of each database next to it (LMDB
//!   `mdb_env_copy2` with compaction, inside one read transaction, so it is safe while the
//!   master runs), measures it, removes it, schedules the real compaction for the master's
//!   next start and answers the sizes. A running master cannot shrink its live files (they
//!   are memory-mapped by every thread); LMDB reuses freed pages, so they stop growing.
//!   `GET /api/v1/data/compact` tells whether one is scheduled and how the last one went;
//!   `DELETE /api/v1/data/compact` cancels the scheduled one. See `docs/ARCHITECTURE.md`.
//! - `GET /api/v1/data/backup?env=data|performance` streams a consistent copy of one
//!   database (a valid LMDB data file; restore it as `data.mdb` of an empty directory).
//! - `POST /api/v1/data/reset` with `{"category", "older_than_days", "confirm": true}`
//!   deletes metric samples or audit entries older than that. User accounts are not a
//!   category: they are never reset from the console.
//!
//! Every operation is written to the audit log, failed or not.

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use tokio::io::AsyncReadExt;

use crate::api::{ApiError, ApiJson, bad_query};
use crate::audit::AuditResult;
use crate::auth::AuthContext;
use crate::backend::{Backend, BackendError};
use crate::state::AppState;

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
/// Bytes read from a backup file per chunk.
const CHUNK: usize = 64 * 1024;
const DAY_MS: u64 = 86_400_000;

/// One of the master's two databases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
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
pub struct CompactReport {
    /// One entry per database.
    pub envs: Vec<CompactedEnv>,
    /// Whether the compaction of the live files is now scheduled for the next start.
    pub scheduled: bool,
}

/// A compaction waiting for the master's next start.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ScheduledCompaction {
    /// When it was asked for, Unix ms.
    pub requested_at_ms: u64,
}

/// What compacting one database did.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
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
pub struct CompactionStatus {
    /// The scheduled compaction, if any.
    pub scheduled: Option<ScheduledCompaction>,
    /// The last one, if any ran.
    pub last: Option<LastCompaction>,
}

/// What a reset may delete. There is deliberately no category for user accounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
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
    pub fn parse(text: &str) -> Result<Self, String> {
        match text.trim() {
            "samples" => Ok(ResetCategory::Samples),
            "audit" => Ok(ResetCategory::Audit),
            "users" | "accounts" | "user" => {
                Err("user accounts are never reset from the console".into())
            }
            other => Err(format!(
                "unknown category {other:?}: use \"samples\" or \"audit\""
            )),
        }
    }
}

/// Parses the day count of a reset.
pub fn parse_days(text: &str) -> Result<u32, String> {
    text.trim()
        .parse::<u32>()
        .ok()
        .filter(|d| *d <= MAX_DAYS)
        .ok_or_else(|| format!("older_than_days must be a whole number from 0 to {MAX_DAYS}"))
}

/// The cutoff of a reset, Unix ms: entries before it are deleted.
pub fn cutoff_ms(now_ms: u64, days: u32) -> u64 {
    now_ms.saturating_sub(u64::from(days) * DAY_MS)
}

/// Why a reset did not happen.
#[derive(Debug)]
pub enum ResetError {
    /// The store failed.
    Backend(BackendError),
    /// The audit store failed.
    Audit(String),
}

impl ResetError {
    fn message(&self) -> String {
        match self {
            ResetError::Backend(e) => e.to_string(),
            ResetError::Audit(e) => format!("audit log: {e}"),
        }
    }
}

async fn audit<B: Backend>(
    state: &AppState<B>,
    ctx: &AuthContext,
    action: &str,
    target: &str,
    outcome: Result<String, String>,
) {
    let (result, detail) = match outcome {
        Ok(detail) => (AuditResult::Ok, detail),
        Err(e) => (AuditResult::Failed, e),
    };
    state
        .auth
        .record(ctx.event(action, target, result, &detail))
        .await;
}

/// Runs a compaction and audits it.
pub async fn run_compact<B: Backend>(
    state: &AppState<B>,
    ctx: &AuthContext,
) -> Result<CompactReport, BackendError> {
    let outcome = state.backend.compact().await;
    let detail = match &outcome {
        Ok(r) => Ok(r
            .envs
            .iter()
            .map(|e| {
                format!(
                    "{}: {} -> {} bytes",
                    e.env.name(),
                    e.live_bytes,
                    e.compacted_bytes
                )
            })
            .collect::<Vec<_>>()
            .join("; ")),
        Err(e) => Err(e.to_string()),
    };
    audit(state, ctx, ACTION_COMPACT, "", detail).await;
    outcome
}

/// Deletes one category older than `days` days and audits it; returns how many went.
pub async fn run_reset<B: Backend>(
    state: &AppState<B>,
    ctx: &AuthContext,
    category: ResetCategory,
    days: u32,
) -> Result<u64, ResetError> {
    let cutoff = cutoff_ms(state.auth.now_ms(), days);
    let outcome = match category {
        ResetCategory::Samples => state
            .backend
            .reset_samples(cutoff)
            .await
            .map_err(ResetError::Backend),
        ResetCategory::Audit => state
            .auth
            .blocking(move |s| s.prune_audit(cutoff))
            .await
            .map_err(|e| ResetError::Audit(e.0)),
    };
    let detail = match &outcome {
        Ok(n) => Ok(format!("older than {days} days: {n} removed")),
        Err(e) => Err(format!("older than {days} days: {}", e.message())),
    };
    audit(state, ctx, ACTION_RESET, category.name(), detail).await;
    outcome
}

/// The download name of a backup taken at `now_ms`: `commander-data-20240229T123456Z.mdb`.
pub fn backup_name(env: DataEnv, now_ms: u64) -> String {
    let stamp: String = crate::format::format_rfc3339_ms(now_ms)
        .unwrap_or_default()
        .chars()
        .take(19)
        .filter(|c| c.is_ascii_digit() || *c == 'T')
        .collect();
    format!("commander-{}-{stamp}Z.mdb", env.name())
}

fn file_body(file: std::fs::File) -> Body {
    let file = tokio::fs::File::from_std(file);
    let chunks = futures_lite::stream::unfold(Some(file), |state| async move {
        let mut file = state?;
        let mut buf = vec![0u8; CHUNK];
        match file.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(Bytes::from(buf)), Some(file)))
            }
            Err(e) => Some((Err(e), None)),
        }
    });
    Body::from_stream(chunks)
}

/// Takes a backup of `env`, audits it and answers it as a download.
pub async fn run_backup<B: Backend>(
    state: &AppState<B>,
    ctx: &AuthContext,
    env: DataEnv,
) -> Result<Response, BackendError> {
    let outcome = state.backend.backup(env).await;
    let detail = match &outcome {
        Ok(b) => Ok(format!("{} bytes", b.len)),
        Err(e) => Err(e.to_string()),
    };
    audit(state, ctx, ACTION_BACKUP, env.name(), detail).await;
    let backup = outcome?;
    let disposition = format!(
        "attachment; filename=\"{}\"",
        backup_name(env, state.auth.now_ms())
    );
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
            (header::CONTENT_LENGTH, backup.len.to_string()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        file_body(backup.file),
    )
        .into_response())
}

/// Query of the backup download.
#[derive(Debug, Default, Deserialize)]
pub struct BackupParams {
    /// `data` (default) or `performance`.
    pub env: Option<String>,
}

impl BackupParams {
    /// The database asked for.
    pub fn env(&self) -> Result<DataEnv, String> {
        match self.env.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None => Ok(DataEnv::Data),
            Some(s) => DataEnv::parse(s)
                .ok_or_else(|| format!("env must be data or performance, not {s:?}")),
        }
    }
}

/// `POST /api/v1/data/compact`.
pub async fn api_compact<B: Backend>(
    State(state): State<AppState<B>>,
    ctx: AuthContext,
) -> Result<Response, ApiError> {
    Ok(Json(run_compact(&state, &ctx).await?).into_response())
}

/// Cancels a scheduled compaction and audits it; `true` when one was scheduled.
pub async fn run_cancel_compaction<B: Backend>(
    state: &AppState<B>,
    ctx: &AuthContext,
) -> Result<bool, BackendError> {
    let outcome = state.backend.cancel_compaction().await;
    let detail = match &outcome {
        Ok(true) => Ok("cancelled".to_owned()),
        Ok(false) => Ok("nothing was scheduled".to_owned()),
        Err(e) => Err(e.to_string()),
    };
    audit(state, ctx, ACTION_COMPACT_CANCEL, "", detail).await;
    outcome
}

/// `GET /api/v1/data/compact`.
pub async fn api_compaction_status<B: Backend>(
    State(state): State<AppState<B>>,
    _ctx: AuthContext,
) -> Result<Response, ApiError> {
    Ok(Json(state.backend.compaction_status().await?).into_response())
}

/// `DELETE /api/v1/data/compact`.
pub async fn api_cancel_compaction<B: Backend>(
    State(state): State<AppState<B>>,
    ctx: AuthContext,
) -> Result<Response, ApiError> {
    let cancelled = run_cancel_compaction(&state, &ctx).await?;
    Ok(Json(serde_json::json!({ "cancelled": cancelled })).into_response())
}

/// `GET /api/v1/data/backup`.
pub async fn api_backup<B: Backend>(
    State(state): State<AppState<B>>,
    ctx: AuthContext,
    params: Result<Query<BackupParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(params) = params.map_err(bad_query)?;
    let env = params
        .env()
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e))?;
    Ok(run_backup(&state, &ctx, env).await?)
}

/// Body of `POST /api/v1/data/reset`.
#[derive(Debug, Deserialize)]
pub struct ResetRequest {
    /// `samples` or `audit`.
    pub category: String,
    /// Only entries older than this many days (0: all).
    pub older_than_days: u32,
    /// Must be `true`: the caller confirms the deletion.
    #[serde(default)]
    pub confirm: bool,
}

/// Answer of `POST /api/v1/data/reset`.
#[derive(Debug, Serialize)]
pub struct ResetAnswer {
    /// What was reset.
    pub category: ResetCategory,
    /// The day count.
    pub older_than_days: u32,
    /// How many entries were removed.
    pub removed: u64,
}

/// `POST /api/v1/data/reset`.
pub async fn api_reset<B: Backend>(
    State(state): State<AppState<B>>,
    ctx: AuthContext,
    ApiJson(req): ApiJson<ResetRequest>,
) -> Result<Response, ApiError> {
    let bad = |e: String| ApiError::new(StatusCode::BAD_REQUEST, e);
    let category = ResetCategory::parse(&req.category).map_err(bad)?;
    if req.older_than_days > MAX_DAYS {
        return Err(bad(format!("older_than_days must be at most {MAX_DAYS}")));
    }
    if !req.confirm {
        return Err(bad(
            "a reset deletes data for good: send \"confirm\": true".into()
        ));
    }
    let removed = run_reset(&state, &ctx, category, req.older_than_days)
        .await
        .map_err(|e| match e {
            ResetError::Backend(b) => ApiError::from(b),
            ResetError::Audit(m) => {
                tracing::error!("audit reset failed: {m}");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "cannot prune the audit log",
                )
            }
        })?;
    Ok(Json(ResetAnswer {
        category,
        older_than_days: req.older_than_days,
        removed,
    })
    .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn categories_days_and_names() {
        assert_eq!(ResetCategory::parse("samples"), Ok(ResetCategory::Samples));
        assert_eq!(ResetCategory::parse(" audit "), Ok(ResetCategory::Audit));
        assert!(ResetCategory::parse("users").unwrap_err().contains("never"));
        assert!(ResetCategory::parse("nodes").is_err());
        assert_eq!(parse_days("7"), Ok(7));
        assert!(parse_days("-1").is_err() && parse_days("x").is_err());
        assert!(parse_days("36501").is_err());
        assert_eq!(cutoff_ms(10 * DAY_MS, 3), 7 * DAY_MS);
        assert_eq!(cutoff_ms(5, 3), 0);
        assert_eq!(
            backup_name(DataEnv::Data, 1_709_210_096_789),
            "commander-data-20240229T123456Z.mdb"
        );
        let p = BackupParams { env: None };
        assert_eq!(p.env(), Ok(DataEnv::Data));
        let p = BackupParams {
            env: Some("x".into()),
        };
        assert!(p.env().is_err());
    }
}
