//! Core behaviour: spawn, join, yield, park/unpark, sleep, current, num_goroutines.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use goro::runtime::RunError;
use goro::{Runtime, task};

#[test]
fn run_returns_the_main_value() {
    assert_eq!(goro::run(|| 6 * 7), 42);
}

#[test]
fn main_task_is_id_1_named_main() {
    let (id, name) = goro::run(|| {
        let me = goro::current();
        (me.id().as_u64(), me.name().map(str::to_owned))
    });
    assert_eq!(id, 1);
    assert_eq!(name.as_deref(), Some("main"));
}

#[test]
fn join_returns_each_tasks_value() {
    let sum = goro::run(|| {
        let hs: Vec<_> = (0..1000u64).map(|i| goro::spawn(move || i * 2)).collect();
        hs.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
    });
    assert_eq!(sum, 999 * 1000);
}

#[test]
fn join_of_a_non_copy_value() {
    let v = goro::run(|| goro::spawn(|| vec![String::from("a"), String::from("b")]).join());
    assert_eq!(v.unwrap(), vec!["a".to_string(), "b".to_string()]);
}

#[test]
fn spawned_ids_follow_spawn_order() {
    let ids = Runtime::builder()
        .workers(1)
        .build()
        .unwrap()
        .block_on(|| {
            let hs: Vec<_> = (0..5)
                .map(|_| goro::spawn(|| goro::current().id()))
                .collect();
            hs.into_iter()
                .map(|h| h.join().unwrap().as_u64())
                .collect::<Vec<_>>()
        })
        .unwrap();
    assert_eq!(ids, vec![2, 3, 4, 5, 6]);
}

#[test]
fn builder_names_a_task() {
    let name = goro::run(|| {
        task::Builder::new()
            .name("worker-7")
            .spawn(|| goro::current().name().map(str::to_owned))
            .unwrap()
            .join()
            .unwrap()
    });
    assert_eq!(name.as_deref(), Some("worker-7"));
}

#[test]
fn yield_now_interleaves_tasks_on_one_worker() {
    let log = run_log();
    assert!(log.windows(2).any(|w| w[0] != w[1]), "{log:?}");
}

#[test]
fn park_unpark_token_semantics() {
    goro::run(|| {
        // A token left before park makes park return at once.
        goro::current().unpark();
        goro::park();
        // A task parks until another unparks it.
        let me = goro::current();
        let flag = Arc::new(AtomicUsize::new(0));
        let f2 = flag.clone();
        let h = goro::spawn(move || {
            f2.store(1, Ordering::SeqCst);
            me.unpark();
        });
        while flag.load(Ordering::SeqCst) == 0 {
            goro::park();
        }
        h.join().unwrap();
    });
}

#[test]
fn unpark_from_a_plain_thread_wakes_a_task() {
    goro::run(|| {
        let me = goro::current();
        let done = Arc::new(AtomicUsize::new(0));
        let d2 = done.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            d2.store(1, Ordering::SeqCst);
            me.unpark();
        });
        // A pending timer keeps the deadlock detector quiet while the thread works.
        while done.load(Ordering::SeqCst) == 0 {
            task::park_timeout(Duration::from_millis(200));
        }
        t.join().unwrap();
    });
}

#[test]
fn sleep_waits_at_least_the_duration() {
    let elapsed = goro::run(|| {
        let start = Instant::now();
        goro::sleep(Duration::from_millis(30));
        start.elapsed()
    });
    assert!(elapsed >= Duration::from_millis(30));
}

