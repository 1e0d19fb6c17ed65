//! Alert notification channels over the JSON API (the rules are the master's, behind
//! [`model::channel::Channels`]):
//!
//! - `GET /api/v1/alerts/channels`: every channel ([`model::channel::ChannelView`]: never a secret,
//!   password or full webhook address; `secret_set`, `password_set` say whether one is
//!   stored).
//! - `POST /api/v1/alerts/channels`: create one → 201.
//! - `GET`, `PUT`, `DELETE /api/v1/alerts/channels/{name}`: one channel; a PUT replaces it,
//!   an absent `url`, `secret` or `password` keeping the stored one; a DELETE answers 204.
//! - `POST /api/v1/alerts/channels/{name}/test`: one attempt of a test notification,
//!   answered with its [`model::channel::DeliveryRecord`] (200 whether it was delivered or not).
//! - `GET /api/v1/alerts/deliveries?channel=&limit=`: recent deliveries (every channel, or
//!   one), newest first.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use model::channel::{ChannelFailure, ChannelInput, DeliveryQuery};

use crate::api::{ApiError, bad_query};
use crate::auth::AuthContext;
use crate::projects::Body;
use crate::state::AppState;

/// A channels failure as a JSON error; an invalid field reads `field: message`.
pub fn failure(f: ChannelFailure) -> ApiError {
    let status = StatusCode::from_u16(f.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let message = match &f {
        ChannelFailure::Invalid(e) => format!("{}: {}", e.field, e.message),
        other => other.to_string(),
    };
    if status.is_server_error() {
        tracing::warn!(error = %message, "channels backend failed");
    }
    ApiError::new(status, message)
}

/// `GET /api/v1/alerts/channels`.
#[utoipa::path(
    get,
    path = "/api/v1/alerts/channels",
    operation_id = "get /api/v1/alerts/channels",
    tag = "alerts",
    summary = "Every notification channel, by name. Secrets, passwords and the webhook addresses' paths (robot tokens) are never shown: `secret_set`, `password_set`, `url_set` and `url_origin` say what is stored.",
    responses(
        (status = 200, description = "Done.", body = [model::channel::ChannelView]),
        (status = "default", description = "An error; the body says what went wrong.", body = crate::api::ErrorBody),
    ),
)]
pub async fn list(State(state): State<AppState>, _ctx: AuthContext) -> Result<Response, ApiError> {
    let all = state.services.channels.list().await.map_err(failure)?;
    Ok(Json(all).into_response())
}

/// `POST /api/v1/alerts/channels`.
#[utoipa::path(
    post,
    path = "/api/v1/alerts/channels",
    operation_id = "post /api/v1/alerts/channels",
    tag = "alerts",
    summary = "Create a notification channel: `name` (1..=64 of `[A-Za-z0-9_.-]`), `type` and the type's fields: `webhook` (`url`, `secret`), `email` (`host`, `port`, `security` `starttls`|`tls`|`none` (loopback only), `username`, `password`, `from`, `to`), `dingtalk` (`url`, `secret`), `wecom` (`url`), `feishu` (`url`, optional `secret`). A taken name is a 409. Audited.",
    request_body = model::channel::ChannelInput,
    responses(
        (status = 201, description = "Created.", body = model::channel::ChannelView),
        (status = "default", description = "An error; the body says what went wrong.", body = crate::api::ErrorBody),
    ),
)]
pub async fn create(
    State(state): State<AppState>,
    ctx: AuthContext,
    Body(input): Body<ChannelInput>,
) -> Result<Response, ApiError> {
    let created = state
        .services
        .channels
        .create(&ctx.caller(), input)
        .await
        .map_err(failure)?;
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

/// `GET /api/v1/alerts/channels/{name}`.
#[utoipa::path(
    get,
    path = "/api/v1/alerts/channels/{name}",
    operation_id = "get /api/v1/alerts/channels/{name}",
    tag = "alerts",
    summary = "One notification channel (no secret shown).",
    params(("name" = String, Path, description = "Channel name.")),
    responses(
        (status = 200, description = "Done.", body = model::channel::ChannelView),
        (status = "default", description = "An error; the body says what went wrong.", body = crate::api::ErrorBody),
    ),
)]
pub async fn get(
    State(state): State<AppState>,
    _ctx: AuthContext,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let one = state.services.channels.get(&name).await.map_err(failure)?;
    Ok(Json(one).into_response())
}

