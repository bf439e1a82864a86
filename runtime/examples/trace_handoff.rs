//! Lesson 13 on one worker, recorded by goro's execution trace. A hog computes for 60 ms and
//! calls `task::checkpoint()` as it goes: sysmon notices it held the worker for 10 ms and asks
//! it to yield (the red mark on the sysmon lane), and the next checkpoint lets the tickers
//! run. Then `main` makes a blocking call (`task::blocking`: 5 ms of `thread::sleep`): the
//! call runs on a spare thread while the worker keeps running the tickers, and the spare
//! thread's wakeup (the arrow from "other threads") brings `main` back. Draw it
//! (lessons/images/README.md has the command for the book's picture):
//!
//! ```text
//! GORO_TRACE=target/l13.json cargo run --release -p goro --example trace_handoff
//! cargo xtask trace render target/l13.json -o lessons/images/l13-trace-handoff.svg
//! ```

use goro::runtime::Builder;
use goro::task;
use std::time::{Duration, Instant};

/// About `d` of work on the CPU, with a checkpoint every few microseconds.
fn busy(d: Duration) -> u64 {
    let start = Instant::now();
    let mut x = 1u64;
    while start.elapsed() < d {
        for i in 0..500 {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005) ^ i);
        }
        task::checkpoint();
    }
    x
}

fn main() {
    let rt = Builder::new().workers(1).build().expect("a runtime");
    let out = rt.block_on(|| {
        let hog = task::Builder::new()
            .name("hog")
            .spawn(|| busy(Duration::from_millis(60)))
            .unwrap();
        let tickers: Vec<_> = (0..3)
            .map(|i| {
                task::Builder::new()
                    .name(format!("ticker {i}"))
                    .spawn(|| {
                        let mut x = 0;
                        for _ in 0..40 {
                            x ^= busy(Duration::from_micros(150));
                            goro::yield_now();
                        }
                        x
                    })
                    .unwrap()
            })
            .collect();
        // Let the hog start before the blocking call.
        goro::yield_now();
        let slept = task::blocking(|| {
            std::thread::sleep(Duration::from_millis(5));
            1
        });
        let x = tickers
            .into_iter()
            .map(|t| t.join().unwrap())
            .fold(hog.join().unwrap(), |a, b| a ^ b);
        x ^ slept
    });
    println!("done ({})", out.expect("the run finishes") & 1);
}
