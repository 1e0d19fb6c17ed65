//! Projects over the JSON API (names fixed by issue 12; the rules are the master's, behind
//! [`model::service::Projects`]):
//!
//! | route | does |
//! |---|---|
//! | `POST /api/v1/projects` | create → 201 with the project and its `webhook_secret` (shown once) |
//! | `GET /api/v1/projects` | every project |
//! | `GET /api/v1/projects/{name}` | one project: replicas, status, gateway |
//! | `PUT /api/v1/projects/{name}` | any field; `{"image"}` starts an update |
//! | `DELETE /api/v1/projects/{name}` | remove it, its replicas and its gateway → 204 |
//! | `POST /api/v1/projects/{name}/scale` | `{"replicas"}` |
//! | `POST /api/v1/projects/{name}/rollback` | `{"revision"}`, or no body for the previous one |
//! | `POST /api/v1/projects/{name}/pause`, `/resume`, `/promote` | rollout control |
//! | `GET /api/v1/projects/{name}/revisions` | the kept revisions ([`revisions`]) |
//! | `GET /api/v1/projects/{name}/events` | the timeline; SSE with `Accept: text/event-stream` ([`events`]) |
//! | `POST /api/v1/projects/{name}/webhook` | the deploy webhook, signed, no session ([`webhook`]) |
//!
//! Errors are `{"error"}`: 400 naming the field, 401 (webhook signature), 404, 409, 503.
//! Standalone gateways are in [`crate::gateways`].

pub mod events;
pub mod revisions;
pub mod webhook;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, Path, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use model::project::ProjectInput;
use model::project::api::{ProjectFailure, ProjectPatch};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::api::ApiError;
use crate::auth::AuthContext;
use crate::state::AppState;

/// A projects failure as a JSON error: the status the master gives it, and the field
/// first for a 400 (`gateway.port: a port from 1 to 65535`). A store failure is logged.
pub fn failure(f: ProjectFailure) -> ApiError {
    let status = StatusCode::from_u16(f.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let message = match &f {
        ProjectFailure::Invalid(e) => format!("{}: {}", e.field, e.message),
        other => other.to_string(),
    };
    if status.is_server_error() {
        tracing::warn!(error = %message, "projects backend failed");
    }
    ApiError::new(status, message)
}

/// A JSON body of a projects route: only `Content-Type: application/json`; malformed
/// JSON, a missing or unknown field or a wrong type is a 400 whose message names the field
/// (serde's: "unknown field `imgae`", "missing field `image`").
#[derive(Debug)]
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        if !json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "expected Content-Type: application/json",
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(too_big)?;
        parse(&bytes).map(Body)
    }
}

/// A body that could not be read (too long) as a JSON error.
pub fn too_big(rej: BytesRejection) -> ApiError {
    ApiError::new(rej.status(), rej.body_text())
}

/// `bytes` as JSON `T`, or a 400 naming what is wrong and where (axum reads the body
/// with the path of the failing field: `replicas: invalid value: integer -1`).
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    Json::<T>::from_bytes(bytes)
        .map(|Json(v)| v)
        .map_err(|rej| ApiError::new(StatusCode::BAD_REQUEST, rej.body_text()))
}

/// Body of `POST /api/v1/projects/{name}/scale`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScaleRequest {
    /// Replicas wanted.
    pub replicas: u32,
}

/// Body of `POST /api/v1/projects/{name}/rollback` (the body may be left out).
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RollbackRequest {
    /// The revision to return to; the previous one when absent or `null`.
    #[serde(default)]
    pub revision: Option<u64>,
}

/// `POST /api/v1/projects`.
#[utoipa::path(
    post,
    path = "/api/v1/projects",
    operation_id = "post /api/v1/projects",
    tag = "projects",
    summary = "Create a project: `name`, `image`, `replicas` and `container_port` are required, everything else has a default (`{\"type\":\"http\",\"path\":\"/\"}` is a complete health check, `{\"node\":1,\"port\":12225}` a complete gateway). The answer holds the deploy webhook's secret, shown this once. Audited.",
    request_body = model::project::ProjectInput,
    responses(
        (status = 201, description = "Created.", body = model::project::api::CreatedProject),
        (status = "default", description = "An error; the body says what went wrong.", body = crate::api::ErrorBody),
    ),
)]
pub async fn create(
    State(state): State<AppState>,
    ctx: AuthContext,
    Body(input): Body<ProjectInput>,
) -> Result<Response, ApiError> {
    let created = state
        .services
        .projects
        .create(&ctx.caller(), input)
        .await
        .map_err(failure)?;
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

/// `GET /api/v1/projects`.
#[utoipa::path(
    get,
    path = "/api/v1/projects",
    operation_id = "get /api/v1/projects",
    tag = "projects",
    summary = "Every project by name, as `GET /api/v1/projects/{name}` shows each.",
    responses(
        (status = 200, description = "Done.", body = [model::project::api::ProjectView]),
        (status = "default", description = "An error; the body says what went wrong.", body = crate::api::ErrorBody),
    ),
)]
pub async fn list(State(state): State<AppState>, _ctx: AuthContext) -> Result<Response, ApiError> {
    let all = state.services.projects.list().await.map_err(failure)?;
    Ok(Json(all).into_response())
}

