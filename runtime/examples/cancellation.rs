//! Cancellation with a context: stop a generator that would otherwise leak (lesson 09).
//! Run: `cargo run -p goro --example cancellation`
//!
//! Go twin:
//! ```go
//! func numbers(ctx context.Context) <-chan int {
//!     ch := make(chan int)
//!     go func() {
//!         defer close(ch)
//!         for i := 0; ; i++ {
//!             select {
//!             case ch <- i:
//!             case <-ctx.Done(): return
//!             }
//!         }
//!     }()
//!     return ch
//! }
//! ctx, cancel := context.WithCancel(context.Background())
//! for n := range numbers(ctx) { if n == 5 { break } }
//! cancel()
//! ```

use goro::chan::{self, Receiver};
use goro::ctx::{self, Context};
use std::time::Duration;

fn numbers(ctx: Context) -> Receiver<u64> {
    let (tx, rx) = chan::bounded(0);
    goro::spawn(move || {
        for i in 0.. {
            goro::select! {
                // Err: every receiver is gone (goro can tell; Go's sender would block forever).
                send(tx, i) -> sent => if sent.is_err() { return },
                recv(ctx.done()) => return println!("generator: stopping ({})", ctx.err().unwrap()),
            }
        }
    });
    rx
}

fn main() {
    goro::run(|| {
        let (ctx, cancel) = ctx::with_cancel(&Context::background());
        let nums = numbers(ctx);
        for n in nums.iter() {
            if n == 5 {
                break;
            }
            println!("got {n}");
        }
        // `nums` is still alive, so the generator is parked in its send: leaked, until...
        println!("tasks before cancel: {}", goro::num_goroutines());
        cancel.cancel();
        goro::sleep(Duration::from_millis(10));
        println!("tasks after cancel:  {}", goro::num_goroutines());

        // Deadlines cancel by themselves, and children go with their parent.
        let (parent, _cancel) =
            ctx::with_timeout(&Context::background(), Duration::from_millis(30));
        let (child, _cancel_child) = ctx::with_cancel(&parent);
        println!("child: {}", child.wait());
    });
}
