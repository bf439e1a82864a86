//! Fan-in: merge several producers into one stream, with `select!` or by sharing a sender
//! (lessons 07 and 08). Run: `cargo run -p goro --example fan_in`
//!
//! Go twin:
//! ```go
//! func merge(a, b <-chan string) <-chan string {
//!     out := make(chan string)
//!     go func() {
//!         defer close(out)
//!         for a != nil || b != nil {
//!             select {
//!             case v, ok := <-a: if !ok { a = nil; continue }; out <- v
//!             case v, ok := <-b: if !ok { b = nil; continue }; out <- v
//!             }
//!         }
//!     }()
//!     return out
//! }
//! ```

use goro::chan::{self, Receiver};
use std::time::Duration;

fn producer(name: &'static str, every: Duration, count: usize) -> Receiver<String> {
    let (tx, rx) = chan::bounded(0);
    goro::spawn(move || {
        for i in 1..=count {
            goro::sleep(every);
            tx.send(format!("{name} #{i}")).unwrap();
        }
    });
    rx
}

/// Go's `nil`-channel trick, in goro: swap a finished input for `chan::never()`.
fn merge(mut a: Receiver<String>, mut b: Receiver<String>) -> Receiver<String> {
    let (out, merged) = chan::bounded(0);
    goro::spawn(move || {
        let (mut a_open, mut b_open) = (true, true);
        while a_open || b_open {
            goro::select! {
                recv(a) -> v => match v {
                    Ok(v) => out.send(v).unwrap(),
                    Err(_) => { a_open = false; a = chan::never() }
                },
                recv(b) -> v => match v {
                    Ok(v) => out.send(v).unwrap(),
                    Err(_) => { b_open = false; b = chan::never() }
                },
            }
        }
    }); // `out` drops here: `merged` closes
    merged
}

fn main() {
    goro::run(|| {
        let fast = producer("fast", Duration::from_millis(3), 6);
        let slow = producer("slow", Duration::from_millis(7), 3);
        for line in merge(fast, slow) {
            println!("{line}");
        }

        // With many inputs, sharing one Sender is simpler: the stream ends when all are done.
        let (tx, rx) = chan::bounded(4);
        for id in 0..5 {
            let tx = tx.clone();
            goro::spawn(move || tx.send(id * 10).unwrap());
        }
        drop(tx);
        let mut all: Vec<i32> = rx.into_iter().collect();
        all.sort();
        println!("merged from 5 senders: {all:?}");
    });
}
