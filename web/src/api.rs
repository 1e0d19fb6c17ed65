//! The JSON REST API under `/api/v1`: response shapes, handlers and the error mapping.

use crate::auth::AuthContext;
use crate::backend::{Backend, BackendError, NodeView};
use crate::format::format_rfc3339_ms;
use axum::Json;
use axum::extract::{FromRequest, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
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
#[derive(Debug, Serialize)]
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
    /// Static host facts, or `null` until reported.
    pub host: Option<&'a protocol::HostInfo>,
    /// The latest metric sample, or `null` until reported.
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
#[derive(Debug, Serialize)]
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

impl From<BackendError> for ApiError {
    fn from(err: BackendError) -> Self {
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

/// The HTTP status a backend error maps to: `NotFound` → 404, anything else → 500.
pub fn backend_status(err: &BackendError) -> StatusCode {
    match err {
        BackendError::NotFound(_) => StatusCode::NOT_FOUND,
        BackendError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// `GET /api/v1/nodes`.
pub async fn nodes<B: Backend>(
    State(backend): State<Arc<B>>,
    _ctx: AuthContext,
) -> Result<Response, ApiError> {
    let nodes = backend.nodes().await?;
    let body: Vec<ApiNode<'_>> = nodes.iter().map(ApiNode::from).collect();
    Ok(Json(body).into_response())
}

/// `GET /api/v1/storage`: `{"data_bytes", "performance_bytes"}`.
pub async fn storage<B: Backend>(
    State(backend): State<Arc<B>>,
    _ctx: AuthContext,
) -> Result<Response, ApiError> {
    Ok(Json(backend.storage().await?).into_response())
}

/// `GET /api/v1/health`: `{"status":"ok"}` once the server answers.
pub async fn health() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

/// The 404 for any unknown path under `/api`.
pub fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "no such endpoint")
}
