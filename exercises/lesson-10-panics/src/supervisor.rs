//! The route manager's workers. YOU EDIT THIS FILE.
//!
//! As shipped, `supervise` starts its workers and forgets them, the way `go worker(...)` does:
//! when a handler panics, goro contains the panic at the worker's task boundary and prints it,
//! but the `JoinHandle` that would carry it is dropped. The worker is gone, so is the update it
//! was applying, and the report says nothing.

use goro::chan::{self, Receiver};
use goro::task::Builder;

use crate::handler::Handler;
use crate::policy::{Policy, worker_name};
use crate::report::Report;
use crate::routes::Update;

// ANCHOR: supervise
/// Runs `policy.workers` worker tasks that apply the updates from `inbox` with `handler`, until
/// the inbox is closed and empty. A worker that panics is reported, and replaced by a new task
/// (`worker_name(name, slot, n)` after the slot's n-th restart) while the restart budget
/// lasts; the replacement first retries the update in flight, unless it has used up its
/// attempts. Returns when every worker has stopped; every update is accounted for once.
pub fn supervise(name: &str, policy: Policy, inbox: Receiver<Update>, handler: Handler) -> Report {
    let mut report = Report::new();
    let (done_tx, done) = chan::unbounded();
    for slot in 1..=policy.workers {
        let (inbox, handler, done_tx) = (inbox.clone(), handler.clone(), done_tx.clone());
        // TODO(lesson): fire and forget. A panic in `handler` ends this task; goro catches it at
        // the task boundary and would hand it to `join()`, but the handle is dropped right
        // here. Catch the panic yourself (or keep the handle), tell the supervisor which task
        // panicked, on which update, at which attempt, and with what message, and let the
        // supervisor decide: restart (the policy's budget), retry, or give up.
        Builder::new()
            .name(worker_name(name, slot, 0))
            .spawn(move || {
                for update in inbox {
                    handler(&update);
                    let _ = done_tx.send(update.id);
                }
            })
            .expect("could not start a worker task");
    }
    drop(done_tx);
    // TODO(lesson): this loop ends when every worker has ended, whether it finished the inbox or
    // died. A supervisor must know which, record each panic with `report.crash(..)`, and
    // account for every update: done, given up, or unprocessed (`report.unprocessed(id)` for
    // what is still in the inbox when no worker is left).
    for id in done {
        report.done(id);
    }
    report
}
// ANCHOR_END: supervise
