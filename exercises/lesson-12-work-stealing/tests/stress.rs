//! The ring under real threads: every task is taken exactly once, whoever takes it. These tests
//! count; they never measure time.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use lesson_12_work_stealing::{CAPACITY, Ring};

/// Counts how often each of `0..tasks` appears in `taken` and fails if any is lost or doubled.
fn check(what: &str, tasks: u64, taken: &[Vec<u64>]) {
    let mut count = vec![0u32; tasks as usize];
    for &t in taken.iter().flatten() {
        match count.get_mut(t as usize) {
            Some(c) => *c += 1,
            None => panic!("{what}: task {t} was handed out, but only 0..{tasks} were pushed"),
        }
    }
    let lost: Vec<usize> = (0..count.len()).filter(|&t| count[t] == 0).collect();
    let twice: Vec<usize> = (0..count.len()).filter(|&t| count[t] > 1).collect();
    assert!(
        lost.is_empty() && twice.is_empty(),
        "{what}, {tasks} tasks: {} lost (first: {:?}), {} taken more than once (first: {:?}). \
         Every task must be claimed by exactly one compare-and-swap of a ring's head, and read \
         before that swap.",
        lost.len(),
        &lost[..lost.len().min(8)],
        twice.len(),
        &twice[..twice.len().min(8)],
    );
}

/// Worker 0 spawns `tasks` tasks in bursts; every worker takes from its own ring, then the
/// global queue, then steals; each returns what it took.
fn mixed(workers: usize, tasks: u64) -> Vec<Vec<u64>> {
    let rings: Vec<Ring> = (0..workers).map(|_| Ring::new()).collect();
    let global = Mutex::new(VecDeque::new());
    let spawning = AtomicBool::new(true);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..workers)
            .map(|me| {
                let (rings, global, spawning) = (&rings, &global, &spawning);
                s.spawn(move || {
                    let own = &rings[me];
                    let mut next = 0u64;
                    let mut taken = Vec::new();
                    let mut turn = me;
                    loop {
                        if me == 0 && next < tasks {
                            // A burst of spawns, more than the ring holds.
                            let end = (next + 13).min(tasks);
                            for t in next..end {
                                if let Err(spilled) = own.push(t) {
                                    global.lock().unwrap().extend(spilled);
                                }
                            }
                            next = end;
                            if next == tasks {
                                spawning.store(false, Ordering::SeqCst);
                            }
                        }
                        if let Some(t) = own.pop() {
                            taken.push(t);
                            continue;
                        }
                        let from_global = global.lock().unwrap().pop_front();
                        if let Some(t) = from_global {
                            taken.push(t);
                            continue;
                        }
                        turn += 1;
                        let victim = &rings[turn % workers];
                        if !std::ptr::eq(victim, own)
                            && let Some(t) = own.steal_into(victim)
                        {
                            taken.push(t);
                            continue;
                        }
                        let done = !spawning.load(Ordering::SeqCst)
                            && global.lock().unwrap().is_empty()
                            && rings.iter().all(Ring::is_empty);
                        if done {
                            return taken;
                        }
                        std::hint::spin_loop();
                    }
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

/// One owner keeps its ring full, pushing a task the moment there is room, while `thieves`
/// threads steal from it; each returns what it took (the owner includes what it spilled).
fn refilled(thieves: usize, tasks: u64) -> Vec<Vec<u64>> {
    let victim = Ring::new();
    let done = AtomicBool::new(false);
    std::thread::scope(|s| {
        let stealing: Vec<_> = (0..thieves)
            .map(|_| {
                let (victim, done) = (&victim, &done);
                s.spawn(move || {
                    let own = Ring::new();
                    let mut taken = Vec::new();
                    loop {
                        if let Some(t) = own.steal_into(victim) {
                            taken.push(t);
                            taken.extend(std::iter::from_fn(|| own.pop()));
                        } else if done.load(Ordering::SeqCst) {
                            return taken;
                        } else {
                            std::thread::yield_now();
                        }
                    }
                })
            })
            .collect();
        let mut taken = Vec::new();
        let mut next = 0;
        while next < tasks {
            if victim.len() < CAPACITY as usize {
                if let Err(spilled) = victim.push(next) {
                    taken.extend(spilled);
                }
                next += 1;
            } else if next % 64 == 0 {
                // Now and then the owner takes one itself, racing the thieves for `head`.
                taken.extend(victim.pop());
            } else {
                std::thread::yield_now();
            }
        }
        taken.extend(std::iter::from_fn(|| victim.pop()));
        done.store(true, Ordering::SeqCst);
        let mut all = vec![taken];
        all.extend(stealing.into_iter().map(|h| h.join().unwrap()));
        all
    })
}

// ANCHOR: exactly_once
#[test]
fn every_task_is_taken_exactly_once() {
    for workers in [2, 4] {
        check(
            &format!("{workers} workers"),
            20_000,
            &mixed(workers, 20_000),
        );
    }
}

#[test]
fn a_ring_refilled_while_thieves_steal_loses_nothing() {
    for round in 0..400 {
        let taken = refilled(3, 500);
        check(
            &format!("round {round}: an owner and 3 thieves"),
            500,
            &taken,
        );
    }
}
// ANCHOR_END: exactly_once
