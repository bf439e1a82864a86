//! A supervisor for worker tasks: recover at the task boundary, report, restart.

use std::any::Any;
use std::panic;

use goro::JoinHandle;
use goro::chan::{self, Receiver, Sender};
use goro::task::Builder;

use crate::handler::Handler;
use crate::policy::{Policy, worker_name};
use crate::report::{Crash, Fate, Report};
use crate::routes::Update;

/// What a worker tells its supervisor.
enum Event {
    /// An update was applied.
    Done(u32),
    /// The handler panicked on `update`; the worker has stopped.
    Panicked {
        slot: usize,
        task: String,
        update: Update,
        attempt: u32,
        message: String,
    },
    /// The inbox is closed and empty; the worker has stopped.
    Finished { slot: usize },
}

// ANCHOR: message
/// The text of a panic payload: `panic!("literal")` carries a `&'static str`, a formatted
/// `panic!` a `String`, and `panic_any` anything at all.
fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "Box<dyn Any>".to_owned()
    }
}
// ANCHOR_END: message

// ANCHOR: worker
/// A worker's body: the update to retry first (if any), then the inbox until it closes.
/// A panic is caught here, at the top of the task, reported, and ends the worker.
fn work(
    slot: usize,
    mut retry: Option<(Update, u32)>,
    inbox: Receiver<Update>,
    handler: Handler,
    events: Sender<Event>,
) {
    loop {
        let (update, attempt) = match retry.take() {
            Some(job) => job,
            None => match inbox.recv() {
                Ok(update) => (update, 1),
                Err(_) => break,
            },
        };
        match panic::catch_unwind(|| handler(&update)) {
            Ok(()) => {
                let _ = events.send(Event::Done(update.id));
            }
            Err(payload) => {
                let task = goro::task::current();
                let _ = events.send(Event::Panicked {
                    slot,
                    task: task.name().unwrap_or_default().to_owned(),
                    message: panic_message(&*payload),
                    update,
                    attempt,
                });
                return;
            }
        }
    }
    let _ = events.send(Event::Finished { slot });
}
// ANCHOR_END: worker

// ANCHOR: supervise
/// Runs `policy.workers` worker tasks that apply the updates from `inbox` with `handler`, until
/// the inbox is closed and empty. A worker that panics is reported, and replaced by a new task
/// (`worker_name(name, slot, n)` after the slot's n-th restart) while the restart budget
/// lasts; the replacement first retries the update in flight, unless it has used up its
/// attempts. Returns when every worker has stopped; every update is accounted for once.
pub fn supervise(name: &str, policy: Policy, inbox: Receiver<Update>, handler: Handler) -> Report {
    let (events_tx, events) = chan::unbounded();
    let start = |slot: usize, restarts: usize, retry: Option<(Update, u32)>| {
        let (inbox, handler, events) = (inbox.clone(), handler.clone(), events_tx.clone());
        let task_name = worker_name(name, slot, restarts);
        let handle = Builder::new()
            .name(task_name.clone())
            .spawn(move || work(slot, retry, inbox, handler, events))
            .expect("could not start a worker task");
        (task_name, handle)
    };

    let mut report = Report::new();
    let mut workers: Vec<Option<JoinHandle<()>>> = Vec::new();
    let mut restarts = vec![0; policy.workers + 1];
    let mut restarts_used = 0;
    for slot in 1..=policy.workers {
        workers.push(Some(start(slot, 0, None).1));
    }
    let mut live = policy.workers;

    while live > 0 {
        let event = events.recv().expect("the supervisor keeps a sender");
        let (slot, panicked) = match event {
            Event::Done(id) => {
                report.done(id);
                continue;
            }
            Event::Finished { slot } => (slot, None),
            Event::Panicked {
                slot,
                task,
                update,
                attempt,
                message,
            } => (slot, Some((task, update, attempt, message))),
        };
        // The worker has stopped: collect it, so that no task outlives its supervisor.
        if let Some(handle) = workers[slot - 1].take() {
            let _ = handle.join();
        }
        live -= 1;
        let Some((task, update, attempt, message)) = panicked else {
            continue;
        };
        let mut crash = Crash {
            task,
            update: update.id,
            attempt,
            message,
            restarted_as: None,
            fate: if attempt >= policy.max_attempts {
                Fate::GivenUp
            } else {
                Fate::Unprocessed
            },
        };
        if restarts_used < policy.max_restarts {
            restarts_used += 1;
            restarts[slot] += 1;
            let retry = if crash.fate == Fate::GivenUp {
                None
            } else {
                crash.fate = Fate::Retried;
                Some((update, attempt + 1))
            };
            let (new_name, handle) = start(slot, restarts[slot], retry);
            workers[slot - 1] = Some(handle);
            live += 1;
            crash.restarted_as = Some(new_name);
        }
        report.crash(crash);
    }

    // Every worker is down. If they all crashed, updates may still be waiting: say so rather
    // than drop them (this also lets a producer blocked on a full inbox finish).
    for update in inbox.iter() {
        report.unprocessed(update.id);
    }
    report
}
// ANCHOR_END: supervise
