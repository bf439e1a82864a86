//! How a task leaves its worker: [`park_with`] (wait until unparked) and [`yield_now`] (go to
//! the back of the line), and who "the current task" is.
//!
//! Both write the task's state through [`TaskState::set`](super::state::TaskState::set) and
//! then ask the scheduler to switch away (`sched::leave_task`). The park only becomes a park on
//! the far side of that switch, once the task's registers are saved (see `state`, rule 2).
//!
//! Rules:
//!
//! 1. A task being cancelled (its runtime shuts down) never parks again: `park_with` and
//!    `yield_now` unwind it with the private cancellation payload, so its destructors run. The
//!    cancellation is sticky: code that catches the payload (`catch_unwind`) and waits again
//!    gets it again, so it can go on unwinding through layers that catch panics; [`is_cancelled`]
//!    tells code that wants to stop on its own.
//! 2. If it parks anyway while already unwinding (a destructor that waits), or catches the
//!    cancellation `CANCEL_RAISES` times and still waits again (a loop around
//!    `catch_unwind(|| sleep(..))`), it is abandoned: it never runs again, its stack is never
//!    reused, and its `join` reports the cancellation. Shutdown always finishes.
//! 3. Outside a task both functions fall back to the OS thread (`std::thread::park`,
//!    `std::thread::yield_now`), so the primitives built on them work from plain threads too.
//!
//! Go counterpart: `gopark`, `Gosched` and `getg` in `runtime/proc.go`. Lesson: 04.

use std::panic::{Location, resume_unwind};
use std::sync::atomic::Ordering;
use std::thread;

use super::record::{Header, Parker, TaskRef};
use super::state::{State, Switch, WaitReason};
use crate::coroutine::Cancelled;
use crate::sched;
use crate::wait::RawLock;

/// The running task's header, if the caller is a task.
pub(crate) fn current_header() -> Option<TaskRef> {
    let p = sched::current_task_ptr();
    if p.is_null() {
        None
    } else {
        // SAFETY: the pointer is the header of the task running on this thread; the scheduler
        // holds a strong reference for as long as it runs, so incrementing is fine.
        unsafe {
            TaskRef::increment_count(p);
            Some(TaskRef::from_raw(p))
        }
    }
}

/// The parker for whoever is running: the current task, or the current OS thread.
pub(crate) fn current_parker() -> Parker {
    match current_header() {
        Some(h) => Parker::Task(h),
        None => Parker::Thread(thread::current()),
    }
}

/// How many times a task's cancellation is raised before a task that keeps catching it and
/// waiting again is abandoned (rule 2): enough for code that converts panics to errors layer by
/// layer, few enough that shutdown does not wait on a loop.
const CANCEL_RAISES: u8 = 16;

/// Switches the running task out with request `req`; returns when it is resumed. Unwinds with
/// the private cancellation payload if the runtime is shutting down (rule 1).
fn switch_out(h: *const Header, req: Switch) {
    sched::leave_task(req);
    // SAFETY: `h` is the running task's header, alive while it runs.
    resumed(unsafe { &*h });
}

/// A task just resumed from a switch: unwinds it if its runtime is cancelling it (rule 1).
#[inline]
fn resumed(header: &Header) {
    if header.cancelled.load(Ordering::Relaxed) && !thread::panicking() {
        raise_cancel(header);
    }
}

/// Unwinds the running, cancelled task with the private payload (rule 1).
#[cold]
fn raise_cancel(header: &Header) -> ! {
    let raised = header.cancel_raises.load(Ordering::Relaxed);
    header
        .cancel_raises
        .store(raised.saturating_add(1), Ordering::Relaxed);
    resume_unwind(Box::new(Cancelled));
}

