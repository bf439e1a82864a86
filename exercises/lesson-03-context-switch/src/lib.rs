//! Lesson 03: the context switch.
//!
//! A generator is a function that can stop in the middle, hand a value to its caller, and later
//! continue exactly where it stopped. That needs the one mechanism every green thread is made
//! of: a second stack, and a switch that saves the registers of one side and loads the other's.
//!
//! Given: `src/switch.rs` (a raw switch back and forth, to learn the `context` crate from) and
//! the public `Generator` type below. The learner writes `src/generator.rs`.

use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};

pub mod generator;
pub mod switch;

pub use generator::Yielder;

/// Usable bytes of each generator's stack. Reserved, not committed (lesson 02): a body that stays
/// shallow costs a page or two. Generous, because a panic captures a backtrace on this stack.
pub const STACK_SIZE: usize = 256 * 1024;

// ANCHOR: generator
/// A function running on its own stack that hands out values one at a time: each
/// [`resume`](Generator::resume) (or [`Iterator::next`]) runs the body until its next
/// [`Yielder::yield_`], and returns that value; `None` once the body has returned.
pub struct Generator<T> {
    /// Pins the generator to the thread that made it (see the lesson page: "Not `Send`").
    _thread_bound: PhantomData<*mut ()>,
    /// The machinery, written in `src/generator.rs`.
    inner: Machinery<generator::Inner<T>>,
}
// ANCHOR_END: generator

/// Wraps the machinery of a [`Generator`] so that the marker field alone decides whether a
/// generator may cross threads. Without it, the compiler would list every thread-bound field of
/// `generator::Inner` when it refuses to send a generator, and the compile-fail test's expected
/// message would depend on how you chose to write `Inner`.
struct Machinery<I>(I);

// SAFETY: a `Machinery` only ever lives inside a `Generator`, which is neither `Send` nor `Sync`
// because of its `_thread_bound` field, so this impl never lets anything cross a thread.
unsafe impl<I> Send for Machinery<I> {}

impl<I> Deref for Machinery<I> {
    type Target = I;
    fn deref(&self) -> &I {
        &self.0
    }
}

impl<I> DerefMut for Machinery<I> {
    fn deref_mut(&mut self) -> &mut I {
        &mut self.0
    }
}

impl<T: 'static> Iterator for Generator<T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        self.resume()
    }
}
