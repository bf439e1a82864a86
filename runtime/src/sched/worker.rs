//! A worker (Go's M and P in one): the OS thread that runs tasks, its private queues, and how
//! a woken task reaches one.
//!
//! Each worker is one OS thread with:
//! - a **local ring** (`queue::RunQueue`, 256 slots) of tasks that may still move between
//!   threads: tasks that have not started, and migratable ones. Idle workers steal half of it;
//! - a **`runnext` slot**: the task this worker just woke (a channel partner, a joiner) runs
//!   next, which keeps ping-pong pairs on one hot cache;
//! - a **private FIFO** of started tasks that are ready again (after `yield_now`, or a wakeup
//!   that displaced `runnext`). These are pinned to this thread (see `task`'s soundness note).
//!   It is a growable power-of-two ring (`queue::Fifo`); it, `runnext` and the tick are plain
//!   cells of the worker, so a task switch sets no `RefCell` borrow flag;
//! - an **inbox**: wakeups of its pinned tasks coming from other threads land here, and the
//!   waker wakes the worker's thread (through its park driver) if it sleeps;
//! - a **behind slot**: a task that spawns into a full ring steps back here and runs again
//!   once the tasks it queued have left the ring (spawn's back-pressure, `defer_spawner`).
//!
//! A wakeup ([`wake`], Go's `ready`) goes to the cheapest place that is correct: `runnext` on
//! the task's own home worker, the ring for a migratable task, the home worker's inbox from
//! anywhere else, the global queue from outside the runtime.
//!
//! Rules:
//!
//! 1. The worker's cells (`runnext`, `pinned`, `tick`, `running`, the pending switch) are
//!    touched only by its own thread; other threads reach a worker only through its
//!    `WorkerShared` (ring, inbox, park driver, flags).
//! 2. A started pinned task is queued only on its home worker: in `runnext` or `pinned` by
//!    the home thread, in the inbox by any other thread.
//! 3. Whoever queues work another worker must notice wakes that worker if it sleeps: a push
//!    to the inbox checks `sleeping`, a push to a ring or the global queue calls
//!    `wake_idle_worker` (`idle.rs`; a spawn onto a ring that is not empty need not: its
//!    rule 7).
//! 4. The thread-local `WORKER` and `TASK` are read before any task switch in the frame that
//!    reads them (a migratable task may come back on another thread).
//!
//! Go counterpart: `m`, `p`, `ready`, `runqput` with `next`, `injectglist` in
//! `runtime/proc.go`. Lessons: 04 (scheduler) and 12 (work stealing).

use std::cell::{Cell, RefCell};
use std::ptr;
use std::sync::Arc;
use std::sync::atomic::{Ordering, fence};

use super::queue;
use super::shared::{Shared, WorkerShared, lock};
use crate::task::record::{Header, NO_HOME, Parker, TaskRef};
use crate::task::state::Switch;
use crate::wait::RawLock;

/// How often (in scheduling ticks) a worker lets its periodic checks run first (the global
/// queue; Go uses the same prime).
pub(crate) const FAIRNESS_TICK: u32 = 61;

thread_local! {
    static WORKER: Cell<*const Worker> = const { Cell::new(ptr::null()) };
    pub(super) static TASK: Cell<*const Header> = const { Cell::new(ptr::null()) };
}

/// The task running on this thread (null if none). Not inlined: a migratable task may call this
/// before and after a switch on different threads, and must not reuse a cached TLS address.
#[inline(never)]
pub(crate) fn current_task_ptr() -> *const Header {
    TASK.with(|t| t.get())
}

/// The worker of this thread, if it is one.
#[inline(never)]
pub(crate) fn current_worker() -> Option<*const Worker> {
    let w = WORKER.with(|w| w.get());
    (!w.is_null()).then_some(w)
}

