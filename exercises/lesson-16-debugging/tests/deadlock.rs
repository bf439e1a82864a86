//! Two transfers in opposite directions must both finish, on a schedule that, as shipped,
//! runs them into each other. The rest of the service keeps working all the while, so the
//! runtime's deadlock detector has nothing to say: the test's time limit, and the dump it
//! prints, are what find the bug.

mod common;

/// A schedule on which, as shipped, Alice's and Bob's transfers get stuck on each other.
/// (Many schedules do not: see `tests/explore.rs`.)
const SEED: u64 = 3;

#[test]
fn opposite_transfers_both_finish() {
    if let Err(msg) = common::on_seed(SEED) {
        panic!("{msg}");
    }
}
