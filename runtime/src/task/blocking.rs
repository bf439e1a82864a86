//! Blocking calls without blocking the worker: [`blocking`] runs a closure on a spare OS
//! thread while the calling task waits (wait reason `syscall`) and its worker runs other
//! tasks.
//!
//! A task that calls a blocking function (file I/O, a DNS lookup, a C library, `sleep` of
//! the thread) holds its worker's thread for as long as the call lasts, and every task queued
//! behind it on that worker waits too. Go solves this with `entersyscall`/`handoffp`: the
//! goroutine keeps its thread (M) for the system call, and the thread's run queue (its P)
//! moves to another thread that keeps running the other goroutines. goro cannot move the
//! queue: a started task is pinned to its thread (its stack may hold thread-local addresses;
//! see "Sound by default" in the task module), so the worker's queued tasks must stay where
//! they are. So goro moves the other thing: **the call** goes to a spare thread, and the task
//! parks until it returns. The worker keeps running everything else, pinned tasks included.
//! The price is that the closure must be `Send + 'static` (it runs elsewhere, and must not
//! borrow from a stack that may be unwound while it runs), like `std::thread::spawn`.
//!
//! Spare threads come from a pool per run, capped by
//! [`Builder::max_blocking_threads`](crate::runtime::Builder::max_blocking_threads); beyond
//! the cap calls wait in a FIFO for a free thread. An idle spare thread waits for the next
//! call for a while (`KEEP_ALIVE`) before it exits, so a burst of calls reuses threads. At the
//! end of a run idle spare threads exit; a call still running finishes on its thread, and its
//! result is dropped.
//!
//! Rules:
//!
//! 1. A task waiting in [`blocking`] counts as a waker from outside the workers
//!    (`sched::External`): the run is not deadlocked while the call runs.
//! 2. The result reaches the task through a slot it owns a reference to; the spare thread
//!    writes it, then wakes the task. A wakeup may be spurious: the task re-checks the slot.
//! 3. A panic in the closure is caught on the spare thread and resumed in the calling task.
//! 4. At most `max` spare threads exist at once; a thread takes jobs until the pool shuts down
//!    or it idled for `KEEP_ALIVE`.
//!
//! Go counterpart: `entersyscall`, `exitsyscall`, `handoffp` in `runtime/proc.go` (and the
//! cgo call path); tokio's `spawn_blocking`. Lesson: 13 (preemption and blocking).

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::Duration;

use super::parking::{current_parker, park_with};
use super::state::WaitReason;
use crate::sched;

/// How long an idle spare thread waits for another call before it exits.
const KEEP_ALIVE: Duration = Duration::from_secs(10);

/// Default cap on spare threads per run.
pub const DEFAULT_MAX_BLOCKING_THREADS: usize = 64;

type Job = Box<dyn FnOnce() + Send>;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

struct PoolState {
    jobs: VecDeque<Job>,
    threads: usize,
    idle: usize,
    shutdown: bool,
    /// Spare threads started over the run (for tests and stats).
    started: usize,
}

/// A run's spare threads (rule 4).
pub(crate) struct BlockingPool {
    max: usize,
    state: Arc<(Mutex<PoolState>, Condvar)>,
}

impl BlockingPool {
    pub(crate) fn new(max: usize) -> BlockingPool {
        BlockingPool {
            max: max.max(1),
            state: Arc::new((
                Mutex::new(PoolState {
                    jobs: VecDeque::new(),
                    threads: 0,
                    idle: 0,
                    shutdown: false,
                    started: 0,
                }),
                Condvar::new(),
            )),
        }
    }

