//! Networking that parks the task, not the thread: [`TcpListener`], [`TcpStream`] and
//! [`UdpSocket`], mirroring `std::net`.
//!
//! Each socket is a `std::net` socket switched to non-blocking mode. An operation first just
//! tries the system call; if the kernel says it would block (`EAGAIN`), the task parks with
//! the wait reason `IO wait` (what [`crate::debug::dump`] shows) until the run's netpoller
//! (`poll.rs`, one epoll instance per run) reports the socket ready, and then tries again.
//! Its worker runs other tasks meanwhile. That is the whole trick behind Go's "goroutine per
//! connection" servers: the code reads like blocking code, and 10,000 idle connections are
//! 10,000 parked tasks and one `epoll_wait`, not 10,000 blocked threads.
//!
//! Beyond `std::net`, as in Go's `net.Conn`:
//!
//! - **Deadlines** ([`TcpStream::set_read_deadline`], [`TcpStream::set_deadline`], ...): an
//!   absolute instant on the run's clock ([`crate::time::now`]) after which reads or writes
//!   fail with [`io::ErrorKind::TimedOut`] instead of waiting (Go's `SetDeadline`). Setting one
//!   wakes an operation already waiting, so it re-checks.
//! - **Contexts** ([`TcpListener::accept_ctx`], [`TcpStream::read_ctx`], ...): the operation
//!   also ends when the [`Context`] is cancelled, with an error whose
//!   [`get_ref`](io::Error::get_ref) is the [`CtxError`](crate::ctx::CtxError) (kind
//!   `TimedOut` for a passed deadline, `Other` for a cancellation; see [`ctx_error`]). That is
//!   how a server's accept loop and its connections shut down cleanly.
//!
//! Outside a goro task (on a plain thread, in `main` before `block_on`), every operation blocks
//! the calling thread in `poll(2)`, like `std::net`, honouring deadlines and contexts too.
//!
//! Rules:
//!
//! 1. A socket registers with the poller of the run it first waits in, once (edge-triggered);
//!    used from another run later, it moves its registration there.
//! 2. An operation checks its deadline and context before every attempt, like Go's
//!    `prepareRead`: once a deadline has passed, reads fail even if data is buffered.
//! 3. A waiting task counts as "waiting on I/O" from before it parks until after it wakes:
//!    while one does, the run is not deadlocked and idle workers sleep in `epoll_wait`.
//!
//! Go counterpart: `net.Listen`, `net.Dial`, `net.Conn` (`internal/poll/fd_unix.go`,
//! `fd_poll_runtime.go`) over `runtime/netpoll.go`. Lesson: 15 (network server).

pub(crate) mod poll;
mod tcp;
mod udp;

use std::io;
use std::net::SocketAddr;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

pub use tcp::{TcpListener, TcpStream};
pub use udp::UdpSocket;

use crate::ctx::{self, Context, CtxError};
use crate::sched;
use crate::task::parking::{current_parker, park_with};
use crate::task::state::WaitReason;
use poll::{Dir, PollDesc, Poller};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The [`CtxError`] behind an error returned by a `*_ctx` operation, if its context ended it.
///
/// ```
/// use goro::ctx::{self, Context, CtxError};
/// let (c, cancel) = ctx::with_cancel(&Context::background());
/// cancel.cancel();
/// let l = goro::net::TcpListener::bind("127.0.0.1:0").unwrap();
/// let err = l.accept_ctx(&c).unwrap_err();
/// assert_eq!(goro::net::ctx_error(&err), Some(CtxError::Canceled));
/// ```
pub fn ctx_error(e: &io::Error) -> Option<CtxError> {
    e.get_ref()?.downcast_ref::<CtxError>().copied()
}

fn ctx_io_error(e: CtxError) -> io::Error {
    let kind = match e {
        CtxError::DeadlineExceeded => io::ErrorKind::TimedOut,
        CtxError::Canceled => io::ErrorKind::Other,
    };
    io::Error::new(kind, e)
}

fn deadline_error() -> io::Error {
    // Go's words: "i/o timeout".
    io::Error::new(io::ErrorKind::TimedOut, "i/o timeout (deadline exceeded)")
}

/// A deadline that is cheap to check while none is set.
#[derive(Default)]
struct Deadline {
    set: AtomicBool,
    at: Mutex<Option<Instant>>,
}

