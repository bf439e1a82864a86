//! WaitGroup, Mutex, RwLock and Once: they park the task, not the worker thread.

use goro::runtime::Builder;
use goro::sync::{Mutex, Once, RwLock, WaitGroup};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

mod common;
use common::{det, two_workers};

#[test]
fn waitgroup_waits_for_every_task() {
    for seed in 0..8 {
        let finished = det(seed, || {
            let wg = WaitGroup::new();
            let finished = Arc::new(AtomicUsize::new(0));
            for i in 0..50u64 {
                wg.add(1);
                let (wg, finished) = (wg.clone(), finished.clone());
                goro::spawn(move || {
                    goro::time::sleep(Duration::from_millis(i % 7));
                    finished.fetch_add(1, Ordering::Relaxed);
                    wg.done();
                });
            }
            wg.wait();
            finished.load(Ordering::Relaxed)
        });
        assert_eq!(finished, 50, "seed {seed}: wait returned before every done");
    }
}

#[test]
fn waitgroup_go_counts_and_survives_panics() {
    det(1, || {
        let wg = WaitGroup::new();
        let hits = Arc::new(AtomicUsize::new(0));
        for _ in 0..10 {
            let hits = hits.clone();
            wg.go(move || {
                goro::yield_now();
                hits.fetch_add(1, Ordering::Relaxed);
            });
        }
        let h = wg.go(|| panic!("worker failed"));
        wg.wait();
        assert_eq!(hits.load(Ordering::Relaxed), 10);
        assert!(h.join().is_err());
        assert_eq!(wg.count(), 0);
    });
}

#[test]
fn waitgroup_with_zero_count_does_not_wait() {
    det(2, || WaitGroup::new().wait());
    WaitGroup::new().wait(); // also on a plain thread
}

#[test]
fn waitgroup_several_waiters_all_wake() {
    det(3, || {
        let wg = WaitGroup::new();
        wg.add(1);
        let waiters: Vec<_> = (0..5)
            .map(|_| {
                let wg = wg.clone();
                goro::spawn(move || wg.wait())
            })
            .collect();
        goro::yield_now();
        wg.done();
        for w in waiters {
            w.join().unwrap();
        }
    });
}

#[test]
#[should_panic(expected = "negative WaitGroup counter")]
fn waitgroup_done_below_zero_panics() {
    WaitGroup::new().done();
}

