//! Models of `WaitGroup`'s counter and waiter protocol (`sync.rs`): `add`, `done` (its counting
//! half, `WaitGroup::arrive`, which returns the waiters to wake) and `wait` (its registering
//! half, `WaitGroup::enlist`, and its loop on `WaitGroup::waiting_for`), with the waiters woken
//! through the real park token ([`Sched`]).

use std::sync::Arc;

use ::loom::cell::UnsafeCell;
use ::loom::thread;

use super::{Sched, check, task};
use crate::sync::WaitGroup;
use crate::task::record::{Parker, TaskRef};

/// Work the counted tasks do before `done`: one loom cell each, read by the waiter after
/// `wait` returns, so loom checks that `done` publishes it (a race otherwise).
struct Work(Vec<UnsafeCell<u32>>);

// SAFETY: cell `i` is written by worker `i` before its `done` and read by waiters after
// `wait`; that these are ordered is what loom checks.
unsafe impl Sync for Work {}

impl Work {
    fn new(n: usize) -> Work {
        Work((0..n).map(|_| UnsafeCell::new(0)).collect())
    }

    fn finish(&self, i: usize) {
        // SAFETY: only worker `i` writes cell `i`, before its `done`.
        self.0[i].with_mut(|c| unsafe { *c = 1 });
    }

    fn assert_all_done(&self) {
        for (i, c) in self.0.iter().enumerate() {
            // SAFETY: read after `wait` returned; loom checks the ordering.
            let v = c.with(|c| unsafe { *c });
            assert_eq!(v, 1, "work {i} not visible after wait");
        }
    }
}

/// `WaitGroup::done` as the runtime runs it, with [`Sched`] standing in for the wakeups.
fn done(wg: &WaitGroup, sched: &Sched) {
    for p in wg.arrive() {
        sched.wake(crate::wait::Wakeup::Parker(p));
    }
}

/// `WaitGroup::wait` as the runtime runs it, for task `t`, with [`Sched::park`] standing in
/// for `park_with` (the same loop: enlist, then park while the generation is unchanged).
fn wait(wg: &WaitGroup, sched: &Sched, t: &TaskRef) {
    let Some(generation) = wg.enlist(|| Parker::Task(t.clone())) else {
        return;
    };
    while wg.waiting_for(generation) {
        sched.park(t);
    }
}

/// Two counted tasks finish (`done`) while one task waits.
///
/// Checks **no lost wakeup** (the waiter always returns: either it sees the counter at zero,
/// under the lock or before, or the last `done` finds its parker and wakes it; loom reports a
/// waiter parked forever as a deadlock), **`wait` returns only at zero** (the counter is 0
/// and both tasks' work is visible), and no waiter is queued twice ([`Sched`]).
#[test]
fn loom_wait_group_wait_returns_after_the_last_done() {
    check("wait group, two done, one wait", 3, || {
        let sched = Arc::new(Sched::new());
        let wg = WaitGroup::new();
        let work = Arc::new(Work::new(2));
        wg.add(2);
        let workers: Vec<_> = (0..2)
            .map(|i| {
                let (wg, sched, work) = (wg.clone(), sched.clone(), work.clone());
                thread::spawn(move || {
                    work.finish(i);
                    done(&wg, &sched);
                })
            })
            .collect();
        let waiter = task(1);
        wait(&wg, &sched, &waiter);
        assert_eq!(
            wg.count(),
            0,
            "wait returned before the counter reached zero"
        );
        work.assert_all_done();
        for w in workers {
            w.join().unwrap();
        }
        waiter.st.take_token();
        sched.assert_idle();
    });
}

/// One counted task finishes while two tasks wait.
///
/// Checks that **every waiter is woken** by the one `done` that reaches zero (the waiter list
/// is taken whole, and a waiter that registers after it is impossible: it sees zero under the
/// lock), and that each sees the task's work.
#[test]
fn loom_wait_group_one_done_wakes_every_waiter() {
    check("wait group, one done, two waits", 3, || {
        let sched = Arc::new(Sched::new());
        let wg = WaitGroup::new();
        let work = Arc::new(Work::new(1));
        wg.add(1);
        let waiters: Vec<_> = (0..2)
            .map(|i| {
                let (wg, sched, work) = (wg.clone(), sched.clone(), work.clone());
                thread::spawn(move || {
                    let t = task(10 + i);
                    wait(&wg, &sched, &t);
                    assert_eq!(wg.count(), 0);
                    work.assert_all_done();
                    t.st.take_token();
                })
            })
            .collect();
        work.finish(0);
        done(&wg, &sched);
        for w in waiters {
            w.join().unwrap();
        }
        sched.assert_idle();
    });
}
