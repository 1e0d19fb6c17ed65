//! Alerts over REST (the records and rules are in [`model::alert`]):
//!
//! - `GET /api/v1/alerts?limit=&before=`: the active alerts and one page of the history,
//!   newest first ([`model::alert::AlertList`]; `next` is the `before` of the next page).
//! - `GET /api/v1/alerts/events`: Server-Sent Events. First an `active` event (the active
//!   alerts, a JSON array), then an `alert` event (an [`AlertRecord`]) each time one fires
//!   or resolves. A client that fell behind gets a fresh `active` event instead of the
//!   updates it lost. It ends with `end` when the session ends, and closes at shutdown.
//!
//! The `/alerts` page is in [`crate::alerts_page`].

use model::service::Cluster;
use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequestParts, Query};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::sse::Event;
use axum::response::{IntoResponse, Response};
pub use model::alert::{
    AlertList, AlertParams, AlertQuery, AlertRecord, AlertRule, AlertState, Resolution,
};

use crate::api::{ApiError, bad_query};
use crate::auth::AuthContext;
use crate::sse::{self, Feed, Got};
use crate::state::AppState;

/// The parameters of a request, with a malformed query string answered as a JSON 400.
pub struct Params(pub AlertQuery);

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let query: Result<Query<AlertParams>, QueryRejection> =
            Query::from_request_parts(parts, state).await;
        let Query(params) = query.map_err(bad_query)?;
        params
            .to_query()
            .map(Params)
            .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.message))
    }
}

/// `GET /api/v1/alerts`.
#[utoipa::path(
    get,
    path = "/api/v1/alerts",
    operation_id = "get /api/v1/alerts",
    tag = "alerts",
    summary = "The alerts firing now and one page of the alert history (fired and resolved), newest first.",
    params(
        ("before" = Option<u64>, Query, description = "Only alerts with a smaller id: the `next` of the previous page."),
        ("limit" = Option<u64>, Query, description = "History entries, 0..=500 (default 50; 0: the active alerts only)."),
    ),
    responses(
        (status = 200, description = "Done.", body = model::alert::AlertList),
        (status = "default", description = "An error; the body says what went wrong.", body = crate::api::ErrorBody),
    ),
)]
pub async fn list(
    State(state): State<AppState>,
    _ctx: AuthContext,
    Params(query): Params,
) -> Result<Response, ApiError> {
    Ok(Json(state.services.cluster.alerts(query).await?).into_response())
}

/// The `active` event: the alerts firing now.
async fn active_event(backend: &dyn Cluster) -> Option<Event> {
    let query = AlertQuery {
        before: None,
        limit: 0,
        ..Default::default()
    };
    match backend.alerts(query).await {
        Ok(list) => sse::json_event("active", &list.active),
        Err(e) => {
            tracing::warn!("cannot list the active alerts: {e}");
            None
        }
    }
}

/// `GET /api/v1/alerts/events`.
#[utoipa::path(
    get,
    path = "/api/v1/alerts/events",
    operation_id = "get /api/v1/alerts/events",
    tag = "alerts",
    summary = "Server-Sent Events: first `active` (the alerts firing now, an array of Alert), then an `alert` event (an Alert) each time one fires or resolves; a fresh `active` after the client fell behind; `end` when the session ended.",
    responses(
        (status = 200, description = "Done.", body = String, content_type = "text/event-stream"),
        (status = "default", description = "An error; the body says what went wrong.", body = crate::api::ErrorBody),
    ),
)]
pub async fn events(State(state): State<AppState>, ctx: AuthContext) -> Result<Response, ApiError> {
    // Subscribe before the snapshot: nothing between the two is lost (an alert in both is
    // applied twice, which changes nothing).
    let Some(rx) = state.services.cluster.alert_events() else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "alert events are not available (the master is shutting down)",
        ));
    };
    let backend = Arc::clone(&state.services.cluster);
    let first = active_event(backend.as_ref()).await;
    let feed = Feed::new(rx, Arc::clone(&state.auth), ctx.auth);
    let events = futures_lite::stream::unfold(
        (feed, first, backend),
        |(mut feed, mut first, backend)| async move {
            if let Some(event) = first.take() {
                return Some((event, (feed, None, backend)));
            }
            loop {
                let event = match feed.next().await? {
                    Got::Item(alert) => sse::json_event("alert", &alert),
                    Got::Lagged(_) => active_event(backend.as_ref()).await,
                    Got::End(end) => Some(end),
                };
                if let Some(event) = event {
                    return Some((event, (feed, None, backend)));
                }
            }
        },
    );
    Ok(sse::respond(events))
}