/// The worker of this thread (null if none), with the thread-local read inlined. Only for
/// functions that are themselves never inlined and read it before any task switch they make
/// (rule 4): then the read always happens on the thread the caller is on.
#[inline(always)]
pub(super) fn worker_here() -> *const Worker {
    WORKER.with(|w| w.get())
}

/// Whether the caller runs on a worker of a live runtime (inside a task or a timer callback).
pub(crate) fn in_runtime() -> bool {
    current_worker().is_some()
}

/// Whether the caller is a task.
pub(crate) fn in_task() -> bool {
    !current_task_ptr().is_null()
}

/// Runs `f` with the current runtime's shared state, if on a worker.
pub(crate) fn with_shared<R>(f: impl FnOnce(&Arc<Shared>) -> R) -> Option<R> {
    let w = current_worker()?;
    // SAFETY: the worker outlives every call made on its thread while it is installed.
    Some(f(unsafe { &(*w).shared }))
}

/// Makes a woken task runnable again (Go's `ready`). Called by whoever won its
/// `PARKED -> EMPTY` claim (`task::state`, rule 4), exactly once.
///
/// Inlined into its callers to keep the wake path short, and it reads the thread's worker:
/// call it only from functions that are never inlined and do not switch tasks before the
/// call (rule 4).
///
/// `POINT`: the waker is at a preemption point right after this wake (nothing left to do but
/// return, no lock held): an exploring worker may switch away from it here
/// (`deterministic.rs`, rule 7). A separate instantiation, so the common path is unchanged.
#[inline(always)]
pub(crate) fn wake<const POINT: bool>(t: TaskRef) {
    let w = worker_here();
    if !w.is_null() {
        // SAFETY: the worker outlives every call made on its thread while it is installed.
        let w = unsafe { &*w };
        if ptr::eq(Arc::as_ptr(&w.shared).cast::<()>(), t.run) {
            w.wake_local::<POINT>(t);
            return;
        }
    }
    wake_foreign(t);
    if POINT {
        super::deterministic::preemption_point();
    }
}

/// `wake` from a thread that is not a worker of the task's runtime.
#[cold]
#[inline(never)]
fn wake_foreign(t: TaskRef) {
    #[cfg(test)]
    if let Some(hook) = tests::FOREIGN_WAKE_HOOK.with(|h| h.borrow_mut().take()) {
        hook();
    }
    // Hold the run alive until the task is queued and its worker woken. The run is alive here:
    // the task is claimed (not queued, not parked), and shutdown waits for such a task to be
    // queued before it ends the run (`shutdown.rs`, rule 5).
    let shared = t.shared_arc();
    if shared.is_deterministic() {
        shared.push_inbox(0, t);
    } else if t.migratable {
        shared.push_global(t);
        shared.wake_idle_worker();
    } else {
        let home = t.home.load(Ordering::Relaxed);
        debug_assert_ne!(home, NO_HOME, "a parked task has started");
        shared.push_inbox(home, t);
    }
}

// Both unpark functions are never inlined: `wake`, inlined into them, reads the thread's
// worker, which must happen in a frame that has not switched tasks (rule 4).

/// The reference a parked task's park kept (`switch.rs`, rule 7), handed to whoever just won
/// the claim of the task (`PARKED -> EMPTY`, `task::state` rule 4).
///
/// # Safety
/// The caller's claim of the task at `h` succeeded just now, and it takes the reference only
/// once.
#[inline(always)]
pub(super) unsafe fn take_parked_ref(h: *const Header) -> TaskRef {
    // SAFETY: a parked task's reference was kept with `mem::forget` when its park completed,
    // and the caller's claim makes it the caller's (once).
    unsafe { TaskRef::from_raw(h) }
}

/// Unparks a task: leaves it a token, or queues it if it was parked.
#[inline(never)]
pub(crate) fn unpark(h: &TaskRef) {
    if h.st.claim_for_wake() {
        // SAFETY: our claim succeeded just now.
        wake::<false>(unsafe { take_parked_ref(TaskRef::as_ptr(h)) });
    }
}

