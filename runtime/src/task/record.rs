//! The task record (Go's `g`): what one task is, independent of who runs it.
//!
//! A record holds the task's identity (id, name, spawn location), its state words
//! ([`TaskState`]), its home worker once started, its coroutine (stack
//! and saved registers), the closure and then its value or panic payload, and whoever waits in
//! `join`. The scheduler owns the records it runs; `Task` handles and the `JoinHandle` share
//! them through [`TaskRef`], a counted pointer. Records are carved from chunks and recycled
//! between tasks (Go's `gfput`/`gfget`; see `alloc.rs`), which is why building one is a write
//! in place rather than a `Box::new`.
//!
//! This file sits below the scheduler: it names no scheduler type, so the scheduler can import
//! it without a cycle. What a record needs from its run (the run itself, waking a joiner) the
//! scheduler provides: the run pointer is untyped here and read back by `sched`, and the
//! functions that finish a task hand the joiner's [`Parker`] back to the caller to wake.
//!
//! The rules its cells follow:
//!
//! 1. The closure, `co` and `overflow` are touched only by the one thread that owns the task at
//!    the moment: the worker that popped it from a queue or claimed it, or the task itself
//!    while it runs on that worker.
//! 2. The outcome (the value in the slot, or `panic`) is written once, by the finishing task,
//!    before `OUT_DONE` is published with Release; it is read only after `OUT_DONE` is seen
//!    with Acquire, by the single `JoinHandle` (or `block_on` for the main task).
//! 3. Whichever of the finishing task and the dropping `JoinHandle` comes second drops an
//!    outcome nobody will take (`OUT_DONE` and `OUT_DETACHED` meet in one `fetch_or`; a task
//!    that finds `OUT_DETACHED` already set knows it is second with a load).
//! 4. A started task's `home` never changes; a pinned task only ever runs on it (see `task`'s
//!    soundness note).
//!
//! Go counterpart: the `g` struct in `runtime/runtime2.go`, `malg`. Lesson: 04 (scheduler).

use std::any::Any;
use std::cell::UnsafeCell;
use std::io;
use std::marker::PhantomData;
use std::panic::{AssertUnwindSafe, Location, catch_unwind};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU16, AtomicU32, AtomicUsize, Ordering};
use std::{fmt, thread};

use super::state::{State, TaskState};
use crate::coroutine::{Cancelled, RawCo};
use crate::signal::OverflowInfo;

/// Bits of `Header::outcome`.
const OUT_DONE: u8 = 1;
const OUT_DETACHED: u8 = 2;

/// No home worker yet (not started).
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
    /// Whether dropping the value runs any code (`mem::needs_drop`).
    value_needs_drop: bool,
}

struct VtableFor<F, T>(PhantomData<(F, T)>);

