//! Deterministic mode: one worker whose every choice comes from a seeded PRNG.
//!
//! All runnable tasks sit in one list and the PRNG picks which runs next, at every switch
//! (direct ones included). When every task waits, the virtual clock jumps to the next timer
//! (`crate::time`). Same program and same seed: same order of events, byte for byte; a test
//! can sweep seeds to find an interleaving bug.
//!
//! Rules:
//!
//! 1. There is exactly one worker, and every wakeup, spawn and yield goes to its one list
//!    (`det`): nothing goes to `runnext`, the ring, the private FIFO or another worker.
//! 2. The only sources of choice are the PRNG, seeded from the run's seed, and the virtual
//!    clock, which moves only when no task can run.
//! 3. A direct switch is taken only when nothing outside the list could change the choice (no
//!    inbox item from a foreign thread, no due timer); otherwise the loop decides.
//! 4. No runnable task, no pending timer, no task waiting on a socket, no waker outside the
//!    worker (`idle.rs` rule 6) and an empty inbox is a deadlock.
//! 5. Real I/O is not virtual: while a task waits on a socket, the virtual clock stands still
//!    and, when no task can run, the worker really sleeps in `epoll_wait` (no timeout) until
//!    the kernel reports readiness or another thread wakes it. Jumping the clock instead would
//!    fire every timeout before the peer had a chance to answer. This is Go's rule in
//!    `testing/synctest` ("a goroutine blocked on network I/O is not durably blocked"), with
//!    the same consequence: an I/O deadline does not expire while its own task waits on that
//!    socket and nothing else runs. With real sockets, the order in which readiness arrives
//!    is the kernel's: output is reproducible only as far as the program's I/O is.
//!
//! Go counterpart: none in the runtime; `testing/synctest`'s fake clock and the race
//! detector's randomised scheduling come closest. Lesson: 04 (snapshot tests of concurrent
//! programs).

use std::sync::atomic::Ordering;

use super::worker::Worker;
use crate::task::record::TaskRef;

impl Worker {
    /// The loop of a deterministic run.
    pub(super) fn run_deterministic(&self) {
        while !self.shared.is_shutting_down() {
            self.drain_inbox();
            self.fire_timers();
            let io_waits = self.shared.io.has_waiters();
            if io_waits {
                self.shared.io.poll_now();
            }
            let len = self.local.borrow().det.len();
            if len == 0 {
                if !io_waits && let Some(deadline) = self.shared.timers.next_deadline() {
                    // Every task waits: jump the virtual clock to the next timer.
                    self.shared.timers.advance_to(deadline);
                    self.shared.tick_coarse_clock();
                    continue;
                }
                if self.me().inbox_len.load(Ordering::SeqCst) > 0 {
                    continue;
                }
                if io_waits || self.shared.external.load(Ordering::SeqCst) > 0 {
                    // Rule 5: while a task waits on a socket, time stands still: really wait
                    // for the kernel (or a wake). A waker on a plain thread (`idle.rs` rule 6)
                    // is waited for the same way once no timer is left.
                    let me = self.me();
                    me.sleeping.store(true, Ordering::SeqCst);
                    if me.inbox_len.load(Ordering::SeqCst) == 0 && !self.shared.is_shutting_down() {
                        me.park.sleep_io(&self.shared.io, None);
                    }
                    me.sleeping.store(false, Ordering::SeqCst);
                    continue;
                }
                self.declare_deadlock();
                break;
            }
            let i = (self.rand() % len as u64) as usize;
            let t = self.local.borrow_mut().det.swap_remove(i);
            self.execute(t);
        }
    }

    /// The direct switch's pick in deterministic mode: the PRNG's pick from every runnable
    /// task (rule 3).
    #[inline(never)]
    pub(super) fn pick_next_deterministic(&self) -> Option<TaskRef> {
        loop {
            let t = {
                let mut l = self.local.borrow_mut();
                let len = l.det.len();
                if len == 0 || self.me().inbox_len.load(Ordering::Relaxed) > 0 {
                    return None;
                }
                if self.shared.timers.next_deadline_due() {
                    return None;
                }
                l.rng = crate::rand::xorshift(l.rng);
                let i = (l.rng % len as u64) as usize;
                l.det.swap_remove(i)
            };
            if self.prepare(&t) {
                return Some(t);
            }
        }
    }
}
