//! The switch: how a worker passes from one task to the next.
//!
//! When a task yields or parks and its worker has another task ready locally, the task
//! switches **straight to it** (one register switch, not two via the scheduler loop, like Go's
//! `gogo` from `schedule` on g0, minus the g0 hop). Whoever is switched to completes the switch
//! ([`Worker::land`]): it stores the old task's registers and only then queues or parks it.
//! Heavier work (the global queue, timers, stealing, parking the thread) stays in the
//! scheduler loop (`mod.rs`) on the worker's own stack, so parked tasks' stacks stay shallow.
//!
//! A task whose body returned may hand its stack to the next task in line that has not
//! started ([`Worker::chain`]): that one starts in the same frame, with no trip through the
//! stack pool, no fresh context and no switch.
//!
//! Rules:
//!
//! 1. Every switch is recorded (`set_pending`: who leaves, and the [`Switch`] request) before
//!    the jump, and landed exactly once by whoever runs next, before it does anything else.
//! 2. A leaving task's registers are saved in `land`, and only after that is it queued
//!    (`Yield`), marked parked (`Park`, `task::state` rule 2; `ParkLocked`, rule 7 there, which
//!    then releases the lock the task parked holding) or retired (`Finished`,
//!    `Abandon`): nobody can resume a task whose registers are not saved yet.
//! 3. A direct switch only picks from this worker's own queues (`find_local`) and never
//!    blocks; everything else goes back to the scheduler loop.
//! 4. A pinned task resumes on the thread it left; a migratable one may land on another
//!    worker, so after its switch it looks its worker up again.
//! 5. No task is current while a finished one is retired: dropping its record must not see
//!    it as the running task.
//! 6. Every direct switch and every chained start checks the earliest timer first (one
//!    compare while none is pending): if one is due, the switch goes back to the loop, which
//!    fires it. A task that never yields still reaches a scheduling point when it finishes,
//!    so a sleeper waits at most one task's run past its deadline.
//! 7. A parked task keeps the reference it ran with: the switch that parks it forgets it, and
//!    whoever claims the task (`PARKED -> EMPTY`: an unpark, or shutdown cancelling it) takes
//!    it over (`worker::take_parked_ref`) and queues the task with it. So a waker needs no
//!    reference of its own to wake a parked task (`wait/selector.rs`, rule 5), and a
//!    park/unpark pair changes no reference count.
//!
//! Go counterpart: `gogo`, `mcall`, `park_m`, `goschedImpl`, `goexit0` in `runtime/proc.go`.
//! Lessons: 03 (the context switch) and 04 (scheduler).

use std::ptr;
use std::sync::atomic::Ordering;

use context::Transfer;

use super::shared::Shared;
use super::worker::{FAIRNESS_TICK, TASK, Worker, wake_joiner, worker_here};
use crate::coroutine;
use crate::task::record::{Header, TaskRef, cancelled_payload};
use crate::task::state::Switch;
use crate::wait::RawLock;

/// Task side: switch the running task out (see `Worker::switch_from_task`).
#[inline(never)]
pub(crate) fn leave_task(req: Switch) {
    // Read before the switch: this function is never inlined (see `worker_here`).
    let w = worker_here();
    // Checked by the callers (`task::parking`), which call this only from a running task.
    debug_assert!(!w.is_null(), "a task runs on a worker");
    // SAFETY: the caller is a running task (its `current_task_ptr` is not null), and a task
    // runs only inside its worker's `execute`, while that worker is installed on this thread;
    // the worker outlives every task it runs.
    unsafe { (*w).switch_from_task(req) };
}

