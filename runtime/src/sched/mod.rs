//! The scheduler: workers (Go's M+P pairs) that run tasks (Go's G) from run queues.
//!
//! A worker is one OS thread. It runs a task until the task yields, parks or finishes; then it
//! switches straight to the next task it has ready, or goes back to its loop (this file),
//! which looks for work in a fixed order and puts the thread to sleep when there is none:
//!
//! 1. due timers, at every scheduling point (one compare while none is pending); then every
//!    61st tick (or when a direct switch skipped it), the global queue first, so a busy
//!    local queue cannot starve it (Go uses the same prime);
//! 2. its own queues: `runnext`, then the private FIFO and the ring, alternating;
//! 3. due timers again (they may have woken something);
//! 4. the netpoller, without blocking, if a task waits on a socket (also every 61st tick);
//!    a spinning worker polls only on its first look and then every `NET_POLL_SPINS`th round;
//! 5. other workers' rings, if one is ripe for stealing;
//! 6. then spin a while, wait patiently for a backlog to ripen, or sleep (in `epoll_wait`
//!    when a task waits on a socket).
//!
//! The scheduler is cut along its seams, one file a mechanism (each opens with its Go
//! counterpart and the numbered rules its protocol relies on):
//!
//! | file | what | Go |
//! | --- | --- | --- |
//! | `mod.rs` | the loop: where a worker looks for work, in which order | `schedule`, `findRunnable` |
//! | `shared.rs` | what the workers of a run share, built from the parts below | `schedt`, `p` |
//! | `worker.rs` | a worker, its private queues, and where a wakeup goes | `m`, `p`, `ready` |
//! | `switch.rs` | switching from task to task, landing a switch, chaining stacks | `gogo`, `park_m`, `goexit0` |
//! | `queue.rs` | the lock-free ring, the private FIFO, the global queue | `runq*`, `globrunq*` |
//! | `steal.rs` | stealing, and the patience that keeps pipelines whole | `stealWork` |
//! | `idle.rs` | spinning, the idle list, waking a worker, deadlock detection | `wakep`, `stopm`, `checkdead` |
//! | `park.rs` | the park driver: how an idle thread sleeps (futex; epoll plugs in here) | `notesleep`, `netpoll` |
//! | `deterministic.rs` | one worker, seeded choices, a virtual clock; PCT for `crate::check` | (`synctest`) |
//! | `shutdown.rs` | ending a run: cancelling every task, the deadlock report | `checkdead` |
//! | `registry.rs` | ids, live tasks, record reuse, the dump | `allgs`, `gfput`, `newproc1` |
//! | `sysmon.rs` | the monitor thread: hogs, preemption requests, overdue timers | `sysmon`, `retake` |
//!
//! Arrows between them run one way: every file here imports only files listed below it in
//! this order of layers (`queue`, `park`, then `shared`, then `worker`, then the rest), and
//! this file alone re-exports what the rest of the crate uses. The task record
//! (`crate::task::record`) and its state words (`crate::task::state`) sit below the
//! scheduler; the task API (`crate::task`) sits above it.
//!
//! The loop's rules:
//!
//! 1. The loop runs on the worker's own stack, never on a task's: everything that may block or
//!    take long (the global queue's lock, stealing, timers' callbacks, sleeping) happens here,
//!    so a parked task's stack stays shallow.
//! 2. Every scheduling point is counted as a tick (here, in `find_local` and in a chained
//!    start), and the periodic checks run at least every `FAIRNESS_TICK` ticks.
//! 3. A worker goes to sleep only through `idle` (`idle.rs`), which owns the wake protocol.
//! 4. The earliest timer is checked at every scheduling point: here, and before every direct
//!    switch and chained start (`switch.rs`, rule 6), which go back to the loop to fire it.
//!
//! Go counterpart: `runtime/proc.go` (`schedule`, `findRunnable`, `runqput`, `runqsteal`,
//! `wakep`, `stopm`), `checkdead`. Lessons: 04 (scheduler) and 12 (work stealing).

