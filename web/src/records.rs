//! The audit log over HTTP: `GET /api/v1/audit` (JSON) and the Records page `/records`,
//! both with the same filters: `user`, `action` (an action or a family such as `auth`),
//! `result` (`ok`, `failed`, `denied`), `since` and `until` (Unix ms or UTC
//! `YYYY-MM-DD[THH:MM[:SS[.mmm]]][Z]`), `limit` (1..=500, default 50) and `before` (the
//! `next` cursor of the previous page). Entries come newest first.

use model::Invalid;
use std::sync::Arc;

use askama::Template;
use askama_web::WebTemplate;
use axum::Json;
use axum::extract::{Query, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use crate::api::ApiError;
use crate::auth::{Auth, AuthContext};
use crate::format::{format_rfc3339_ms, parse_time};
use crate::i18n::LangExt;
use crate::pages::{ErrorPage, Frame};
use model::audit::{AuditId, AuditQuery, AuditRecord, AuditResult, DEFAULT_PAGE, MAX_PAGE};

/// Query parameters of both the API and the page (empty values mean "no filter").
#[derive(Debug, Default, Clone, Deserialize)]
pub struct AuditParams {
    /// Only this user.
    pub user: Option<String>,
    /// Only this action or family.
    pub action: Option<String>,
    /// Only this result.
    pub result: Option<String>,
    /// Not before.
    pub since: Option<String>,
    /// Not after.
    pub until: Option<String>,
    /// Cursor.
    pub before: Option<String>,
    /// Page size.
    pub limit: Option<String>,
}

fn present(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

impl AuditParams {
    /// Validates into a query; the error names the bad parameter.
    pub fn to_query(&self) -> Result<AuditQuery, Invalid> {
        let time = |name: &str, v: &Option<String>| -> Result<Option<u64>, Invalid> {
            present(v)
                .map(|s| {
                    parse_time(s)
                        .ok_or_else(|| Invalid::new(name, format!("{name}: not a time: {s:?}")))
                })
                .transpose()
        };
        let result = present(&self.result)
            .map(|s| {
                s.parse::<AuditResult>().map_err(|()| {
                    Invalid::new(
                        "result",
                        format!("result must be ok, failed or denied, not {s:?}"),
                    )
                })
            })
            .transpose()?;
        let before = present(&self.before)
            .map(|s| {
                s.parse::<AuditId>()
                    .map_err(|()| Invalid::new("before", "before: bad cursor"))
            })
            .transpose()?;
        let limit = match present(&self.limit) {
            None => DEFAULT_PAGE,
            Some(s) => s
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=MAX_PAGE).contains(n))
                .ok_or_else(|| Invalid::new("limit", format!("limit must be in 1..={MAX_PAGE}")))?,
        };
        Ok(AuditQuery {
            user: present(&self.user).map(str::to_owned),
            action: present(&self.action).map(str::to_owned),
            result,
            since_ms: time("since", &self.since)?,
            until_ms: time("until", &self.until)?,
            before,
            limit,
        })
    }
}

/// One entry in the JSON answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = AuditEntry)]
pub struct ApiAuditEntry<'a> {
    /// Unique, time-ordered id.
    pub id: String,
    /// When, Unix ms.
    pub at_ms: u64,
    /// When, RFC 3339.
    pub at: Option<String>,
    /// Who.
    pub user: &'a str,
    /// What.
    pub action: &'a str,
    /// To what.
    pub target: &'a str,
    /// From where.
    pub client: &'a str,
    /// `ok`, `failed` or `denied`.
    pub result: AuditResult,
    /// Detail.
    pub detail: &'a str,
    /// The API token the user acted through (`token:ID (name)`); absent for a session.
    #[serde(skip_serializing_if = "str::is_empty")]
    pub via: &'a str,
}

impl<'a> From<&'a AuditRecord> for ApiAuditEntry<'a> {
    fn from(r: &'a AuditRecord) -> Self {
        Self {
            id: r.id.to_string(),
            at_ms: r.entry.at_ms,
            at: format_rfc3339_ms(r.entry.at_ms),
            user: &r.entry.user,
            action: &r.entry.action,
            target: &r.entry.target,
            client: &r.entry.client,
            result: r.entry.result,
            detail: &r.entry.detail,
            via: &r.entry.via,
        }
    }
}

/// Answer of `GET /api/v1/audit`: one page, newest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AuditPage<'a> {
    /// The entries.
    pub entries: Vec<ApiAuditEntry<'a>>,
    /// `before` of the next (older) page, `null` on the last one.
    pub next: Option<String>,
}

