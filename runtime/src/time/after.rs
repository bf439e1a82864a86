//! Timer channels: `after` and `tick` (Go: `time.After`, `time.Tick`), built on a
//! [`schedule`]d callback that sends on a channel with room for one value.
//!
//! Rules:
//!
//! 1. The callback only ever `try_send`s into a buffer of one, so it never blocks (timer rule
//!    2); a full buffer means the receiver is slow, and the value is dropped (as in Go).
//! 2. Dropping every receiver cancels the pending timer; a ticker stops re-arming once every
//!    receiver is gone.
//! 3. A timer whose time has already come is ready when it is made: `after(Duration::ZERO)`
//!    holds its value at once (Go ≥ 1.23 and crossbeam behave so), and `tick(Duration::ZERO)`
//!    is Go's `time.Tick(0)`: a channel that never delivers (Go returns `nil`).
//!
//! Go counterpart: `time.After`, `time.Tick`, and Go 1.23's collection of unreferenced timers.
//! Lesson: 08 (select and timeouts).

use std::time::{Duration, Instant};

use super::timer::{TimerHandle, cancel_timer, now, schedule};
use crate::chan::{Chan, Receiver, Sender, new_pair};

/// Returns a channel that receives the current time once `d` has passed
/// (Go: `time.After(d)`); the usual timeout arm of a [`select!`](crate::select!):
///
/// ```
/// use std::time::Duration;
///
/// goro::run(|| {
///     let (_tx, replies) = goro::chan::bounded::<String>(0); // nobody will reply
///     let outcome = goro::select! {
///         recv(replies) -> reply => reply.unwrap(),
///         recv(goro::time::after(Duration::from_millis(10))) => "timed out".to_string(),
///     };
///     assert_eq!(outcome, "timed out");
/// });
/// ```
///
/// Like Go's, the channel is never closed: after its one value it blocks forever. On the
/// virtual clock of a deterministic runtime, the time is virtual too. Dropping the receiver
/// before the timer fires cancels the timer (as Go 1.23 does for unreferenced timers), so an
/// abandoned timeout arm costs nothing afterwards.
#[must_use = "the timer only matters if its receiver is used, e.g. in a select! arm"]
pub fn after(d: Duration) -> Receiver<Instant> {
    let (tx, rx) = new_pair(Chan::new(1, true));
    if d.is_zero() {
        // Already expired: ready at once, for a `select!` that polls it right away too (rule 3).
        let _ = tx.try_send(now());
        return rx;
    }
    let chan = tx.chan.clone();
    let timer = schedule(
        deadline_in(d),
        Box::new(move || {
            // The buffer holds the one value, so this never waits; an error only means
            // nobody listens any more.
            let _ = tx.try_send(now());
        }),
    );
    // Dropping every receiver cancels the timer (rule 2).
    chan.state
        .with(|st| st.on_receivers_gone = Some(cancel_on_drop(timer)));
    rx
}

/// Returns a channel that receives the current time every `period` (Go: `time.Tick`).
///
/// A slow receiver misses ticks instead of queueing them (the buffer holds one), as in Go.
/// The ticker stops once every receiver is dropped. Note that a running ticker is always
/// "something pending": a program that waits forever while one runs is not reported as a
/// deadlock (Go behaves the same way) until the ticker's receivers are dropped.
///
/// A zero `period` gives what Go's `time.Tick(0)` gives: a channel that never delivers (Go
/// returns a `nil` channel), like [`chan::never`](crate::chan::never); it never panics.
#[must_use = "the ticker stops as soon as its receiver is dropped"]
pub fn tick(period: Duration) -> Receiver<Instant> {
    if period.is_zero() {
        return crate::chan::never();
    }
    let (tx, rx) = new_pair(Chan::new(1, true));
    arm(Ticker {
        tx,
        period,
        next: deadline_in(period),
    });
    rx
}

struct Ticker {
    tx: Sender<Instant>,
    period: Duration,
    next: Instant,
}

fn arm(ticker: Ticker) {
    let at = ticker.next;
    let chan = ticker.tx.chan.clone();
    let timer = schedule(at, Box::new(move || fire(ticker)));
    let stale = chan.state.with(|st| {
        if st.receivers_gone {
            Some(timer) // the last receiver left meanwhile: nobody will cancel this one
        } else {
            st.on_receivers_gone = Some(cancel_on_drop(timer));
            None
        }
    });
    if let Some(timer) = stale {
        cancel_timer(timer);
    }
}

fn fire(mut ticker: Ticker) {
    if ticker.tx.is_disconnected() {
        return; // every receiver is gone: stop re-arming
    }
    let now = now();
    let _ = ticker.tx.try_send(now);
    ticker.next += ticker.period;
    if ticker.next <= now {
        // We fell behind (a long pause): skip the missed ticks rather than firing a burst.
        ticker.next = now + ticker.period;
    }
    arm(ticker);
}

fn deadline_in(d: Duration) -> Instant {
    let now = now();
    now.checked_add(d)
        .unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 24 * 3600))
}

/// The channel's hook for its last receiver leaving: cancels `timer`.
fn cancel_on_drop(timer: TimerHandle) -> Box<dyn FnOnce() + Send> {
    Box::new(move || {
        cancel_timer(timer);
    })
}
