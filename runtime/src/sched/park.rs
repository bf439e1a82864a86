//! The park driver: how an idle worker's thread sleeps, and how another thread wakes it.
//!
//! Every place where a worker thread blocks goes through [`Park::sleep`], and every wakeup of
//! a worker thread through [`Park::wake`]: looking for work found nothing (`idle.rs`), a thief
//! waiting for a backlog to ripen (`steal.rs`), shutdown waiting for a wakeup in flight
//! (`shutdown.rs`). The driver is the thread's futex (`std::thread::park`) until the run has
//! a task waiting on a socket: then one idle worker at a time sleeps in `epoll_wait` instead,
//! with the same timeout (the next timer's deadline), and [`Park::wake`] writes to the eventfd
//! the poller watches, as Go's `netpoll(delay)` and `netpollBreak` do. The poller
//! (`crate::net::poll`) plugs into the scheduler here and only here: [`Io`] is the run's
//! handle on it, created when the first socket has to wait, so a run without sockets never
//! makes an epoll instance and its idle path is the futex path it always was.
//!
//! The driver's rules (what its callers rely on):
//!
//! 1. A wake that happens before the sleep is not lost: the next sleep returns at once (a
//!    token, as `std::thread::unpark` leaves one).
//! 2. A sleep may return early, for no reason at all: callers re-check their condition.
//! 3. `sleep(Some(d))` returns after at most about `d`; `sleep(None)` only when woken.
//! 4. Only the worker's own thread sleeps on its driver; any thread may wake it.
//! 5. The driver knows nothing of queues: deciding whether to sleep (the sleeping flags, the
//!    idle list, the last look for work) is the caller's protocol, in `idle.rs`.
//! 6. A sleep in `epoll_wait` is announced in the driver's state word (`POLLING`) before the
//!    call; a waker swaps in `NOTIFIED` and, if it saw `POLLING`, writes the eventfd. A
//!    sleeper finding `NOTIFIED` returns at once (rule 1 for the epoll sleep; the futex keeps
//!    its own token).
//! 7. At most one thread sleeps in `epoll_wait` (the poller's blocking role); idle workers
//!    that find the role taken sleep on their futex, and busy ones poll without blocking. (The
//!    idle worker does not even try for the role while another worker runs tasks:
//!    `idle.rs`, rule 5.)
//!
//! Go counterpart: `notesleep`/`notewakeup` on `m.park` (`runtime/lock_futex.go`), `stopm`
//! and `netpoll(delay)` in `runtime/proc.go`; tokio's `scheduler/multi_thread/park.rs`.
//! Lessons: 04 (parking idle workers) and 13 (the netpoller).

use std::io;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::{self, Thread};
use std::time::Duration;

use crate::net::poll::Poller;

/// `Park::state`: nothing pending.
const EMPTY: u8 = 0;
/// A wake arrived that no epoll sleep consumed yet (rule 6).
const NOTIFIED: u8 = 1;
/// The thread sleeps (or is about to) in `epoll_wait`.
const POLLING: u8 = 2;

/// The run's I/O driver: its poller, made when the first socket has to wait.
pub(crate) struct Io {
    poller: OnceLock<Arc<Poller>>,
}

impl Io {
    pub(crate) const fn new() -> Io {
        Io {
            poller: OnceLock::new(),
        }
    }

    /// The run's poller, if a socket ever waited in this run. One load while there is none.
    #[inline]
    pub(crate) fn poller(&self) -> Option<&Arc<Poller>> {
        self.poller.get()
    }

    /// The run's poller, created on first use.
    pub(crate) fn poller_or_init(&self) -> io::Result<&Arc<Poller>> {
        if let Some(p) = self.poller.get() {
            return Ok(p);
        }
        let p = Arc::new(Poller::new()?);
        // Two threads racing here: one poller wins, the other is dropped unused.
        let _ = self.poller.set(p);
        Ok(self.poller.get().expect("set just above"))
    }

