//! The registry: which tasks a run has, and their records from birth to reuse.
//!
//! - **Ids** are handed to workers in blocks, so spawning does not contend on one counter.
//! - **Counts**: each worker counts the tasks it spawned and those that started; their
//!   difference summed over the workers is the number of tasks not started yet.
//! - **Live tasks**: a started task is registered on its home worker's slab (for dumps, leak
//!   checks and shutdown) and leaves it when it finishes, before its outcome is published.
//! - **Records are reused** (Go's `gfput`/`gfget`): the memory of a finished record goes to a
//!   per-thread list and is written over by the next spawn on that thread; a thread with a full
//!   list sets it aside for threads that spawn more than they finish, and past that the memory
//!   goes back to its chunk (`task/alloc.rs`). A spawn with no spare record carves a new one
//!   from its thread's chunk: no `malloc` per task either way.
//! - **The dump** ([`Shared::dump`]) lists the live tasks the way Go prints goroutines.
//!
//! Rules:
//!
//! 1. A task is registered once, when it first runs, on the worker it runs on; it records its
//!    shard and slot so that leaving the registry is O(1) from any thread.
//! 2. A task leaves the registry before it publishes its outcome: once `join` returns, the
//!    task no longer counts in `num_goroutines` (what leak tests check).
//! 3. Only a worker's own thread writes its `spawned` and `pending` counters.
//! 4. A record's memory is kept for reuse only when its last reference is dropped on a worker
//!    thread (nobody else can see it; its header is already dropped, `task/alloc.rs` rule 2),
//!    through `recycle` (the `JoinHandle`'s drop and a finished task's retirement); any
//!    other last drop gives the memory back to its chunk.
//! 5. A starting task is registered *before* it stops counting as not started (the `pending`
//!    store is a Release after the registry's lock), and `live_tasks` reads the not-started
//!    counts (Acquire) *before* the registries: a task that is starting meanwhile is seen in at
//!    least one of them, so `num_goroutines` never undercounts (it may count it twice).
//! 6. The registry holds no reference: a task is registered only while it is alive (between
//!    its first run and rule 2's leaving, a reference it runs, queues or parks with exists), and
//!    it leaves under the registry's lock before that reference can go. So a reader holding
//!    the lock may add a reference to any registered task (`task/alloc.rs`, rule 1), and the
//!    task's last holder, having taken the lock since, sees that count. (It used to keep a
//!    counted reference: two locked instructions per task, a tenth of a spawn's time.)
//!
//! Go counterpart: `allgs`, `gfput`, `gfget`, `newproc1` and `goidgen` in `runtime/proc.go`;
//! `tracebackothers` for the dump. Lessons: 04 (scheduler) and 16 (the dump).

use std::fmt::Write as _;
use std::io;
use std::panic::Location;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::shared::{Shared, Slab, lock};
use super::worker::Worker;
use crate::task::alloc::{FreeRecord, give_back_all};
use crate::task::record::{Header, Spec, TaskRef};
use crate::task::state::State;

/// Task ids are handed to workers in blocks, so spawning does not contend on one counter.
const ID_BLOCK: u64 = 1024;
/// Most lists of spare task records a run sets aside (each holds `SPARE_MAX`).
const SPARE_LISTS: usize = 32;
/// Most records a thread keeps for reuse; a full list goes to the runtime's shared stock in one
/// piece (Go's `gfput` moving a batch to `sched.gFree`), where a worker that spawns more than it
/// finishes picks it up. Without that, a spawner on one worker and its tasks finishing on another
/// turn every record into a `malloc` on one thread and a `free` on the other.
const SPARE_MAX: usize = 128;

thread_local! {
    /// The memory of finished task records, kept for reuse by this worker thread (Go's per-P
    /// `gFree` list).
    static SPARE_RECORDS: std::cell::RefCell<Vec<FreeRecord>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

impl Slab {
    fn insert(&mut self, t: *const Header) -> usize {
        self.len += 1;
        if let Some(i) = self.free.pop() {
            self.slots[i] = t;
            i
        } else {
            self.slots.push(t);
            self.slots.len() - 1
        }
    }

    fn remove(&mut self, i: usize) {
        if let Some(slot) = self.slots.get_mut(i)
            && !slot.is_null()
        {
            *slot = std::ptr::null();
            self.len -= 1;
            self.free.push(i);
        }
    }

    /// A counted reference to each registered task (rule 6: called under the lock).
    fn references(&self) -> impl Iterator<Item = TaskRef> + '_ {
        self.slots.iter().filter(|p| !p.is_null()).map(|&p| {
            // SAFETY: a registered task is alive and holds a reference of its own until it
            // leaves the registry, which needs the lock we hold (rule 6); the count we add is
            // seen by whoever later drops its last reference (they take the lock first).
            unsafe {
                TaskRef::increment_count(p);
                TaskRef::from_raw(p)
            }
        })
    }
}