mod deterministic;
mod idle;
mod park;
mod queue;
mod registry;
mod shared;
mod shutdown;
mod steal;
mod switch;
mod sysmon;
mod worker;

use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::task::record::TaskRef;
use worker::FAIRNESS_TICK;

pub(crate) use deterministic::{ExploreRun, Outcome, POINT_WATCH, preemption_point};
pub(crate) use idle::External;
/// For the run queue's loom models (`loom/models/run_queue.rs`).
#[cfg(all(test, loom))]
pub(crate) use queue::{CAPACITY, RunQueue};
pub(crate) use registry::{TaskOptions, new_task, recycle, spawn_task};
pub(crate) use shared::lock as shared_lock;
pub(crate) use shared::{Config, Shared};
pub(crate) use switch::{leave_task, leave_task_unlocking};
pub(crate) use sysmon::{Sysmon, take_preempt_request};
pub(crate) use worker::{
    Worker, current_task_ptr, current_worker, in_runtime, in_task, unpark, unpark_solo, with_shared,
};

/// Rounds of looking for work before a worker parks its thread.
const SPIN_ROUNDS: u32 = 200;

/// A spinning worker polls the network on its first look and then every this many rounds,
/// not on every round. A non-blocking `epoll_wait` is a system call, and it takes the epoll
/// instance's lock that every readiness callback of every socket takes too: a worker polling
/// on each of its 200 rounds made `echo-throughput` call `epoll_wait` 21 times per round trip
/// (2.1 million calls for 100,000 round trips, most of them empty; Go's twin makes 3,800 calls
/// in all, since its spinning threads poll once per `findRunnable`). Every 32nd round: 4 per
/// round trip, and less CPU per round trip. The periodic check (every 61st tick) keeps to the
/// same rhythm while spinning: a spin round is a tick too, and polling there as well made a
/// spinner poll every 21st round instead.
const NET_POLL_SPINS: u32 = 32;

/// What a worker looking for work found.
enum Next {
    Run(TaskRef),
    /// Only a backlog that is not ripe for stealing: look again after this long.
    Later(Duration),
    Nothing,
}

