//! API tokens over the JSON API (`/api/v1/tokens`), and the shapes the tokens page shares.
//!
//! - `POST /api/v1/tokens` with `{"name", "scopes", "expires_in_days"}` → 201 with the
//!   token (`cmdr_…`) in `token`: shown this once, only its hash is stored.
//!   `expires_in_days` is required: 1 to 3650, or `null` for a token that never expires.
//! - `GET /api/v1/tokens` → every token without secret or hash, newest first.
//! - `DELETE /api/v1/tokens/{id}` → 204; the token is refused from the next request on.
//!
//! Only a console session or an admin-scoped token may call them (the route table's
//! `admin_api`; the master checks again). The rules and the audit entries are the
//! master's, behind [`model::service::Accounts`].

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Deserializer, Serialize};

use model::token::{ApiToken, CreatedApiToken, NewApiToken, Scope, TokenFailure};

use crate::api::{ApiError, ApiJson};
use crate::auth::AuthContext;
use crate::format::format_rfc3339_ms;
use crate::state::AppState;

/// Body of `POST /api/v1/tokens`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct NewTokenRequest {
    /// What the token is for, 1 to 64 characters.
    pub name: String,
    /// `read`, `operate` and/or `admin` (the highest counts); at least one.
    pub scopes: Vec<String>,
    /// Days until it expires, 1 to 3650, or `null` for a token that never expires. Required.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>, required = true)]
    pub expires_in_days: Option<Option<i64>>,
}

/// `Some(value)` for a field that is present (`Some(None)` for `null`), so that a missing
/// field (`None`, the default) can be told from `null`.
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<i64>>, D::Error> {
    Option::<i64>::deserialize(d).map(Some)
}

/// One API token as listed: never its secret or hash.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = ApiToken)]
pub struct TokenView {
    /// Its id (part of the token).
    pub id: String,
    /// What it is for.
    pub name: String,
    /// Its scopes.
    pub scopes: Vec<Scope>,
    /// Who created it; requests made with it act as this user.
    pub creator: String,
    /// Creation, Unix ms.
    pub created_at_ms: u64,
    /// Creation, RFC 3339.
    pub created_at: Option<String>,
    /// Expiry, Unix ms; `null`: never.
    pub expires_at_ms: Option<u64>,
    /// Expiry, RFC 3339; `null`: never.
    pub expires_at: Option<String>,
    /// Last accepted use, Unix ms (written at most once a minute); `null`: never used.
    pub last_used_at_ms: Option<u64>,
    /// Last accepted use, RFC 3339.
    pub last_used_at: Option<String>,
    /// Whether it has expired.
    pub expired: bool,
}

impl TokenView {
    /// The view of `token` at `now_ms`.
    pub fn new(token: &ApiToken, now_ms: u64) -> Self {
        Self {
            id: token.id.clone(),
            name: token.name.clone(),
            scopes: token.scopes.clone(),
            creator: token.creator.clone(),
            created_at_ms: token.created_at_ms,
            created_at: format_rfc3339_ms(token.created_at_ms),
            expires_at_ms: token.expires_at_ms,
            expires_at: token.expires_at_ms.and_then(format_rfc3339_ms),
            last_used_at_ms: token.last_used_at_ms,
            last_used_at: token.last_used_at_ms.and_then(format_rfc3339_ms),
            expired: token.expired(now_ms),
        }
    }
}

/// Answer of `POST /api/v1/tokens`: the token's fields and, this once, the token itself.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedToken {
    /// The whole token, `cmdr_<id>_<secret>`: send it as `Authorization: Bearer`. It is not
    /// stored and never shown again.
    pub token: String,
    /// The token's fields.
    #[serde(flatten)]
    pub view: TokenView,
}

