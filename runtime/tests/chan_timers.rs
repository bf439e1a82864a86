//! Timer channels: `after` and `tick` on the virtual clock, and many sleepers at once.

use goro::chan;
use goro::runtime::Builder;
use std::time::Duration;

mod common;
use common::det;

#[test]
fn after_delivers_once_at_its_deadline() {
    det(1, || {
        let start = goro::time::now();
        let timer = goro::time::after(Duration::from_secs(3));
        let fired_at = timer.recv().unwrap();
        assert_eq!(fired_at - start, Duration::from_secs(3));
        // Like Go's, the channel is not closed afterwards: it just never delivers again.
        assert_eq!(timer.try_recv(), Err(chan::TryRecvError::Empty));
    });
}

#[test]
fn tick_fires_every_period_until_dropped() {
    det(2, || {
        let start = goro::time::now();
        let ticks = goro::time::tick(Duration::from_millis(250));
        let times: Vec<Duration> = (0..4).map(|_| ticks.recv().unwrap() - start).collect();
        assert_eq!(
            times,
            [250, 500, 750, 1000].map(Duration::from_millis).to_vec()
        );
        drop(ticks);
        goro::time::sleep(Duration::from_secs(2)); // the ticker notices and stops re-arming
    });
}

#[test]
fn a_slow_receiver_misses_ticks_instead_of_queueing_them() {
    det(3, || {
        let start = goro::time::now();
        let ticks = goro::time::tick(Duration::from_secs(1));
        goro::time::sleep(Duration::from_millis(5500));
        // One tick is buffered (the first one); the others were dropped.
        let first = ticks.recv().unwrap() - start;
        assert_eq!(first, Duration::from_secs(1));
        let next = ticks.recv().unwrap() - start;
        assert_eq!(next, Duration::from_secs(6));
    });
}

/// `tick(0)` is Go's `time.Tick(0)`: a channel that never delivers (a nil channel), no panic.
#[test]
fn zero_tick_period_never_fires() {
    det(7, || {
        let ticks = goro::time::tick(Duration::ZERO);
        let got = goro::select! {
            recv(ticks) => "tick",
            recv(goro::time::after(Duration::from_secs(1))) => "timeout",
        };
        assert_eq!(got, "timeout");
        assert_eq!(ticks.try_recv(), Err(chan::TryRecvError::Empty));
    });
}

/// An expired timer is ready at once: a `select!` with a `default` arm picks it.
#[test]
fn an_expired_timer_is_ready_when_select_polls_it() {
    det(8, || {
        let start = goro::time::now();
        let got = goro::select! {
            recv(goro::time::after(Duration::ZERO)) -> t => Some(t.unwrap()),
            default => None,
        };
        assert_eq!(got, Some(start));
    });
    let ready = goro::time::after(Duration::ZERO);
    assert!(ready.try_recv().is_ok(), "ready on a plain thread too");
}

/// 100,000 tasks each wait on their own timer; every one wakes, none before its deadline.
///
/// With `mprotect` guard pages (Linux before 6.13, or `GORO_STACK_GUARD=mprotect`) only about
/// 30,700 stacks fit in a process: the others fail cleanly instead, their `join` naming
/// `vm.max_map_count`, and every task that did start still wakes on time.
#[test]
fn a_hundred_thousand_sleepers() {
    const N: usize = 100_000;
    let limit = goro::stack::max_guarded_stacks();
    let (woken, late, failures) = det(4, || {
        let start = goro::time::now();
        let (tx, rx) = chan::unbounded::<bool>();
        let handles: Vec<_> = (0..N as u64)
            .map(|i| {
                let tx = tx.clone();
                goro::task::Builder::new()
                    .stack_size(16 * 1024)
                    .spawn(move || {
                        let d = Duration::from_millis(1 + i % 997);
                        let fired = goro::time::after(d).recv().unwrap();
                        tx.send(fired - start >= d).unwrap();
                    })
                    .unwrap()
            })
            .collect();
        drop(tx);
        let results: Vec<bool> = rx.iter().collect();
        let failures: Vec<String> = handles
            .into_iter()
            .filter_map(|h| h.join().err())
            .map(|e| e.downcast_ref::<String>().cloned().unwrap_or_default())
            .collect();
        (
            results.len(),
            results.iter().filter(|on_time| !**on_time).count(),
            failures,
        )
    });
    assert_eq!(late, 0, "some timers fired before their deadline");
    assert_eq!(woken + failures.len(), N);
    match limit {
        None => assert_eq!(woken, N),
        Some(fit) => {
            assert!(woken > 0 && woken <= fit, "{woken} woke, {fit} fit");
            assert!(
                failures
                    .iter()
                    .all(|f| f.contains("could not start") && f.contains("vm.max_map_count")),
                "unclear failure: {:?}",
                failures.first()
            );
        }
    }
}

#[test]
fn after_works_on_a_plain_thread() {
    let start = std::time::Instant::now();
    let fired = goro::time::after(Duration::from_millis(20)).recv().unwrap();
    assert!(fired - start >= Duration::from_millis(20));
}

/// An `after` whose receiver is dropped (the other `select!` arm won) cancels its timer: the
/// virtual clock does not jump to it, and a later deadlock is still reported.
#[test]
fn abandoned_after_timer_is_cancelled() {
    let rt = Builder::new().deterministic(5).build().unwrap();
    let res = rt.block_on(|| {
        let start = goro::time::now();
        let (tx, rx) = chan::bounded::<u8>(1);
        tx.send(1).unwrap();
        goro::select! {
            recv(rx) -> v => assert_eq!(v, Ok(1)),
            recv(goro::time::after(Duration::from_secs(3600))) => unreachable!(),
        }
        goro::time::sleep(Duration::from_secs(1));
        assert!(goro::time::now() - start < Duration::from_secs(2));
        let _ = rx.recv(); // blocks forever: `tx` is alive but nobody sends
    });
    match res {
        Err(goro::runtime::RunError::Deadlock { dump }) => {
            assert!(dump.contains("[chan receive]"), "{dump}")
        }
        other => panic!("expected a deadlock report, got {other:?}"),
    }
}
