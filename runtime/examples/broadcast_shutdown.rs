//! Stopping many tasks at once: dropping one shared `done` sender wakes every parked receiver,
//! in time proportional to their number (Go: `close(done)`; lesson 14's graceful shutdown).
//! Run: `cargo run --release -p goro --example broadcast_shutdown -- 1000000`
//!
//! Go twin:
//! ```go
//! done := make(chan struct{})
//! for i := 0; i < n; i++ { wg.Add(1); go func() { defer wg.Done(); <-done }() }
//! close(done) // unblocks all receivers
//! wg.Wait()
//! ```

use goro::chan;
use goro::sync::WaitGroup;
use std::time::{Duration, Instant};

fn main() {
    let n: usize = match std::env::args().nth(1) {
        None => 100_000,
        Some(arg) => arg.parse().unwrap_or_else(|_| {
            eprintln!(
                "usage: broadcast_shutdown [TASKS]  (TASKS: a positive integer, got {arg:?})"
            );
            std::process::exit(2)
        }),
    };
    goro::run(move || {
        let (done_tx, done) = chan::bounded::<()>(0);
        let (wg, ready) = (WaitGroup::new(), WaitGroup::new());
        let started = Instant::now();
        for _ in 0..n {
            let done = done.clone();
            wg.add(1);
            ready.add(1);
            let (wg, ready) = (wg.clone(), ready.clone());
            goro::task::Builder::new()
                .stack_size(16 * 1024) // each task only waits: a small stack is plenty
                .spawn(move || {
                    ready.done();
                    let _ = done.recv(); // Err once closed: that is the signal
                    wg.done();
                })
                .expect("spawn");
        }
        ready.wait(); // every task is about to receive...
        goro::sleep(Duration::from_millis(10)); // ...and a moment later they all wait in it
        println!("{n} tasks parked on `done` after {:?}", started.elapsed());

        let closing = Instant::now();
        drop(done_tx); // the last sender: the channel closes, every receiver wakes
        let woken = closing.elapsed();
        wg.wait();
        println!(
            "closing woke them in {woken:?} ({:.0} ns per task); all exited after {:?}",
            woken.as_nanos() as f64 / n as f64,
            closing.elapsed()
        );
    });
}
