//! Models of the raw spin lock (`wait/lock.rs`), through [`Locked`], the only way the crate
//! uses it: `with`, and the guardless `lock`/`unlock` pair `select!` uses. Under loom a waiter
//! pauses once, yields once, and then naps until an unlock (`crate::loom::nap`).

use std::sync::Arc;

use ::loom::cell::UnsafeCell;
use ::loom::thread;

use super::{check, expect_model_failure};
use crate::wait::Locked;

/// A counter guarded by the lock, in a loom cell: loom reports any two accesses to it that the
/// lock does not order (a race), so this checks mutual exclusion directly.
struct Guarded {
    lock: Locked<()>,
    count: UnsafeCell<usize>,
}

// SAFETY: `count` is only touched with `lock` held; that the lock really orders those
// accesses is what loom checks on the cell.
unsafe impl Sync for Guarded {}
// SAFETY: as above.
unsafe impl Send for Guarded {}

impl Guarded {
    /// One critical section: read the count, then write it back plus one, as two separate
    /// accesses, so an overlapping section would lose an update as well as race.
    fn increment(&self) {
        // SAFETY: the lock is held (the caller's `lock` or `with`).
        let n = self.count.with(|c| unsafe { *c });
        // SAFETY: as above.
        self.count.with_mut(|c| unsafe { *c = n + 1 });
    }
}

/// Two threads each run one critical section, one with `Locked::with`, one with the
/// guardless `lock`/`unlock` that `select!` uses.
///
/// Checks **mutual exclusion** (no two critical sections overlap: loom finds no race on the
/// counter and no update is lost) and **progress** (the waiter gets the lock: a thread that
/// never could would leave loom's model unfinished).
#[test]
fn loom_raw_lock_excludes_guarded_and_guardless_sections() {
    check("raw lock, with and lock/unlock", 3, || {
        assert_eq!(one_section_each(true), 2, "an update was lost");
    });
}

/// One critical section on another thread (`with`) and one here: guardless (`lock`/`unlock`)
/// or with `with` too. Returns the counter.
fn one_section_each(guardless: bool) -> usize {
    let g = Arc::new(Guarded {
        lock: Locked::new(()),
        count: UnsafeCell::new(0),
    });
    let other = {
        let g = g.clone();
        thread::spawn(move || g.lock.with(|()| g.increment()))
    };
    if guardless {
        g.lock.lock();
        g.increment();
        g.lock.unlock();
    } else {
        g.lock.with(|()| g.increment());
    }
    other.join().unwrap();
    // SAFETY: the other thread has finished.
    g.count.with(|c| unsafe { *c })
}

/// Two threads each take the lock twice in a row, so an unlock races a relock by the same
/// thread against the other's tries.
///
/// Checks **mutual exclusion** across repeated hand-overs.
#[test]
fn loom_raw_lock_hands_over_repeatedly() {
    check("raw lock, two threads twice", 3, || {
        let g = Arc::new(Guarded {
            lock: Locked::new(()),
            count: UnsafeCell::new(0),
        });
        let other = {
            let g = g.clone();
            thread::spawn(move || {
                for _ in 0..2 {
                    g.lock.with(|()| g.increment());
                }
            })
        };
        for _ in 0..2 {
            g.lock.with(|()| g.increment());
        }
        other.join().unwrap();
        // SAFETY: the other thread has finished.
        let n = g.count.with(|c| unsafe { *c });
        assert_eq!(n, 4, "an update was lost");
    });
}

/// The model must fail when the lock is broken: with the mutation switched on, `unlock` is a
/// relaxed store (`crate::loom::mutation`), so a critical section's writes are no longer
/// ordered before the next holder's reads, and loom must report the race on the counter. The
/// same model passes with the mutation off (`loom_raw_lock_hands_over_repeatedly`).
/// (Loom's panic message, printed while this test runs, is the expected catch.)
#[test]
fn loom_raw_lock_model_catches_a_relaxed_unlock() {
    expect_model_failure(
        || {
            crate::loom::mutation::with_relaxed_unlock(|| {
                check("raw lock, mutated", 3, || {
                    one_section_each(false);
                });
            })
        },
        "Causality violation",
        "loom passed a lock whose unlock orders nothing",
    );
}
