//! One slave connection, driven the same way on every runtime.
//!
//! Phase 0 (in the accept loop, before a task exists): [`admit`] keeps the socket only when
//! its descriptor is outside the reserve and the caps on unauthenticated connections allow
//! it (see [`super::admission`]); otherwise it is closed at once.
//!
//! Phase 1 (one future, with the handshake timeout): Noise handshake, then the slave's
//! `Hello`, then the control side's verdict, answered with `Welcome` or `Reject`. Until the
//! verdict accepts the hello the session takes only small messages
//! ([`protocol::session::PRE_AUTH_MESSAGE_LEN`]), the connection holds its admission
//! permit, and what its session buffers is counted in
//! [`EndpointCounters::pre_auth_buffered`].
//!
//! Phase 2: a reader and a writer run side by side in the same task, sharing the session
//! through a `RefCell` that is never held across an await. The reader forwards
//! authenticated messages to the control side; the writer encrypts what the control side
//! queues. Either side ending ends the connection.

use super::admission::{Admission, AdmissionPermit, DescriptorBudget, Refusal};
use super::close::{CloseCause, EstablishFailure, SessionEnd};
use super::counters::EndpointCounters;
use super::events::{AuthVerdict, ConnHandle, ConnId, ControlEvent, Outbound};
use futures_lite::future;
use futures_lite::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use protocol::codec::MAX_MESSAGE_LEN;
use protocol::{Message, Session, SessionEvent, StaticKeys, Welcome};
use std::cell::RefCell;
use std::future::Future;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

/// Bytes read from the socket per call.
const READ_CHUNK: usize = 4096;
/// Messages the control side may queue for one connection before it counts as stuck.
pub const OUTBOUND_QUEUE: usize = 64;

/// A runtime's sleep, so the driver works on glommio and on the portable fallback alike.
pub trait Timer {
    /// Completes after `d`.
    fn sleep(d: Duration) -> impl Future<Output = ()>;
}

/// Limits of the endpoint's connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnLimits {
    /// Handshake plus hello plus verdict must finish within this.
    pub handshake_timeout: Duration,
    /// A connection that receives nothing for this long is closed (after its hello was
    /// accepted).
    pub idle_timeout: Duration,
    /// Unauthenticated connections (hello not accepted yet) at once, all addresses.
    pub max_unauthenticated: usize,
    /// Unauthenticated connections at once from one address (IPv6: one /64).
    pub max_unauthenticated_per_address: usize,
    /// Descriptors below the process's soft limit the endpoint never takes.
    pub descriptor_reserve: u64,
}

/// Default handshake timeout: handshake, hello and verdict take milliseconds.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

impl Default for ConnLimits {
    fn default() -> Self {
        Self {
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            idle_timeout: Duration::from_secs(60),
            max_unauthenticated: super::admission::DEFAULT_MAX_UNAUTHENTICATED,
            max_unauthenticated_per_address:
                super::admission::DEFAULT_MAX_UNAUTHENTICATED_PER_ADDRESS,
            descriptor_reserve: super::admission::DEFAULT_DESCRIPTOR_RESERVE,
        }
    }
}

/// What every connection of an endpoint shares.
#[derive(Clone)]
pub struct ConnContext {
    /// The master's static keys.
    pub keys: Arc<StaticKeys>,
    /// Where events go.
    pub events: async_channel::Sender<ControlEvent>,
    /// Shared counters.
    pub counters: Arc<EndpointCounters>,
    /// Limits.
    pub limits: ConnLimits,
    /// Caps on unauthenticated connections.
    pub admission: Arc<Admission>,
    /// Descriptor numbers the endpoint may keep.
    pub descriptors: DescriptorBudget,
}

/// Decides, as soon as a connection is accepted, whether it may stay: its descriptor `fd`
/// must lie outside the reserve, and the caps on unauthenticated connections must allow
/// one more from `peer_addr`. Counts the connection; a refused one is counted and logged
/// (through the endpoint's `LogGate`), and the caller closes it at once.
pub fn admit(ctx: &ConnContext, peer_addr: SocketAddr, fd: i32) -> Option<AdmissionPermit> {
    let admitted = if ctx.descriptors.admits(fd) {
        ctx.admission.try_admit(peer_addr.ip())
    } else {
        Err(Refusal::DescriptorReserve)
    };
    let permit = match admitted {
        Ok(permit) => Some(permit),
        Err(refusal) => {
            ctx.counters.rejected.fetch_add(1, Relaxed);
            ctx.counters.count_close(refusal.cause());
            log_refusal(ctx, peer_addr, &refusal, refusal.cause());
            None
        }
    };
    // Last, so that whoever sees the connection counted also sees its refusal.
    ctx.counters.accepted.fetch_add(1, Relaxed);
    permit
}

