//! Coroutines: run a function on its own stack and switch in and out of it.
//!
//! A coroutine is the smallest piece of a green thread: a [`Stack`] plus a saved register set.
//! [`Coroutine::resume`] saves the caller's registers and jumps onto the coroutine's stack;
//! [`Yielder::suspend`] saves the coroutine's registers and jumps back. The switch itself is the
//! `context` crate's `jump_fcontext` (Boost.Context's hand-written assembly): it pushes the
//! callee-saved registers, swaps the stack pointer and pops the other side's registers, a few
//! nanoseconds in all. The runtime's own task switch (`jump`) uses a copy of it on x86-64 Linux
//! that returns with `ret` instead of an indirect `jmp`, which keeps the CPU's return predictor
//! in step, and leaves the floating-point control words alone (see `switch`): the two took a
//! yield from ~35 to under 20 ns.
//!
//! Go counterpart: `runtime.gogo` / `runtime.mcall` and the `gobuf` each goroutine keeps.
//! Lesson: 03 (context-switch).
//!
//! The one rule this module exists to keep: **a panic never unwinds through the switch frame.**
//! The entry function is `extern "C"`; unwinding out of it would abort at best. So the body runs
//! under [`catch_unwind`], the payload is carried back across the switch as data, and
//! [`Coroutine::resume`] re-raises it on the caller's own stack with [`resume_unwind`].
//!
//! The runtime's tasks use the crate-private half of this module (`RawCo` and `jump`), where
//! tasks switch straight to each other; lessons and curious readers use [`Coroutine`].

use std::any::Any;
use std::cell::Cell;
use std::marker::PhantomData;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};

use context::{Context, Transfer};

use crate::stack::Stack;

/// What [`Coroutine::resume`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CoState {
    /// The body called [`Yielder::suspend`]; resume it again to continue.
    Suspended,
    /// The body returned; resuming again panics.
    Finished,
}

/// Data passed from the caller into the coroutine on a switch.
pub(crate) const IN_RUN: usize = 0;
/// Asks the coroutine to unwind from its suspension point (used on drop and at runtime shutdown).
pub(crate) const IN_CANCEL: usize = 1;

/// Data passed from the coroutine back to the caller.
pub(crate) const OUT_SUSPENDED: usize = 0;
/// The body returned (or unwound with the private cancellation payload).
pub(crate) const OUT_FINISHED: usize = 1;
// Any other value coming out is a pointer to a `Box<Box<dyn Any + Send>>`: the body panicked.

/// The private payload used to unwind a coroutine or a task that is being cancelled. It is
/// raised with [`resume_unwind`], so no panic hook runs and nothing is printed.
pub(crate) struct Cancelled;

/// Reserves room below `top` on a fresh stack so `make_fcontext` has an aligned place to build
/// the initial frame, then returns the context that starts `entry` when first resumed. `top` is
/// the stack's [`top`](Stack::top), or a little below it (a task's [`Stack::staggered_top`]).
fn make_context(stack: &Stack, top: usize, entry: context::ContextFn) -> Context {
    debug_assert!(stack.bottom() < top && top <= stack.top() && top.is_multiple_of(16));
    // SAFETY: `top` and `bottom` lie in a live `Stack` whose usable range is [bottom,
    // stack.top()) and `top` is inside it (checked above in debug builds, by `staggered_top`'s
    // contract otherwise); the context crate only writes below `top`.
    let raw = unsafe {
        context::stack::Stack::new(
            top as *mut context::c_void,
            stack.bottom() as *mut context::c_void,
        )
    };
    // SAFETY: `raw` describes writable memory that outlives the context: the owner of the
    // context (Coroutine or task) also owns the stack and never drops it while the context
    // can still be resumed.
    unsafe { Context::new(&raw, entry) }
}

// ---------------------------------------------------------------------------------------------
// The public, single-threaded coroutine (lesson 03).
// ---------------------------------------------------------------------------------------------

