//! Lesson 08: select and timeouts.
//!
//! A payment service charges each payment through a remote gateway, one handler task per
//! payment, fire-and-forget. Some gateway calls never come back, and the handler waiting for
//! them never ends: a goroutine leak. You fix `handle` in `src/payments.rs` with a timeout
//! built from a worker task, a reply channel and `select!`; [`process_batch`] reports how many
//! goroutines are still alive afterwards, and what the gateway did with each call.

pub mod gateway;
pub mod payments;
pub mod processor;

pub use gateway::{Abort, Aborted, Call, Gateway, Outcome, Payment, Receipt, Reply};
pub use payments::{TIMEOUT, handle};
pub use processor::{Ledger, Report, process_batch};

/// Runs `f` as the main task of a deterministic goro runtime: same seed, same interleaving,
/// and a virtual clock, so a minute of waiting takes no real time.
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
        Err(error) => panic!("{error}"),
    }
}
