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
//! # Exploring (`crate::check`)
//!
//! A run made by `goro::check` carries an [`ExploreRun`] and picks by PCT instead of
//! uniformly (Burckhardt et al., ASPLOS 2010):
//!
//! 6. Every task gets a random priority the first time the worker looks at it (at least
//!    `depth`); every pick (the loop's and a direct switch's) takes the runnable task of
//!    highest priority, ties broken by the lower id.
//! 7. Preemption points: the operations that complete without switching call
//!    [`preemption_point`] (or wake through `Parker::wake_at_point`, and `spawn` goes through
//!    `submit_new`'s deterministic branch). Each one is a step; at the `depth - 1` change points
//!    (steps drawn from the seed in `1..=bound`), the running task's priority drops below every
//!    initial one (`depth - 1`, then `depth - 2`, ...). Then, if a runnable task outranks the
//!    running one, the running one yields, keeping its priority.
//! 8. An explicit yield (`yield_now`, a park that found its token) draws a fresh priority: a
//!    task that spins on `yield_now` waiting for a lower one would otherwise run forever.
//! 9. A task that goes through [`STARVATION_STEPS`] points in a row without a switch while
//!    another task is runnable draws a fresh priority, as if it had yielded: a loop that waits
//!    for a flag with `checkpoint()` would otherwise spin forever above the task that sets it.
//! 10. The hook costs one load of [`POINT_WATCH`] and a branch when no exploring run is alive in
//!     the process and sysmon has no preemption request pending; the slow path checks that
//!     this very worker explores, or that sysmon asked this worker's task to yield (then the
//!     point is a `yield_now`, as `task::checkpoint` is: `sysmon.rs`, step 3).
//!
//! Go counterpart: none in the runtime; `testing/synctest`'s fake clock and the race
//! detector's randomised scheduling come closest. Lesson: 04 (snapshot tests of concurrent
//! programs), 16 (`goro::check`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use super::shared::lock;
use super::worker::{Worker, current_task_ptr, current_worker};
use crate::task::record::TaskRef;

/// Why preemption points must look (rule 10): exploring runs alive in the process, plus
/// preemption requests sysmon made that no point has taken yet. Zero almost always.
pub(crate) static POINT_WATCH: AtomicUsize = AtomicUsize::new(0);

/// Points in a row after which a running task that keeps others waiting draws a new priority
/// (rule 9).
pub(crate) const STARVATION_STEPS: u32 = 1000;

/// A preemption point (rule 7): nothing but a load and a branch unless some run explores.
#[inline(always)]
pub(crate) fn preemption_point() {
    if POINT_WATCH.load(Ordering::Relaxed) != 0 {
        explore_point();
    }
}

/// The slow path of [`preemption_point`]: an exploring worker may switch here; a worker
/// whose task sysmon asked to yield yields here (from a task, not from the worker's own
/// stack where timers fire, nor while unwinding).
#[cold]
#[inline(never)]
pub(crate) fn explore_point() {
    let Some(w) = current_worker() else {
        return;
    };
    // SAFETY: the worker outlives every call made on its thread while it is installed.
    let w = unsafe { &*w };
    if w.deterministic {
        w.explore_preempt();
    } else if !current_task_ptr().is_null()
        && !std::thread::panicking()
        && super::take_preempt_request()
    {
        crate::task::yield_now();
    }
}

/// The settings of one exploring run and what it found (shared with `crate::check`).
#[derive(Debug)]
pub(crate) struct ExploreRun {
    /// PCT's bug depth `d`: `d - 1` change points.
    pub(crate) depth: u32,
    /// Change points are drawn from `1..=bound` steps.
    pub(crate) bound: u64,
    /// Steps, schedule signature and the first unrecovered panic, filled in by the run.
    pub(crate) outcome: Mutex<Outcome>,
}

/// What an exploring run saw.
#[derive(Debug, Default, Clone)]
pub(crate) struct Outcome {
    /// Preemption points reached.
    pub(crate) steps: u64,
    /// A hash of every pick, in order: equal schedules give equal hashes.
    pub(crate) signature: u64,
    /// The report of the first panic no `recover` caught, in any task.
    pub(crate) panic: Option<String>,
}

impl ExploreRun {
    pub(crate) fn new(depth: u32, bound: u64) -> ExploreRun {
        ExploreRun {
            depth: depth.max(1),
            bound: bound.max(1),
            outcome: Mutex::new(Outcome::default()),
        }
    }

    /// Records an unrecovered panic (the first one wins).
    pub(crate) fn note_panic(&self, report: String) {
        let mut o = lock(&self.outcome);
        if o.panic.is_none() {
            o.panic = Some(report);
        }
    }
}

/// PCT's state in the exploring worker.
pub(super) struct Pct {
    run: Arc<ExploreRun>,
    rng: u64,
    /// Sorted steps at which the running task's priority drops.
    changes: Vec<u64>,
    next_change: usize,
    steps: u64,
    /// Priority by task id.
    prio: HashMap<u64, u64>,
    /// The next requeue is an injected preemption: keep the task's priority (rule 8).
    keep_prio: bool,
    signature: u64,
    /// Points since the last pick (rule 9).
    streak: u32,
}