#[test]
fn many_sleepers_all_wake() {
    let n = goro::run(|| {
        let count = Arc::new(AtomicUsize::new(0));
        let hs: Vec<_> = (0..200)
            .map(|i| {
                let c = count.clone();
                goro::spawn(move || {
                    goro::sleep(Duration::from_millis(1 + i % 7));
                    c.fetch_add(1, Ordering::SeqCst);
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        count.load(Ordering::SeqCst)
    });
    assert_eq!(n, 200);
}

#[test]
fn num_goroutines_counts_live_tasks() {
    goro::run(|| {
        assert_eq!(goro::num_goroutines(), 1);
        let stop = Arc::new(AtomicUsize::new(0));
        let hs: Vec<_> = (0..10)
            .map(|_| {
                let s = stop.clone();
                goro::spawn(move || {
                    while s.load(Ordering::SeqCst) == 0 {
                        goro::yield_now();
                    }
                })
            })
            .collect();
        assert_eq!(goro::num_goroutines(), 11);
        stop.store(1, Ordering::SeqCst);
        for h in hs {
            h.join().unwrap();
        }
        assert_eq!(goro::num_goroutines(), 1);
    });
    assert_eq!(goro::num_goroutines(), 0);
}

#[test]
fn spawn_outside_a_runtime_panics_with_advice() {
    let err = std::panic::catch_unwind(|| goro::spawn(|| ())).unwrap_err();
    let msg = err.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(msg.contains("outside a goro runtime"), "{msg}");
    assert!(msg.contains("goro::run"), "{msg}");
}

#[test]
fn builder_rejects_bad_settings() {
    let e = Runtime::builder().workers(0).build().unwrap_err();
    assert!(e.to_string().contains("workers(0)"), "{e}");
    let e = Runtime::builder()
        .deterministic(1)
        .workers(4)
        .build()
        .unwrap_err();
    assert!(e.to_string().contains("deterministic"), "{e}");
}

#[test]
fn deadlock_is_reported_with_a_dump() {
    let err = Runtime::builder()
        .workers(2)
        .build()
        .unwrap()
        .block_on(|| {
            let _h = task::Builder::new()
                .name("stuck")
                .spawn(goro::park)
                .unwrap();
            loop {
                goro::park();
            }
        })
        .unwrap_err();
    let RunError::Deadlock { dump } = &err else {
        unreachable!()
    };
    assert!(dump.contains("goroutine 1 [park]:"), "{dump}");
    assert!(dump.contains("name: stuck"), "{dump}");
    assert!(
        err.to_string()
            .starts_with("all goroutines are asleep - deadlock!")
    );
}

fn run_log() -> Vec<u32> {
    Runtime::builder()
        .workers(1)
        .build()
        .unwrap()
        .block_on(|| {
            let log = Arc::new(std::sync::Mutex::new(Vec::new()));
            let hs: Vec<_> = (0..2u32)
                .map(|who| {
                    let log = log.clone();
                    goro::spawn(move || {
                        for _ in 0..5 {
                            log.lock().unwrap().push(who);
                            goro::yield_now();
                        }
                    })
                })
                .collect();
            for h in hs {
                h.join().unwrap();
            }
            let guard = log.lock().unwrap();
            guard.clone()
        })
        .unwrap()
}

#[test]
fn large_closures_and_values_round_trip() {
    // Small closures and values live inside the task record; large ones are boxed.
    let big_in = [3u64; 40];
    let out = goro::run(move || {
        goro::spawn(move || {
            let mut v = big_in;
            v[0] = v.iter().sum();
            v
        })
        .join()
        .unwrap()
    });
    assert_eq!(out[0], 120);
    assert_eq!(out[39], 3);
}

#[test]
fn values_of_detached_tasks_are_dropped() {
    struct Counted(Arc<AtomicUsize>);
    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let drops = Arc::new(AtomicUsize::new(0));
    let d = drops.clone();
    goro::run(move || {
        for i in 0..10 {
            let d = d.clone();
            // Half small values, half large ones; nobody joins them.
            if i % 2 == 0 {
                drop(goro::spawn(move || Counted(d)));
            } else {
                drop(goro::spawn(move || (Counted(d), [0u8; 64])));
            }
        }
        goro::sleep(Duration::from_millis(20));
    });
    assert_eq!(drops.load(Ordering::SeqCst), 10);
}

#[test]
fn nesting_runtimes_is_refused_with_advice() {
    let err = std::panic::catch_unwind(|| goro::run(|| Runtime::new().block_on(|| 1))).unwrap_err();
    let msg = err
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| err.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    assert!(msg.contains("inside a goro runtime"), "{msg}");
    assert!(msg.contains("goro::spawn"), "{msg}");
}

#[test]
fn task_handles_outlive_their_runtime_harmlessly() {
    let (task, handle) = goro::run(|| {
        let h = goro::spawn(goro::park);
        goro::sleep(Duration::from_millis(10));
        (h.task(), h)
    });
    // The run is over and the parked task was cancelled: unparking it does nothing, and
    // join reports the cancellation.
    task.unpark();
    assert_eq!(task.id().as_u64(), 2);
    let err = handle.join().unwrap_err();
    assert!(err.downcast_ref::<&str>().unwrap().contains("cancelled"));
}