/// A cancelled task waits again: raise the cancellation again, or abandon the task if it was
/// raised while unwinding or too often already (rules 1 and 2).
#[cold]
#[track_caller]
fn cancelled_wait(header: &Header, reason: WaitReason) -> ! {
    let caught_too_often = header.cancel_raises.load(Ordering::Relaxed) >= CANCEL_RAISES;
    if !thread::panicking() && !caught_too_often {
        raise_cancel(header);
    }
    if caught_too_often {
        eprintln!(
            "goro: goroutine {} caught its cancellation {CANCEL_RAISES} times and waited again; \
             it is abandoned so that its runtime can shut down (its stack is leaked). A loop \
             that catches panics should stop when goro::task::is_cancelled() is true.",
            header.id
        );
    }
    header
        .st
        .set_waiting(reason, Location::caller(), header.coarse_now_ms());
    sched::leave_task(Switch::Abandon);
    unreachable!("an abandoned task was resumed");
}

/// Whether the current task is being cancelled because its runtime is shutting down.
///
/// From then on every wait in the task (`park`, `sleep`, channel operations, `yield_now`, ...)
/// unwinds it again with the runtime's private payload, which [`crate::recover`] never catches;
/// a loop that catches panics some other way (`std::panic::catch_unwind`) should check this and
/// stop. False outside a task. Go has no counterpart: Go kills goroutines when `main` returns.
pub fn is_cancelled() -> bool {
    let h = sched::current_task_ptr();
    // SAFETY: a non-null pointer is the running task's header.
    !h.is_null() && unsafe { &*h }.cancelled.load(Ordering::Relaxed)
}

/// Parks the current task (or thread) until unparked; the dump shows `reason`, since when, and
/// the caller's location as where the task is blocked.
#[track_caller]
pub fn park_with(reason: WaitReason) {
    let h = sched::current_task_ptr();
    if h.is_null() {
        thread::park();
        return;
    }
    // SAFETY: `h` is the running task's header.
    let header = unsafe { &*h };
    // A token waiting?
    if header.st.take_token() {
        return;
    }
    if header.cancelled.load(Ordering::Relaxed) {
        cancelled_wait(header, reason);
    }
    header
        .st
        .set_waiting(reason, Location::caller(), header.coarse_now_ms());
    switch_out(h, Switch::Park);
}

/// Parks the current task while it holds `lock`, the lock its only rightful waker must take (a
/// channel's blocking send or receive): the lock is released on the far side of the switch,
/// once the task is parked, so the park needs no compare-and-swap (`state` rule 7; Go's
/// `gopark` with `chanparkcommit`). Outside a task, and for a task being cancelled, the lock is
/// released here and nothing parks: the caller's wait loop parks the usual way. Either way the
/// lock is released when this returns.
#[track_caller]
pub(crate) fn park_unlocking(reason: WaitReason, lock: &RawLock) {
    let h = sched::current_task_ptr();
    // SAFETY: a non-null `h` is the running task's header.
    if h.is_null() || unsafe { &*h }.cancelled.load(Ordering::Relaxed) {
        lock.unlock();
        return;
    }
    // SAFETY: as above.
    let header = unsafe { &*h };
    header
        .st
        .set_waiting(reason, Location::caller(), header.coarse_now_ms());
    // SAFETY: we are the running task, we hold `lock` and are marked waiting; the lock guards
    // the queue our wait node is on, which outlives the wait.
    unsafe { sched::leave_task_unlocking(lock) };
    resumed(header);
}

/// Spawn's back-pressure (`Worker::defer_spawner`, called only from a running pinned task that
/// is not unwinding): the task steps back behind the tasks it queued and resumes once they
/// have left its worker's ring. Not a wait: no cancellation is raised here.
pub(crate) fn step_behind() {
    let h = sched::current_task_ptr();
    debug_assert!(!h.is_null(), "only a running task steps behind");
    // SAFETY: `h` is the running task.
    unsafe { &*h }.st.set(State::Runnable);
    sched::leave_task(Switch::Behind);
}

/// Lets other tasks run; the current one goes to the back of its worker's queue.
/// On a plain OS thread this is `std::thread::yield_now`.
pub fn yield_now() {
    let h = sched::current_task_ptr();
    if h.is_null() {
        thread::yield_now();
        return;
    }
    // SAFETY: `h` is the running task.
    let header = unsafe { &*h };
    if header.cancelled.load(Ordering::Relaxed) {
        if thread::panicking() {
            return;
        }
        cancelled_wait(header, WaitReason::Park);
    }
    header.st.set(State::Runnable);
    switch_out(h, Switch::Yield);
}
