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
//! ## Parking
//!
//! [`park`] and [`Task::unpark`] follow `std::thread::park`'s token semantics: `unpark` leaves a
//! token if the task is not parked, and the next `park` consumes it and returns at once. `park`
//! may also return spuriously, so callers re-check their condition in a loop. The state word goes
//! `EMPTY -> PARKED` only on the far side of the switch (in whatever the worker switched to),
//! after the task's registers are saved, so a waker that sees `PARKED` can always queue it.
//!
//! ## Soundness: tasks stay on their thread
//!
//! A started task only ever resumes on the worker thread it first ran on (its *home*). Its stack
//! may hold a `MutexGuard`, an `Rc`, or an address the compiler computed for a `thread_local!`;
//! moving it to another OS thread would break all three without any `unsafe` in user code.
//! Stealing therefore moves only tasks that have not started. [`Builder::migratable`] lifts the
//! rule for a task whose author promises it holds nothing thread-bound across a suspension.

use std::any::Any;
use std::cell::UnsafeCell;
use std::fmt;
use std::io;
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::num::NonZeroU64;
use std::panic::{AssertUnwindSafe, Location, catch_unwind, resume_unwind};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use context::Transfer;

use crate::coroutine::{self, Cancelled, RawCo};
use crate::sched::{self, Shared, Worker};
use crate::signal::OverflowInfo;

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

/// Why a task is waiting: shown in [`crate::debug::dump`] the way Go shows `[chan receive]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WaitReason {
    /// [`park`] or [`park_timeout`] with no more specific reason.
    Park,
    /// Receiving from a channel.
    ChanReceive,
    /// Sending on a channel.
    ChanSend,
    /// Blocked in `select!`.
    Select,
    /// In [`sleep`](crate::time::sleep).
    Sleep,
    /// Locking a `sync::Mutex`.
    Mutex,
    /// Locking a `sync::RwLock`.
    RwLock,
    /// In `WaitGroup::wait`.
    WaitGroup,
    /// In [`JoinHandle::join`].
    Join,
    /// Waiting for a context to be cancelled.
    Context,
    /// Waiting for a file descriptor to become ready.
    IoWait,
}

impl WaitReason {
    const ALL: [WaitReason; 11] = [
        WaitReason::Park,
        WaitReason::ChanReceive,
        WaitReason::ChanSend,
        WaitReason::Select,
        WaitReason::Sleep,
        WaitReason::Mutex,
        WaitReason::RwLock,
        WaitReason::WaitGroup,
        WaitReason::Join,
        WaitReason::Context,
        WaitReason::IoWait,
    ];

    fn as_u8(self) -> u8 {
        // `ALL` lists the variants in declaration order, so the discriminant is the index.
        self as u8
    }

    fn from_u8(v: u8) -> WaitReason {
        WaitReason::ALL[v as usize]
    }
}

impl fmt::Display for WaitReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            WaitReason::Park => "park",
            WaitReason::ChanReceive => "chan receive",
            WaitReason::ChanSend => "chan send",
            WaitReason::Select => "select",
            WaitReason::Sleep => "sleep",
            WaitReason::Mutex => "mutex",
            WaitReason::RwLock => "rwlock",
            WaitReason::WaitGroup => "waitgroup",
            WaitReason::Join => "join",
            WaitReason::Context => "context",
            WaitReason::IoWait => "IO wait",
        })
    }
}

/// A task's lifecycle state as [`crate::debug::dump`] reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum State {
    Runnable,
    Running,
    Waiting(WaitReason),
    Dead,
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            State::Runnable => f.write_str("runnable"),
            State::Running => f.write_str("running"),
            State::Waiting(r) => r.fmt(f),
            State::Dead => f.write_str("dead"),
        }
    }
}

const ST_RUNNABLE: u8 = 0;
const ST_RUNNING: u8 = 1;
const ST_WAITING: u8 = 2;
const ST_DEAD: u8 = 3;

// Park token states.
pub(crate) const P_EMPTY: u8 = 0;
pub(crate) const P_NOTIFIED: u8 = 1;
pub(crate) const P_PARKED: u8 = 2;
/// The task is finished (or abandoned): unpark does nothing, ever.
pub(crate) const P_DEAD: u8 = 3;

/// Bits of `Header::outcome`.
const OUT_DONE: u8 = 1;
const OUT_DETACHED: u8 = 2;

/// What a task asks of the scheduler when it switches out.
pub(crate) const REQ_YIELD: usize = 2;
pub(crate) const REQ_PARK: usize = 3;
/// A task being cancelled tried to park again while unwinding: it can never finish.
pub(crate) const REQ_ABANDON: usize = 4;

/// No home worker yet (not started) .
pub(crate) const NO_HOME: usize = usize::MAX;

/// Room for a task's closure and, once it has run, its value, inside the task record: small
/// closures and results (up to 32 bytes, the common case) need no allocation of their own.
/// Larger ones are boxed and the box pointer lives here.
type Slot = [std::mem::MaybeUninit<usize>; 4];