/// `GET /api/v1/audit` → `{"entries": [...], "next": "cursor" | null}`.
#[utoipa::path(
    get,
    path = "/api/v1/audit",
    operation_id = "get /api/v1/audit",
    tag = "audit",
    summary = "The audit log, newest first.",
    params(
        ("user" = Option<String>, Query, description = "Only this user."),
        ("action" = Option<String>, Query, description = "Only this action or family (`auth`)."),
        ("result" = Option<String>, Query, description = "`ok`, `failed` or `denied`."),
        ("since" = Option<String>, Query, description = "Not before: Unix ms or UTC `YYYY-MM-DD[THH:MM[:SS]]`."),
        ("until" = Option<String>, Query, description = "Not after, same forms."),
        ("before" = Option<String>, Query, description = "The `next` cursor of the previous page."),
        ("limit" = Option<u64>, Query, description = "1..=500, default 50."),
    ),
    responses(
        (status = 200, description = "Done.", body = crate::records::AuditPage),
        (status = "default", description = "An error; the body says what went wrong.", body = crate::api::ErrorBody),
    ),
)]
pub async fn api(
    State(auth): State<Arc<Auth>>,
    _ctx: AuthContext,
    Query(params): Query<AuditParams>,
) -> Result<Response, ApiError> {
    let query = params
        .to_query()
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.message))?;
    let page = auth.query_audit(query).await.map_err(|e| {
        tracing::error!("audit query failed: {e}");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "cannot read the audit log",
        )
    })?;
    let entries: Vec<ApiAuditEntry<'_>> = page.entries.iter().map(ApiAuditEntry::from).collect();
    let next = page.next.map(|id| id.to_string());
    Ok(Json(AuditPage { entries, next }).into_response())
}

/// One row of the Records page.
#[derive(Debug, Clone)]
pub struct AuditRow {
    /// RFC 3339 time.
    pub at: String,
    /// Who.
    pub user: String,
    /// Through which API token, or empty.
    pub via: String,
    /// What.
    pub action: String,
    /// To what.
    pub target: String,
    /// From where.
    pub client: String,
    /// `ok`, `failed`, `denied` (also the badge class).
    pub result: &'static str,
    /// Detail.
    pub detail: String,
}

/// The Records page.
#[derive(Debug, Template, WebTemplate)]
#[template(path = "records.html")]
pub struct RecordsPage {
    /// The frame.
    pub frame: Frame,
    /// The filters as typed (echoed into the form).
    pub filter: AuditParams,
    /// The rows, newest first.
    pub rows: Vec<AuditRow>,
    /// Query string of the next (older) page, empty when there is none.
    pub older: String,
    /// Whether this is a later page (show a link back to the newest).
    pub paged: bool,
    /// The filters' query string without the cursor.
    pub newest: String,
    /// A filter error.
    pub error: String,
}

impl RecordsPage {
    /// The text of filter `name`, for the form.
    pub fn value<'a>(&'a self, v: &'a Option<String>) -> &'a str {
        v.as_deref().unwrap_or_default()
    }
}

fn query_string(p: &AuditParams, before: Option<String>) -> String {
    let mut pairs: Vec<(&str, &str)> = Vec::new();
    for (k, v) in [
        ("user", &p.user),
        ("action", &p.action),
        ("result", &p.result),
        ("since", &p.since),
        ("until", &p.until),
        ("limit", &p.limit),
    ] {
        if let Some(v) = present(v) {
            pairs.push((k, v));
        }
    }
    if let Some(b) = &before {
        pairs.push(("before", b));
    }
    serde_urlencoded::to_string(&pairs).unwrap_or_default()
}

/// `GET /records`.
pub async fn page(
    State(auth): State<Arc<Auth>>,
    ctx: AuthContext,
    uri: Uri,
    Query(params): Query<AuditParams>,
) -> Response {
    let frame = Frame::signed_in(&ctx, "records", &uri);
    let mut page = RecordsPage {
        frame,
        filter: params.clone(),
        rows: Vec::new(),
        older: String::new(),
        paged: present(&params.before).is_some(),
        newest: query_string(&params, None),
        error: String::new(),
    };
    let query = match params.to_query() {
        Ok(q) => q,
        Err(e) => {
            page.error = e.message;
            return (StatusCode::BAD_REQUEST, page).into_response();
        }
    };
    let result = match auth.query_audit(query).await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!("audit query failed: {e}");
            let t = ctx.lang().messages();
            return ErrorPage::localized(
                StatusCode::INTERNAL_SERVER_ERROR,
                t.err_internal,
                ctx.lang(),
            );
        }
    };
    page.rows = result
        .entries
        .iter()
        .map(|r| AuditRow {
            at: format_rfc3339_ms(r.entry.at_ms).unwrap_or_default(),
            user: r.entry.user.clone(),
            via: r.entry.via.clone(),
            action: r.entry.action.clone(),
            target: r.entry.target.clone(),
            client: r.entry.client.clone(),
            result: r.entry.result.as_str(),
            detail: r.entry.detail.clone(),
        })
        .collect();
    page.older = result
        .next
        .map(|id| query_string(&params, Some(id.to_string())))
        .unwrap_or_default();
    page.into_response()
}
