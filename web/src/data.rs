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
//! The rules (one operation at a time, an audit entry for each, failed or not) are the
//! master's, behind [`model::service::DataAdmin`]; these handlers parse, call, answer.

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use tokio::io::AsyncReadExt;

use model::ServiceError;
use model::ops::Caller;

use crate::api::{ApiError, ApiJson, bad_query};
use crate::auth::AuthContext;
use crate::state::AppState;

pub use model::data::{
    CompactReport, CompactionStatus, DataEnv, MAX_DAYS, ResetCategory, cutoff_ms, parse_days,
};

/// Bytes read from a backup file per chunk.
const CHUNK: usize = 64 * 1024;

/// Who asks, for the master's audit record.
fn caller(ctx: &AuthContext) -> Caller {
    ctx.caller()
}

/// Runs a compaction (audited by the master).
pub async fn run_compact(
    state: &AppState,
    ctx: &AuthContext,
) -> Result<CompactReport, ServiceError> {
    state.services.data.compact(&caller(ctx)).await
}

/// Deletes one category older than `days` days (audited by the master); returns how many
/// went.
pub async fn run_reset(
    state: &AppState,
    ctx: &AuthContext,
    category: ResetCategory,
    days: u32,
) -> Result<u64, ServiceError> {
    state
        .services
        .data
        .reset(&caller(ctx), category, days)
        .await
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
pub async fn run_backup(
    state: &AppState,
    ctx: &AuthContext,
    env: DataEnv,
) -> Result<Response, ServiceError> {
    let backup = state.services.data.backup(&caller(ctx), env).await?;
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
    pub fn env(&self) -> Result<DataEnv, model::Invalid> {
        match self.env.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None => Ok(DataEnv::Data),
            Some(s) => DataEnv::parse(s).ok_or_else(|| {
                model::Invalid::new("env", format!("env must be data or performance, not {s:?}"))
            }),
        }
    }
}

/// `POST /api/v1/data/compact`.
#[utoipa::path(
    post,
    path = "/api/v1/data/compact",
    operation_id = "post /api/v1/data/compact",
    tag = "data",
    summary = "Measure what compaction reclaims (a compacted copy of each database, written while running and removed) and schedule the compaction of the live files for the master's next start. 409 while another data operation runs.",
    responses(
        (status = 200, description = "Done.", body = model::data::CompactReport),
        (status = "default", description = "An error; the body says what went wrong.", body = crate::api::ErrorBody),
    ),
)]
pub async fn api_compact(
    State(state): State<AppState>,
    ctx: AuthContext,
) -> Result<Response, ApiError> {
    Ok(Json(run_compact(&state, &ctx).await?).into_response())
}

/// Cancels a scheduled compaction (audited by the master); `true` when one was
/// scheduled.
pub async fn run_cancel_compaction(
    state: &AppState,
    ctx: &AuthContext,
) -> Result<bool, ServiceError> {
    state.services.data.cancel_compaction(&caller(ctx)).await
}

/// `GET /api/v1/data/compact`.
#[utoipa::path(
    get,
    path = "/api/v1/data/compact",
    operation_id = "get /api/v1/data/compact",
    tag = "data",
    summary = "Whether a compaction is scheduled for the next start, and how the last one went.",
    responses(
        (status = 200, description = "Done.", body = model::data::CompactionStatus),
        (status = "default", description = "An error; the body says what went wrong.", body = crate::api::ErrorBody),
    ),
)]
pub async fn api_compaction_status(
    State(state): State<AppState>,
    _ctx: AuthContext,
) -> Result<Response, ApiError> {
    Ok(Json(state.services.data.compaction_status().await?).into_response())
}

/// `DELETE /api/v1/data/compact`.
#[utoipa::path(
    delete,
    path = "/api/v1/data/compact",
    operation_id = "delete /api/v1/data/compact",
    tag = "data",
    summary = "Cancel the scheduled compaction.",
    responses(
        (status = 200, description = "Done.", body = crate::data::CompactionCancelled),
        (status = "default", description = "An error; the body says what went wrong.", body = crate::api::ErrorBody),
    ),
)]
pub async fn api_cancel_compaction(
    State(state): State<AppState>,
    ctx: AuthContext,
) -> Result<Response, ApiError> {
    let cancelled = run_cancel_compaction(&state, &ctx).await?;
    Ok(Json(CompactionCancelled { cancelled }).into_response())
}

/// `GET /api/v1/data/backup`.
#[utoipa::path(
    get,
    path = "/api/v1/data/backup",
    operation_id = "get /api/v1/data/backup",
    tag = "data",
    summary = "Download a consistent copy of one database (an LMDB data file).",
    params(
        ("env" = Option<String>, Query, description = "`data` (default) or `performance`."),
    ),
    responses(
        (status = 200, description = "Done.", body = Vec<u8>, content_type = "application/octet-stream"),
        (status = "default", description = "An error; the body says what went wrong.", body = crate::api::ErrorBody),
    ),
)]
pub async fn api_backup(
    State(state): State<AppState>,
    ctx: AuthContext,
    params: Result<Query<BackupParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(params) = params.map_err(bad_query)?;
    let env = params
        .env()
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.message))?;
    Ok(run_backup(&state, &ctx, env).await?)
}

/// Answer of `DELETE /api/v1/data/compact`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CompactionCancelled {
    /// Whether a compaction was scheduled (and is not any more).
    pub cancelled: bool,
}

/// Body of `POST /api/v1/data/reset`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
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
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ResetAnswer {
    /// What was reset.
    pub category: ResetCategory,
    /// The day count.
    pub older_than_days: u32,
    /// How many entries were removed.
    pub removed: u64,
}

/// `POST /api/v1/data/reset`.
#[utoipa::path(
    post,
    path = "/api/v1/data/reset",
    operation_id = "post /api/v1/data/reset",
    tag = "data",
    summary = "Delete metric samples or audit entries older than a number of days. User accounts are never reset.",
    request_body = crate::data::ResetRequest,
    responses(
        (status = 200, description = "Done.", body = crate::data::ResetAnswer),
        (status = "default", description = "An error; the body says what went wrong.", body = crate::api::ErrorBody),
    ),
)]
pub async fn api_reset(
    State(state): State<AppState>,
    ctx: AuthContext,
    ApiJson(req): ApiJson<ResetRequest>,
) -> Result<Response, ApiError> {
    let bad = |e: String| ApiError::new(StatusCode::BAD_REQUEST, e);
    let category = ResetCategory::parse(&req.category).map_err(|e| bad(e.message))?;
    if req.older_than_days > MAX_DAYS {
        return Err(bad(format!("older_than_days must be at most {MAX_DAYS}")));
    }
    if !req.confirm {
        return Err(bad(
            "a reset deletes data for good: send \"confirm\": true".into()
        ));
    }
    let removed = run_reset(&state, &ctx, category, req.older_than_days).await?;
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
        assert!(
            ResetCategory::parse("users")
                .unwrap_err()
                .message
                .contains("never")
        );
        assert!(ResetCategory::parse("nodes").is_err());
        assert_eq!(parse_days("7"), Ok(7));
        assert!(parse_days("-1").is_err() && parse_days("x").is_err());
        assert!(parse_days("36501").is_err());
        assert_eq!(cutoff_ms(10 * 86_400_000, 3), 7 * 86_400_000);
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
