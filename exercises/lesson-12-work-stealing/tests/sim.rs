//! Several workers, simulated step by step: where each task runs, and why.

use std::collections::VecDeque;

use lesson_12_work_stealing::Ring;
use lesson_12_work_stealing::schedule::find_task;
use lesson_12_work_stealing::sim::{FAIRNESS_TICK, Found, Places, Sim, Source};

// ANCHOR: burst
/// A main task on w0 spawns twelve tasks at once; w1 and w2 start idle.
fn burst(seed: u64) -> Sim {
    let mut sim = Sim::new(3, seed);
    let main = sim.task(1);
    for i in 0..12 {
        let child = sim.task(2 + i % 3);
        sim.spawns(main, child);
    }
    sim.queue_on(0, main);
    sim
}

#[test]
fn three_workers_share_a_burst() {
    let report = burst(7).run(100);
    insta::assert_snapshot!(report.trace);
}
// ANCHOR_END: burst

// ANCHOR: starved
#[test]
fn the_global_queue_is_not_starved() {
    // One worker, busy with a chain of 200 tasks that each spawn the next into its ring; and
    // one task that came from outside, in the global queue.
    let mut sim = Sim::new(1, 1);
    let mut previous = sim.task(1);
    sim.queue_on(0, previous);
    for _ in 1..200 {
        let next = sim.task(1);
        sim.spawns(previous, next);
        previous = next;
    }
    let outsider = sim.task(1);
    sim.queue_global(outsider);
    let start = sim.run(1_000).start_of(outsider);
    assert!(
        start.tick <= FAIRNESS_TICK,
        "the task in the global queue started at w0's scheduling tick {}: a worker whose own \
         ring never empties must still look at the global queue first every {FAIRNESS_TICK} \
         ticks",
        start.tick
    );
}
// ANCHOR_END: starved

#[test]
fn a_fairness_tick_takes_one_task_from_the_global_queue() {
    for own_tasks in [vec![100], vec![]] {
        let own = Ring::new();
        for &t in &own_tasks {
            own.push(t).expect("an empty ring has room");
        }
        let mut global: VecDeque<u64> = (1..=12).collect();
        let found = find_task(Places {
            tick: 2 * FAIRNESS_TICK,
            own: &own,
            global: &mut global,
            victims: Vec::new(),
            workers: 4,
        });
        assert_eq!(
            found,
            Some(Found {
                task: 1,
                source: Source::FairnessTick
            }),
            "tick {} is a fairness tick: the global queue goes first (own ring: {own_tasks:?})",
            2 * FAIRNESS_TICK
        );
        assert_eq!(
            (own.len(), global.len()),
            (own_tasks.len(), 11),
            "on a fairness tick a worker takes one task from the global queue, not a share \
             (own ring before: {own_tasks:?})"
        );
    }
}

#[test]
fn an_idle_worker_takes_a_fair_share_of_the_global_queue() {
    let own = Ring::new();
    let mut global: VecDeque<u64> = (1..=12).collect();
    let found = find_task(Places {
        tick: 1,
        own: &own,
        global: &mut global,
        victims: Vec::new(),
        workers: 4,
    });
    assert_eq!(
        found,
        Some(Found {
            task: 1,
            source: Source::Global
        })
    );
    assert_eq!(
        own.len(),
        3,
        "12 tasks in the global queue and 4 workers: the page's fair share is 4, one to run now \
         and 3 for the worker's own ring"
    );
    assert_eq!(global.len(), 8);

    let own = Ring::new();
    let mut global: VecDeque<u64> = (1..=100).collect();
    find_task(Places {
        tick: 1,
        own: &own,
        global: &mut global,
        victims: Vec::new(),
        workers: 2,
    });
    assert_eq!(
        own.len(),
        3,
        "never more than half a ring from the global queue (4: one to run, 3 queued), so that \
         the worker's next spawns do not spill straight back"
    );
}

#[test]
fn every_task_runs_exactly_once_whatever_the_seed() {
    // A small tree (1 + 5 + 25 tasks) on three workers, under many schedules. The simulation
    // itself panics if a task is handed out twice or never.
    for seed in 0..40 {
        let mut sim = Sim::new(3, seed);
        let root = sim.task(1);
        for _ in 0..5 {
            let mid = sim.task(2);
            sim.spawns(root, mid);
            for _ in 0..5 {
                let leaf = sim.task(1 + (seed % 3) as u32);
                sim.spawns(mid, leaf);
            }
        }
        sim.queue_on(0, root);
        let report = sim.run(500);
        assert_eq!(report.started_per_worker().iter().sum::<usize>(), 31);
    }
}