/// Like [`unpark`], for a caller done with its own reference `h`; `POINT`: the caller is at a
/// preemption point (see [`wake`]).
#[inline(never)]
pub(crate) fn unpark_owned<const POINT: bool>(h: TaskRef) {
    if h.st.claim_for_wake() {
        // SAFETY: our claim succeeded just now; `h` keeps the count above zero while the
        // park's reference goes, and `h` is queued in its place.
        drop(unsafe { take_parked_ref(TaskRef::as_ptr(&h)) });
        wake::<POINT>(h);
    } else if POINT {
        super::deterministic::preemption_point();
    }
}

/// Wakes the task of a solo wait whose selector is `Busy` (`wait/selector.rs`, rule 5): claims
/// it, runs `publish` (the selector's final store, after which the waker may touch neither it
/// nor the task unless it owns a reference) and queues the task if the claim found it parked,
/// with the reference its park kept. No reference count changes on this path.
///
/// # Safety
/// `task` is the header of a task in a solo wait whose selector is `Busy` and whose owner waits
/// for `publish` before it returns (selector rule 5), so it is alive until `publish` has run.
#[inline(never)]
pub(crate) unsafe fn unpark_solo<const POINT: bool>(task: *const Header, publish: impl FnOnce()) {
    // SAFETY: alive until `publish`, as the caller guarantees.
    if unsafe { &*task }.st.claim_for_wake() {
        // Parked: it cannot run again until we queue it, so publishing first is safe.
        publish();
        // SAFETY: our claim succeeded just now.
        wake::<POINT>(unsafe { take_parked_ref(task) });
    } else {
        // A token: the task is running towards its park or back from it, and may return as
        // soon as it sees the publish, our last access.
        publish();
        if POINT {
            super::deterministic::preemption_point();
        }
    }
}

impl Parker {
    /// Wakes the parker (token semantics; harmless on a finished task).
    pub(crate) fn unpark(&self) {
        match self {
            Parker::Task(h) => unpark(h),
            Parker::Thread(t) => t.unpark(),
        }
    }

    /// Like [`unpark`](Parker::unpark), but consumes the parker: a parked task is queued with
    /// this very reference instead of a clone (saves two atomic operations per handoff).
    pub(crate) fn wake(self) {
        match self {
            Parker::Task(h) => unpark_owned::<false>(h),
            Parker::Thread(t) => t.unpark(),
        }
    }

    /// Like [`wake`](Parker::wake), called as the waker's last step, with no lock held: the
    /// waker is at a preemption point (`deterministic.rs`, rule 7).
    pub(crate) fn wake_at_point(self) {
        match self {
            Parker::Task(h) => unpark_owned::<true>(h),
            Parker::Thread(t) => {
                t.unpark();
                super::deterministic::preemption_point();
            }
        }
    }
}

/// Wakes the joiner a finished record handed back, if any.
#[inline(always)]
pub(super) fn wake_joiner(joiner: Option<Parker>) {
    if let Some(p) = joiner {
        wake_parker(p);
    }
}

#[inline(never)]
fn wake_parker(p: Parker) {
    p.unpark();
}

impl Shared {
    /// Queues a task woken from outside the runtime's workers: anybody may run it at once.
    pub(super) fn push_global(&self, t: TaskRef) {
        self.global.push_outside(t);
        // A thief waiting for a backlog to ripen would not look before its timeout. (The
        // fence pairs with `wait_patiently`: either it sees this task, or we see it patient.)
        fence(Ordering::SeqCst);
        for w in self.workers.iter() {
            if w.patient.load(Ordering::SeqCst) {
                w.park.wake();
            }
        }
    }

    /// Queues a started pinned task on its home worker from another thread (rules 2, 3).
    pub(super) fn push_inbox(&self, home: usize, t: TaskRef) {
        let w = &self.workers[home];
        {
            let mut inbox = lock(&w.inbox);
            inbox.push(t);
            w.inbox_len.store(inbox.len(), Ordering::SeqCst);
        }
        if w.sleeping.load(Ordering::SeqCst) {
            w.park.wake();
        }
    }
}

