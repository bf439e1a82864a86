//! Time: `sleep`, `now`, and the timers behind them; a virtual clock in deterministic mode.
//!
//! Each runtime run keeps one ordered map of timers (deadline, sequence number) -> callback.
//! Workers fire due timers when they look for work (and at least every 61 scheduling ticks); an
//! idle worker parks its thread only until the earliest deadline. A timer callback runs on a
//! worker thread outside any task, so it must be short and must not block: the ones goro
//! installs just unpark a task.
//!
//! [`sleep`] is a timed park: a timer whose callback unparks the sleeping task. Outside a runtime
//! it is `std::thread::sleep`.
//!
//! In deterministic mode the clock is virtual: [`now`] returns the run's start plus a virtual
//! offset that only moves when every task waits, and then jumps straight to the next deadline.
//! A program that sleeps for an hour finishes instantly, with the same output every time.
//!
//! Go counterpart: `runtime/time.go` (per-P timer heaps, `time.Sleep`, `timeSleep`), and the
//! fake clock of `testing/synctest`. Lesson: 08 (select and timeouts).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

pub use crate::chan::{after, tick};

use crate::sched::{self, Shared};
use crate::task::{self, WaitReason};

type Callback = Box<dyn FnOnce() + Send>;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The timers of one runtime run, plus its clock.
pub(crate) struct Timers {
    map: Mutex<BTreeMap<(Instant, u64), Callback>>,
    seq: AtomicU64,
    /// Earliest deadline as nanoseconds after `base`, `u64::MAX` when there is none: lets workers
    /// check "anything due?" without taking the lock.
    next: AtomicU64,
    base: Instant,
    /// Deterministic mode: nanoseconds of virtual time elapsed since `base`.
    virtual_ns: Option<AtomicU64>,
}

impl Timers {
    pub(crate) fn new(virtual_clock: bool) -> Timers {
        Timers {
            map: Mutex::new(BTreeMap::new()),
            seq: AtomicU64::new(0),
            next: AtomicU64::new(u64::MAX),
            base: Instant::now(),
            virtual_ns: virtual_clock.then(|| AtomicU64::new(0)),
        }
    }

    /// This run's clock: real, or virtual in deterministic mode.
    pub(crate) fn now(&self) -> Instant {
        match &self.virtual_ns {
            Some(v) => self.base + Duration::from_nanos(v.load(Ordering::Acquire)),
            None => Instant::now(),
        }
    }

    fn offset(&self, t: Instant) -> u64 {
        t.saturating_duration_since(self.base)
            .as_nanos()
            .min(u64::MAX as u128 - 1) as u64
    }

    fn update_next(&self, map: &BTreeMap<(Instant, u64), Callback>) {
        let next = map.keys().next().map_or(u64::MAX, |(d, _)| self.offset(*d));
        self.next.store(next, Ordering::Release);
    }

    fn add(&self, deadline: Instant, f: Callback) -> (u64, bool) {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        let mut map = lock(&self.map);
        map.insert((deadline, seq), f);
        let earliest = map.keys().next().is_some_and(|k| k.1 == seq);
        self.update_next(&map);
        (seq, earliest)
    }

    fn cancel(&self, deadline: Instant, seq: u64) -> bool {
        let mut map = lock(&self.map);
        let removed = map.remove(&(deadline, seq));
        self.update_next(&map);
        drop(map);
        removed.is_some()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.next.load(Ordering::Acquire) == u64::MAX
    }

    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        match self.next.load(Ordering::Acquire) {
            u64::MAX => None,
            ns => Some(self.base + Duration::from_nanos(ns)),
        }
    }

    pub(crate) fn next_deadline_due(&self) -> bool {
        self.next_deadline().is_some_and(|d| d <= self.now())
    }

    /// Runs every callback whose deadline is at or before `now`; true if any ran. Callbacks run
    /// without the lock held, so they may add timers.
    pub(crate) fn fire_due(&self, now: Instant) -> bool {
        let next = self.next.load(Ordering::Acquire);
        if next == u64::MAX || next > self.offset(now) {
            return false;
        }
        let due: Vec<Callback> = {
            let mut map = lock(&self.map);
            let later = map.split_off(&(now, u64::MAX));
            let due = std::mem::replace(&mut *map, later);
            self.update_next(&map);
            due.into_values().collect()
        };
        let fired = !due.is_empty();
        for f in due {
            f();
        }
        fired
    }

    /// Deterministic mode: moves the virtual clock forward to `deadline`.
    pub(crate) fn advance_to(&self, deadline: Instant) {
        if let Some(v) = &self.virtual_ns {
            let ns = self.offset(deadline);
            v.fetch_max(ns, Ordering::AcqRel);
        }
    }

    /// Drops all pending timers without running them (shutdown).
    pub(crate) fn clear(&self) {
        let map = std::mem::take(&mut *lock(&self.map));
        self.next.store(u64::MAX, Ordering::Release);
        drop(map);
    }
}

/// Identifies a pending timer for [`cancel_timer`].
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
pub(crate) fn cancel_timer(key: TimerKey) -> bool {
    match key.shared.upgrade() {
        Some(shared) => shared.timers.cancel(key.deadline, key.seq),
        None => false,
    }
}

/// The current time: `Instant::now()`, or the virtual clock when called from a deterministic
/// runtime.
pub fn now() -> Instant {
    sched::with_shared(|s| s.timers.now()).unwrap_or_else(Instant::now)
}

/// Puts the current task to sleep for at least `d`; other tasks run meanwhile. On a plain OS
/// thread this is `std::thread::sleep`. In deterministic mode the time is virtual.
pub fn sleep(d: Duration) {
    if !sched::in_task() {
        std::thread::sleep(d);
        return;
    }
    sleep_until(now() + d);
}

/// Puts the current task to sleep until `deadline` (on the runtime's clock).
pub fn sleep_until(deadline: Instant) {
    if !sched::in_task() {
        let now = Instant::now();
        if deadline > now {
            std::thread::sleep(deadline - now);
        }
        return;
    }
    while now() < deadline {
        task::park_until(WaitReason::Sleep, deadline);
    }
}
