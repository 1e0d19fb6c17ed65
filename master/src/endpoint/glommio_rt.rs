//! The io_uring endpoint: one glommio executor per core, each with its own SO_REUSEPORT
//! listener on the same address, so the kernel spreads connections across cores.

use super::EndpointError;
use super::conn::{ConnContext, Timer, admit, serve_connection};
use super::workers::{Started, Worker, start_workers};
use glommio::net::TcpListener;
use glommio::{LocalExecutorBuilder, Placement};
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;

/// io_uring buffer memory per executor: glommio registers it once per ring (three rings),
/// and the memlock limit here is 8 MiB, so stay well under a third of it.
const IO_MEMORY: usize = 2 << 20;

/// glommio's timer.
pub struct GlommioTimer;

impl Timer for GlommioTimer {
    async fn sleep(d: Duration) {
        glommio::timer::sleep(d).await;
    }
}

/// Starts `cores` executors. The first binds `addr` (possibly port 0) and the rest bind the
/// address it got. Returns that address and a joiner per executor.
pub fn start(
    cores: usize,
    addr: SocketAddr,
    ctx: ConnContext,
    next_conn_id: Arc<AtomicU64>,
) -> Result<Started, EndpointError> {
    let (stop_tx, stop) = async_channel::bounded::<()>(1);
    start_workers(cores, addr, stop_tx, |core, bound| {
        let (ready_tx, ready) = mpsc::channel();
        let ctx = ctx.clone();
        let stop = stop.clone();
        let ids = Arc::clone(&next_conn_id);
        let handle = LocalExecutorBuilder::new(Placement::Unbound)
            .name(&format!("cmdr-proto-{core}"))
            .io_memory(IO_MEMORY)
            .spawn(move || accept_loop(bound, ctx, stop, ids, ready_tx))
            .map_err(|e| EndpointError::Runtime(e.to_string()))?;
        Ok(Worker {
            ready,
            join: Box::new(move || match handle.join() {
                Err(e) => Some(e.to_string()),
                Ok(()) => None,
            }),
        })
    })
}

async fn accept_loop(
    addr: SocketAddr,
    ctx: ConnContext,
    stop: async_channel::Receiver<()>,
    ids: Arc<AtomicU64>,
    ready: mpsc::Sender<Result<SocketAddr, EndpointError>>,
) {
    let listener = match TcpListener::bind(addr) {
        Ok(l) => l,
        Err(e) => {
            let _ = ready.send(Err(EndpointError::Bind(addr, e.into())));
            return;
        }
    };
    let local = match listener.local_addr() {
        Ok(a) => a,
        Err(e) => {
            let _ = ready.send(Err(EndpointError::Bind(addr, e.into())));
            return;
        }
    };
    let _ = ready.send(Ok(local));
    loop {
        let accepted = futures_lite::future::or(async { Some(listener.accept().await) }, async {
            let _ = stop.recv().await;
            None
        })
        .await;
        match accepted {
            None => break,
            Some(Ok(stream)) => {
                let peer = stream.peer_addr().unwrap_or(local);
                // Refused: dropping the stream closes it at once.
                let Some(permit) = admit(&ctx, peer, stream.as_raw_fd()) else {
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let id = ids.fetch_add(1, Ordering::Relaxed);
                let ctx = ctx.clone();
                glommio::spawn_local(serve_connection::<_, GlommioTimer>(
                    stream, peer, id, ctx, permit,
                ))
                .detach();
            }
            Some(Err(e)) => {
                tracing::warn!("accept failed: {e}");
                glommio::timer::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}
