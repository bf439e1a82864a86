//! The atomics seam for model checking with [loom](https://docs.rs/loom): the lock-free
//! protocols import their atomics, spin hints and thread yields from here instead of from std.
//!
//! Normally every item here *is* std's (`pub(crate) use std::sync::atomic::...`): the same
//! types, the same code, no cost. Built with `--cfg loom`, the same names resolve to loom's
//! instrumented versions, and the models in `loom/models/` run the protocols' own functions
//! under loom, which explores every interleaving of their threads (and every value a relaxed
//! load may legally read) up to a bound, and fails on a broken invariant, a data race on a
//! loom cell, or a deadlock (every thread blocked: a lost wakeup). The same seam as tokio's
//! `src/loom/`.
//!
//! The protocols modelled, each with the invariant its model checks (see each model's doc):
//!
//! | protocol | code | model |
//! | --- | --- | --- |
//! | run queue `push` / `pop` / `steal_from` | `sched/queue.rs`, `sched/steal.rs` | `models/run_queue.rs` |
//! | park token: `claim_for_wake` / `finish_park` | `task/state.rs` | `models/park_token.rs` |
//! | the selector's claim | `wait/selector.rs` | `models/selector.rs` |
//! | the raw spin lock | `wait/lock.rs` | `models/raw_lock.rs` |
//! | `WaitGroup`'s counter and waiters | `sync.rs` | `models/wait_group.rs` |
//!
//! Run them with their own target directory, so the normal build's cache stays valid:
//!
//! ```text
//! RUSTFLAGS="--cfg loom" cargo test -p goro --release --lib --target-dir target/loom loom_
//! ```
//!
//! (`cargo xtask ci` runs this, with warnings denied, as its "loom models" step.) The 16
//! models explore about 63,000 executions at preemption bound 3 in a few seconds; building the
//! crate and loom for the first time takes a few minutes, later builds well under one. Under `--cfg loom` the rest of the
//! crate still compiles but cannot run: loom atomics work only inside a model, and a task
//! switch cannot run inside one at all. That is why a model never parks a real task: loom
//! threads stand in for tasks and workers, and `models::Sched` stands in for "queue this
//! task", asserting each wakeup queues a parked task exactly once.
//!
//! The pieces that differ under loom (each marked where it is used): `const fn` constructors
//! become plain functions ([`const_unless_loom`]: loom atomics cannot be built in a constant),
//! the run queue's ring shrinks to 4 slots so a model can fill it, the raw lock pauses once and
//! yields once before it naps, and a nap blocks until an unlock (`nap`), and
//! `mutation` can break one protocol on purpose, to show that its model catches the bug.
//!
//! Go counterpart: none; Go tests its runtime's lock-free code with stress tests and the race
//! detector, which only see the interleavings that happen to occur. Lessons: none of its own;
//! it checks the protocols that lessons 04 (park token), 05 (`WaitGroup`), 07 and 08
//! (selector, raw lock) and 12 (run queue) teach.

/// `std::sync::atomic`, or loom's under `--cfg loom`.
pub(crate) mod sync {
    /// The atomic types the modelled protocols use.
    pub(crate) mod atomic {
        #[cfg(loom)]
        pub(crate) use ::loom::sync::atomic::{
            AtomicBool, AtomicPtr, AtomicU8, AtomicU32, AtomicU64, AtomicUsize,
        };
        #[cfg(not(loom))]
        pub(crate) use std::sync::atomic::{
            AtomicBool, AtomicPtr, AtomicU8, AtomicU32, AtomicU64, AtomicUsize,
        };
    }
}

/// `std::hint`, or loom's under `--cfg loom` (where a spin is a yield to the model's scheduler).
pub(crate) mod hint {
    #[cfg(loom)]
    pub(crate) use ::loom::hint::spin_loop;
    #[cfg(not(loom))]
    pub(crate) use std::hint::spin_loop;
}

/// `std::thread::yield_now`, or loom's under `--cfg loom`.
pub(crate) mod thread {
    #[cfg(loom)]
    pub(crate) use ::loom::thread::yield_now;
    #[cfg(not(loom))]
    pub(crate) use std::thread::yield_now;
}

