//! Shutdown: how a run ends, and how it declares a deadlock.
//!
//! A run ends when its main task returns (or the run finds itself deadlocked). Every worker
//! then leaves its loop and cancels the tasks it owns: a task that never started is dropped
//! with its closure; a started one is resumed with its `cancelled` flag set, so it unwinds from
//! its suspension point and its destructors run (see `crate::runtime`). Worker 0 sweeps up
//! last, after the other threads exited.
//!
//! Rules:
//!
//! 1. Once `shutdown` is set, no task switches directly to another: every switch goes back to
//!    the scheduler loop, which leaves (`switch.rs`). A task spawned from then on never runs.
//! 2. A started pinned task is cancelled only by its home worker: queued ones as it finds them,
//!    parked ones after claiming them (`PARKED -> EMPTY`, `task::state` rule 4), so a waker
//!    and the canceller never both queue it.
//! 3. A worker leaves once none of its pinned tasks is alive; while one is, a wakeup for it is
//!    in flight to the inbox, so the worker waits (on its park driver) and looks again.
//! 4. A deadlock's dump is taken when it is declared, before anything is cancelled.
//! 5. The run ends only when every task is dead. A live task that is neither queued nor parked
//!    has been claimed by a waker (`PARKED -> EMPTY`) that has not queued it yet; that waker
//!    may be on a foreign thread, still reading the run's shared state (`wake_foreign`), so
//!    the final sweep waits for it however long it takes, never gives up.
//!
//! Go counterpart: `main` returning calls `exit` (Go kills goroutines; goro unwinds them),
//! `checkdead`'s "all goroutines are asleep - deadlock!". Lesson: 04 (scheduler).

use std::sync::atomic::Ordering;
use std::time::Duration;

use super::shared::{Shared, lock};
use super::worker::{Worker, take_parked_ref, wake_joiner};
use crate::task::record::TaskRef;

impl Shared {
    pub(crate) fn is_shutting_down(&self) -> bool {
        self.shutdown.load(Ordering::Acquire)
    }

    /// Stops the run: every worker leaves its loop and cancels its leftover tasks.
    pub(crate) fn begin_shutdown(&self) {
        self.shutdown.store(true, Ordering::Release);
        for w in self.workers.iter() {
            w.park.wake();
        }
    }

    pub(crate) fn take_deadlock(&self) -> Option<String> {
        lock(&self.deadlock).take()
    }

    /// Drops the leftovers that would otherwise keep `Shared` alive through reference cycles
    /// (timer callbacks and registry entries hold task handles, which hold `Shared`).
    pub(crate) fn clear(&self) {
        self.timers.clear();
        for w in self.workers.iter() {
            let slab = w.registry.with(std::mem::take);
            drop(slab);
            let inbox = std::mem::take(&mut *lock(&w.inbox));
            drop(inbox);
            while let Some(t) = w.ring.pop() {
                drop(t);
            }
        }
        let global = self.global.take_all();
        drop(global);
        let spares = std::mem::take(&mut *lock(&self.spare_headers));
        drop(spares);
    }
}

impl Worker {
    /// Records the dump of a deadlocked run (rule 4) and ends the run.
    pub(super) fn declare_deadlock(&self) {
        let dump = self.shared.dump();
        *lock(&self.shared.deadlock) = Some(dump);
        self.shared.begin_shutdown();
    }

    /// Pops any task from this worker's queues (shutdown).
    fn pop_local_any(&self) -> Option<TaskRef> {
        self.drain_inbox();
        if let Some(t) = self.runnext.take() {
            return Some(t);
        }
        if let Some(t) = self.pinned.pop_front().or_else(|| self.take_behind()) {
            return Some(t);
        }
        let mut l = self.local.borrow_mut();
        if !l.det.is_empty() {
            return Some(l.det.remove(0));
        }
        drop(l);
        self.me().ring.pop()
    }

    /// Cancels a task this worker owns: drops it if it never started, otherwise resumes it so it
    /// unwinds from its suspension point.
    fn cancel(&self, t: TaskRef) {
        if t.is_started() {
            t.cancelled.store(true, Ordering::Relaxed);
            self.execute(t);
        } else {
            self.count_start();
            wake_joiner(t.cancel_unstarted());
        }
    }

    /// Shutdown, per worker: cancel every task pinned here (rules 2, 3).
    pub(super) fn drain_for_shutdown(&self) {
        loop {
            let mut progress = false;
            while let Some(t) = self.pop_local_any() {
                self.cancel(t);
                progress = true;
            }
            if self.local.borrow().homed_live == 0 {
                break;
            }
            for t in self.shared.snapshot() {
                if t.home.load(Ordering::Relaxed) == self.index && t.st.claim_parked() {
                    // SAFETY: our claim succeeded just now; `t` (a registry reference) keeps
                    // the task alive while the park's reference goes (`switch.rs`, rule 7).
                    drop(unsafe { take_parked_ref(TaskRef::as_ptr(&t)) });
                    self.cancel(t);
                    progress = true;
                }
            }
            if !progress {
                // A wakeup for one of our tasks is on its way to the inbox.
                self.me().park.sleep(Some(Duration::from_millis(1)));
            }
        }
    }

    /// Shutdown, last step on worker 0 after the other threads exited: whatever is left
    /// (unstarted tasks in the global queue, migratable tasks) is cancelled here. Returns only
    /// once every task is dead (rule 5).
    pub(crate) fn final_sweep(&self) {
        let mut idle_rounds = 0;
        loop {
            let mut progress = false;
            let mut leftovers: Vec<TaskRef> = self.shared.global.take_all().into();
            for w in self.shared.workers.iter() {
                while let Some(t) = w.ring.pop() {
                    leftovers.push(t);
                }
                leftovers.extend(std::mem::take(&mut *lock(&w.inbox)));
                w.inbox_len.store(0, Ordering::Release);
            }
            while let Some(t) = self.pop_local_any() {
                leftovers.push(t);
            }
            for t in leftovers {
                self.cancel(t);
                progress = true;
            }
            let live = self.shared.snapshot();
            if live.is_empty() && self.shared.unstarted() == 0 {
                break;
            }
            for t in live {
                if t.st.claim_parked() {
                    // SAFETY: as in `drain_for_shutdown`.
                    drop(unsafe { take_parked_ref(TaskRef::as_ptr(&t)) });
                    self.cancel(t);
                    progress = true;
                }
            }
            if !progress {
                // A waker claimed a task and has not queued it yet (rule 5): wait for it.
                idle_rounds += 1;
                if idle_rounds == 10_000 {
                    eprintln!(
                        "goro: shutdown has waited 10 s for a claimed task to be queued; a \
                         thread that called unpark may be stopped (a debugger?)"
                    );
                }
                self.me().park.sleep(Some(Duration::from_millis(1)));
            }
        }
    }
}
