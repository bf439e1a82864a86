//! Channel behaviour: close and drain, rendezvous, backpressure, timeouts, MPMC stress.

use goro::chan::{self, RecvTimeoutError, SendTimeoutError, TryRecvError, TrySendError};
use goro::runtime::{Builder, RunError};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

mod common;
use common::{det, two_workers};

#[test]
fn close_drains_buffer_then_disconnects() {
    det(1, || {
        let (tx, rx) = chan::bounded(4);
        for i in 0..3 {
            tx.send(i).unwrap();
        }
        drop(tx);
        assert_eq!(rx.recv(), Ok(0));
        assert_eq!(rx.try_recv(), Ok(1));
        assert_eq!(rx.recv_timeout(Duration::from_secs(1)), Ok(2));
        assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
        assert!(rx.recv().is_err());
        assert_eq!(
            rx.recv_timeout(Duration::from_secs(1)),
            Err(RecvTimeoutError::Disconnected)
        );
    });
}

#[test]
fn channel_stays_open_while_a_sender_clone_lives() {
    det(2, || {
        let (tx, rx) = chan::unbounded();
        let tx2 = tx.clone();
        drop(tx);
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
        tx2.send("still open").unwrap();
        drop(tx2);
        assert_eq!(rx.recv(), Ok("still open"));
        assert!(rx.recv().is_err());
    });
}

#[test]
fn for_loop_ends_when_the_last_sender_is_dropped() {
    let got = det(3, || {
        let (tx, rx) = chan::bounded(0);
        goro::spawn(move || {
            for i in 0..5 {
                tx.send(i).unwrap();
            }
        });
        rx.into_iter().collect::<Vec<i32>>()
    });
    assert_eq!(got, vec![0, 1, 2, 3, 4]);
}

#[test]
fn send_gives_the_value_back_when_receivers_are_gone() {
    det(4, || {
        let (tx, rx) = chan::bounded::<String>(1);
        drop(rx);
        let err = tx.send("lost?".to_string()).unwrap_err();
        assert_eq!(err.into_inner(), "lost?");
        assert!(tx.is_disconnected());
        match tx.try_send("again".into()) {
            Err(TrySendError::Disconnected(v)) => assert_eq!(v, "again"),
            other => panic!("expected Disconnected, got {other:?}"),
        }
    });
}

#[test]
fn dropping_the_receiver_wakes_a_blocked_sender_with_its_value() {
    det(5, || {
        let (tx, rx) = chan::bounded::<u32>(0);
        let h = goro::spawn(move || tx.send(42));
        goro::yield_now(); // the sender parks: nobody receives
        drop(rx);
        assert_eq!(h.join().unwrap().unwrap_err().0, 42);
    });
}

#[test]
fn try_send_tells_full_from_disconnected() {
    det(6, || {
        let (tx, rx) = chan::bounded(2);
        assert!(tx.try_send(1).is_ok());
        assert!(tx.try_send(2).is_ok());
        assert!(tx.is_full());
        let full = tx.try_send(3).unwrap_err();
        assert!(full.is_full());
        assert_eq!(full.into_inner(), 3);
        assert_eq!(rx.recv(), Ok(1));
        assert!(tx.try_send(3).is_ok()); // room again
        drop(rx);
        assert!(tx.try_send(4).unwrap_err().is_disconnected());
    });
}

#[test]
fn rendezvous_try_send_needs_a_parked_receiver() {
    det(7, || {
        let (tx, rx) = chan::bounded::<u8>(0);
        assert!(tx.try_send(1).unwrap_err().is_full()); // nobody is receiving
        let h = goro::spawn(move || rx.recv());
        goro::yield_now(); // let the receiver park
        assert!(tx.try_send(2).is_ok());
        assert_eq!(h.join().unwrap(), Ok(2));
    });
}

/// The sender of a rendezvous channel must not be released before a receiver took the value.
/// With one deterministic worker we control the interleaving: the receiver sleeps first, and
/// the sender records when its `send` returned.
#[test]
fn rendezvous_send_waits_for_the_receiver() {
    for seed in 0..20 {
        let log = det(seed, || {
            let log = Arc::new(goro::sync::Mutex::new(Vec::new()));
            let (tx, rx) = chan::bounded::<u32>(0);
            let l = log.clone();
            let sender = goro::spawn(move || {
                l.lock().push("send start");
                tx.send(1).unwrap();
                l.lock().push("send returned");
            });
            let l = log.clone();
            let receiver = goro::spawn(move || {
                goro::time::sleep(Duration::from_millis(50));
                l.lock().push("receiving");
                let v = rx.recv().unwrap();
                l.lock().push("received");
                v
            });
            sender.join().unwrap();
            assert_eq!(receiver.join().unwrap(), 1);
            Arc::try_unwrap(log).unwrap().into_inner()
        });
        let pos = |s| log.iter().position(|x| *x == s).unwrap();
        assert!(
            pos("receiving") < pos("send returned"),
            "seed {seed}: send returned before anyone received: {log:?}"
        );
    }
}

