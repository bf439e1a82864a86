//! The scheduler: workers (Go's M+P pairs) that run tasks (Go's G) from run queues.
//!
//! Each worker is one OS thread with:
//! - a **local ring** ([`queue::RunQueue`], 256 slots) of tasks that may still move between
//!   threads: tasks that have not started, and migratable ones. Idle workers steal half of it;
//! - a **`runnext` slot**: the task this worker just woke (a channel partner, a joiner) runs
//!   next, which keeps ping-pong pairs on one hot cache;
//! - a **private FIFO** of started tasks that are ready again (after `yield_now`, or a wakeup that
//!   displaced `runnext`). These are pinned to this thread (see `task`'s soundness note). It is
//!   a growable power-of-two ring ([`queue::Fifo`]); it, `runnext` and the tick are plain cells
//!   of the worker, so a task switch sets no `RefCell` borrow flag;
//! - an **inbox**: wakeups of its pinned tasks coming from other threads land here, and the
//!   waker unparks the worker if it sleeps.
//!
//! When a task yields or parks and its worker has another task ready locally, the task switches
//! **straight to it** (one register switch, not two via the scheduler loop, like Go's
//! `gogo` from `schedule` on g0 — minus the g0 hop). Whoever is switched to completes the switch
//! (`Worker::land`): it stores the old task's registers and only then queues or parks it.
//! Heavier work (the global queue, timers, stealing, parking the thread) stays in the
//! scheduler loop on the worker's own stack, so parked tasks' stacks stay shallow.
//!
//! A **global queue** takes the overflow of full rings; every 61st scheduling tick a worker looks
//! there first, so a busy local queue cannot starve it (Go uses the same prime).
//!
//! A worker with nothing to do steals, then checks timers, then parks its thread
//! (`std::thread::park`, a futex): an idle runtime uses no CPU.
//!
//! **Thieves are patient.** Go's idle Ps steal at once, because a goroutine that lands on the
//! wrong P can move again later. Here a task is pinned to the worker it first runs on, so a
//! steal is a lifelong placement: a chain of tasks that hand work to each other (a pipeline, a
//! ring of channels) that gets split across two threads pays a cross-thread wakeup on every
//! hand-off, forever. So a thief first asks whether the owner needs help: it measures how fast
//! the owner takes tasks from its queue ([`queue::Progress`]) and steals only if, at that rate,
//! the owner would need longer than [`STEAL_PATIENCE`] to get through what is queued (its ring
//! plus its overflow in the global queue). A burst the owner is working through stays with it
//! and its warm caches; an owner that is stuck in one long task, or is handed work faster than
//! it runs it, gets help as in Go. While it waits, the thief sleeps with a timeout rather than
//! spinning. The kernel has the same rule: Linux does not migrate a thread that ran in the last
//! half millisecond (`sched_migration_cost`).
//!
//! **Deterministic mode** runs one worker whose every choice comes from a seeded PRNG: all
//! runnable tasks sit in one list and the PRNG picks which runs next. When every task waits, the
//! virtual clock jumps to the next timer.
//!
//! Go counterpart: `runtime/proc.go` (`schedule`, `findRunnable`, `runqput`, `runqsteal`,
//! `wakep`, `stopm`), `checkdead`. Lessons: 04 (scheduler) and 12 (work stealing).

pub(crate) mod queue;

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicIsize, AtomicU64, AtomicUsize, Ordering, fence};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

use crate::coroutine::{self, OUT_FINISHED};
use crate::task::{self, Header, NO_HOME, REQ_ABANDON, REQ_PARK, REQ_YIELD, TaskRef};
use crate::time::Timers;
use queue::{RunQueue, Verdict};

/// `pending` action of the scheduler switching into a task.
const SWITCH_RUN: usize = usize::MAX;
/// `pending_req` when no switch is in flight.
const SWITCH_NONE: usize = usize::MAX - 1;
/// How often (in scheduling ticks) a worker checks the global queue and timers first.
const FAIRNESS_TICK: u32 = 61;
/// Rounds of looking for work before a worker parks its thread.
const SPIN_ROUNDS: u32 = 200;
/// Task ids are handed to workers in blocks, so spawning does not contend on one counter.
const ID_BLOCK: u64 = 1024;
/// A thief steals from a worker that would need longer than this to get through its queue
/// (see "Thieves are patient" above). Starting 503 fresh tasks (the thread-ring benchmark,
/// spawned in one burst) takes a worker 1.3 ms on a quiet 2-CPU virtual machine and up to 2.5 ms
/// on a busy one, most of it first-touch page faults on new stacks; with 2 ms that ring was
/// still split in one run of twelve (judged at 206 tasks per ms with 439 queued).
pub(crate) const STEAL_PATIENCE: Duration = Duration::from_millis(3);
/// Most lists of spare task records a run sets aside (each holds `task::SPARE_MAX`).
const SPARE_LISTS: usize = 32;
/// `global_owner` when the global queue's work came from outside (no patience applies).
const NO_OWNER: usize = usize::MAX;

/// Settings of one runtime run.
#[derive(Clone, Debug)]
pub(crate) struct Config {
    pub(crate) workers: usize,
    pub(crate) stack_size: usize,
    pub(crate) panic_crashes: bool,
    pub(crate) seed: Option<u64>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Per-worker state other threads may touch.
pub(crate) struct WorkerShared {
    ring: RunQueue,
    inbox: Mutex<Vec<TaskRef>>,
    inbox_len: AtomicUsize,
    sleeping: AtomicBool,
    /// Asleep with a timeout, waiting for another worker's backlog to ripen (see
    /// `Worker::wait_patiently`); work that needs no patience wakes it.
    patient: AtomicBool,
    thread: OnceLock<Thread>,
    spawned: AtomicU64,
    /// Tasks spawned here minus tasks that started (or were dropped unstarted) here. Only the
    /// owning thread writes it; the sum over all workers is the number of unstarted tasks.
    pending: AtomicIsize,
    steals: AtomicU64,
    /// The started tasks whose home is this worker (for dumps and shutdown). Registering at
    /// first run rather than at spawn keeps it private to one thread in the common case: a
    /// task starts and finishes on its home worker.
    registry: Mutex<Slab>,
}

/// A slab of live tasks: O(1) insert and remove by slot index.
#[derive(Default)]
struct Slab {
    slots: Vec<Option<TaskRef>>,
    free: Vec<usize>,
    len: usize,
}

impl Slab {
    fn insert(&mut self, t: TaskRef) -> usize {
        self.len += 1;
        if let Some(i) = self.free.pop() {
            self.slots[i] = Some(t);
            i
        } else {
            self.slots.push(Some(t));
            self.slots.len() - 1
        }
    }