const fn fits<X>() -> bool {
    std::mem::size_of::<X>() <= std::mem::size_of::<Slot>()
        && std::mem::align_of::<X>() <= std::mem::align_of::<Slot>()
}

/// # Safety
/// `slot` must be valid for writes and hold nothing that needs dropping.
unsafe fn slot_write<X>(slot: *mut Slot, x: X) {
    if fits::<X>() {
        // SAFETY: X fits in the slot's size and alignment (checked above).
        unsafe { std::ptr::write(slot.cast::<X>(), x) }
    } else {
        // SAFETY: a Box pointer always fits.
        unsafe { std::ptr::write(slot.cast::<Box<X>>(), Box::new(x)) }
    }
}

/// # Safety
/// `slot` must hold an `X` written by [`slot_write`]; it is moved out.
unsafe fn slot_read<X>(slot: *mut Slot) -> X {
    if fits::<X>() {
        // SAFETY: see the function contract.
        unsafe { std::ptr::read(slot.cast::<X>()) }
    } else {
        // SAFETY: see the function contract.
        *unsafe { std::ptr::read(slot.cast::<Box<X>>()) }
    }
}

/// The typed operations on a task's slot, chosen at spawn time (one static table per `F, T`).
struct SlotVtable {
    /// Moves the closure out, calls it and stores its value. May unwind (slot then empty).
    run: unsafe fn(*mut Slot),
    drop_closure: unsafe fn(*mut Slot),
    drop_value: unsafe fn(*mut Slot),
}

struct VtableFor<F, T>(PhantomData<(F, T)>);

impl<F: FnOnce() -> T, T> VtableFor<F, T> {
    const VTABLE: SlotVtable = SlotVtable {
        run: Self::run,
        drop_closure: Self::drop_closure,
        drop_value: Self::drop_value,
    };

    /// # Safety
    /// The slot holds the closure.
    unsafe fn run(slot: *mut Slot) {
        // SAFETY: see the function contract.
        let f: F = unsafe { slot_read(slot) };
        let value = f();
        // SAFETY: the closure was moved out: the slot is free.
        unsafe { slot_write(slot, value) };
    }

    /// # Safety
    /// The slot holds the closure.
    unsafe fn drop_closure(slot: *mut Slot) {
        // SAFETY: see the function contract.
        drop(unsafe { slot_read::<F>(slot) });
    }

    /// # Safety
    /// The slot holds the value.
    unsafe fn drop_value(slot: *mut Slot) {
        // SAFETY: see the function contract.
        drop(unsafe { slot_read::<T>(slot) });
    }
}

// What the slot holds.
const SLOT_EMPTY: u8 = 0;
const SLOT_CLOSURE: u8 = 1;
const SLOT_VALUE: u8 = 2;

/// The task record (Go's `g`). Shared by the scheduler, `Task` handles and the `JoinHandle`.
pub(crate) struct Header {
    pub(crate) id: u64,
    pub(crate) name: Option<Box<str>>,
    pub(crate) location: &'static Location<'static>,
    pub(crate) migratable: bool,
    pub(crate) is_main: bool,
    /// The runtime run this task belongs to. A plain pointer, not an `Arc`: a reference count
    /// touched by every spawn and exit on every worker would bounce one cache line between
    /// all cores. It is valid while the task is alive, because a run ends only after all of its
    /// tasks are dead; see [`Header::shared`].
    shared_ptr: *const Shared,
    state: AtomicU8,
    reason: AtomicU8,
    pub(crate) park: AtomicU8,
    /// Worker index this task is pinned to once started (`NO_HOME` before).
    pub(crate) home: AtomicUsize,
    /// Set before resuming a task that must unwind (runtime shutdown).
    pub(crate) cancelled: AtomicBool,
    /// Registry shard and slot, written once at registration.
    pub(crate) reg_shard: AtomicUsize,
    pub(crate) reg_slot: AtomicUsize,
    /// Usable stack bytes requested for this task.
    stack_size: usize,
    /// Saved registers and stack, once started. Only the thread running the task touches it.
    co: UnsafeCell<Option<RawCo>>,
    /// What the overflow handler prints if this task hits its guard page.
    overflow: UnsafeCell<OverflowInfo>,
    /// The closure, then the value (see [`Slot`]); `slot_state` says which.
    slot: UnsafeCell<Slot>,
    slot_state: AtomicU8,
    vtable: &'static SlotVtable,
    /// The panic payload (or cancellation message) if the task did not return a value.
    panic: UnsafeCell<Option<Box<dyn Any + Send>>>,
    /// `OUT_DONE` once the outcome is published, `OUT_DETACHED` once the JoinHandle is gone.
    outcome: AtomicU8,
    joiner: Mutex<Option<Parker>>,
}