/// State shared between a [`Coroutine`] and the code running on it. Boxed, so its address stays
/// put while the `Coroutine` value itself is moved around.
struct Shared {
    /// The coroutine's saved registers while it is suspended (or not yet started).
    ctx: Cell<Option<Context>>,
    /// The resumer's saved registers while the coroutine runs.
    caller: Cell<Option<Context>>,
    /// The body, until the first resume moves it onto the coroutine's stack.
    body: Cell<Option<CoBody>>,
    /// Set once the coroutine is being dropped: from then on every `suspend` unwinds at once,
    /// so a body that catches the cancellation cannot park itself again (cancel is sticky).
    cancelling: Cell<bool>,
}

type CoBody = Box<dyn FnOnce(&Yielder)>;

/// A function running on its own stack that can pause itself ([`Yielder::suspend`]) and be
/// continued later ([`Coroutine::resume`]).
///
/// A `Coroutine` is deliberately not `Send`: its stack may hold references to thread-local data
/// or `!Send` values, so it stays on the thread that created it. (The runtime's tasks have the
/// same rule; see `task::Builder::migratable`.)
///
/// ```
/// use goro::coroutine::{CoState, Coroutine};
/// use goro::stack::Stack;
/// use std::cell::Cell;
/// use std::rc::Rc;
///
/// let seen = Rc::new(Cell::new(0));
/// let inner = seen.clone();
/// let mut co = Coroutine::new(Stack::new(64 * 1024)?, move |y| {
///     for i in 1..=3 {
///         inner.set(i);
///         y.suspend();
///     }
/// });
/// assert_eq!(co.resume(), CoState::Suspended);
/// assert_eq!(seen.get(), 1);
/// co.resume();
/// co.resume();
/// assert_eq!(seen.get(), 3);
/// assert_eq!(co.resume(), CoState::Finished);
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// A panic inside the body is caught on the coroutine's stack and re-raised by `resume` on the
/// caller's stack. Dropping a suspended coroutine resumes it once more in "cancel" mode:
/// `suspend` unwinds (silently) so the body's destructors run before the stack is freed. The
/// cancellation is sticky: if the body catches it and calls `suspend` again, that call unwinds
/// too, so the body always ends and its stack is always freed.
pub struct Coroutine {
    shared: Box<Shared>,
    state: Option<CoState>,
    // Declared after `shared` only for readability: drop order is handled explicitly in `Drop`.
    stack: Option<Stack>,
    _not_send: PhantomData<*mut ()>,
}

/// The handle a coroutine body uses to pause itself.
pub struct Yielder {
    shared: *const Shared,
    _not_send: PhantomData<*mut ()>,
}

impl Yielder {
    /// Switches back to whoever called [`Coroutine::resume`]; returns when the coroutine is
    /// resumed again. If the coroutine is being dropped, this unwinds instead of returning,
    /// every time: a body that catches the cancellation and suspends again is unwound again.
    pub fn suspend(&self) {
        // SAFETY: `shared` points into the Box owned by the Coroutine, which lives at least as
        // long as the body runs (the body only runs inside `resume`, which borrows it).
        let shared = unsafe { &*self.shared };
        if shared.cancelling.get() {
            resume_unwind(Box::new(Cancelled));
        }
        let caller = shared
            .caller
            .take()
            .expect("Yielder::suspend called while the coroutine is not running");
        // SAFETY: `caller` is the live context saved by the `resume` that switched us in.
        let t = unsafe { caller.resume(OUT_SUSPENDED) };
        shared.caller.set(Some(t.context));
        if t.data == IN_CANCEL {
            shared.cancelling.set(true);
            resume_unwind(Box::new(Cancelled));
        }
    }
}

extern "C" fn coroutine_entry(t: Transfer) -> ! {
    let shared_ptr = t.data as *const Shared;
    // SAFETY: the first resume passes a pointer to the Box'd `Shared`, alive while we run.
    let shared = unsafe { &*shared_ptr };
    shared.caller.set(Some(t.context));
    let out = {
        let body = shared.body.take().expect("coroutine started twice");
        let yielder = Yielder {
            shared: shared_ptr,
            _not_send: PhantomData,
        };
        match catch_unwind(AssertUnwindSafe(|| body(&yielder))) {
            Ok(()) => OUT_FINISHED,
            Err(payload) if payload.is::<Cancelled>() => OUT_FINISHED,
            Err(payload) => Box::into_raw(Box::new(payload)) as usize,
        }
    };
    let caller = shared.caller.take().expect("coroutine lost its caller");
    // SAFETY: jumping back to the live resumer; this stack is never resumed again.
    unsafe { caller.resume(out) };
    unreachable!("a finished coroutine was resumed");
}

