//! Lesson 09: cancellation.
//!
//! A generator and a three-stage pipeline (`generate → square → format`) that never stop once
//! started: a consumer that has what it wants, or whose deadline passed, leaves goroutines
//! parked behind it forever. You build Go's `context` (a done channel closed once, an error
//! saying why, cancellation that flows from parent to child, deadlines) in `src/context.rs`,
//! and thread it through every stage in `src/pipeline.rs`. [`consumer`] measures what is left
//! with `goro::num_goroutines()`.

pub mod consumer;
pub mod context;
pub mod handles;
pub mod pipeline;

pub use consumer::{Report, first_squares, squares_until};
pub use context::{with_cancel, with_deadline, with_timeout};
pub use handles::{CancelFunc, Context, CtxError};
pub use pipeline::{WORK, format, generate, square};

// ANCHOR: stage
/// Starts one pipeline stage as a task named `name`, so that a goroutine dump shows which
/// stage is stuck where.
pub fn stage(name: &str, body: impl FnOnce() + Send + 'static) {
    goro::task::Builder::new()
        .name(name)
        .spawn(body)
        .expect("could not start a pipeline stage");
}
// ANCHOR_END: stage

/// Runs `f` as the main task of a deterministic goro runtime: same seed, same interleaving,
/// and a virtual clock, so timeouts take no real time and every timestamp is exact.
pub fn run_deterministic<F, T>(seed: u64, f: F) -> T
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let runtime = goro::Runtime::builder()
        .deterministic(seed)
        .build()
        .expect("could not start a goro runtime");
    // A panic in the main task comes back here as it was; panic again with its message, so
    // that the test's own output says what went wrong.
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| runtime.block_on(f))) {
        Ok(Ok(value)) => value,
        Ok(Err(error)) => panic!("{error}"),
        Err(payload) => {
            let message = payload
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| payload.downcast_ref::<&str>().copied())
                .unwrap_or("(a panic without a message)");
            panic!("{message}")
        }
    }
}

/// Lets every task that can run, run, for one millisecond of (virtual) time. A task that was
/// told to stop and listens has ended by then; one that is asleep or parked elsewhere has not.
pub fn settle() {
    goro::sleep(std::time::Duration::from_millis(1));
}