// SAFETY: the UnsafeCell fields follow a strict protocol: `co`, `overflow` and the closure in
// `slot` are touched only by the one thread that currently owns the task (the worker that
// popped it from a queue, or the task itself while running on that worker); the value in `slot`
// and `panic` are written once by the finishing task before `done` is set with Release, and
// read only after `done` is observed with Acquire, by the single `JoinHandle` (or `block_on`).
// The closure and value types are `Send` (spawn's bounds).
unsafe impl Sync for Header {}
// SAFETY: as above; the closure and value are `Send`, the stack is plain memory, and `RawCo`'s contexts are
// only resumed by the thread that owns the task (or any thread for a migratable task, whose
// author vouched for it with an `unsafe` call).
unsafe impl Send for Header {}

pub(crate) type TaskRef = Arc<Header>;

impl Header {
    /// The task's runtime. Only for code running while the task is alive: inside it, on its
    /// worker, or a waker that has just claimed it (`PARKED -> EMPTY`; the run cannot end
    /// before that waker queues it).
    pub(crate) fn shared(&self) -> &Shared {
        // SAFETY: see the doc comment: the run outlives every live task.
        unsafe { &*self.shared_ptr }
    }

    /// A counted handle to the task's runtime, for a waker on a foreign thread that must keep
    /// it alive while it finishes queueing the task.
    pub(crate) fn shared_arc(&self) -> Arc<Shared> {
        // SAFETY: the pointer came from `Arc::as_ptr` of the run's `Arc<Shared>`, which is
        // alive (see `shared`), so adding a count and adopting it is sound.
        unsafe {
            Arc::increment_strong_count(self.shared_ptr);
            Arc::from_raw(self.shared_ptr)
        }
    }

    pub(crate) fn state(&self) -> State {
        match self.state.load(Ordering::Relaxed) {
            ST_RUNNABLE => State::Runnable,
            ST_RUNNING => State::Running,
            ST_WAITING => State::Waiting(WaitReason::from_u8(self.reason.load(Ordering::Relaxed))),
            _ => State::Dead,
        }
    }

    pub(crate) fn set_runnable(&self) {
        self.state.store(ST_RUNNABLE, Ordering::Relaxed);
    }

    #[inline]
    pub(crate) fn is_started(&self) -> bool {
        self.home.load(Ordering::Relaxed) != NO_HOME || {
            // SAFETY: called only by the owner of the task (see the Sync note).
            unsafe { (*self.co.get()).is_some() }
        }
    }

    /// The task's outcome once `done` (None before, or if already taken).
    ///
    /// # Safety
    /// `T` must be the type the task's closure returns (the JoinHandle's type), and only the
    /// one owner of the outcome (the JoinHandle, or `block_on` for the main task) may call it.
    pub(crate) unsafe fn take_output<T>(&self) -> Option<thread::Result<T>> {
        if !self.is_done() {
            return None;
        }
        // SAFETY: `done` was published after the outcome was written; we are its only reader.
        if let Some(p) = unsafe { (*self.panic.get()).take() } {
            return Some(Err(p));
        }
        if self
            .slot_state
            .compare_exchange(SLOT_VALUE, SLOT_EMPTY, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            // SAFETY: the slot holds the task's value, of type `T` (function contract).
            return Some(Ok(unsafe { slot_read::<T>(self.slot.get()) }));
        }
        None
    }

    pub(crate) fn is_done(&self) -> bool {
        self.outcome.load(Ordering::Acquire) & OUT_DONE != 0
    }

    /// Drops an outcome nobody will take (the JoinHandle is gone).
    fn drop_outcome(&self) {
        // SAFETY: called by whichever of the finishing task and the JoinHandle's drop came
        // second (see `complete`), so the outcome is published and nobody else reads it.
        drop(unsafe { (*self.panic.get()).take() });
        if self
            .slot_state
            .compare_exchange(SLOT_VALUE, SLOT_EMPTY, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            // SAFETY: the slot held the value; we just emptied it.
            unsafe { (self.vtable.drop_value)(self.slot.get()) };
        }
    }

    /// Publishes the task's outcome (the value is already in the slot unless `panic` is set)
    /// and wakes a joiner.
    fn complete(&self, panic: Option<Box<dyn Any + Send>>) {
        // SAFETY: written once by the task's owner before OUT_DONE is published.
        unsafe { *self.panic.get() = panic };
        let before = self.outcome.fetch_or(OUT_DONE, Ordering::AcqRel);
        if before & OUT_DETACHED != 0 {
            // Nobody will join: drop the value here, on the task's own stack when it ran,
            // rather than later in whatever drops the last reference to the record.
            self.drop_outcome();
            return;
        }
        let joiner = self.joiner.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(p) = joiner {
            p.unpark();
        }
    }

