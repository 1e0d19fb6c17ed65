//! The bidirectional relay: two one-way copies run side by side in the connection's task.
//!
//! - **Copy:** read into a 64 KiB buffer and write it out with io_uring's recv/send (or
//!   epoll on the legacy driver, where it is the only strategy).
//! - **Splice:** move bytes socket → pipe → socket with `splice(2)`, never through user
//!   space. The sockets are switched to non-blocking mode and `splice` is called directly
//!   from the worker thread (the private `splice_sys` module, the crate's only unsafe
//!   code); when a socket is not ready the task waits for readiness (an io_uring poll).
//!   A pipe starts at the kernel's default size and
//!   grows to [`PIPE_SIZE`] the first time a read fills it (bulk data). io_uring's own splice
//!   opcode is not used: the kernel always hands it to a worker thread, which costs more
//!   than a copy.
//! - **Auto** (io_uring, the hybrid): each direction starts with copy, switches to inline
//!   splice once a read fills the whole 64 KiB buffer, and back to copy when a splice read
//!   brings less than [`SPLICE_EXIT`]. Small messages (requests and responses) cost what
//!   copy costs, bulk transfers what splice costs. The first switch of a connection makes
//!   both sockets non-blocking; io_uring's recv and send still wait for readiness on such
//!   sockets (Linux 6.x), and should an older kernel answer `EAGAIN` instead, the copy path
//!   waits for readiness and retries. Readiness of a socket whose halves belong to the copy
//!   path is polled through a duplicate of its descriptor, created the first time a
//!   direction has to wait while splicing.
//!
//! Half-close: when one direction reads EOF it shuts down the write side of the other socket
//! and ends; the opposite direction keeps going until its own EOF. An error in either
//! direction ends both. The caller drops both sockets afterwards, which closes them.
//!
//! Errors say which socket failed and how ([`RelayError`]), so the gateway can count them by
//! side ([`crate::failure`]).

use std::cell::{Cell, OnceCell, RefCell};
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::rc::Rc;

use monoio::buf::IoBuf;
use monoio::io::{AsyncReadRent, AsyncWriteRent, Splitable};
use monoio::net::TcpStream;

use crate::splice_sys::{self, RawPipe};

/// Buffer size of the copy strategy; in `auto` mode a read that fills it switches the
/// direction to splice.
pub const COPY_BUF: usize = 64 * 1024;
/// In `auto` mode a splice read shorter than this switches the direction back to copy. It is
/// well below [`COPY_BUF`] because one loopback segment carries just under 64 KiB (MSS
/// 65483), so a streaming direction that keeps up with its sender reads slightly less than
/// a full buffer at a time and should keep splicing.
pub const SPLICE_EXIT: usize = 16 * 1024;
/// Size an inline-splice pipe grows to once bulk data fills it.
pub const PIPE_SIZE: usize = 1024 * 1024;
/// Pipes kept for reuse per worker.
pub const PIPE_POOL_CAP: usize = 256;

/// One of the two sockets of a relayed connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peer {
    /// The accepted client connection.
    Client,
    /// The connection to the upstream.
    Upstream,
}

impl Peer {
    /// The socket at the other end of the relay.
    pub fn other(self) -> Peer {
        match self {
            Self::Client => Self::Upstream,
            Self::Upstream => Self::Client,
        }
    }

    fn index(self) -> usize {
        match self {
            Self::Client => 0,
            Self::Upstream => 1,
        }
    }
}

impl std::fmt::Display for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Client => "client",
            Self::Upstream => "upstream",
        })
    }
}

/// Why a relay ended with an error.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// Reading from (or waiting to read from) a socket failed.
    #[error("reading from the {peer}: {source}")]
    Read {
        /// The socket.
        peer: Peer,
        /// Cause.
        source: io::Error,
    },
    /// Writing to (or waiting to write to) a socket failed, or it accepted no more bytes.
    #[error("writing to the {peer}: {source}")]
    Write {
        /// The socket.
        peer: Peer,
        /// Cause.
        source: io::Error,
    },
    /// The relay could not get a pipe, a descriptor duplicate or a socket mode it needs.
    #[error("relay setup: {0}")]
    Setup(io::Error),
}

impl RelayError {
    fn read(peer: Peer) -> impl FnOnce(io::Error) -> Self {
        move |source| Self::Read { peer, source }
    }

    fn write(peer: Peer) -> impl FnOnce(io::Error) -> Self {
        move |source| Self::Write { peer, source }
    }
}

/// The relay strategy of one connection, after the driver has been taken into account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// Buffered copy only.
    Copy,
    /// Inline splice only (io_uring).
    Splice,
    /// Copy, splicing inline while bulk data flows (io_uring).
    Auto,
}

/// A per-worker pool of empty pipes.
#[derive(Default)]
pub struct PipePool {
    raw: RefCell<Vec<RawPipe>>,
}

impl PipePool {
    fn take(&self) -> io::Result<RawPipe> {
        match self.raw.borrow_mut().pop() {
            Some(p) => Ok(p),
            None => RawPipe::new(),
        }
    }