#[test]
fn buffered_send_does_not_wait_until_full() {
    det(8, || {
        let (tx, rx) = chan::bounded(3);
        for i in 0..3 {
            tx.send(i).unwrap(); // no receiver, but room in the buffer
        }
        assert_eq!(tx.len(), 3);
        assert_eq!(rx.capacity(), Some(3));
        assert_eq!(rx.try_iter().collect::<Vec<_>>(), vec![0, 1, 2]);
    });
}

#[test]
fn blocked_senders_refill_the_buffer_in_order() {
    let got = det(9, || {
        let (tx, rx) = chan::bounded(1);
        let mut hs = Vec::new();
        for i in 0..4 {
            let tx = tx.clone();
            hs.push(goro::spawn(move || tx.send(i).unwrap()));
            goro::yield_now(); // each sender parks in turn (FIFO)
        }
        drop(tx);
        let got: Vec<i32> = rx.iter().collect();
        for h in hs {
            h.join().unwrap();
        }
        got
    });
    assert_eq!(got, vec![0, 1, 2, 3]);
}

#[test]
fn timeouts_use_the_virtual_clock() {
    det(10, || {
        let (tx, rx) = chan::bounded::<u8>(0);
        let start = goro::time::now();
        assert_eq!(
            rx.recv_timeout(Duration::from_secs(10)),
            Err(RecvTimeoutError::Timeout)
        );
        let waited = goro::time::now() - start;
        assert!(waited >= Duration::from_secs(10), "waited {waited:?}");
        assert!(waited < Duration::from_secs(11), "waited {waited:?}");
        match tx.send_timeout(9, Duration::from_secs(5)) {
            Err(SendTimeoutError::Timeout(9)) => {}
            other => panic!("expected Timeout(9), got {other:?}"),
        }
        // A value that arrives before the deadline wins.
        let tx2 = tx.clone();
        goro::spawn(move || {
            goro::time::sleep(Duration::from_secs(1));
            tx2.send(7).unwrap();
        });
        assert_eq!(rx.recv_timeout(Duration::from_secs(3)), Ok(7));
    });
}

fn mpmc(producers: usize, consumers: usize, per_producer: usize, cap: usize) -> Vec<usize> {
    let (tx, rx) = chan::bounded(cap);
    for p in 0..producers {
        let tx = tx.clone();
        goro::spawn(move || {
            for i in 0..per_producer {
                tx.send(p * per_producer + i).unwrap();
                if i % 7 == 0 {
                    goro::yield_now();
                }
            }
        });
    }
    drop(tx);
    let handles: Vec<_> = (0..consumers)
        .map(|_| {
            let rx = rx.clone();
            goro::spawn(move || rx.iter().collect::<Vec<_>>())
        })
        .collect();
    drop(rx);
    let mut all: Vec<usize> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    all.sort_unstable();
    all
}

fn assert_each_once(all: &[usize], n: usize) {
    assert_eq!(all.len(), n, "some values were lost or duplicated");
    assert!(
        all.iter().enumerate().all(|(i, v)| i == *v),
        "a value was duplicated or lost"
    );
}

#[test]
fn mpmc_stress_two_workers() {
    for cap in [0, 1, 16] {
        let all = two_workers(move || mpmc(8, 5, 2000, cap));
        assert_each_once(&all, 8 * 2000);
    }
}

#[test]
fn mpmc_stress_many_seeds() {
    for seed in 0..64 {
        let cap = (seed % 3) as usize * 2; // 0, 2, 4
        let all = det(seed, move || mpmc(4, 3, 200, cap));
        assert_each_once(&all, 4 * 200);
    }
}

#[test]
fn deterministic_runs_replay() {
    let run = |seed| {
        det(seed, || {
            let (tx, rx) = chan::bounded(1);
            for p in 0..3 {
                let tx = tx.clone();
                goro::spawn(move || {
                    for i in 0..5 {
                        tx.send((p, i)).unwrap();
                    }
                });
            }
            drop(tx);
            rx.iter().collect::<Vec<_>>()
        })
    };
    assert_eq!(run(11), run(11));
}

#[test]
fn closing_wakes_every_parked_receiver() {
    let woke = det(12, || {
        let (done_tx, done_rx) = chan::bounded::<()>(0);
        let woke = Arc::new(AtomicUsize::new(0));
        let handles: Vec<_> = (0..10_000)
            .map(|_| {
                let done = done_rx.clone();
                let woke = woke.clone();
                goro::spawn(move || {
                    assert!(done.recv().is_err());
                    woke.fetch_add(1, Ordering::Relaxed);
                })
            })
            .collect();
        goro::yield_now(); // everyone parks on `done`
        assert_eq!(woke.load(Ordering::Relaxed), 0);
        drop(done_tx);
        for h in handles {
            h.join().unwrap();
        }
        woke.load(Ordering::Relaxed)
    });
    assert_eq!(woke, 10_000);
}

