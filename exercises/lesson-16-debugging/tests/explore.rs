//! The same two transfers, under many schedules: a fixed seed finds the deadlock only if its
//! schedule happens to interleave the two transfers the wrong way. The fix must hold on every
//! schedule, not only on the one `tests/deadlock.rs` uses.

mod common;

/// Schedules tried. `goro::check::explore` chooses them PCT-style and may switch tasks at
/// every channel operation, `Mutex` lock and unlock, `WaitGroup::done`, `checkpoint()`,
/// `yield_now()` and `spawn`: so a fix that only narrows the window between two locks is caught too.
const RUNS: u32 = 300;

// ANCHOR: explore
#[test]
fn no_schedule_deadlocks_opposite_transfers() {
    goro::check::explore(RUNS, common::opposite_transfers);
}
// ANCHOR_END: explore
