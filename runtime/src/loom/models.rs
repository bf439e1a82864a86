//! The loom models of goro's lock-free protocols, and the harness they share (built only by
//! `cargo test` under `--cfg loom`; see `crate::loom` for how to run them).
//!
//! Every model drives the protocol's own functions (`RunQueue::push`, `TaskState::finish_park`,
//! `Selector::try_claim`, `Locked::lock`, `WaitGroup::arrive`...), whose atomics are loom's in
//! this build. What loom cannot run is a task switch, so where a protocol parks a task the
//! model uses the seam the scheduler itself uses: a loom thread stands in for the task (and
//! for the worker that lands its switch, which runs on the same OS thread), and [`Sched`]
//! stands in for the run queues, the one thing a waker does after winning a task's park
//! token. A wakeup that is lost leaves a thread blocked in [`Sched::park`] forever, which loom
//! reports as a deadlock; a task queued twice, or queued while it was not parked, fails an
//! assertion here.
//!
//! Models share their state through std's `Arc`, not loom's: a model that fails unwinds
//! through its destructors, and a loom `Arc` dropped after loom has stopped the execution
//! panics again (an abort), which would hide the failure a test wants to see.

use std::panic::Location;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use ::loom::sync::{Condvar, Mutex};

use crate::task::record::{Header, Parker, Spec, TaskRef};
use crate::task::state::{State, WaitReason};
use crate::wait::Wakeup;

mod park_token;
mod raw_lock;
mod run_queue;
mod selector;
mod wait_group;

/// Explores every interleaving of `model` with at most `preemptions` forced switches (the
/// environment's `LOOM_MAX_PREEMPTIONS` overrides it, for a deeper run by hand), prints how
/// many executions that took, and returns the number.
pub(crate) fn check(
    name: &str,
    preemptions: usize,
    model: impl Fn() + Sync + Send + 'static,
) -> usize {
    let mut builder = ::loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(preemptions);
    }
    let bound = builder.preemption_bound;
    let runs = Arc::new(AtomicUsize::new(0));
    let counted = runs.clone();
    builder.check(move || {
        counted.fetch_add(1, Ordering::Relaxed);
        model();
    });
    let runs = runs.load(Ordering::Relaxed);
    eprintln!("loom model {name}: {runs} executions (preemption bound {bound:?})");
    runs
}

/// A task record for a model: id `id`, no run, a closure that does nothing. Its state words are
/// loom atomics, so it must be made and dropped inside one execution of a model.
/// Runs a model that must fail (a mutation is switched on inside `model`) and checks that loom
/// reported it with a message containing `expect`; `passed` says what it means if it did not.
pub(crate) fn expect_model_failure(
    model: impl FnOnce() + std::panic::UnwindSafe,
    expect: &str,
    passed: &str,
) {
    let payload = std::panic::catch_unwind(model).expect_err(passed);
    let message = payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or("");
    assert!(
        message.contains(expect),
        "expected loom to report {expect:?}, got: {message:?}"
    );
}

#[track_caller]
pub(crate) fn task(id: u64) -> TaskRef {
    let spec = Spec {
        id,
        name: None,
        location: Location::caller(),
        parent: 0,
        migratable: true,
        is_main: false,
        run: std::ptr::null(),
        stack_size: 0,
    };
    crate::task::alloc::FreeRecord::carve().fill(spec, || ())
}

/// Stands in for the scheduler's run queues in a model: which tasks are queued to run again.
///
/// [`Sched::park`] is a task's `park_with` followed by the worker's landing of that switch
/// (`Worker::land`: `finish_park`, or a requeue); [`Sched::unpark`] is `sched::unpark`
/// (`claim_for_wake`, and queue the task if that claimed it). The task's loom thread blocks
/// in `park` until its task is queued, as a parked task runs again only once a worker pops it.
pub(crate) struct Sched {
    /// Ids of the tasks queued and not yet run.
    queued: Mutex<Vec<u64>>,
    changed: Condvar,
}

impl Sched {
    pub(crate) fn new() -> Sched {
        Sched {
            queued: Mutex::new(Vec::new()),
            changed: Condvar::new(),
        }
    }

    /// What a waker does after claiming `t` (Go's `ready`): queues it, which must happen at
    /// most once per park.
    pub(crate) fn queue(&self, t: &Header) {
        let mut q = self.queued.lock().unwrap();
        assert!(
            !q.contains(&t.id),
            "task {} was queued twice for one park: it would run twice",
            t.id
        );
        q.push(t.id);
        self.changed.notify_all();
    }

    /// `sched::unpark`: leaves a token, or claims the parked task and queues it.
    pub(crate) fn unpark(&self, t: &Header) {
        if t.st.claim_for_wake() {
            self.queue(t);
        }
    }

    /// `Wakeup::wake` for a task's parker (the models' selectors hold one: a `select!`'s).
    pub(crate) fn wake(&self, w: Wakeup) {
        match w {
            Wakeup::Parker(Parker::Task(t)) => self.unpark(&t),
            _ => unreachable!("models park tasks through their parkers only"),
        }
    }

    /// Called on task `t`'s own thread: `park_with` (a token waiting is consumed at once),
    /// then, on the far side of the switch, the worker's `finish_park`: a token that arrived
    /// in between requeues the task; otherwise it is parked until a waker queues it.
    #[track_caller]
    pub(crate) fn park(&self, t: &Header) {
        if t.st.take_token() {
            return;
        }
        t.st.set_waiting(WaitReason::Park, Location::caller(), 0);
        // The switch: from here on this is the worker landing it.
        if !t.st.finish_park() {
            return; // requeued at once: the task runs again
        }
        let mut q = self.queued.lock().unwrap();
        while !q.contains(&t.id) {
            q = self.changed.wait(q).unwrap();
        }
        q.retain(|&id| id != t.id);
        assert_eq!(t.st.get(), State::Runnable, "a woken task is runnable");
    }

    /// At the end of an execution: nothing is left queued. An entry nobody took means a task
    /// was queued while it was not parked: it would have run twice at once.
    pub(crate) fn assert_idle(&self) {
        let q = self.queued.lock().unwrap();
        assert!(q.is_empty(), "tasks {q:?} were queued while not parked");
    }
}
