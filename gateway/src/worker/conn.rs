//! Accepting, admitting and serving one client connection in a worker.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use monoio::buf::IoBufMut;
use monoio::io::{AsyncReadRent, AsyncWriteRentExt};
use monoio::net::{TcpListener, TcpStream};

use super::Worker;
use super::state::{GatewayRt, Group, Route, UpstreamSlot, bump, drop_one};
use crate::cidr::any_contains;
use crate::config::{GatewayConfig, ProxyProtocol};
use crate::failure::ConnError;
use crate::limit::{Admission, Refusal};
use crate::msg::FromWorker;
use crate::relay::{self, Peer, RelayError, Strategy};
use crate::runtime::DriverKind;
use crate::sni::{Peek, ServerName, parse_client_hello};
use crate::stats::SniRejection;

/// Capacity of the first read of a ClientHello (it grows, doubling, to `sni_max_hello`).
const HELLO_FIRST_READ: usize = 2048;

/// Pause after an accept error such as EMFILE before trying again.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(20);

/// Why the worker cut a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KillReason {
    Idle,
    Drain,
}

/// A one-shot, single-threaded signal that ends a connection's task.
#[derive(Default)]
pub(crate) struct KillSwitch {
    reason: Cell<Option<KillReason>>,
    waker: RefCell<Option<Waker>>,
}

impl KillSwitch {
    pub fn fire(&self, reason: KillReason) {
        if self.reason.get().is_none() {
            self.reason.set(Some(reason));
            if let Some(w) = self.waker.borrow_mut().take() {
                w.wake();
            }
        }
    }

    fn wait(self: Rc<Self>) -> KillWait {
        KillWait(self)
    }
}

struct KillWait(Rc<KillSwitch>);

