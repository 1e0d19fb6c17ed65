//! `GET /api/v1/tasks/events`: task changes as Server-Sent Events, so the Records page and
//! the Docker page's pull and import progress update without polling.
//!
//! Each `task` event carries one task as JSON, the same shape as `GET /api/v1/tasks/{id}`:
//! when it is created (`queued`), when it starts, as its progress moves (at most a few
//! times a second per task, see the master's `ops` module) and when it ends. A client that
//! fell behind gets a `resync` event (data: how many updates it lost) and should refetch
//! `GET /api/v1/tasks`; a client should also fetch once when the stream opens, since
//! events before that are not replayed. The stream ends with an `end` event when the
//! session ends, and closes when the master shuts down.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use axum::response::sse::Event;

use super::OpsError;
use crate::auth::AuthContext;
use crate::sse::{self, Feed, Got};
use crate::state::AppState;
use model::ops::OpFailure;

/// `GET /api/v1/tasks/events`.
#[utoipa::path(
    get,
    path = "/api/v1/tasks/events",
    operation_id = "get /api/v1/tasks/events",
    tag = "tasks",
    summary = "Server-Sent Events: a `task` event (a Task) whenever a task is created, starts, progresses or ends; `resync` when the client fell behind (refetch the list); `end` when the session ended.",
    responses(
        (status = 200, description = "Done.", body = String, content_type = "text/event-stream"),
        (status = "default", description = "An error; the body says what went wrong.", body = crate::api::ErrorBody),
    ),
)]
pub async fn events(State(state): State<AppState>, ctx: AuthContext) -> Result<Response, OpsError> {
    let Some(rx) = state.services.ops.task_events() else {
        return Err(OpsError::from(OpFailure::Unavailable(
            "task events are not available on this server".into(),
        )));
    };
    let feed = Feed::new(rx, Arc::clone(&state.auth), ctx.auth);
    let events = futures_lite::stream::unfold(feed, |mut feed| async move {
        loop {
            let event = match feed.next().await? {
                Got::Item(task) => sse::json_event("task", &task),
                Got::Lagged(lost) => Some(Event::default().event("resync").data(lost.to_string())),
                Got::End(end) => Some(end),
            };
            if let Some(event) = event {
                return Some((event, feed));
            }
        }
    });
    Ok(sse::respond(events))
}