    /// Only empty pipes come back (after a clean end of stream).
    fn give_back(&self, pipe: RawPipe) {
        let mut raw = self.raw.borrow_mut();
        if raw.len() < PIPE_POOL_CAP {
            raw.push(pipe);
        }
    }

    /// Pipes held now.
    pub fn len(&self) -> usize {
        self.raw.borrow().len()
    }

    /// True when no pipe is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Closes every pooled pipe.
    pub fn clear(&self) {
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
) -> Result<(), RelayError> {
    if strategy == Strategy::Splice {
        splice_sys::set_nonblocking(client.as_raw_fd()).map_err(RelayError::Setup)?;
        splice_sys::set_nonblocking(upstream.as_raw_fd()).map_err(RelayError::Setup)?;
        let a = splice_one_way(&client, &upstream, Peer::Client, &pipes, up);
        let b = splice_one_way(&upstream, &client, Peer::Upstream, &pipes, down);
        return futures_lite::future::try_zip(a, b).await.map(|_| ());
    }
    // Declared before the halves so that the descriptors' duplicates outlive every use.
    let hybrid = Hybrid::new(client.as_raw_fd(), upstream.as_raw_fd());
    let hy = (strategy == Strategy::Auto).then_some(&hybrid);
    let (cr, cw) = client.into_split();
    let (ur, uw) = upstream.into_split();
    let a = one_way(
        cr,
        uw,
        Peer::Client,
        hy.map(|h| h.dir(Peer::Client)),
        &pipes,
        up,
    );
    let b = one_way(
        ur,
        cw,
        Peer::Upstream,
        hy.map(|h| h.dir(Peer::Upstream)),
        &pipes,
        down,
    );
    futures_lite::future::try_zip(a, b).await.map(|_| ())
}

/// What the two directions of an `auto` connection share: the sockets' descriptors, whether
/// they are non-blocking yet, and descriptor duplicates used only to wait for readiness.
struct Hybrid {
    fds: [RawFd; 2],
    nonblocking: Cell<bool>,
    waiters: [OnceCell<TcpStream>; 2],
}

impl Hybrid {
    fn new(client: RawFd, upstream: RawFd) -> Self {
        Self {
            fds: [client, upstream],
            nonblocking: Cell::new(false),
            waiters: [OnceCell::new(), OnceCell::new()],
        }
    }

    /// The direction that reads `from` and writes the other socket.
    fn dir(&self, from: Peer) -> Dir<'_> {
        Dir {
            hy: self,
            from,
            to: from.other(),
        }
    }

    /// Makes both sockets non-blocking (once per connection) before the first splice.
    fn enter_splice(&self) -> Result<(), RelayError> {
        if !self.nonblocking.get() {
            for fd in self.fds {
                splice_sys::set_nonblocking(fd).map_err(RelayError::Setup)?;
            }
            self.nonblocking.set(true);
        }
        Ok(())
    }

    /// A stream on a duplicate of socket `peer`'s descriptor, for readiness polls only.
    fn waiter(&self, peer: Peer) -> Result<&TcpStream, RelayError> {
        let i = peer.index();
        if let Some(w) = self.waiters[i].get() {
            return Ok(w);
        }
        let dup = splice_sys::dup(self.fds[i]).map_err(RelayError::Setup)?;
        let stream =
            TcpStream::from_std(std::net::TcpStream::from(dup)).map_err(RelayError::Setup)?;
        Ok(self.waiters[i].get_or_init(|| stream))
    }
}

/// One direction of an `auto` connection: reads socket `from`, writes socket `to`.
#[derive(Clone, Copy)]
struct Dir<'a> {
    hy: &'a Hybrid,
    from: Peer,
    to: Peer,
}

impl Dir<'_> {
    async fn readable(&self) -> Result<(), RelayError> {
        let waiter = self.hy.waiter(self.from)?;
        waiter
            .readable(false)
            .await
            .map_err(RelayError::read(self.from))
    }

    async fn writable(&self) -> Result<(), RelayError> {
        let waiter = self.hy.waiter(self.to)?;
        waiter
            .writable(false)
            .await
            .map_err(RelayError::write(self.to))
    }

    /// Moves one chunk socket → pipe → socket; 0 at end of stream.
    async fn splice_chunk(&self, pipe: &mut RawPipe) -> Result<usize, RelayError> {
        let (rfd, wfd) = (self.hy.fds[self.from.index()], self.hy.fds[self.to.index()]);
        let n = loop {
            match splice_sys::splice(rfd, pipe.w.as_raw_fd(), pipe.size) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.readable().await?,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(RelayError::read(self.from)(e)),
            }
        };
        if n == 0 {
            return Ok(0);
        }
        let pr = pipe.r.as_raw_fd();
        let mut left = n;
        let write_err = RelayError::write(self.to);
        while left > 0 {
            match splice_sys::splice(pr, wfd, left) {
                Ok(0) => return Err(write_err(io::ErrorKind::WriteZero.into())),
                Ok(m) => left -= m,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.writable().await?,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(write_err(e)),
            }
        }
        if n == pipe.size && pipe.size < PIPE_SIZE {
            pipe.grow(PIPE_SIZE);
        }
        Ok(n)
    }
}

