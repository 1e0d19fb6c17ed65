//! The Data page: database sizes and the forms of [`crate::data`]'s operations, with a
//! confirmation page before a reset and results or errors shown on the page (never as JSON).
//!
//! - `GET /data`: sizes, compaction form, backup links, reset form.
//! - `POST /data/compact`: measures and schedules a compaction, shows the page with its report.
//! - `POST /data/compact/cancel`: cancels the scheduled compaction.
//! - `GET /data/backup?env=`: the download, or the page with the error.
//! - `POST /data/reset`: without `confirm=yes` shows the confirmation page; with it deletes
//!   and shows the page with the count.

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::api::backend_status;
use crate::auth::AuthContext;
use crate::data::{
    BackupParams, CompactReport, CompactionStatus, ResetCategory, parse_days, run_backup,
    run_cancel_compaction, run_compact, run_reset,
};
use crate::format::{format_bytes, format_duration, format_rfc3339_ms};
use crate::i18n::LangExt;
use crate::i18n::Messages;
use crate::pages::{Frame, backend_error_page};
use crate::state::AppState;
use model::ServiceError;

/// One line of a compaction report, formatted.
#[derive(Debug, Clone)]
pub struct CompactRow {
    /// Which database (its label).
    pub env: &'static str,
    /// Live size.
    pub live: String,
    /// Compacted size.
    pub compacted: String,
    /// Difference.
    pub reclaimable: String,
    /// Time taken.
    pub took: String,
}

/// One database in the last compaction, formatted.
#[derive(Debug, Clone)]
pub struct LastRow {
    /// Which database (its label).
    pub env: &'static str,
    /// Size before.
    pub before: String,
    /// Size after.
    pub after: String,
    /// Time taken.
    pub took: String,
}

fn env_label(t: &Messages, env: &str) -> &'static str {
    if env == "performance" {
        t.data_env_performance
    } else {
        t.data_env_data
    }
}

fn took(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else {
        format_duration(std::time::Duration::from_millis(ms))
    }
}

fn when(ms: u64) -> String {
    format_rfc3339_ms(ms).unwrap_or_else(|| ms.to_string())
}

/// The Data page.
#[derive(Debug, Template, WebTemplate)]
#[template(path = "data.html")]
pub struct DataPage {
    /// The frame.
    pub frame: Frame,
    /// `data` environment size, formatted.
    pub data_size: String,
    /// `performance` environment size, formatted.
    pub performance_size: String,
    /// A compaction report, when one just ran.
    pub report: Vec<CompactRow>,
    /// "Compaction scheduled on ...", or empty.
    pub scheduled: String,
    /// "Last compaction, ...:", or empty when none ran.
    pub last_title: String,
    /// Sizes before and after of the last compaction.
    pub last_rows: Vec<LastRow>,
    /// Why the last compaction failed, or empty.
    pub last_error: String,
    /// A success message.
    pub notice: String,
    /// An error message.
    pub error: String,
}

/// The confirmation page of a reset.
#[derive(Debug, Template, WebTemplate)]
#[template(path = "data_confirm.html")]
pub struct ConfirmPage {
    /// The frame.
    pub frame: Frame,
    /// The question.
    pub question: String,
    /// `samples` or `audit`.
    pub category: &'static str,
    /// The day count.
    pub days: u32,
}

fn report_rows(report: &CompactReport, t: &Messages) -> Vec<CompactRow> {
    report
        .envs
        .iter()
        .map(|e| CompactRow {
            env: match e.env {
                crate::data::DataEnv::Data => t.data_env_data,
                crate::data::DataEnv::Performance => t.data_env_performance,
            },
            live: format_bytes(e.live_bytes),
            compacted: format_bytes(e.compacted_bytes),
            reclaimable: format_bytes(e.live_bytes.saturating_sub(e.compacted_bytes)),
            took: took(e.took_ms),
        })
        .collect()
}

/// A backend error as a person reads it on the page.
fn explain(err: &ServiceError, t: &Messages) -> String {
    match err {
        ServiceError::Conflict(_) => t.err_data_busy.to_owned(),
        other => format!("{} {other}", t.err_backend),
    }
}

/// Renders the Data page with `notice`, `error` and `report`; the status follows `error`.
async fn render(
    state: &AppState,
    ctx: &AuthContext,
    uri: &Uri,
    status: StatusCode,
    report: Vec<CompactRow>,
    notice: String,
    error: String,
) -> Response {
    let sizes = match state.services.cluster.storage().await {
        Ok(s) => s,
        Err(err) => return backend_error_page(&err, ctx.lang()),
    };
    let status_now = match state.services.data.compaction_status().await {
        Ok(s) => s,
        Err(err) => return backend_error_page(&err, ctx.lang()),
    };
    let t = ctx.lang().messages();
    let CompactionStatus { scheduled, last } = status_now;
    let mut frame = Frame::signed_in(ctx, "data", uri);
    frame.path = "/data".to_owned();
    let page = DataPage {
        frame,
        data_size: format_bytes(sizes.data_bytes),
        performance_size: format_bytes(sizes.performance_bytes),
        report,
        scheduled: scheduled.map_or_else(String::new, |s| {
            t.data_compact_scheduled
                .replace("{when}", &when(s.requested_at_ms))
        }),
        last_title: last.as_ref().map_or_else(String::new, |l| {
            t.data_compact_last
                .replace("{when}", &when(l.finished_at_ms))
        }),
        last_rows: last.as_ref().map_or_else(Vec::new, |l| {
            l.envs
                .iter()
                .map(|e| LastRow {
                    env: env_label(t, &e.env),
                    before: format_bytes(e.before_bytes),
                    after: format_bytes(e.after_bytes),
                    took: took(e.took_ms),
                })
                .collect()
        }),
        last_error: last.and_then(|l| l.error).unwrap_or_default(),
        notice,
        error,
    };
    (status, page).into_response()
}

