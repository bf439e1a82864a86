//! How a supervisor reacts to panics, and what its workers are called. This file is given.

// ANCHOR: policy
/// How a supervisor runs its workers and reacts when one panics.
#[derive(Clone, Copy, Debug)]
pub struct Policy {
    /// Worker tasks running at once (at least 1).
    pub workers: usize,
    /// Restarts allowed in total, over all workers. Once they are used up, a worker that
    /// panics stays down.
    pub max_restarts: usize,
    /// Attempts per update, the first one included (at least 1). An update that has panicked
    /// this many times is given up.
    pub max_attempts: u32,
}

/// The name of the worker task in `slot` (1, 2, ...) after that slot has been restarted
/// `restarts` times: `routes/w2`, then `routes/w2#1`, `routes/w2#2`, ... Each slot counts its
/// own restarts: `routes/w2#1` is slot 2's first replacement, whatever the other slots did.
pub fn worker_name(supervisor: &str, slot: usize, restarts: usize) -> String {
    if restarts == 0 {
        format!("{supervisor}/w{slot}")
    } else {
        format!("{supervisor}/w{slot}#{restarts}")
    }
}
// ANCHOR_END: policy
