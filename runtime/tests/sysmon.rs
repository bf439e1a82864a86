//! sysmon: a worker stuck in one task is noticed, marked in the dump, asked to yield at its
//! next `checkpoint()`, and timers still fire. Progress is asserted, never durations.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use goro::runtime::Builder;

fn workers(n: usize) -> goro::Runtime {
    Builder::new().workers(n).build().unwrap()
}

#[test]
fn checkpoint_lets_a_task_queued_on_the_same_worker_run() {
    // One worker: the setter can only run if the spinning main task gives the worker up, and
    // main only yields when sysmon asks it to.
    let rounds = workers(1)
        .block_on(|| {
            let flag = Arc::new(AtomicBool::new(false));
            let f = flag.clone();
            let setter = goro::spawn(move || f.store(true, Ordering::Release));
            let mut rounds = 0u64;
            while !flag.load(Ordering::Acquire) {
                rounds += 1;
                goro::task::checkpoint();
            }
            setter.join().unwrap();
            rounds
        })
        .unwrap();
    assert!(rounds > 0);
}

#[test]
fn channel_operations_honour_the_request_too() {
    // The same, with no checkpoint: the loop's only yield points are a send and a receive on
    // a buffered channel, which never block here. sysmon's request is taken at one of them.
    let rounds = workers(1)
        .block_on(|| {
            let flag = Arc::new(AtomicBool::new(false));
            let f = flag.clone();
            let setter = goro::spawn(move || f.store(true, Ordering::Release));
            let (tx, rx) = goro::chan::bounded::<u64>(1);
            let mut rounds = 0u64;
            while !flag.load(Ordering::Acquire) {
                tx.send(rounds).unwrap();
                rounds += rx.recv().unwrap() - rounds + 1;
            }
            setter.join().unwrap();
            rounds
        })
        .unwrap();
    assert!(rounds > 0);
}

#[test]
fn mutex_operations_honour_the_request_too() {
    let rounds = workers(1)
        .block_on(|| {
            let flag = Arc::new(AtomicBool::new(false));
            let f = flag.clone();
            let setter = goro::spawn(move || f.store(true, Ordering::Release));
            let m = goro::sync::Mutex::new(0u64);
            while !flag.load(Ordering::Acquire) {
                *m.lock() += 1;
            }
            setter.join().unwrap();
            m.into_inner()
        })
        .unwrap();
    assert!(rounds > 0);
}

#[test]
fn the_dump_names_a_worker_stuck_in_one_task() {
    let dump = workers(1)
        .block_on(|| {
            // Never yields: it only stops once the dump says it is a hog.
            loop {
                let d = goro::debug::dump();
                if d.contains("without yielding") {
                    return d;
                }
                std::hint::spin_loop();
            }
        })
        .unwrap();
    assert!(
        dump.starts_with("worker 0: goroutine 1 (main) running for "),
        "the hog's worker and task are named first:\n{dump}"
    );
}

#[test]
fn a_spinning_task_does_not_stop_queued_work_from_running_elsewhere() {
    const TASKS: usize = 100;
    let done = workers(2)
        .block_on(|| {
            let stop = Arc::new(AtomicBool::new(false));
            let s = stop.clone();
            let spinner = goro::spawn(move || {
                while !s.load(Ordering::Acquire) {
                    std::hint::spin_loop();
                }
            });
            let count = Arc::new(AtomicUsize::new(0));
            let tasks: Vec<_> = (0..TASKS)
                .map(|_| {
                    let (count, stop) = (count.clone(), stop.clone());
                    goro::spawn(move || {
                        if count.fetch_add(1, Ordering::AcqRel) + 1 == TASKS {
                            stop.store(true, Ordering::Release);
                        }
                    })
                })
                .collect();
            for t in tasks {
                t.join().unwrap();
            }
            spinner.join().unwrap();
            count.load(Ordering::Acquire)
        })
        .unwrap();
    assert_eq!(done, TASKS);
}

#[test]
fn timers_fire_while_every_worker_computes() {
    // One worker that never reaches a scheduling point: only sysmon can fire the timer that
    // sends on `after`'s channel.
    let fired = workers(1)
        .block_on(|| {
            let rx = goro::time::after(Duration::from_millis(5));
            loop {
                if rx.try_recv().is_ok() {
                    return true;
                }
                std::hint::spin_loop();
            }
        })
        .unwrap();
    assert!(fired);
}