    fn remove(&mut self, i: usize) -> Option<TaskRef> {
        let t = self.slots.get_mut(i)?.take();
        if t.is_some() {
            self.len -= 1;
            self.free.push(i);
        }
        t
    }
}

/// Everything the workers of one runtime run share.
pub(crate) struct Shared {
    pub(crate) config: Config,
    workers: Box<[WorkerShared]>,
    global: Mutex<VecDeque<TaskRef>>,
    global_len: AtomicUsize,
    /// The worker whose overflow last went to the global queue (`NO_OWNER`: work from
    /// outside). Its own overflow is not another worker's to take before it has aged.
    global_owner: AtomicUsize,
    /// The clock thieves time backlogs with.
    epoch: Instant,
    /// Indexes of parked workers.
    idle: Mutex<Vec<usize>>,
    n_idle: AtomicUsize,
    /// Workers looking for work without being parked (Go's spinning Ms). While one spins, new
    /// work does not need to wake anybody: the spinner will find it.
    n_spinning: AtomicUsize,
    pub(crate) timers: Timers,
    shutdown: AtomicBool,
    deadlock: Mutex<Option<String>>,
    /// Full lists of finished task records, set aside by workers that finish more tasks than
    /// they spawn, for workers that spawn more than they finish (see `task::recycle`).
    spare_headers: Mutex<Vec<Vec<TaskRef>>>,
    next_id_block: AtomicU64,
}

impl Shared {
    pub(crate) fn new(config: Config) -> Shared {
        let n = config.workers;
        let virtual_clock = config.seed.is_some();
        Shared {
            workers: (0..n)
                .map(|_| WorkerShared {
                    ring: RunQueue::new(),
                    inbox: Mutex::new(Vec::new()),
                    inbox_len: AtomicUsize::new(0),
                    sleeping: AtomicBool::new(false),
                    patient: AtomicBool::new(false),
                    thread: OnceLock::new(),
                    spawned: AtomicU64::new(0),
                    pending: AtomicIsize::new(0),
                    steals: AtomicU64::new(0),
                    registry: Mutex::new(Slab::default()),
                })
                .collect(),
            config,
            global: Mutex::new(VecDeque::new()),
            global_len: AtomicUsize::new(0),
            global_owner: AtomicUsize::new(NO_OWNER),
            epoch: Instant::now(),
            idle: Mutex::new(Vec::new()),
            n_idle: AtomicUsize::new(0),
            n_spinning: AtomicUsize::new(0),
            timers: Timers::new(virtual_clock),
            shutdown: AtomicBool::new(false),
            deadlock: Mutex::new(None),
            spare_headers: Mutex::new(Vec::new()),
            // Id 1 is the main task.
            next_id_block: AtomicU64::new(2),
        }
    }

    pub(crate) fn is_deterministic(&self) -> bool {
        self.config.seed.is_some()
    }

    pub(crate) fn live_tasks(&self) -> usize {
        let started: usize = self.workers.iter().map(|w| lock(&w.registry).len).sum();
        started + self.unstarted()
    }

    /// Tasks spawned that have not started yet.
    pub(crate) fn unstarted(&self) -> usize {
        let n: isize = self
            .workers
            .iter()
            .map(|w| w.pending.load(Ordering::Relaxed))
            .sum();
        n.max(0) as usize
    }

    pub(crate) fn tasks_spawned(&self) -> u64 {
        self.workers
            .iter()
            .map(|w| w.spawned.load(Ordering::Relaxed))
            .sum()
    }

    pub(crate) fn steals(&self) -> u64 {
        self.workers
            .iter()
            .map(|w| w.steals.load(Ordering::Relaxed))
            .sum()
    }

    pub(crate) fn worker_count(&self) -> usize {
        self.workers.len()
    }

    /// All started live tasks, sorted by id.
    pub(crate) fn snapshot(&self) -> Vec<TaskRef> {
        let mut all: Vec<TaskRef> = Vec::new();
        for w in self.workers.iter() {
            all.extend(lock(&w.registry).slots.iter().flatten().cloned());
        }
        all.sort_by_key(|t| t.id);
        all
    }

    /// Removes a started task from its home registry (when it finishes, or is abandoned).
    pub(crate) fn unregister(&self, t: &Header) {
        let shard = t.reg_shard.load(Ordering::Relaxed);
        let slot = t.reg_slot.load(Ordering::Relaxed);
        let removed = lock(&self.workers[shard].registry).remove(slot);
        drop(removed);
    }

    pub(crate) fn is_shutting_down(&self) -> bool {
        self.shutdown.load(Ordering::Acquire)
    }

    /// Stops the run: every worker leaves its loop and cancels its leftover tasks.
    pub(crate) fn begin_shutdown(&self) {
        self.shutdown.store(true, Ordering::Release);
        for w in self.workers.iter() {
            if let Some(t) = w.thread.get() {
                t.unpark();
            }
        }
    }

    /// Sets aside a full list of finished task records (dropped if enough are set aside
    /// already: the stock only has to cover the gap between spawning and finishing workers).
    pub(crate) fn put_spare_headers(&self, list: Vec<TaskRef>) {
        let mut stock = lock(&self.spare_headers);
        if stock.len() < SPARE_LISTS {
            stock.push(list);
        } else {
            drop(stock);
            drop(list);
        }
    }

    /// A list of finished task records to reuse, if any was set aside.
    pub(crate) fn take_spare_headers(&self) -> Option<Vec<TaskRef>> {
        lock(&self.spare_headers).pop()
    }

    pub(crate) fn take_deadlock(&self) -> Option<String> {
        lock(&self.deadlock).take()
    }

