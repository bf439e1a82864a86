//! The generator's machinery. This is the file you edit.
//!
//! The body runs on a stack of its own. `resume` switches from the caller's stack to the body's;
//! `yield_` switches back. Each switch saves the registers of the side that stops into a
//! [`Context`] and loads the other side's, so each side continues exactly where it stopped.

use std::any::Any;
use std::cell::Cell;
use std::io;
use std::marker::PhantomData;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::ptr::NonNull;

use goro::stack::Stack;
use goro::sys::context::{Context, Transfer};

use crate::switch::context_on;
use crate::{Generator, Machinery, STACK_SIZE};

/// What the body's side passes back in `Transfer::data` when it switches to the caller.
const YIELDED: usize = 0;
const FINISHED: usize = 1;

/// What the caller's side passes in `Transfer::data` when it resumes a started body.
const RUN: usize = 0;
const CANCEL: usize = 1;

/// The body of a generator, boxed so that `Shared` has one type whatever closure it holds.
type Body<T> = Box<dyn FnOnce(&Yielder<T>)>;

// ANCHOR: shared
/// The state both stacks use. It lives on the heap, at an address that never changes, and both
/// sides reach it through a raw pointer; only one side runs at a time, and `Cell` lets either
/// side update it through a shared reference.
struct Shared<T> {
    /// The body's registers while it is suspended (or not yet started).
    body_ctx: Cell<Option<Context>>,
    /// The caller's registers while the body runs.
    caller_ctx: Cell<Option<Context>>,
    /// The body, until the first resume moves it onto its own stack.
    body: Cell<Option<Body<T>>>,
    /// The value the body just yielded, on its way to the caller.
    slot: Cell<Option<T>>,
    /// The body's panic, on its way to the caller.
    panic: Cell<Option<Box<dyn Any + Send>>>,
    state: Cell<State>,
    /// Set when the generator is dropped while the body is suspended: from then on every
    /// `yield_` unwinds, even after the body caught one of those unwinds.
    cancelled: Cell<bool>,
}
// ANCHOR_END: shared

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    NotStarted,
    Suspended,
    Finished,
}

/// Everything a [`Generator`] owns besides its thread-bound marker.
pub(crate) struct Inner<T> {
    /// Owned: made by `Box::into_raw` in `new`, freed by `Box::from_raw` in `drop`.
    shared: NonNull<Shared<T>>,
    /// `None` only after `drop` had to leak it.
    stack: Option<Stack>,
    _owns: PhantomData<Shared<T>>,
}

/// The handle the body uses to hand a value to the caller.
pub struct Yielder<T> {
    shared: NonNull<Shared<T>>,
}

/// The private payload `yield_` unwinds with when a suspended generator is dropped.
struct Cancelled;

// ANCHOR: entry
/// The first function to run on the body's stack. `t.context` is the caller that resumed us and
/// `t.data` the address of the `Shared` state.
extern "C" fn entry<T: 'static>(t: Transfer) -> ! {
    let ptr = NonNull::new(t.data as *mut Shared<T>).expect("the first resume passes the state");
    // SAFETY: the state outlives the body: `Inner::drop` finishes the body before freeing it.
    let shared = unsafe { ptr.as_ref() };
    shared.caller_ctx.set(Some(t.context));
    let body = shared
        .body
        .take()
        .expect("a generator's body starts only once");
    // A panic must not unwind past this frame: there is no Rust frame above it to catch it,
    // only the switch. Catch it here and carry it to the caller as data.
    let outcome = catch_unwind(AssertUnwindSafe(|| body(&Yielder { shared: ptr })));
    if let Err(payload) = outcome
        && !payload.is::<Cancelled>()
    {
        shared.panic.set(Some(payload));
    }
    let caller = shared
        .caller_ctx
        .take()
        .expect("the caller that resumed us");
    // SAFETY: `caller` is the live context of the suspended `resume` (or `drop`).
    unsafe { caller.resume(FINISHED) };
    unreachable!("a finished generator is never resumed");
}
// ANCHOR_END: entry

