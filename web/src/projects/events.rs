//! `GET /api/v1/projects/{name}/events`: a project's timeline (scheduled, started,
//! healthy, drained, rolled back, rescheduled, ...), oldest first, as a JSON array of
//! [`ProjectEvent`]; with `Accept: text/event-stream`, Server-Sent Events instead:
//!
//! - `timeline` first: the timeline so far (a JSON array);
//! - `event` for each new event of this project (a [`ProjectEvent`]) as it happens;
//! - `timeline` again after the client fell behind, instead of the events it lost;
//! - `end` when the session ended; the stream closes when the master shuts down.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::Event;
use axum::response::{IntoResponse, Response};
use model::project::api::ProjectEvent;
use model::service::Projects;

use super::failure;
use crate::api::ApiError;
use crate::auth::AuthContext;
use crate::sse::{self, Feed, Got};
use crate::state::AppState;

/// Whether the client asked for Server-Sent Events.
fn wants_stream(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("text/event-stream"))
}

/// The `timeline` event: the project's events so far; `None` (logged) when they cannot be
/// read.
async fn timeline_event(projects: &dyn Projects, name: &str) -> Option<Event> {
    match projects.events(name).await {
        Ok(list) => sse::json_event("timeline", &list),
        Err(e) => {
            tracing::debug!(project = name, "no timeline to resend: {e}");
            None
        }
    }
}

/// `GET /api/v1/projects/{name}/events`.
#[utoipa::path(
    get,
    path = "/api/v1/projects/{name}/events",
    operation_id = "get /api/v1/projects/{name}/events",
    tag = "projects",
    summary = "The project's timeline, oldest first. With `Accept: text/event-stream`: Server-Sent Events, first `timeline` (the events so far, an array of ProjectEvent), then `event` (a ProjectEvent) as each happens, a fresh `timeline` after the client fell behind, `end` when the session ended.",
    params(("name" = String, Path, description = "Project name.")),
    responses(
        (status = 200, description = "Done.", body = [model::project::api::ProjectEvent]),
        (status = "default", description = "An error; the body says what went wrong.", body = crate::api::ErrorBody),
    ),
)]
pub async fn events(
    State(state): State<AppState>,
    ctx: AuthContext,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let projects = Arc::clone(&state.services.projects);
    if !wants_stream(&headers) {
        let list = projects.events(&name).await.map_err(failure)?;
        return Ok(Json(list).into_response());
    }
    // Subscribe before the snapshot: nothing between the two is lost (an event in both
    // is shown twice, and carries its time).
    let Some(rx) = projects.live_events() else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "project events are not available (the master is shutting down)",
        ));
    };
    let list = projects.events(&name).await.map_err(failure)?;
    let first = sse::json_event("timeline", &list);
    let feed = Feed::new(rx, Arc::clone(&state.auth), ctx.auth);
    let stream = futures_lite::stream::unfold(
        (feed, first, projects, name),
        |(mut feed, mut first, projects, name)| async move {
            if let Some(event) = first.take() {
                return Some((event, (feed, None, projects, name)));
            }
            loop {
                let event = match feed.next().await? {
                    Got::Item((project, event)) if project == name => own_event(&event),
                    Got::Item(_) => None,
                    Got::Lagged(_) => timeline_event(projects.as_ref(), &name).await,
                    Got::End(end) => Some(end),
                };
                if let Some(event) = event {
                    return Some((event, (feed, None, projects, name)));
                }
            }
        },
    );
    Ok(sse::respond(stream))
}

fn own_event(event: &ProjectEvent) -> Option<Event> {
    sse::json_event("event", event)
}
