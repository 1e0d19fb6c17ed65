//! The JSON REST API under `/api/v1`: response shapes, handlers and the error mapping.

use crate::auth::AuthContext;
use crate::format::format_rfc3339_ms;
use crate::i18n::Lang;
use crate::i18n::LangExt;
use crate::listing::row_matches;
use crate::live::parse_node_id;
use crate::pages::NodeRow;
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequest, Path, Query, Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use model::ServiceError;
use model::node::NodeView;
use model::service::Cluster;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// A JSON body whose rejection (wrong content type, malformed JSON, missing field) is a
/// JSON error like every other API error. Only `Content-Type: application/json` is
/// accepted, which a cross-origin HTML form cannot send (see `auth::guard`).
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        Json::<T>::from_request(req, state)
            .await
            .map(|Json(v)| ApiJson(v))
            .map_err(|rej| ApiError::new(rej.status(), rej.body_text()))
    }
}

/// One element of `GET /api/v1/nodes`.
///
/// The field names are part of the API; `last_seen` repeats `last_seen_ms` as an RFC 3339 UTC
/// string for people and scripts that do not want to do date arithmetic.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = Node)]
pub struct ApiNode<'a> {
    /// Node id assigned at enrolment.
    pub id: u64,
    /// Host name the slave reported (empty until it did).
    pub hostname: &'a str,
    /// Whether the node's heartbeat TTL has not expired.
    pub online: bool,
    /// Whether an operator revoked the node.
    pub revoked: bool,
    /// Last heartbeat, Unix milliseconds, or `null`.
    pub last_seen_ms: Option<u64>,
    /// Last heartbeat as RFC 3339 UTC (`2024-02-29T12:34:56.789Z`), or `null`.
    pub last_seen: Option<String>,
    /// Agent build version.
    pub agent_version: &'a str,
    /// Static host facts (OS, kernel, CPU, memory, disks, Docker version), or `null` until
    /// reported: a `protocol::HostInfo`, described free-form (the protocol crate has no
    /// OpenAPI derive).
    #[schema(value_type = Option<Object>)]
    pub host: Option<&'a protocol::HostInfo>,
    /// The latest metric sample, or `null` until reported: a `protocol::MetricSample`,
    /// described free-form.
    #[schema(value_type = Option<Object>)]
    pub metrics: Option<&'a protocol::MetricSample>,
}

impl<'a> From<&'a NodeView> for ApiNode<'a> {
    fn from(node: &'a NodeView) -> Self {
        Self {
            id: node.id,
            hostname: &node.hostname,
            online: node.online,
            revoked: node.revoked,
            last_seen_ms: node.last_seen_ms,
            last_seen: node.last_seen_ms.and_then(format_rfc3339_ms),
            agent_version: &node.agent_version,
            host: node.host.as_ref(),
            metrics: node.metrics.as_ref(),
        }
    }
}

/// The body of every API error: `{"error": "..."}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = Error)]
pub struct ErrorBody {
    /// What went wrong, for a person.
    pub error: String,
}

/// An API failure with its HTTP status.
#[derive(Debug)]
pub struct ApiError {
    /// The status to answer with.
    pub status: StatusCode,
    /// The message placed in `{"error": ...}`.
    pub message: String,
}

impl ApiError {
    /// An error with the given status and message.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }
}

impl From<ServiceError> for ApiError {
    fn from(err: ServiceError) -> Self {
        let status = backend_status(&err);
        if status.is_server_error() {
            tracing::warn!(error = %err, "backend failed");
        }
        Self::new(status, err.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: self.message,
        };
        (self.status, Json(body)).into_response()
    }
}

/// The HTTP status a backend error maps to: `NotFound` → 404, `Conflict` → 409, anything
/// else → 500.
pub fn backend_status(err: &ServiceError) -> StatusCode {
    match err {
        ServiceError::NotFound(_) => StatusCode::NOT_FOUND,
        ServiceError::Conflict(_) => StatusCode::CONFLICT,
        ServiceError::Store(_) | ServiceError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// Query of `GET /api/v1/nodes` (all optional).
#[derive(Debug, Default, Deserialize)]
pub struct NodesParams {
    /// Search term (see `listing::row_matches`).
    pub q: Option<String>,
    /// Nodes to skip.
    pub offset: Option<usize>,
    /// Most nodes to answer.
    pub limit: Option<usize>,
}

/// Header carrying the number of nodes matching the search, before `offset` and `limit`.
pub const TOTAL_COUNT: &str = "x-total-count";

/// `GET /api/v1/nodes?q=&offset=&limit=`: the nodes ordered by id, searched and cut; the
/// count before cutting is in `X-Total-Count`.
#[utoipa::path(
    get,
    path = "/api/v1/nodes",
    operation_id = "get /api/v1/nodes",
    tag = "nodes",
    summary = "Enrolled nodes ordered by id, optionally searched and cut; `X-Total-Count` has the count before `offset` and `limit`.",
    params(
        ("q" = Option<String>, Query, description = "Search term: id, host name, status, OS or agent version."),
        ("offset" = Option<u64>, Query, description = "Nodes to skip."),
        ("limit" = Option<u64>, Query, description = "Most nodes to answer."),
    ),
    responses(
        (status = 200, description = "Done.", body = [crate::api::ApiNode]),
        (status = "default", description = "An error; the body says what went wrong.", body = crate::api::ErrorBody),
    ),
)]
pub async fn nodes(
    State(backend): State<Arc<dyn Cluster>>,
    _ctx: AuthContext,
    params: Result<Query<NodesParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(params) = params.map_err(bad_query)?;
    let nodes = backend.nodes().await?;
    let term = params
        .q
        .as_deref()
        .unwrap_or_default()
        .trim()
        .to_lowercase();
    let now = crate::pages::now_ms();
    let matching: Vec<&NodeView> = nodes
        .iter()
        .filter(|n| {
            term.is_empty() || row_matches(&NodeRow::new(n, now), &term, Lang::En.messages())
        })
        .collect();
    let total = matching.len();
    let body: Vec<ApiNode<'_>> = matching
        .into_iter()
        .skip(params.offset.unwrap_or(0))
        .take(params.limit.unwrap_or(usize::MAX))
        .map(ApiNode::from)
        .collect();
    let mut response = Json(body).into_response();
    response
        .headers_mut()
        .insert(TOTAL_COUNT, HeaderValue::from(total));
    Ok(response)
}