    /// Drops a task that never started (runtime shutdown): its closure is dropped on this thread.
    pub(crate) fn cancel_unstarted(&self) {
        self.park.store(P_DEAD, Ordering::Release);
        self.state.store(ST_DEAD, Ordering::Relaxed);
        self.drop_closure();
        self.complete(Some(cancelled_payload()));
    }

    /// First run: gives the task a stack and an initial context, and pins it to `worker`.
    /// Returns false if no stack could be reserved; the task is then finished with an error.
    /// Called only by the worker that owns the (unstarted) task.
    pub(crate) fn start(&self, worker: usize) -> bool {
        // The stack is taken when the task first runs, from the running thread's pool cache:
        // a task that finished on this thread moments ago left a warm stack there.
        let stack = match crate::stack::pool_get(self.stack_size) {
            Ok(stack) => stack,
            Err(e) => {
                self.fail_to_start(e);
                return false;
            }
        };
        // SAFETY: the caller owns the unstarted task: nobody else touches these cells.
        unsafe { self.install(RawCo::new(stack, task_entry), worker) };
        true
    }

    /// Gives an unstarted task the stack (and coroutine) of the task that just finished on
    /// it, to run on in the very frame where that one ran (see `sched::chain_next`).
    ///
    /// # Safety
    /// The caller owns both tasks and runs on `co`'s stack, in `task_entry`'s frame, with the
    /// finished task's body returned; `co` has no saved context (it is running).
    pub(crate) unsafe fn start_on(&self, co: RawCo, worker: usize) {
        // SAFETY: see the function contract.
        unsafe { self.install(co, worker) };
        self.state.store(ST_RUNNING, Ordering::Relaxed);
    }

    /// Moves the coroutine out of a finished task that is handing its stack on.
    ///
    /// # Safety
    /// The caller owns the task, whose body has returned, and runs on this coroutine's stack.
    pub(crate) unsafe fn take_co(&self) -> Option<RawCo> {
        // SAFETY: see the function contract.
        unsafe { (*self.co.get()).take() }
    }

    /// # Safety
    /// The caller owns the unstarted task: nobody else touches its cells.
    unsafe fn install(&self, co: RawCo, worker: usize) {
        // SAFETY: see the function contract.
        let info = unsafe { &mut *self.overflow.get() };
        let guard = co.stack().guard();
        info.guard_lo = guard.start;
        info.guard_hi = guard.end;
        info.stack_size = co.stack().len();
        // SAFETY: as above.
        unsafe { *self.co.get() = Some(co) };
        if !self.migratable {
            self.home.store(worker, Ordering::Relaxed);
        }
    }

    /// Usable stack bytes this task asked for.
    pub(crate) fn stack_size(&self) -> usize {
        self.stack_size
    }

    /// Takes the saved context to switch into the task, and marks it running.
    ///
    /// # Safety
    /// The task must have started (`start` gave it its stack and context). The caller must own
    /// the task (popped it from a queue or claimed it from `PARKED`), be on its home thread
    /// unless it is migratable, and switch to the returned context right away.
    #[inline]
    pub(crate) unsafe fn take_ctx(&self) -> context::Context {
        self.state.store(ST_RUNNING, Ordering::Relaxed);
        // SAFETY: the caller owns the task, so nobody else touches the cell.
        let co = unsafe { &mut *self.co.get() };
        debug_assert!(co.is_some(), "switching into a task that has not started");
        // SAFETY: a started task keeps its `RawCo` until it is retired (contract).
        unsafe { co.as_mut().unwrap_unchecked() }
            .ctx
            .take()
            .expect("a runnable task has a saved context")
    }

    /// Stores the context the task suspended with.
    ///
    /// # Safety
    /// The task is a started one that just switched away from this thread, and nobody else
    /// can see it yet.
    #[inline]
    pub(crate) unsafe fn save_ctx(&self, ctx: context::Context) {
        // SAFETY: nobody else can see the task (contract).
        let co = unsafe { &mut *self.co.get() };
        debug_assert!(co.is_some(), "a task that ran has its context");
        // SAFETY: a task that ran has started, and keeps its `RawCo` until it is retired.
        unsafe { co.as_mut().unwrap_unchecked() }.ctx = Some(ctx);
    }

    /// What the overflow handler should report while this task runs.
    pub(crate) fn overflow_info(&self) -> *const OverflowInfo {
        self.overflow.get()
    }

