//! Timer channels: `after` and `tick` (Go: `time.After`, `time.Tick`; runtime timers in
//! `runtime/time.go`). Taught in lesson 08 (select and timeouts).
//!
//! Inside a runtime the timers live in the runtime's timer structure (`crate::time`), so they
//! follow the virtual clock in deterministic mode and count as "something pending" for the
//! deadlock detector. On a plain OS thread outside any runtime they go to one helper thread,
//! `goro-timer`, started on first use.

use super::imp::Chan;
use super::{Receiver, Sender, new_pair};
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

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
    let chan = tx.chan.clone();
    let timer = schedule(
        deadline_in(d),
        Box::new(move || {
            // The buffer holds the one value, so this never waits; an error only means
            // nobody listens any more.
            let _ = tx.try_send(crate::time::now());
        }),
    );
    // Dropping every receiver cancels the timer (see `State::timer`).
    chan.state.with(|st| st.timer = Some(Box::new(timer)));
    rx
}

/// Returns a channel that receives the current time every `period` (Go: `time.Tick`).
///
/// A slow receiver misses ticks instead of queueing them (the buffer holds one), as in Go.
/// The ticker stops once every receiver is dropped. Note that a running ticker is always
/// "something pending": a program that waits forever while one runs is not reported as a
/// deadlock (Go behaves the same way) until the ticker's receivers are dropped.
///
/// # Panics
/// If `period` is zero.
#[must_use = "the ticker stops as soon as its receiver is dropped"]
pub fn tick(period: Duration) -> Receiver<Instant> {
    assert!(
        !period.is_zero(),
        "goro::time::tick: the period must be greater than zero (got 0); \
         a zero period would fire continuously"
    );
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
            st.timer = Some(Box::new(timer));
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
    let now = crate::time::now();
    let _ = ticker.tx.try_send(now);
    ticker.next += ticker.period;
    if ticker.next <= now {
        // We fell behind (a long pause): skip the missed ticks rather than firing a burst.
        ticker.next = now + ticker.period;
    }
    arm(ticker);
}

fn deadline_in(d: Duration) -> Instant {
    let now = crate::time::now();
    now.checked_add(d)
        .unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 24 * 3600))
}

/// A scheduled callback that can be cancelled.
pub(crate) enum TimerHandle {
    /// In the runtime's timer structure.
    Runtime(crate::time::TimerKey),
    /// On the fallback thread (no runtime on this thread).
    Thread(Arc<AtomicU8>),
}

/// Runs `f` at `deadline` (on a worker thread inside a runtime, else on the `goro-timer`
/// thread). `f` must be short and must not block.
pub(crate) fn schedule(deadline: Instant, f: Box<dyn FnOnce() + Send>) -> TimerHandle {
    if crate::runtime::in_runtime() {
        TimerHandle::Runtime(crate::time::add_timer(deadline, f))
    } else {
        fallback_add(deadline, f)
    }
}

/// Cancels a timer; true if it had not fired yet.
pub(crate) fn cancel_timer(handle: TimerHandle) -> bool {
    match handle {
        TimerHandle::Runtime(key) => crate::time::cancel_timer(key),
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