/// Task side: park the running task while it holds `lock`, which is released on the far side
/// of the switch once the task is parked (`task::state` rule 7).
///
/// # Safety
/// The caller is a running task that holds `lock` and set its state to waiting; the lock
/// outlives the switch (it guards the queue the task's wait node is on).
#[inline(never)]
pub(crate) unsafe fn leave_task_unlocking(lock: *const RawLock) {
    let w = worker_here();
    debug_assert!(!w.is_null(), "a task runs on a worker");
    // SAFETY: as in `leave_task`: a running task's worker outlives it.
    let w = unsafe { &*w };
    debug_assert!(
        w.pending_unlock.get().is_null(),
        "a switch was left incomplete"
    );
    w.pending_unlock.set(lock);
    w.switch_from_task(Switch::ParkLocked);
}

/// Task side, a task's body just returned (see `Worker::chain`): the header of the task that
/// now runs in its place on this stack, or None to leave through `leave_task(Finished)`.
#[inline(never)]
fn chain_next() -> Option<*const Header> {
    let w = worker_here();
    assert!(!w.is_null(), "a task runs on a worker");
    // SAFETY: the worker outlives every task it runs.
    unsafe { &*w }.chain()
}

/// Task side, right after being switched to: complete the switch, then record this task
/// (`me`, its own header) as the one running on this thread.
#[inline(never)]
fn landed_in_task(from: context::Context, me: *const Header) {
    let w = worker_here();
    assert!(!w.is_null(), "a task runs on a worker");
    // SAFETY: the worker outlives every task it runs.
    unsafe { &*w }.land_in_task(from, me);
}

/// The first code a task runs on its own stack.
extern "C" fn task_entry(t: Transfer) -> ! {
    let mut h = t.data as *const Header;
    // Complete the switch that brought us here (store the switcher's context).
    landed_in_task(t.context, h);
    loop {
        // SAFETY: `h` is the running task's header (the switcher passed it, or `chain_next`
        // made it the running task), which the worker keeps alive for as long as it runs.
        run_body(unsafe { &*h });
        // A task that has not started yet may run next right here, on this stack (Go has no
        // such shortcut: `goexit0` always goes back through `schedule`).
        match chain_next() {
            Some(next) => h = next,
            None => break,
        }
    }
    leave_task(Switch::Finished);
    unreachable!("a finished task was resumed")
}

/// Runs the body with the panic caught, and publishes the outcome. Every value with a
/// destructor lives in this frame, so all of it is dropped before the final switch.
#[inline(never)]
fn run_body(header: &Header) {
    if header.cancelled.load(Ordering::Relaxed) {
        header.drop_closure();
        header.shared().unregister(header);
        wake_joiner(header.complete(Some(cancelled_payload())));
        return;
    }
    let panic = header.run_closure();
    // Leave the registry before publishing the outcome (`registry.rs`, rule 2).
    header.shared().unregister(header);
    wake_joiner(header.complete(panic));
}

impl Worker {
    /// Gets `t` ready to be switched into: on its first run it is counted as started, gets its
    /// stack and is registered on this (its home) worker. False if it could not start.
    #[inline]
    pub(super) fn prepare(&self, t: &TaskRef) -> bool {
        t.is_started() || self.prepare_first_run(t)
    }

    /// `prepare` for a task that has not started yet.
    #[inline(never)]
    fn prepare_first_run(&self, t: &TaskRef) -> bool {
        if let Err(joiner) = t.start(self.index, task_entry) {
            self.count_start();
            wake_joiner(joiner);
            return false;
        }
        // Registered before it stops counting as not started (`registry.rs`, rule 5).
        self.register(t);
        self.count_start();
        if !t.migratable {
            self.local.borrow_mut().homed_live += 1;
        }
        true
    }

    /// Scheduler side: switches into `t`, and returns once some task switches back to the
    /// scheduler (not necessarily `t`: tasks hand the worker to each other directly).
    pub(super) fn execute(&self, t: TaskRef) {
        if !self.prepare(&t) {
            return;
        }
        // SAFETY: `t` is prepared (started); we own it (popped from a queue or claimed); a
        // started pinned task only ever reaches the queues of its home worker, so we are on
        // its thread.
        let to = unsafe { t.take_ctx() };
        let data = TaskRef::as_ptr(&t) as usize;
        self.set_pending(None, Switch::Run);
        self.enter_task(t);
        // SAFETY: `to` is the task's saved context on its live stack.
        let back = unsafe { coroutine::jump(to, data) };
        self.land(back.context);
        TASK.with(|c| c.set(ptr::null()));
        crate::signal::set_current(ptr::null());
    }