    /// Whether a task waits on a socket (such a run is not deadlocked: the kernel may wake it).
    pub(crate) fn has_waiters(&self) -> bool {
        self.poller().is_some_and(|p| p.has_waiters())
    }

    /// How many times the run has polled the network so far (0 without a poller; wrapping:
    /// only its changes mean anything).
    #[inline]
    pub(crate) fn polls(&self) -> usize {
        self.poller().map_or(0, |p| p.polls())
    }

    /// Polls without blocking if it is worth a system call (a task waits on a socket, and no
    /// thread is blocked in `epoll_wait`, which would see the events first); true if a task was
    /// woken.
    #[inline]
    pub(crate) fn poll_now(&self) -> bool {
        match self.poller() {
            Some(p) if p.worth_polling() => p.poll(Some(Duration::ZERO), false) > 0,
            _ => false,
        }
    }
}

/// One worker's way to sleep and be woken.
pub(crate) struct Park {
    /// The worker's thread, set when the worker starts on it.
    thread: OnceLock<Thread>,
    /// `EMPTY`, `NOTIFIED` or `POLLING` (rule 6).
    state: AtomicU8,
    /// The poller this thread sleeps in, set at its first epoll sleep.
    poller: OnceLock<Arc<Poller>>,
}

impl Park {
    pub(crate) const fn new() -> Park {
        Park {
            thread: OnceLock::new(),
            state: AtomicU8::new(EMPTY),
            poller: OnceLock::new(),
        }
    }

    /// Binds the driver to the calling thread, which from now on is the one that sleeps
    /// (rule 4). Binding again from the same worker does nothing.
    pub(crate) fn bind_current(&self) {
        let _ = self.thread.set(thread::current());
    }

    /// Sleeps the calling thread (the bound one) until woken, or until `timeout` passed
    /// (rules 1 to 3).
    pub(crate) fn sleep(&self, timeout: Option<Duration>) {
        debug_assert!(
            self.thread
                .get()
                .is_none_or(|t| t.id() == thread::current().id()),
            "a worker sleeps on its own driver only"
        );
        match timeout {
            Some(d) => thread::park_timeout(d),
            None => thread::park(),
        }
    }

    /// Sleeps like [`sleep`](Park::sleep), in `epoll_wait` if a task of the run waits on a
    /// socket and no other thread sleeps there (rule 7): then readiness events wake their
    /// tasks before this returns.
    pub(crate) fn sleep_io(&self, io: &Io, timeout: Option<Duration>) {
        if let Some(p) = io.poller()
            && p.has_waiters()
            && p.try_begin_blocking()
        {
            self.sleep_polling(p, timeout);
            p.end_blocking();
        } else {
            self.sleep(timeout);
        }
    }

    /// The epoll sleep (rule 6). The caller holds the poller's blocking role.
    fn sleep_polling(&self, p: &Arc<Poller>, timeout: Option<Duration>) {
        let _ = self.poller.set(p.clone());
        debug_assert!(
            self.poller.get().is_some_and(|mine| Arc::ptr_eq(mine, p)),
            "a worker belongs to one run"
        );
        if self
            .state
            .compare_exchange(EMPTY, POLLING, Ordering::SeqCst, Ordering::SeqCst)
            .is_err()
        {
            // NOTIFIED: a wake came first; consume it and return (rule 1).
            self.state.store(EMPTY, Ordering::SeqCst);
            return;
        }
        p.poll(timeout, true);
        self.state.store(EMPTY, Ordering::SeqCst);
    }

    /// Wakes the bound thread, or makes its next sleep return at once (rule 1). Does nothing
    /// if no thread is bound yet (the worker has not started: it will look for work first).
    pub(crate) fn wake(&self) {
        if self.state.swap(NOTIFIED, Ordering::SeqCst) == POLLING {
            if let Some(p) = self.poller.get() {
                p.interrupt();
            }
            return;
        }
        if let Some(t) = self.thread.get() {
            t.unpark();
        }
    }
}