/// Declares a `const fn` normally, a plain `fn` under `--cfg loom` (loom's atomics have no
/// `const fn new`). Rustdoc and every normal build see the `const fn`.
macro_rules! const_unless_loom {
    ($(#[$attr:meta])* $vis:vis fn $($rest:tt)*) => {
        #[cfg(not(loom))]
        $(#[$attr])* $vis const fn $($rest)*
        #[cfg(loom)]
        $(#[$attr])* $vis fn $($rest)*
    };
}
pub(crate) use const_unless_loom;

/// The raw lock's nap under loom (`wait/lock.rs`, rule 3). A real waiter that naps sleeps
/// 50 µs and looks again; a loom thread cannot sleep for a time, and a model whose waiters
/// only yield gives loom unbounded spins to explore. So here a napping waiter blocks until an
/// unlock: it checks the lock word and sleeps under one loom mutex, and every unlock takes
/// that mutex and wakes all nappers, so a nap can end no later than a real one would.
#[cfg(loom)]
pub(crate) mod nap {
    use ::loom::sync::atomic::{AtomicBool, Ordering};
    use ::loom::sync::{Condvar, Mutex};

    struct Nappers {
        count: Mutex<usize>,
        woken: Condvar,
    }

    ::loom::lazy_static! {
        static ref NAPPERS: Nappers = Nappers {
            count: Mutex::new(0),
            woken: Condvar::new(),
        };
    }

    /// Sleeps until an unlock, unless `locked` is already false.
    pub(crate) fn nap(locked: &AtomicBool) {
        let mut n = NAPPERS.count.lock().unwrap();
        if !locked.load(Ordering::Relaxed) {
            return;
        }
        *n += 1;
        n = NAPPERS.woken.wait(n).unwrap();
        *n -= 1;
    }

    /// Wakes every napper (called by each unlock, after its store).
    pub(crate) fn wake_all() {
        let n = NAPPERS.count.lock().unwrap();
        if *n > 0 {
            NAPPERS.woken.notify_all();
        }
    }
}

/// Deliberate bugs, switched on by a test on its own thread (loom runs a model's threads as
/// coroutines on the thread that calls it, so a thread-local reaches all of them and no other
/// test). The protocol code consults them only under `--cfg loom`; they do not exist otherwise.
#[cfg(loom)]
pub(crate) mod mutation {
    use std::cell::Cell;

    std::thread_local! {
        static FINISH_PARK_IGNORES_TOKEN: Cell<bool> = const { Cell::new(false) };
        static RELAXED_UNLOCK: Cell<bool> = const { Cell::new(false) };
    }

    /// Whether `TaskState::finish_park` should park even though a token arrived (losing it).
    pub(crate) fn finish_park_ignores_token() -> bool {
        FINISH_PARK_IGNORES_TOKEN.with(Cell::get)
    }

    /// Whether `RawLock::unlock` should store with `Relaxed` ordering (ordering nothing).
    pub(crate) fn relaxed_unlock() -> bool {
        RELAXED_UNLOCK.with(Cell::get)
    }

    /// Runs `f` with the `finish_park` mutation on (off again afterwards, even if `f` panics).
    #[cfg(test)]
    pub(crate) fn with_finish_park_ignoring_token<R>(f: impl FnOnce() -> R) -> R {
        with_switch(&FINISH_PARK_IGNORES_TOKEN, f)
    }

    /// Runs `f` with the relaxed-unlock mutation on (off again afterwards, even if `f` panics).
    #[cfg(test)]
    pub(crate) fn with_relaxed_unlock<R>(f: impl FnOnce() -> R) -> R {
        with_switch(&RELAXED_UNLOCK, f)
    }

    /// Runs `f` with `switch` on, and off again afterwards, even if `f` panics.
    #[cfg(test)]
    fn with_switch<R>(
        switch: &'static std::thread::LocalKey<Cell<bool>>,
        f: impl FnOnce() -> R,
    ) -> R {
        struct Off(&'static std::thread::LocalKey<Cell<bool>>);
        impl Drop for Off {
            fn drop(&mut self) {
                self.0.with(|m| m.set(false));
            }
        }
        switch.with(|m| m.set(true));
        let _off = Off(switch);
        f()
    }
}

#[cfg(all(test, loom))]
pub(crate) mod models;
