//! Cheap pseudo-random numbers for the runtime's own choices: which worker a thief tries
//! first, which `select!` arm is looked at first, which task runs next in deterministic mode.
//!
//! Not for users: the generators are fast, not strong. Inside a deterministic runtime every
//! worker seeds them from the run's seed, so those choices replay.
//!
//! Go counterpart: `cheaprand` in `runtime/rand.go`. Lessons: 08 (`select!` picks a ready arm
//! at random) and 04 (deterministic mode).

use std::cell::Cell;

thread_local! {
    static FASTRAND: Cell<u64> = const { Cell::new(0) };
}

/// A fast per-thread pseudo-random number (xorshift64). Inside a deterministic runtime the
/// worker seeds it from the runtime's seed, so random choices (such as `select!`'s) replay.
pub(crate) fn fastrand() -> u64 {
    FASTRAND.with(|c| {
        let mut x = c.get();
        if x == 0 {
            let local = 0u8;
            x = splitmix(
                (&local as *const u8 as u64)
                    ^ std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |d| d.as_nanos() as u64),
            ) | 1;
        }
        x = xorshift(x);
        c.set(x);
        x
    })
}

/// Seeds this thread's [`fastrand`] (deterministic mode).
pub(crate) fn seed_fastrand(seed: u64) {
    FASTRAND.with(|c| c.set(seed | 1));
}

/// A splitmix64 step: turns a seed into a well-mixed state.
pub(crate) fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// One xorshift64 step (state must be non-zero).
pub(crate) fn xorshift(mut x: u64) -> u64 {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    x
}