    /// Records the switch about to happen (consumed by `land` on the other side; rule 1).
    #[inline]
    fn set_pending(&self, from: Option<TaskRef>, action: Switch) {
        debug_assert_eq!(
            self.pending_req.get(),
            Switch::None,
            "a switch was left incomplete"
        );
        debug_assert!(
            self.pending_from.get().is_null(),
            "a switch was left incomplete"
        );
        self.pending_req.set(action);
        // The reference travels as a raw pointer to the `land` on the other side.
        self.pending_from
            .set(from.map_or(ptr::null(), TaskRef::into_raw));
    }

    fn enter_task(&self, t: TaskRef) {
        let old = self.running.replace(Some(t));
        debug_assert!(old.is_none(), "two tasks running on one worker");
        std::mem::forget(old);
    }

    /// Task side: leaves the running task with request `req` and switches straight to the next
    /// runnable task if there is one here, else to the scheduler. Returns when the task is
    /// resumed (for `Finished`: never).
    fn switch_from_task(&self, req: Switch) {
        let me = self
            .running
            .take()
            .expect("leave_task called outside a task");
        let pinned = !me.migratable;
        // The main task's exit ends the run: go back to the scheduler so nothing else runs
        // after it. During shutdown every switch goes back to the scheduler too.
        let main_exits = me.is_main && req == Switch::Finished;
        // One read of the run's address for the whole pick (the compiler cannot tell that the
        // worker's cells, written in between, do not change it).
        let shared: &Shared = &self.shared;
        let direct = !(main_exits || shared.is_shutting_down());
        let next = if direct { self.pick_next(shared) } else { None };
        let me_ptr = TaskRef::as_ptr(&me);
        self.set_pending(Some(me), req);
        let back = match next {
            Some(b) => {
                // SAFETY: `b` was popped from this worker's queues and is prepared (started):
                // we own it, and it is pinned here or migratable.
                let to = unsafe { b.take_ctx() };
                let data = TaskRef::as_ptr(&b) as usize;
                self.enter_task(b);
                // SAFETY: `to` is b's saved context on its live stack.
                unsafe { coroutine::jump(to, data) }
            }
            None => {
                let to = self
                    .sched_ctx
                    .take()
                    .expect("the scheduler context is saved");
                // SAFETY: the scheduler is suspended in `execute` on this thread.
                unsafe { coroutine::jump(to, 0) }
            }
        };
        if pinned {
            // A pinned task resumes on the thread it left: still this worker (rule 4).
            self.land_in_task(back.context, me_ptr);
        } else {
            // Possibly another thread: look the worker up again rather than using `self`.
            landed_in_task(back.context, me_ptr);
        }
    }

    /// Task side, right after the task `me` was switched to on this worker.
    #[inline(always)]
    fn land_in_task(&self, from: context::Context, me: *const Header) {
        self.land(from);
        debug_assert!(
            // SAFETY: `running` is only touched by this worker's thread, and no other
            // reference into the cell exists during this read.
            unsafe { (*self.running.as_ptr()).as_ref() }.is_some_and(|r| ptr::eq(&**r, me)),
            "the task that landed is the one recorded as running"
        );
        TASK.with(|c| c.set(me));
        // SAFETY: `me` is the running task, which `running` keeps alive while it runs.
        crate::signal::set_current(unsafe { &*me }.overflow_info());
    }