    /// Drops the closure of a task that will never run it (a panicking destructor is caught:
    /// shutdown must go on).
    fn drop_closure(&self) {
        if self
            .slot_state
            .compare_exchange(
                SLOT_CLOSURE,
                SLOT_EMPTY,
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_ok()
        {
            let drop_closure = self.vtable.drop_closure;
            let slot = self.slot.get();
            // SAFETY: the state said the slot held the closure; we just emptied it.
            let dropped = catch_unwind(AssertUnwindSafe(|| unsafe { drop_closure(slot) }));
            drop(dropped);
        }
    }

    /// The task could not get a stack: it finishes with an error instead of running.
    fn fail_to_start(&self, e: io::Error) {
        let msg = format!(
            "goro: goroutine {} could not start: cannot reserve its {} KiB stack: {e}",
            self.id,
            self.stack_size / 1024
        );
        eprintln!("{msg}");
        self.drop_closure();
        self.complete(Some(Box::new(msg)));
    }

    /// Frees the finished task's stack (back to the pool) and marks it dead.
    pub(crate) fn retire(&self, abandon: bool) {
        self.park.store(P_DEAD, Ordering::Release);
        self.state.store(ST_DEAD, Ordering::Relaxed);
        // SAFETY: the task is no longer running; the scheduler owns it.
        let co = unsafe { (*self.co.get()).take() };
        if abandon {
            // Its frames are still live (parked while being cancelled) and could be pointed to
            // from a wait list: never reuse that memory.
            std::mem::forget(co);
            self.complete(Some(cancelled_payload()));
        } else {
            drop(co);
        }
    }
}

fn cancelled_payload() -> Box<dyn Any + Send> {
    Box::new("goro: the task was cancelled because its runtime shut down")
}

/// The first code a task runs on its own stack.
extern "C" fn task_entry(t: Transfer) -> ! {
    let mut h = t.data as *const Header;
    // Complete the switch that brought us here (store the switcher's context).
    sched::landed_in_task(t.context, h);
    loop {
        // SAFETY: `h` is the running task's header (the switcher passed it, or `chain_next`
        // made it the running task), which the worker keeps alive for as long as it runs.
        run_body(unsafe { &*h });
        // A task that has not started yet may run next right here, on this stack (Go has no
        // such shortcut: `goexit0` always goes back through `schedule`).
        match sched::chain_next() {
            Some(next) => h = next,
            None => break,
        }
    }
    sched::leave_task(coroutine::OUT_FINISHED);
    unreachable!("a finished task was resumed")
}

/// Runs the body with the panic caught, and publishes the outcome. Every value with a
/// destructor lives in this frame, so all of it is dropped before the final switch.
#[inline(never)]
fn run_body(header: &Header) {
    if header.cancelled.load(Ordering::Relaxed) {
        header.drop_closure();
        header.shared().unregister(header);
        header.complete(Some(cancelled_payload()));
        return;
    }
    // From here on the closure is moved out of the slot by `run`, even if it panics.
    header.slot_state.store(SLOT_EMPTY, Ordering::Relaxed);
    let run = header.vtable.run;
    let slot = header.slot.get();
    // SAFETY: the slot holds the closure of this task's types (set up by `new_header`).
    let outcome = catch_unwind(AssertUnwindSafe(|| unsafe { run(slot) }));
    let panic = match outcome {
        Ok(()) => {
            header.slot_state.store(SLOT_VALUE, Ordering::Release);
            None
        }
        Err(p) if p.is::<Cancelled>() => Some(cancelled_payload()),
        Err(p) => Some(p),
    };
    // Leave the registry before publishing the outcome: once `join` returns, the task no
    // longer counts in `num_goroutines` (what leak tests check).
    header.shared().unregister(header);
    header.complete(panic);
}

impl Drop for Header {
    fn drop(&mut self) {
        let slot = self.slot.get();
        match *self.slot_state.get_mut() {
            // SAFETY: the state says what the slot holds; nothing else can reach it now.
            SLOT_CLOSURE => unsafe { (self.vtable.drop_closure)(slot) },
            // SAFETY: as above.
            SLOT_VALUE => unsafe { (self.vtable.drop_value)(slot) },
            _ => {}
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Task handle
// ---------------------------------------------------------------------------------------------

/// A handle to a task: its id and name, and a way to [`unpark`](Task::unpark) it.
/// Cheap to clone, `Send` and `Sync` (the counterpart of `std::thread::Thread`).
#[derive(Clone)]
pub struct Task {
    pub(crate) header: TaskRef,
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
        unpark_header(&self.header);
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

// Both unpark functions are never inlined: `sched::wake`, inlined into them, reads the thread's
// worker, which must happen in a frame that has not switched tasks.
#[inline(never)]
pub(crate) fn unpark_header(h: &TaskRef) {
    if claim_for_wake(h) {
        sched::wake(h.clone());
    }
}

/// Like [`unpark_header`], but hands `h` itself to the run queue when the task was parked.
#[inline(never)]
pub(crate) fn unpark_header_owned(h: TaskRef) {
    if claim_for_wake(&h) {
        sched::wake(h);
    }
}

/// The unpark state machine: leaves a token (EMPTY -> NOTIFIED), or claims a parked task
/// (PARKED -> EMPTY) and returns true: the caller must then queue it, exactly once.
#[inline(always)]
fn claim_for_wake(h: &Header) -> bool {
    let mut s = h.park.load(Ordering::Acquire);
    loop {
        // PARKED first: it is the common case of a wakeup (a channel partner, a joiner).
        if s == P_PARKED {
            match h.park.compare_exchange_weak(
                P_PARKED,
                P_EMPTY,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    h.set_runnable();
                    return true;
                }
                Err(now) => s = now,
            }
        } else if s == P_EMPTY {
            match h.park.compare_exchange_weak(
                P_EMPTY,
                P_NOTIFIED,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return false,
                Err(now) => s = now,
            }
        } else {
            // NOTIFIED (a token is already there) or DEAD.
            return false;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Parker: wakes a task or a plain OS thread (crate-internal)
// ---------------------------------------------------------------------------------------------

/// Something that can be woken: the current task, or the current OS thread when called outside
/// a runtime. Primitives (channels, mutexes) store one per waiter.
#[derive(Clone)]
pub(crate) enum Parker {
    Task(TaskRef),
    Thread(thread::Thread),
}

impl Parker {
    /// Wakes the parker (token semantics; harmless on a finished task).
    pub(crate) fn unpark(&self) {
        match self {
            Parker::Task(h) => unpark_header(h),
            Parker::Thread(t) => t.unpark(),
        }
    }

    /// Like [`unpark`](Parker::unpark), but consumes the parker: a parked task is queued with
    /// this very reference instead of a clone (saves two atomic operations per handoff).
    pub(crate) fn wake(self) {
        match self {
            Parker::Task(h) => unpark_header_owned(h),
            Parker::Thread(t) => t.unpark(),
        }
    }
}

impl fmt::Debug for Parker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Parker::Task(h) => write!(f, "Parker(task {})", h.id),
            Parker::Thread(t) => write!(f, "Parker({:?})", t.id()),
        }
    }
}

/// The parker for whoever is running: the current task, or the current OS thread.
pub(crate) fn current_parker() -> Parker {
    match current_header() {
        Some(h) => Parker::Task(h),
        None => Parker::Thread(thread::current()),
    }
}

/// The running task's header, if the caller is a task.
pub(crate) fn current_header() -> Option<TaskRef> {
    let p = sched::current_task_ptr();
    if p.is_null() {
        None
    } else {
        // SAFETY: the pointer is the header of the task running on this thread; the scheduler
        // holds a strong reference for as long as it runs, so incrementing is fine.
        unsafe {
            Arc::increment_strong_count(p);
            Some(Arc::from_raw(p))
        }
    }
}

/// Switches the running task out with request `req`; returns when it is resumed. Unwinds with
/// the private cancellation payload if the runtime is shutting down.
fn switch_out(h: *const Header, req: usize) {
    sched::leave_task(req);
    // SAFETY: `h` is the running task's header, alive while it runs.
    let header = unsafe { &*h };
    if header.cancelled.load(Ordering::Relaxed) && !thread::panicking() {
        resume_unwind(Box::new(Cancelled));
    }
}

/// Parks the current task (or thread) until unparked; the dump shows `reason`.
pub fn park_with(reason: WaitReason) {
    let h = sched::current_task_ptr();
    if h.is_null() {
        thread::park();
        return;
    }
    // SAFETY: `h` is the running task's header.
    let header = unsafe { &*h };
    // A token waiting? (A plain load first: the locked compare-exchange is only worth paying
    // when there is one.)
    if header.park.load(Ordering::Acquire) == P_NOTIFIED
        && header
            .park
            .compare_exchange(P_NOTIFIED, P_EMPTY, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    {
        return;
    }
    if header.cancelled.load(Ordering::Relaxed) {
        if thread::panicking() {
            // Parking while unwinding a cancelled task: it can never be woken again.
            header.reason.store(reason.as_u8(), Ordering::Relaxed);
            header.state.store(ST_WAITING, Ordering::Relaxed);
            sched::leave_task(REQ_ABANDON);
            unreachable!("an abandoned task was resumed");
        }
        resume_unwind(Box::new(Cancelled));
    }
    header.reason.store(reason.as_u8(), Ordering::Relaxed);
    header.state.store(ST_WAITING, Ordering::Relaxed);
    switch_out(h, REQ_PARK);
}

/// Parks until unparked or until `deadline` (on the runtime's clock: virtual in deterministic
/// mode). May return early (spuriously); callers re-check.
pub(crate) fn park_until(reason: WaitReason, deadline: Instant) {
    if !sched::in_task() {
        let now = Instant::now();
        if deadline > now {
            thread::park_timeout(deadline - now);
        }
        return;
    }
    if crate::time::now() >= deadline {
        return;
    }
    let me = current_parker();
    let key = crate::time::add_timer(deadline, Box::new(move || me.unpark()));
    park_with(reason);
    crate::time::cancel_timer(key);
}

/// Blocks the current task until [`Task::unpark`] is called on it (or spuriously).
///
/// Like `std::thread::park`: if a token is already available, it is consumed and `park` returns
/// at once. On a plain OS thread (outside a runtime) this is `std::thread::park`.
pub fn park() {
    park_with(WaitReason::Park);
}

/// Parks for at most `d` (virtual time in deterministic mode).
pub fn park_timeout(d: Duration) {
    park_until(WaitReason::Park, crate::time::now() + d);
}

/// Lets other tasks run; the current one goes to the back of its worker's queue.
/// On a plain OS thread this is `std::thread::yield_now`.
pub fn yield_now() {
    let h = sched::current_task_ptr();
    if h.is_null() {
        thread::yield_now();
        return;
    }
    // SAFETY: `h` is the running task.
    let header = unsafe { &*h };
    if header.cancelled.load(Ordering::Relaxed) {
        if thread::panicking() {
            return;
        }
        resume_unwind(Box::new(Cancelled));
    }
    header.state.store(ST_RUNNABLE, Ordering::Relaxed);
    switch_out(h, REQ_YIELD);
}

/// Puts the current task to sleep for `d` (see [`crate::time::sleep`]).
pub fn sleep(d: Duration) {
    crate::time::sleep(d);
}

/// The handle of the running task.
///
/// Panics outside a runtime task.
pub fn current() -> Task {
    match current_header() {
        Some(header) => Task { header },
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
    /// mapping limit is exhausted at that moment, the task does not run: a message naming it
    /// goes to stderr and its `join` returns `Err` with that message.
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
        let header = new_header(
            worker,
            None,
            self.name.map(String::into_boxed_str),
            self.stack_size,
            self.migratable,
            false,
            location,
            f,
        )?;
        worker.submit_new(header.clone());
        Ok(JoinHandle {
            header: ManuallyDrop::new(header),
            _marker: PhantomData,
        })
    }
}

pub(crate) const OUTSIDE_RUNTIME: &str =
    "goro::spawn called outside a goro runtime; start one with goro::run(|| ...)";

#[allow(clippy::too_many_arguments)]
pub(crate) fn new_header<F, T>(
    worker: &Worker,
    id: Option<u64>,
    name: Option<Box<str>>,
    stack_size: Option<usize>,
    migratable: bool,
    is_main: bool,
    location: &'static Location<'static>,
    f: F,
) -> io::Result<TaskRef>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let shared = worker.shared();
    let size = stack_size.unwrap_or(shared.config.stack_size);
    // Validate now so a bad size is the spawner's error; the stack itself is taken at first run.
    crate::stack::usable_len(size)?;
    let id = id.unwrap_or_else(|| worker.next_id());
    let shared_ptr = Arc::as_ptr(shared);
    let vtable: &'static SlotVtable = &VtableFor::<F, T>::VTABLE;
    // The record is 240 bytes: it is written in place, field by field, rather than built on the
    // stack and moved (which costs two `memcpy` calls per spawn).
    let fill = move |p: *mut Header| {
        let fresh = Header {
            id,
            name,
            location,
            migratable,
            is_main,
            shared_ptr,
            state: AtomicU8::new(ST_RUNNABLE),
            reason: AtomicU8::new(0),
            park: AtomicU8::new(P_EMPTY),
            home: AtomicUsize::new(NO_HOME),
            cancelled: AtomicBool::new(false),
            reg_shard: AtomicUsize::new(0),
            reg_slot: AtomicUsize::new(0),
            stack_size: size,
            co: UnsafeCell::new(None),
            overflow: UnsafeCell::new(OverflowInfo {
                id,
                name_ptr: std::ptr::null(),
                name_len: 0,
                guard_lo: 0,
                guard_hi: 0,
                stack_size: 0,
            }),
            slot: UnsafeCell::new([std::mem::MaybeUninit::uninit(); 4]),
            slot_state: AtomicU8::new(SLOT_CLOSURE),
            vtable,
            panic: UnsafeCell::new(None),
            outcome: AtomicU8::new(0),
            joiner: Mutex::new(None),
        };
        // SAFETY: the callers pass memory valid for writing a `Header` that holds no live
        // value (never initialised, or already dropped).
        unsafe { std::ptr::write(p, fresh) };
    };
    // Reuse a finished task's record if this thread kept one, or can fetch a batch that
    // other workers set aside: no allocator round trip.
    let spare = SPARE_HEADERS.try_with(|s| {
        let mut s = s.borrow_mut();
        if s.is_empty()
            && let Some(batch) = shared.take_spare_headers()
        {
            *s = batch;
        }
        s.pop()
    });
    let header = match spare {
        Ok(Some(mut spare)) => {
            let p: *mut Header = Arc::get_mut(&mut spare).expect("spare task records are unshared");
            // SAFETY: we hold the only reference to the record; its old contents are dropped
            // here and `fill` (which cannot panic) writes new ones right after, so nothing
            // sees the record in between.
            unsafe { std::ptr::drop_in_place(p) };
            fill(p);
            spare
        }
        _ => {
            let mut new = Arc::<Header>::new_uninit();
            fill(
                Arc::get_mut(&mut new)
                    .expect("a new Arc is unshared")
                    .as_mut_ptr(),
            );
            // SAFETY: `fill` wrote a whole `Header`.
            unsafe { new.assume_init() }
        }
    };
    // SAFETY: nobody else has seen the header yet; the slot is empty and sized for `F` or a
    // box of it.
    unsafe { slot_write(header.slot.get(), f) };
    if let Some(n) = header.name.as_deref() {
        // SAFETY: nobody else has seen the header yet; the name lives as long as the header.
        unsafe {
            (*header.overflow.get()).name_ptr = n.as_ptr();
            (*header.overflow.get()).name_len = n.len();
        }
    }
    worker.count_spawn();
    Ok(header)
}

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

thread_local! {
    /// Finished task records kept for reuse by this worker thread (Go's per-P `gFree` list).
    static SPARE_HEADERS: std::cell::RefCell<Vec<TaskRef>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// Most records a thread keeps for reuse; a full list goes to the runtime's shared stock in one
/// piece (Go's `gfput` moving a batch to `sched.gFree`), where a worker that spawns more than it
/// finishes picks it up. Without that, a spawner on one worker and its tasks finishing on another
/// turn every record into a `malloc` on one thread and a `free` on the other.
pub(crate) const SPARE_MAX: usize = 128;

/// Drops a reference to a task record; if it was the last one and this is a worker thread,
/// keeps the record for the next spawn instead of freeing it.
pub(crate) fn recycle(mut t: TaskRef) {
    if Arc::get_mut(&mut t).is_none() {
        return;
    }
    let Some(w) = sched::current_worker() else {
        return;
    };
    let _ = SPARE_HEADERS.try_with(|spares| {
        let mut spares = spares.borrow_mut();
        if spares.len() == SPARE_MAX {
            let full = std::mem::replace(&mut *spares, Vec::with_capacity(SPARE_MAX));
            // SAFETY: `current_worker` returns this thread's live worker.
            unsafe { &*w }.shared().put_spare_headers(full);
        }
        spares.push(t);
    });
}

/// Owned permission to join a task, like `std::thread::JoinHandle`.
///
/// Dropping it detaches the task: it keeps running.
pub struct JoinHandle<T> {
    /// Taken out in `Drop` to hand the record to [`recycle`].
    header: ManuallyDrop<TaskRef>,
    _marker: PhantomData<fn() -> T>,
}

impl<T: 'static> JoinHandle<T> {
    /// Waits for the task to finish and returns its value, or `Err(payload)` if it panicked
    /// (or was cancelled because its runtime shut down).
    ///
    /// From a task this parks the task; from a plain OS thread it blocks the thread.
    pub fn join(self) -> thread::Result<T> {
        if !self.header.is_done() {
            *self.header.joiner.lock().unwrap_or_else(|e| e.into_inner()) = Some(current_parker());
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
        Task {
            header: TaskRef::clone(&self.header),
        }
    }
}

impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        let before = self.header.outcome.fetch_or(OUT_DETACHED, Ordering::AcqRel);
        if before & OUT_DONE != 0 {
            // Finished and never joined (or joined: then there is nothing left to drop).
            self.header.drop_outcome();
        }
        // SAFETY: `header` is not used after this.
        recycle(unsafe { ManuallyDrop::take(&mut self.header) });
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

/// Called by the scheduler when a task switched out with `REQ_PARK`: completes the park
/// (EMPTY -> PARKED) now that its registers are saved. Returns false if a token arrived in
/// between, in which case the task must be run again.
pub(crate) fn finish_park(h: &Header) -> bool {
    match h
        .park
        .compare_exchange(P_EMPTY, P_PARKED, Ordering::AcqRel, Ordering::Acquire)
    {
        Ok(_) => true,
        Err(_) => {
            // NOTIFIED: consume the token and keep running.
            h.park.store(P_EMPTY, Ordering::Release);
            h.state.store(ST_RUNNABLE, Ordering::Relaxed);
            false
        }
    }
}

/// Claims a parked task for the scheduler (used to cancel it at shutdown).
pub(crate) fn claim_parked(h: &Header) -> bool {
    h.park
        .compare_exchange(P_PARKED, P_EMPTY, Ordering::AcqRel, Ordering::Acquire)
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_reasons_round_trip_through_their_byte() {
        for (i, r) in WaitReason::ALL.iter().enumerate() {
            assert_eq!(
                r.as_u8() as usize,
                i,
                "{r} is listed out of declaration order"
            );
            assert_eq!(WaitReason::from_u8(r.as_u8()), *r);
        }
    }

    #[test]
    fn header_stays_small() {
        // Every live task costs one header; a million of them should not need more than
        // 256 MB on top of their stacks.
        let size = std::mem::size_of::<Header>();
        assert!(size <= 256, "Header is {size} bytes");
    }
}
