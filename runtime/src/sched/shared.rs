//! What the workers of one runtime run share: [`Shared`], and per worker [`WorkerShared`].
//!
//! `Shared` is a set of parts, each the state of one mechanism and each defined beside it:
//! the rings and the global queue (`queue.rs`), the park drivers (`park.rs`), the idle list
//! and spinning count (`idle.rs`), the patience clock (`steal.rs`), the timers
//! (`crate::time`), the registry of live tasks (`registry.rs`) and the shutdown flag
//! (`shutdown.rs`). The methods that work on a part live in that part's file; this file only
//! builds them.
//!
//! Rules:
//!
//! 1. `Shared` lives in an `Arc` that every worker holds for the whole run; a task record
//!    points at it untyped (`Header::run`) and may use it while the task is alive, because a
//!    run ends only after all of its tasks are dead.
//! 2. A `WorkerShared` is written by its own worker and read (or, for the inbox and the park
//!    driver, written) by the others: every field is an atomic, a lock or a lock-free queue.
//!
//! Go counterpart: `schedt` (the global `sched`) and the parts of `p` other Ps touch, in
//! `runtime/runtime2.go`. Lesson: 04 (scheduler).

use std::sync::atomic::{AtomicBool, AtomicIsize, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use super::deterministic::POINT_WATCH;
use super::park::{Io, Park};
use super::queue::{GlobalQueue, RunQueue};
use crate::task::alloc::FreeRecord;
use crate::task::blocking::BlockingPool;
use crate::task::record::{Header, TaskRef};
use crate::time::timers::Timers;
use crate::wait::Locked;

/// Settings of one runtime run.
#[derive(Clone, Debug)]
pub(crate) struct Config {
    pub(crate) workers: usize,
    pub(crate) stack_size: usize,
    pub(crate) panic_crashes: bool,
    pub(crate) seed: Option<u64>,
    /// Cap on spare threads for `task::blocking`.
    pub(crate) max_blocking_threads: usize,
    /// Set by `crate::check`: this deterministic run explores schedules with PCT
    /// (`deterministic.rs`).
    pub(crate) explore: Option<std::sync::Arc<super::deterministic::ExploreRun>>,
    /// Where to write the execution trace (`crate::trace`), if the run records one.
    pub(crate) trace: Option<std::path::PathBuf>,
}

/// Locks a std mutex, ignoring poison: the runtime's own critical sections do not panic, and
/// a user panic elsewhere must not take the scheduler down with it.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Per-worker state other threads may touch.
pub(crate) struct WorkerShared {
    pub(crate) ring: RunQueue,
    /// Wakeups of this worker's pinned tasks from other threads.
    pub(crate) inbox: Mutex<Vec<TaskRef>>,
    pub(crate) inbox_len: AtomicUsize,
    /// How this worker's thread sleeps and is woken (`park.rs`).
    pub(crate) park: Park,
    /// Asleep (idle or patient): a waker that queues work for it must wake it.
    pub(crate) sleeping: AtomicBool,
    /// Asleep with a timeout, waiting for another worker's backlog to ripen (see
    /// `Worker::wait_patiently`); work that needs no patience wakes it.
    pub(crate) patient: AtomicBool,
    /// While a spawner waits behind this worker's ring (`worker.rs`, `put_behind`): the tasks
    /// thieves count for what it has yet to spawn (`steal.rs`, rule 5); else 0.
    pub(crate) spawner_backlog: AtomicUsize,
    pub(crate) spawned: AtomicU64,
    /// Tasks spawned here minus tasks that started (or were dropped unstarted) here. Only the
    /// owning thread writes it; the sum over all workers is the number of unstarted tasks.
    pub(crate) pending: AtomicIsize,
    pub(crate) steals: AtomicU64,
    /// Bumped by the worker's loop as it enters a task and as it comes back: odd while inside
    /// one (`sysmon.rs`).
    pub(crate) heartbeat: AtomicU64,
    /// sysmon asks the running task to yield at its next yield point. Changed only through
    /// [`WorkerShared::request_preempt`] and [`WorkerShared::take_preempt`], which keep
    /// `POINT_WATCH` counting the requests pending.
    preempt: AtomicBool,
    /// Set by sysmon: nanoseconds after `epoch` since which the worker has been in one task
    /// (0: not stuck).
    pub(crate) hog_since_ns: AtomicU64,
    /// The started tasks whose home is this worker (for dumps and shutdown). Registering at
    /// first run rather than at spawn keeps it private to one thread in the common case: a
    /// task starts and finishes on its home worker.
    pub(crate) registry: Locked<Slab>,
}

impl WorkerShared {
    /// sysmon: asks this worker's running task to yield at its next yield point.
    pub(crate) fn request_preempt(&self) {
        if !self.preempt.swap(true, Ordering::Relaxed) {
            // Preemption points (channel operations...) look from now on.
            POINT_WATCH.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Takes a pending request (the task yields, the hog let go, or the run ends); true if
    /// there was one.
    #[inline]
    pub(crate) fn take_preempt(&self) -> bool {
        let taken =
            self.preempt.load(Ordering::Relaxed) && self.preempt.swap(false, Ordering::Relaxed);
        if taken {
            POINT_WATCH.fetch_sub(1, Ordering::Relaxed);
        }
        taken
    }
}

/// A slab of live tasks: O(1) insert and remove by slot index (see `registry.rs`). It holds
/// no reference of its own: a registered task is alive (rule 6 there), so its header pointer
/// is enough, and registering costs no count.
#[derive(Default)]
pub(crate) struct Slab {
    /// Headers of registered tasks; null marks a free slot.
    pub(crate) slots: Vec<*const Header>,
    pub(crate) free: Vec<usize>,
    pub(crate) len: usize,
}

// SAFETY: the pointers are headers of live tasks (`registry.rs`, rule 6), which any thread may
// reach through a `TaskRef`; the slab is only touched under its worker's registry lock.
unsafe impl Send for Slab {}

/// Everything the workers of one runtime run share.
pub(crate) struct Shared {
    pub(crate) config: Config,
    pub(crate) workers: Box<[WorkerShared]>,
    pub(crate) global: GlobalQueue,
    /// The clock thieves time backlogs with (`steal.rs`).
    pub(crate) epoch: Instant,
    /// Indexes of parked workers (`idle.rs`).
    pub(crate) idle: Mutex<Vec<usize>>,
    pub(crate) n_idle: AtomicUsize,
    /// Workers looking for work without being parked (Go's spinning Ms). While one spins, new
    /// work does not need to wake anybody: the spinner will find it.
    pub(crate) n_spinning: AtomicUsize,
    pub(crate) timers: Timers,
    /// The run's I/O driver: its netpoller, once a socket had to wait (`park.rs`).
    pub(crate) io: Io,
    /// Wakers outside the workers (`idle.rs`, rule 6: `External`).
    pub(crate) external: AtomicUsize,
    /// Spare threads for `task::blocking`.
    pub(crate) blocking: BlockingPool,
    pub(crate) shutdown: AtomicBool,
    pub(crate) deadlock: Mutex<Option<String>>,
    /// Full lists of finished task records' memory, set aside by workers that finish more
    /// tasks than they spawn, for workers that spawn more than they finish (see `registry.rs`).
    pub(crate) spare_headers: Mutex<Vec<Vec<FreeRecord>>>,
    pub(crate) next_id_block: AtomicU64,
    /// A coarse clock for the dump's "waiting since" (milliseconds of run time, `registry.rs`):
    /// sysmon advances it every tick, the deterministic worker with the virtual clock. A
    /// park reads it with one load instead of reading the system clock.
    pub(crate) coarse_ms: AtomicU64,
    /// The run's execution trace, if it records one.
    pub(crate) tracer: Option<crate::trace::Tracer>,
}

impl Shared {
    pub(crate) fn new(config: Config) -> Shared {
        let n = config.workers;
        let virtual_clock = config.seed.is_some();
        let max_blocking = config.max_blocking_threads;
        let tracer = config.trace.clone().map(crate::trace::Tracer::new);
        Shared {
            workers: (0..n)
                .map(|_| WorkerShared {
                    ring: RunQueue::new(),
                    inbox: Mutex::new(Vec::new()),
                    inbox_len: AtomicUsize::new(0),
                    park: Park::new(),
                    sleeping: AtomicBool::new(false),
                    patient: AtomicBool::new(false),
                    spawner_backlog: AtomicUsize::new(0),
                    spawned: AtomicU64::new(0),
                    pending: AtomicIsize::new(0),
                    steals: AtomicU64::new(0),
                    heartbeat: AtomicU64::new(0),
                    preempt: AtomicBool::new(false),
                    hog_since_ns: AtomicU64::new(0),
                    registry: Locked::new(Slab::default()),
                })
                .collect(),
            config,
            global: GlobalQueue::new(),
            epoch: Instant::now(),
            idle: Mutex::new(Vec::new()),
            n_idle: AtomicUsize::new(0),
            n_spinning: AtomicUsize::new(0),
            timers: Timers::new(virtual_clock),
            io: Io::new(),
            external: AtomicUsize::new(0),
            blocking: BlockingPool::new(max_blocking),
            shutdown: AtomicBool::new(false),
            deadlock: Mutex::new(None),
            spare_headers: Mutex::new(Vec::new()),
            // Id 1 is the main task.
            next_id_block: AtomicU64::new(2),
            coarse_ms: AtomicU64::new(0),
            tracer,
        }
    }

    /// The run's execution trace, if it records one.
    #[inline]
    pub(crate) fn tracer(&self) -> Option<&crate::trace::Tracer> {
        self.tracer.as_ref()
    }

    pub(crate) fn is_deterministic(&self) -> bool {
        self.config.seed.is_some()
    }

    pub(crate) fn worker_count(&self) -> usize {
        self.workers.len()
    }
}
