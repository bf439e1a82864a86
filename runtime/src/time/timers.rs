//! The timers of one runtime run, and its clock (real, or virtual in deterministic mode).
//!
//! One ordered map (deadline, sequence number) -> callback, behind a lock, plus the earliest
//! deadline in an atomic, so the scheduler can ask "is anything due?" at every scheduling
//! point without taking the lock: one load and one compare while no timer is pending, and a
//! clock read while one is (Go's `checkTimers` reads `timer0When` the same way).
//!
//! This file sits below the scheduler (it knows nothing of workers or tasks): the scheduler
//! owns one `Timers` per run and fires it; `time/mod.rs` and `time/timer.rs` add to it.
//!
//! Rules:
//!
//! 1. `next` always holds the earliest pending deadline (or `u64::MAX`): every change of the
//!    map updates it under the map's lock.
//! 2. Callbacks run without the lock held (they may add timers), on a worker's stack outside
//!    any task, and must be short and must not block: the ones goro installs unpark a task or
//!    `try_send` on a channel with room.
//! 3. A cancelled timer never runs; a timer runs at most once.
//! 4. The virtual clock only moves forward, and only when the deterministic worker finds every
//!    task waiting (`sched::deterministic`).
//!
//! Go counterpart: the per-P timer heap in `runtime/time.go` (`addtimer`, `checkTimers`,
//! `runtimer`); `testing/synctest`'s fake clock. Lesson: 08 (select and timeouts).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

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

    /// Time on this run's clock since the run began (virtual in deterministic mode).
    pub(crate) fn elapsed(&self) -> Duration {
        self.now().saturating_duration_since(self.base)
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

    /// Adds a timer; returns its sequence number and whether it is now the earliest.
    pub(crate) fn add(&self, deadline: Instant, f: Callback) -> (u64, bool) {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        let mut map = lock(&self.map);
        map.insert((deadline, seq), f);
        let earliest = map.keys().next().is_some_and(|k| k.1 == seq);
        self.update_next(&map);
        (seq, earliest)
    }

    /// Removes a pending timer; true if it had not fired.
    pub(crate) fn cancel(&self, deadline: Instant, seq: u64) -> bool {
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

    /// Whether a timer is due: the scheduler asks at every scheduling point. One load and one
    /// compare while no timer is pending; the clock is read only while one is (out of line).
    #[inline(always)]
    pub(crate) fn due(&self) -> bool {
        self.next.load(Ordering::Acquire) != u64::MAX && self.next_deadline_due_slow()
    }

    #[inline(never)]
    fn next_deadline_due_slow(&self) -> bool {
        self.next_deadline_due()
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
