//! Lesson 11: bounded concurrency.
//!
//! One task per request is Go's most natural program and its most common outage: nothing
//! limits how many run at once, so memory and the services behind them take the whole load.
//! You build the three tools that put a bound on it, each on the one before:
//!
//! - [`Semaphore`] (`src/semaphore.rs`): Go's `sem := make(chan struct{}, n)`, a buffered
//!   channel of `()` whose free slots are the permits;
//! - [`Pool`] (`src/pool.rs`): a fixed number of workers draining a bounded queue of jobs,
//!   with backpressure when the queue is full;
//! - [`Group`] (`src/group.rs`): Go's `errgroup` with `SetLimit`: at most `limit` tasks at
//!   once, the first error cancels the rest, results in the order the tasks were started.
//!
//! The rest is given: [`board`] records when each task was admitted, started and finished on
//! goro's virtual clock; [`downstream`] is a service that fails when it gets more concurrent
//! calls than it can take; [`examples`] are the programs the lesson page shows.

pub mod board;
pub mod downstream;
pub mod examples;
pub mod group;
pub mod pool;
pub mod semaphore;

pub use board::Board;
pub use downstream::{Downstream, Overloaded};
pub use group::Group;
pub use pool::Pool;
pub use semaphore::{Permit, Semaphore};

/// What [`Pool::try_submit`] hands back when the pool cannot take a job without waiting: the
/// job itself, so the caller can answer "busy, try later", retry, or drop it on purpose.
#[derive(Debug, PartialEq, Eq)]
pub struct Busy<J>(pub J);

/// Runs `f` as the main task of a deterministic goro runtime (one worker, a seeded schedule,
/// a virtual clock that jumps when every task waits): same seed, same run, byte for byte.
///
/// # Errors
/// Returns goro's deadlock report if every task ends up parked with nothing left to wake them.
pub fn try_run_deterministic<F, T>(seed: u64, f: F) -> Result<T, goro::runtime::RunError>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    goro::Runtime::builder()
        .deterministic(seed)
        .build()
        .expect("could not start a goro runtime")
        .block_on(f)
}

/// Like [`try_run_deterministic`], but a deadlock panics with goro's report.
pub fn run_deterministic<F, T>(seed: u64, f: F) -> T
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    try_run_deterministic(seed, f).unwrap_or_else(|error| panic!("{error}"))
}
