//! Tasks (goroutines): spawning, joining, parking, and the per-task record the scheduler runs.
//!
//! A task is a closure plus everything needed to run it as a green thread: an id, an optional
//! name, the source location that spawned it, a lifecycle state (runnable, running, waiting for a
//! reason, dead), a park token, and — once it has started — a stack and saved registers.
//! [`spawn`] creates one and hands it to the current worker's run queue; [`JoinHandle::join`]
//! waits for its result, which is `Err(payload)` if it panicked, exactly like
//! `std::thread::JoinHandle`.
//!
//! Go counterpart: the `g` struct (`runtime/runtime2.go`), `newproc` (`go f()`), `gopark` /
//! `goready`, `Gosched`. Lessons: 04 (scheduler) and 12 (work stealing: why a started task stays
//! on its thread).
//!
//! ## Where things are
//!
//! - this file: the public API (spawn, [`Builder`], [`JoinHandle`], [`Task`], park);
//! - `record.rs`: the task record the scheduler runs (Go's `g`);
//! - `alloc.rs`: where records live: `TaskRef`, their counted pointer, and
//!   the chunks they are carved from;
//! - `state.rs`: the lifecycle states, [`WaitReason`], the park token, and the one `set` every
//!   state change goes through (Go's `casgstatus`);
//! - `parking.rs`: how a task leaves its worker ([`park_with`], [`yield_now`]).
//!
//! `record.rs`, `alloc.rs` and `state.rs` sit below the scheduler (it runs records); this file and
//! `parking.rs` sit above it (they ask it to spawn and to switch). Nothing in `sched` imports
//! them, so the two modules do not import each other.
//!
//! ## Parking
//!
//! [`park`] and [`Task::unpark`] follow `std::thread::park`'s token semantics: `unpark` leaves a
//! token if the task is not parked, and the next `park` consumes it and returns at once. `park`
//! may also return spuriously, so callers re-check their condition in a loop. The token goes
//! `EMPTY -> PARKED` only on the far side of the switch (in whatever the worker switched to),
//! after the task's registers are saved, so a waker that sees `PARKED` can always queue it
//! (the numbered rules are in `state.rs`).
//!
//! ## Soundness: tasks stay on their thread
//!
//! A started task only ever resumes on the worker thread it first ran on (its *home*). Its stack
//! may hold a `MutexGuard`, an `Rc`, or an address the compiler computed for a `thread_local!`;
//! moving it to another OS thread would break all three without any `unsafe` in user code.
//! Stealing therefore moves only tasks that have not started. [`Builder::migratable`] lifts the

pub(crate) mod alloc;
pub mod blocking;
pub(crate) mod parking;
pub(crate) mod record;
pub(crate) mod state;

use std::fmt;
use std::io;
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::num::NonZeroU64;
use std::panic::Location;
use std::thread;
use std::time::Duration;

use crate::sched;
use record::TaskRef;

pub use blocking::blocking;
use parking::current_parker;
pub(crate) use parking::{current_header, step_behind};
pub use parking::{is_cancelled, park_with, yield_now};
pub use state::WaitReason;

// ---------------------------------------------------------------------------------------------
// Public identifiers
// ---------------------------------------------------------------------------------------------

/// A task's identifier: unique within one runtime run. The main task is 1, then spawn order.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaskId(NonZeroU64);

impl TaskId {
    pub(crate) fn new(id: u64) -> TaskId {
        TaskId(NonZeroU64::new(id).expect("task ids start at 1"))
    }

    /// The id as a number (what Go prints after `goroutine`).
    pub fn as_u64(self) -> u64 {
        self.0.get()
    }
}

impl fmt::Debug for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TaskId({})", self.0)
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

// ---------------------------------------------------------------------------------------------
// Task handle
// ---------------------------------------------------------------------------------------------

/// A handle to a task: its id and name, and a way to [`unpark`](Task::unpark) it.
/// Cheap to clone, `Send` and `Sync` (the counterpart of `std::thread::Thread`).
///
/// Handles held by tasks (a wait queue of a channel or a WaitGroup built on `park`/`unpark`,
/// as lessons 04, 05 and 07 build) do not stop deadlock detection: if every task waits, the run
/// reports a deadlock, as Go does. A plain OS thread that will call `unpark` should be given a
/// handle from [`Task::for_thread`], which the run counts as a waker from outside: while one
/// lives, the run waits for it instead of reporting a deadlock.
#[derive(Clone)]
pub struct Task {
    pub(crate) header: TaskRef,
    /// Counts this handle as a possible waker from outside the run (`sched::External`); only
    /// handles made by [`Task::for_thread`] carry one.
    _waker: Option<sched::External>,
}