    /// A cheap pick for a direct task-to-task switch: only this worker's own queues (rule 3).
    /// Every 61st tick, when a timer is due, and whenever they are empty, the task goes back to
    /// the scheduler loop,
    /// which does the heavier work (global queue, timers, stealing, parking the thread). That
    /// keeps those paths off task stacks, which stay one page deep when parked.
    #[inline(always)]
    fn pick_next(&self, shared: &Shared) -> Option<TaskRef> {
        if self.deterministic {
            self.pick_next_deterministic()
        } else {
            self.find_local(shared)
        }
    }

    /// Completes a switch on the side that was switched to: stores the context of whoever
    /// switched away and carries out what it asked for (rules 1, 2). Only now, with its
    /// registers saved, may a yielding task be queued or a parking task be marked parked.
    #[inline(always)]
    pub(super) fn land(&self, from: context::Context) {
        let action = self.pending_req.get();
        let prev = self.pending_from.get();
        debug_assert_ne!(action, Switch::None, "a switch is pending");
        if cfg!(debug_assertions) {
            self.pending_req.set(Switch::None);
            self.pending_from.set(ptr::null());
        }
        if prev.is_null() {
            self.sched_ctx.set(Some(from));
            return;
        }
        // SAFETY: `set_pending` stored this pointer with `TaskRef::into_raw` for this very switch,
        // and each switch is landed once: the reference is ours again.
        let prev = unsafe { TaskRef::from_raw(prev) };
        match action {
            Switch::Yield => {
                // SAFETY: `prev` is a started task that just switched away on this thread;
                // nobody else can see it.
                unsafe { prev.save_ctx(from) };
                self.requeue(prev);
            }
            Switch::Park => {
                // SAFETY: as above.
                unsafe { prev.save_ctx(from) };
                if prev.st.finish_park() {
                    // Rule 7: the parked task keeps this reference for whoever claims it.
                    std::mem::forget(prev);
                } else {
                    self.requeue(prev);
                }
            }
            Switch::ParkLocked => {
                // SAFETY: as above.
                unsafe { prev.save_ctx(from) };
                prev.st.finish_park_locked();
                // Rule 7, as for `Park`.
                std::mem::forget(prev);
                let lock = self.pending_unlock.replace(ptr::null());
                // SAFETY: `leave_task_unlocking` stored the lock the parked task holds, which
                // outlives the switch; releasing it is the task's last step of the park.
                unsafe { (*lock).unlock() };
            }
            _ => self.land_finished(prev, action, from),
        }
    }

    /// `land` for a task that finished or was abandoned, or a spawner stepping back behind its
    /// ring (kept out of the switch path).
    #[inline(never)]
    fn land_finished(&self, prev: TaskRef, action: Switch, from: context::Context) {
        match action {
            Switch::Behind => {
                // SAFETY: as for `Yield` in `land`.
                unsafe { prev.save_ctx(from) };
                self.put_behind(prev);
            }
            Switch::Abandon | Switch::Finished => {
                // Rule 5.
                TASK.with(|c| c.set(ptr::null()));
                crate::signal::set_current(ptr::null());
                self.finish(prev, action == Switch::Abandon);
            }
            other => unreachable!("a task cannot leave with {other:?}"),
        }
    }

