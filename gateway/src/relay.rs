//! The bidirectional relay: two one-way copies run side by side in the connection's task.
//!
//! - **Copy:** read into a buffer and write it out (the only strategy on the legacy driver).
//! - **Splice:** move bytes socket → pipe → socket with `splice(2)` in chunks of
//!   [`SPLICE_CHUNK`], never through user space (monoio 0.2.4's own `zero_copy` moves 4 KiB
//!   per call, so this is our own loop).
//! - **Auto** (io_uring): copy while messages are small, switch a direction to splice once a
//!   read fills the whole buffer (bulk data), and back to copy when a splice comes up short.
//!   io_uring runs splice on a kernel worker thread, which pays off for bulk transfers but
//!   costs latency on small exchanges and would park a worker on an idle connection.
//!
//! Which is faster depends on the kernel: on the machine this was built on (Linux 6.18,
//! 2 cores) copy beat both splice strategies for bulk data because io_uring cannot splice
//! inline, so `copy` is the default ([`crate::config::DEFAULT_RELAY`]). monoio 0.2.4 also
//! gives no access to a pipe's descriptor, so pipes stay at the kernel's 64 KiB default.
//!
//! Half-close: when one direction reads EOF it shuts down the write side of the other socket
//! and ends; the opposite direction keeps going until its own EOF. An error in either
//! direction ends both. The caller drops both sockets afterwards, which closes them.

use std::cell::RefCell;
use std::io;
use std::rc::Rc;

use monoio::io::as_fd::{AsReadFd, AsWriteFd};
use monoio::io::splice::{SpliceDestination, SpliceSource};
use monoio::io::{AsyncReadRent, AsyncWriteRent, AsyncWriteRentExt, Splitable};
use monoio::net::{Pipe, TcpStream};

/// Buffer size of the copy strategy.
pub const COPY_BUF: usize = 64 * 1024;
/// Bytes asked of one splice call (the default pipe holds 64 KiB).
pub const SPLICE_CHUNK: u32 = 64 * 1024;
/// Pipes kept for reuse per worker.
pub const PIPE_POOL_CAP: usize = 256;

/// The relay strategy of one connection, after the driver has been taken into account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// Buffered copy only.
    Copy,
    /// Splice only.
    Splice,
    /// Copy, splicing while bulk data flows.
    Auto,
}

/// A per-worker pool of empty pipes.
#[derive(Default)]
pub struct PipePool {
    pipes: RefCell<Vec<(Pipe, Pipe)>>,
}

impl PipePool {
    fn take(&self) -> io::Result<(Pipe, Pipe)> {
        match self.pipes.borrow_mut().pop() {
            Some(p) => Ok(p),
            None => monoio::net::unix::new_pipe(),
        }
    }

    fn give_back(&self, pipe: (Pipe, Pipe)) {
        let mut pipes = self.pipes.borrow_mut();
        if pipes.len() < PIPE_POOL_CAP {
            pipes.push(pipe);
        }
    }

    /// Pipes held now.
    pub fn len(&self) -> usize {
        self.pipes.borrow().len()
    }

    /// True when no pipe is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Closes every pooled pipe.
    pub fn clear(&self) {
        self.pipes.borrow_mut().clear();
    }
}

/// Relays until both directions end; `up` and `down` are told every chunk's size.
pub async fn relay(
    client: TcpStream,
    upstream: TcpStream,
    strategy: Strategy,
    pipes: Rc<PipePool>,
    up: impl Fn(usize),
    down: impl Fn(usize),
) -> io::Result<()> {
    let (cr, cw) = client.into_split();
    let (ur, uw) = upstream.into_split();
    let a = one_way(cr, uw, strategy, &pipes, up);
    let b = one_way(ur, cw, strategy, &pipes, down);
    futures_lite::future::try_zip(a, b).await.map(|_| ())
}

async fn one_way<R, W>(
    mut r: R,
    mut w: W,
    strategy: Strategy,
    pipes: &PipePool,
    meter: impl Fn(usize),
) -> io::Result<()>
where
    R: AsyncReadRent + AsReadFd,
    W: AsyncWriteRent + AsWriteFd,
{
    let mut buf: Vec<u8> = Vec::new();
    let mut pipe: Option<(Pipe, Pipe)> = None;
    let mut splicing = strategy == Strategy::Splice;
    loop {
        let n = if splicing {
            let p = match &mut pipe {
                Some(p) => p,
                None => pipe.insert(pipes.take()?),
            };
            let n = splice_chunk(&mut r, &mut w, p).await?;
            if strategy == Strategy::Auto && n < SPLICE_CHUNK as usize {
                splicing = false;
            }
            n
        } else {
            if buf.capacity() == 0 {
                buf.reserve_exact(COPY_BUF);
            }
            let n = copy_chunk(&mut r, &mut w, &mut buf).await?;
            if strategy == Strategy::Auto && n == buf.capacity() {
                splicing = true;
            }
            n
        };
        if n == 0 {
            break;
        }
        meter(n);
    }
    if let Some(p) = pipe {
        pipes.give_back(p);
    }
    // The peer may already be gone; its own close ends the other direction.
    let _ = w.shutdown().await;
    Ok(())
}

async fn copy_chunk<R, W>(r: &mut R, w: &mut W, buf: &mut Vec<u8>) -> io::Result<usize>
where
    R: AsyncReadRent,
    W: AsyncWriteRent,
{
    let owned = std::mem::take(buf);
    let (res, owned) = r.read(owned).await;
    let n = match res {
        Ok(0) => {
            *buf = owned;
            return Ok(0);
        }
        Ok(n) => n,
        Err(e) => return Err(e),
    };
    let (res, mut owned) = w.write_all(owned).await;
    res?;
    owned.clear();
    *buf = owned;
    Ok(n)
}

/// Moves one chunk socket → pipe → socket; 0 at EOF. The pipe is empty again on success.
async fn splice_chunk<R, W>(r: &mut R, w: &mut W, pipe: &mut (Pipe, Pipe)) -> io::Result<usize>
where
    R: AsReadFd,
    W: AsWriteFd,
{
    let (pr, pw) = pipe;
    let n = r.splice_to_pipe(pw, SPLICE_CHUNK).await?;
    let mut left = n;
    while left > 0 {
        let m = w.splice_from_pipe(pr, left).await?;
        if m == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        left -= m;
    }
    Ok(n as usize)
}