impl Coroutine {
    /// Prepares `body` to run on `stack`. Nothing runs until the first [`resume`](Self::resume).
    pub fn new<F>(stack: Stack, body: F) -> Coroutine
    where
        F: FnOnce(&Yielder) + 'static,
    {
        let ctx = make_context(&stack, stack.top(), coroutine_entry);
        Coroutine {
            shared: Box::new(Shared {
                ctx: Cell::new(Some(ctx)),
                caller: Cell::new(None),
                body: Cell::new(Some(Box::new(body))),
                cancelling: Cell::new(false),
            }),
            state: None,
            stack: Some(stack),
            _not_send: PhantomData,
        }
    }

    /// Runs the body until it suspends or finishes.
    ///
    /// Panics if the coroutine already finished; re-raises the body's panic if it panicked.
    pub fn resume(&mut self) -> CoState {
        self.switch(IN_RUN)
    }

    /// Whether the body has returned (or panicked).
    pub fn is_finished(&self) -> bool {
        self.state == Some(CoState::Finished)
    }

    fn switch(&mut self, data: usize) -> CoState {
        assert!(
            !self.is_finished(),
            "Coroutine::resume called after the coroutine finished"
        );
        let ctx = self.shared.ctx.take().expect("coroutine context missing");
        let data = if self.state.is_none() {
            self.shared.as_ref() as *const Shared as usize
        } else {
            data
        };
        // SAFETY: `ctx` is the coroutine's saved context, its stack is owned by `self`.
        let t = unsafe { ctx.resume(data) };
        match t.data {
            OUT_SUSPENDED => {
                self.shared.ctx.set(Some(t.context));
                self.state = Some(CoState::Suspended);
                CoState::Suspended
            }
            OUT_FINISHED => {
                self.state = Some(CoState::Finished);
                CoState::Finished
            }
            ptr => {
                self.state = Some(CoState::Finished);
                // SAFETY: the entry boxed the payload and passed ownership across the switch.
                let payload = unsafe { Box::from_raw(ptr as *mut Box<dyn Any + Send>) };
                resume_unwind(*payload)
            }
        }
    }
}

impl Drop for Coroutine {
    fn drop(&mut self) {
        if self.state == Some(CoState::Suspended) {
            // Unwind the body from its suspension point so its destructors run.
            let ctx = self.shared.ctx.take().expect("coroutine context missing");
            // SAFETY: as in `switch`.
            let t = unsafe { ctx.resume(IN_CANCEL) };
            match t.data {
                OUT_FINISHED => {}
                OUT_SUSPENDED => {
                    // Unreachable while `suspend` honours `cancelling`; kept so that a future
                    // change cannot turn it into a use-after-free: a body that suspended
                    // again still has live frames, so leak its stack rather than free it.
                    debug_assert!(false, "a cancelled coroutine suspended again");
                    std::mem::forget(self.stack.take());
                }
                ptr => {
                    // SAFETY: as in `switch`; a destructor panicked while unwinding. Drop it.
                    drop(unsafe { Box::from_raw(ptr as *mut Box<dyn Any + Send>) });
                }
            }
        }
    }
}

impl std::fmt::Debug for Coroutine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Coroutine")
            .field("state", &self.state)
            .field("stack", &self.stack)
            .finish()
    }
}

// ---------------------------------------------------------------------------------------------
// The crate-private half the scheduler uses: no boxes, no per-switch bookkeeping.
// ---------------------------------------------------------------------------------------------

/// A task's execution context: its stack and its saved registers while it is not running.
/// Owned by the task header; touched only by the thread that owns the task at that moment.
pub(crate) struct RawCo {
    /// Held so that the stack lives exactly as long as the context that runs on it (dropping
    /// it returns the stack to the pool).
    stack: Stack,
    /// The task's registers while it is suspended (None while it runs).
    pub(crate) ctx: Option<Context>,
}

