//! The bidirectional relay: two one-way copies run side by side in the connection's task.
//!
//! - **Copy:** read into a buffer and write it out (the only strategy on the legacy driver).
//! - **Splice:** move bytes socket → pipe → socket with `splice(2)`, never through user
//!   space. The sockets are switched to non-blocking mode and `splice` is called directly
//!   from the worker thread ([`crate::splice_sys`]); when a socket is not ready the task
//!   waits for readiness (an io_uring poll, or epoll). A pipe starts at the kernel's default
//!   size and grows to [`PIPE_SIZE`] the first time a read fills it (bulk data). Going
//!   through io_uring's own splice opcode was slower than copying: io_uring always hands
//!   splice to a kernel worker thread, and monoio 0.2.4 gives no access to a pipe's
//!   descriptor to enlarge it.
//! - **Auto** (io_uring): copy while messages are small, switch a direction to io_uring
//!   splice (64 KiB chunks) once a read fills the whole buffer, and back to copy when a
//!   splice comes up short.
//!
//! Half-close: when one direction reads EOF it shuts down the write side of the other socket
//! and ends; the opposite direction keeps going until its own EOF. An error in either
//! direction ends both. The caller drops both sockets afterwards, which closes them.

use std::cell::RefCell;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::rc::Rc;

use monoio::io::as_fd::{AsReadFd, AsWriteFd};
use monoio::io::splice::{SpliceDestination, SpliceSource};
use monoio::io::{AsyncReadRent, AsyncWriteRent, AsyncWriteRentExt, Splitable};
use monoio::net::{Pipe, TcpStream};

use crate::splice_sys::{self, RawPipe};

/// Buffer size of the copy strategy.
pub const COPY_BUF: usize = 64 * 1024;
/// Bytes asked of one io_uring splice call in `auto` mode (the default pipe holds 64 KiB).
pub const SPLICE_CHUNK: u32 = 64 * 1024;
/// Size an inline-splice pipe grows to once bulk data fills it.
pub const PIPE_SIZE: usize = 1024 * 1024;
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
    raw: RefCell<Vec<RawPipe>>,
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

    fn take_raw(&self) -> io::Result<RawPipe> {
        match self.raw.borrow_mut().pop() {
            Some(p) => Ok(p),
            None => RawPipe::new(),
        }
    }

    /// Only empty pipes come back (after a clean end of stream).
    fn give_back_raw(&self, pipe: RawPipe) {
        let mut raw = self.raw.borrow_mut();
        if raw.len() < PIPE_POOL_CAP {
            raw.push(pipe);
        }
    }

    /// Pipes held now.
    pub fn len(&self) -> usize {
        self.pipes.borrow().len() + self.raw.borrow().len()
    }

    /// True when no pipe is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Closes every pooled pipe.
    pub fn clear(&self) {
        self.pipes.borrow_mut().clear();
        self.raw.borrow_mut().clear();
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
    if strategy == Strategy::Splice {
        splice_sys::set_nonblocking(client.as_raw_fd())?;
        splice_sys::set_nonblocking(upstream.as_raw_fd())?;
        let a = splice_one_way(&client, &upstream, &pipes, up);
        let b = splice_one_way(&upstream, &client, &pipes, down);
        return futures_lite::future::try_zip(a, b).await.map(|_| ());
    }
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
    let mut splicing = false;
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

/// One direction of the inline splice relay: fill the pipe from `r`, drain it into `w`, until
/// `r` reaches end of stream; then shut down `w`'s write side.
async fn splice_one_way(
    r: &TcpStream,
    w: &TcpStream,
    pipes: &PipePool,
    meter: impl Fn(usize),
) -> io::Result<()> {
    let mut pipe = pipes.take_raw()?;
    let (rfd, wfd) = (r.as_raw_fd(), w.as_raw_fd());
    let (pr, pw) = (pipe.r.as_raw_fd(), pipe.w.as_raw_fd());
    loop {
        let n = loop {
            match splice_sys::splice(rfd, pw, pipe.size) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => r.readable(false).await?,
                Err(e) => return Err(e),
            }
        };
        if n == 0 {
            break;
        }
        drain(pr, wfd, w, n).await?;
        meter(n);
        if n == pipe.size && pipe.size < PIPE_SIZE {
            pipe.grow(PIPE_SIZE);
        }
    }
    pipes.give_back_raw(pipe);
    // The peer may already be gone; its own close ends the other direction.
    let _ = splice_sys::shutdown_write(wfd);
    Ok(())
}

/// Moves `n` bytes from the pipe's read end `pr` into the socket `w` (descriptor `wfd`).
async fn drain(pr: RawFd, wfd: RawFd, w: &TcpStream, n: usize) -> io::Result<()> {
    let mut left = n;
    while left > 0 {
        match splice_sys::splice(pr, wfd, left) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(m) => left -= m,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => w.writable(false).await?,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
