//! The generator's machinery. This is the file you edit.
//!
//! The version below is easy to write and wrong: it runs the whole body as soon as the generator
//! is created, on the caller's own stack, and stores every value. Finite bodies give the right
//! values, but nothing is *resumed*: the body never waits for the caller. Read the lesson page,
//! then replace it with a body that runs on its own stack.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io;
use std::marker::PhantomData;

use crate::{Generator, Machinery};

/// Everything a [`Generator`] owns besides its thread-bound marker.
pub(crate) struct Inner<T> {
    // TODO(lesson): a generator needs its own stack (`goro::stack::Stack`) and the saved
    // registers of the side that is not running (`goro::sys::context::Context`).
    ready: VecDeque<T>,
}

/// The handle the body uses to hand a value to the caller.
pub struct Yielder<T> {
    produced: RefCell<VecDeque<T>>,
}

impl<T: 'static> Generator<T> {
    /// Prepares `body` to run on a stack of its own of [`STACK_SIZE`](crate::STACK_SIZE) bytes.
    /// Nothing runs until the first [`resume`](Generator::resume).
    pub fn new<F>(body: F) -> io::Result<Generator<T>>
    where
        F: FnOnce(&Yielder<T>) + 'static,
    {
        // TODO(lesson): this runs the whole body right now, on the caller's stack.
        let yielder = Yielder {
            produced: RefCell::new(VecDeque::new()),
        };
        body(&yielder);
        Ok(Generator {
            _thread_bound: PhantomData,
            inner: Machinery(Inner {
                ready: yielder.produced.into_inner(),
            }),
        })
    }

    /// Runs the body until it yields its next value, and returns it; `None` once the body has
    /// returned. If the body panics, the panic continues in the caller, here.
    pub fn resume(&mut self) -> Option<T> {
        // TODO(lesson): switch to the body's stack and let it run until its next `yield_`.
        self.inner.ready.pop_front()
    }
}

impl<T> Yielder<T> {
    /// Hands `value` to the caller of [`Generator::resume`], and pauses the body until the next
    /// `resume`.
    pub fn yield_(&self, value: T) {
        // TODO(lesson): pause here: switch back to the caller's stack.
        self.produced.borrow_mut().push_back(value);
    }
}