/// `GET /api/v1/nodes/{node}`: one node, shaped like an element of `GET /api/v1/nodes`.
#[utoipa::path(
    get,
    path = "/api/v1/nodes/{node}",
    operation_id = "get /api/v1/nodes/{node}",
    tag = "nodes",
    summary = "One node.",
    params(
        ("node" = u64, Path, description = "Node id."),
    ),
    responses(
        (status = 200, description = "Done.", body = crate::api::ApiNode),
        (status = "default", description = "An error; the body says what went wrong.", body = crate::api::ErrorBody),
    ),
)]
pub async fn node(
    State(backend): State<Arc<dyn Cluster>>,
    _ctx: AuthContext,
    Path(node): Path<String>,
) -> Result<Response, ApiError> {
    let missing = || ApiError::new(StatusCode::NOT_FOUND, format!("no node {node:?}"));
    let id = parse_node_id(&node).ok_or_else(missing)?;
    let view = backend.node(id).await?.ok_or_else(missing)?;
    Ok(Json(ApiNode::from(&view)).into_response())
}

/// `GET /api/v1/storage`: `{"data_bytes", "performance_bytes"}`.
#[utoipa::path(
    get,
    path = "/api/v1/storage",
    operation_id = "get /api/v1/storage",
    tag = "data",
    summary = "On-disk size of the two databases.",
    responses(
        (status = 200, description = "Done.", body = model::node::StorageView),
        (status = "default", description = "An error; the body says what went wrong.", body = crate::api::ErrorBody),
    ),
)]
pub async fn storage(
    State(backend): State<Arc<dyn Cluster>>,
    _ctx: AuthContext,
) -> Result<Response, ApiError> {
    Ok(Json(backend.storage().await?).into_response())
}

/// `GET /api/v1/health` (no login): 200 once the server answers, with `status` `"ok"`, or
/// `"degraded"` while audit writes fail (the audit trail has gaps; see
/// [`model::audit::AuditWriteHealth`]), the audit log's state and the
/// `commander_audit_write_failures_total` counter. It stays 200 when degraded: the master
/// serves, and restarting it would not make the store writable again.
#[utoipa::path(
    get,
    path = "/api/v1/health",
    operation_id = "get /api/v1/health",
    tag = "system",
    summary = "Health check: `ok`, or `degraded` while audit writes fail.",
    responses(
        (status = 200, description = "Done.", body = crate::api::HealthReply),
        (status = "default", description = "An error; the body says what went wrong.", body = crate::api::ErrorBody),
    ),
)]
pub async fn health(State(state): State<crate::state::AppState>) -> Json<HealthReply> {
    Json(HealthReply::from(state.services.audit.write_health()))
}

/// The answer of `GET /api/v1/health`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = Health)]
pub struct HealthReply {
    /// `ok`, or `degraded` while audit writes fail.
    pub status: &'static str,
    /// The audit log.
    pub audit: AuditHealthReply,
    /// Counters, named as a Prometheus exposition would name them.
    pub metrics: HealthMetrics,
}

/// The audit log's part of the health check.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = AuditHealth)]
pub struct AuditHealthReply {
    /// `ok`, or `failing` while writes fail (and for 15 minutes after a failure).
    pub status: &'static str,
    /// Audit entries that could not be written since the master started.
    pub write_failures: u64,
    /// The last failure's message.
    pub last_error: Option<String>,
    /// When the last write failed, Unix ms.
    pub last_failure_at_ms: Option<u64>,
}

/// Counters of the health check.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct HealthMetrics {
    /// Audit entries that could not be written since the master started.
    pub commander_audit_write_failures_total: u64,
}

impl From<model::audit::AuditWriteHealth> for HealthReply {
    fn from(h: model::audit::AuditWriteHealth) -> Self {
        Self {
            status: if h.degraded { "degraded" } else { "ok" },
            metrics: HealthMetrics {
                commander_audit_write_failures_total: h.write_failures,
            },
            audit: AuditHealthReply {
                status: if h.degraded { "failing" } else { "ok" },
                write_failures: h.write_failures,
                last_error: h.last_error,
                last_failure_at_ms: h.last_failure_at_ms,
            },
        }
    }
}

/// A bare status answer: `{"status": "logged out"}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = Status)]
pub struct StatusReply {
    /// What happened.
    pub status: &'static str,
}

/// A malformed query string as a JSON 400.
pub fn bad_query(rejection: QueryRejection) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, rejection.body_text())
}

/// The 404 for any unknown path under `/api`.
pub fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "no such endpoint")
}
