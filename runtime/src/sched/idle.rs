//! Idle workers: when a worker with nothing to do may sleep, and who wakes one when work
//! appears.
//!
//! A worker that finds no work first **spins** for a while (looks again, with a pause between
//! looks): parking and waking a thread costs microseconds, and new work usually shows up
//! sooner in a busy program. (Not when all it sees is another worker's backlog that is not
//! ripe for stealing, in a run without sockets: then it sleeps until the backlog may be ripe,
//! `Worker::wait_patiently`, since every look reads the owner's ring counters and slows the
//! owner down.) At most half the workers spin at once. Then it lists itself as
//! idle, looks one last time, and sleeps on its park driver (`park.rs`) until the next
//! timer's deadline or until woken. Whoever makes stealable work (a spawn, a wakeup of a
//! migratable task, a timer that became the earliest) calls [`Shared::wake_idle_worker`],
//! which wakes one listed worker unless somebody is spinning. This is also where a run finds
//! out it is deadlocked: every worker idle, every queue empty, no timer pending.
//!
//! Rules (the wake protocol, as in Go's `proc.go` "Worker thread parking/unparking"):
//!
//! 1. A spinning worker that finds work stops spinning and, if it was the last spinner,
//!    wakes another worker in case there is more (Go's `resetspinning`).
//! 2. A worker lists itself idle and sets `sleeping` *before* its last look for work; a
//!    producer queues its work *before* it reads `n_spinning` and `n_idle` (both sides with a
//!    SeqCst fence between): either the worker's last look sees the work, or the producer sees
//!    the worker listed and wakes it. No wakeup is lost.
//! 3. A waker that takes a worker off the idle list counts it as spinning for it: the woken
//!    worker learns so by finding itself unlisted.
//! 4. A run is deadlocked only if the last worker to go idle sees every worker listed, every
//!    queue empty, no timer pending, no task waiting on a socket (the kernel may wake it) and
//!    no shutdown under way; that worker declares it.
//! 6. Wakers outside the workers count ([`External`]): a task waiting on a channel made
//!    outside any runtime (a plain thread may hold its other end), a live handle from
//!    [`crate::Task::for_thread`] (a plain thread may call `unpark`; handles that tasks hold,
//!    as in a wait queue, do not count), a thread inside `task::blocking`. While one
//!    exists, a run with every worker idle waits on its park drivers instead of declaring a
//!    deadlock; the foreign wake reaches it through an inbox or the global queue, which wake
//!    the worker. (Go has no plain threads; its `checkdead` counts Ms in system calls and
//!    cgo callbacks the same way.)
//! 5. An idle worker sleeps through its park driver's `sleep_io`: in `epoll_wait` if a task
//!    waits on a socket, no other worker sleeps there and no other worker is inside a task;
//!    else on its futex (`park.rs`). A worker that runs tasks polls the network itself when it
//!    runs out of them and every 61st tick, and wakes the sleepers whose tasks became ready, a
//!    batch at a time; a sleeper in `epoll_wait` would instead be woken by every single event
//!    (a context switch each: `echo-throughput` made 30,000 of them per 100,000 round trips,
//!    Go's twin 2,000). If that worker does not poll for a while (one long task, or a queue of
//!    them), sysmon polls for it (`sysmon.rs`, step 5).
//! 7. A spawn wakes a worker only when it finds its ring empty (`Worker::submit_new`). The
//!    push that made the ring non-empty did rule 2's fence and wake; a thief that looked since
//!    saw the ring and, if it was not ripe, looks again on a timer (`steal.rs`). And a ring's
//!    owner always runs it in the end, so this wakeup buys parallelism, never progress. A
//!    spawn burst paid a SeqCst fence per task for nothing: about 10 % of spawning a task.
//!
//! Go counterpart: `wakep`, `stopm`, `pidleput`/`pidleget`, `resetspinning`, `checkdead` in
//! `runtime/proc.go`; tokio's `scheduler/multi_thread/idle.rs`. Lesson: 04 (parking idle
//! workers).

use std::sync::Arc;
use std::sync::atomic::{Ordering, fence};
use std::time::Instant;

use super::shared::{Shared, lock};
use super::worker::Worker;

/// One counted waker outside the run's workers (rule 6): the run is not deadlocked while one
/// lives. Holds the run alive.
pub(crate) struct External(Arc<Shared>);

impl External {
    /// Counts one for the run of the calling worker; `None` outside a runtime.
    pub(crate) fn here() -> Option<External> {
        super::with_shared(|s| External::of(s.clone()))
    }

    pub(crate) fn of(s: Arc<Shared>) -> External {
        s.external.fetch_add(1, Ordering::SeqCst);
        External(s)
    }
}

impl Clone for External {
    fn clone(&self) -> External {
        External::of(self.0.clone())
    }
}

impl Drop for External {
    fn drop(&mut self) {
        // The last waker gone while every worker is idle: the run may be deadlocked now. The
        // last idle worker only looks as it goes idle, so wake one to look again. (Checked
        // only then: a task receiving from a plain thread in a loop pays no wakeup per item.)
        let s = &self.0;
        if s.external.fetch_sub(1, Ordering::SeqCst) == 1 {
            if s.is_deterministic() {
                s.workers[0].park.wake();
            } else if s.n_idle.load(Ordering::SeqCst) == s.workers.len() {
                s.wake_idle_worker();
            }
        }
    }
}

