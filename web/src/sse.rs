//! Server-Sent Events fed by a master broadcast, shared by the task and alert streams
//! (`/api/v1/tasks/events`, `/api/v1/alerts/events`).
//!
//! A [`Feed`] waits on a `tokio::sync::broadcast` receiver and re-checks the session every
//! [`SESSION_RECHECK`], as the metrics stream does
//! (`crate::live`): after logout, expiry or a password change it yields an `end` event and
//! the stream stops. A receiver that fell behind gets [`Got::Lagged`], so the handler can
//! tell the client to resync (refetch) instead of silently missing updates. The stream ends
//! when the sender closes (master shutdown) or the client goes away (axum drops it).
//! [`respond`] sends a keep-alive comment every [`KEEP_ALIVE`].

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_lite::Stream;
use tokio::sync::broadcast;

use crate::auth::{Auth, Authenticated};
use crate::live::{SESSION_RECHECK, session_still_valid};

/// Interval of the keep-alive comments.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// The data of the `end` event sent when the session ended.
pub const END_SESSION: &str = "session ended";

/// What a [`Feed`] yields.
#[derive(Debug)]
pub enum Got<T> {
    /// The next broadcast item.
    Item(T),
    /// Items were lost (the client was too slow); it should refetch.
    Lagged(u64),
    /// The session ended: send this (`end`) event and stop.
    End(Event),
}

/// A broadcast receiver tied to a signed-in session.
pub struct Feed<T> {
    rx: broadcast::Receiver<T>,
    auth: Arc<Auth>,
    who: Authenticated,
    next_check: tokio::time::Instant,
    done: bool,
}

impl<T: Clone> Feed<T> {
    /// Follows `rx` for the session `who`.
    pub fn new(rx: broadcast::Receiver<T>, auth: Arc<Auth>, who: Authenticated) -> Self {
        Self {
            rx,
            auth,
            who,
            next_check: tokio::time::Instant::now() + SESSION_RECHECK,
            done: false,
        }
    }

    /// The next item, loss or end; `None` once the stream is over.
    pub async fn next(&mut self) -> Option<Got<T>> {
        if self.done {
            return None;
        }
        loop {
            tokio::select! {
                got = self.rx.recv() => return match got {
                    Ok(item) => Some(Got::Item(item)),
                    Err(broadcast::error::RecvError::Lagged(n)) => Some(Got::Lagged(n)),
                    Err(broadcast::error::RecvError::Closed) => None,
                },
                () = tokio::time::sleep_until(self.next_check) => {
                    if !session_still_valid(&self.auth, &self.who).await {
                        self.done = true;
                        return Some(Got::End(Event::default().event("end").data(END_SESSION)));
                    }
                    self.next_check = tokio::time::Instant::now() + SESSION_RECHECK;
                }
            }
        }
    }
}

/// An event named `name` with `value` as JSON data; `None` (logged) if it cannot be encoded.
pub fn json_event(name: &'static str, value: &impl serde::Serialize) -> Option<Event> {
    match Event::default().event(name).json_data(value) {
        Ok(event) => Some(event),
        Err(e) => {
            tracing::warn!("cannot encode a {name} event: {e}");
            None
        }
    }
}

/// The SSE response of `events`, with keep-alive comments.
pub fn respond<S>(events: S) -> Response
where
    S: Stream<Item = Event> + Send + 'static,
{
    use futures_lite::StreamExt;
    let events = events.map(Ok::<_, Infallible>);
    Sse::new(events)
        .keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
        .into_response()
}
