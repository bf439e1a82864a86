//! Lesson 07: channels.
//!
//! You build Go's channel (`make(chan T)`, `make(chan T, n)`, `ch <- v`, `<-ch`, `close`,
//! `for v := range ch`) on goro's park/unpark, in `src/channel.rs`. The programs in
//! [`examples`] use it the way Go programs use theirs.

pub mod channel;
pub mod examples;

pub use channel::{Receiver, SendError, Sender, channel};

/// Runs `f` as the main task of a deterministic goro runtime (one worker, a seeded schedule,
/// a virtual clock): same seed, same interleaving, byte for byte.
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