/// `GET /data`.
pub async fn page(State(state): State<AppState>, ctx: AuthContext, uri: Uri) -> Response {
    render(
        &state,
        &ctx,
        &uri,
        StatusCode::OK,
        Vec::new(),
        String::new(),
        String::new(),
    )
    .await
}

/// `POST /data/compact`.
pub async fn compact(State(state): State<AppState>, ctx: AuthContext, uri: Uri) -> Response {
    let t = ctx.lang().messages();
    match run_compact(&state, &ctx).await {
        Ok(report) => {
            let rows = report_rows(&report, t);
            let notice = t.data_compact_done.to_owned();
            render(
                &state,
                &ctx,
                &uri,
                StatusCode::OK,
                rows,
                notice,
                String::new(),
            )
            .await
        }
        Err(err) => {
            let status = backend_status(&err);
            render(
                &state,
                &ctx,
                &uri,
                status,
                Vec::new(),
                String::new(),
                explain(&err, t),
            )
            .await
        }
    }
}

/// `POST /data/compact/cancel`.
pub async fn cancel_compaction(
    State(state): State<AppState>,
    ctx: AuthContext,
    uri: Uri,
) -> Response {
    let t = ctx.lang().messages();
    let (status, notice, error) = match run_cancel_compaction(&state, &ctx).await {
        Ok(_) => (
            StatusCode::OK,
            t.data_compact_cancelled.to_owned(),
            String::new(),
        ),
        Err(err) => (backend_status(&err), String::new(), explain(&err, t)),
    };
    render(&state, &ctx, &uri, status, Vec::new(), notice, error).await
}

/// `GET /data/backup?env=`.
pub async fn backup(
    State(state): State<AppState>,
    ctx: AuthContext,
    uri: Uri,
    params: Result<Query<BackupParams>, QueryRejection>,
) -> Response {
    let params = params.map(|Query(p)| p).unwrap_or_default();
    let t = ctx.lang().messages();
    let env = match params.env() {
        Ok(env) => env,
        Err(e) => {
            let status = StatusCode::BAD_REQUEST;
            return render(
                &state,
                &ctx,
                &uri,
                status,
                Vec::new(),
                String::new(),
                e.message,
            )
            .await;
        }
    };
    match run_backup(&state, &ctx, env).await {
        Ok(download) => download,
        Err(err) => {
            let status = backend_status(&err);
            render(
                &state,
                &ctx,
                &uri,
                status,
                Vec::new(),
                String::new(),
                explain(&err, t),
            )
            .await
        }
    }
}

/// Fields of the reset form.
#[derive(Debug, Default, Deserialize)]
pub struct ResetForm {
    /// `samples` or `audit`.
    #[serde(default)]
    pub category: String,
    /// Days.
    #[serde(default)]
    pub older_than_days: String,
    /// `yes` once confirmed.
    #[serde(default)]
    pub confirm: String,
}

fn question(t: &Messages, category: ResetCategory, days: u32) -> String {
    let text = match (category, days) {
        (ResetCategory::Samples, 0) => t.data_confirm_samples_all,
        (ResetCategory::Samples, _) => t.data_confirm_samples,
        (ResetCategory::Audit, 0) => t.data_confirm_audit_all,
        (ResetCategory::Audit, _) => t.data_confirm_audit,
    };
    text.replace("{days}", &days.to_string())
}

/// `POST /data/reset`.
pub async fn reset(
    State(state): State<AppState>,
    ctx: AuthContext,
    uri: Uri,
    form: Result<Form<ResetForm>, FormRejection>,
) -> Response {
    let t = ctx.lang().messages();
    let bad = StatusCode::BAD_REQUEST;
    let form = form.map(|Form(f)| f).unwrap_or_default();
    let Ok(category) = ResetCategory::parse(&form.category) else {
        let error = t.err_category.to_owned();
        return render(&state, &ctx, &uri, bad, Vec::new(), String::new(), error).await;
    };
    let Ok(days) = parse_days(&form.older_than_days) else {
        let error = t.err_days.to_owned();
        return render(&state, &ctx, &uri, bad, Vec::new(), String::new(), error).await;
    };
    if form.confirm != "yes" {
        let mut frame = Frame::signed_in(&ctx, "data", &uri);
        frame.path = "/data".to_owned();
        return ConfirmPage {
            frame,
            question: question(t, category, days),
            category: category.name(),
            days,
        }
        .into_response();
    }
    match run_reset(&state, &ctx, category, days).await {
        Ok(n) => {
            let notice = t.data_reset_done.replace("{n}", &n.to_string());
            render(
                &state,
                &ctx,
                &uri,
                StatusCode::OK,
                Vec::new(),
                notice,
                String::new(),
            )
            .await
        }
        Err(err) => {
            let status = backend_status(&err);
            render(
                &state,
                &ctx,
                &uri,
                status,
                Vec::new(),
                String::new(),
                explain(&err, t),
            )
            .await
        }
    }
}