impl Task {
    /// A handle for `header`, not counted as a waker from outside.
    fn new(header: TaskRef) -> Task {
        Task {
            header,
            _waker: None,
        }
    }

    /// A handle for a plain OS thread (or anything outside the run) that will
    /// [`unpark`](Task::unpark) this task: while it lives, the run does not report a deadlock
    /// when every task waits, it waits for the unpark. Drop it once the thread is done.
    ///
    /// Made outside the task's run (or after the run ended), it is a plain handle.
    pub fn for_thread(&self) -> Task {
        let here = sched::with_shared(|s| {
            std::ptr::eq(std::sync::Arc::as_ptr(s).cast::<()>(), self.header.run)
                .then(|| sched::External::of(s.clone()))
        });
        Task {
            header: self.header.clone(),
            _waker: here.flatten(),
        }
    }
}

impl Task {
    /// The task's id.
    pub fn id(&self) -> TaskId {
        TaskId::new(self.header.id)
    }

    /// The name given with [`Builder::name`] (`"main"` for the main task).
    pub fn name(&self) -> Option<&str> {
        self.header.name.as_deref()
    }

    /// Makes the task's token available: wakes it if it is in [`park`], otherwise its next
    /// `park` returns at once. Unparking a finished task does nothing.
    pub fn unpark(&self) {
        sched::unpark(&self.header);
    }
}

impl fmt::Debug for Task {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Task")
            .field("id", &self.header.id)
            .field("name", &self.header.name)
            .finish()
    }
}

/// Blocks the current task until [`Task::unpark`] is called on it (or spuriously).
///
/// Like `std::thread::park`: if a token is already available, it is consumed and `park` returns
/// at once. On a plain OS thread (outside a runtime) this is `std::thread::park`.
#[track_caller]
pub fn park() {
    park_with(WaitReason::Park);
}

/// Parks for at most `d` (virtual time in deterministic mode).
#[track_caller]
pub fn park_timeout(d: Duration) {
    crate::time::park_until(WaitReason::Park, crate::time::now() + d);
}

/// Puts the current task to sleep for `d` (see [`crate::time::sleep`]).
#[track_caller]
pub fn sleep(d: Duration) {
    crate::time::sleep(d);
}

/// A preemption point for long computations: yields if the runtime's monitor (sysmon) asked
/// this worker's task to, and costs a thread-local read and one load otherwise.
///
/// goro cannot interrupt a task that computes without reaching a yield point (see
/// `sched/sysmon.rs` for why Go can and Rust cannot), so a worker stuck in one task for more
/// than 10 ms gets a request that the next `checkpoint()` (or `yield_now`) honours. Call it
/// every few thousand iterations of a tight loop so that the tasks queued behind yours on the
/// same worker still run.
///
/// Under [`crate::check`] it is also a preemption point: the explorer may switch to another
/// task here.
#[inline]
pub fn checkpoint() {
    if sched::take_preempt_request() {
        yield_now();
    } else {
        sched::preemption_point();
    }
}

/// The handle of the running task.
///
/// Panics outside a runtime task.
pub fn current() -> Task {
    match current_header() {
        Some(header) => Task::new(header),
        None => panic!(
            "goro::current() called outside a goro task; call it from code started by \
             goro::run(|| ...) or goro::spawn"
        ),
    }
}

/// Number of live tasks in the current runtime (the main task included); 0 outside a runtime.
pub fn num_goroutines() -> usize {
    sched::with_shared(|s| s.live_tasks()).unwrap_or(0)
}

// ---------------------------------------------------------------------------------------------
// Spawning
// ---------------------------------------------------------------------------------------------

/// Configures a task before spawning it, like `std::thread::Builder`.
#[derive(Debug, Default)]
#[must_use = "a Builder does nothing until .spawn() is called"]
pub struct Builder {
    name: Option<String>,
    stack_size: Option<usize>,
    migratable: bool,
}

impl Builder {
    /// A builder with the runtime's defaults.
    pub fn new() -> Builder {
        Builder::default()
    }

    /// Names the task: the name shows in panic reports, overflow reports and dumps.
    pub fn name(mut self, name: impl Into<String>) -> Builder {
        self.name = Some(name.into());
        self
    }

    /// Usable stack bytes for this task (rounded up to whole pages); default: the runtime's
    /// `stack_size`. Only touched pages cost memory.
    pub fn stack_size(mut self, bytes: usize) -> Builder {
        self.stack_size = Some(bytes);
        self
    }

