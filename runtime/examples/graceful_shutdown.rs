//! Graceful shutdown: workers, a periodic cleanup task, a shutdown signal and a bounded wait
//! (lesson 15; the route manager of the seeds). Run: `cargo run -p goro --example graceful_shutdown`
//!
//! Go twin (abridged):
//! ```go
//! ctx, cancel := context.WithCancel(context.Background())
//! for i := 0; i < 3; i++ { wg.Add(1); go rm.worker(ctx, i) }  // select on ctx.Done() / updates
//! wg.Add(1); go rm.periodicCleanup(ctx)                        // select on ctx.Done() / ticker.C
//! ... submit updates with select { case rm.updates <- u: default: /* full */ }
//! cancel()
//! done := make(chan struct{}); go func() { wg.Wait(); close(done) }()
//! select { case <-done: log.Println("stopped"); case <-time.After(timeout): return errTimeout }
//! ```

use goro::chan::{self, Receiver};
use goro::ctx::{self, Context};
use goro::sync::{RwLock, WaitGroup};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

struct Update {
    prefix: String,
    next_hop: String,
}

type Routes = Arc<RwLock<HashMap<String, String>>>;

fn worker(id: usize, ctx: Context, updates: Receiver<Update>, routes: Routes) {
    loop {
        goro::select! {
            recv(ctx.done()) => return println!("worker {id}: {}", ctx.err().unwrap()),
            recv(updates) -> u => match u {
                Ok(u) => {
                    goro::sleep(Duration::from_millis(2)); // apply it somewhere slow
                    routes.write().insert(u.prefix, u.next_hop);
                }
                Err(_) => return println!("worker {id}: queue closed"),
            },
        }
    }
}

fn cleanup(ctx: Context, routes: Routes) {
    let ticker = goro::time::tick(Duration::from_millis(10));
    loop {
        goro::select! {
            recv(ctx.done()) => return,
            recv(ticker) => println!("cleanup: tracking {} routes", routes.read().len()),
        }
    }
}

/// Waits for `wg` at most `timeout`; false if some task is still running (leaked).
fn wait_timeout(wg: &WaitGroup, timeout: Duration) -> bool {
    let (done_tx, done) = chan::bounded::<()>(0);
    let wg = wg.clone();
    goro::spawn(move || {
        wg.wait();
        drop(done_tx); // closing is the signal
    });
    goro::select! {
        recv(done) => true,
        recv(goro::time::after(timeout)) => false,
    }
}

fn main() {
    goro::run(|| {
        let (ctx, cancel) = ctx::with_cancel(&Context::background());
        let (updates_tx, updates) = chan::bounded::<Update>(4);
        let routes: Routes = Arc::default();
        let wg = WaitGroup::new();
        for id in 0..3 {
            let (ctx, updates, routes) = (ctx.clone(), updates.clone(), routes.clone());
            wg.go(move || worker(id, ctx, updates, routes));
        }
        let (c, r) = (ctx.clone(), routes.clone());
        wg.go(move || cleanup(c, r));

        let mut rejected = 0;
        for i in 0..40 {
            let u = Update {
                prefix: format!("10.0.{i}.0/24"),
                next_hop: format!("192.168.0.{i}"),
            };
            if updates_tx.try_send(u).is_err() {
                rejected += 1; // backpressure: the caller would retry later
                goro::sleep(Duration::from_millis(1));
            }
        }
        goro::sleep(Duration::from_millis(25));
        println!("shutting down ({rejected} updates rejected as busy)");
        cancel.cancel();
        if wait_timeout(&wg, Duration::from_secs(1)) {
            println!(
                "all tasks stopped; {} routes installed",
                routes.read().len()
            );
        } else {
            println!("shutdown timed out: some tasks leaked");
        }
    });
}