/// One direction of the copy and `auto` strategies (`dir` is `Some` for `auto`): relays
/// until `r` reaches end of stream, then shuts down `w`'s write side.
async fn one_way<R, W>(
    mut r: R,
    mut w: W,
    from: Peer,
    dir: Option<Dir<'_>>,
    pipes: &PipePool,
    meter: impl Fn(usize),
) -> Result<(), RelayError>
where
    R: AsyncReadRent,
    W: AsyncWriteRent,
{
    let mut buf: Vec<u8> = Vec::new();
    let mut pipe: Option<RawPipe> = None;
    let mut splicing = false;
    loop {
        let n = match (splicing, dir) {
            (true, Some(d)) => {
                let p = match &mut pipe {
                    Some(p) => p,
                    None => pipe.insert(pipes.take().map_err(RelayError::Setup)?),
                };
                let n = d.splice_chunk(p).await?;
                splicing = n >= SPLICE_EXIT;
                n
            }
            _ => {
                if buf.capacity() == 0 {
                    buf.reserve_exact(COPY_BUF);
                }
                let n = copy_chunk(&mut r, &mut w, from, &mut buf, dir).await?;
                if let Some(d) = dir
                    && n == buf.capacity()
                {
                    d.hy.enter_splice()?;
                    splicing = true;
                }
                n
            }
        };
        if n == 0 {
            break;
        }
        meter(n);
    }
    // Reached only at a clean end of stream, so the pipe is empty.
    if let Some(p) = pipe {
        pipes.give_back(p);
    }
    // The peer may already be gone; its own close ends the other direction.
    let _ = w.shutdown().await;
    Ok(())
}

fn retry_after_wait(e: &io::Error, dir: Option<Dir<'_>>) -> bool {
    match e.kind() {
        io::ErrorKind::Interrupted => true,
        io::ErrorKind::WouldBlock => dir.is_some_and(|d| d.hy.nonblocking.get()),
        _ => false,
    }
}

/// Reads once into `buf` (from socket `from`) and writes all of it to the other socket; 0 at
/// end of stream. `buf` comes back empty.
async fn copy_chunk<R, W>(
    r: &mut R,
    w: &mut W,
    from: Peer,
    buf: &mut Vec<u8>,
    dir: Option<Dir<'_>>,
) -> Result<usize, RelayError>
where
    R: AsyncReadRent,
    W: AsyncWriteRent,
{
    let mut owned = std::mem::take(buf);
    let n = loop {
        let (res, back) = r.read(owned).await;
        owned = back;
        match res {
            Ok(n) => break n,
            Err(e) if retry_after_wait(&e, dir) => {
                if let (Some(d), io::ErrorKind::WouldBlock) = (dir, e.kind()) {
                    d.readable().await?;
                }
            }
            Err(e) => return Err(RelayError::read(from)(e)),
        }
    };
    let to = from.other();
    let mut done = 0;
    while done < n {
        let (res, slice) = w.write(owned.slice(done..n)).await;
        owned = slice.into_inner();
        match res {
            Ok(0) => return Err(RelayError::write(to)(io::ErrorKind::WriteZero.into())),
            Ok(m) => done += m,
            Err(e) if retry_after_wait(&e, dir) => {
                if let (Some(d), io::ErrorKind::WouldBlock) = (dir, e.kind()) {
                    d.writable().await?;
                }
            }
            Err(e) => return Err(RelayError::write(to)(e)),
        }
    }
    owned.clear();
    *buf = owned;
    Ok(n)
}

/// One direction of the inline splice relay: fill the pipe from `r`, drain it into `w`, until
/// `r` reaches end of stream; then shut down `w`'s write side.
async fn splice_one_way(
    r: &TcpStream,
    w: &TcpStream,
    from: Peer,
    pipes: &PipePool,
    meter: impl Fn(usize),
) -> Result<(), RelayError> {
    let mut pipe = pipes.take().map_err(RelayError::Setup)?;
    let (rfd, wfd) = (r.as_raw_fd(), w.as_raw_fd());
    let (pr, pw) = (pipe.r.as_raw_fd(), pipe.w.as_raw_fd());
    let to = from.other();
    loop {
        let n = loop {
            match splice_sys::splice(rfd, pw, pipe.size) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    r.readable(false).await.map_err(RelayError::read(from))?
                }
                Err(e) => return Err(RelayError::read(from)(e)),
            }
        };
        if n == 0 {
            break;
        }
        drain(pr, wfd, w, n).await.map_err(RelayError::write(to))?;
        meter(n);
        if n == pipe.size && pipe.size < PIPE_SIZE {
            pipe.grow(PIPE_SIZE);
        }
    }
    pipes.give_back(pipe);
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