impl<T: 'static> Generator<T> {
    /// Prepares `body` to run on a stack of its own of [`STACK_SIZE`] bytes. Nothing runs until
    /// the first [`resume`](Generator::resume).
    pub fn new<F>(body: F) -> io::Result<Generator<T>>
    where
        F: FnOnce(&Yielder<T>) + 'static,
    {
        let stack = Stack::new(STACK_SIZE)?;
        // SAFETY: `stack` is moved into `Inner` next to the context, and `Inner::drop` makes
        // sure the body is finished before the stack is unmapped.
        let ctx = unsafe { context_on(&stack, entry::<T>) };
        let shared = Box::new(Shared {
            body_ctx: Cell::new(Some(ctx)),
            caller_ctx: Cell::new(None),
            body: Cell::new(Some(Box::new(body) as Body<T>)),
            slot: Cell::new(None),
            panic: Cell::new(None),
            state: Cell::new(State::NotStarted),
            cancelled: Cell::new(false),
        });
        Ok(Generator {
            _thread_bound: PhantomData,
            inner: Machinery(Inner {
                shared: NonNull::from(Box::leak(shared)),
                stack: Some(stack),
                _owns: PhantomData,
            }),
        })
    }

    // ANCHOR: resume
    /// Runs the body until it yields its next value, and returns it; `None` once the body has
    /// returned. If the body panics, the panic continues in the caller, here.
    pub fn resume(&mut self) -> Option<T> {
        let shared = self.inner.shared();
        let data = match shared.state.get() {
            State::Finished => return None,
            // A fresh body needs to find its state; a suspended one already has it.
            State::NotStarted => self.inner.shared.as_ptr() as usize,
            State::Suspended => RUN,
        };
        let t = shared.switch_to_body(data);
        if t.data == FINISHED {
            shared.state.set(State::Finished);
            if let Some(payload) = shared.panic.take() {
                resume_unwind(payload);
            }
            return None;
        }
        shared.state.set(State::Suspended);
        shared.body_ctx.set(Some(t.context));
        shared.slot.take()
    }
    // ANCHOR_END: resume
}

impl<T> Inner<T> {
    fn shared(&self) -> &Shared<T> {
        // SAFETY: `shared` came from a live Box that only `drop` frees.
        unsafe { self.shared.as_ref() }
    }
}

impl<T> Shared<T> {
    /// Saves the caller's registers, loads the body's, and returns when the body switches back.
    fn switch_to_body(&self, data: usize) -> Transfer {
        let ctx = self
            .body_ctx
            .take()
            .expect("a generator that is not running has a context");
        // SAFETY: `ctx` is the body's saved context, on a stack owned by the same `Inner` as
        // this state; the body hands control back before this returns.
        unsafe { ctx.resume(data) }
    }
}

impl<T> Drop for Inner<T> {
    fn drop(&mut self) {
        let shared = self.shared();
        if shared.state.get() == State::Suspended {
            // The body is paused inside `yield_` with live values on its stack. Resume it once
            // more with CANCEL: `yield_` unwinds, their destructors run, the entry finishes.
            // A body that catches the unwind cannot suspend again: `cancelled` makes every later
            // `yield_` unwind too (goro's tasks do the same with their own cancel flag).
            shared.cancelled.set(true);
            let t = shared.switch_to_body(CANCEL);
            if t.data != FINISHED {
                // Cannot happen (a cancelled body never switches back without finishing), but
                // if it did, its frames would still be live and point into the state and the
                // stack: leak both rather than free them.
                std::mem::forget(self.stack.take());
                return;
            }
            // A destructor that panicked during the unwind: nobody is left to tell.
            drop(shared.panic.take());
        }
        // SAFETY: made by `Box::leak` in `new`; the body is finished or never started, so no
        // pointer to the state is used again.
        drop(unsafe { Box::from_raw(self.shared.as_ptr()) });
    }
}

// ANCHOR: yield
impl<T> Yielder<T> {
    /// Hands `value` to the caller of [`Generator::resume`], and pauses the body until the next
    /// `resume`.
    pub fn yield_(&self, value: T) {
        // SAFETY: the state outlives the body (see `entry`).
        let shared = unsafe { self.shared.as_ref() };
        if shared.cancelled.get() {
            // The generator is gone: nobody is left to take a value. Unwind again, unless this
            // is a destructor already running in that unwind (a second unwind would abort).
            if std::thread::panicking() {
                return;
            }
            resume_unwind(Box::new(Cancelled));
        }
        shared.slot.set(Some(value));
        let caller = shared
            .caller_ctx
            .take()
            .expect("yield_ runs only inside resume");
        // SAFETY: `caller` is the live context of the suspended `resume`.
        let t = unsafe { caller.resume(YIELDED) };
        // We are back: `t.context` is whoever resumed us this time.
        shared.caller_ctx.set(Some(t.context));
        if t.data == CANCEL {
            resume_unwind(Box::new(Cancelled));
        }
    }
}
// ANCHOR_END: yield