impl Header {
    /// The task's runtime. Only for code running while the task is alive: inside it, on its
    /// worker, or a waker that has just claimed it (`PARKED -> EMPTY`; the run cannot end
    /// before that waker queues it). See `shared.rs`, rule 1.
    pub(crate) fn shared(&self) -> &Shared {
        // SAFETY: `run` is `Arc::as_ptr` of the run's `Arc<Shared>` (set in `new_task`), and
        // the run outlives every live task.
        unsafe { &*self.run.cast::<Shared>() }
    }

    /// A counted handle to the task's runtime, for a waker on a foreign thread that must keep
    /// it alive while it finishes queueing the task.
    /// The run's coarse clock (milliseconds), for stamping the start of a wait: one load.
    #[inline(always)]
    pub(crate) fn coarse_now_ms(&self) -> u64 {
        self.shared().coarse_ms.load(Ordering::Relaxed)
    }

    pub(crate) fn shared_arc(&self) -> Arc<Shared> {
        let p = self.run.cast::<Shared>();
        // SAFETY: the pointer came from `Arc::as_ptr` of the run's `Arc<Shared>`, which is
        // alive (see `shared`), so adding a count and adopting it is sound.
        unsafe {
            Arc::increment_strong_count(p);
            Arc::from_raw(p)
        }
    }
}

impl Shared {
    /// Tasks alive: never fewer than there are (rule 5), though a task starting at this very
    /// moment may be counted twice.
    pub(crate) fn live_tasks(&self) -> usize {
        // Not started first, then started (rule 5).
        let unstarted = self.unstarted();
        let started: usize = self
            .workers
            .iter()
            .map(|w| w.registry.with(|s| s.len))
            .sum();
        started + unstarted
    }

