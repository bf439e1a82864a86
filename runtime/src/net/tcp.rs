//! TCP: [`TcpListener`] and [`TcpStream`], `std::net`'s types over the netpoller (see the
//! module docs of [`crate::net`]). Go counterpart: `net.TCPListener`, `net.TCPConn`.
//! Lesson: 15 (network server).

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, ToSocketAddrs};
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use std::time::Instant;

use super::poll::Dir;
use super::{IoSource, RawAddr, resolve};
use crate::ctx::Context;
use crate::sched;

/// A TCP socket server, listening for connections (`std::net::TcpListener` that parks the
/// task in [`accept`](TcpListener::accept)).
///
/// ```
/// use std::io::{Read, Write};
/// goro::run(|| {
///     let listener = goro::net::TcpListener::bind("127.0.0.1:0").unwrap();
///     let addr = listener.local_addr().unwrap();
///     let client = goro::spawn(move || {
///         let mut s = goro::net::TcpStream::connect(addr).unwrap();
///         s.write_all(b"ping").unwrap();
///         let mut reply = [0; 4];
///         s.read_exact(&mut reply).unwrap();
///         reply
///     });
///     let (mut conn, _) = listener.accept().unwrap();
///     let mut buf = [0; 4];
///     conn.read_exact(&mut buf).unwrap();
///     conn.write_all(&buf).unwrap();
///     assert_eq!(&client.join().unwrap(), b"ping");
/// });
/// ```
pub struct TcpListener {
    // Dropped before `inner`: deregisters while the descriptor is still open.
    io: IoSource,
    inner: std::net::TcpListener,
}

impl TcpListener {
    /// Binds to `addr` and listens (`std::net::TcpListener::bind`). Port 0 picks a free port;
    /// [`local_addr`](TcpListener::local_addr) tells which.
    pub fn bind(addr: impl ToSocketAddrs) -> io::Result<TcpListener> {
        let inner = std::net::TcpListener::bind(addr)?;
        TcpListener::from_std(inner)
    }

    /// Wraps a listener made by `std` (it is switched to non-blocking mode).
    pub fn from_std(inner: std::net::TcpListener) -> io::Result<TcpListener> {
        inner.set_nonblocking(true)?;
        Ok(TcpListener {
            io: IoSource::new(inner.as_raw_fd()),
            inner,
        })
    }

    /// Waits for a connection: the task parks (`IO wait`) until one arrives.
    pub fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        self.accept_inner(None)
    }

    /// [`accept`](TcpListener::accept) that also ends when `ctx` is cancelled (see
    /// [`crate::net::ctx_error`]): how a server's accept loop stops.
    pub fn accept_ctx(&self, ctx: &Context) -> io::Result<(TcpStream, SocketAddr)> {
        self.accept_inner(Some(ctx))
    }

    fn accept_inner(&self, ctx: Option<&Context>) -> io::Result<(TcpStream, SocketAddr)> {
        let (s, addr) = self.io.run(Dir::Read, ctx, || self.inner.accept())?;
        Ok((TcpStream::from_std(s)?, addr))
    }

    /// Makes [`accept`](TcpListener::accept) fail with `TimedOut` once `deadline` (on
    /// [`crate::time::now`]'s clock) has passed; `None` clears it (Go's `SetDeadline`).
    pub fn set_deadline(&self, deadline: Option<Instant>) {
        self.io.set_deadline(Dir::Read, deadline);
    }

    /// The address this listener is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }

    /// The listener's underlying `std` socket (non-blocking).
    pub fn as_std(&self) -> &std::net::TcpListener {
        &self.inner
    }
}

impl fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpListener")
            .field("addr", &self.inner.local_addr().ok())
            .field("fd", &self.inner.as_raw_fd())
            .finish()
    }
}

impl AsRawFd for TcpListener {
    fn as_raw_fd(&self) -> RawFd {
        self.inner.as_raw_fd()
    }
}

/// A TCP connection (`std::net::TcpStream` that parks the task while it waits). `Read` and
/// `Write` are implemented for `TcpStream` and for `&TcpStream`, so one task can read while
/// another writes the same connection (share it in an `Arc`).
pub struct TcpStream {
    // Dropped before `inner`: deregisters while the descriptor is still open.
    io: IoSource,
    inner: std::net::TcpStream,
}

impl TcpStream {
    /// Connects to `addr`, trying each address it resolves to in turn (`std`'s rule). Inside a
    /// task the connection is made without blocking the worker.
    pub fn connect(addr: impl ToSocketAddrs) -> io::Result<TcpStream> {
        let mut last = None;
        for a in resolve(addr)? {
            match TcpStream::connect_addr(&a, None) {
                Ok(s) => return Ok(s),
                Err(e) => last = Some(e),
            }
        }
        Err(last.expect("resolve returns at least one address"))
    }

