//! What happens to tasks still alive when the main task returns (see `goro::runtime` docs).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use goro::{Runtime, task};

/// Counts its drops.
struct Guard(Arc<AtomicUsize>);

impl Drop for Guard {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn parked_tasks_unwind_and_run_their_destructors() {
    let dropped = Arc::new(AtomicUsize::new(0));
    let d = dropped.clone();
    let after_park = Arc::new(AtomicBool::new(false));
    let a = after_park.clone();
    Runtime::builder()
        .workers(2)
        .build()
        .unwrap()
        .block_on(move || {
            for i in 0..50 {
                let guard = Guard(d.clone());
                let a = a.clone();
                goro::spawn(move || {
                    let _guard = guard;
                    match i % 3 {
                        0 => goro::park(),
                        1 => goro::sleep(Duration::from_secs(3600)),
                        _ => loop {
                            goro::yield_now();
                        },
                    }
                    // Never reached: the blocking call unwinds at shutdown.
                    a.store(true, Ordering::SeqCst);
                });
            }
            // Let them all start and block.
            for _ in 0..10 {
                goro::yield_now();
            }
            goro::sleep(Duration::from_millis(20));
        })
        .unwrap();
    assert_eq!(dropped.load(Ordering::SeqCst), 50);
    assert!(!after_park.load(Ordering::SeqCst));
}

#[test]
fn tasks_that_never_started_are_dropped_without_running() {
    let dropped = Arc::new(AtomicUsize::new(0));
    let ran = Arc::new(AtomicBool::new(false));
    let (d, r) = (dropped.clone(), ran.clone());
    Runtime::builder()
        .workers(1)
        .build()
        .unwrap()
        .block_on(move || {
            let guard = Guard(d);
            // One worker, and main returns without yielding: the task never gets a turn.
            goro::spawn(move || {
                let _g = guard;
                r.store(true, Ordering::SeqCst);
            });
        })
        .unwrap();
    assert!(!ran.load(Ordering::SeqCst));
    assert_eq!(dropped.load(Ordering::SeqCst), 1);
}

#[test]
fn joining_a_cancelled_task_reports_the_cancellation() {
    let handle = Runtime::builder()
        .workers(2)
        .build()
        .unwrap()
        .block_on(|| {
            let h = task::Builder::new()
                .name("forever")
                .spawn(goro::park)
                .unwrap();
            goro::sleep(Duration::from_millis(10));
            h
        })
        .unwrap();
    assert!(handle.is_finished());
    let err = handle.join().unwrap_err();
    let msg = err.downcast_ref::<&str>().copied().unwrap_or_default();
    assert!(msg.contains("cancelled"), "{msg}");
}

#[test]
fn cancellation_wakes_other_tasks_through_destructors() {
    // A task's destructor unparks another parked task during shutdown; both must finish.
    let dropped = Arc::new(AtomicUsize::new(0));
    let d = dropped.clone();
    Runtime::builder()
        .workers(2)
        .build()
        .unwrap()
        .block_on(move || {
            struct WakeOnDrop(goro::Task, Guard);
            impl Drop for WakeOnDrop {
                fn drop(&mut self) {
                    self.0.unpark();
                    // The guard field counts this drop too.
                    let _ = &self.1;
                }
            }
            let g1 = Guard(d.clone());
            let sleeper = goro::spawn(move || {
                let _g = g1;
                goro::park();
                goro::park();
            });
            let waker = WakeOnDrop(sleeper.task(), Guard(d));
            goro::spawn(move || {
                let _w = waker;
                goro::park();
            });
            goro::sleep(Duration::from_millis(10));
        })
        .unwrap();
    assert_eq!(dropped.load(Ordering::SeqCst), 2);
}

#[test]
fn a_spawn_during_shutdown_is_dropped() {
    let ran = Arc::new(AtomicBool::new(false));
    let r = ran.clone();
    Runtime::builder()
        .workers(1)
        .build()
        .unwrap()
        .block_on(move || {
            struct SpawnOnDrop(Arc<AtomicBool>);
            impl Drop for SpawnOnDrop {
                fn drop(&mut self) {
                    let r = self.0.clone();
                    let h = goro::spawn(move || r.store(true, Ordering::SeqCst));
                    assert!(h.is_finished());
                }
            }
            let s = SpawnOnDrop(r);
            goro::spawn(move || {
                let _s = s;
                goro::park();
            });
            goro::yield_now();
        })
        .unwrap();
    assert!(!ran.load(Ordering::SeqCst));
}

#[test]
fn a_runtime_can_run_many_times() {
    for i in 0..20u64 {
        let v = Runtime::builder()
            .workers(2)
            .build()
            .unwrap()
            .block_on(move || {
                let hs: Vec<_> = (0..50).map(|j| goro::spawn(move || i + j)).collect();
                for _ in 0..5 {
                    goro::spawn(goro::park);
                }
                hs.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
            })
            .unwrap();
        assert_eq!(v, 50 * i + 49 * 50 / 2);
    }
}

/// A task that catches its cancellation and waits again in a loop (the only stand-in for
/// `recover` before `goro::recover`) cannot keep `block_on` from returning: the cancellation is
/// raised again at every wait, and a task that keeps catching it is abandoned.
#[test]
fn a_task_that_keeps_catching_its_cancellation_cannot_stop_shutdown() {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let caught = Arc::new(AtomicUsize::new(0));
        let seen = caught.clone();
        let r = Runtime::new().block_on(move || {
            goro::spawn(move || {
                loop {
                    let r = std::panic::catch_unwind(|| goro::sleep(Duration::from_secs(3600)));
                    if r.is_err() {
                        seen.fetch_add(1, Ordering::SeqCst);
                    }
                }
            });
            goro::sleep(Duration::from_millis(10));
        });
        tx.send((r.is_ok(), caught.load(Ordering::SeqCst))).unwrap();
    });
    let (ok, caught) = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("block_on never returned");
    assert!(ok);
    assert!(caught >= 2, "the cancellation was raised {caught} times");
}

/// A task can ask whether it is being cancelled and stop its loop itself; `goro::recover`
/// never catches the cancellation.
#[test]
fn is_cancelled_lets_a_catching_loop_stop_and_recover_lets_it_through() {
    let stopped = Arc::new(AtomicBool::new(false));
    let through = Arc::new(AtomicBool::new(false));
    let (s, t) = (stopped.clone(), through.clone());
    Runtime::new()
        .block_on(move || {
            assert!(!task::is_cancelled());
            goro::spawn(move || {
                while !task::is_cancelled() {
                    let _ = std::panic::catch_unwind(|| goro::sleep(Duration::from_secs(3600)));
                }
                s.store(true, Ordering::SeqCst);
            });
            goro::spawn(move || {
                struct Flag(Arc<AtomicBool>);
                impl Drop for Flag {
                    fn drop(&mut self) {
                        self.0.store(true, Ordering::SeqCst);
                    }
                }
                let _flag = Flag(t);
                loop {
                    let r = goro::recover(|| goro::sleep(Duration::from_secs(3600)));
                    assert!(r.is_ok(), "recover caught the cancellation");
                }
            });
            goro::sleep(Duration::from_millis(10));
        })
        .unwrap();
    assert!(stopped.load(Ordering::SeqCst));
    assert!(through.load(Ordering::SeqCst));
}