    /// Tasks spawned that have not started yet.
    pub(crate) fn unstarted(&self) -> usize {
        let n: isize = self
            .workers
            .iter()
            .map(|w| w.pending.load(Ordering::Acquire))
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

    /// All started live tasks, sorted by id.
    pub(crate) fn snapshot(&self) -> Vec<TaskRef> {
        let mut all: Vec<TaskRef> = Vec::new();
        for w in self.workers.iter() {
            w.registry.with(|s| all.extend(s.references()));
        }
        all.sort_by_key(|t| t.id);
        all
    }

    /// The task running on `worker`, if it is pinned there (a started pinned task only ever
    /// runs on its home worker, so at most one can be running on it): for the dump's line about
    /// a worker sysmon found stuck. `None` if what runs there is a migratable task.
    pub(crate) fn running_on(&self, worker: usize) -> Option<TaskRef> {
        self.snapshot()
            .into_iter()
            .find(|t| t.state() == State::Running && t.home.load(Ordering::Relaxed) == worker)
    }

    /// Removes a started task from its home registry (when it finishes, or is abandoned).
    pub(crate) fn unregister(&self, t: &Header) {
        let shard = t.reg_shard.load(Ordering::Relaxed) as usize;
        let slot = t.reg_slot.load(Ordering::Relaxed) as usize;
        self.workers[shard].registry.with(|s| s.remove(slot));
    }

    /// Sets aside a full list of finished task records (given back to their chunks if enough
    /// are set aside already: the stock only has to cover the gap between spawning and
    /// finishing workers).
    fn put_spare_records(&self, list: Vec<FreeRecord>) {
        let mut stock = lock(&self.spare_headers);
        if stock.len() < SPARE_LISTS {
            stock.push(list);
        } else {
            drop(stock);
            give_back_all(list);
        }
    }

    /// A list of finished task records to reuse, if any was set aside.
    fn take_spare_records(&self) -> Option<Vec<FreeRecord>> {
        lock(&self.spare_headers).pop()
    }

    /// A Go-style dump of every started live task, sorted by id, and a line for the unstarted
    /// ones (the text of `goro::debug::dump` and of the deadlock report).
    pub(crate) fn dump(&self) -> String {
        // Not started first, then started (rule 5): a task starting in between is shown
        // twice at worst, never missed.
        let unstarted = self.unstarted();
        let tasks = self.snapshot();
        let mut out = self.dump_tasks(&tasks);
        if unstarted > 0 {
            if !out.is_empty() {
                out.push('\n');
            }
            let _ = writeln!(
                out,
                "...and {unstarted} goroutine{} spawned but not started yet [runnable]",
                if unstarted == 1 { "" } else { "s" }
            );
        }
        out
    }

    /// The dump of `tasks`, one block each, separated by blank lines (Go's `goroutine N
    /// [reason, M minutes]:` header, then what goro knows instead of a stack trace):
    ///
    /// ```text
    /// goroutine 7 [chan receive, 5 minutes]:
    ///     name: worker-3
    ///     blocked at src/main.rs:20:13
    ///     stack: 8 KiB touched of 256 KiB
    ///     created by goroutine 1 at src/main.rs:12:9
    /// ```
    pub(crate) fn dump_tasks(&self, tasks: &[TaskRef]) -> String {
        let now_ms = self.run_elapsed().as_millis() as u64;
        let mut out = String::new();
        for (i, t) in tasks.iter().enumerate() {
            if i > 0 {
                out.push('\n');
            }
            let state = t.state();
            let _ = write!(out, "goroutine {} [{state}", t.id);
            if let State::Waiting(_) = state {
                // Go's rule (`runtime/traceback.go`, `goroutineheader`): whole minutes, shown
                // from the first one on, in Go's words ("1 minutes" included).
                let minutes = t.st.waited_ms(now_ms) / 60_000;
                if minutes >= 1 {
                    let _ = write!(out, ", {minutes} minutes");
                }
            }
            let _ = writeln!(out, "]:");
            if let Some(name) = t.name.as_deref() {
                let _ = writeln!(out, "    name: {name}");
            }
            if let (State::Waiting(_), Some(at)) = (state, t.st.blocked_at()) {
                let _ = writeln!(
                    out,
                    "    blocked at {}:{}:{}",
                    at.file(),
                    at.line(),
                    at.column()
                );
            }
            if let Some((lo, len)) = t.stack_range() {
                match crate::debug::touched_bytes(lo, len) {
                    Some(used) => {
                        let _ = writeln!(
                            out,
                            "    stack: {} touched of {}",
                            crate::debug::Bytes(used),
                            crate::debug::Bytes(len)
                        );
                    }
                    None => {
                        let _ = writeln!(out, "    stack: {}", crate::debug::Bytes(len));
                    }
                }
            }
            let l = t.location;
            if t.parent == 0 {
                let _ = writeln!(
                    out,
                    "    created at {}:{}:{}",
                    l.file(),
                    l.line(),
                    l.column()
                );
            } else {
                let _ = writeln!(
                    out,
                    "    created by goroutine {} at {}:{}:{}",
                    t.parent,
                    l.file(),
                    l.line(),
                    l.column()
                );
            }
        }
        out
    }

    /// Time since the run began, on its clock (virtual in deterministic mode).
    pub(crate) fn run_elapsed(&self) -> std::time::Duration {
        if self.is_deterministic() {
            self.timers.elapsed()
        } else {
            self.epoch.elapsed()
        }
    }

    /// Advances the coarse clock parks stamp their waits with (sysmon's tick; the
    /// deterministic worker after moving the virtual clock).
    pub(crate) fn tick_coarse_clock(&self) {
        let ms = self.run_elapsed().as_millis() as u64;
        self.coarse_ms.fetch_max(ms, Ordering::Relaxed);
    }
}

impl Worker {
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
        // Only this worker's thread writes its own counters (rule 3): a load and a store, no
        // locked read-modify-write.
        let me = self.me();
        me.spawned
            .store(me.spawned.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
        me.pending
            .store(me.pending.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
    }

    /// A task starts (or is dropped before starting) on this worker; a starting task is
    /// registered first (rule 5).
    pub(crate) fn count_start(&self) {
        let me = self.me();
        me.pending
            .store(me.pending.load(Ordering::Relaxed) - 1, Ordering::Release);
    }

    /// Registers a task that starts on this worker (rule 1).
    pub(crate) fn register(&self, t: &TaskRef) {
        let slot = self.me().registry.with(|s| s.insert(TaskRef::as_ptr(t)));
        // Both fit in 32 bits: a run has far fewer than 2^32 workers, and a worker's slab far
        // fewer than 2^32 live tasks (each costs a page of stack at least: 16 TiB).
        t.reg_shard.store(self.index as u32, Ordering::Relaxed);
        t.reg_slot.store(slot as u32, Ordering::Relaxed);
    }
}

/// Makes the record of a new task on `worker` (Go's `newproc1`): validates the stack size,
/// hands out an id, reuses a spare record if there is one (else carves one from this thread's
/// chunk), and counts the spawn. The caller queues it (`Worker::submit_new`).
pub(crate) fn new_task<F, T>(worker: &Worker, opts: TaskOptions, f: F) -> io::Result<TaskRef>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    make_task(worker, opts, f, FreeRecord::fill)
}

/// [`new_task`] for `spawn`: two references to the new record, the `JoinHandle`'s and the run
/// queue's, made without a locked instruction.
pub(crate) fn spawn_task<F, T>(
    worker: &Worker,
    opts: TaskOptions,
    f: F,
) -> io::Result<(TaskRef, TaskRef)>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    make_task(worker, opts, f, FreeRecord::fill_pair)
}