impl Future for KillWait {
    type Output = Outcome;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Outcome> {
        match self.0.reason.get() {
            Some(r) => Poll::Ready(Outcome::Killed(r)),
            None => {
                *self.0.waker.borrow_mut() = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

enum Outcome {
    Finished,
    Killed(KillReason),
}

/// What the sweeper knows about a live connection.
pub(crate) struct ConnEntry {
    pub kill: Rc<KillSwitch>,
    pub gw: Rc<GatewayRt>,
    pub slot: Rc<RefCell<Option<Rc<UpstreamSlot>>>>,
    pub activity: Rc<Cell<u64>>,
    pub last_bytes: u64,
    pub last_change: Instant,
    pub idle_timeout: Duration,
}

/// Accepts until the listener is stopped.
pub(crate) async fn accept_loop(
    w: Rc<Worker>,
    gw: Rc<GatewayRt>,
    listener: TcpListener,
    stop: Rc<Cell<bool>>,
) {
    w.live_listeners.set(w.live_listeners.get() + 1);
    loop {
        let res = listener.accept().await;
        if stop.get() {
            break;
        }
        match res {
            Ok((stream, peer)) => admit(&w, &gw, stream, peer),
            Err(e) => accept_error(&e).await,
        }
    }
    drop(listener);
    w.live_listeners
        .set(w.live_listeners.get().saturating_sub(1));
}

async fn accept_error(e: &io::Error) {
    match e.raw_os_error() {
        Some(code) if code == libc_econnaborted() => {}
        _ => {
            tracing::warn!("accept failed: {e}");
            monoio::time::sleep(ACCEPT_BACKOFF).await;
        }
    }
}

const fn libc_econnaborted() -> i32 {
    103 // ECONNABORTED on Linux
}

fn refused_by_acl(cfg: &GatewayConfig, peer: SocketAddr) -> bool {
    let ip = peer.ip();
    any_contains(&cfg.deny, ip) || (!cfg.allow.is_empty() && !any_contains(&cfg.allow, ip))
}

/// Admission runs synchronously in the accept loop; a refused client is closed at once.
fn admit(w: &Rc<Worker>, gw: &Rc<GatewayRt>, stream: TcpStream, peer: SocketAddr) {
    let route = Rc::clone(&gw.route.borrow());
    if refused_by_acl(&route.cfg, peer) {
        gw.counters.refuse(Refusal::Acl);
        return;
    }
    let admission = if route.limited {
        match Admission::acquire(&route.limits, peer.ip(), Instant::now()) {
            Ok(a) => Some(a),
            Err(r) => {
                gw.counters.refuse(r);
                return;
            }
        }
    } else {
        None
    };
    bump(&gw.counters.active, 1);
    bump(&gw.counters.total, 1);
    let entry = ConnEntry {
        kill: Rc::new(KillSwitch::default()),
        gw: Rc::clone(gw),
        slot: Rc::new(RefCell::new(None)),
        activity: Rc::new(Cell::new(0)),
        last_bytes: 0,
        last_change: Instant::now(),
        idle_timeout: route.cfg.idle_timeout,
    };
    let kill = Rc::clone(&entry.kill);
    let conn = Conn {
        w: Rc::clone(w),
        gw: Rc::clone(gw),
        route,
        slot: Rc::clone(&entry.slot),
        activity: Rc::clone(&entry.activity),
        peer,
    };
    let id = w.register(entry);
    let w = Rc::clone(w);
    let gw = Rc::clone(gw);
    monoio::spawn(async move {
        let outcome = futures_lite::future::or(conn.serve(stream), kill.wait()).await;
        match outcome {
            Outcome::Killed(KillReason::Idle) => bump(&gw.counters.idle_timeouts, 1),
            Outcome::Killed(KillReason::Drain) => bump(&gw.counters.drain_kills, 1),
            Outcome::Finished => {}
        }
        w.deregister(id);
        drop_one(&gw.counters.active);
        drop(admission);
    });
}

/// Holds one unit of an upstream's active count (least-connections sees connects in
/// progress too) and gives it back on drop, even when the task is cancelled.
struct SlotHold(Rc<UpstreamSlot>);

impl SlotHold {
    fn new(slot: Rc<UpstreamSlot>) -> Self {
        bump(&slot.active, 1);
        Self(slot)
    }
}

impl Drop for SlotHold {
    fn drop(&mut self) {
        drop_one(&self.0.active);
    }
}

struct Conn {
    w: Rc<Worker>,
    gw: Rc<GatewayRt>,
    route: Rc<Route>,
    slot: Rc<RefCell<Option<Rc<UpstreamSlot>>>>,
    activity: Rc<Cell<u64>>,
    peer: SocketAddr,
}

impl Conn {
    async fn serve(self, mut client: TcpStream) -> Outcome {
        // No TCP_NODELAY call here: accepted sockets inherit it from the listener
        // (`control::bind`), which saves a system call per connection.
        let (group, hello) = if let Some(table) = &self.route.sni {
            match self.read_hello(&mut client).await {
                Ok((name, bytes)) => {
                    let group = name.and_then(|n| table.lookup(&n)).unwrap_or(0);
                    (group, bytes)
                }
                Err(reason) => {
                    self.gw.counters.sni_rejected(reason);
                    tracing::debug!(
                        "gateway {}: client {}: no usable ClientHello ({})",
                        self.gw.name,
                        self.peer,
                        reason.label()
                    );
                    return Outcome::Finished;
                }
            }
        } else {
            (0, Vec::new())
        };
        let group = &self.route.groups[group];
        if self.route.sni.is_some() {
            self.gw.counters.sni_routed(&group.label);
        }
        let Some((mut upstream, hold)) = self.connect(group).await else {
            return Outcome::Finished;
        };
        *self.slot.borrow_mut() = Some(Rc::clone(&hold.0));
        if let Some(v) = self.route.cfg.proxy_protocol
            && let Err(source) = self.send_proxy_header(v, &client, &mut upstream).await
        {
            self.failed(&ConnError::ProxyHeader {
                addr: hold.0.addr,
                source,
            });
            return Outcome::Finished;
        }
        let (slot, gw, act) = (&hold.0, &self.gw, &self.activity);
        let up = |n: usize| {
            let n = n as u64;
            bump(act, n);
            bump(&gw.counters.bytes_up, n);
            bump(&slot.bytes_up, n);
        };
        let down = |n: usize| {
            let n = n as u64;
            bump(act, n);
            bump(&gw.counters.bytes_down, n);
            bump(&slot.bytes_down, n);
        };
        if !hello.is_empty() {
            let n = hello.len();
            let (res, _) = upstream.write_all(hello).await;
            if let Err(source) = res {
                self.failed(&ConnError::Relay {
                    addr: slot.addr,
                    source: RelayError::Write {
                        peer: Peer::Upstream,
                        source,
                    },
                });
                return Outcome::Finished;
            }
            up(n);
        }
        let pipes = Rc::clone(&self.w.pipes);
        if let Err(source) = relay::relay(client, upstream, self.strategy(), pipes, up, down).await
        {
            self.failed(&ConnError::Relay {
                addr: slot.addr,
                source,
            });
        }
        Outcome::Finished
    }

    /// Reads the client's first bytes until they hold a whole ClientHello, within the
    /// gateway's `sni_peek_timeout` and `sni_max_hello`: the server name (if any) and every
    /// byte read, which the upstream gets first.
    async fn read_hello(
        &self,
        client: &mut TcpStream,
    ) -> Result<(Option<ServerName>, Vec<u8>), SniRejection> {
        let cfg = &self.route.cfg;
        let max = cfg.sni_max_hello;
        let reading = async {
            // Most ClientHellos fit in one or two KiB: start small, grow to the limit.
            let mut buf = Vec::with_capacity(max.min(HELLO_FIRST_READ));
            loop {
                if buf.len() == buf.capacity() {
                    let more = buf.capacity().min(max - buf.len());
                    buf.reserve_exact(more);
                }
                let len = buf.len();
                let end = buf.capacity().min(max);
                let (res, slice) = client.read(buf.slice_mut(len..end)).await;
                buf = slice.into_inner();
                match res {
                    Ok(0) | Err(_) => return Err(SniRejection::ClientClosed),
                    Ok(_) => {}
                }
                match parse_client_hello(&buf, max) {
                    Ok(Peek::NeedMore) => {}
                    Ok(Peek::Complete(name)) => return Ok((name, buf)),
                    Err(e) => return Err(SniRejection::from_hello_error(&e)),
                }
            }
        };
        match monoio::time::timeout(cfg.sni_peek_timeout, reading).await {
            Ok(r) => r,
            Err(_) => Err(SniRejection::PeekTimeout),
        }
    }

    /// Counts a failure by cause and logs it.
    fn failed(&self, e: &ConnError) {
        self.gw.counters.fail(e.cause());
        tracing::debug!(
            side = %e.side(),
            cause = e.cause().label(),
            "gateway {}: client {}: {e}",
            self.gw.name,
            self.peer
        );
    }

    fn strategy(&self) -> Strategy {
        use crate::config::RelayMode;
        match (self.w.driver, self.route.cfg.relay) {
            (DriverKind::Legacy, _) | (_, RelayMode::Copy) => Strategy::Copy,
            (DriverKind::IoUring, RelayMode::Splice) => Strategy::Splice,
            (DriverKind::IoUring, RelayMode::Auto) => Strategy::Auto,
        }
    }

    async fn send_proxy_header(
        &self,
        v: ProxyProtocol,
        client: &TcpStream,
        upstream: &mut TcpStream,
    ) -> io::Result<()> {
        let local = client.local_addr()?;
        let header = crate::proxy_protocol::encode(v, self.peer, local);
        let (res, _) = upstream.write_all(header).await;
        res.map(|_| ())
    }

    /// Tries upstreams chosen by the balancer, each within the connect timeout, up to
    /// `retries` further attempts on upstreams not yet tried while the failure is one that
    /// another upstream may not have ([`ConnError::retryable`]). Every failure is counted.
    async fn connect(&self, group: &Group) -> Option<(TcpStream, SlotHold)> {
        let cfg = &self.route.cfg;
        let mut tried = Vec::new();
        for _ in 0..=cfg.retries {
            let picked = group
                .balancer
                .borrow_mut()
                .pick(&group.slots, self.peer.ip(), &tried);
            let Some(i) = picked else { break };
            tried.push(i);
            let hold = SlotHold::new(Rc::clone(&group.slots[i]));
            let addr = hold.0.addr;
            let e = match monoio::time::timeout(cfg.connect_timeout, TcpStream::connect_addr(addr))
                .await
            {
                Ok(Ok(s)) => {
                    let _ = s.set_nodelay(true);
                    let mut p = hold.0.passive.get();
                    p.on_success();
                    hold.0.passive.set(p);
                    bump(&hold.0.total, 1);
                    return Some((s, hold));
                }
                Ok(Err(source)) => ConnError::Connect { addr, source },
                Err(_) => ConnError::ConnectTimeout { addr },
            };
            drop(hold);
            if !self.on_connect_failure(&group.slots[i], &e) {
                break;
            }
        }
        let reason = if tried.is_empty() {
            self.failed(&ConnError::NoUpstream);
            Refusal::NoUpstream
        } else {
            Refusal::ConnectFailed
        };
        self.gw.counters.refuse(reason);
        None
    }

    /// Counts a failed connect to `slot` and, when it was the upstream's fault, towards its
    /// passive ejection; returns whether another upstream may be tried.
    fn on_connect_failure(&self, slot: &Rc<UpstreamSlot>, e: &ConnError) -> bool {
        self.failed(e);
        bump(&slot.failures, 1);
        if !e.counts_against_upstream() {
            return e.retryable();
        }
        let mut p = slot.passive.get();
        let eject = p.on_failure(self.route.cfg.health.fall);
        slot.passive.set(p);
        if eject && slot.up.get() {
            slot.up.set(false);
            tracing::warn!(
                "gateway {}: upstream {} ejected after failed connects",
                self.gw.name,
                slot.addr
            );
            let _ = self.w.events.try_send(FromWorker::PassiveDown {
                gateway: self.gw.name.clone(),
                addr: slot.addr,
            });
        }
        e.retryable()
    }
}
