//! The generator and the pipeline's stages. YOU EDIT THIS FILE.

use std::time::Duration;

use goro::chan::{self, Receiver};

use crate::handles::Context;
use crate::stage;

/// How long squaring one number takes: stands for a call to another service.
pub const WORK: Duration = Duration::from_millis(10);

// ANCHOR: generate
/// Sends 0, 1, 2, ... until `ctx` is cancelled (Go: seed 000's `notLeaky(ctx)`).
pub fn generate(ctx: &Context) -> Receiver<u64> {
    let (tx, rx) = chan::bounded(0);
    // TODO(lesson): this is Go's `leaky()`: nothing here ever looks at `ctx`, so once the
    // consumer stops reading, this task waits in `send` forever.
    let _ = ctx;
    stage("generate", move || {
        for i in 0.. {
            if tx.send(i).is_err() {
                return; // every receiver is gone: goro tells the sender (Go would not)
            }
        }
    });
    rx
}
// ANCHOR_END: generate

// ANCHOR: square
/// Squares each number it receives, taking [`WORK`] for each, until `ctx` is cancelled.
pub fn square(ctx: &Context, input: Receiver<u64>) -> Receiver<(u64, u64)> {
    let (tx, rx) = chan::bounded(0);
    // TODO(lesson): every wait in this stage (for input, for the work, to hand on the result)
    // must also end when `ctx` is cancelled.
    let _ = ctx;
    stage("square", move || {
        for n in input {
            goro::sleep(WORK); // the work: a call to another service
            if tx.send((n, n * n)).is_err() {
                return;
            }
        }
    });
    rx
}
// ANCHOR_END: square

/// Turns each `(n, n²)` into a line of text, until `ctx` is cancelled.
pub fn format(ctx: &Context, input: Receiver<(u64, u64)>) -> Receiver<String> {
    let (tx, rx) = chan::bounded(0);
    // TODO(lesson): the same as `square`, without the work.
    let _ = ctx;
    stage("format", move || {
        for (n, sq) in input {
            if tx.send(format!("{n}² = {sq}")).is_err() {
                return;
            }
        }
    });
    rx
}