/// `PUT /api/v1/alerts/channels/{name}`.
#[utoipa::path(
    put,
    path = "/api/v1/alerts/channels/{name}",
    operation_id = "put /api/v1/alerts/channels/{name}",
    tag = "alerts",
    summary = "Replace a notification channel (same fields as the create; `name` may be left out and cannot change). An absent `url`, `secret` or `password` keeps the stored one while the type stays the same. Audited.",
    params(("name" = String, Path, description = "Channel name.")),
    request_body = model::channel::ChannelInput,
    responses(
        (status = 200, description = "Done.", body = model::channel::ChannelView),
        (status = "default", description = "An error; the body says what went wrong.", body = crate::api::ErrorBody),
    ),
)]
pub async fn update(
    State(state): State<AppState>,
    ctx: AuthContext,
    Path(name): Path<String>,
    Body(input): Body<ChannelInput>,
) -> Result<Response, ApiError> {
    let updated = state
        .services
        .channels
        .update(&ctx.caller(), &name, input)
        .await
        .map_err(failure)?;
    Ok(Json(updated).into_response())
}

/// `DELETE /api/v1/alerts/channels/{name}`.
#[utoipa::path(
    delete,
    path = "/api/v1/alerts/channels/{name}",
    operation_id = "delete /api/v1/alerts/channels/{name}",
    tag = "alerts",
    summary = "Remove a notification channel; rules still naming it record failed deliveries. Audited.",
    params(("name" = String, Path, description = "Channel name.")),
    responses(
        (status = 204, description = "Removed."),
        (status = "default", description = "An error; the body says what went wrong.", body = crate::api::ErrorBody),
    ),
)]
pub async fn delete(
    State(state): State<AppState>,
    ctx: AuthContext,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    state
        .services
        .channels
        .delete(&ctx.caller(), &name)
        .await
        .map_err(failure)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /api/v1/alerts/channels/{name}/test`.
#[utoipa::path(
    post,
    path = "/api/v1/alerts/channels/{name}/test",
    operation_id = "post /api/v1/alerts/channels/{name}/test",
    tag = "alerts",
    summary = "Send a test notification now (one attempt, at most about 20 s) and answer its delivery: `outcome` `delivered` or `failed` with `last_error`. Recorded in the deliveries and audited.",
    params(("name" = String, Path, description = "Channel name.")),
    responses(
        (status = 200, description = "Tried.", body = model::channel::DeliveryRecord),
        (status = "default", description = "An error; the body says what went wrong.", body = crate::api::ErrorBody),
    ),
)]
pub async fn test(
    State(state): State<AppState>,
    ctx: AuthContext,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let record = state
        .services
        .channels
        .test(&ctx.caller(), &name)
        .await
        .map_err(failure)?;
    Ok(Json(record).into_response())
}

/// `GET /api/v1/alerts/deliveries`.
#[utoipa::path(
    get,
    path = "/api/v1/alerts/deliveries",
    operation_id = "get /api/v1/alerts/deliveries",
    tag = "alerts",
    summary = "Recent notification deliveries (tests included), newest first: channel, alert, status, outcome (`pending`, `delivered`, `failed`), attempts, last error, times. The master keeps the newest 1000 in memory.",
    params(DeliveryQuery),
    responses(
        (status = 200, description = "Done.", body = [model::channel::DeliveryRecord]),
        (status = "default", description = "An error; the body says what went wrong.", body = crate::api::ErrorBody),
    ),
)]
pub async fn deliveries(
    State(state): State<AppState>,
    _ctx: AuthContext,
    query: Result<Query<DeliveryQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(bad_query)?;
    let list = state
        .services
        .channels
        .deliveries(query)
        .await
        .map_err(failure)?;
    Ok(Json(list).into_response())
}
