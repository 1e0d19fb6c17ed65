//! Operation requests to slaves (protocol version 2, see `protocol::ops`): sending a request
//! whose progress updates are wanted, uploads (chunks after the request), cancelling a
//! request in flight, and the protocol-version gate. [`Cluster::request`] stays the simple
//! form (send, wait for the final answer).
//!
//! Operations go only to a node that is online (heartbeat TTL not expired) with a live
//! session whose negotiated version is at least [`protocol::OPS_VERSION`]; anything else
//! fails at once, before a byte is sent.

use super::{Cluster, RequestError, State, Waiter};
use crate::endpoint::{ConnHandle, OUTBOUND_QUEUE, Outbound};
use crate::pending::{RequestFailure, RequestOutcome};
use model::clock::duration_ms;
use protocol::{Chunk, Message, OPS_VERSION, Progress, Request, RequestBody};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// Where a request's progress updates go.
pub type ProgressTx = mpsc::Sender<Progress>;

/// Progress updates queued per request; a reader further behind loses the rest of them
/// (its channel closes) while the request itself goes on to its final answer.
pub const PROGRESS_CAPACITY: usize = 1024;

/// The master waits this much longer than a request's deadline, so that the slave's own
/// answer at the deadline (a typed timeout, the end of a followed log) arrives first.
pub const DEADLINE_GRACE: Duration = Duration::from_secs(5);

/// An upload keeps the node's outbound queue at most this full, leaving room for other
/// requests to the node.
const UPLOAD_QUEUE_SHARE: usize = OUTBOUND_QUEUE / 2;

/// A request sent and not yet answered.
#[derive(Debug)]
pub struct InFlight {
    /// The node.
    pub node_id: u64,
    /// The request id (also the id of its upload chunks).
    pub id: u64,
    /// The final outcome.
    pub outcome: oneshot::Receiver<RequestOutcome>,
    /// Sends the chunks of an upload.
    pub chunks: ChunkSender,
}

/// Sends the chunks of one request's upload.
#[derive(Debug, Clone)]
pub struct ChunkSender {
    id: u64,
    outbound: async_channel::Sender<Outbound>,
}