impl Worker {
    /// The worker loop. Returns when the run shuts down and this worker's tasks are gone.
    pub(crate) fn run(&self) {
        if self.deterministic {
            self.run_deterministic();
        } else {
            let mut spins: u32 = 0;
            while !self.shared.is_shutting_down() {
                let later = match self.find_task(spins.is_multiple_of(NET_POLL_SPINS)) {
                    Next::Run(t) => {
                        spins = 0;
                        self.stop_spinning(true);
                        // The heartbeat sysmon watches (odd: inside a task). Only this thread
                        // writes it: a load and a store.
                        let beat = &self.me().heartbeat;
                        beat.store(beat.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
                        self.execute(t);
                        beat.store(beat.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
                        continue;
                    }
                    Next::Later(d) => Some(d),
                    Next::Nothing => None,
                };
                if let Some(d) = later
                    && self.shared.io.poller().is_none()
                    && self.start_spinning()
                {
                    // Only a backlog that is not ripe yet, in a run without sockets: sleep
                    // until it may be (still counted as spinning, below) rather than spin. Each
                    // look reads the owner's ring counters; 200 looks in a row made the owner's
                    // own pushes and pops miss those cache lines (a spawn burst on two workers
                    // ran 30 % slower than on one). A run that serves sockets keeps spinning:
                    // its spinner also polls the network (`NET_POLL_SPINS`).
                    spins = 0;
                    self.wait_patiently(d);
                    continue;
                }
                if spins < SPIN_ROUNDS && self.start_spinning() {
                    // Parking and waking a thread costs microseconds; new work usually shows
                    // up sooner than that in a busy program. Each round is a full look for
                    // work with a single pause: long runs of `pause` make a hypervisor
                    // deschedule the virtual CPU (pause-loop exiting), which is far worse.
                    spins += 1;
                    std::hint::spin_loop();
                    continue;
                }
                spins = 0;
                if let Some(d) = later
                    && self.local.borrow().spinning
                {
                    // Still counted as spinning, so new work does not wake another worker
                    // for the same backlog: this one is watching it.
                    self.wait_patiently(d);
                    continue;
                }
                self.stop_spinning(false);
                if self.shared.work_for(self.index) {
                    continue;
                }
                self.idle();
            }
            self.stop_spinning(false);
        }
        self.drain_for_shutdown();
    }

    /// Finds the next task to run (normal mode). `Later` if the only work around is another
    /// worker's backlog that is not ripe for stealing yet.
    /// `net`: whether to poll the network if nothing is queued.
    fn find_task(&self, net: bool) -> Next {
        let mut wait = None;
        match self.find_task_now(&mut wait, net) {
            Some(t) => Next::Run(t),
            None => wait.map_or(Next::Nothing, Next::Later),
        }
    }

    /// Counts a scheduling tick; true when the periodic checks are due (every
    /// `FAIRNESS_TICK`th tick, or after a direct switch skipped them).
    fn count_tick(&self) -> (u32, bool) {
        let tick = self.tick.get().wrapping_add(1);
        self.tick.set(tick);
        let periodic = self.periodic_due.replace(false) || tick.is_multiple_of(FAIRNESS_TICK);
        (tick, periodic)
    }

    fn find_task_now(&self, wait: &mut Option<Duration>, net: bool) -> Option<TaskRef> {
        let (tick, periodic) = self.count_tick();
        // Timers first, at every scheduling point (rule 4; Go's `checkTimers` in `schedule`).
        if self.shared.timers.due() {
            self.fire_timers();
        }
        if periodic {
            if self.shared.global_takeable(self.index, wait)
                && let Some(t) = self.shared.global.pop(None, self.shared.workers.len())
            {
                return Some(t);
            }
            if let Some(t) = self.runnext.take() {
                // Do not let a ping-pong pair monopolise the worker.
                self.pinned.push_back(t);
            }
            // Sockets that became ready while this worker was busy (Go's sysmon polls the
            // network when nobody did for 10 ms; a tick is cheaper to count than a clock).
            // A spinner's rounds are ticks too: it polls on its own rhythm (`net`).
            if net {
                self.shared.io.poll_now();
            }
        }
        self.drain_inbox();
        let ring = &self.me().ring;
        if ring.is_empty()
            && self.shared.global_takeable(self.index, wait)
            && let Some(t) = self
                .shared
                .global
                .pop(Some(ring), self.shared.workers.len())
        {
            // Refill the ring before running pinned tasks again: a task that keeps yielding
            // must not hold back the overflow of a spawning burst.
            self.push_ring(t);
        }
        if let Some(t) = self.runnext.take() {
            return Some(t);
        }
        if let Some(t) = self.take_behind_if_due() {
            return Some(t);
        }
        if let Some(t) = self.pop_local_queues(tick) {
            return Some(t);
        }
        if self.fire_timers() | (net && self.shared.io.poll_now()) {
            self.drain_inbox();
            if let Some(t) = self.runnext.take().or_else(|| self.pinned.pop_front()) {
                return Some(t);
            }
        }
        self.steal(wait)
    }

    /// The pinned FIFO and the ring, the one first that `tick`'s parity says.
    #[inline(always)]
    fn pop_local_queues(&self, tick: u32) -> Option<TaskRef> {
        let ring = &self.me().ring;
        if tick & 1 == 0 {
            self.pinned.pop_front().or_else(|| ring.pop())
        } else {
            ring.pop().or_else(|| self.pinned.pop_front())
        }
        .or_else(|| self.take_behind())
    }

    /// Fires due timers; true if any fired. Timer callbacks run here, on the worker's stack
    /// (rule 1).
    fn fire_timers(&self) -> bool {
        let timers = &self.shared.timers;
        // Reading the clock costs more than the rest of a scheduling round: skip it when no
        // timer is pending at all.
        !timers.is_empty() && timers.fire_due(timers.now())
    }
}
