//! Part 2: a WaitGroup built on park/unpark.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use lesson_05_join_and_waitgroup::{Log, ORDERS, WaitGroup, dinner_rush, run_deterministic};

/// Lines stamped with the same virtual millisecond are sorted: which of them is logged first
/// depends on scheduling details that differ between correct solutions.
fn by_time(mut lines: Vec<String>) -> String {
    // The stamps are right-aligned, so sorting whole lines sorts by time first.
    lines.sort();
    lines.join("\n")
}

#[test]
fn wait_returns_after_every_done() {
    let lines = run_deterministic(1, || {
        let log = Log::new();
        dinner_rush(&ORDERS, &log);
        log.lines()
    });
    insta::assert_snapshot!(by_time(lines));
}

#[test]
fn wait_holds_for_every_seed() {
    for seed in 0..32 {
        let plates = run_deterministic(seed, || dinner_rush(&ORDERS, &Log::new()));
        assert_eq!(
            plates,
            ["bread", "tea", "soup"],
            "seed {seed}: wait() returned before every cook called done()"
        );
    }
}

#[test]
fn every_waiter_is_released() {
    // Two tasks wait on the same group; both must get out, and only after the work is done.
    let lines = run_deterministic(7, || {
        let log = Log::new();
        let wg = WaitGroup::new();
        wg.add(1);
        let waiters: Vec<_> = (1..=2)
            .map(|n| {
                let (wg, log) = (wg.clone(), log.clone());
                goro::spawn(move || {
                    wg.wait();
                    log.say(&format!("waiter {n}"), "released");
                })
            })
            .collect();
        goro::sleep(Duration::from_millis(50));
        log.say("main", "done");
        wg.done();
        for waiter in waiters {
            waiter.join().unwrap();
        }
        log.lines()
    });
    let released: Vec<_> = lines.iter().filter(|l| l.ends_with("released")).collect();
    assert_eq!(
        released.len(),
        2,
        "both waiters must return:\n{}",
        lines.join("\n")
    );
    assert!(
        released.iter().all(|l| l.trim_start().starts_with("50ms")),
        "waiters must stay parked until done() at 50ms:\n{}",
        lines.join("\n")
    );
}

#[test]
fn done_without_add_panics() {
    // Go panics here too: a negative counter means somebody's bookkeeping is wrong.
    let payload = std::panic::catch_unwind(|| WaitGroup::new().done())
        .expect_err("done() without add() must panic, not wrap the counter around");
    let message = payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or_default();
    assert!(
        message.contains("negative WaitGroup counter"),
        "the panic message should name the bug (\"negative WaitGroup counter\"), got: {message:?}"
    );
}

#[test]
fn wait_on_an_empty_group_returns_at_once() {
    let finished = run_deterministic(3, || {
        WaitGroup::new().wait();
        true
    });
    assert!(finished);
}

#[test]
fn a_group_can_be_reused() {
    let total = run_deterministic(11, || {
        let sum = Arc::new(Mutex::new(0));
        let wg = WaitGroup::new();
        for round in 0..2 {
            for i in 1..=3 {
                wg.add(1);
                let (wg, sum) = (wg.clone(), Arc::clone(&sum));
                goro::spawn(move || {
                    goro::sleep(Duration::from_millis(i));
                    *sum.lock().unwrap() += round * 10 + i;
                    wg.done();
                });
            }
            wg.wait();
        }
        *sum.lock().unwrap()
    });
    assert_eq!(
        total,
        6 + 36,
        "wait() returned while a round was still running"
    );
}

#[test]
fn wait_parks_the_waiter() {
    // While main waits, the worker takes a goroutine dump. Main must show up parked in the
    // WaitGroup (Go shows `[sync.WaitGroup.Wait]`), not running, runnable, or already gone.
    let dump = run_deterministic(4, || {
        let wg = WaitGroup::new();
        let seen = Arc::new(Mutex::new(String::new()));
        wg.add(1);
        let (worker_wg, worker_seen) = (wg.clone(), Arc::clone(&seen));
        goro::spawn(move || {
            goro::sleep(Duration::from_millis(5));
            *worker_seen.lock().unwrap() = goro::debug::dump();
            worker_wg.done();
        });
        wg.wait();
        seen.lock().unwrap().clone()
    });
    // goro prints the wait reason with its Display words; compare with those, whatever they are.
    let parked = format!("goroutine 1 [{}]:", goro::task::WaitReason::WaitGroup);
    assert!(
        dump.contains(&parked),
        "main should be parked with WaitReason::WaitGroup while it waits; the worker's dump was:\n{}",
        if dump.is_empty() {
            "(nothing: the worker never got to take it)"
        } else {
            &dump
        }
    );
}
