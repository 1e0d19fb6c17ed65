//! The few raw system calls the inline splice relay needs and no safe API here offers:
//! `pipe2`, `fcntl(F_SETPIPE_SZ)`, `fcntl(F_SETFL, O_NONBLOCK)`, `fcntl(F_DUPFD_CLOEXEC)`,
//! `splice(2)` with `SPLICE_F_NONBLOCK` and `shutdown(SHUT_WR)` on a borrowed socket.
//! monoio 0.2.4 submits splice to io_uring, which always punts it to a kernel worker thread,
//! and exposes no pipe descriptor to enlarge; calling splice directly on non-blocking
//! descriptors runs it inline in the worker thread instead.
//!
//! This is the only module of the crate with `unsafe` code: each block is one libc call on
//! descriptors that the caller keeps open for the duration of the call.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// A pipe with both ends non-blocking and close-on-exec.
pub struct RawPipe {
    /// Read end.
    pub r: OwnedFd,
    /// Write end.
    pub w: OwnedFd,
    /// Capacity in bytes as the kernel reports it.
    pub size: usize,
}

fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

impl RawPipe {
    /// `pipe2(O_NONBLOCK | O_CLOEXEC)` at the kernel's default size.
    pub fn new() -> io::Result<Self> {
        let mut fds = [0 as libc::c_int; 2];
        // SAFETY: `fds` is a valid array of two ints for the kernel to fill.
        check(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) })?;
        // SAFETY: pipe2 succeeded, so both descriptors are open and owned by nobody else.
        let (r, w) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        // SAFETY: fcntl on a descriptor we own.
        let size = check(unsafe { libc::fcntl(r.as_raw_fd(), libc::F_GETPIPE_SZ) })?;
        Ok(Self {
            r,
            w,
            size: size as usize,
        })
    }

    /// Asks for `bytes` of capacity; keeps the current size when the kernel refuses (an
    /// unprivileged user over `fs.pipe-user-pages-soft`). Returns the size now in effect.
    pub fn grow(&mut self, bytes: usize) -> usize {
        let want = libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX);
        // SAFETY: fcntl on a descriptor we own.
        if let Ok(n) = check(unsafe { libc::fcntl(self.w.as_raw_fd(), libc::F_SETPIPE_SZ, want) }) {
            self.size = n as usize;
        }
        self.size
    }
}

/// `splice(from, NULL, to, NULL, len, SPLICE_F_MOVE | SPLICE_F_NONBLOCK)`; `WouldBlock` when
/// the source has nothing or the destination has no room (both must be non-blocking).
pub fn splice(from: RawFd, to: RawFd, len: usize) -> io::Result<usize> {
    let flags = libc::SPLICE_F_MOVE | libc::SPLICE_F_NONBLOCK;
    // SAFETY: no pointers are passed (null offsets); the caller keeps both descriptors open.
    let n = unsafe {
        libc::splice(
            from,
            std::ptr::null_mut(),
            to,
            std::ptr::null_mut(),
            len,
            flags,
        )
    };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// Sets `O_NONBLOCK` on a descriptor the caller keeps open.
pub fn set_nonblocking(fd: RawFd) -> io::Result<()> {
    // SAFETY: fcntl with integer arguments on a descriptor the caller keeps open.
    let flags = check(unsafe { libc::fcntl(fd, libc::F_GETFL) })?;
    if flags & libc::O_NONBLOCK == 0 {
        // SAFETY: as above.
        check(unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) })?;
    }
    Ok(())
}

/// `fcntl(F_DUPFD_CLOEXEC)`: a second descriptor for the same open socket, which the caller
/// keeps open for the duration of the call.
pub fn dup(fd: RawFd) -> io::Result<OwnedFd> {
    // SAFETY: fcntl with integer arguments on a descriptor the caller keeps open.
    let new = check(unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) })?;
    // SAFETY: the kernel just returned this descriptor; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(new) })
}

/// `shutdown(fd, SHUT_WR)` on a socket the caller keeps open.
pub fn shutdown_write(fd: RawFd) -> io::Result<()> {
    // SAFETY: shutdown with integer arguments on a descriptor the caller keeps open.
    check(unsafe { libc::shutdown(fd, libc::SHUT_WR) }).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    #[test]
    fn splice_moves_bytes_between_sockets_without_blocking() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut a = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (b, _) = l.accept().unwrap();
        let c_l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let c = std::net::TcpStream::connect(c_l.local_addr().unwrap()).unwrap();
        let (mut d, _) = c_l.accept().unwrap();
        set_nonblocking(b.as_raw_fd()).unwrap();
        set_nonblocking(c.as_raw_fd()).unwrap();
        let mut p = RawPipe::new().unwrap();
        assert!(p.size >= 4096);
        assert!(p.grow(1 << 20) >= p.size.min(1 << 20).min(65536));
        let e = splice(b.as_raw_fd(), p.w.as_raw_fd(), 65536).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
        a.write_all(b"hello").unwrap();
        let mut n = 0;
        while n == 0 {
            n = match splice(b.as_raw_fd(), p.w.as_raw_fd(), 65536) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => 0,
                Err(e) => panic!("{e}"),
            };
        }
        assert_eq!(n, 5);
        assert_eq!(splice(p.r.as_raw_fd(), c.as_raw_fd(), n).unwrap(), 5);
        let mut got = [0u8; 5];
        d.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"hello");
    }
}