/// Logs a refusal before authentication: at `info` once per interval (anyone can cause
/// these at will), at `debug` otherwise.
fn log_refusal(
    ctx: &ConnContext,
    peer_addr: SocketAddr,
    reason: &dyn std::fmt::Display,
    cause: CloseCause,
) {
    let now_ms = model::Clock::now_ms(&model::SystemClock);
    match ctx.counters.refusal_log.admit(now_ms) {
        Some(left_out) => tracing::info!(
            %peer_addr,
            %reason,
            cause = cause.label(),
            side = cause.side().as_str(),
            refusals_not_logged = left_out,
            "connection refused before authentication"
        ),
        None => tracing::debug!(
            %peer_addr,
            %reason,
            cause = cause.label(),
            "connection refused before authentication"
        ),
    }
}

/// What one connection's session holds before its hello is accepted, kept in
/// [`EndpointCounters::pre_auth_buffered`]; given back when dropped.
struct PreAuthBuffered<'a> {
    counters: &'a EndpointCounters,
    held: u64,
}

impl<'a> PreAuthBuffered<'a> {
    fn new(counters: &'a EndpointCounters) -> Self {
        Self { counters, held: 0 }
    }

    /// Records that the session now holds `bytes`.
    fn set(&mut self, bytes: usize) {
        let bytes = bytes as u64;
        if bytes > self.held {
            let now = self
                .counters
                .pre_auth_buffered
                .fetch_add(bytes - self.held, Relaxed)
                + (bytes - self.held);
            self.counters.pre_auth_buffered_peak.fetch_max(now, Relaxed);
        } else {
            self.counters
                .pre_auth_buffered
                .fetch_sub(self.held - bytes, Relaxed);
        }
        self.held = bytes;
    }
}

impl Drop for PreAuthBuffered<'_> {
    fn drop(&mut self) {
        self.set(0);
    }
}

/// Serves one admitted connection (see [`admit`]) until it ends. Never panics on peer input.
pub async fn serve_connection<S, T>(
    stream: S,
    peer_addr: SocketAddr,
    conn_id: ConnId,
    ctx: ConnContext,
    permit: AdmissionPermit,
) where
    S: AsyncRead + AsyncWrite + Unpin,
    T: Timer,
{
    ctx.counters.open.fetch_add(1, Relaxed);
    let mut stream = stream;
    let (out_tx, out_rx) = async_channel::bounded(OUTBOUND_QUEUE);
    let handle = ConnHandle {
        conn_id,
        peer_addr,
        outbound: out_tx,
    };
    // The permit goes with the establishing future: given back when the hello is accepted,
    // or when the future fails or times out.
    let phase1 = future::or(establish(&mut stream, &handle, &ctx, permit), async {
        T::sleep(ctx.limits.handshake_timeout).await;
        Err(EstablishFailure::TimedOut)
    })
    .await;
    match phase1 {
        Ok((session, node_id)) => {
            ctx.counters.sessions.fetch_add(1, Relaxed);
            let reason = transport::<S, T>(stream, session, node_id, conn_id, out_rx, &ctx).await;
            ctx.counters.count_close(reason.cause());
            tracing::debug!(
                node_id,
                conn_id,
                %peer_addr,
                %reason,
                cause = reason.cause().label(),
                side = reason.side().as_str(),
                "session ended"
            );
            let _ = ctx
                .events
                .send(ControlEvent::Disconnected {
                    node_id,
                    conn_id,
                    reason,
                })
                .await;
        }
        Err(reason) => {
            ctx.counters.rejected.fetch_add(1, Relaxed);
            ctx.counters.count_close(reason.cause());
            log_refusal(&ctx, peer_addr, &reason, reason.cause());
        }
    }
    ctx.counters.open.fetch_sub(1, Relaxed);
}

/// Writes and flushes what the session has to send, if anything.
async fn write_output<S: AsyncWrite + Unpin>(
    stream: &mut S,
    session: &mut Session,
) -> Result<(), EstablishFailure> {
    if session.has_output() {
        let out = session.take_output();
        stream
            .write_all(&out)
            .await
            .map_err(EstablishFailure::Write)?;
        stream.flush().await.map_err(EstablishFailure::Write)?;
    }
    Ok(())
}