impl<F: FnOnce() -> T, T> VtableFor<F, T> {
    const VTABLE: SlotVtable = SlotVtable {
        run: Self::run,
        drop_closure: Self::drop_closure,
        drop_value: Self::drop_value,
        value_needs_drop: std::mem::needs_drop::<T>(),
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
    /// Id of the task that spawned this one (0: spawned from outside any task).
    pub(crate) parent: u64,
    pub(crate) migratable: bool,
    pub(crate) is_main: bool,
    /// The runtime run this task belongs to. A plain pointer, not an `Arc`: a reference count
    /// touched by every spawn and exit on every worker would bounce one cache line between
    /// all cores. It is valid while the task is alive, because a run ends only after all of its
    /// tasks are dead. Untyped here, because the record sits below the scheduler: `sched`
    /// reads it back as its `Shared` (`Header::shared`).
    pub(crate) run: *const (),
    /// Lifecycle state, wait reason and park token (see `state`).
    pub(crate) st: TaskState,
    /// Worker index this task is pinned to once started (`NO_HOME` before).
    pub(crate) home: AtomicUsize,
    /// Set before resuming a task that must unwind (runtime shutdown).
    pub(crate) cancelled: AtomicBool,
    /// How often the cancellation was raised in this task (`parking.rs`, rule 1). Only the task
    /// itself touches it.
    pub(crate) cancel_raises: AtomicU8,
    /// How many [`crate::recover`] calls the running task is inside (the panic hook stays quiet
    /// while this is not zero). Only the task itself touches it.
    pub(crate) recovering: AtomicU16,
    /// Registry shard and slot, written once at registration.
    /// 32 bits each: a worker index and a slot among one worker's live tasks both fit, and
    /// the pair then takes one word of the record.
    pub(crate) reg_shard: AtomicU32,
    pub(crate) reg_slot: AtomicU32,
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

pub(crate) use super::alloc::TaskRef;

/// What a new record is made of (besides its closure).
pub(crate) struct Spec {
    pub(crate) id: u64,
    pub(crate) name: Option<Box<str>>,
    pub(crate) location: &'static Location<'static>,
    /// Id of the spawning task (0: none).
    pub(crate) parent: u64,
    pub(crate) migratable: bool,
    pub(crate) is_main: bool,
    /// The run the task belongs to (see `Header::run`).
    pub(crate) run: *const (),
    /// Usable stack bytes, already validated.
    pub(crate) stack_size: usize,
}

impl Header {
    /// Writes a fresh record for the closure `f` in place. The record is 240 bytes: it is
    /// written field by field where it lives, rather than built on the stack and moved (which
    /// costs two `memcpy` calls per spawn).
    ///
    /// # Safety
    /// `p` is valid for writing a `Header` and holds no live value (never initialised, or
    /// already dropped), and nobody else can see it until this returns.
    #[inline(always)]
    pub(crate) unsafe fn init<F, T>(p: *mut Header, spec: Spec, f: F)
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let Spec {
            id,
            name,
            location,
            parent,
            migratable,
            is_main,
            run,
            stack_size,
        } = spec;
        let vtable: &'static SlotVtable = &VtableFor::<F, T>::VTABLE;
        let fresh = Header {
            id,
            name,
            location,
            parent,
            migratable,
            is_main,
            run,
            st: TaskState::new(),
            home: AtomicUsize::new(NO_HOME),
            cancelled: AtomicBool::new(false),
            cancel_raises: AtomicU8::new(0),
            recovering: AtomicU16::new(0),
            reg_shard: AtomicU32::new(0),
            reg_slot: AtomicU32::new(0),
            stack_size,
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
        // SAFETY: see the function contract.
        unsafe { std::ptr::write(p, fresh) };
        // SAFETY: `p` now holds a record nobody else has seen; its slot is empty and sized for
        // `F` or a box of it, and the name lives as long as the record.
        unsafe {
            slot_write((*p).slot.get(), f);
            if let Some(n) = (*p).name.as_deref() {
                (*(*p).overflow.get()).name_ptr = n.as_ptr();
                (*(*p).overflow.get()).name_len = n.len();
            }
        }
    }

    /// The lifecycle state (for dumps).
    pub(crate) fn state(&self) -> State {
        self.st.get()
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
        if self.take_value() {
            // SAFETY: the slot holds the task's value, of type `T` (function contract).
            return Some(Ok(unsafe { slot_read::<T>(self.slot.get()) }));
        }
        None
    }

    /// Marks the slot empty if it holds the value; true if it did (the value is then the
    /// caller's). Only for the one party that may touch a published outcome (rules 2 and 3:
    /// the `JoinHandle` while it lives, then whichever of it and the task came second), so a
    /// load and a store do: nobody else changes the state once `OUT_DONE` is published.
    #[inline]
    fn take_value(&self) -> bool {
        let value = self.slot_state.load(Ordering::Acquire) == SLOT_VALUE;
        if value {
            self.slot_state.store(SLOT_EMPTY, Ordering::Relaxed);
        }
        value
    }

    pub(crate) fn is_done(&self) -> bool {
        self.outcome.load(Ordering::Acquire) & OUT_DONE != 0
    }

    /// The `JoinHandle` is gone: nobody will take the outcome (rule 3).
    pub(crate) fn detach(&self) {
        let before = self.outcome.fetch_or(OUT_DETACHED, Ordering::AcqRel);
        if before & OUT_DONE != 0 {
            // Finished and never joined (or joined: then there is nothing left to drop).
            self.drop_outcome();
        }
    }

    /// Drops an outcome nobody will take (the JoinHandle is gone).
    ///
    /// A destructor that panics here would unwind into the task's `extern "C"` entry (or a
    /// `JoinHandle`'s drop); like std for a thread's result, the process is aborted with a
    /// message saying so.
    #[inline]
    fn drop_outcome(&self) {
        // SAFETY: called by whichever of the finishing task and the JoinHandle's drop came
        // second (see `complete`), so the outcome is published and nobody else reads it.
        let panic = unsafe { (*self.panic.get()).take() };
        let value = self.take_value();
        // The common case, a value without a destructor and no panic, runs no code at all.
        if panic.is_some() || value && self.vtable.value_needs_drop {
            self.drop_outcome_now(panic, value);
        }
    }

    /// Drops a panic payload and/or the value (the slot was just emptied if `value`), aborting
    /// like std if a destructor panics.
    #[cold]
    #[inline(never)]
    fn drop_outcome_now(&self, panic: Option<Box<dyn Any + Send>>, value: bool) {
        let dropped = catch_unwind(AssertUnwindSafe(|| {
            drop(panic);
            if value {
                // SAFETY: the slot held the value; the caller emptied it, so it is ours.
                unsafe { (self.vtable.drop_value)(self.slot.get()) };
            }
        }));
        if dropped.is_err() {
            result_panicked_on_drop(self.id);
        }
    }

    /// Publishes the task's outcome (the value is already in the slot unless `panic` is set)
    /// and returns the joiner, whom the caller must wake (the record cannot: waking is the
    /// scheduler's).
    #[must_use = "the joiner must be woken"]
    #[inline]
    pub(crate) fn complete(&self, panic: Option<Box<dyn Any + Send>>) -> Option<Parker> {
        // SAFETY: written once by the task's owner before OUT_DONE is published.
        unsafe { *self.panic.get() = panic };
        // A task whose handle is already gone (Go's `go f()`, the usual case): the handle's
        // `detach` was the only other writer and it is done, so this side is second (rule 3)
        // with a load, and publishes with a store: no locked instruction.
        if self.outcome.load(Ordering::Acquire) & OUT_DETACHED != 0 {
            self.outcome
                .store(OUT_DETACHED | OUT_DONE, Ordering::Release);
            self.drop_outcome();
            return None;
        }
        let before = self.outcome.fetch_or(OUT_DONE, Ordering::AcqRel);
        if before & OUT_DETACHED != 0 {
            // Nobody will join: drop the value here, on the task's own stack when it ran,
            // rather than later in whatever drops the last reference to the record.
            self.drop_outcome();
            return None;
        }
        self.joiner.lock().unwrap_or_else(|e| e.into_inner()).take()
    }

    /// Records who waits in `join` (woken by whoever completes the task).
    pub(crate) fn set_joiner(&self, p: Parker) {
        *self.joiner.lock().unwrap_or_else(|e| e.into_inner()) = Some(p);
    }

    /// Drops a task that never started (runtime shutdown): its closure is dropped on this
    /// thread. Returns the joiner to wake.
    #[must_use = "the joiner must be woken"]
    pub(crate) fn cancel_unstarted(&self) -> Option<Parker> {
        self.st.kill();
        self.drop_closure();
        self.complete(Some(cancelled_payload()))
    }

    /// First run: gives the task a stack and an initial context that starts in `entry`, and
    /// pins it to `worker`. If no stack could be reserved, the task is finished with an error
    /// instead and the joiner to wake is returned. Called only by the worker that owns the
    /// (unstarted) task.
    pub(crate) fn start(
        &self,
        worker: usize,
        entry: extern "C" fn(context::Transfer) -> !,
    ) -> Result<(), Option<Parker>> {
        // The stack is taken when the task first runs, from the running thread's pool cache:
        // a task that finished on this thread moments ago left a warm stack there.
        let stack = match crate::stack::pool_get(self.stack_size) {
            Ok(stack) => stack,
            Err(e) => return Err(self.fail_to_start(e)),
        };
        // SAFETY: the caller owns the unstarted task: nobody else touches these cells.
        unsafe { self.install(RawCo::new(stack, entry), worker) };
        Ok(())
    }

    /// Gives an unstarted task the stack (and coroutine) of the task that just finished on
    /// it, to run on in the very frame where that one ran (see `sched::switch::chain_next`).
    ///
    /// # Safety
    /// The caller owns both tasks and runs on `co`'s stack, in `task_entry`'s frame, with the
    /// finished task's body returned; `co` has no saved context (it is running).
    pub(crate) unsafe fn start_on(&self, co: RawCo, worker: usize) {
        // SAFETY: see the function contract.
        unsafe { self.install(co, worker) };
        self.st.set(State::Running);
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

    /// The task's stack as `(lowest usable byte, usable length)` once started, for the dump.
    /// Only for a task taken from the registry (`sched::Shared::snapshot`).
    pub(crate) fn stack_range(&self) -> Option<(usize, usize)> {
        // SAFETY: `overflow` is written only by `init` and `install`, and `install` runs before
        // the task is registered (`sched::switch`); the registry's lock orders those writes
        // before this read by whoever took the task from it. A registered record is not
        // reused while this caller holds a reference to it (reuse needs the only reference).
        let info = unsafe { &*self.overflow.get() };
        (info.stack_size != 0).then_some((info.guard_hi, info.stack_size))
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
        self.st.set(State::Running);
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
    pub(crate) fn drop_closure(&self) {
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

    /// The task could not get a stack: it finishes with an error instead of running. Returns
    /// the joiner to wake. The first such failure in the process is reported on stderr; the
    /// others only through their `join` (a program that spawns past the limit would otherwise
    /// print the same explanation thousands of times).
    #[cold]
    fn fail_to_start(&self, e: io::Error) -> Option<Parker> {
        static TOLD: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
        let msg = format!(
            "goro: goroutine {} could not start: cannot reserve its {} KiB stack: {e}",
            self.id,
            self.stack_size / 1024
        );
        if !TOLD.swap(true, Ordering::Relaxed) {
            eprintln!(
                "{msg}\ngoro: tasks that find no stack do not run; their join() returns this \
                 error (reported once)"
            );
        }
        self.drop_closure();
        self.complete(Some(Box::new(msg)))
    }

    /// Frees the finished task's stack (back to the pool) and marks it dead. An abandoned
    /// task's outcome is published here: the joiner to wake is returned.
    #[must_use = "the joiner must be woken"]
    pub(crate) fn retire(&self, abandon: bool) -> Option<Parker> {
        self.st.kill();
        // SAFETY: the task is no longer running; the scheduler owns it.
        let co = unsafe { (*self.co.get()).take() };
        if abandon {
            // Its frames are still live (parked while being cancelled) and could be pointed to
            // from a wait list: never reuse that memory.
            std::mem::forget(co);
            self.complete(Some(cancelled_payload()))
        } else {
            drop(co);
            None
        }
    }

    /// Runs the task's closure with its panic caught, leaving the value in the slot; returns
    /// the payload if it did not return a value (a cancellation becomes the runtime's message).
    /// Called once, by the task itself on its own stack.
    #[inline(always)]
    pub(crate) fn run_closure(&self) -> Option<Box<dyn Any + Send>> {
        // From here on the closure is moved out of the slot by `run`, even if it panics.
        self.slot_state.store(SLOT_EMPTY, Ordering::Relaxed);
        let run = self.vtable.run;
        let slot = self.slot.get();
        // SAFETY: the slot holds the closure of this task's types (set up by `init`).
        let outcome = catch_unwind(AssertUnwindSafe(|| unsafe { run(slot) }));
        match outcome {
            Ok(()) => {
                self.slot_state.store(SLOT_VALUE, Ordering::Release);
                None
            }
            Err(p) if p.is::<Cancelled>() => Some(cancelled_payload()),
            Err(p) => Some(p),
        }
    }
}

/// What std does when a thread's result panics on drop (`rtabort!`): say so, then abort.
#[cold]
fn result_panicked_on_drop(id: u64) -> ! {
    use std::io::Write as _;
    let _ = writeln!(
        std::io::stderr(),
        "goro: fatal runtime error: the result of goroutine {id} panicked on drop (like std's \
         \"thread result panicked on drop\"), aborting"
    );
    std::process::abort();
}

/// What `join` returns for a task cancelled by its runtime's shutdown.
pub(crate) fn cancelled_payload() -> Box<dyn Any + Send> {
    Box::new("goro: the task was cancelled because its runtime shut down")
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
// Parker: wakes a task or a plain OS thread (crate-internal)
// ---------------------------------------------------------------------------------------------

/// Something that can be woken: the current task, or the current OS thread when called outside
/// a runtime. Primitives (channels, mutexes) store one per waiter. Waking one is the
/// scheduler's business (`unpark` and `wake` are defined in `sched`, Go's `ready`).
#[derive(Clone)]
pub(crate) enum Parker {
    Task(TaskRef),
    Thread(thread::Thread),
}

impl fmt::Debug for Parker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Parker::Task(h) => write!(f, "Parker(task {})", h.id),
            Parker::Thread(t) => write!(f, "Parker({:?})", t.id()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_stays_small() {
        // Every live task costs one header; a million of them should not need more than
        // 256 MB on top of their stacks.
        let size = std::mem::size_of::<Header>();
        assert!(size <= 256, "Header is {size} bytes");
    }
}
