//! Models of the local run queue (`sched/queue.rs`): the owner's `push` (with its overflow
//! path, Go's `runqputslow`) and `pop`, and a thief's `steal_from` (Go's `runqgrab` /
//! `runqsteal`, as `Worker::steal` in `sched/steal.rs` calls it). Under loom the ring has 4
//! slots (`CAPACITY`), so a handful of tasks fill it and wrap around it.

use std::sync::Arc;

use ::loom::cell::UnsafeCell;
use ::loom::thread;

use super::{check, task};
use crate::sched::{CAPACITY, RunQueue};
use crate::task::record::TaskRef;

/// What the owner puts in a task before queueing it: a loom cell per task id, written before
/// `push` and read by whoever takes the task, so loom checks the entry was published to the
/// taker (a missing Release/Acquire edge is a causality error).
struct Payloads(Vec<UnsafeCell<u64>>);

// SAFETY: each cell is written by the owner before it pushes the task and read after a take;
// whether those accesses are ordered is exactly what loom checks on these cells.
unsafe impl Sync for Payloads {}

impl Payloads {
    fn new(n: u64) -> Payloads {
        Payloads((0..=n).map(|_| UnsafeCell::new(0)).collect())
    }

    /// Owner: fills task `id`'s payload, then makes the task.
    fn make(&self, id: u64) -> TaskRef {
        // SAFETY: nobody else can reach task `id` before it is pushed.
        self.0[id as usize].with_mut(|p| unsafe { *p = id * 10 });
        task(id)
    }

    /// A taker: reads the payload of the task it took and returns the id.
    fn take(&self, t: TaskRef) -> u64 {
        // SAFETY: read-only; loom reports a race if the owner's write is not ordered before.
        let v = self.0[t.id as usize].with(|p| unsafe { *p });
        assert_eq!(v, t.id * 10, "task {} taken before its contents", t.id);
        t.id
    }
}

/// Every id in `1..=n` exactly once in `taken`.
fn assert_each_once(mut taken: Vec<u64>, n: u64) {
    taken.sort_unstable();
    assert_eq!(
        taken,
        (1..=n).collect::<Vec<_>>(),
        "each task must be taken exactly once"
    );
}

/// The owner pushes five tasks into its 4-slot ring, popping one between the fourth and the
/// fifth push (so the fifth wraps onto the popped slot), then pops until empty; a thief steals
/// half of the ring into its own and then pops its own ring dry.
///
/// Checks rule 1 of the queues: **every task is taken exactly once** (by the owner's pop, by
/// the thief's steal and its pops, or left queued), never lost, never duplicated, even when
/// the thief copies slots that the owner is overwriting (its compare-and-swap of `head` must
/// then fail); and every taker sees the task as the owner filled it (loom cells).
#[test]
fn loom_run_queue_push_pop_and_steal_take_each_task_once() {
    assert_eq!(CAPACITY, 4, "the models assume a 4-slot ring under loom");
    check("run queue, pop vs steal", 3, || {
        let owner = Arc::new(RunQueue::new());
        let payloads = Arc::new(Payloads::new(5));
        let thief = {
            let (owner, payloads) = (owner.clone(), payloads.clone());
            thread::spawn(move || {
                let mine = RunQueue::new();
                let mut taken = Vec::new();
                if let Some((t, n)) = mine.steal_from(&owner) {
                    assert!(n >= 1 && n as u32 <= CAPACITY / 2, "stole {n} of at most 4");
                    taken.push(payloads.take(t));
                }
                while let Some(t) = mine.pop() {
                    taken.push(payloads.take(t));
                }
                taken
            })
        };
        let mut taken = Vec::new();
        for id in 1..=4 {
            assert!(owner.push(payloads.make(id)).is_ok(), "room for four");
        }
        if let Some(t) = owner.pop() {
            taken.push(payloads.take(t));
        }
        match owner.push(payloads.make(5)) {
            Ok(()) => {}
            Err(_) => panic!("a pop made room for the fifth task"),
        }
        while let Some(t) = owner.pop() {
            taken.push(payloads.take(t));
        }
        taken.extend(thief.join().unwrap());
        assert_each_once(taken, 5);
    });
}

/// The owner pushes six tasks into its 4-slot ring without popping: the fifth finds it full
/// (unless a thief made room) and moves half of it, plus itself, out to the global queue
/// (`push`'s `Err`); a thief steals meanwhile.
///
/// Checks that the overflow path hands **each task to exactly one place** (the global queue's
/// batch, the thief, or the ring), including when a steal races the owner's grab of half the
/// ring (one compare-and-swap of `head` loses and retries).
#[test]
fn loom_run_queue_overflow_and_steal_take_each_task_once() {
    check("run queue, overflow vs steal", 3, || {
        let owner = Arc::new(RunQueue::new());
        let payloads = Arc::new(Payloads::new(6));
        let thief = {
            let (owner, payloads) = (owner.clone(), payloads.clone());
            thread::spawn(move || {
                let mine = RunQueue::new();
                let mut taken = Vec::new();
                if let Some((t, _)) = mine.steal_from(&owner) {
                    taken.push(payloads.take(t));
                }
                while let Some(t) = mine.pop() {
                    taken.push(payloads.take(t));
                }
                taken
            })
        };
        let mut taken = Vec::new();
        for id in 1..=6 {
            if let Err((t, batch)) = owner.push(payloads.make(id)) {
                assert_eq!(
                    batch.len() as u32,
                    CAPACITY / 2,
                    "overflow moves half the ring"
                );
                taken.push(payloads.take(t));
                taken.extend(batch.into_iter().map(|t| payloads.take(t)));
            }
        }
        taken.extend(thief.join().unwrap());
        while let Some(t) = owner.pop() {
            taken.push(payloads.take(t));
        }
        assert_each_once(taken, 6);
    });
}

/// Two thieves steal from one owner's ring of three while the owner pops.
///
/// Checks that concurrent thieves and the owner **never take the same task** and never lose
/// one: each `head` compare-and-swap transfers a disjoint range.
#[test]
fn loom_run_queue_two_thieves_take_each_task_once() {
    check("run queue, two thieves", 3, || {
        let owner = Arc::new(RunQueue::new());
        let payloads = Arc::new(Payloads::new(3));
        for id in 1..=3 {
            assert!(owner.push(payloads.make(id)).is_ok());
        }
        let thieves: Vec<_> = (0..2)
            .map(|_| {
                let (owner, payloads) = (owner.clone(), payloads.clone());
                thread::spawn(move || {
                    let mine = RunQueue::new();
                    let mut taken = Vec::new();
                    if let Some((t, _)) = mine.steal_from(&owner) {
                        taken.push(payloads.take(t));
                    }
                    while let Some(t) = mine.pop() {
                        taken.push(payloads.take(t));
                    }
                    taken
                })
            })
            .collect();
        let mut taken = Vec::new();
        if let Some(t) = owner.pop() {
            taken.push(payloads.take(t));
        }
        for th in thieves {
            taken.extend(th.join().unwrap());
        }
        while let Some(t) = owner.pop() {
            taken.push(payloads.take(t));
        }
        assert_each_once(taken, 3);
    });
}
