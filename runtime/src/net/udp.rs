//! UDP: [`UdpSocket`], `std::net::UdpSocket` over the netpoller (see [`crate::net`]).
//! Go counterpart: `net.UDPConn`. Lesson: 15 (network server).

use std::fmt;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::os::fd::{AsRawFd, RawFd};
use std::time::Instant;

use super::IoSource;
use super::poll::Dir;
use crate::ctx::Context;

/// A UDP socket (`std::net::UdpSocket` that parks the task while it waits).
///
/// ```
/// goro::run(|| {
///     let a = goro::net::UdpSocket::bind("127.0.0.1:0").unwrap();
///     let b = goro::net::UdpSocket::bind("127.0.0.1:0").unwrap();
///     a.send_to(b"hi", b.local_addr().unwrap()).unwrap();
///     let mut buf = [0; 8];
///     let (n, from) = b.recv_from(&mut buf).unwrap();
///     assert_eq!((&buf[..n], from), (&b"hi"[..], a.local_addr().unwrap()));
/// });
/// ```
pub struct UdpSocket {
    // Dropped before `inner`: deregisters while the descriptor is still open.
    io: IoSource,
    inner: std::net::UdpSocket,
}

impl UdpSocket {
    /// Binds to `addr` (`std::net::UdpSocket::bind`).
    pub fn bind(addr: impl ToSocketAddrs) -> io::Result<UdpSocket> {
        UdpSocket::from_std(std::net::UdpSocket::bind(addr)?)
    }

    /// Wraps a socket made by `std` (it is switched to non-blocking mode).
    pub fn from_std(inner: std::net::UdpSocket) -> io::Result<UdpSocket> {
        inner.set_nonblocking(true)?;
        Ok(UdpSocket {
            io: IoSource::new(inner.as_raw_fd()),
            inner,
        })
    }

    /// Sends a datagram to `addr`.
    #[track_caller]
    pub fn send_to(&self, buf: &[u8], addr: impl ToSocketAddrs) -> io::Result<usize> {
        let addr = super::resolve(addr)?[0];
        self.io
            .run(Dir::Write, None, || self.inner.send_to(buf, addr))
    }

    /// Receives a datagram; the task parks until one arrives.
    #[track_caller]
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.io.run(Dir::Read, None, || self.inner.recv_from(buf))
    }

    /// [`recv_from`](UdpSocket::recv_from) that also ends when `ctx` is cancelled.
    #[track_caller]
    pub fn recv_from_ctx(&self, ctx: &Context, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.io
            .run(Dir::Read, Some(ctx), || self.inner.recv_from(buf))
    }

    /// Sets the default peer: [`send`](UdpSocket::send) goes there and only its datagrams
    /// are received.
    pub fn connect(&self, addr: impl ToSocketAddrs) -> io::Result<()> {
        self.inner.connect(addr)
    }

    /// Sends a datagram to the connected peer.
    #[track_caller]
    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.io.run(Dir::Write, None, || self.inner.send(buf))
    }

    /// Receives a datagram from the connected peer.
    #[track_caller]
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io.run(Dir::Read, None, || self.inner.recv(buf))
    }

    /// Makes receives fail with `TimedOut` once `deadline` has passed (Go's
    /// `SetReadDeadline`); `None` clears it.
    pub fn set_read_deadline(&self, deadline: Option<Instant>) {
        self.io.set_deadline(Dir::Read, deadline);
    }

    /// The same for sends (Go's `SetWriteDeadline`).
    pub fn set_write_deadline(&self, deadline: Option<Instant>) {
        self.io.set_deadline(Dir::Write, deadline);
    }

    /// This socket's address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }

    /// The connected peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.peer_addr()
    }

    /// The socket's underlying `std` socket (non-blocking).
    pub fn as_std(&self) -> &std::net::UdpSocket {
        &self.inner
    }
}

impl fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UdpSocket")
            .field("addr", &self.inner.local_addr().ok())
            .field("fd", &self.inner.as_raw_fd())
            .finish()
    }
}

impl AsRawFd for UdpSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.inner.as_raw_fd()
    }
}
