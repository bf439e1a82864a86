//! The goro workloads that need channels and `select!` (module `goro::chan`).

use crate::goro_impl::Results;
use crate::measure::{check, per_op_ns};
use crate::threads::RING;
use goro::chan;
use std::time::Instant;

pub(crate) fn pingpong(n: u64) -> Results {
    let (ping_tx, ping_rx) = chan::bounded::<u64>(0);
    let (pong_tx, pong_rx) = chan::bounded::<u64>(0);
    let start = Instant::now();
    let echo = goro::spawn(move || {
        while let Ok(v) = ping_rx.recv() {
            pong_tx.send(v + 1).expect("pinger hung up");
        }
    });
    let mut v = 0;
    for _ in 0..n {
        ping_tx.send(v).expect("echo task hung up");
        v = pong_rx.recv().expect("echo task hung up");
    }
    let elapsed = start.elapsed();
    drop(ping_tx);
    echo.join().expect("echo task panicked");
    check(v == n, || format!("pingpong counted {v}, expected {n}"));
    vec![("pingpong", per_op_ns(elapsed, n), "ns/round-trip")]
}

pub(crate) fn thread_ring(hops: u64) -> Results {
    let (mut senders, receivers): (Vec<_>, Vec<_>) =
        (0..RING).map(|_| chan::bounded::<u64>(0)).unzip();
    // Task i receives on channel i and sends on channel i+1.
    senders.rotate_left(1);
    let first = senders[RING as usize - 1].clone();
    let (done_tx, done_rx) = chan::bounded::<u64>(1);
    let start = Instant::now();
    let mut handles = Vec::with_capacity(RING as usize);
    for (i, (rx, tx)) in receivers.into_iter().zip(senders).enumerate() {
        let done = done_tx.clone();
        handles.push(goro::spawn(move || {
            while let Ok(token) = rx.recv() {
                if token == 0 {
                    let _ = done.send(i as u64 + 1);
                    return;
                }
                if tx.send(token - 1).is_err() {
                    return;
                }
            }
        }));
    }
    first.send(hops).expect("ring task 1 hung up");
    drop(first);
    let winner = done_rx.recv().expect("no ring task finished");
    let elapsed = start.elapsed();
    // The winner returned and dropped its channels: the rest of the ring unwinds in turn.
    for h in handles {
        h.join().expect("ring task panicked");
    }
    check(winner == hops % RING + 1, || {
        format!("thread-ring winner {winner}, expected {}", hops % RING + 1)
    });
    vec![("thread-ring", per_op_ns(elapsed, hops), "ns/hop")]
}

pub(crate) fn select(n: u64) -> Results {
    let (a_tx, a_rx) = chan::bounded::<u64>(0);
    let (b_tx, b_rx) = chan::bounded::<u64>(0);
    let half = n / 2;
    // Dropping the last Sender closes a goro channel (Go's channels stay open unless
    // closed): hold a clone so a finished sender does not turn its arm into "closed".
    let keep_open = (a_tx.clone(), b_tx.clone());
    let start = Instant::now();
    let fa = goro::spawn(move || (0..half).for_each(|_| a_tx.send(1).expect("selector left")));
    let fb = goro::spawn(move || (half..n).for_each(|_| b_tx.send(2).expect("selector left")));
    let (mut from_a, mut from_b) = (0, 0);
    for _ in 0..n {
        goro::select! {
            recv(&a_rx) -> v => from_a += v.expect("sender a left early"),
            recv(&b_rx) -> v => from_b += v.expect("sender b left early"),
        }
    }
    let elapsed = start.elapsed();
    drop(keep_open);
    fa.join().expect("sender a panicked");
    fb.join().expect("sender b panicked");
    check(from_a == half && from_b == 2 * (n - half), || {
        format!("select got {from_a} from a and {} from b", from_b / 2)
    });
    vec![("select", per_op_ns(elapsed, n), "ns/op")]
}