#[test]
fn works_from_plain_os_threads() {
    let (tx, rx) = chan::bounded(0);
    let t = std::thread::spawn(move || {
        for i in 0..100 {
            tx.send(i).unwrap();
        }
    });
    assert_eq!(rx.iter().sum::<i32>(), 4950);
    t.join().unwrap();
    let (_tx, rx) = chan::bounded::<u8>(1);
    assert_eq!(
        rx.recv_timeout(Duration::from_millis(5)),
        Err(RecvTimeoutError::Timeout)
    );
}

/// A channel can carry values between a runtime and an OS thread. (The main task never waits
/// on the thread here: if every task waits on something only an outside thread can do, the
/// deadlock detector cannot see that thread and reports a deadlock, as documented in `runtime`.)
#[test]
fn connects_a_runtime_to_an_os_thread() {
    let (tx, rx) = chan::unbounded();
    let t = std::thread::spawn(move || rx.iter().sum::<u64>());
    two_workers(move || {
        let (inner_tx, inner_rx) = chan::bounded(0);
        goro::spawn(move || {
            for i in 1..=100u64 {
                inner_tx.send(i).unwrap();
            }
        });
        for v in inner_rx {
            tx.send(v).unwrap();
        }
    });
    assert_eq!(t.join().unwrap(), 5050);
}

#[test]
fn receiving_forever_is_a_deadlock_not_a_hang() {
    let rt = Builder::new().deterministic(13).build().unwrap();
    let res = rt.block_on(|| {
        let (_tx, rx) = chan::bounded::<u8>(0);
        let _ = rx.recv(); // nobody will ever send
    });
    match res {
        Err(RunError::Deadlock { dump }) => assert!(dump.contains("[chan receive]"), "{dump}"),
        other => panic!("expected a deadlock report, got {other:?}"),
    }
}

/// A timeout racing a sender: the value is either received in time or still there afterwards;
/// never lost, never received twice.
#[test]
fn timeout_racing_a_send_never_loses_the_value() {
    for seed in 0..40 {
        let (in_time, later) = det(seed, move || {
            let (tx, rx) = chan::bounded::<u64>(0);
            goro::spawn(move || {
                goro::time::sleep(Duration::from_millis(10));
                tx.send(seed).unwrap();
            });
            let first = rx.recv_timeout(Duration::from_millis(10));
            let later = rx.recv_timeout(Duration::from_millis(10));
            (first.ok(), later.ok())
        });
        let got: Vec<u64> = in_time.into_iter().chain(later).collect();
        assert_eq!(
            got,
            vec![seed],
            "seed {seed}: expected the value exactly once"
        );
    }
}

/// At shutdown the runtime unwinds tasks still parked on a channel. Their wait nodes live on
/// their stacks, so they must leave the queue first: using the channel afterwards must not see
/// them.
#[test]
fn tasks_parked_at_shutdown_leave_the_wait_queues() {
    let (tx, rx) = chan::bounded::<u32>(0);
    let (full_tx, full_rx) = chan::bounded::<u32>(0);
    let (rx2, full_tx2) = (rx.clone(), full_tx.clone());
    let rt = Builder::new().workers(2).build().unwrap();
    rt.block_on(move || {
        for i in 0..20 {
            let (rx, full_tx) = (rx2.clone(), full_tx2.clone());
            goro::spawn(move || {
                if i % 2 == 0 {
                    let _ = rx.recv();
                } else {
                    let _ = full_tx.send(i);
                }
            });
        }
        goro::sleep(Duration::from_millis(20)); // let them all park, then return
    })
    .unwrap();
    assert!(
        tx.try_send(1).unwrap_err().is_full(),
        "a dead receiver is still queued"
    );
    assert_eq!(
        full_rx.try_recv(),
        Err(TryRecvError::Empty),
        "a dead sender is still queued"
    );
    drop((rx, full_tx));
}

#[test]
fn select_accepts_references_and_temporaries() {
    det(14, || {
        let (tx, rx) = chan::bounded::<u8>(1);
        let rx_ref = &rx;
        tx.send(1).unwrap();
        let a = goro::select! { recv(rx_ref) -> v => v.unwrap(), default => 0 };
        tx.send(2).unwrap();
        let b = goro::select! { recv(&rx) -> v => v.unwrap(), default => 0 };
        let c = goro::select! { send(&tx, 3) -> r => r.is_ok(), default => false };
        assert_eq!((a, b, c), (1, 2, true));
    });
}
