//! The portable endpoint for hosts without io_uring (or with it blocked, as inside Docker's
//! default seccomp profile): one single-threaded tokio runtime per core, each with its own
//! SO_REUSEPORT listener, running the same connection driver.

use super::EndpointError;
use super::conn::{ConnContext, Timer, admit, serve_connection};
use super::workers::{Started, Worker, start_workers};
use socket2::{Domain, Protocol, Socket, Type};
use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, mpsc};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead as _, AsyncWrite as _, ReadBuf};

/// tokio's timer.
pub struct TokioTimer;

impl Timer for TokioTimer {
    async fn sleep(d: Duration) {
        tokio::time::sleep(d).await;
    }
}

/// A tokio stream seen through the `futures-lite` I/O traits the driver uses.
pub struct Compat(pub tokio::net::TcpStream);

impl futures_lite::AsyncRead for Compat {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let mut rb = ReadBuf::new(buf);
        match Pin::new(&mut self.get_mut().0).poll_read(cx, &mut rb) {
            Poll::Ready(Ok(())) => Poll::Ready(Ok(rb.filled().len())),
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl futures_lite::AsyncWrite for Compat {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write(cx, buf)
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_flush(cx)
    }
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_shutdown(cx)
    }
}

fn reuseport_listener(addr: SocketAddr) -> io::Result<std::net::TcpListener> {
    let domain = if addr.is_ipv6() {
        Domain::IPV6
    } else {
        Domain::IPV4
    };
    let sock = Socket::new(domain, Type::STREAM, Some(Protocol::TCP))?;
    sock.set_reuse_address(true)?;
    sock.set_reuse_port(true)?;
    sock.set_nonblocking(true)?;
    sock.bind(&addr.into())?;
    sock.listen(1024)?;
    Ok(sock.into())
}

/// Starts `cores` portable workers; same contract as the glommio `start`.
pub fn start(
    cores: usize,
    addr: SocketAddr,
    ctx: ConnContext,
    next_conn_id: Arc<AtomicU64>,
) -> Result<Started, EndpointError> {
    let (stop_tx, stop) = async_channel::bounded::<()>(1);
    start_workers(cores, addr, stop_tx, |core, bound| {
        let (std_listener, local) = reuseport_listener(bound)
            .and_then(|l| l.local_addr().map(|a| (l, a)))
            .map_err(|e| EndpointError::Bind(bound, e))?;
        let (ready_tx, ready) = mpsc::channel();
        let ctx = ctx.clone();
        let stop = stop.clone();
        let ids = Arc::clone(&next_conn_id);
        let thread = std::thread::Builder::new()
            .name(format!("cmdr-proto-{core}"))
            .spawn(move || worker(std_listener, local, ctx, stop, ids, ready_tx))
            .map_err(|e| EndpointError::Runtime(e.to_string()))?;
        Ok(Worker {
            ready,
            join: Box::new(move || {
                thread
                    .join()
                    .err()
                    .map(|_| "portable protocol worker panicked".to_string())
            }),
        })
    })
}

/// Runs one worker's runtime; reports `bound` as ready once it accepts.
fn worker(
    std_listener: std::net::TcpListener,
    bound: SocketAddr,
    ctx: ConnContext,
    stop: async_channel::Receiver<()>,
    ids: Arc<AtomicU64>,
    ready: mpsc::Sender<Result<SocketAddr, EndpointError>>,
) {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            let _ = ready.send(Err(EndpointError::Runtime(e.to_string())));
            return;
        }
    };
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, async move {
        let listener = match tokio::net::TcpListener::from_std(std_listener) {
            Ok(l) => l,
            Err(e) => {
                let _ = ready.send(Err(EndpointError::Runtime(e.to_string())));
                return;
            }
        };
        let _ = ready.send(Ok(bound));
        loop {
            let accepted = tokio::select! {
                a = listener.accept() => Some(a),
                _ = stop.recv() => None,
            };
            match accepted {
                None => break,
                Some(Ok((stream, peer))) => {
                    // Refused: dropping the stream closes it at once.
                    let Some(permit) = admit(&ctx, peer, stream.as_raw_fd()) else {
                        continue;
                    };
                    let _ = stream.set_nodelay(true);
                    let id = ids.fetch_add(1, Ordering::Relaxed);
                    let ctx = ctx.clone();
                    tokio::task::spawn_local(serve_connection::<_, TokioTimer>(
                        Compat(stream),
                        peer,
                        id,
                        ctx,
                        permit,
                    ));
                }
                Some(Err(e)) => {
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    });
}