    /// Called on a finished task's stack, in `task_entry`, when its body has returned: if the
    /// task this worker would switch to next has not started yet and wants a stack of the same
    /// size, it takes over this one. The finished task is retired here and the new one starts
    /// in the same frame, with no trip through the stack pool, no fresh context and no
    /// switch. (Spawning a million short tasks: about a third of the work of running one.) The
    /// choice is `find_local`'s: the same tick, the same fairness, `runnext` and the private
    /// queue first when it is their turn; anything else goes the usual way.
    fn chain(&self) -> Option<*const Header> {
        let shared: &Shared = &self.shared;
        if self.deterministic || shared.is_shutting_down() {
            return None;
        }
        // SAFETY: `running` is only touched by this worker's thread, and no other reference
        // into the cell exists during this read.
        let old = unsafe { (*self.running.as_ptr()).as_deref() }?;
        if old.is_main || old.migratable {
            return None;
        }
        self.drain_inbox();
        // The tick `find_local` would count. It is only counted here if the chain happens;
        // otherwise `find_local` counts it and decides exactly as it would have.
        let tick = self.tick.get().wrapping_add(1);
        if tick.is_multiple_of(FAIRNESS_TICK) || shared.timers.due() {
            return None;
        }
        // SAFETY: as above, for `runnext`.
        if unsafe { (*self.runnext.as_ptr()).is_some() }
            || tick & 1 == 0 && self.pinned.len() != 0
            || self.behind_is_due()
        {
            return None;
        }
        let next = self.me().ring.pop()?;
        if next.is_started() || next.migratable || next.stack_size() != old.stack_size() {
            // Not for this stack: it runs next the usual way.
            if self.prepare(&next) {
                self.runnext.set(Some(next));
            }
            return None;
        }
        self.tick.set(tick);
        let old = self.running.take().expect("the running task is recorded");
        // SAFETY: `old` is the running task, its body has returned and we run on its stack in
        // `task_entry`'s frame (this is only called from there); `next` is ours (popped from our
        // ring) and has not started.
        unsafe {
            let co = old.take_co().expect("a running task has its coroutine");
            next.start_on(co, self.index);
        }
        self.register(&next);
        self.count_start(); // after registering (`registry.rs`, rule 5)
        self.local.borrow_mut().homed_live += 1;
        // Retire the finished task as `land_finished` would (rule 5).
        TASK.with(|c| c.set(ptr::null()));
        crate::signal::set_current(ptr::null());
        self.finish(old, false);
        let p = TaskRef::as_ptr(&next);
        self.enter_task(next);
        TASK.with(|c| c.set(p));
        // SAFETY: `p` is the running task, kept alive by `running`.
        crate::signal::set_current(unsafe { &*p }.overflow_info());
        Some(p)
    }

    /// Retires a finished (or abandoned) task and hands its record back for reuse.
    fn finish(&self, t: TaskRef, abandon: bool) {
        wake_joiner(t.retire(abandon));
        if !t.migratable {
            self.local.borrow_mut().homed_live -= 1;
        }
        if abandon {
            // A finished task left the registry itself, before publishing its outcome.
            self.shared.unregister(&t);
        }
        if t.is_main {
            self.shared.begin_shutdown();
        }
        super::registry::recycle(t);
    }

    /// This worker's own queues only, the task ready to switch into (prepared); None every
    /// 61st tick, and when a timer is due, so the scheduler loop gets to run its checks.
    #[inline(always)]
    fn find_local(&self, shared: &Shared) -> Option<TaskRef> {
        self.drain_inbox();
        let tick = self.tick.get().wrapping_add(1);
        self.tick.set(tick);
        // The earliest timer is checked at every scheduling point (rule 6); a due one is fired
        // by the loop, off this task's stack.
        if tick.is_multiple_of(FAIRNESS_TICK) || shared.timers.due() {
            self.periodic_due.set(true);
            return None;
        }
        // `runnext` and the pinned FIFO only ever hold started tasks (woken or yielded ones):
        // only a task from the ring may need its first-run preparation.
        if let Some(t) = self.runnext.take() {
            debug_assert!(t.is_started());
            return Some(t);
        }
        if let Some(t) = self.take_behind_if_due() {
            return Some(t);
        }
        if tick & 1 == 0 {
            if let Some(t) = self.pinned.pop_front() {
                return Some(t);
            }
            self.pop_ring_prepared()
        } else {
            if let Some(t) = self.pop_ring_prepared() {
                return Some(t);
            }
            self.pinned.pop_front()
        }
        .or_else(|| self.take_behind())
    }

    /// The next task from the ring that could be prepared to run.
    #[inline(always)]
    fn pop_ring_prepared(&self) -> Option<TaskRef> {
        loop {
            let t = self.me().ring.pop()?;
            if self.prepare(&t) {
                return Some(t);
            }
        }
    }
}