/// Worker-private state off the switch path (the switch path's own fields are `Cell`s and a
/// [`queue::Fifo`] in [`Worker`], which need no borrow flag).
pub(super) struct Local {
    /// Deterministic mode: every runnable task, in one list the PRNG picks from.
    pub(super) det: Vec<TaskRef>,
    pub(super) rng: u64,
    pub(super) next_id: u64,
    pub(super) id_end: u64,
    /// Exploring (`crate::check`): PCT's priorities and change points.
    pub(super) pct: Option<super::deterministic::Pct>,
    /// Started pinned tasks whose home is this worker and that are still alive.
    pub(super) homed_live: usize,
    /// Whether this worker counts in `Shared::n_spinning`.
    pub(super) spinning: bool,
}

/// One worker: lives on its thread's stack for the duration of the run.
pub(crate) struct Worker {
    pub(super) shared: Arc<Shared>,
    pub(super) index: usize,
    /// `&shared.workers[index]`, computed once: the switch path reads it several times.
    me: *const WorkerShared,
    /// `shared.is_deterministic()`, cached for the switch path.
    pub(super) deterministic: bool,
    pub(super) local: RefCell<Local>,
    /// The task this worker woke last: it runs next.
    pub(super) runnext: Cell<Option<TaskRef>>,
    /// Started tasks pinned here that are ready again, in FIFO order.
    pub(super) pinned: queue::Fifo,
    /// A spawner that found the ring full steps back here (`defer_spawner`), behind the tasks
    /// it queued: it runs again once the ring's head has passed `behind_mark`.
    behind: Cell<Option<TaskRef>>,
    behind_mark: Cell<Option<u32>>,
    /// The last task that stepped back here, and how many times in a row it did (its burst
    /// so far, in rings: `steal.rs`, rule 5).
    behind_id: Cell<u64>,
    behind_rounds: Cell<usize>,
    /// Scheduling ticks: every `FAIRNESS_TICK`th one does the periodic checks, and the parity
    /// alternates which local queue is looked at first. (`FAIRNESS_TICK` is odd, so that
    /// parity alternates at the periodic checks too: a count-down that restarts at the same
    /// value would always pick the same queue there and starve the other.)
    pub(super) tick: Cell<u32>,
    /// A direct switch skipped the periodic checks (global queue, timers): do them next.
    pub(super) periodic_due: Cell<bool>,
    /// The scheduler loop's registers while a task runs.
    pub(super) sched_ctx: Cell<Option<context::Context>>,
    /// The task running on this worker.
    pub(super) running: Cell<Option<TaskRef>>,
    /// The switch in flight: who switched away, as `TaskRef::into_raw` of the reference the
    /// worker ran it with (null: the scheduler)...
    pub(super) pending_from: Cell<*const Header>,
    /// ...and what it asked for. Set just before a switch, consumed by `land` just after it.
    /// (Only debug builds reset it to `Switch::None` after `land`, to check that every switch
    /// is landed exactly once; every switch sets both before anyone reads them.)
    /// With `Switch::ParkLocked`: the lock the parking task holds, released once it is parked.
    pub(super) pending_unlock: Cell<*const RawLock>,
    pub(super) pending_req: Cell<Switch>,
    /// This worker's trace buffer, if the run records a trace (`crate::trace`): only this
    /// thread touches it; it is handed to the run's tracer in `leave`.
    trace: Option<RefCell<Option<crate::trace::Sink>>>,
}

