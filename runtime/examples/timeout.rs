//! Timeouts: the payment-processor leak of the seeds, and its fix (lesson 08).
//! Run: `cargo run -p goro --example timeout`
//!
//! Go twin of the fix:
//! ```go
//! result := make(chan Result, 1) // buffered: the late sender never blocks forever
//! go func() { result <- externalAPI.charge(p) }()
//! select {
//! case r := <-result:
//!     save(r)
//! case <-time.After(100 * time.Millisecond):
//!     log.Printf("payment %d timed out", p.ID)
//! }
//! ```

use goro::chan;
use std::time::Duration;

/// Stands in for a remote API that sometimes hangs.
fn charge(payment: u32) -> String {
    let delay = if payment.is_multiple_of(3) { 2_000 } else { 10 };
    goro::sleep(Duration::from_millis(delay));
    format!("payment {payment} charged")
}

fn process(payment: u32) {
    // Capacity 1: if we stop waiting, the late `send` still completes and the task exits.
    // With `bounded(0)` it would wait forever for a receiver: the leak.
    let (result_tx, result) = chan::bounded(1);
    goro::spawn(move || {
        let _ = result_tx.send(charge(payment));
    });
    goro::select! {
        recv(result) -> r => println!("{}", r.unwrap()),
        recv(goro::time::after(Duration::from_millis(100))) => {
            println!("payment {payment} timed out; moving on")
        }
    }
}

fn main() {
    goro::run(|| {
        for payment in 1..=6 {
            process(payment);
        }
        // main + the two hung charges; they exit when their call returns: the buffered
        // channel takes their late result even though nobody waits for it any more.
        println!("tasks still running: {}", goro::num_goroutines());

        // One operation with a deadline needs no select!:
        let (_tx, rx) = chan::bounded::<u32>(0);
        println!("{:?}", rx.recv_timeout(Duration::from_millis(20)));
    });
}
