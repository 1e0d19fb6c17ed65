//! `GET /api/v1/projects/{name}/revisions`: the kept revisions, oldest first, each as the
//! input that makes it (registry passwords left out), the current one marked.

use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};

use super::failure;
use crate::api::ApiError;
use crate::auth::AuthContext;
use crate::state::AppState;

/// `GET /api/v1/projects/{name}/revisions`.
#[utoipa::path(
    get,
    path = "/api/v1/projects/{name}/revisions",
    operation_id = "get /api/v1/projects/{name}/revisions",
    tag = "projects",
    summary = "The kept revisions, oldest first, each with its specification (registry passwords left out); `current` marks the one the project converges to.",
    params(("name" = String, Path, description = "Project name.")),
    responses(
        (status = 200, description = "Done.", body = [model::project::api::RevisionView]),
        (status = "default", description = "An error; the body says what went wrong.", body = crate::api::ErrorBody),
    ),
)]
pub async fn list(
    State(state): State<AppState>,
    _ctx: AuthContext,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let revisions = state
        .services
        .projects
        .revisions(&name)
        .await
        .map_err(failure)?;
    Ok(Json(revisions).into_response())
}
