//! Deterministic mode: a seed fixes the interleaving, ids and the (virtual) clock.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use goro::Runtime;
use goro::runtime::RunError;

/// Five tasks that log their steps, yield, sleep and park/unpark each other.
fn trace(seed: u64) -> Vec<String> {
    Runtime::builder()
        .deterministic(seed)
        .build()
        .unwrap()
        .block_on(|| {
            let log = Arc::new(Mutex::new(Vec::new()));
            let handles: Vec<_> = (0..5)
                .map(|i| {
                    let log = log.clone();
                    goro::spawn(move || {
                        let me = goro::current().id();
                        for step in 0..4 {
                            log.lock().unwrap().push(format!("task {me} step {step}"));
                            if (i + step) % 2 == 0 {
                                goro::yield_now();
                            } else {
                                goro::sleep(Duration::from_millis(1 + (i as u64 * 3) % 5));
                            }
                        }
                    })
                })
                .collect();
            for h in handles {
                h.join().unwrap();
            }
            let guard = log.lock().unwrap();
            guard.clone()
        })
        .unwrap()
}

#[test]
fn same_seed_same_trace() {
    let first = trace(42);
    assert_eq!(first.len(), 20);
    for _ in 0..3 {
        assert_eq!(trace(42), first);
    }
}

#[test]
fn other_seeds_give_other_interleavings() {
    let traces: std::collections::HashSet<Vec<String>> = (0..10).map(trace).collect();
    assert!(traces.len() > 1, "10 seeds, one interleaving");
}

#[test]
fn ids_follow_spawn_order() {
    let ids = Runtime::builder()
        .deterministic(3)
        .build()
        .unwrap()
        .block_on(|| {
            let hs: Vec<_> = (0..10)
                .map(|_| goro::spawn(|| goro::current().id().as_u64()))
                .collect();
            hs.into_iter()
                .map(|h| h.join().unwrap())
                .collect::<Vec<_>>()
        })
        .unwrap();
    assert_eq!(ids, (2..12).collect::<Vec<u64>>());
}

#[test]
fn virtual_clock_jumps_over_sleeps() {
    let wall = Instant::now();
    let (virtual_elapsed, order) = Runtime::builder()
        .deterministic(9)
        .build()
        .unwrap()
        .block_on(|| {
            let start = goro::time::now();
            let order = Arc::new(Mutex::new(Vec::new()));
            let hs: Vec<_> = [3u64, 1, 2]
                .into_iter()
                .map(|hours| {
                    let order = order.clone();
                    goro::spawn(move || {
                        goro::sleep(Duration::from_secs(hours * 3600));
                        order.lock().unwrap().push(hours);
                    })
                })
                .collect();
            for h in hs {
                h.join().unwrap();
            }
            let order = order.lock().unwrap().clone();
            (goro::time::now() - start, order)
        })
        .unwrap();
    assert_eq!(order, vec![1, 2, 3]);
    assert!(
        virtual_elapsed >= Duration::from_secs(3 * 3600),
        "{virtual_elapsed:?}"
    );
    // Three hours of virtual sleeping took (much) less than an hour of real time.
    assert!(wall.elapsed() < Duration::from_secs(3600));
}

#[test]
fn deadlock_is_detected_in_deterministic_mode() {
    let err = Runtime::builder()
        .deterministic(1)
        .build()
        .unwrap()
        .block_on(goro::park)
        .unwrap_err();
    let RunError::Deadlock { dump } = err else {
        panic!("expected a deadlock, got {err:?}")
    };
    assert!(
        dump.starts_with("goroutine 1 [park]:\n    name: main\n    blocked at "),
        "{dump}"
    );
    assert!(
        dump.contains(&format!("\n    created at {}:", file!())),
        "{dump}"
    );
    assert_eq!(dump.lines().count(), 5, "{dump}");
}