impl Shared {
    /// Wakes one parked worker, if any, because new stealable work appeared (rule 2).
    pub(super) fn wake_idle_worker(&self) {
        // Pairs with the fence a spinner issues after it stops spinning: either it sees our
        // work, or we see that nobody spins and wake a parked worker.
        fence(Ordering::SeqCst);
        if self.n_spinning.load(Ordering::SeqCst) != 0 || self.n_idle.load(Ordering::SeqCst) == 0 {
            return;
        }
        let w = {
            let mut idle = lock(&self.idle);
            let w = idle.pop();
            self.n_idle.store(idle.len(), Ordering::SeqCst);
            if w.is_some() {
                // The woken worker starts out spinning (rule 3).
                self.n_spinning.fetch_add(1, Ordering::SeqCst);
            }
            w
        };
        if let Some(w) = w {
            self.workers[w].park.wake();
        }
    }

    /// Wakes a parked worker so it recomputes its timer deadline.
    pub(crate) fn timer_added(&self) {
        self.wake_idle_worker();
    }
}

impl Worker {
    /// Sleeps this worker's thread until there may be work (rule 2). Detects deadlock
    /// (rule 4).
    pub(super) fn idle(&self) {
        let me = self.me();
        {
            let mut idle = lock(&self.shared.idle);
            idle.push(self.index);
            self.shared.n_idle.store(idle.len(), Ordering::SeqCst);
            me.sleeping.store(true, Ordering::SeqCst);
            if idle.len() == self.shared.workers.len()
                && !self.shared.any_shared_work()
                && self.shared.timers.is_empty()
                && !self.shared.io.has_waiters()
                && self.shared.external.load(Ordering::SeqCst) == 0
                && !self.shared.is_shutting_down()
            {
                // Every worker is idle, every queue is empty, no timer is pending: every live
                // task is parked and nothing in the runtime can wake one.
                self.declare_deadlock();
                idle.retain(|&w| w != self.index);
                self.shared.n_idle.store(idle.len(), Ordering::SeqCst);
                me.sleeping.store(false, Ordering::SeqCst);
                return;
            }
        }
        let work = self.shared.work_for(self.index)
            || self.shared.is_shutting_down()
            || self.shared.timers.next_deadline_due();
        if !work {
            // Stacks this worker cached must not be what another worker is refused near the
            // end of the mprotect mapping budget (`stack/pool.rs`, `refill_size`).
            crate::stack::spill_if_tight();
            self.trace(crate::trace::Kind::Sleep, 0, 0);
            // Rule 5: the epoll sleep only if no other worker runs tasks (it polls for us).
            let io = !self.others_running();
            let sleep = |t: Option<std::time::Duration>| {
                if io {
                    me.park.sleep_io(&self.shared.io, t);
                } else {
                    me.park.sleep(t);
                }
            };
            match self.shared.timers.next_deadline() {
                Some(d) => {
                    let now = Instant::now();
                    if d > now {
                        sleep(Some(d - now));
                    }
                }
                None => sleep(None),
            }
            self.trace(crate::trace::Kind::Wake, 0, 0);
        }
        me.sleeping.store(false, Ordering::SeqCst);
        let mut idle = lock(&self.shared.idle);
        let listed = idle.len();
        idle.retain(|&w| w != self.index);
        if idle.len() == listed {
            // Not listed any more: a waker took us off the list and counted us as spinning
            // (rule 3).
            self.local.borrow_mut().spinning = true;
        }
        self.shared.n_idle.store(idle.len(), Ordering::SeqCst);
    }

    /// Whether another worker is inside a task now (its heartbeat is odd, `sysmon.rs`).
    fn others_running(&self) -> bool {
        self.shared
            .workers
            .iter()
            .enumerate()
            .any(|(i, w)| i != self.index && w.heartbeat.load(Ordering::Relaxed) & 1 == 1)
    }

    /// Counts this worker as spinning, if not already and if not too many are; true if it now
    /// spins.
    pub(super) fn start_spinning(&self) -> bool {
        let mut l = self.local.borrow_mut();
        if l.spinning {
            return true;
        }
        let max = (self.shared.workers.len() / 2).max(1);
        if self.shared.n_spinning.load(Ordering::SeqCst) >= max {
            return false;
        }
        self.shared.n_spinning.fetch_add(1, Ordering::SeqCst);
        l.spinning = true;
        true
    }

    /// Stops counting this worker as spinning. `found` says it found work: if it was the last
    /// spinner, wake another worker in case there is more (rule 1).
    pub(super) fn stop_spinning(&self, found: bool) {
        let was = std::mem::replace(&mut self.local.borrow_mut().spinning, false);
        if !was {
            return;
        }
        let last = self.shared.n_spinning.fetch_sub(1, Ordering::SeqCst) == 1;
        fence(Ordering::SeqCst);
        if found && last {
            self.shared.wake_idle_worker();
        }
    }
}
