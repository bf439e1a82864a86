//! goro: a goroutine runtime built from scratch.
//!
//! goro runs many small tasks ("goroutines") on a few OS threads: each task has its own
//! guarded, lazily committed stack; workers switch between tasks in user space, steal work from
//! each other when idle, and park when there is none. Channels, `select!`, a `WaitGroup`, a
//! `Mutex` that parks the task rather than the thread, and Go's `context` are built on top.
//!
//! ```
//! let total = goro::run(|| {
//!     let handles: Vec<_> = (1..=10u64).map(|i| goro::spawn(move || i * i)).collect();
//!     handles.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
//! });
//! assert_eq!(total, 385);
//! ```
//!
//! The layers, bottom up (each one a module and a lesson of the workbook): [`stack`] (02),
//! [`coroutine`] (03), [`task`] and the scheduler (04, 12), [`sync`] (05), [`chan`] (07),
//! [`select`](select/index.html) and [`time`] (08), [`ctx`] (09), [`net`] (15), [`debug`] and [`check`] (16), and
//! [`runtime`] (04), which starts it all.
//!
//! # Model checking
//!
//! Besides its tests, goro's lock-free protocols (the run queue, the park token, the
//! selector's claim, the raw lock, `WaitGroup`) are model-checked with
//! [loom](https://docs.rs/loom), which runs their own code under every interleaving of a few
//! threads, up to a bound (the seam and the models: `src/loom.rs`, `src/loom/models/`):
//!
//! ```text
//! RUSTFLAGS="--cfg loom" cargo test -p goro --release --lib --target-dir target/loom loom_
//! ```
#![warn(missing_docs)]

pub mod chan;
pub mod check;
pub mod coroutine;
pub mod ctx;
pub mod debug;
mod loom;
pub mod net;
mod panic;
mod rand;
pub mod runtime;
mod sched;
pub mod select;
pub mod signal;
pub mod stack;
pub mod sync;
pub mod task;
pub mod time;
mod trace;
mod wait;

pub use panic::{Panic, recover};
pub use runtime::Runtime;
pub use task::{JoinHandle, Task, TaskId, WaitReason, current, park, spawn, yield_now};
pub use task::{num_goroutines, sleep};

/// The system-call crates goro is built on, re-exported so lesson exercises can make the same
/// calls without adding dependencies.
pub mod sys {
    pub use context;
    pub use libc;
}

/// Runs `f` as the main task of a runtime with default settings and returns its value.
///
/// Shorthand for `Runtime::new().block_on(f)`, panicking with the goroutine dump if the program
/// deadlocks. Tasks still alive when `f` returns are cancelled (see [`runtime`]).
#[track_caller]
pub fn run<F, T>(f: F) -> T
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    match Runtime::new().block_on(f) {
        Ok(v) => v,
        Err(e) => panic!("{e}"),
    }
}
