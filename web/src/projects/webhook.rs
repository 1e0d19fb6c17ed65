//! `POST /api/v1/projects/{name}/webhook`: the deploy webhook CI calls with
//! `{"image": "repo:tag"}`. No session and no API token: the call is authenticated by its
//! `X-Commander-Signature: sha256=<hex>` header alone (HMAC-SHA256 of the raw body under
//! the project's webhook secret), checked by the master, which refuses an unsigned,
//! forged or replayed call (401) and audits every call. The body is read raw, at most
//! [`MAX_WEBHOOK_BODY`] bytes: a longer one is refused (413) before it is read, and
//! audited too.

use axum::Extension;
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use model::audit::{AuditEntry, AuditResult};
pub use model::project::api::MAX_WEBHOOK_BODY;

use super::{failure, too_big};
use crate::api::ApiError;
use crate::auth::ClientAddr;
use crate::state::AppState;

/// The header carrying the signature.
pub const SIGNATURE_HEADER: &str = "x-commander-signature";

/// The route's body limit.
pub fn body_limit() -> DefaultBodyLimit {
    DefaultBodyLimit::max(MAX_WEBHOOK_BODY)
}

/// `POST /api/v1/projects/{name}/webhook`.
#[utoipa::path(
    post,
    path = "/api/v1/projects/{name}/webhook",
    operation_id = "post /api/v1/projects/{name}/webhook",
    tag = "projects",
    summary = "Deploy webhook for CI: `{\"image\": \"repo:tag\"}` starts a rollout of that image. No session or token: authenticated by `X-Commander-Signature: sha256=<hex>`, the HMAC-SHA256 of the raw body (at most 4 KiB) under the project's webhook secret; an unsigned, forged or replayed call is refused (401). Every call is audited.",
    params(
        ("name" = String, Path, description = "Project name."),
        ("X-Commander-Signature" = String, Header, description = "`sha256=` and the lowercase hex HMAC-SHA256 of the raw body under the webhook secret."),
    ),
    request_body(content = String, description = "`{\"image\": \"repo:tag\"}`, signed as sent.", content_type = "application/json"),
    responses(
        (status = 200, description = "The rollout started.", body = model::project::api::ProjectView),
        (status = "default", description = "An error; the body says what went wrong.", body = crate::api::ErrorBody),
    ),
)]
pub async fn deploy(
    State(state): State<AppState>,
    Extension(ClientAddr(client)): Extension<ClientAddr>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let client = client.to_string();
    let body = match body {
        Ok(body) => body,
        Err(rejection) => {
            let error = too_big(rejection);
            let entry = AuditEntry::new(
                "webhook",
                "project.webhook",
                &format!("project/{name}"),
                &client,
                AuditResult::Denied,
                error.message.clone(),
            );
            state.services.audit.record(entry).await;
            return Err(error);
        }
    };
    // A header that is not text is as good as none (the master refuses it).
    let signature = headers
        .get(SIGNATURE_HEADER)
        .map(|v| v.to_str().unwrap_or_default());
    let view = state
        .services
        .projects
        .webhook(&client, &name, signature, &body)
        .await
        .map_err(failure)?;
    Ok(Json(view).into_response())
}
