//! Timers anywhere: a callback at a deadline, inside a runtime or outside one.
//!
//! Inside a runtime a timer goes to the run's [`Timers`](super::timers::Timers), so it follows
//! the virtual clock in deterministic mode and counts as "something pending" for the deadlock
//! detector; a worker fires it at a scheduling point. On a plain OS thread outside any runtime
//! it goes to one helper thread, `goro-timer`, started on first use. [`schedule`] picks the
//! right one and returns a [`TimerHandle`] that cancels it either way.
//!
//! Rules:
//!
//! 1. A callback runs at most once, and never after its cancel returned true.
//! 2. A callback must be short and must not block (it runs on a worker between tasks, or on
//!    the one helper thread).
//! 3. A runtime timer that becomes the earliest wakes an idle worker, so that worker sleeps
//!    until the new deadline rather than the old one.
//!
//! Go counterpart: `time.AfterFunc`, `addtimer`/`deltimer` in `runtime/time.go`. Lesson: 08.

use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock, Weak};
use std::time::Instant;

use crate::sched::{self, Shared};

/// The current time: `Instant::now()`, or the virtual clock when called from a deterministic
/// runtime.
pub fn now() -> Instant {
    sched::with_shared(|s| s.timers.now()).unwrap_or_else(Instant::now)
}

/// Identifies a pending runtime timer for [`cancel_runtime_timer`].
#[derive(Debug)]
pub(crate) struct TimerKey {
    shared: Weak<Shared>,
    deadline: Instant,
    seq: u64,
}

/// Schedules `f` to run on a worker thread at `deadline` (the runtime's clock). The callback runs
/// outside any task: keep it short and non-blocking (unparking a task is the intended use).
///
/// Panics outside a runtime; check [`in_runtime`](crate::runtime::in_runtime) first.
pub(crate) fn add_timer(deadline: Instant, f: Box<dyn FnOnce() + Send>) -> TimerKey {
    sched::with_shared(|shared| {
        let (seq, earliest) = shared.timers.add(deadline, f);
        if earliest && !shared.is_deterministic() {
            shared.timer_added();
        }
        TimerKey {
            shared: std::sync::Arc::downgrade(shared),
            deadline,
            seq,
        }
    })
    .expect("goro timers need a runtime: add_timer called outside a goro runtime")
}

/// Cancels a timer; true if it had not fired yet (then its callback is dropped, not run).
pub(crate) fn cancel_runtime_timer(key: TimerKey) -> bool {
    match key.shared.upgrade() {
        Some(shared) => shared.timers.cancel(key.deadline, key.seq),
        None => false,
    }
}

/// A scheduled callback that can be cancelled.
pub(crate) enum TimerHandle {
    /// In the runtime's timer structure.
    Runtime(TimerKey),
    /// On the fallback thread (no runtime on this thread).
    Thread(Arc<AtomicU8>),
}

/// Runs `f` at `deadline` (on a worker thread inside a runtime, else on the `goro-timer`
/// thread). `f` must be short and must not block.
pub(crate) fn schedule(deadline: Instant, f: Box<dyn FnOnce() + Send>) -> TimerHandle {
    if sched::in_runtime() {
        TimerHandle::Runtime(add_timer(deadline, f))
    } else {
        fallback_add(deadline, f)
    }
}

/// Cancels a timer; true if it had not fired yet.
pub(crate) fn cancel_timer(handle: TimerHandle) -> bool {
    match handle {
        TimerHandle::Runtime(key) => cancel_runtime_timer(key),
        TimerHandle::Thread(state) => state
            .compare_exchange(PENDING, CANCELLED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok(),
    }
}

const PENDING: u8 = 0;
const FIRED: u8 = 1;
const CANCELLED: u8 = 2;

struct Entry {
    deadline: Instant,
    seq: u64,
    state: Arc<AtomicU8>,
    f: Box<dyn FnOnce() + Send>,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        (self.deadline, self.seq) == (other.deadline, other.seq)
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    // Reversed: BinaryHeap is a max-heap and we want the earliest deadline on top.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (other.deadline, other.seq).cmp(&(self.deadline, self.seq))
    }
}

struct Fallback {
    heap: Mutex<(BinaryHeap<Entry>, u64)>,
    cond: Condvar,
}

fn fallback() -> &'static Fallback {
    static FALLBACK: OnceLock<&'static Fallback> = OnceLock::new();
    FALLBACK.get_or_init(|| {
        let fb: &'static Fallback = Box::leak(Box::new(Fallback {
            heap: Mutex::new((BinaryHeap::new(), 0)),
            cond: Condvar::new(),
        }));
        std::thread::Builder::new()
            .name("goro-timer".into())
            .spawn(move || fallback_loop(fb))
            .expect("goro: could not start the goro-timer thread for timers outside a runtime");
        fb
    })
}

fn fallback_add(deadline: Instant, f: Box<dyn FnOnce() + Send>) -> TimerHandle {
    let fb = fallback();
    let state = Arc::new(AtomicU8::new(PENDING));
    let mut guard = fb.heap.lock().unwrap_or_else(|e| e.into_inner());
    guard.1 += 1;
    let seq = guard.1;
    guard.0.push(Entry {
        deadline,
        seq,
        state: state.clone(),
        f,
    });
    drop(guard);
    fb.cond.notify_one();
    TimerHandle::Thread(state)
}

fn fallback_loop(fb: &'static Fallback) {
    let mut guard = fb.heap.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        let now = Instant::now();
        match guard.0.peek().map(|e| e.deadline) {
            Some(deadline) if deadline <= now => {
                let entry = guard.0.pop().expect("peeked entry");
                drop(guard);
                if entry
                    .state
                    .compare_exchange(PENDING, FIRED, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
                {
                    (entry.f)();
                }
                guard = fb.heap.lock().unwrap_or_else(|e| e.into_inner());
            }
            Some(deadline) => {
                guard = fb
                    .cond
                    .wait_timeout(guard, deadline - now)
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
            }
            None => {
                guard = fb.cond.wait(guard).unwrap_or_else(|e| e.into_inner());
            }
        }
    }
}
