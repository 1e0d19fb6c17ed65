//! The Data page: database sizes and the forms of [`crate::data`]'s operations, with a
//! confirmation page before a reset and results or errors shown on the page (never as JSON).
//!
//! - `GET /data`: sizes, compaction form, backup links, reset form.
//! - `POST /data/compact`: runs a compaction, shows the page with its report.
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
use crate::backend::{Backend, BackendError};
use crate::data::{
    BackupParams, CompactReport, ResetCategory, ResetError, parse_days, run_backup, run_compact,
    run_reset,
};
use crate::format::{format_bytes, format_duration};
use crate::i18n::Messages;
use crate::pages::{Frame, backend_error_page};
use crate::state::AppState;

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
            took: if e.took_ms < 1000 {
                format!("{} ms", e.took_ms)
            } else {
                format_duration(std::time::Duration::from_millis(e.took_ms))
            },
        })
        .collect()
}

/// A backend error as a person reads it on the page.
fn explain(err: &BackendError, t: &Messages) -> String {
    match err {
        BackendError::Conflict(_) => t.err_data_busy.to_owned(),
        other => format!("{} {other}", t.err_backend),
    }
}

/// Renders the Data page with `notice`, `error` and `report`; the status follows `error`.
async fn render<B: Backend>(
    state: &AppState<B>,
    ctx: &AuthContext,
    uri: &Uri,
    status: StatusCode,
    report: Vec<CompactRow>,
    notice: String,
    error: String,
) -> Response {
    let sizes = match state.backend.storage().await {
        Ok(s) => s,
        Err(err) => return backend_error_page(&err, ctx.lang()),
    };
    let mut frame = Frame::signed_in(ctx, "data", uri);
    frame.path = "/data".to_owned();
    let page = DataPage {
        frame,
        data_size: format_bytes(sizes.data_bytes),
        performance_size: format_bytes(sizes.performance_bytes),
        report,
        notice,
        error,
    };
    (status, page).into_response()
}

/// `GET /data`.
pub async fn page<B: Backend>(
    State(state): State<AppState<B>>,
    ctx: AuthContext,
    uri: Uri,
) -> Response {
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
pub async fn compact<B: Backend>(
    State(state): State<AppState<B>>,
    ctx: AuthContext,
    uri: Uri,
) -> Response {
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

/// `GET /data/backup?env=`.
pub async fn backup<B: Backend>(
    State(state): State<AppState<B>>,
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
            return render(&state, &ctx, &uri, status, Vec::new(), String::new(), e).await;
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
pub async fn reset<B: Backend>(
    State(state): State<AppState<B>>,
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
        Err(ResetError::Backend(err)) => {
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
        Err(ResetError::Audit(e)) => {
            tracing::error!("audit reset failed: {e}");
            let status = StatusCode::INTERNAL_SERVER_ERROR;
            let error = t.err_internal.to_owned();
            render(&state, &ctx, &uri, status, Vec::new(), String::new(), error).await
        }
    }
}
