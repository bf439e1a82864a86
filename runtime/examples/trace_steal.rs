//! Work stealing (lesson 12), recorded by goro's execution trace: `main` spawns a burst of
//! 48 tasks of about 0.2 ms each on worker 0; the other workers find its backlog ripe and
//! steal half of it at a time (the red marks: "steal N from worker 0"), so the burst finishes
//! on all workers. Draw it (lessons/images/README.md has the command for the book's picture):
//!
//! ```text
//! GORO_TRACE=target/l12.json cargo run --release -p goro --example trace_steal
//! cargo xtask trace render target/l12.json -o lessons/images/l12-trace-steal.svg
//! ```

use goro::runtime::Builder;
use std::time::{Duration, Instant};

/// About `d` of work on the CPU (no sleeping: the task holds its worker).
fn busy(d: Duration) -> u64 {
    let start = Instant::now();
    let mut x = 1u64;
    while start.elapsed() < d {
        for i in 0..200 {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005) ^ i);
        }
    }
    x
}

fn main() {
    let rt = Builder::new().workers(4).build().expect("a runtime");
    let out = rt.block_on(|| {
        let handles: Vec<_> = (0..48)
            .map(|_| goro::spawn(|| busy(Duration::from_micros(200))))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap())
            .fold(0, |a, b| a ^ b)
    });
    println!("done ({})", out.expect("the run finishes") & 1);
}