/// What a new task is to be, apart from its body.
pub(crate) struct TaskOptions {
    /// Its id (the main task's is 1), or None for the worker's next one.
    pub(crate) id: Option<u64>,
    pub(crate) name: Option<Box<str>>,
    /// None: the run's default.
    pub(crate) stack_size: Option<usize>,
    pub(crate) migratable: bool,
    pub(crate) is_main: bool,
    /// Where it was spawned (for dumps).
    pub(crate) location: &'static Location<'static>,
}

#[inline(always)]
fn make_task<F, T, Out>(
    worker: &Worker,
    opts: TaskOptions,
    f: F,
    fill: impl FnOnce(FreeRecord, Spec, F) -> Out,
) -> io::Result<Out>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
    Out: FirstRef,
{
    let TaskOptions {
        id,
        name,
        stack_size,
        migratable,
        is_main,
        location,
    } = opts;
    let shared = worker.shared();
    let size = stack_size.unwrap_or(shared.config.stack_size);
    // Validate now so a bad size is the spawner's error; the stack itself is taken at first run.
    crate::stack::usable_len(size)?;
    let me = super::current_task_ptr();
    // SAFETY: a non-null pointer is the header of the task running on this thread.
    let parent = if me.is_null() { 0 } else { unsafe { (*me).id } };
    let spec = Spec {
        id: id.unwrap_or_else(|| worker.next_id()),
        name,
        location,
        parent,
        migratable,
        is_main,
        run: Arc::as_ptr(shared).cast::<()>(),
        stack_size: size,
    };
    // Reuse a finished task's record if this thread kept one, or can fetch a batch that
    // other workers set aside; else carve one from this thread's chunk: no allocator round
    // trip either way.
    let spare = SPARE_RECORDS.try_with(|s| {
        let mut s = s.borrow_mut();
        if s.is_empty()
            && let Some(batch) = shared.take_spare_records()
        {
            *s = batch;
        }
        s.pop()
    });
    let mem = match spare {
        Ok(Some(mem)) => mem,
        _ => FreeRecord::carve(),
    };
    let out = fill(mem, spec, f);
    worker.count_spawn();
    if crate::trace::on() {
        crate::trace::spawned(out.first());
    }
    Ok(out)
}

/// What `make_task` hands back: one reference or a pair; the first is the one traced.
trait FirstRef {
    fn first(&self) -> &Header;
}

impl FirstRef for TaskRef {
    fn first(&self) -> &Header {
        self
    }
}

impl FirstRef for (TaskRef, TaskRef) {
    fn first(&self) -> &Header {
        &self.0
    }
}

/// Drops a reference to a task record; if it was the last one and this is a worker thread,
/// keeps the record's memory for the next spawn instead of giving it back (rule 4).
#[inline(always)]
pub(crate) fn recycle(t: TaskRef) {
    if let Some(mem) = TaskRef::release(t) {
        keep_spare(mem);
    }
}

/// `recycle` for the last reference: out of line, so that dropping one that is not the last
/// stays a few instructions.
#[inline(never)]
fn keep_spare(mem: FreeRecord) {
    let Some(w) = super::worker::current_worker() else {
        return;
    };
    // (If the thread is exiting, `mem` goes back to its chunk with the closure.)
    let _ = SPARE_RECORDS.try_with(move |spares| {
        let mut spares = spares.borrow_mut();
        if spares.len() == SPARE_MAX {
            let full = std::mem::replace(&mut *spares, Vec::with_capacity(SPARE_MAX));
            // SAFETY: `current_worker` returns this thread's live worker.
            unsafe { &*w }.shared().put_spare_records(full);
        }
        spares.push(mem);
    });
}
