//! Tasks over REST: long operations (image pulls, deployments, image imports) that run in
//! the background on the master (see [`model::task`]).
//!
//! - `GET /api/v1/tasks?node=&state=&limit=&before=`: tasks, newest first (`before` is a
//!   task id: only older tasks).
//! - `GET /api/v1/tasks/{id}`: one task.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use model::ops::OpFailure;
use model::task::{DEFAULT_TASKS, MAX_TASKS, TaskQuery, TaskState};

use super::{OpsError, PathParams, QueryParams};
use crate::auth::AuthContext;
use crate::state::AppState;

/// `GET /api/v1/tasks`.
#[utoipa::path(
    get,
    path = "/api/v1/tasks",
    operation_id = "get /api/v1/tasks",
    tag = "tasks",
    summary = "Tasks (pulls, deployments, imports), newest first.",
    params(
        ("node" = Option<u64>, Query, description = "Only this node."),
        ("state" = Option<String>, Query, description = "queued, running, succeeded, failed or timed_out."),
        ("before" = Option<u64>, Query, description = "Only tasks with a smaller id (paging)."),
        ("limit" = Option<u64>, Query, description = "1..=500, default 50."),
    ),
    responses(
        (status = 200, description = "Done.", body = [model::task::TaskRecord]),
        (status = "default", description = "An error; the body says what went wrong.", body = crate::api::ErrorBody),
    ),
)]
pub async fn list(
    State(state): State<AppState>,
    _ctx: AuthContext,
    query: QueryParams,
) -> Result<Response, OpsError> {
    let limit = query.u32("limit")?.map_or(DEFAULT_TASKS, |n| n as usize);
    if !(1..=MAX_TASKS).contains(&limit) {
        return Err(OpsError::bad(
            "limit",
            format!("must be in 1..={MAX_TASKS}"),
        ));
    }
    let wanted_state = match query.text("state") {
        None => None,
        Some(s) => Some(TaskState::parse(s).ok_or_else(|| {
            OpsError::bad(
                "state",
                "must be queued, running, succeeded, failed or timed_out",
            )
        })?),
    };
    let q = TaskQuery {
        node: query.u64("node")?,
        state: wanted_state,
        before: query.u64("before")?,
        limit,
    };
    let tasks = state.services.ops.tasks(q).await.map_err(OpsError::from)?;
    Ok(Json(tasks).into_response())
}

/// `GET /api/v1/tasks/{id}`.
#[utoipa::path(
    get,
    path = "/api/v1/tasks/{id}",
    operation_id = "get /api/v1/tasks/{id}",
    tag = "tasks",
    summary = "One task: state, progress, result or error.",
    params(
        ("id" = u64, Path, description = "Task id."),
    ),
    responses(
        (status = 200, description = "Done.", body = model::task::TaskRecord),
        (status = "default", description = "An error; the body says what went wrong.", body = crate::api::ErrorBody),
    ),
)]
pub async fn get(
    State(state): State<AppState>,
    _ctx: AuthContext,
    params: PathParams,
) -> Result<Response, OpsError> {
    let raw = params.text("id")?;
    let missing = || OpsError::from(OpFailure::NotFound(format!("no task {raw:?}")));
    let id: u64 = raw.parse().map_err(|_| missing())?;
    match state.services.ops.task(id).await.map_err(OpsError::from)? {
        Some(task) => Ok(Json(task).into_response()),
        None => Err(missing()),
    }
}