/// The HTTP status of a token failure, the same for the page and the JSON API.
pub fn status_of(f: &TokenFailure) -> StatusCode {
    match f {
        TokenFailure::Invalid(_) => StatusCode::BAD_REQUEST,
        TokenFailure::Forbidden => StatusCode::FORBIDDEN,
        TokenFailure::NotFound(_) => StatusCode::NOT_FOUND,
        TokenFailure::TooMany => StatusCode::CONFLICT,
        TokenFailure::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// A token failure as a JSON error (an internal one is logged).
pub fn failure(f: TokenFailure) -> ApiError {
    if let TokenFailure::Internal(e) = &f {
        tracing::error!("API tokens: {e}");
    }
    ApiError::new(status_of(&f), f.to_string())
}

/// Checks a create request.
pub fn parse_request(body: &NewTokenRequest) -> Result<NewApiToken, ApiError> {
    let Some(days) = body.expires_in_days else {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "expires_in_days is required: a whole number of days from 1 to 3650, or null for a token that never expires",
        ));
    };
    NewApiToken::parse(&body.name, &body.scopes, days)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.message))
}

/// The answer of a created token.
pub fn created(created: &CreatedApiToken, now_ms: u64) -> CreatedToken {
    CreatedToken {
        token: created.secret.clone(),
        view: TokenView::new(&created.token, now_ms),
    }
}

/// `POST /api/v1/tokens`.
#[utoipa::path(
    post,
    path = "/api/v1/tokens",
    operation_id = "post /api/v1/tokens",
    tag = "tokens",
    summary = "Create an API token for scripts and CI; the answer holds the token, shown this once (only its hash is stored). Audited.",
    request_body = crate::tokens::NewTokenRequest,
    responses(
        (status = 201, description = "Created.", body = crate::tokens::CreatedToken),
        (status = "default", description = "An error; the body says what went wrong.", body = crate::api::ErrorBody),
    ),
)]
pub async fn create(
    State(state): State<AppState>,
    ctx: AuthContext,
    ApiJson(body): ApiJson<NewTokenRequest>,
) -> Result<Response, ApiError> {
    let new = parse_request(&body)?;
    let made = state
        .services
        .accounts
        .create_api_token(&ctx.auth, new, ctx.client)
        .await
        .map_err(failure)?;
    let now = state.auth.now_ms();
    Ok((StatusCode::CREATED, Json(created(&made, now))).into_response())
}

/// `GET /api/v1/tokens`.
#[utoipa::path(
    get,
    path = "/api/v1/tokens",
    operation_id = "get /api/v1/tokens",
    tag = "tokens",
    summary = "Every API token, newest first, without secrets or hashes.",
    responses(
        (status = 200, description = "Done.", body = [crate::tokens::TokenView]),
        (status = "default", description = "An error; the body says what went wrong.", body = crate::api::ErrorBody),
    ),
)]
pub async fn list(State(state): State<AppState>, ctx: AuthContext) -> Result<Response, ApiError> {
    let tokens = state
        .services
        .accounts
        .api_tokens(&ctx.auth)
        .await
        .map_err(failure)?;
    let now = state.auth.now_ms();
    let views: Vec<TokenView> = tokens.iter().map(|t| TokenView::new(t, now)).collect();
    Ok(Json(views).into_response())
}

/// `DELETE /api/v1/tokens/{id}`.
#[utoipa::path(
    delete,
    path = "/api/v1/tokens/{id}",
    operation_id = "delete /api/v1/tokens/{id}",
    tag = "tokens",
    summary = "Revoke an API token: the next request with it is refused (401). Audited.",
    params(
        ("id" = String, Path, description = "Token id."),
    ),
    responses(
        (status = 204, description = "Revoked."),
        (status = "default", description = "An error; the body says what went wrong.", body = crate::api::ErrorBody),
    ),
)]
pub async fn revoke(
    State(state): State<AppState>,
    ctx: AuthContext,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    state
        .services
        .accounts
        .revoke_api_token(&ctx.auth, &id, ctx.client)
        .await
        .map_err(failure)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