impl ChunkSender {
    /// Queues chunk `seq` for the session, waiting while the queue is over its share for
    /// uploads. Fails when the session ended ([`RequestFailure::SessionEnded`]).
    pub async fn send(&self, seq: u32, last: bool, data: Vec<u8>) -> Result<(), RequestFailure> {
        while self.outbound.len() >= UPLOAD_QUEUE_SHARE {
            if self.outbound.is_closed() {
                return Err(RequestFailure::SessionEnded);
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let chunk = Message::Chunk(Chunk {
            id: self.id,
            seq,
            last,
            data,
        });
        self.outbound
            .send(Outbound::Send(Box::new(chunk)))
            .await
            .map_err(|_| RequestFailure::SessionEnded)
    }
}

impl Cluster {
    /// The protocol version negotiated by node `node_id`'s live session, if it has one.
    pub fn session_version(&self, node_id: u64) -> Option<u16> {
        let st = self.state();
        st.nodes
            .get(&node_id)
            .filter(|n| n.conn.is_some())
            .map(|n| n.version)
    }

    /// Sends a request to a node and waits for the outcome (or the timeout): the simple
    /// form, for a node with a session (whatever its TTL says) and no progress wanted.
    pub async fn request(
        &self,
        node_id: u64,
        body: RequestBody,
        timeout: Duration,
    ) -> Result<RequestOutcome, RequestError> {
        let (tx, rx) = oneshot::channel();
        {
            let mut st = self.state();
            let conn = match st.nodes.get(&node_id) {
                None => return Err(RequestError::UnknownNode(node_id)),
                Some(n) => n.conn.clone().ok_or(RequestError::Offline(node_id))?,
            };
            let timeout_ms = duration_ms(timeout);
            let waiter = Waiter {
                node_id,
                tx,
                progress: None,
            };
            let now = self.now_ms();
            enqueue(&mut st, &conn, waiter, now, timeout_ms, timeout_ms, body)?;
        }
        Ok(rx
            .await
            .unwrap_or(RequestOutcome::Failed(RequestFailure::SessionEnded)))
    }

    /// Sends `body` to node `node_id` and returns at once with the request in flight. The
    /// slave gets `timeout` as the request's deadline; the master waits
    /// [`DEADLINE_GRACE`] longer. Progress updates go to `progress` when given.
    ///
    /// Fails at once for an unknown node, one that is offline (no session, or its
    /// heartbeat TTL expired), one whose session predates operations (for `Host`,
    /// `Docker` and `Cancel` bodies), or one whose queue is full.
    pub fn start_request(
        &self,
        node_id: u64,
        body: RequestBody,
        timeout: Duration,
        progress: Option<ProgressTx>,
    ) -> Result<InFlight, RequestError> {
        let (tx, rx) = oneshot::channel();
        let mut st = self.state();
        let is_op = matches!(
            body,
            RequestBody::Host(_) | RequestBody::Docker(_) | RequestBody::Cancel { .. }
        );
        let conn = reachable(&st, node_id, is_op)?;
        let timeout_ms = duration_ms(timeout);
        let wait_ms = timeout_ms.saturating_add(duration_ms(DEADLINE_GRACE));
        let waiter = Waiter {
            node_id,
            tx,
            progress,
        };
        let now = self.now_ms();
        let id = enqueue(&mut st, &conn, waiter, now, timeout_ms, wait_ms, body)?;
        Ok(InFlight {
            node_id,
            id,
            outcome: rx,
            chunks: ChunkSender {
                id,
                outbound: conn.outbound,
            },
        })
    }

    /// Whether operations can be sent to node `node_id` now (the checks of
    /// [`Self::start_request`], without sending anything).
    pub fn ops_reachable(&self, node_id: u64) -> Result<(), RequestError> {
        reachable(&self.state(), node_id, true).map(|_| ())
    }

    /// Asks node `node_id` to stop request `id` (a followed log, a pull, an upload). Fire
    /// and forget: the request itself still ends with its final answer.
    pub fn cancel_request(&self, node_id: u64, id: u64) {
        let cancel = RequestBody::Cancel { id };
        match self.start_request(node_id, cancel, Duration::from_secs(10), None) {
            Ok(_) => tracing::debug!(node_id, id, "cancel sent"),
            Err(e) => tracing::debug!(node_id, id, "cannot send cancel: {e}"),
        }
    }

    /// A progress update arrived: passes it to the request's waiter, if it wants them.
    pub(super) fn on_progress(&self, node_id: u64, id: u64, update: Progress) {
        let mut st = self.state();
        let Some((waiter, _count)) = st.pending.on_progress(id) else {
            return;
        };
        if waiter.node_id != node_id {
            tracing::warn!(node_id, id, "progress from the wrong node ignored");
            return;
        }
        let Some(tx) = &waiter.progress else {
            return;
        };
        if let Err(e) = tx.try_send(update) {
            if matches!(e, mpsc::error::TrySendError::Full(_)) {
                tracing::warn!(node_id, id, "progress reader fell behind; its updates stop");
            }
            waiter.progress = None;
        }
    }
}

/// The session of node `node_id` if it is online, and (for operations) new enough.
fn reachable(st: &State, node_id: u64, is_op: bool) -> Result<ConnHandle, RequestError> {
    let n = st
        .nodes
        .get(&node_id)
        .ok_or(RequestError::UnknownNode(node_id))?;
    let conn = match (&n.conn, st.ttl.is_online(node_id)) {
        (Some(conn), true) => conn.clone(),
        _ => return Err(RequestError::Offline(node_id)),
    };
    if is_op && n.version < OPS_VERSION {
        return Err(RequestError::OldProtocol {
            node: node_id,
            version: n.version,
        });
    }
    Ok(conn)
}

/// Registers `waiter` at `now_ms` and queues the request on `conn`: the slave gets
/// `timeout_ms` as its deadline, the master waits `wait_ms`. Fails, registering nothing,
/// when the node's queue is full.
fn enqueue(
    st: &mut State,
    conn: &ConnHandle,
    waiter: Waiter,
    now_ms: u64,
    timeout_ms: u64,
    wait_ms: u64,
    body: RequestBody,
) -> Result<u64, RequestError> {
    let node_id = waiter.node_id;
    let id = st.pending.insert(waiter, now_ms, wait_ms);
    let req = Message::Request(Request {
        id,
        timeout_ms: u32::try_from(timeout_ms).unwrap_or(u32::MAX),
        body,
    });
    if conn
        .outbound
        .try_send(Outbound::Send(Box::new(req)))
        .is_err()
    {
        st.pending.cancel(id);
        return Err(RequestError::Busy(node_id));
    }
    Ok(id)
}