    /// [`connect`](TcpStream::connect) to one address that also ends when `ctx` is cancelled
    /// (a `ctx::with_timeout` context is a connect timeout).
    pub fn connect_ctx(ctx: &Context, addr: SocketAddr) -> io::Result<TcpStream> {
        TcpStream::connect_addr(&addr, Some(ctx))
    }

    fn connect_addr(addr: &SocketAddr, ctx: Option<&Context>) -> io::Result<TcpStream> {
        if !sched::in_task() && ctx.is_none() {
            return TcpStream::from_std(std::net::TcpStream::connect(addr)?);
        }
        let raw = RawAddr::new(addr);
        // SAFETY: a plain system call; the descriptor is checked and owned right below.
        let fd = unsafe {
            libc::socket(
                raw.family(),
                libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                0,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is a fresh socket nobody else owns; the stream closes it on drop.
        let inner = unsafe { std::net::TcpStream::from_raw_fd(fd) };
        let stream = TcpStream {
            io: IoSource::new(fd),
            inner,
        };
        let (ptr, len) = raw.as_ptr();
        // SAFETY: `ptr`/`len` describe a live sockaddr of the socket's family.
        if unsafe { libc::connect(fd, ptr, len) } < 0 {
            let e = io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::EINPROGRESS) {
                return Err(e);
            }
            // Connected (or failed) once writable; SO_ERROR says which.
            stream.io.run(Dir::Write, ctx, || {
                if let Some(e) = stream.inner.take_error()? {
                    return Err(e);
                }
                match stream.inner.peer_addr() {
                    Ok(_) => Ok(()),
                    Err(e) if e.raw_os_error() == Some(libc::ENOTCONN) => {
                        Err(io::ErrorKind::WouldBlock.into())
                    }
                    Err(e) => Err(e),
                }
            })?;
        }
        Ok(stream)
    }

    /// Wraps a stream made by `std` (it is switched to non-blocking mode).
    pub fn from_std(inner: std::net::TcpStream) -> io::Result<TcpStream> {
        inner.set_nonblocking(true)?;
        Ok(TcpStream {
            io: IoSource::new(inner.as_raw_fd()),
            inner,
        })
    }

    /// Reads like [`Read::read`], but also ends when `ctx` is cancelled.
    #[track_caller]
    pub fn read_ctx(&self, ctx: &Context, buf: &mut [u8]) -> io::Result<usize> {
        self.io
            .run(Dir::Read, Some(ctx), || (&self.inner).read(buf))
    }

    /// Writes like [`Write::write`], but also ends when `ctx` is cancelled.
    #[track_caller]
    pub fn write_ctx(&self, ctx: &Context, buf: &[u8]) -> io::Result<usize> {
        self.io
            .run(Dir::Write, Some(ctx), || (&self.inner).write(buf))
    }

    /// Makes reads fail with `TimedOut` once `deadline` (on [`crate::time::now`]'s clock)
    /// has passed, even a read already waiting; `None` clears it (Go's `SetReadDeadline`).
    pub fn set_read_deadline(&self, deadline: Option<Instant>) {
        self.io.set_deadline(Dir::Read, deadline);
    }

    /// The same for writes (Go's `SetWriteDeadline`).
    pub fn set_write_deadline(&self, deadline: Option<Instant>) {
        self.io.set_deadline(Dir::Write, deadline);
    }

    /// Both deadlines at once (Go's `SetDeadline`).
    pub fn set_deadline(&self, deadline: Option<Instant>) {
        self.set_read_deadline(deadline);
        self.set_write_deadline(deadline);
    }

    /// Shuts down the read half, the write half or both (`std::net::TcpStream::shutdown`).
    /// `Shutdown::Write` sends the peer an end of file once the buffered data is out.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.inner.shutdown(how)
    }

    /// This end's address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }

    /// The other end's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.peer_addr()
    }

    /// Sets `TCP_NODELAY` (disables Nagle's algorithm: small writes go out at once).
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.inner.set_nodelay(nodelay)
    }

    /// Whether `TCP_NODELAY` is set.
    pub fn nodelay(&self) -> io::Result<bool> {
        self.inner.nodelay()
    }

    /// The stream's underlying `std` socket (non-blocking).
    pub fn as_std(&self) -> &std::net::TcpStream {
        &self.inner
    }
}

impl Read for &TcpStream {
    #[track_caller]
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let inner = &self.inner;
        self.io.run(Dir::Read, None, || (&*inner).read(buf))
    }
}

impl Write for &TcpStream {
    #[track_caller]
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let inner = &self.inner;
        self.io.run(Dir::Write, None, || (&*inner).write(buf))
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Read for TcpStream {
    #[track_caller]
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }
}

impl Write for TcpStream {
    #[track_caller]
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpStream")
            .field("addr", &self.inner.local_addr().ok())
            .field("peer", &self.inner.peer_addr().ok())
            .field("fd", &self.inner.as_raw_fd())
            .finish()
    }
}

impl AsRawFd for TcpStream {
    fn as_raw_fd(&self) -> RawFd {
        self.inner.as_raw_fd()
    }
}
