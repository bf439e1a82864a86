//! Time: `sleep`, `now`, and the timers behind them; a virtual clock in deterministic mode.
//!
//! Each runtime run keeps one ordered map of timers (deadline, sequence number) -> callback
//! (`timers.rs`). Workers check the earliest deadline at every scheduling point (one compare
//! while no timer is pending) and fire due timers from the scheduler loop; an idle worker
//! sleeps only until the earliest deadline. A timer callback runs on a worker thread outside
//! any task, so it must be short and must not block: the ones goro installs just unpark a task
//! or send on a channel with room.
//!
//! [`sleep`] is a timed park: a timer whose callback unparks the sleeping task. Outside a runtime
//! it is `std::thread::sleep`.
//!
//! In deterministic mode the clock is virtual: [`now`] returns the run's start plus a virtual
//! offset that only moves when every task waits, and then jumps straight to the next deadline.
//! A program that sleeps for an hour finishes instantly, with the same output every time.
//!
//! Files: `timers.rs` (the run's timers and clock, below the scheduler), `timer.rs` (a
//! callback at a deadline, inside a runtime or on a helper thread outside one), `after.rs`
//! (the `after` and `tick` channels), and this one (the clock, sleeping, timed parks).
//!
//! Go counterpart: `runtime/time.go` (per-P timer heaps, `time.Sleep`, `timeSleep`), and the
//! fake clock of `testing/synctest`. Lesson: 08 (select and timeouts).

mod after;
pub(crate) mod timer;
pub(crate) mod timers;

use std::time::{Duration, Instant};

pub use after::{after, tick};
pub use timer::now;

use crate::sched;
use crate::task::parking::{current_parker, park_with};
use crate::task::state::WaitReason;
use timer::{add_timer, cancel_runtime_timer};

/// Parks until unparked or until `deadline` (on the runtime's clock: virtual in deterministic
/// mode). May return early (spuriously); callers re-check. Outside a task it parks the thread.
#[track_caller]
pub(crate) fn park_until(reason: WaitReason, deadline: Instant) {
    if !sched::in_task() {
        let now = Instant::now();
        if deadline > now {
            std::thread::park_timeout(deadline - now);
        }
        return;
    }
    if now() >= deadline {
        return;
    }
    let me = current_parker();
    let key = add_timer(deadline, Box::new(move || me.unpark()));
    park_with(reason);
    cancel_runtime_timer(key);
}

/// Puts the current task to sleep for at least `d`; other tasks run meanwhile. On a plain OS
/// thread this is `std::thread::sleep`. In deterministic mode the time is virtual.
#[track_caller]
pub fn sleep(d: Duration) {
    if !sched::in_task() {
        std::thread::sleep(d);
        return;
    }
    sleep_until(now() + d);
}

/// Puts the current task to sleep until `deadline` (on the runtime's clock).
#[track_caller]
pub fn sleep_until(deadline: Instant) {
    if !sched::in_task() {
        let now = Instant::now();
        if deadline > now {
            std::thread::sleep(deadline - now);
        }
        return;
    }
    while now() < deadline {
        park_until(WaitReason::Sleep, deadline);
    }
}