/// `GET /api/v1/projects/{name}`.
#[utoipa::path(
    get,
    path = "/api/v1/projects/{name}",
    operation_id = "get /api/v1/projects/{name}",
    tag = "projects",
    summary = "One project: image, revision, desired replicas, status (`deploying`, `ready`, `updating`, `rolling_back`, `paused` or `degraded`), the replicas as observed and the gateway with its upstreams.",
    params(("name" = String, Path, description = "Project name.")),
    responses(
        (status = 200, description = "Done.", body = model::project::api::ProjectView),
        (status = "default", description = "An error; the body says what went wrong.", body = crate::api::ErrorBody),
    ),
)]
pub async fn get(
    State(state): State<AppState>,
    _ctx: AuthContext,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let view = state.services.projects.get(&name).await.map_err(failure)?;
    Ok(Json(view).into_response())
}

/// `PUT /api/v1/projects/{name}`.
#[utoipa::path(
    put,
    path = "/api/v1/projects/{name}",
    operation_id = "put /api/v1/projects/{name}",
    tag = "projects",
    summary = "Change any field but the name; absent fields keep their value, `\"gateway\": null` removes the gateway. A change of what runs in the containers (image, env, cmd, volumes, resources, labels, port) makes a new revision and starts a rollout. Audited.",
    params(("name" = String, Path, description = "Project name.")),
    request_body = model::project::api::ProjectPatch,
    responses(
        (status = 200, description = "Done.", body = model::project::api::ProjectView),
        (status = "default", description = "An error; the body says what went wrong.", body = crate::api::ErrorBody),
    ),
)]
pub async fn update(
    State(state): State<AppState>,
    ctx: AuthContext,
    Path(name): Path<String>,
    Body(patch): Body<ProjectPatch>,
) -> Result<Response, ApiError> {
    let view = state
        .services
        .projects
        .update(&ctx.caller(), &name, patch)
        .await
        .map_err(failure)?;
    Ok(Json(view).into_response())
}

/// `DELETE /api/v1/projects/{name}`.
#[utoipa::path(
    delete,
    path = "/api/v1/projects/{name}",
    operation_id = "delete /api/v1/projects/{name}",
    tag = "projects",
    summary = "Delete a project: its replicas and its gateway are then removed. Audited.",
    params(("name" = String, Path, description = "Project name.")),
    responses(
        (status = 204, description = "Deleted."),
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
        .delete(&ctx.caller(), &name)
        .await
        .map_err(failure)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /api/v1/projects/{name}/scale`.
#[utoipa::path(
    post,
    path = "/api/v1/projects/{name}/scale",
    operation_id = "post /api/v1/projects/{name}/scale",
    tag = "projects",
    summary = "Change the replica count (the spread stays even). Audited.",
    params(("name" = String, Path, description = "Project name.")),
    request_body = crate::projects::ScaleRequest,
    responses(
        (status = 200, description = "Done.", body = model::project::api::ProjectView),
        (status = "default", description = "An error; the body says what went wrong.", body = crate::api::ErrorBody),
    ),
)]
pub async fn scale(
    State(state): State<AppState>,
    ctx: AuthContext,
    Path(name): Path<String>,
    Body(body): Body<ScaleRequest>,
) -> Result<Response, ApiError> {
    let view = state
        .services
        .projects
        .scale(&ctx.caller(), &name, body.replicas)
        .await
        .map_err(failure)?;
    Ok(Json(view).into_response())
}

/// `POST /api/v1/projects/{name}/rollback`.
#[utoipa::path(
    post,
    path = "/api/v1/projects/{name}/rollback",
    operation_id = "post /api/v1/projects/{name}/rollback",
    tag = "projects",
    summary = "Roll back to a kept revision (`{\"revision\": N}`), or to the previous one (no body, `{}` or `{\"revision\": null}`). Audited.",
    params(("name" = String, Path, description = "Project name.")),
    request_body(content = Option<crate::projects::RollbackRequest>, description = "Optional."),
    responses(
        (status = 200, description = "Done.", body = model::project::api::ProjectView),
        (status = "default", description = "An error; the body says what went wrong.", body = crate::api::ErrorBody),
    ),
)]
pub async fn rollback(
    State(state): State<AppState>,
    ctx: AuthContext,
    Path(name): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body.map_err(too_big)?;
    let request: RollbackRequest = if body.iter().all(u8::is_ascii_whitespace) {
        RollbackRequest::default()
    } else {
        parse(&body)?
    };
    let view = state
        .services
        .projects
        .rollback(&ctx.caller(), &name, request.revision)
        .await
        .map_err(failure)?;
    Ok(Json(view).into_response())
}