    /// Queues `job`; starts a spare thread if none is idle and the cap allows.
    fn submit(&self, job: Job) {
        let (m, cv) = &*self.state;
        let mut st = lock(m);
        st.jobs.push_back(job);
        if st.idle > 0 {
            cv.notify_one();
            return;
        }
        if st.threads < self.max {
            st.threads += 1;
            st.started += 1;
            let n = st.started;
            drop(st);
            let state = self.state.clone();
            let spawned = thread::Builder::new()
                .name(format!("goro-blocking-{n}"))
                .spawn(move || spare_thread(&state));
            if spawned.is_err() {
                // No thread: the job waits for one of the others (there may be none yet;
                // the next call tries again).
                lock(m).threads -= 1;
            }
        }
    }

    /// Spare threads started in this run so far.
    pub(crate) fn threads_started(&self) -> usize {
        lock(&self.state.0).started
    }

    /// The run is over: idle spare threads exit now, busy ones after their call.
    pub(crate) fn shutdown(&self) {
        let (m, cv) = &*self.state;
        lock(m).shutdown = true;
        cv.notify_all();
    }
}

fn spare_thread(state: &(Mutex<PoolState>, Condvar)) {
    let (m, cv) = state;
    let mut st = lock(m);
    loop {
        if let Some(job) = st.jobs.pop_front() {
            drop(st);
            job();
            st = lock(m);
            continue;
        }
        if st.shutdown {
            break;
        }
        st.idle += 1;
        let (next, timeout) = cv
            .wait_timeout(st, KEEP_ALIVE)
            .unwrap_or_else(|e| e.into_inner());
        st = next;
        st.idle -= 1;
        if timeout.timed_out() && st.jobs.is_empty() {
            break;
        }
    }
    st.threads -= 1;
}

/// Where the spare thread leaves the call's outcome (rule 2).
struct Outcome<R> {
    value: Mutex<Option<thread::Result<R>>>,
}

/// Runs `f` on a spare OS thread and returns its value; the calling task parks meanwhile
/// (shown as `[syscall]` in [`crate::debug::dump`]) and its worker keeps running other tasks.
/// A panic in `f` is resumed in the caller. On a plain thread (outside a task) `f` simply runs
/// here. See the [module docs](self) for why the call moves rather than the other tasks.
///
/// ```
/// let rt = goro::Runtime::builder().workers(1).build().unwrap();
/// let n = rt.block_on(|| {
///     let ticker = goro::spawn(|| (0..100).map(|_| goro::yield_now()).count());
///     // Blocks a spare thread, not the only worker: `ticker` runs meanwhile.
///     let n = goro::task::blocking(|| {
///         std::thread::sleep(std::time::Duration::from_millis(10));
///         7
///     });
///     ticker.join().unwrap() + n
/// });
/// assert_eq!(n.unwrap(), 107);
/// ```
#[track_caller]
pub fn blocking<F, R>(f: F) -> R
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    if !sched::in_task() {
        return f();
    }
    // Rule 1: counted for as long as the task waits.
    let Some(waker) = sched::External::here() else {
        return f();
    };
    let out = Arc::new(Outcome {
        value: Mutex::new(None),
    });
    let me = current_parker();
    let job = {
        let out = out.clone();
        Box::new(move || {
            let r = catch_unwind(AssertUnwindSafe(f));
            *lock(&out.value) = Some(r);
            me.wake();
        })
    };
    trace_blocking(crate::trace::Kind::BlockingEnter);
    sched::with_shared(|s| s.blocking.submit(job));
    let r = loop {
        if let Some(r) = lock(&out.value).take() {
            break r;
        }
        park_with(WaitReason::Syscall);
    };
    trace_blocking(crate::trace::Kind::BlockingExit);
    drop(waker);
    match r {
        Ok(v) => v,
        Err(p) => resume_unwind(p),
    }
}

/// Records the calling task's entry into or return from [`blocking`] in the execution trace.
fn trace_blocking(kind: crate::trace::Kind) {
    if crate::trace::on() {
        let me = sched::current_task_ptr();
        // SAFETY: called from a running task (checked by `blocking`), whose header this is.
        let id = unsafe { (*me).id };
        sched::with_shared(|s| crate::trace::record(s, kind, id, 0, 0, 0));
    }
}
