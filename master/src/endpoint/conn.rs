//! One slave connection, driven the same way on every runtime.
//!
//! Phase 1 (one future, with a deadline): Noise handshake, then the slave's `Hello`, then the
//! control side's verdict, answered with `Welcome` or `Reject`. Phase 2: a reader and a writer
//! run side by side in the same task, sharing the session through a `RefCell` that is never
//! held across an await. The reader forwards authenticated messages to the control side; the
//! writer encrypts what the control side queues. Either side ending ends the connection.

use super::close::{EstablishFailure, SessionEnd};
use super::counters::EndpointCounters;
use super::events::{AuthVerdict, ConnHandle, ConnId, ControlEvent, Outbound};
use futures_lite::future;
use futures_lite::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
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

/// Time limits of a connection.
#[derive(Debug, Clone, Copy)]
pub struct ConnLimits {
    /// Handshake plus hello plus verdict must finish within this.
    pub handshake_timeout: Duration,
    /// A connection that receives nothing for this long is closed.
    pub idle_timeout: Duration,
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
    /// Time limits.
    pub limits: ConnLimits,
}

/// Serves one accepted connection until it ends. Never panics on peer input.
pub async fn serve_connection<S, T>(
    stream: S,
    peer_addr: SocketAddr,
    conn_id: ConnId,
    ctx: ConnContext,
) where
    S: AsyncRead + AsyncWrite + Unpin,
    T: Timer,
{
    ctx.counters.accepted.fetch_add(1, Relaxed);
    ctx.counters.open.fetch_add(1, Relaxed);
    let mut stream = stream;
    let (out_tx, out_rx) = async_channel::bounded(OUTBOUND_QUEUE);
    let handle = ConnHandle {
        conn_id,
        peer_addr,
        outbound: out_tx,
    };
    let phase1 = future::or(establish(&mut stream, &handle, &ctx), async {
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
            // Anyone can cause these at will: logged at `info` once per interval.
            let now_ms = model::Clock::now_ms(&model::SystemClock);
            match ctx.counters.refusal_log.admit(now_ms) {
                Some(left_out) => tracing::info!(
                    %peer_addr,
                    %reason,
                    cause = reason.cause().label(),
                    side = reason.side().as_str(),
                    refusals_not_logged = left_out,
                    "connection refused before authentication"
                ),
                None => tracing::debug!(
                    %peer_addr,
                    %reason,
                    cause = reason.cause().label(),
                    "connection refused before authentication"
                ),
            }
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

/// Handshake, hello, verdict. Returns the session and the node id.
async fn establish<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    handle: &ConnHandle,
    ctx: &ConnContext,
) -> Result<(Session, u64), EstablishFailure> {
    let mut session = Session::responder(&ctx.keys).map_err(EstablishFailure::Setup)?;
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
        if let Err(e) = session.receive(&buf[..n], &mut events) {
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