    /// Queues a task woken from outside the runtime's workers: anybody may run it at once.
    fn push_global(&self, t: TaskRef) {
        {
            let mut g = lock(&self.global);
            g.push_back(t);
            self.global_owner.store(NO_OWNER, Ordering::Relaxed);
            self.global_len.store(g.len(), Ordering::Release);
        }
        // A thief waiting for a backlog to ripen would not look before its timeout. (The
        // fence pairs with `wait_patiently`: either it sees this task, or we see it patient.)
        fence(Ordering::SeqCst);
        for w in self.workers.iter() {
            if w.patient.load(Ordering::SeqCst)
                && let Some(th) = w.thread.get()
            {
                th.unpark();
            }
        }
    }

    /// Worker `owner`'s overflow (its ring was full).
    fn push_global_batch(&self, owner: usize, batch: Vec<TaskRef>) {
        let mut g = lock(&self.global);
        g.extend(batch);
        self.global_owner.store(owner, Ordering::Relaxed);
        self.global_len.store(g.len(), Ordering::Release);
    }

    /// Microseconds since the run started, on the clock thieves share (wraps after 71 minutes;
    /// only differences are used).
    fn now_us(&self) -> u32 {
        self.epoch.elapsed().as_micros() as u32
    }

    /// Takes one task from the global queue, and moves a fair share more into `ring` if given.
    fn pop_global(&self, ring: Option<&RunQueue>) -> Option<TaskRef> {
        if self.global_len.load(Ordering::Acquire) == 0 {
            return None;
        }
        let mut g = lock(&self.global);
        let first = g.pop_front();
        if let Some(ring) = ring {
            // Take a fair share, as Go's globrunqget does.
            let share = (g.len() / self.workers.len()).min(queue::CAPACITY as usize / 2);
            for _ in 0..share {
                let Some(t) = g.pop_front() else { break };
                if let Err((t, rest)) = ring.push(t) {
                    g.push_front(t);
                    for r in rest.into_iter().rev() {
                        g.push_front(r);
                    }
                    break;
                }
            }
        }
        self.global_len.store(g.len(), Ordering::Release);
        first
    }

    /// Wakes one parked worker, if any, because new stealable work appeared.
    fn wake_idle_worker(&self) {
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
                // The woken worker starts out spinning (it knows: it is no longer listed).
                self.n_spinning.fetch_add(1, Ordering::SeqCst);
            }
            w
        };
        if let Some(w) = w
            && let Some(t) = self.workers[w].thread.get()
        {
            t.unpark();
        }
    }

    /// Wakes a parked worker so it recomputes its timer deadline.
    pub(crate) fn timer_added(&self) {
        self.wake_idle_worker();
    }

    /// Queues a started pinned task on its home worker from another thread.
    fn push_inbox(&self, home: usize, t: TaskRef) {
        let w = &self.workers[home];
        {
            let mut inbox = lock(&w.inbox);
            inbox.push(t);
            w.inbox_len.store(inbox.len(), Ordering::SeqCst);
        }
        if w.sleeping.load(Ordering::SeqCst)
            && let Some(th) = w.thread.get()
        {
            th.unpark();
        }
    }

    /// Whether there is work worker `index` could take now: the global queue, a stealable
    /// ring that is ripe (or its own), or its own inbox. (Another worker's inbox is that
    /// worker's business: whoever filled it woke it. A ring that is not ripe yet has a patient
    /// thief watching it, or is left to its owner.)
    fn work_for(&self, index: usize) -> bool {
        if self.workers[index].inbox_len.load(Ordering::SeqCst) > 0 {
            return true;
        }
        let mut wait = None;
        self.global_takeable(index, &mut wait)
            || self
                .workers
                .iter()
                .enumerate()
                .any(|(i, w)| !w.ring.is_empty() && (i == index || self.ripe(i, &mut wait)))
    }

    /// Whether another worker, `victim`, needs help: at the rate thieves have seen it take
    /// tasks, it would need longer than `STEAL_PATIENCE` to get through its ring and its
    /// overflow in the global queue. If not, lowers `wait` to when to look again.
    fn ripe(&self, victim: usize, wait: &mut Option<Duration>) -> bool {
        let ring = &self.workers[victim].ring;
        let mut queued = ring.len();
        if self.global_owner.load(Ordering::Relaxed) == victim {
            queued += self.global_len.load(Ordering::Relaxed);
        }
        let patience = STEAL_PATIENCE.as_micros() as u32;
        let queued = queued.min(u32::MAX as usize) as u32;
        match ring
            .progress
            .judge(self.now_us(), ring.taken(), queued, patience)
        {
            Verdict::Steal => true,
            Verdict::Wait(us) => {
                let left = Duration::from_micros(u64::from(us));
                *wait = Some(wait.map_or(left, |w| w.min(left)));
                false
            }
        }
    }

    /// Whether worker `index` may take from the global queue now: it holds work, and that work
    /// is the worker's own overflow, came from outside, or belongs to a worker that is ripe
    /// (see `ripe`).
    fn global_takeable(&self, index: usize, wait: &mut Option<Duration>) -> bool {
        if self.global_len.load(Ordering::SeqCst) == 0 {
            return false;
        }
        let owner = self.global_owner.load(Ordering::Relaxed);
        owner == index || owner == NO_OWNER || self.ripe(owner, wait)
    }

    /// Whether any queue holds work (deadlock check).
    fn any_shared_work(&self) -> bool {
        self.global_len.load(Ordering::SeqCst) > 0
            || self
                .workers
                .iter()
                .any(|w| w.inbox_len.load(Ordering::SeqCst) > 0 || !w.ring.is_empty())
    }

    /// Drops the leftovers that would otherwise keep `Shared` alive through reference cycles
    /// (timer callbacks and registry entries hold task handles, which hold `Shared`).
    pub(crate) fn clear(&self) {
        self.timers.clear();
        for w in self.workers.iter() {
            let slab = std::mem::take(&mut *lock(&w.registry));
            drop(slab);
            let inbox = std::mem::take(&mut *lock(&w.inbox));
            drop(inbox);
            while let Some(t) = w.ring.pop() {
                drop(t);
            }
        }
        let global = std::mem::take(&mut *lock(&self.global));
        drop(global);
        let spares = std::mem::take(&mut *lock(&self.spare_headers));
        drop(spares);
    }
}

