//! One worker, three tasks: what lesson 04's scheduler does, recorded by goro's execution
//! trace. `a` yields (back to the end of the run queue), `b` parks on a channel until `c`
//! sends to it (the arrow from `c`'s run to `b`'s next run is the unpark), and `main` waits
//! in `join`. Draw it (lessons/images/README.md has the command for the book's picture):
//!
//! ```text
//! GORO_TRACE=target/l04.json cargo run --release -p goro --example trace_scheduler
//! cargo xtask trace render target/l04.json -o lessons/images/l04-trace-one-worker.svg
//! ```

use goro::chan;
use goro::runtime::Builder;
use goro::task;

/// A few microseconds of work, so each run is wide enough to see.
fn work(rounds: u64) -> u64 {
    (0..rounds * 2_000).fold(1u64, |x, i| std::hint::black_box(x.wrapping_mul(31) ^ i))
}

fn main() {
    let rt = Builder::new().workers(1).build().expect("a runtime");
    let out = rt.block_on(|| {
        let (tx, rx) = chan::bounded::<u64>(0);
        let a = task::Builder::new()
            .name("a")
            .spawn(|| {
                let mut x = 0;
                for _ in 0..3 {
                    x ^= work(2);
                    goro::yield_now();
                }
                x
            })
            .unwrap();
        let b = task::Builder::new()
            .name("b")
            .spawn(move || work(1) ^ rx.recv().unwrap() ^ work(1))
            .unwrap();
        let c = task::Builder::new()
            .name("c")
            .spawn(move || {
                let x = work(3);
                tx.send(x).unwrap();
                work(1)
            })
            .unwrap();
        a.join().unwrap() ^ b.join().unwrap() ^ c.join().unwrap()
    });
    println!("done ({})", out.expect("the run finishes") & 1);
}