#[test]
fn mutex_counter_with_parking_inside_the_critical_section() {
    let total = two_workers(|| {
        let counter = Arc::new(Mutex::new(0u64));
        let handles: Vec<_> = (0..16)
            .map(|_| {
                let counter = counter.clone();
                goro::spawn(move || {
                    for i in 0..200 {
                        let mut g = counter.lock();
                        let v = *g;
                        if i % 10 == 0 {
                            goro::yield_now(); // hold the lock across a scheduling point
                        }
                        *g = v + 1;
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        *counter.lock()
    });
    assert_eq!(total, 16 * 200);
}

#[test]
fn mutex_parks_the_task_not_the_worker() {
    // One worker: if lock() blocked the thread, the holder could never run again to unlock.
    det(4, || {
        let m = Arc::new(Mutex::new(Vec::new()));
        let guard = m.lock();
        let m2 = m.clone();
        let h = goro::spawn(move || m2.lock().push("waiter"));
        goro::yield_now(); // the waiter parks on the mutex
        assert!(!h.is_finished());
        drop(guard);
        h.join().unwrap();
        assert_eq!(*m.lock(), vec!["waiter"]);
    });
}

#[test]
fn mutex_hands_off_in_fifo_order() {
    let order = det(5, || {
        let m = Arc::new(Mutex::new(Vec::new()));
        let guard = m.lock();
        let handles: Vec<_> = (0..5)
            .map(|i| {
                let m = m.clone();
                let h = goro::spawn(move || m.lock().push(i));
                goro::yield_now(); // waiter i parks before waiter i + 1 is spawned
                h
            })
            .collect();
        drop(guard);
        for h in handles {
            h.join().unwrap();
        }
        std::mem::take(&mut *m.lock())
    });
    assert_eq!(order, vec![0, 1, 2, 3, 4]);
}

#[test]
fn try_lock_and_into_inner() {
    let m = Mutex::new(5);
    let g = m.try_lock().expect("free");
    assert!(m.try_lock().is_none());
    assert!(m.is_locked());
    drop(g);
    assert_eq!(m.into_inner(), 5);
}

#[test]
fn rwlock_readers_share_writers_exclude() {
    det(6, || {
        let lock = Arc::new(RwLock::new(0));
        let r1 = lock.read();
        let r2 = lock.try_read().expect("readers share");
        assert!(lock.try_write().is_none());
        let l = lock.clone();
        let writer = goro::spawn(move || *l.write() += 1);
        goro::yield_now(); // the writer parks behind the readers
        // A queued writer blocks new readers, so writers are not starved.
        assert!(lock.try_read().is_none());
        drop((r1, r2));
        writer.join().unwrap();
        assert_eq!(*lock.read(), 1);
    });
}

#[test]
fn rwlock_admits_waiting_readers_together() {
    det(7, || {
        let lock = Arc::new(RwLock::new(()));
        let (in_tx, inside) = goro::chan::unbounded::<()>();
        let (release_tx, release) = goro::chan::bounded::<()>(0);
        let w = lock.write();
        let readers: Vec<_> = (0..4)
            .map(|_| {
                let (lock, in_tx, release) = (lock.clone(), in_tx.clone(), release.clone());
                goro::spawn(move || {
                    let _r = lock.read();
                    in_tx.send(()).unwrap();
                    let _ = release.recv(); // hold the read lock until main says so
                })
            })
            .collect();
        goro::yield_now(); // all four park behind the writer
        drop(w);
        // All four readers must be inside at the same time; if the lock admitted them one at
        // a time this would wait forever (and the runtime would report a deadlock).
        for _ in 0..4 {
            inside.recv().unwrap();
        }
        assert!(lock.try_write().is_none());
        drop(release_tx);
        for r in readers {
            r.join().unwrap();
        }
        assert!(lock.try_write().is_some());
    });
}

#[test]
fn rwlock_stress_two_workers() {
    let (reads, value) = two_workers(|| {
        let lock = Arc::new(RwLock::new((0u64, 0u64)));
        let reads = Arc::new(AtomicUsize::new(0));
        let mut hs = Vec::new();
        for i in 0..12 {
            let (lock, reads) = (lock.clone(), reads.clone());
            hs.push(goro::spawn(move || {
                for _ in 0..300 {
                    if i % 3 == 0 {
                        let mut g = lock.write();
                        g.0 += 1;
                        goro::yield_now();
                        g.1 += 1;
                    } else {
                        let g = lock.read();
                        assert_eq!(g.0, g.1, "a reader saw a half-done write");
                        reads.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }));
        }
        for h in hs {
            h.join().unwrap();
        }
        let v = *lock.read();
        (reads.load(Ordering::Relaxed), v)
    });
    assert_eq!(reads, 8 * 300);
    assert_eq!(value, (4 * 300, 4 * 300));
}

#[test]
fn once_runs_exactly_once() {
    let runs = two_workers(|| {
        let once = Arc::new(Once::new());
        let runs = Arc::new(AtomicUsize::new(0));
        let hs: Vec<_> = (0..20)
            .map(|_| {
                let (once, runs) = (once.clone(), runs.clone());
                goro::spawn(move || {
                    once.call_once(|| {
                        goro::yield_now();
                        runs.fetch_add(1, Ordering::SeqCst);
                    });
                    assert!(once.is_completed());
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        runs.load(Ordering::SeqCst)
    });
    assert_eq!(runs, 1);
}

#[test]
fn mutex_blocks_a_plain_thread() {
    let m = Arc::new(Mutex::new(0));
    let g = m.lock();
    let m2 = m.clone();
    let t = std::thread::spawn(move || *m2.lock() += 1);
    std::thread::sleep(Duration::from_millis(10));
    drop(g);
    t.join().unwrap();
    assert_eq!(*m.lock(), 1);
}

/// Tasks parked on a mutex when the runtime shuts down are unwound and leave its queue, so a
/// later unlock does not hand the lock to a task that no longer exists.
#[test]
fn mutex_waiters_cancelled_at_shutdown_leave_the_queue() {
    let m = Arc::new(Mutex::new(0));
    let guard = m.lock(); // held by this plain thread for the whole run
    let m2 = m.clone();
    let rt = Builder::new().workers(2).build().unwrap();
    rt.block_on(move || {
        for _ in 0..10 {
            let m = m2.clone();
            goro::spawn(move || *m.lock() += 1);
        }
        goro::sleep(Duration::from_millis(20));
    })
    .unwrap();
    drop(guard);
    let g = m.try_lock().expect("no dead waiter may hold the lock");
    assert_eq!(*g, 0);
}

#[test]
fn once_counts_a_panicking_call_as_done() {
    let once = Once::new();
    let first = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        once.call_once(|| panic!("init failed"));
    }));
    assert!(first.is_err());
    assert!(once.is_completed());
    let mut ran = false;
    once.call_once(|| ran = true);
    assert!(
        !ran,
        "as in Go, a panicking call still counts as the one call"
    );
}
