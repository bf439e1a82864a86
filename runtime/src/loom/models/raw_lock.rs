//! Models of the raw futex lock (`wait/lock.rs`), through [`Locked`], the only way the crate
//! uses it: `with`, and the guardless `lock`/`unlock` pair `select!` uses. Under loom the lock
//! spins twice before it sleeps (instead of 100 times), and sleeps on a model of the futex
//! (`crate::loom::futex`) in which a sleeper nobody wakes stays asleep.

use std::sync::Arc;

use ::loom::cell::UnsafeCell;
use ::loom::thread;

use super::check;
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

/// Three threads each run one critical section, two with `Locked::with`, one with the
/// guardless `lock`/`unlock`; with three contenders a thread can find the lock taken through
/// both of its spins and sleep (rule 3: it marks the lock `CONTENDED`), and the unlock must
/// wake it.
///
/// Checks **mutual exclusion** (no two critical sections overlap: loom finds no race on the
/// counter and no update is lost) and **no lost wakeup** (a sleeper is always woken: loom
/// would report a thread asleep forever as a deadlock).
#[test]
fn loom_raw_lock_excludes_and_wakes_sleepers() {
    check("raw lock, three threads", 3, || {
        let g = Arc::new(Guarded {
            lock: Locked::new(()),
            count: UnsafeCell::new(0),
        });
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let g = g.clone();
                thread::spawn(move || g.lock.with(|()| g.increment()))
            })
            .collect();
        g.lock.lock();
        g.increment();
        g.lock.unlock();
        for t in threads {
            t.join().unwrap();
        }
        // SAFETY: every other thread has finished.
        let n = g.count.with(|c| unsafe { *c });
        assert_eq!(n, 3, "an update was lost");
    });
}

/// Two threads each take the lock twice in a row, so an unlock races a relock by the same
/// thread against the other's tries.
///
/// Checks **mutual exclusion** across repeated hand-overs. (Nobody sleeps here: loom lets a
/// holder run while the only other thread yields in its spin, so sleeping and the wakeup are
/// the three-thread model's part; taking out the unlock's `futex_wake_one` makes that model
/// fail with a deadlock.)
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
