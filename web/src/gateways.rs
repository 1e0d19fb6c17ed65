//! Gateways over the JSON API (the rules are the master's, behind
//! [`model::service::Projects`]):
//!
//! - `GET /api/v1/gateways`: every gateway, project-owned (`project/<name>`, upstreams =
//!   the project's healthy replicas) and standalone, each with its node, port, kind,
//!   upstreams and the per-upstream health and counters its slave last reported (`stats`,
//!   `null` before any report).
//! - `POST /api/v1/gateways`: create a standalone gateway → 201.
//! - `PUT /api/v1/gateways/{name}`: change one (any field but the name).
//! - `DELETE /api/v1/gateways/{name}`: remove one → 204.
//!
//! A port already used on that node by another gateway is a 409, an unknown node a 400.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use model::project::gateway::{StandaloneGatewayInput, StandaloneGatewayPatch};

use crate::api::ApiError;
use crate::auth::AuthContext;
use crate::projects::{Body, failure};
use crate::state::AppState;

/// `GET /api/v1/gateways`.
#[utoipa::path(
    get,
    path = "/api/v1/gateways",
    operation_id = "get /api/v1/gateways",
    tag = "gateways",
    summary = "Every gateway: the projects' (named `project/<name>`, upstreams = the project's healthy replicas), then the standalone ones, each with node, port, kind, upstreams and `stats` (per-upstream health and counters as its slave last reported them; `null` before any report).",
    responses(
        (status = 200, description = "Done.", body = [model::project::gateway::GatewayListing]),
        (status = "default", description = "An error; the body says what went wrong.", body = crate::api::ErrorBody),
    ),
)]
pub async fn list(State(state): State<AppState>, _ctx: AuthContext) -> Result<Response, ApiError> {
    let all = state.services.projects.gateways().await.map_err(failure)?;
    Ok(Json(all).into_response())
}

/// `POST /api/v1/gateways`.
#[utoipa::path(
    post,
    path = "/api/v1/gateways",
    operation_id = "post /api/v1/gateways",
    tag = "gateways",
    summary = "Create a standalone gateway with fixed upstreams (`IP:PORT` each) on one slave; a port already used on that slave is a 409, an unknown slave a 400. Audited.",
    request_body = model::project::gateway::StandaloneGatewayInput,
    responses(
        (status = 201, description = "Created.", body = model::project::gateway::GatewayListing),
        (status = "default", description = "An error; the body says what went wrong.", body = crate::api::ErrorBody),
    ),
)]
pub async fn create(
    State(state): State<AppState>,
    ctx: AuthContext,
    Body(input): Body<StandaloneGatewayInput>,
) -> Result<Response, ApiError> {
    let created = state
        .services
        .projects
        .create_gateway(&ctx.caller(), input)
        .await
        .map_err(failure)?;
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

/// `PUT /api/v1/gateways/{name}`.
#[utoipa::path(
    put,
    path = "/api/v1/gateways/{name}",
    operation_id = "put /api/v1/gateways/{name}",
    tag = "gateways",
    summary = "Change a standalone gateway: any field but the name; absent fields keep their value, `null` removes a per-IP limit. Audited.",
    params(("name" = String, Path, description = "Gateway name.")),
    request_body = model::project::gateway::StandaloneGatewayPatch,
    responses(
        (status = 200, description = "Done.", body = model::project::gateway::GatewayListing),
        (status = "default", description = "An error; the body says what went wrong.", body = crate::api::ErrorBody),
    ),
)]
pub async fn update(
    State(state): State<AppState>,
    ctx: AuthContext,
    Path(name): Path<String>,
    Body(patch): Body<StandaloneGatewayPatch>,
) -> Result<Response, ApiError> {
    let updated = state
        .services
        .projects
        .update_gateway(&ctx.caller(), &name, patch)
        .await
        .map_err(failure)?;
    Ok(Json(updated).into_response())
}

/// `DELETE /api/v1/gateways/{name}`.
#[utoipa::path(
    delete,
    path = "/api/v1/gateways/{name}",
    operation_id = "delete /api/v1/gateways/{name}",
    tag = "gateways",
    summary = "Remove a standalone gateway (its slave then stops it). Audited.",
    params(("name" = String, Path, description = "Gateway name.")),
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
        .projects
        .delete_gateway(&ctx.caller(), &name)
        .await
        .map_err(failure)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