impl Worker {
    pub(crate) fn new(shared: Arc<Shared>, index: usize) -> Worker {
        let rng = match shared.config.seed {
            Some(seed) => crate::rand::splitmix(seed),
            None => crate::rand::splitmix(
                (&shared as *const _ as u64) ^ (index as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15),
            ),
        };
        let me: *const WorkerShared = &shared.workers[index];
        let deterministic = shared.is_deterministic();
        let pct = match (&shared.config.explore, shared.config.seed) {
            (Some(run), Some(seed)) => Some(super::deterministic::Pct::new(run.clone(), seed)),
            _ => None,
        };
        let trace = shared
            .tracer()
            .map(|t| RefCell::new(Some(t.sink_for_worker(index))));
        Worker {
            shared,
            index,
            me,
            deterministic,
            local: RefCell::new(Local {
                det: Vec::new(),
                rng: rng | 1,
                pct,
                next_id: 0,
                id_end: 0,
                homed_live: 0,
                spinning: false,
            }),
            runnext: Cell::new(None),
            pinned: queue::Fifo::new(),
            behind: Cell::new(None),
            behind_mark: Cell::new(None),
            behind_id: Cell::new(0),
            behind_rounds: Cell::new(0),
            tick: Cell::new(0),
            periodic_due: Cell::new(false),
            sched_ctx: Cell::new(None),
            running: Cell::new(None),
            pending_from: Cell::new(ptr::null()),
            pending_req: Cell::new(Switch::None),
            pending_unlock: Cell::new(ptr::null()),
            trace,
        }
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    #[inline]
    pub(super) fn me(&self) -> &WorkerShared {
        // SAFETY: `me` points into `self.shared.workers`, a boxed slice that is never resized
        // and that `self.shared` keeps alive for as long as `self` exists.
        unsafe { &*self.me }
    }

    /// Installs this worker as the thread's current one. Must be paired with `leave`.
    pub(crate) fn enter(&self) {
        self.me().park.bind_current();
        WORKER.with(|w| w.set(self as *const Worker));
        if let Some(seed) = self.shared.config.seed {
            crate::rand::seed_fastrand(crate::rand::splitmix(seed ^ 0x5eed));
        }
    }

    pub(crate) fn leave(&self) {
        WORKER.with(|w| w.set(ptr::null()));
        if let (Some(t), Some(sink)) = (self.shared.tracer(), &self.trace)
            && let Some(s) = sink.borrow_mut().take()
        {
            t.hand_in(s);
        }
    }

    /// This worker's index in its run.
    pub(crate) fn index(&self) -> usize {
        self.index
    }

    /// Records a scheduler event in the execution trace (one branch while no run traces).
    #[inline(always)]
    pub(super) fn trace(&self, kind: crate::trace::Kind, a: u64, n: u32) {
        if crate::trace::on() {
            crate::trace::record(&self.shared, kind, a, 0, n, 0);
        }
    }

    /// This worker's trace buffer, if the run records a trace.
    pub(crate) fn trace_sink(&self) -> Option<&RefCell<Option<crate::trace::Sink>>> {
        self.trace.as_ref()
    }

    /// Queues a freshly spawned task.
    pub(crate) fn submit_new(&self, t: TaskRef) {
        if self.shared.is_shutting_down() {
            // Spawned by a destructor during shutdown: it never runs.
            self.count_start();
            wake_joiner(t.cancel_unstarted());
            return;
        }
        if self.deterministic {
            self.submit_deterministic(t);
            return;
        }
        let ring = &self.me().ring;
        let mut queued = ring.len();
        if queued >= queue::CAPACITY as usize {
            self.defer_spawner();
            queued = ring.len();
        }
        self.push_ring(t);
        // Only the push that makes the ring non-empty wakes a worker (`idle.rs`, rule 7).
        if queued == 0 {
            self.shared.wake_idle_worker();
        }
    }

    /// Spawn's back-pressure: a task that spawns faster than its tasks run steps back behind
    /// them once its ring is full, instead of spilling half the ring to the global queue and
    /// going on. The worker runs what the spawner queued (or thieves take it) while the
    /// records, stacks and closures are still in its caches; then the spawner goes on. Without
    /// it, a burst of a million short tasks piled up 300,000 unstarted records (85 MiB) and
    /// every one of them was cold by the time it ran. The spawner is `Runnable` meanwhile and
    /// can be neither cancelled nor woken here: this is not a wait. Only a running, pinned
    /// task that is not unwinding steps back; anything else just overflows as before.
    #[cold]
    #[inline(never)]
    fn defer_spawner(&self) {
        let me = super::current_task_ptr();
        // SAFETY: a non-null pointer is the header of the task running on this thread.
        if me.is_null() || std::thread::panicking() || unsafe { (*me).migratable } {
            return;
        }
        crate::task::step_behind();
    }

    /// Lands a spawner that stepped back (`Switch::Behind`): it waits for the ring's head to pass
    /// the tasks queued now. A task already waiting there goes to the pinned FIFO.
    pub(super) fn put_behind(&self, t: TaskRef) {
        if let Some(old) = self.behind.take() {
            self.pinned.push_back(old);
        }
        let rounds = if self.behind_id.get() == t.id {
            self.behind_rounds.get() + 1
        } else {
            1
        };
        self.behind_id.set(t.id);
        self.behind_rounds.set(rounds);
        self.me()
            .spawner_backlog
            .store(super::steal::spawner_backlog(rounds), Ordering::Relaxed);
        self.behind_mark.set(Some(self.me().ring.end_mark()));
        self.behind.set(Some(t));
    }

    /// Whether a spawner waits behind the ring and every task queued before it has left.
    #[inline(always)]
    pub(super) fn behind_is_due(&self) -> bool {
        self.behind_mark
            .get()
            .is_some_and(|mark| self.me().ring.passed(mark))
    }

    /// The spawner waiting behind the ring, if it is its turn.
    #[inline(always)]
    pub(super) fn take_behind_if_due(&self) -> Option<TaskRef> {
        if self.behind_is_due() {
            self.take_behind()
        } else {
            None
        }
    }

    /// The spawner waiting behind the ring, its turn or not (the local queues are empty, or
    /// the run is shutting down).
    pub(super) fn take_behind(&self) -> Option<TaskRef> {
        self.behind_mark.take()?;
        self.me().spawner_backlog.store(0, Ordering::Relaxed);
        self.behind.take()
    }

    /// `submit_new` in deterministic mode, out of line so that `submit_new` stays small enough
    /// to inline into `spawn`. Spawning is a preemption point (`deterministic.rs`, rule 7).
    #[cold]
    #[inline(never)]
    fn submit_deterministic(&self, t: TaskRef) {
        self.local.borrow_mut().det.push(t);
        self.explore_preempt();
    }

    pub(super) fn push_ring(&self, t: TaskRef) {
        if let Err((t, batch)) = self.me().ring.push(t) {
            let mut batch = batch;
            batch.push(t);
            self.shared.global.push_batch(self.index, batch);
        }
    }

    /// A task woken on this worker's own thread.
    #[inline(always)]
    fn wake_local<const POINT: bool>(&self, t: TaskRef) {
        if self.deterministic || t.migratable || t.home.load(Ordering::Relaxed) != self.index {
            self.wake_elsewhere(t, POINT);
            return;
        }
        if let Some(old) = self.runnext.replace(Some(t)) {
            self.pinned.push_back(old);
        }
    }

    /// `wake_local` for a task that does not go to `runnext`: in deterministic mode, a
    /// migratable task, or one pinned to another worker. Out of line, so that the common
    /// wakeup stays short.
    /// `point`: the waker is at a preemption point (see [`wake`]).
    #[inline(never)]
    fn wake_elsewhere(&self, t: TaskRef, point: bool) {
        if self.deterministic {
            self.local.borrow_mut().det.push(t);
            if point {
                self.explore_preempt();
            }
            return;
        }
        if t.migratable {
            self.push_ring(t);
            self.shared.wake_idle_worker();
            return;
        }
        let home = t.home.load(Ordering::Relaxed);
        self.shared.push_inbox(home, t);
    }

    /// Puts a task that yielded (or whose park was cancelled by a token) back in line.
    #[inline(always)]
    pub(super) fn requeue(&self, t: TaskRef) {
        if self.deterministic {
            self.requeue_deterministic(t);
        } else if t.migratable {
            self.push_ring(t);
        } else {
            self.pinned.push_back(t);
        }
    }

    /// `requeue` in deterministic mode, out of line: the switch path stays as short as it was.
    #[cold]
    #[inline(never)]
    fn requeue_deterministic(&self, t: TaskRef) {
        let mut l = self.local.borrow_mut();
        if let Some(pct) = l.pct.as_mut() {
            pct.requeued(t.id);
        }
        l.det.push(t);
    }

    /// Moves wakeups that other threads left in this worker's inbox to its local queue.
    #[inline]
    pub(super) fn drain_inbox(&self) {
        if self.me().inbox_len.load(Ordering::Acquire) != 0 {
            self.drain_inbox_slow();
        }
    }

    #[cold]
    fn drain_inbox_slow(&self) {
        let me = self.me();
        let items = {
            let mut inbox = lock(&me.inbox);
            me.inbox_len.store(0, Ordering::Release);
            std::mem::take(&mut *inbox)
        };
        if self.deterministic {
            self.local.borrow_mut().det.extend(items);
        } else {
            self.pinned.extend(items);
        }
    }

    pub(super) fn rand(&self) -> u64 {
        let mut l = self.local.borrow_mut();
        l.rng = crate::rand::xorshift(l.rng);
        l.rng
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::cell::RefCell;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    thread_local! {
        /// Runs at the start of `wake_foreign` on this thread: a test widens the window between
        /// a foreign waker's claim and its push with it.
        pub(crate) static FOREIGN_WAKE_HOOK: RefCell<Option<Box<dyn FnOnce()>>> =
            const { RefCell::new(None) };
    }

    /// A foreign thread claims a parked migratable task just as the run ends, and is slow to
    /// queue it. Shutdown must wait for it: the waker still reads the run's shared state.
    /// (`final_sweep` used to give up after 100 idle rounds and end the run under the waker.)
    #[test]
    fn shutdown_waits_for_a_slow_foreign_waker() {
        for _ in 0..3 {
            let delay_over = Arc::new(AtomicBool::new(false));
            let over = delay_over.clone();
            let (handle_tx, handle_rx) = std::sync::mpsc::channel::<crate::Task>();
            let (claimed_tx, claimed_rx) = std::sync::mpsc::channel::<()>();
            let waker = std::thread::spawn(move || {
                let task = handle_rx.recv().unwrap();
                FOREIGN_WAKE_HOOK.with(|h| {
                    *h.borrow_mut() = Some(Box::new(move || {
                        claimed_tx.send(()).unwrap();
                        std::thread::sleep(Duration::from_millis(300));
                        over.store(true, Ordering::SeqCst);
                    }))
                });
                // Until one unpark finds the task parked (and runs the hook after claiming it).
                while FOREIGN_WAKE_HOOK.with(|h| h.borrow().is_some()) {
                    task.unpark();
                    std::thread::sleep(Duration::from_millis(1));
                }
            });
            let result = crate::Runtime::builder()
                .workers(2)
                .build()
                .unwrap()
                .block_on(move || {
                    // SAFETY: the task holds nothing bound to its thread.
                    let h = unsafe { crate::task::Builder::new().migratable() }
                        .spawn(|| {
                            loop {
                                crate::park();
                            }
                        })
                        .unwrap();
                    handle_tx.send(h.task()).unwrap();
                    // Return while the waker holds the task claimed.
                    claimed_rx.recv().unwrap();
                });
            assert!(result.is_ok());
            assert!(
                delay_over.load(Ordering::SeqCst),
                "the run ended while a foreign waker was still queueing its task"
            );
            waker.join().unwrap();
        }
    }
}
