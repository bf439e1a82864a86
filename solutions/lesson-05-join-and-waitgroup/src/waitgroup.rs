//! A WaitGroup built on goro's park/unpark. YOU EDIT THIS FILE.
//!
//! Go's `sync.WaitGroup`: `add(n)` before starting work, `done()` when a piece finishes,
//! `wait()` blocks until the counter is back to zero.

use std::sync::{Arc, Mutex};

use goro::task::{self, Task, WaitReason};

/// Waits for a group of tasks to finish. Clones share one counter.
#[derive(Clone, Default)]
pub struct WaitGroup {
    inner: Arc<Mutex<State>>,
}

// ANCHOR: state
/// The counter and the tasks parked in `wait`, under one lock: a waiter checks the counter
/// and registers itself in one step, so a `done` cannot slip in between and be missed.
#[derive(Default)]
struct State {
    count: usize,
    waiters: Vec<Task>,
}
// ANCHOR_END: state

// ANCHOR: api
impl WaitGroup {
    /// A group with a counter of zero.
    pub fn new() -> WaitGroup {
        WaitGroup::default()
    }

    /// Adds `n` pieces of work to wait for. Call it before starting the task, not inside it.
    pub fn add(&self, n: usize) {
        self.inner.lock().unwrap().count += n;
    }

    /// Marks one piece of work as finished.
    ///
    /// # Panics
    /// If it would take the counter below zero (more `done` than `add`), as Go does.
    pub fn done(&self) {
        let woken = {
            let mut state = self.inner.lock().unwrap();
            state.count = state
                .count
                .checked_sub(1)
                .expect("negative WaitGroup counter: done() called more often than add()");
            if state.count > 0 {
                return;
            }
            std::mem::take(&mut state.waiters)
        };
        // Unpark after the lock is released: a woken task goes straight for the lock.
        for waiter in woken {
            waiter.unpark();
        }
    }

    /// Blocks the calling task until the counter is zero.
    pub fn wait(&self) {
        let me = task::current();
        loop {
            {
                let mut state = self.inner.lock().unwrap();
                if state.count == 0 {
                    return;
                }
                if !state.waiters.iter().any(|t| t.id() == me.id()) {
                    state.waiters.push(me.clone());
                }
            }
            // Never park holding the lock: `done` needs it to wake us. If `done` unparks us
            // before we get here, park returns at once (the wake-up is kept as a token), and
            // a wake-up with no reason is allowed too: hence the loop.
            task::park_with(WaitReason::WaitGroup);
        }
    }
}
// ANCHOR_END: api