/// Handshake, hello, verdict. Returns the session and the node id. `permit` is given back
/// as soon as the verdict accepts the hello.
async fn establish<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    handle: &ConnHandle,
    ctx: &ConnContext,
    permit: AdmissionPermit,
) -> Result<(Session, u64), EstablishFailure> {
    // Limited to `PRE_AUTH_MESSAGE_LEN` until the verdict below accepts the hello.
    let mut session = Session::responder(&ctx.keys).map_err(EstablishFailure::Setup)?;
    let mut buffered = PreAuthBuffered::new(&ctx.counters);
    let mut buf = [0u8; READ_CHUNK];
    let mut events = Vec::new();
    let mut peer_static = None;
    let hello = loop {
        let n = stream
            .read(&mut buf)
            .await
            .map_err(EstablishFailure::Read)?;
        if n == 0 {
            return Err(EstablishFailure::Closed);
        }
        ctx.counters.bytes_in.fetch_add(n as u64, Relaxed);
        let received = session.receive(&buf[..n], &mut events);
        buffered.set(session.held_bytes());
        if let Err(e) = received {
            ctx.counters.bad_frames.fetch_add(1, Relaxed);
            return Err(EstablishFailure::Handshake(e));
        }
        write_output(stream, &mut session).await?;
        let mut hello = None;
        for ev in events.drain(..) {
            match ev {
                SessionEvent::Established { peer_static: k } => peer_static = Some(k),
                SessionEvent::Message(Message::Hello(h)) if hello.is_none() => hello = Some(h),
                SessionEvent::Message(other) => {
                    return Err(EstablishFailure::NotHello(other.name()));
                }
            }
        }
        if let Some(h) = hello {
            break h;
        }
    };
    let peer_static = peer_static.ok_or(EstablishFailure::HelloBeforeHandshake)?;
    let (reply_tx, reply_rx) = async_channel::bounded(1);
    ctx.events
        .send(ControlEvent::Authenticate {
            conn: handle.clone(),
            peer_static,
            hello,
            reply: reply_tx,
        })
        .await
        .map_err(|_| EstablishFailure::ControlGone)?;
    let verdict = reply_rx
        .recv()
        .await
        .map_err(|_| EstablishFailure::ControlGone)?;
    match verdict {
        AuthVerdict::Accept {
            node_id,
            version,
            heartbeat_interval_ms,
        } => {
            // An accepted slave: no longer counted as unauthenticated, and its messages may
            // be as large as the protocol allows.
            drop(permit);
            drop(buffered);
            session.set_max_message_len(MAX_MESSAGE_LEN);
            let welcome = Message::Welcome(Welcome {
                version,
                node_id,
                heartbeat_interval_ms,
            });
            session.send(&welcome).map_err(EstablishFailure::Welcome)?;
            write_output(stream, &mut session).await?;
            Ok((session, node_id))
        }
        AuthVerdict::Reject(reject) => {
            if session.send(&Message::Reject(reject.clone())).is_ok() {
                let _ = write_output(stream, &mut session).await;
            }
            Err(EstablishFailure::Rejected(reject))
        }
    }
}

async fn transport<S, T>(
    stream: S,
    session: Session,
    node_id: u64,
    conn_id: ConnId,
    out_rx: async_channel::Receiver<Outbound>,
    ctx: &ConnContext,
) -> SessionEnd
where
    S: AsyncRead + AsyncWrite + Unpin,
    T: Timer,
{
    let (mut rd, mut wr) = futures_lite::io::split(stream);
    let session = Rc::new(RefCell::new(session));
    let reader = {
        let session = Rc::clone(&session);
        async move {
            let mut buf = [0u8; READ_CHUNK];
            let mut events = Vec::new();
            loop {
                let read = future::or(async { Some(rd.read(&mut buf).await) }, async {
                    T::sleep(ctx.limits.idle_timeout).await;
                    None
                })
                .await;
                let n = match read {
                    None => return SessionEnd::IdleTimeout,
                    Some(Err(e)) => return SessionEnd::Read(e),
                    Some(Ok(0)) => return SessionEnd::ClosedByPeer,
                    Some(Ok(n)) => n,
                };
                ctx.counters.bytes_in.fetch_add(n as u64, Relaxed);
                let result = session.borrow_mut().receive(&buf[..n], &mut events);
                for ev in events.drain(..) {
                    let SessionEvent::Message(msg) = ev else {
                        return SessionEnd::SecondHandshake;
                    };
                    if !msg.is_from_slave() || matches!(msg, Message::Hello(_)) {
                        ctx.counters.bad_frames.fetch_add(1, Relaxed);
                        return SessionEnd::Unexpected(msg.name());
                    }
                    ctx.counters.messages_in.fetch_add(1, Relaxed);
                    let event = ControlEvent::Message {
                        node_id,
                        conn_id,
                        msg,
                    };
                    if ctx.events.send(event).await.is_err() {
                        return SessionEnd::ControlGone;
                    }
                }
                if let Err(e) = result {
                    ctx.counters.bad_frames.fetch_add(1, Relaxed);
                    return SessionEnd::BadData(e);
                }
            }
        }
    };
    let writer = async move {
        while let Ok(out) = out_rx.recv().await {
            let sealed = match out {
                Outbound::Send(msg) => session.borrow_mut().send(&msg),
                Outbound::SendEncoded(bytes) => session.borrow_mut().send_encoded(&bytes),
                Outbound::Close => return SessionEnd::ClosedByMaster,
            };
            if let Err(e) = sealed {
                return SessionEnd::Encrypt(e);
            }
            let out = session.borrow_mut().take_output();
            if let Err(e) = wr.write_all(&out).await {
                return SessionEnd::Write(e);
            }
            if let Err(e) = wr.flush().await {
                return SessionEnd::Write(e);
            }
        }
        SessionEnd::Dropped
    };
    future::or(reader, writer).await
}