thread_local! {
    static WORKER: Cell<*const Worker> = const { Cell::new(ptr::null()) };
    static TASK: Cell<*const Header> = const { Cell::new(ptr::null()) };
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
/// functions that are themselves never inlined and read it before any task switch they make:
/// then the read always happens on the thread the caller is on.
#[inline(always)]
fn worker_here() -> *const Worker {
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

/// Task side: switch the running task out (see `Worker::switch_from_task`).
#[inline(never)]
pub(crate) fn leave_task(req: usize) {
    // Read before the switch: this function is never inlined (see `worker_here`).
    let w = worker_here();
    assert!(!w.is_null(), "a task runs on a worker");
    // SAFETY: the worker outlives every task it runs.
    unsafe { (*w).switch_from_task(req) };
}

/// Task side, a task's body just returned (see `Worker::chain`): the header of the task that
/// now runs in its place on this stack, or None to leave through `leave_task(OUT_FINISHED)`.
#[inline(never)]
pub(crate) fn chain_next() -> Option<*const Header> {
    let w = worker_here();
    assert!(!w.is_null(), "a task runs on a worker");
    // SAFETY: the worker outlives every task it runs.
    unsafe { &*w }.chain()
}

/// Task side, right after being switched to: complete the switch, then record this task
/// (`me`, its own header) as the one running on this thread.
#[inline(never)]
pub(crate) fn landed_in_task(from: context::Context, me: *const Header) {
    let w = worker_here();
    assert!(!w.is_null(), "a task runs on a worker");
    // SAFETY: the worker outlives every task it runs.
    unsafe { &*w }.land_in_task(from, me);
}

/// Makes a woken task runnable again. Called by whoever won its `PARKED -> EMPTY` transition.
///
/// Inlined into its callers to keep the wake path short, and it reads the thread's worker:
/// call it only from functions that are never inlined and do not switch tasks before the
/// call (see `worker_here`).
#[inline(always)]
pub(crate) fn wake(t: TaskRef) {
    let w = worker_here();
    if !w.is_null() {
        // SAFETY: the worker outlives every call made on its thread while it is installed.
        let w = unsafe { &*w };
        if ptr::eq(Arc::as_ptr(&w.shared), t.shared()) {
            w.wake_local(t);
            return;
        }
    }
    wake_foreign(t);
}

/// `wake` from a thread that is not a worker of the task's runtime.
#[cold]
#[inline(never)]
fn wake_foreign(t: TaskRef) {
    // Hold the run alive until the task is queued and its worker woken.
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

/// What a worker looking for work found.
enum Next {
    Run(TaskRef),
    /// Only a backlog that is not ripe for stealing: look again after this long.
    Later(Duration),
    Nothing,
}

/// Worker-private state off the switch path (the switch path's own fields are `Cell`s and a
/// [`queue::Fifo`] in [`Worker`], which need no borrow flag).
struct Local {
    /// Deterministic mode: every runnable task, in one list the PRNG picks from.
    det: Vec<TaskRef>,
    rng: u64,
    next_id: u64,
    id_end: u64,
    /// Started pinned tasks whose home is this worker and that are still alive.
    homed_live: usize,
    /// Whether this worker counts in `Shared::n_spinning`.
    spinning: bool,
}

/// One worker: lives on its thread's stack for the duration of the run.
pub(crate) struct Worker {
    shared: Arc<Shared>,
    index: usize,
    /// `&shared.workers[index]`, computed once: the switch path reads it several times.
    me: *const WorkerShared,
    /// `shared.is_deterministic()`, cached for the switch path.
    deterministic: bool,
    local: RefCell<Local>,
    /// The task this worker woke last: it runs next.
    runnext: Cell<Option<TaskRef>>,
    /// Started tasks pinned here that are ready again, in FIFO order.
    pinned: queue::Fifo,
    /// Scheduling ticks: every `FAIRNESS_TICK`th one does the periodic checks, and the parity
    /// alternates which local queue is looked at first. (`FAIRNESS_TICK` is odd, so that
    /// parity alternates at the periodic checks too: a count-down that restarts at the same
    /// value would always pick the same queue there and starve the other.)
    tick: Cell<u32>,
    /// A direct switch skipped the periodic checks (global queue, timers): do them next.
    periodic_due: Cell<bool>,
    /// The scheduler loop's registers while a task runs.
    sched_ctx: Cell<Option<context::Context>>,
    /// The task running on this worker.
    running: Cell<Option<TaskRef>>,
    /// The switch in flight: who switched away, as `Arc::into_raw` of the reference the
    /// worker ran it with (null: the scheduler)...
    pending_from: Cell<*const Header>,
    /// ...and what it asked for. Set just before a switch, consumed by `land` just after it.
    /// (Only debug builds clear the two after `land`, to check that every switch is landed
    /// exactly once; every switch sets both before anyone reads them.)
    pending_req: Cell<usize>,
}

impl Worker {
    pub(crate) fn new(shared: Arc<Shared>, index: usize) -> Worker {
        let rng = match shared.config.seed {
            Some(seed) => splitmix(seed),
            None => splitmix(
                (&shared as *const _ as u64) ^ (index as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15),
            ),
        };
        let me: *const WorkerShared = &shared.workers[index];
        let deterministic = shared.is_deterministic();
        Worker {
            shared,
            index,
            me,
            deterministic,
            local: RefCell::new(Local {
                det: Vec::new(),
                rng: rng | 1,
                next_id: 0,
                id_end: 0,
                homed_live: 0,
                spinning: false,
            }),
            runnext: Cell::new(None),
            pinned: queue::Fifo::new(),
            tick: Cell::new(0),
            periodic_due: Cell::new(false),
            sched_ctx: Cell::new(None),
            running: Cell::new(None),
            pending_from: Cell::new(ptr::null()),
            pending_req: Cell::new(SWITCH_NONE),
        }
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    #[inline]
    fn me(&self) -> &WorkerShared {
        // SAFETY: `me` points into `self.shared.workers`, a boxed slice that is never resized
        // and that `self.shared` keeps alive for as long as `self` exists.
        unsafe { &*self.me }
    }

    /// Installs this worker as the thread's current one. Must be paired with `leave`.
    pub(crate) fn enter(&self) {
        let _ = self.me().thread.set(thread::current());
        WORKER.with(|w| w.set(self as *const Worker));
        if let Some(seed) = self.shared.config.seed {
            crate::seed_fastrand(splitmix(seed ^ 0x5eed));
        }
    }

    pub(crate) fn leave(&self) {
        WORKER.with(|w| w.set(ptr::null()));
    }

    pub(crate) fn next_id(&self) -> u64 {
        let mut l = self.local.borrow_mut();
        if l.next_id == l.id_end {
            let start = self
                .shared
                .next_id_block
                .fetch_add(ID_BLOCK, Ordering::Relaxed);
            l.next_id = start;
            l.id_end = start + ID_BLOCK;
        }
        let id = l.next_id;
        l.next_id += 1;
        id
    }

    /// Counts a freshly created task (it is registered when it starts).
    pub(crate) fn count_spawn(&self) {
        // Only this worker's thread writes its own counters: a load and a store, no locked
        // read-modify-write.
        let me = self.me();
        me.spawned
            .store(me.spawned.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
        me.pending
            .store(me.pending.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
    }

    /// A task starts (or is dropped before starting) on this worker.
    fn count_start(&self) {
        let me = self.me();
        me.pending
            .store(me.pending.load(Ordering::Relaxed) - 1, Ordering::Relaxed);
    }

    fn register(&self, t: &TaskRef) {
        let slot = lock(&self.me().registry).insert(t.clone());
        t.reg_shard.store(self.index, Ordering::Relaxed);
        t.reg_slot.store(slot, Ordering::Relaxed);
    }

    /// Queues a freshly spawned task.
    pub(crate) fn submit_new(&self, t: TaskRef) {
        if self.shared.is_shutting_down() {
            // Spawned by a destructor during shutdown: it never runs.
            self.count_start();
            t.cancel_unstarted();
            return;
        }
        if self.deterministic {
            self.local.borrow_mut().det.push(t);
            return;
        }
        self.push_ring(t);
        self.shared.wake_idle_worker();
    }

    fn push_ring(&self, t: TaskRef) {
        if let Err((t, batch)) = self.me().ring.push(t) {
            let mut batch = batch;
            batch.push(t);
            self.shared.push_global_batch(self.index, batch);
        }
    }

    /// A task woken on this worker's own thread.
    #[inline(always)]
    fn wake_local(&self, t: TaskRef) {
        if self.deterministic || t.migratable || t.home.load(Ordering::Relaxed) != self.index {
            self.wake_elsewhere(t);
            return;
        }
        if let Some(old) = self.runnext.replace(Some(t)) {
            self.pinned.push_back(old);
        }
    }

    /// `wake_local` for a task that does not go to `runnext`: in deterministic mode, a
    /// migratable task, or one pinned to another worker. Out of line, so that the common
    /// wakeup stays short.
    #[inline(never)]
    fn wake_elsewhere(&self, t: TaskRef) {
        if self.deterministic {
            self.local.borrow_mut().det.push(t);
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
    fn requeue(&self, t: TaskRef) {
        if self.deterministic {
            self.local.borrow_mut().det.push(t);
        } else if t.migratable {
            self.push_ring(t);
        } else {
            self.pinned.push_back(t);
        }
    }

    /// Moves wakeups that other threads left in this worker's inbox to its local queue.
    #[inline]
    fn drain_inbox(&self) {
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

    /// Gets `t` ready to be switched into: on its first run it is counted as started, gets its
    /// stack and is registered on this (its home) worker. False if it could not start.
    #[inline]
    fn prepare(&self, t: &TaskRef) -> bool {
        t.is_started() || self.prepare_first_run(t)
    }

    /// `prepare` for a task that has not started yet.
    #[inline(never)]
    fn prepare_first_run(&self, t: &TaskRef) -> bool {
        self.count_start();
        if !t.start(self.index) {
            return false;
        }
        self.register(t);
        if !t.migratable {
            self.local.borrow_mut().homed_live += 1;
        }
        true
    }

    /// Scheduler side: switches into `t`, and returns once some task switches back to the
    /// scheduler (not necessarily `t`: tasks hand the worker to each other directly).
    fn execute(&self, t: TaskRef) {
        if !self.prepare(&t) {
            return;
        }
        // SAFETY: `t` is prepared (started); we own it (popped from a queue or claimed); a
        // started pinned task only ever reaches the queues of its home worker, so we are on
        // its thread.
        let to = unsafe { t.take_ctx() };
        let data = Arc::as_ptr(&t) as usize;
        self.set_pending(None, SWITCH_RUN);
        self.enter_task(t);
        // SAFETY: `to` is the task's saved context on its live stack.
        let back = unsafe { coroutine::jump(to, data) };
        self.land(back.context);
        TASK.with(|c| c.set(ptr::null()));
        crate::signal::set_current(ptr::null());
    }

    /// Records the switch about to happen (consumed by `land` on the other side).
    #[inline]
    fn set_pending(&self, from: Option<TaskRef>, action: usize) {
        debug_assert_eq!(
            self.pending_req.get(),
            SWITCH_NONE,
            "a switch was left incomplete"
        );
        debug_assert!(
            self.pending_from.get().is_null(),
            "a switch was left incomplete"
        );
        self.pending_req.set(action);
        // The reference travels as a raw pointer to the `land` on the other side.
        self.pending_from
            .set(from.map_or(ptr::null(), Arc::into_raw));
    }

    fn enter_task(&self, t: TaskRef) {
        let old = self.running.replace(Some(t));
        debug_assert!(old.is_none(), "two tasks running on one worker");
        std::mem::forget(old);
    }

    /// Task side: leaves the running task with request `req` (`REQ_*` or `OUT_FINISHED`) and
    /// switches straight to the next runnable task if there is one here, else to the scheduler.
    /// Returns when the task is resumed (for `OUT_FINISHED`: never).
    fn switch_from_task(&self, req: usize) {
        let me = self
            .running
            .take()
            .expect("leave_task called outside a task");
        let pinned = !me.migratable;
        // The main task's exit ends the run: go back to the scheduler so nothing else runs
        // after it. During shutdown every switch goes back to the scheduler too.
        let main_exits = me.is_main && req == OUT_FINISHED;
        let direct = !(main_exits || self.shared.is_shutting_down());
        let next = if direct { self.pick_next() } else { None };
        let me_ptr = Arc::as_ptr(&me);
        self.set_pending(Some(me), req);
        let back = match next {
            Some(b) => {
                // SAFETY: `b` was popped from this worker's queues and is prepared (started):
                // we own it, and it is pinned here or migratable.
                let to = unsafe { b.take_ctx() };
                let data = Arc::as_ptr(&b) as usize;
                self.enter_task(b);
                // SAFETY: `to` is b's saved context on its live stack.
                unsafe { coroutine::jump(to, data) }
            }
            None => {
                let to = self
                    .sched_ctx
                    .take()
                    .expect("the scheduler context is saved");
                // SAFETY: the scheduler is suspended in `execute` on this thread.
                unsafe { coroutine::jump(to, 0) }
            }
        };
        if pinned {
            // A pinned task resumes on the thread it left: still this worker.
            self.land_in_task(back.context, me_ptr);
        } else {
            // Possibly another thread: look the worker up again rather than using `self`.
            landed_in_task(back.context, me_ptr);
        }
    }

    /// Task side, right after the task `me` was switched to on this worker.
    #[inline(always)]
    fn land_in_task(&self, from: context::Context, me: *const Header) {
        self.land(from);
        debug_assert!(
            // SAFETY: `running` is only touched by this worker's thread, and no other
            // reference into the cell exists during this read.
            unsafe { (*self.running.as_ptr()).as_ref() }.is_some_and(|r| ptr::eq(&**r, me)),
            "the task that landed is the one recorded as running"
        );
        TASK.with(|c| c.set(me));
        // SAFETY: `me` is the running task, which `running` keeps alive while it runs.
        crate::signal::set_current(unsafe { &*me }.overflow_info());
    }

    /// A cheap pick for a direct task-to-task switch: only this worker's own queues. Every
    /// 61st tick, and whenever they are empty, the task goes back to the scheduler loop, which
    /// does the heavier work (global queue, timers, stealing, parking the thread). That keeps
    /// those paths off task stacks, which stay one page deep when parked.
    #[inline(always)]
    fn pick_next(&self) -> Option<TaskRef> {
        if self.deterministic {
            self.pick_next_deterministic()
        } else {
            self.find_local()
        }
    }

    /// `pick_next` in deterministic mode: the PRNG's pick from every runnable task.
    #[inline(never)]
    fn pick_next_deterministic(&self) -> Option<TaskRef> {
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
                l.rng = xorshift(l.rng);
                let i = (l.rng % len as u64) as usize;
                l.det.swap_remove(i)
            };
            if self.prepare(&t) {
                return Some(t);
            }
        }
    }

    /// Completes a switch on the side that was switched to: stores the context of whoever
    /// switched away and carries out what it asked for. Only now, with its registers saved,
    /// may a yielding task be queued or a parking task be marked parked.
    #[inline(always)]
    fn land(&self, from: context::Context) {
        let action = self.pending_req.get();
        let prev = self.pending_from.get();
        debug_assert_ne!(action, SWITCH_NONE, "a switch is pending");
        if cfg!(debug_assertions) {
            self.pending_req.set(SWITCH_NONE);
            self.pending_from.set(ptr::null());
        }
        if prev.is_null() {
            self.sched_ctx.set(Some(from));
            return;
        }
        // SAFETY: `set_pending` stored this pointer with `Arc::into_raw` for this very switch,
        // and each switch is landed once: the reference is ours again.
        let prev = unsafe { Arc::from_raw(prev) };
        match action {
            REQ_YIELD => {
                // SAFETY: `prev` is a started task that just switched away on this thread;
                // nobody else can see it.
                unsafe { prev.save_ctx(from) };
                self.requeue(prev);
            }
            REQ_PARK => {
                // SAFETY: as above.
                unsafe { prev.save_ctx(from) };
                if !task::finish_park(&prev) {
                    self.requeue(prev);
                }
            }
            _ => self.land_finished(prev, action),
        }
    }

    /// `land` for a task that finished or was abandoned (kept out of the switch path).
    #[inline(never)]
    fn land_finished(&self, prev: TaskRef, action: usize) {
        match action {
            REQ_ABANDON | OUT_FINISHED => {
                // No task is current while a finished one is retired: dropping its record
                // must not see it as the running task.
                TASK.with(|c| c.set(ptr::null()));
                crate::signal::set_current(ptr::null());
                self.finish(prev, action == REQ_ABANDON);
            }
            other => unreachable!("unknown switch request {other}"),
        }
    }

    /// Called on a finished task's stack, in `task_entry`, when its body has returned: if the
    /// task this worker would switch to next has not started yet and wants a stack of the same
    /// size, it takes over this one. The finished task is retired here and the new one starts
    /// in the same frame, with no trip through the stack pool, no fresh context and no
    /// switch. (Spawning a million short tasks: about a third of the work of running one.) The
    /// choice is `find_local`'s: the same tick, the same fairness, `runnext` and the private
    /// queue first when it is their turn; anything else goes the usual way.
    fn chain(&self) -> Option<*const Header> {
        if self.deterministic || self.shared.is_shutting_down() {
            return None;
        }
        // SAFETY: `running` is only touched by this worker's thread, and no other reference
        // into the cell exists during this read.
        let old = unsafe { (*self.running.as_ptr()).as_deref() }?;
        if old.is_main || old.migratable {
            return None;
        }
        self.drain_inbox();
        // The tick `find_local` would count. It is only counted here if the chain happens;
        // otherwise `find_local` counts it and decides exactly as it would have.
        let tick = self.tick.get().wrapping_add(1);
        if tick.is_multiple_of(FAIRNESS_TICK) {
            return None;
        }
        // SAFETY: as above, for `runnext`.
        if unsafe { (*self.runnext.as_ptr()).is_some() } || tick & 1 == 0 && self.pinned.len() != 0
        {
            return None;
        }
        let next = self.me().ring.pop()?;
        if next.is_started() || next.migratable || next.stack_size() != old.stack_size() {
            // Not for this stack: it runs next the usual way.
            if self.prepare(&next) {
                self.runnext.set(Some(next));
            }
            return None;
        }
        self.tick.set(tick);
        self.count_start();
        let old = self.running.take().expect("the running task is recorded");
        // SAFETY: `old` is the running task, its body has returned and we run on its stack in
        // `task_entry`'s frame (this is only called from there); `next` is ours (popped from our
        // ring) and has not started.
        unsafe {
            let co = old.take_co().expect("a running task has its coroutine");
            next.start_on(co, self.index);
        }
        self.register(&next);
        self.local.borrow_mut().homed_live += 1;
        // Retire the finished task as `land_finished` would, with no task current while its
        // record may be dropped.
        TASK.with(|c| c.set(ptr::null()));
        crate::signal::set_current(ptr::null());
        self.finish(old, false);
        let p = Arc::as_ptr(&next);
        self.enter_task(next);
        TASK.with(|c| c.set(p));
        // SAFETY: `p` is the running task, kept alive by `running`.
        crate::signal::set_current(unsafe { &*p }.overflow_info());
        Some(p)
    }

    fn finish(&self, t: TaskRef, abandon: bool) {
        t.retire(abandon);
        if !t.migratable {
            self.local.borrow_mut().homed_live -= 1;
        }
        if abandon {
            // A finished task left the registry itself, before publishing its outcome.
            self.shared.unregister(&t);
        }
        if t.is_main {
            self.shared.begin_shutdown();
        }
        task::recycle(t);
    }

    fn rand(&self) -> u64 {
        let mut l = self.local.borrow_mut();
        l.rng = xorshift(l.rng);
        l.rng
    }

    /// This worker's own queues only, the task ready to switch into (prepared); None every
    /// 61st tick so the scheduler loop gets to run its periodic checks.
    #[inline(always)]
    fn find_local(&self) -> Option<TaskRef> {
        self.drain_inbox();
        let tick = self.tick.get().wrapping_add(1);
        self.tick.set(tick);
        if tick.is_multiple_of(FAIRNESS_TICK) {
            self.periodic_due.set(true);
            return None;
        }
        // `runnext` and the pinned FIFO only ever hold started tasks (woken or yielded ones):
        // only a task from the ring may need its first-run preparation.
        if let Some(t) = self.runnext.take() {
            debug_assert!(t.is_started());
            return Some(t);
        }
        if tick & 1 == 0 {
            if let Some(t) = self.pinned.pop_front() {
                return Some(t);
            }
            self.pop_ring_prepared()
        } else {
            if let Some(t) = self.pop_ring_prepared() {
                return Some(t);
            }
            self.pinned.pop_front()
        }
    }

    /// The next task from the ring that could be prepared to run.
    #[inline(always)]
    fn pop_ring_prepared(&self) -> Option<TaskRef> {
        loop {
            let t = self.me().ring.pop()?;
            if self.prepare(&t) {
                return Some(t);
            }
        }
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
    }

    /// Finds the next task to run (normal mode). `Later` if the only work around is another
    /// worker's backlog that is not ripe for stealing yet.
    fn find_task(&self) -> Next {
        let mut wait = None;
        match self.find_task_now(&mut wait) {
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

    fn find_task_now(&self, wait: &mut Option<Duration>) -> Option<TaskRef> {
        let (tick, periodic) = self.count_tick();
        if periodic {
            if self.shared.global_takeable(self.index, wait)
                && let Some(t) = self.shared.pop_global(None)
            {
                return Some(t);
            }
            self.fire_timers();
            if let Some(t) = self.runnext.take() {
                // Do not let a ping-pong pair monopolise the worker.
                self.pinned.push_back(t);
            }
        }
        self.drain_inbox();
        let ring = &self.me().ring;
        if ring.is_empty()
            && self.shared.global_takeable(self.index, wait)
            && let Some(t) = self.shared.pop_global(Some(ring))
        {
            // Refill the ring before running pinned tasks again: a task that keeps yielding
            // must not hold back the overflow of a spawning burst.
            self.push_ring(t);
        }
        if let Some(t) = self.runnext.take() {
            return Some(t);
        }
        if let Some(t) = self.pop_local_queues(tick) {
            return Some(t);
        }
        if self.fire_timers() {
            self.drain_inbox();
            if let Some(t) = self.runnext.take().or_else(|| self.pinned.pop_front()) {
                return Some(t);
            }
        }
        self.steal(wait)
    }

    /// Takes half of another worker's ring, if one has a ripe backlog (see "Thieves are
    /// patient"); lowers `wait` to when the youngest unripe one will be.
    fn steal(&self, wait: &mut Option<Duration>) -> Option<TaskRef> {
        let n = self.shared.workers.len();
        if n < 2 {
            return None;
        }
        let start = self.rand() as usize % n;
        for k in 0..n {
            let v = (start + k) % n;
            let victim = &self.shared.workers[v].ring;
            if v == self.index || victim.is_empty() || !self.shared.ripe(v, wait) {
                continue;
            }
            if let Some((t, count)) = self.me().ring.steal_from(victim) {
                self.me().steals.fetch_add(count as u64, Ordering::Relaxed);
                return Some(t);
            }
        }
        None
    }

    /// Fires due timers; true if any fired.
    fn fire_timers(&self) -> bool {
        let timers = &self.shared.timers;
        // Reading the clock costs more than the rest of a scheduling round: skip it when no
        // timer is pending at all.
        !timers.is_empty() && timers.fire_due(timers.now())
    }

    /// Parks this worker's thread until there may be work. Detects deadlock.
    fn idle(&self) {
        let me = self.me();
        {
            let mut idle = lock(&self.shared.idle);
            idle.push(self.index);
            self.shared.n_idle.store(idle.len(), Ordering::SeqCst);
            me.sleeping.store(true, Ordering::SeqCst);
            if idle.len() == self.shared.workers.len()
                && !self.shared.any_shared_work()
                && self.shared.timers.is_empty()
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
            match self.shared.timers.next_deadline() {
                Some(d) => {
                    let now = Instant::now();
                    if d > now {
                        thread::park_timeout(d - now);
                    }
                }
                None => thread::park(),
            }
        }
        me.sleeping.store(false, Ordering::SeqCst);
        let mut idle = lock(&self.shared.idle);
        let listed = idle.len();
        idle.retain(|&w| w != self.index);
        if idle.len() == listed {
            // Not listed any more: a waker took us off the list and counted us as spinning.
            self.local.borrow_mut().spinning = true;
        }
        self.shared.n_idle.store(idle.len(), Ordering::SeqCst);
    }

    /// Sleeps until another worker's backlog is ripe (`d`), a timer is due, or something wakes
    /// it: its inbox, work from outside the runtime, shutdown.
    fn wait_patiently(&self, d: Duration) {
        let me = self.me();
        me.sleeping.store(true, Ordering::SeqCst);
        me.patient.store(true, Ordering::SeqCst);
        let d = match self.shared.timers.next_deadline() {
            Some(t) => d.min(t.saturating_duration_since(Instant::now())),
            None => d,
        };
        let woken = me.inbox_len.load(Ordering::SeqCst) > 0
            || self.shared.is_shutting_down()
            || self.shared.global_owner.load(Ordering::SeqCst) == NO_OWNER
                && self.shared.global_len.load(Ordering::SeqCst) > 0;
        if !woken && !d.is_zero() {
            thread::park_timeout(d);
        }
        me.patient.store(false, Ordering::SeqCst);
        me.sleeping.store(false, Ordering::SeqCst);
    }

    /// Counts this worker as spinning, if not already and if not too many are; true if it now
    /// spins.
    fn start_spinning(&self) -> bool {
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
    /// spinner, wake another worker in case there is more (Go's `resetspinning`).
    fn stop_spinning(&self, found: bool) {
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

    fn declare_deadlock(&self) {
        let dump = crate::debug::dump_shared(&self.shared);
        *lock(&self.shared.deadlock) = Some(dump);
        self.shared.begin_shutdown();
    }

    /// The worker loop. Returns when the run shuts down and this worker's tasks are gone.
    pub(crate) fn run(&self) {
        if self.deterministic {
            self.run_deterministic();
        } else {
            let mut spins = 0;
            while !self.shared.is_shutting_down() {
                let later = match self.find_task() {
                    Next::Run(t) => {
                        spins = 0;
                        self.stop_spinning(true);
                        self.execute(t);
                        continue;
                    }
                    Next::Later(d) => Some(d),
                    Next::Nothing => None,
                };
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

    fn run_deterministic(&self) {
        while !self.shared.is_shutting_down() {
            self.drain_inbox();
            self.fire_timers();
            let len = self.local.borrow().det.len();
            if len == 0 {
                if let Some(deadline) = self.shared.timers.next_deadline() {
                    // Every task waits: jump the virtual clock to the next timer.
                    self.shared.timers.advance_to(deadline);
                    continue;
                }
                if self.me().inbox_len.load(Ordering::SeqCst) > 0 {
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

    /// Pops any task from this worker's queues (shutdown).
    fn pop_local_any(&self) -> Option<TaskRef> {
        self.drain_inbox();
        if let Some(t) = self.runnext.take() {
            return Some(t);
        }
        if let Some(t) = self.pinned.pop_front() {
            return Some(t);
        }
        let mut l = self.local.borrow_mut();
        if !l.det.is_empty() {
            return Some(l.det.remove(0));
        }
        drop(l);
        self.me().ring.pop()
    }

    /// Cancels a task this worker owns: drops it if it never started, otherwise resumes it so it
    /// unwinds from its suspension point.
    fn cancel(&self, t: TaskRef) {
        if t.is_started() {
            t.cancelled.store(true, Ordering::Relaxed);
            self.execute(t);
        } else {
            self.count_start();
            t.cancel_unstarted();
        }
    }

    /// Shutdown, per worker: cancel every task pinned here.
    fn drain_for_shutdown(&self) {
        loop {
            let mut progress = false;
            while let Some(t) = self.pop_local_any() {
                self.cancel(t);
                progress = true;
            }
            if self.local.borrow().homed_live == 0 {
                break;
            }
            for t in self.shared.snapshot() {
                if t.home.load(Ordering::Relaxed) == self.index && task::claim_parked(&t) {
                    self.cancel(t);
                    progress = true;
                }
            }
            if !progress {
                // A wakeup for one of our tasks is on its way to the inbox.
                thread::park_timeout(Duration::from_millis(1));
            }
        }
    }

    /// Shutdown, last step on worker 0 after the other threads exited: whatever is left
    /// (unstarted tasks in the global queue, migratable tasks) is cancelled here.
    pub(crate) fn final_sweep(&self) {
        let mut idle_rounds = 0;
        loop {
            let mut progress = false;
            let mut leftovers: Vec<TaskRef> =
                std::mem::take(&mut *lock(&self.shared.global)).into();
            self.shared.global_len.store(0, Ordering::Release);
            for w in self.shared.workers.iter() {
                while let Some(t) = w.ring.pop() {
                    leftovers.push(t);
                }
                leftovers.extend(std::mem::take(&mut *lock(&w.inbox)));
                w.inbox_len.store(0, Ordering::Release);
            }
            while let Some(t) = self.pop_local_any() {
                leftovers.push(t);
            }
            for t in leftovers {
                self.cancel(t);
                progress = true;
            }
            let live = self.shared.snapshot();
            if live.is_empty() && self.shared.unstarted() == 0 {
                break;
            }
            for t in live {
                if task::claim_parked(&t) {
                    self.cancel(t);
                    progress = true;
                }
            }
            if !progress {
                idle_rounds += 1;
                if idle_rounds > 100 {
                    // Should not happen: a task that is neither queued nor parked. Leave it.
                    break;
                }
                thread::park_timeout(Duration::from_millis(1));
            }
        }
    }
}

/// A splitmix64 step: turns a seed into a well-mixed state.
pub(crate) fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// One xorshift64 step (state must be non-zero).
pub(crate) fn xorshift(mut x: u64) -> u64 {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    x
}