/// The rollout commands without a body.
#[derive(Debug, Clone, Copy)]
enum Command {
    Pause,
    Resume,
    Promote,
}

async fn command(
    state: &AppState,
    ctx: &AuthContext,
    name: &str,
    command: Command,
) -> Result<Response, ApiError> {
    let projects = &state.services.projects;
    let caller = ctx.caller();
    let view = match command {
        Command::Pause => projects.pause(&caller, name).await,
        Command::Resume => projects.resume(&caller, name).await,
        Command::Promote => projects.promote(&caller, name).await,
    }
    .map_err(failure)?;
    Ok(Json(view).into_response())
}

/// `POST /api/v1/projects/{name}/pause`.
#[utoipa::path(
    post,
    path = "/api/v1/projects/{name}/pause",
    operation_id = "post /api/v1/projects/{name}/pause",
    tag = "projects",
    summary = "Pause the rollout under way (409 when there is none). Audited.",
    params(("name" = String, Path, description = "Project name.")),
    responses(
        (status = 200, description = "Done.", body = model::project::api::ProjectView),
        (status = "default", description = "An error; the body says what went wrong.", body = crate::api::ErrorBody),
    ),
)]
pub async fn pause(
    State(state): State<AppState>,
    ctx: AuthContext,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    command(&state, &ctx, &name, Command::Pause).await
}

/// `POST /api/v1/projects/{name}/resume`.
#[utoipa::path(
    post,
    path = "/api/v1/projects/{name}/resume",
    operation_id = "post /api/v1/projects/{name}/resume",
    tag = "projects",
    summary = "Resume a paused rollout (409 when none is paused). Audited.",
    params(("name" = String, Path, description = "Project name.")),
    responses(
        (status = 200, description = "Done.", body = model::project::api::ProjectView),
        (status = "default", description = "An error; the body says what went wrong.", body = crate::api::ErrorBody),
    ),
)]
pub async fn resume(
    State(state): State<AppState>,
    ctx: AuthContext,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    command(&state, &ctx, &name, Command::Resume).await
}

/// `POST /api/v1/projects/{name}/promote`.
#[utoipa::path(
    post,
    path = "/api/v1/projects/{name}/promote",
    operation_id = "post /api/v1/projects/{name}/promote",
    tag = "projects",
    summary = "Promote the canaries of a rollout (409 when there is nothing to promote). Audited.",
    params(("name" = String, Path, description = "Project name.")),
    responses(
        (status = 200, description = "Done.", body = model::project::api::ProjectView),
        (status = "default", description = "An error; the body says what went wrong.", body = crate::api::ErrorBody),
    ),
)]
pub async fn promote(
    State(state): State<AppState>,
    ctx: AuthContext,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    command(&state, &ctx, &name, Command::Promote).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use model::Invalid;

    #[test]
    fn every_failure_has_its_status_and_a_400_names_the_field() {
        let cases = [
            (
                ProjectFailure::Invalid(Invalid::new("gateway.port", "a port from 1 to 65535")),
                StatusCode::BAD_REQUEST,
            ),
            (
                ProjectFailure::Unauthorized("unsigned".into()),
                StatusCode::UNAUTHORIZED,
            ),
            (
                ProjectFailure::NotFound("no project".into()),
                StatusCode::NOT_FOUND,
            ),
            (
                ProjectFailure::Conflict("port taken".into()),
                StatusCode::CONFLICT,
            ),
            (
                ProjectFailure::Store("disk".into()),
                StatusCode::INTERNAL_SERVER_ERROR,
            ),
            (
                ProjectFailure::Unavailable("node 2 is offline".into()),
                StatusCode::SERVICE_UNAVAILABLE,
            ),
        ];
        for (f, status) in cases {
            let error = failure(f.clone());
            assert_eq!(error.status, status, "{f:?}");
        }
        let error = failure(Invalid::new("gateway.port", "a port from 1 to 65535").into());
        assert_eq!(error.message, "gateway.port: a port from 1 to 65535");
    }

    #[test]
    fn type_errors_in_a_body_name_the_field() {
        let error = parse::<ScaleRequest>(br#"{"replicas": -1}"#).expect_err("negative");
        assert_eq!(error.status, StatusCode::BAD_REQUEST);
        assert!(error.message.contains("replicas"), "{}", error.message);
        let error = parse::<ScaleRequest>(b"{}").expect_err("missing");
        assert!(error.message.contains("replicas"), "{}", error.message);
    }
}
