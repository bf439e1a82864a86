//! Lesson 10: panics.
//!
//! A route manager applies route updates with a few worker tasks. Some updates make the code
//! that applies them panic. As shipped, the workers are fire-and-forget: a panic kills its
//! worker, the update it held is lost, and nobody is told. You turn them into a supervisor
//! (in [`supervisor`]) that recovers at each worker's task boundary, reports the panic with the
//! task's name, restarts the worker within a budget and retries the update in flight.
//!
//! You edit `src/supervisor.rs`; the rest is given.

pub mod handler;
pub mod policy;
pub mod report;
pub mod routes;
pub mod supervisor;

pub use handler::{Handler, handler};
pub use policy::{Policy, worker_name};
pub use report::{Crash, Fate, Report};
pub use routes::{RouteTable, Update};
pub use supervisor::supervise;

/// Runs `f` as the main task of a deterministic goro runtime: one worker thread, scheduling
/// choices drawn from `seed`, so the same seed gives the same interleaving every time.
///
/// # Panics
/// If every task ends up waiting for another (a deadlock): the panic names the caller, shows
/// goro's goroutine dump and says where such a wait usually comes from in this lesson.
#[track_caller]
pub fn run_deterministic<F, T>(seed: u64, f: F) -> T
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let runtime = goro::Runtime::builder()
        .deterministic(seed)
        .build()
        .expect("could not start a goro runtime");
    match runtime.block_on(f) {
        Ok(value) => value,
        Err(error) => panic!(
            "{error}\n\
             The main task runs `supervise`. A supervisor waiting for a message that no worker \
             will send any more (is every worker it waits for still alive?), or a producer \
             waiting on a full inbox that nobody reads (when no worker is left, drain it into \
             the report), stops everything like this."
        ),
    }
}