impl Deadline {
    fn get(&self) -> Option<Instant> {
        if !self.set.load(Ordering::Acquire) {
            return None;
        }
        *lock(&self.at)
    }

    fn put(&self, at: Option<Instant>) {
        let mut g = lock(&self.at);
        *g = at;
        self.set.store(at.is_some(), Ordering::Release);
    }
}

/// The part of a goro socket that waits: its readiness record, its registration with a run's
/// poller, and its deadlines.
pub(crate) struct IoSource {
    fd: RawFd,
    desc: Arc<PollDesc>,
    reg: Mutex<Option<(Arc<Poller>, u64)>>,
    read_deadline: Deadline,
    write_deadline: Deadline,
}

impl IoSource {
    /// A source for the (already non-blocking) socket `fd`, which must outlive it.
    fn new(fd: RawFd) -> IoSource {
        IoSource {
            fd,
            desc: Arc::new(PollDesc::default()),
            reg: Mutex::new(None),
            read_deadline: Deadline::default(),
            write_deadline: Deadline::default(),
        }
    }

    fn deadline(&self, dir: Dir) -> &Deadline {
        match dir {
            Dir::Read => &self.read_deadline,
            Dir::Write => &self.write_deadline,
        }
    }

    /// Sets the deadline of `dir` and wakes a waiter so it re-checks (Go: setting a deadline
    /// resets the pending operation's timer).
    fn set_deadline(&self, dir: Dir, at: Option<Instant>) {
        self.deadline(dir).put(at);
        self.desc.nudge(dir);
    }

    /// Runs `op` until it does not report `WouldBlock`, waiting for `dir` in between (rules 2,
    /// 3). `op` is the non-blocking system call.
    #[track_caller]
    fn run<R>(
        &self,
        dir: Dir,
        ctx: Option<&Context>,
        mut op: impl FnMut() -> io::Result<R>,
    ) -> io::Result<R> {
        loop {
            self.check(dir, ctx)?;
            match op() {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.wait(dir, ctx)?,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                r => return r,
            }
        }
    }

    /// The deadline and the context, before an attempt or after a wakeup (rule 2).
    fn check(&self, dir: Dir, ctx: Option<&Context>) -> io::Result<()> {
        if let Some(c) = ctx
            && let Some(e) = c.err()
        {
            return Err(ctx_io_error(e));
        }
        if let Some(d) = self.deadline(dir).get()
            && crate::time::now() >= d
        {
            return Err(deadline_error());
        }
        Ok(())
    }

    /// Waits until `dir` may be ready, the deadline passes or the context ends.
    #[track_caller]
    fn wait(&self, dir: Dir, ctx: Option<&Context>) -> io::Result<()> {
        if !sched::in_task() {
            return self.wait_thread(dir, ctx);
        }
        let Some(Ok(poller)) = sched::with_shared(|s| s.io.poller_or_init().cloned()) else {
            return self.wait_thread(dir, ctx);
        };
        self.register(&poller)?;
        let me = current_parker();
        // Rule 3: counted from before the park until after the wakeup.
        poller.add_waiter();
        struct Leave<'a> {
            desc: &'a PollDesc,
            dir: Dir,
            poller: &'a Poller,
        }
        impl Drop for Leave<'_> {
            fn drop(&mut self) {
                // `poll.rs` rule 4, also when the task unwinds (cancelled at shutdown).
                self.desc.disarm(self.dir);
                self.poller.remove_waiter();
            }
        }
        let _leave = Leave {
            desc: &self.desc,
            dir,
            poller: &poller,
        };
        let stop = ctx.map(|c| {
            let me = me.clone();
            ctx::after_func(c, move || me.unpark())
        });
        let r = loop {
            if self.desc.arm(dir, me.clone()) {
                break Ok(());
            }
            if let Err(e) = self.check(dir, ctx) {
                break Err(e);
            }
            match self.deadline(dir).get() {
                Some(d) => crate::time::park_until(WaitReason::IoWait, d),
                None => park_with(WaitReason::IoWait),
            }
        };
        if let Some(s) = stop {
            s.stop();
        }
        r
    }

    /// `wait` on a plain thread: `poll(2)` on the one descriptor. A context is checked every
    /// 10 ms (no task to wake: the thread is blocked in the kernel).
    fn wait_thread(&self, dir: Dir, ctx: Option<&Context>) -> io::Result<()> {
        let events = match dir {
            Dir::Read => libc::POLLIN,
            Dir::Write => libc::POLLOUT,
        };
        loop {
            self.check(dir, ctx)?;
            let mut limit: Option<Duration> = ctx.map(|_| Duration::from_millis(10));
            if let Some(d) = self.deadline(dir).get() {
                let left = d.saturating_duration_since(crate::time::now());
                limit = Some(limit.map_or(left, |l| l.min(left)));
            }
            let ms = limit.map_or(-1, |d| d.as_millis().clamp(1, i32::MAX as u128) as i32);
            let mut pfd = libc::pollfd {
                fd: self.fd,
                events,
                revents: 0,
            };
            // SAFETY: one valid pollfd for an open descriptor.
            let n = unsafe { libc::poll(&mut pfd, 1, ms) };
            if n > 0 {
                return Ok(());
            }
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() != io::ErrorKind::Interrupted {
                    return Err(e);
                }
            }
        }
    }

    /// Registers with `poller` unless already registered there (rule 1).
    fn register(&self, poller: &Arc<Poller>) -> io::Result<()> {
        let mut reg = lock(&self.reg);
        if let Some((p, _)) = &*reg
            && Arc::ptr_eq(p, poller)
        {
            return Ok(());
        }
        if let Some((old, key)) = reg.take() {
            old.deregister(self.fd, key);
        }
        let key = poller.register(self.fd, &self.desc)?;
        *reg = Some((poller.clone(), key));
        Ok(())
    }
}