impl Pct {
    pub(super) fn new(run: Arc<ExploreRun>, seed: u64) -> Pct {
        let mut rng = crate::rand::splitmix(seed ^ 0x9c7) | 1;
        let mut changes: Vec<u64> = (1..run.depth)
            .map(|_| {
                rng = crate::rand::xorshift(rng);
                1 + rng % run.bound
            })
            .collect();
        changes.sort_unstable();
        Pct {
            run,
            rng,
            changes,
            next_change: 0,
            steps: 0,
            prio: HashMap::new(),
            keep_prio: false,
            signature: 0xcbf2_9ce4_8422_2325,
            streak: 0,
        }
    }

    /// A fresh initial priority: above every lowered one (rule 6).
    fn draw(&mut self) -> u64 {
        self.rng = crate::rand::xorshift(self.rng);
        u64::from(self.run.depth) + (self.rng >> 2)
    }

    fn prio(&mut self, id: u64) -> u64 {
        if let Some(&p) = self.prio.get(&id) {
            return p;
        }
        let p = self.draw();
        self.prio.insert(id, p);
        p
    }

    /// Index in `det` of the runnable task to run next (rule 6); `det` is not empty.
    fn pick(&mut self, det: &[TaskRef]) -> usize {
        let mut best = 0;
        let mut best_key = (0, 0);
        for (i, t) in det.iter().enumerate() {
            let key = (self.prio(t.id), u64::MAX - t.id);
            if key > best_key {
                best = i;
                best_key = key;
            }
        }
        self.signature = (self.signature ^ det[best].id).wrapping_mul(0x100_0000_01b3);
        self.streak = 0;
        best
    }

    /// A step of the running task `me`: true if it must yield (rule 7).
    fn step(&mut self, me: u64, det: &[TaskRef]) -> bool {
        self.steps += 1;
        while self.next_change < self.changes.len() && self.changes[self.next_change] <= self.steps
        {
            let low = u64::from(self.run.depth) - 1 - self.next_change as u64;
            self.prio.insert(me, low);
            self.next_change += 1;
        }
        self.streak += 1;
        if self.streak >= STARVATION_STEPS && !det.is_empty() {
            self.streak = 0;
            let p = self.draw();
            self.prio.insert(me, p);
        }
        let mine = self.prio(me);
        let mut outranked = false;
        for t in det {
            if self.prio(t.id) > mine {
                outranked = true;
            }
        }
        if outranked {
            self.keep_prio = true;
        }
        outranked
    }

    /// A task goes back in line after a yield (rule 8).
    pub(super) fn requeued(&mut self, id: u64) {
        if std::mem::take(&mut self.keep_prio) {
            return;
        }
        let p = self.draw();
        self.prio.insert(id, p);
    }

    /// Publishes steps and signature to the run's outcome.
    fn publish(&self) {
        let mut o = lock(&self.run.outcome);
        o.steps = self.steps;
        o.signature = self.signature;
    }
}

impl Worker {
    /// The exploring worker's preemption point (rule 7): yields if the running task is
    /// outranked. Does nothing outside a task, while unwinding or shutting down.
    pub(super) fn explore_preempt(&self) {
        let me = current_task_ptr();
        if me.is_null() || self.shared.is_shutting_down() || std::thread::panicking() {
            return;
        }
        // SAFETY: a non-null pointer is the header of the task running on this thread.
        let id = unsafe { &*me }.id;
        let must_yield = {
            let mut l = self.local.borrow_mut();
            let l = &mut *l;
            match l.pct.as_mut() {
                Some(pct) => pct.step(id, &l.det),
                None => return,
            }
        };
        if must_yield {
            crate::task::yield_now();
        }
    }

    /// The index of the next task in `det`: PCT's pick when exploring, else the PRNG's.
    fn det_index(&self, len: usize) -> usize {
        let mut l = self.local.borrow_mut();
        let l = &mut *l;
        if let Some(pct) = l.pct.as_mut() {
            return pct.pick(&l.det);
        }
        l.rng = crate::rand::xorshift(l.rng);
        (l.rng % len as u64) as usize
    }
}

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
            let i = self.det_index(len);
            let t = self.local.borrow_mut().det.swap_remove(i);
            self.execute(t);
        }
        if let Some(pct) = self.local.borrow().pct.as_ref() {
            pct.publish();
        }
    }

    /// The direct switch's pick in deterministic mode: the PRNG's pick from every runnable
    /// task (rule 3).
    #[inline(never)]
    pub(super) fn pick_next_deterministic(&self) -> Option<TaskRef> {
        loop {
            let t = {
                let len = self.local.borrow().det.len();
                if len == 0 || self.me().inbox_len.load(Ordering::Relaxed) > 0 {
                    return None;
                }
                if self.shared.timers.next_deadline_due() {
                    return None;
                }
                let i = self.det_index(len);
                self.local.borrow_mut().det.swap_remove(i)
            };
            if self.prepare(&t) {
                return Some(t);
            }
        }
    }
}