    /// Allows the scheduler to resume this task on a different OS thread than the one it
    /// started on (work stealing of running tasks, as Go does).
    ///
    /// # Safety
    /// The task must not hold anything bound to an OS thread across a suspension point
    /// (`park`, `yield_now`, `sleep`, channel operations, `join`...): no `thread_local!`
    /// references or values derived from them, no `MutexGuard` of `std::sync::Mutex`, no `Rc`
    /// shared with other code on the thread, no `!Send` value at all. The compiler may also cache
    /// thread-local addresses across such calls in code you do not see, so only opt in for code
    /// you control entirely.
    pub unsafe fn migratable(mut self) -> Builder {
        self.migratable = true;
        self
    }

    /// Spawns the task on the current runtime.
    ///
    /// Errors with `ErrorKind::InvalidInput` if the stack size is unusable (0, or too large to
    /// reserve), or with `ErrorKind::Other` if called outside a runtime.
    ///
    /// The stack itself is taken from the pool when the task first runs (on the thread that
    /// runs it, where a just-freed stack is likely cached). If the address space or the
    /// mapping limit is exhausted at that moment (see [`crate::stack::max_guarded_stacks`]),
    /// the task does not run: its `join` returns `Err` with a message that says why and what to
    /// do, and the first such failure in the process is also reported on stderr.
    #[track_caller]
    pub fn spawn<F, T>(self, f: F) -> io::Result<JoinHandle<T>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let location = Location::caller();
        let Some(worker) = sched::current_worker() else {
            return Err(io::Error::other(OUTSIDE_RUNTIME));
        };
        // SAFETY: `current_worker` returns the live worker of this thread.
        let worker = unsafe { &*worker };
        let (header, queued) = sched::spawn_task(
            worker,
            sched::TaskOptions {
                id: None,
                name: self.name.map(String::into_boxed_str),
                stack_size: self.stack_size,
                migratable: self.migratable,
                is_main: false,
                location,
            },
            f,
        )?;
        worker.submit_new(queued);
        Ok(JoinHandle {
            header: ManuallyDrop::new(header),
            _marker: PhantomData,
        })
    }
}

pub(crate) const OUTSIDE_RUNTIME: &str =
    "goro::spawn called outside a goro runtime; start one with goro::run(|| ...)";

/// Spawns a task running `f` on the current runtime and returns a handle to join it.
///
/// The task starts unstarted on the current worker's queue; an idle worker may steal it before
/// it starts. Once started it stays on that worker's OS thread.
///
/// Panics outside a runtime, or if the runtime's stack size is unusable (see
/// [`Builder::spawn`]).
#[track_caller]
pub fn spawn<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    match Builder::new().spawn(f) {
        Ok(h) => h,
        Err(e) if e.kind() == io::ErrorKind::Other && sched::current_worker().is_none() => {
            panic!("{OUTSIDE_RUNTIME}")
        }
        Err(e) => panic!("goro::spawn: {e}"),
    }
}

/// Owned permission to join a task, like `std::thread::JoinHandle`.
///
/// Dropping it detaches the task: it keeps running.
pub struct JoinHandle<T> {
    /// Taken out in `Drop` to hand the record back for reuse (`sched::recycle`).
    header: ManuallyDrop<TaskRef>,
    _marker: PhantomData<fn() -> T>,
}

impl<T: 'static> JoinHandle<T> {
    /// Waits for the task to finish and returns its value, or `Err(payload)` if it panicked
    /// (or was cancelled because its runtime shut down).
    ///
    /// From a task this parks the task; from a plain OS thread it blocks the thread.
    #[track_caller]
    pub fn join(self) -> thread::Result<T> {
        if !self.header.is_done() {
            self.header.set_joiner(current_parker());
            while !self.header.is_done() {
                park_with(WaitReason::Join);
            }
        }
        // SAFETY: a JoinHandle<T> is only made by spawning a closure returning `T`, and it is
        // the only owner of the outcome (join consumes it).
        unsafe { self.header.take_output::<T>() }.expect("a finished task has an outcome")
    }

    /// The task's id.
    pub fn id(&self) -> TaskId {
        TaskId::new(self.header.id)
    }

    /// Whether the task has finished (returned, panicked or been cancelled).
    pub fn is_finished(&self) -> bool {
        self.header.is_done()
    }

    /// A [`Task`] handle for the task.
    pub fn task(&self) -> Task {
        Task::new(TaskRef::clone(&self.header))
    }
}

impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        self.header.detach();
        // SAFETY: `header` is not used after this.
        sched::recycle(unsafe { ManuallyDrop::take(&mut self.header) });
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("id", &self.header.id)
            .field("finished", &self.header.is_done())
            .finish()
    }
}