impl Drop for IoSource {
    fn drop(&mut self) {
        // Runs before the socket closes (the socket field comes after this one).
        if let Some((p, key)) = lock(&self.reg).take() {
            p.deregister(self.fd, key);
        }
    }
}

/// Resolves `addr` to socket addresses. A name (not an IP literal) is looked up by the C
/// library, which blocks the calling thread: to keep a worker free, resolve names with
/// [`lookup_host`] first (it runs the lookup through [`crate::task::blocking`]).
fn resolve(addr: impl std::net::ToSocketAddrs) -> io::Result<Vec<SocketAddr>> {
    let addrs: Vec<SocketAddr> = addr.to_socket_addrs()?.collect();
    if addrs.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "the address resolved to nothing; pass an IP and port such as \"127.0.0.1:8080\"",
        ));
    }
    Ok(addrs)
}

/// Looks up `host` (`"example.org:443"`, or an IP and port) like `std`'s `ToSocketAddrs`,
/// on a spare thread through [`crate::task::blocking`] when called from a task: the C
/// library's resolver blocks, and the worker's other tasks keep running meanwhile (Go's
/// cgo resolver runs on a thread of its own the same way).
pub fn lookup_host(host: &str) -> io::Result<Vec<SocketAddr>> {
    if let Ok(a) = host.parse::<SocketAddr>() {
        return Ok(vec![a]);
    }
    let host = host.to_string();
    crate::task::blocking(move || resolve(host.as_str()))
}

/// A socket address in the C layout `connect(2)` takes.
enum RawAddr {
    V4(libc::sockaddr_in),
    V6(libc::sockaddr_in6),
}

impl RawAddr {
    fn new(addr: &SocketAddr) -> RawAddr {
        match addr {
            SocketAddr::V4(a) => RawAddr::V4(libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(a.ip().octets()),
                },
                sin_zero: [0; 8],
            }),
            SocketAddr::V6(a) => RawAddr::V6(libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: a.port().to_be(),
                sin6_flowinfo: a.flowinfo(),
                sin6_addr: libc::in6_addr {
                    s6_addr: a.ip().octets(),
                },
                sin6_scope_id: a.scope_id(),
            }),
        }
    }

    fn family(&self) -> libc::c_int {
        match self {
            RawAddr::V4(_) => libc::AF_INET,
            RawAddr::V6(_) => libc::AF_INET6,
        }
    }

    fn as_ptr(&self) -> (*const libc::sockaddr, libc::socklen_t) {
        match self {
            RawAddr::V4(a) => (
                (a as *const libc::sockaddr_in).cast(),
                std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
            ),
            RawAddr::V6(a) => (
                (a as *const libc::sockaddr_in6).cast(),
                std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t,
            ),
        }
    }
}
