//! The park driver: how an idle worker's thread sleeps, and how another thread wakes it.
//!
//! Every place where a worker thread blocks goes through [`Park::sleep`], and every wakeup of
//! a worker thread through [`Park::wake`]: looking for work found nothing (`idle.rs`), a thief
//! waiting for a backlog to ripen (`steal.rs`), shutdown waiting for a wakeup in flight
//! (`shutdown.rs`). Today the driver is the thread's futex (`std::thread::park`). An I/O
//! poller plugs in here and only here: the last idle worker then sleeps in `epoll_wait` with
//! the same timeout (the next timer's deadline), and [`Park::wake`] writes to an eventfd the
//! poller watches, as Go's `netpoll(delay)` and `netpollBreak` do.
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
//!
//! Go counterpart: `notesleep`/`notewakeup` on `m.park` (`runtime/lock_futex.go`), `stopm`
//! and `netpoll(delay)` in `runtime/proc.go`; tokio's `scheduler/multi_thread/park.rs`.
//! Lessons: 04 (parking idle workers) and 13 (the netpoller).

use std::sync::OnceLock;
use std::thread::{self, Thread};
use std::time::Duration;

/// One worker's way to sleep and be woken.
pub(crate) struct Park {
    /// The worker's thread, set when the worker starts on it.
    thread: OnceLock<Thread>,
}

impl Park {
    pub(crate) const fn new() -> Park {
        Park {
            thread: OnceLock::new(),
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

    /// Wakes the bound thread, or makes its next sleep return at once (rule 1). Does nothing
    /// if no thread is bound yet (the worker has not started: it will look for work first).
    pub(crate) fn wake(&self) {
        if let Some(t) = self.thread.get() {
            t.unpark();
        }
    }
}
