//! The ring under real threads: every task is taken exactly once, whoever takes it. This test
//! counts; it never measures time.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use lesson_12_work_stealing::Ring;

/// One run: worker 0 spawns `tasks` tasks in bursts, every worker takes from its own ring,
/// then the global queue, then steals; each returns what it took.
fn run(workers: usize, tasks: u64) -> Vec<Vec<u64>> {
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

fn check(workers: usize, tasks: u64) {
    let taken = run(workers, tasks);
    let mut count = vec![0u32; tasks as usize];
    for t in taken.iter().flatten() {
        count[*t as usize] += 1;
    }
    let lost: Vec<usize> = (0..count.len()).filter(|&t| count[t] == 0).collect();
    let twice: Vec<usize> = (0..count.len()).filter(|&t| count[t] > 1).collect();
    assert!(
        lost.is_empty() && twice.is_empty(),
        "{workers} workers, {tasks} tasks: {} lost (first: {:?}), {} taken more than once \
         (first: {:?}). Every task must be claimed by exactly one compare-and-swap of a \
         ring's head.",
        lost.len(),
        &lost[..lost.len().min(8)],
        twice.len(),
        &twice[..twice.len().min(8)],
    );
}

// ANCHOR: exactly_once
#[test]
fn every_task_is_taken_exactly_once() {
    for workers in [2, 4] {
        for _ in 0..3 {
            check(workers, 20_000);
        }
    }
}
// ANCHOR_END: exactly_once
