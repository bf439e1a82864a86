//! `task::blocking`: a blocking call runs on a spare thread while the caller's worker keeps
//! running its other tasks. Every assertion counts progress; none measures time.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use goro::runtime::Builder;
use goro::task::blocking;

/// One worker: if `blocking` held the worker's thread, nothing else could run at all.
fn one_worker() -> goro::Runtime {
    Builder::new().workers(1).build().unwrap()
}

#[test]
fn a_thousand_tasks_progress_while_one_blocks_for_a_second() {
    const TASKS: usize = 1_000;
    let progress = one_worker()
        .block_on(|| {
            let done = Arc::new(AtomicBool::new(false));
            let rounds: Arc<Vec<AtomicUsize>> =
                Arc::new((0..TASKS).map(|_| AtomicUsize::new(0)).collect());
            let tickers: Vec<_> = (0..TASKS)
                .map(|i| {
                    let (done, rounds) = (done.clone(), rounds.clone());
                    goro::spawn(move || {
                        while !done.load(Ordering::Relaxed) {
                            rounds[i].fetch_add(1, Ordering::Relaxed);
                            goro::yield_now();
                        }
                    })
                })
                .collect();
            let blocker = goro::spawn(|| blocking(|| std::thread::sleep(Duration::from_secs(1))));
            blocker.join().unwrap();
            // What every ticker did while the only worker's blocking call was in flight.
            let during: Vec<usize> = rounds.iter().map(|r| r.load(Ordering::Relaxed)).collect();
            done.store(true, Ordering::Relaxed);
            for t in tickers {
                t.join().unwrap();
            }
            during
        })
        .unwrap();
    assert!(
        progress.iter().all(|&n| n > 0),
        "{} of {TASKS} tasks made no progress while one task blocked",
        progress.iter().filter(|&&n| n == 0).count()
    );
}

#[test]
fn the_blocking_call_waits_for_progress_only_other_tasks_can_make() {
    // The blocking call returns only once 1,000 tasks on the same (only) worker have each
    // done 10 rounds: it cannot return unless they run while it blocks.
    const TASKS: usize = 1_000;
    let released = one_worker()
        .block_on(|| {
            let (tx, rx) = std::sync::mpsc::channel::<()>();
            let left = Arc::new(AtomicUsize::new(TASKS));
            for _ in 0..TASKS {
                let (left, tx) = (left.clone(), tx.clone());
                goro::spawn(move || {
                    for _ in 0..10 {
                        goro::yield_now();
                    }
                    if left.fetch_sub(1, Ordering::AcqRel) == 1 {
                        tx.send(()).unwrap();
                    }
                });
            }
            drop(tx);
            blocking(move || rx.recv_timeout(Duration::from_secs(60)).is_ok())
        })
        .unwrap();
    assert!(
        released,
        "the other tasks did not run while the call blocked"
    );
}

#[test]
fn spare_threads_are_capped_and_reused() {
    let rt = Builder::new()
        .workers(2)
        .max_blocking_threads(2)
        .build()
        .unwrap();
    let (max_seen, started) = rt
        .block_on(|| {
            let now = Arc::new(AtomicUsize::new(0));
            let max = Arc::new(AtomicUsize::new(0));
            let calls: Vec<_> = (0..20)
                .map(|_| {
                    let (now, max) = (now.clone(), max.clone());
                    goro::spawn(move || {
                        blocking(move || {
                            let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                            max.fetch_max(n, Ordering::SeqCst);
                            std::thread::sleep(Duration::from_millis(2));
                            now.fetch_sub(1, Ordering::SeqCst);
                        })
                    })
                })
                .collect();
            for c in calls {
                c.join().unwrap();
            }
            (
                max.load(Ordering::SeqCst),
                goro::debug::stats().blocking_threads,
            )
        })
        .unwrap();
    assert!(
        max_seen <= 2,
        "{max_seen} calls ran at once with a cap of 2"
    );
    assert!(
        started <= 2,
        "{started} spare threads started with a cap of 2"
    );
}

#[test]
fn a_panic_in_the_blocking_call_reaches_the_caller() {
    let r = one_worker()
        .block_on(|| goro::spawn(|| blocking(|| panic!("disk on fire"))).join())
        .unwrap();
    let payload = r.unwrap_err();
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"disk on fire"));
}

#[test]
fn a_task_in_a_blocking_call_shows_syscall_in_the_dump_and_is_not_deadlocked() {
    let dump = Builder::new()
        .deterministic(5)
        .build()
        .unwrap()
        .block_on(|| {
            let (tx, rx) = std::sync::mpsc::channel::<()>();
            let h = goro::task::Builder::new()
                .name("reader")
                .spawn(move || blocking(move || rx.recv().unwrap()))
                .unwrap();
            let dump = loop {
                goro::yield_now();
                let d = goro::debug::dump();
                if d.contains("[syscall]") {
                    break d;
                }
            };
            tx.send(()).unwrap();
            h.join().unwrap();
            dump
        })
        .unwrap();
    assert!(dump.contains("[syscall]:\n    name: reader"), "{dump}");
}

#[test]
fn outside_a_runtime_the_call_just_runs() {
    assert_eq!(blocking(|| 5), 5);
}