impl RawCo {
    /// A context that will call `entry(Transfer { data, .. })` on `stack` when first switched to.
    /// A task's first frame starts at the stack's [`staggered_top`](Stack::staggered_top), so
    /// that tasks' saved registers do not all compete for the same few cache sets.
    pub(crate) fn new(stack: Stack, entry: context::ContextFn) -> RawCo {
        let ctx = make_context(&stack, stack.staggered_top(), entry);
        RawCo {
            stack,
            ctx: Some(ctx),
        }
    }

    /// The stack this context runs on.
    pub(crate) fn stack(&self) -> &Stack {
        &self.stack
    }
}

/// Switches from whatever runs now (the scheduler or a task) to the context `to`, passing
/// `data`. Returns when something switches back to the caller: the returned transfer carries
/// the context of whoever did (which the caller must store, see `sched::Worker::land`).
///
/// # Safety
/// `to` must be a live, suspended context on a stack that stays valid while it runs, and the
/// caller must not be resumed on another thread unless everything on its stack allows that.
#[inline]
pub(crate) unsafe fn jump(to: Context, data: usize) -> Transfer {
    #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
    // SAFETY: see the function contract; `switch` keeps `jump_fcontext`'s frame layout.
    return unsafe { switch(to, data) };
    #[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
    // SAFETY: see the function contract.
    return unsafe { to.resume(data) };
}

/// `jump_fcontext` with two differences, in the same frame layout (Boost.Context's: contexts
/// made by `make_fcontext` work with it, and the contexts it saves would work with
/// `jump_fcontext`).
///
/// 1. It leaves by `ret` instead of `jmp *%r8`. Both pop the same return address off the
///    target's stack; the difference is in the CPU's return-address predictor. The `call`
///    into the switch pushes a prediction and `jmp` never pops it, so every switch shifted the
///    predictor's stack by one and the next two `ret`s (out of the scheduler's switch function
///    and out of `yield_now`) mispredicted. With `ret` calls and returns pair up again: when
///    both sides suspended at the same call site (two tasks yielding to each other) every
///    return is predicted. (~35 -> ~21 ns per yield.)
/// 2. It does not save and reload the SSE and x87 control words (`stmxcsr`/`ldmxcsr`,
///    `fnstcw`/`fldcw`), which cost ~5 ns on every switch on these machines: Rust requires
///    them to hold their default values whenever Rust code runs (changing the rounding mode,
///    the exception masks or flush-to-zero is undefined behaviour, see `core::arch`'s
///    `_mm_setcsr`), and a switch only happens from Rust code, so both sides always hold the
///    same values. Their slot in the frame gets those defaults, so a `jump_fcontext` into a
///    context saved here would load exactly what is already there. Like Go's `gogo`, the
///    floating-point environment belongs to the thread, not to the task.
///
/// # Safety
/// As [`jump`].
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
#[unsafe(naked)]
unsafe extern "C" fn switch(to: Context, data: usize) -> Transfer {
    std::arch::naked_asm!(
        // Save the callee-saved registers below the return address; the FP control words' slot
        // gets their default values (see above).
        "lea rsp, [rsp - 0x38]",
        "mov dword ptr [rsp], 0x1f80",
        "mov word ptr [rsp + 0x4], 0x037f",
        "mov [rsp + 0x8], r12",
        "mov [rsp + 0x10], r13",
        "mov [rsp + 0x18], r14",
        "mov [rsp + 0x20], r15",
        "mov [rsp + 0x28], rbx",
        "mov [rsp + 0x30], rbp",
        // The context of the side we leave is its stack pointer.
        "mov rax, rsp",
        "mov rsp, rdi",
        "mov r12, [rsp + 0x8]",
        "mov r13, [rsp + 0x10]",
        "mov r14, [rsp + 0x18]",
        "mov r15, [rsp + 0x20]",
        "mov rbx, [rsp + 0x28]",
        "mov rbp, [rsp + 0x30]",
        "lea rsp, [rsp + 0x38]",
        // Transfer { context, data }: returned in rax:rdx, and passed in rdi:rsi to a fresh
        // context's entry function.
        "mov rdx, rsi",
        "mov rdi, rax",
        "ret",
    )
}
