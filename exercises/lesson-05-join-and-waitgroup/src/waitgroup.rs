//! A WaitGroup built on goro's park/unpark. YOU EDIT THIS FILE.
//!
//! Go's `sync.WaitGroup`: `add(n)` before starting work, `done()` when a piece finishes,
//! `wait()` blocks until the counter is back to zero.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Waits for a group of tasks to finish. Clones share one counter.
#[derive(Clone, Default)]
pub struct WaitGroup {
    inner: Arc<Inner>,
}

// TODO(lesson): a counter alone cannot wake anybody. Keep the tasks that wait, too, and
// protect both with one lock so that "check the counter" and "register as a waiter" happen
// together.
#[derive(Default)]
struct Inner {
    count: AtomicUsize,
}

// ANCHOR: api
impl WaitGroup {
    /// A group with a counter of zero.
    pub fn new() -> WaitGroup {
        WaitGroup::default()
    }

    /// Adds `n` pieces of work to wait for. Call it before starting the task, not inside it.
    pub fn add(&self, n: usize) {
        self.inner.count.fetch_add(n, Ordering::AcqRel);
    }

    /// Marks one piece of work as finished.
    ///
    /// # Panics
    /// If it would take the counter below zero (more `done` than `add`), as Go does.
    pub fn done(&self) {
        // TODO(lesson): refuse to go below zero, and wake every waiter when the counter hits zero.
        self.inner.count.fetch_sub(1, Ordering::AcqRel);
    }

    /// Blocks the calling task until the counter is zero.
    pub fn wait(&self) {
        // TODO(lesson): giving the workers "a moment" is a guess, not a wait. Park the task
        // (goro::task::park_with(WaitReason::WaitGroup)) until `done` wakes it.
        if self.inner.count.load(Ordering::Acquire) > 0 {
            goro::yield_now();
        }
    }
}
// ANCHOR_END: api
