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
    let done = ctx.done();
    stage("generate", move || {
        for i in 0.. {
            goro::select! {
                send(tx, i) -> sent => if sent.is_err() { return },
                recv(done) => return,
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
    let done = ctx.done();
    stage("square", move || {
        loop {
            let n = goro::select! {
                recv(input) -> n => match n {
                    Ok(n) => n,
                    Err(_) => return,
                },
                recv(done) => return,
            };
            // The work itself listens too: a cancelled request stops paying for it.
            goro::select! {
                recv(goro::time::after(WORK)) => {}
                recv(done) => return,
            }
            goro::select! {
                send(tx, (n, n * n)) -> sent => if sent.is_err() { return },
                recv(done) => return,
            }
        }
    });
    rx
}
// ANCHOR_END: square

/// Turns each `(n, n²)` into a line of text, until `ctx` is cancelled.
pub fn format(ctx: &Context, input: Receiver<(u64, u64)>) -> Receiver<String> {
    let (tx, rx) = chan::bounded(0);
    let done = ctx.done();
    stage("format", move || {
        loop {
            let (n, sq) = goro::select! {
                recv(input) -> v => match v {
                    Ok(v) => v,
                    Err(_) => return,
                },
                recv(done) => return,
            };
            goro::select! {
                send(tx, format!("{n}² = {sq}")) -> sent => if sent.is_err() { return },
                recv(done) => return,
            }
        }
    });
    rx
}
