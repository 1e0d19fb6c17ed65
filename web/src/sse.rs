//! Server-Sent Events for every live view of the console: the metrics stream
//! (`/api/v1/nodes/{node}/metrics/stream`), followed logs and stats
//! (`crate::ops::stream`), task and alert events (`/api/v1/tasks/events`,
//! `/api/v1/alerts/events`). One helper for all of them:
//!
//! - [`SessionWatch`] re-checks the signed-in session every [`SESSION_RECHECK`]: after
//!   logout, expiry or a password change the stream sends an `end` event
//!   ([`session_ended`]) and stops.
//! - A [`Feed`] waits on a `tokio::sync::broadcast` receiver with a [`SessionWatch`]. A
//!   receiver that fell behind gets [`Got::Lagged`], so the handler can tell the client to
//!   resync (refetch) instead of silently missing updates. The stream ends when the sender
//!   closes (master shutdown) or the client goes away (axum drops it).
//! - [`respond`] sends a keep-alive comment every [`KEEP_ALIVE`].

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_lite::Stream;
use tokio::sync::broadcast;

use crate::auth::{Auth, Authenticated};

/// Interval of the keep-alive comments.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// The data of the `end` event sent when the session ended.
pub const END_SESSION: &str = "session ended";
/// How often a stream checks that its session is still valid.
pub const SESSION_RECHECK: Duration = Duration::from_secs(30);

/// The `end` event of a stream whose session ended.
pub fn session_ended() -> Event {
    Event::default().event("end").data(END_SESSION)
}

/// Whether the session behind `auth` is still valid (not logged out, not expired, password
/// unchanged). A store failure keeps the stream (it is checked again later).
pub async fn session_still_valid(auth: &Auth, who: &Authenticated) -> bool {
    match auth.session_valid(who).await {
        Ok(valid) => valid,
        Err(e) => {
            tracing::warn!("session re-check failed: {e}");
            true
        }
    }
}

/// The session of a stream, re-checked every [`SESSION_RECHECK`].
pub struct SessionWatch {
    auth: Arc<Auth>,
    who: Authenticated,
    next: tokio::time::Instant,
}

impl SessionWatch {
    /// Watches the session `who`.
    pub fn new(auth: Arc<Auth>, who: Authenticated) -> Self {
        Self {
            auth,
            who,
            next: tokio::time::Instant::now() + SESSION_RECHECK,
        }
    }

    /// Completes when the next check is due.
    pub async fn due(&self) {
        tokio::time::sleep_until(self.next).await;
    }

    /// Checks the session now and schedules the next check.
    pub async fn still_valid(&mut self) -> bool {
        self.next = tokio::time::Instant::now() + SESSION_RECHECK;
        session_still_valid(&self.auth, &self.who).await
    }
}

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
    session: SessionWatch,
    done: bool,
}

impl<T: Clone> Feed<T> {
    /// Follows `rx` for the session `who`.
    pub fn new(rx: broadcast::Receiver<T>, auth: Arc<Auth>, who: Authenticated) -> Self {
        Self {
            rx,
            session: SessionWatch::new(auth, who),
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
                () = self.session.due() => {
                    if !self.session.still_valid().await {
                        self.done = true;
                        return Some(Got::End(session_ended()));
                    }
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
