//! Channels: typed pipes between tasks (Go: `chan T`, implemented in `runtime/chan.go`).
//! Taught in lesson 07 (channels) and lesson 08 (select and timeouts).
//!
//! | Go | goro |
//! | --- | --- |
//! | `ch := make(chan int)` | `let (tx, rx) = chan::bounded::<i32>(0);` (rendezvous) |
//! | `ch := make(chan int, 8)` | `let (tx, rx) = chan::bounded::<i32>(8);` |
//! | (no unbounded channels in Go) | `let (tx, rx) = chan::unbounded::<i32>();` |
//! | `ch <- v` | `tx.send(v)?` |
//! | `v := <-ch` / `v, ok := <-ch` | `rx.recv()` returns `Ok(v)` or `Err(RecvError)` once closed and drained |
//! | `close(ch)` | drop the last `Sender` (`drop(tx)`) |
//! | `for v := range ch` | `for v in rx` / `for v in rx.iter()` |
//! | `select { case ch <- v: default: }` | `tx.try_send(v)` (`Full` = backpressure) |
//! | `select` with `time.After` | `rx.recv_timeout(d)`, or [`select!`](crate::select!) |
//!
//! Channels are multi-producer, multi-consumer: both [`Sender`] and [`Receiver`] are `Clone`.
//! A blocked operation parks the calling *task*, never its worker thread; called from a plain
//! OS thread outside any runtime, it blocks that thread instead (so a channel can connect a
//! runtime to the rest of a program).
//!
//! Two deliberate differences from Go, both checked by the compiler instead of panicking:
//! a channel closes when its last `Sender` is dropped (so nobody can send on a closed channel
//! or close it twice), and sending when every `Receiver` is gone returns the value in
//! [`SendError`] instead of blocking forever.
//!
//! ```
//! use goro::chan;
//!
//! let squares = goro::run(|| {
//!     let (tx, rx) = chan::bounded(0); // rendezvous: each send waits for its receive
//!     goro::spawn(move || {
//!         for i in 1..=4u32 {
//!             tx.send(i * i).unwrap();
//!         }
//!     }); // the task ends, `tx` drops, the channel closes: the loop below ends
//!     rx.iter().collect::<Vec<_>>()
//! });
//! assert_eq!(squares, [1, 4, 9, 16]);
//! ```
//!
//! Inside: one lock around a buffer and two FIFO queues of parked operations, whose nodes live
//! on the parked tasks' stacks (no allocation per operation); see `chan/imp.rs`, and
//! `crate::wait` for the waiting primitives it shares with `select!` and `sync`.

mod imp;

pub use crate::time::{after, tick};
pub(crate) use imp::{Chan, Fail, Mode};

use crate::sched;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// Creates a channel that holds at most `cap` values (Go: `make(chan T, cap)`).
///
/// `bounded(0)` is a rendezvous channel, like Go's unbuffered `make(chan T)`: `send` waits
/// until a receiver takes the value, so a completed send means the value was received.
/// With `cap > 0`, `send` waits only while the buffer is full (backpressure).
#[must_use = "a channel does nothing unless its ends are used"]
pub fn bounded<T>(cap: usize) -> (Sender<T>, Receiver<T>) {
    new_pair(Chan::new(cap, false))
}

/// Creates a channel whose buffer grows without limit: `send` never waits.
///
/// Go has no such channel on purpose: an unbounded buffer hides a slow consumer until memory
/// runs out. Prefer [`bounded`] unless the producer is known to be finite.
#[must_use = "a channel does nothing unless its ends are used"]
pub fn unbounded<T>() -> (Sender<T>, Receiver<T>) {
    new_pair(Chan::new(usize::MAX, false))
}

/// A receiver that never receives anything (Go: a `nil` channel, whose receive blocks forever).
///
/// Useful to switch off a `select!` arm: a `recv(never())` arm is never chosen.
#[must_use]
pub fn never<T>() -> Receiver<T> {
    let (tx, rx) = new_pair(Chan::new(0, true));
    drop(tx);
    rx
}

/// A bounded channel whose ends count as held outside the runtime (see `outside_wait`),
/// wherever it is made: for senders that live on a helper thread (`signal::notify`).
pub(crate) fn bounded_outside<T>(cap: usize) -> (Sender<T>, Receiver<T>) {
    let (mut tx, mut rx) = new_pair(Chan::new(cap, false));
    tx.outside = true;
    rx.outside = true;
    (tx, rx)
}

pub(crate) fn new_pair<T>(chan: Chan<T>) -> (Sender<T>, Receiver<T>) {
    let chan = Arc::new(chan);
    // Made on a plain thread: a plain thread may hold either end (see `outside`).
    let outside = !sched::in_runtime();
    (
        Sender {
            chan: chan.clone(),
            outside,
        },
        Receiver { chan, outside },
    )
}

/// Runs a blocking operation on a channel made outside any runtime, counting the waiting task
/// as one a plain thread may wake: such a wait is not a deadlock (`sched/idle.rs`, rule 6).
/// Go has no plain threads; in goro the canonical case is `main` making a channel, handing
/// one end to a `std::thread` and waiting on the other inside `block_on`.
#[cold]
#[inline(never)]
fn outside_wait<R>(op: impl FnOnce() -> R) -> R {
    let _waker = if sched::in_task() {
        sched::External::here()
    } else {
        None
    };
    op()
}

/// The sending half of a channel. Clone it to get more senders; the channel closes for
/// receivers when the last one is dropped.
pub struct Sender<T> {
    pub(crate) chan: Arc<Chan<T>>,
    /// Made outside any runtime (see `outside_wait`).
    outside: bool,
}

/// The receiving half of a channel. Clone it to get more receivers: each value goes to exactly
/// one of them.
pub struct Receiver<T> {
    pub(crate) chan: Arc<Chan<T>>,
    /// Made outside any runtime (see `outside_wait`).
    outside: bool,
}

impl<T> Sender<T> {
    /// Sends `value`, parking the task while the channel is full (for a rendezvous channel:
    /// until a receiver takes it).
    ///
    /// Returns `Err(SendError(value))`, handing the value back, if every receiver is gone.
    #[track_caller]
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        if self.outside {
            return outside_wait(|| self.chan.send(value, Mode::Block))
                .map_err(|(v, _)| SendError(v));
        }
        self.chan
            .send(value, Mode::Block)
            .map_err(|(v, _)| SendError(v))
    }

    /// Sends `value` only if that needs no waiting: a receiver is parked or the buffer has room.
    ///
    /// `Full` is backpressure (try later, drop, or report "busy"); `Disconnected` means every
    /// receiver is gone. Both give the value back.
    pub fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        self.chan
            .send(value, Mode::Try)
            .map_err(|(v, fail)| match fail {
                Fail::Disconnected => TrySendError::Disconnected(v),
                _ => TrySendError::Full(v),
            })
    }

    /// Sends `value`, waiting at most `timeout` for room or a receiver.
    #[track_caller]
    pub fn send_timeout(&self, value: T, timeout: Duration) -> Result<(), SendTimeoutError<T>> {
        self.send_deadline(value, deadline_after(timeout))
    }

    /// Sends `value`, waiting until `deadline` at the latest (measured by
    /// [`goro::time::now`](crate::time::now), so virtual in deterministic mode).
    #[track_caller]
    pub fn send_deadline(&self, value: T, deadline: Instant) -> Result<(), SendTimeoutError<T>> {
        self.chan
            .send(value, Mode::Until(deadline))
            .map_err(|(v, fail)| match fail {
                Fail::Disconnected => SendTimeoutError::Disconnected(v),
                _ => SendTimeoutError::Timeout(v),
            })
    }

    /// Number of values waiting in the buffer.
    pub fn len(&self) -> usize {
        self.chan.len()
    }

    /// Whether the buffer is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the buffer is full, so `send` would wait (always true for a rendezvous channel).
    pub fn is_full(&self) -> bool {
        self.len() >= self.chan.cap
    }

    /// The buffer capacity; `None` for an unbounded channel.
    pub fn capacity(&self) -> Option<usize> {
        capacity(&self.chan)
    }

    /// Whether every receiver is gone, so `send` would fail.
    pub fn is_disconnected(&self) -> bool {
        self.chan.receivers_gone()
    }

    /// Whether both handles belong to the same channel.
    pub fn same_channel(&self, other: &Sender<T>) -> bool {
        Arc::ptr_eq(&self.chan, &other.chan)
    }
}

impl<T> Receiver<T> {
    /// Receives a value, parking the task until one arrives.
    ///
    /// Returns `Err(RecvError)` once every sender is gone *and* the buffer is drained (Go's
    /// `v, ok := <-ch` with `ok == false`).
    #[track_caller]
    pub fn recv(&self) -> Result<T, RecvError> {
        if self.outside {
            return outside_wait(|| self.chan.recv(Mode::Block)).map_err(|_| RecvError);
        }
        self.chan.recv(Mode::Block).map_err(|_| RecvError)
    }

    /// Receives a value only if one is ready now.
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        self.chan.recv(Mode::Try).map_err(|fail| match fail {
            Fail::Disconnected => TryRecvError::Disconnected,
            _ => TryRecvError::Empty,
        })
    }

    /// Receives a value, waiting at most `timeout`.
    #[track_caller]
    pub fn recv_timeout(&self, timeout: Duration) -> Result<T, RecvTimeoutError> {
        self.recv_deadline(deadline_after(timeout))
    }

    /// Receives a value, waiting until `deadline` at the latest (measured by
    /// [`goro::time::now`](crate::time::now), so virtual in deterministic mode).
    #[track_caller]
    pub fn recv_deadline(&self, deadline: Instant) -> Result<T, RecvTimeoutError> {
        self.chan
            .recv(Mode::Until(deadline))
            .map_err(|fail| match fail {
                Fail::Disconnected => RecvTimeoutError::Disconnected,
                _ => RecvTimeoutError::Timeout,
            })
    }

    /// A blocking iterator: yields values until the channel is closed and drained
    /// (Go: `for v := range ch`).
    pub fn iter(&self) -> Iter<'_, T> {
        Iter { rx: self }
    }

    /// A non-blocking iterator over the values ready right now.
    pub fn try_iter(&self) -> TryIter<'_, T> {
        TryIter { rx: self }
    }

    /// Number of values waiting in the buffer.
    pub fn len(&self) -> usize {
        self.chan.len()
    }

    /// Whether the buffer is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The buffer capacity; `None` for an unbounded channel.
    pub fn capacity(&self) -> Option<usize> {
        capacity(&self.chan)
    }

    /// Whether both handles belong to the same channel.
    pub fn same_channel(&self, other: &Receiver<T>) -> bool {
        Arc::ptr_eq(&self.chan, &other.chan)
    }
}

fn capacity<T>(chan: &Chan<T>) -> Option<usize> {
    (chan.cap != usize::MAX).then_some(chan.cap)
}

fn deadline_after(timeout: Duration) -> Instant {
    let now = crate::time::now();
    // A timeout too large to represent means "practically forever".
    now.checked_add(timeout)
        .unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 24 * 3600))
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.chan.senders.fetch_add(1, Ordering::Relaxed);
        Sender {
            chan: self.chan.clone(),
            outside: self.outside,
        }
    }
}

impl<T> Clone for Receiver<T> {
    fn clone(&self) -> Self {
        self.chan.receivers.fetch_add(1, Ordering::Relaxed);
        Receiver {
            chan: self.chan.clone(),
            outside: self.outside,
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        if self.chan.senders.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.chan.disconnect_senders();
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        if self.chan.receivers.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.chan.disconnect_receivers();
        }
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("capacity", &self.capacity())
            .finish_non_exhaustive()
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("capacity", &self.capacity())
            .finish_non_exhaustive()
    }
}

/// Blocking iterator returned by [`Receiver::iter`].
#[derive(Debug)]
pub struct Iter<'a, T> {
    rx: &'a Receiver<T>,
}

impl<T> Iterator for Iter<'_, T> {
    type Item = T;
    #[track_caller]
    fn next(&mut self) -> Option<T> {
        self.rx.recv().ok()
    }
}

/// Non-blocking iterator returned by [`Receiver::try_iter`].
#[derive(Debug)]
pub struct TryIter<'a, T> {
    rx: &'a Receiver<T>,
}

impl<T> Iterator for TryIter<'_, T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        self.rx.try_recv().ok()
    }
}

/// Owning blocking iterator: `for v in rx { ... }`.
#[derive(Debug)]
pub struct IntoIter<T> {
    rx: Receiver<T>,
}

impl<T> Iterator for IntoIter<T> {
    type Item = T;
    #[track_caller]
    fn next(&mut self) -> Option<T> {
        self.rx.recv().ok()
    }
}

impl<T> IntoIterator for Receiver<T> {
    type Item = T;
    type IntoIter = IntoIter<T>;
    fn into_iter(self) -> IntoIter<T> {
        IntoIter { rx: self }
    }
}

impl<'a, T> IntoIterator for &'a Receiver<T> {
    type Item = T;
    type IntoIter = Iter<'a, T>;
    fn into_iter(self) -> Iter<'a, T> {
        self.iter()
    }
}

/// `send` failed because every receiver is gone; the value is handed back in `.0`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SendError<T>(pub T);

/// Why [`Sender::try_send`] did not send; both variants hand the value back.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum TrySendError<T> {
    /// The buffer is full (or, for a rendezvous channel, no receiver is waiting).
    Full(T),
    /// Every receiver is gone.
    Disconnected(T),
}

/// Why [`Sender::send_timeout`] did not send; both variants hand the value back.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum SendTimeoutError<T> {
    /// The timeout passed before there was room or a receiver.
    Timeout(T),
    /// Every receiver is gone.
    Disconnected(T),
}

/// `recv` failed: every sender is gone and the buffer is drained (the channel is closed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecvError;

/// Why [`Receiver::try_recv`] returned no value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TryRecvError {
    /// Nothing is ready yet.
    Empty,
    /// Every sender is gone and the buffer is drained.
    Disconnected,
}

/// Why [`Receiver::recv_timeout`] returned no value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecvTimeoutError {
    /// The timeout passed first.
    Timeout,
    /// Every sender is gone and the buffer is drained.
    Disconnected,
}

impl<T> SendError<T> {
    /// The value that could not be sent.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> TrySendError<T> {
    /// The value that could not be sent.
    pub fn into_inner(self) -> T {
        match self {
            TrySendError::Full(v) | TrySendError::Disconnected(v) => v,
        }
    }
    /// Whether the send failed only because the channel was full.
    pub fn is_full(&self) -> bool {
        matches!(self, TrySendError::Full(_))
    }
    /// Whether the send failed because every receiver is gone.
    pub fn is_disconnected(&self) -> bool {
        matches!(self, TrySendError::Disconnected(_))
    }
}

impl<T> SendTimeoutError<T> {
    /// The value that could not be sent.
    pub fn into_inner(self) -> T {
        match self {
            SendTimeoutError::Timeout(v) | SendTimeoutError::Disconnected(v) => v,
        }
    }
    /// Whether the send failed because the timeout passed.
    pub fn is_timeout(&self) -> bool {
        matches!(self, SendTimeoutError::Timeout(_))
    }
}

impl<T> fmt::Debug for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SendError(..)")
    }
}
impl<T> fmt::Display for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("sending on a channel whose receivers are all dropped")
    }
}
impl<T> std::error::Error for SendError<T> {}

impl<T> fmt::Debug for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySendError::Full(_) => f.write_str("Full(..)"),
            TrySendError::Disconnected(_) => f.write_str("Disconnected(..)"),
        }
    }
}
impl<T> fmt::Display for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySendError::Full(_) => f.write_str("sending on a full channel"),
            TrySendError::Disconnected(_) => {
                f.write_str("sending on a channel whose receivers are all dropped")
            }
        }
    }
}
impl<T> std::error::Error for TrySendError<T> {}

impl<T> fmt::Debug for SendTimeoutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendTimeoutError::Timeout(_) => f.write_str("Timeout(..)"),
            SendTimeoutError::Disconnected(_) => f.write_str("Disconnected(..)"),
        }
    }
}
impl<T> fmt::Display for SendTimeoutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendTimeoutError::Timeout(_) => f.write_str("timed out sending on a full channel"),
            SendTimeoutError::Disconnected(_) => {
                f.write_str("sending on a channel whose receivers are all dropped")
            }
        }
    }
}
impl<T> std::error::Error for SendTimeoutError<T> {}

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("receiving on a closed channel (every sender dropped, buffer drained)")
    }
}
impl std::error::Error for RecvError {}

impl fmt::Display for TryRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryRecvError::Empty => f.write_str("receiving on an empty channel"),
            TryRecvError::Disconnected => {
                f.write_str("receiving on a closed channel (every sender dropped, buffer drained)")
            }
        }
    }
}
impl std::error::Error for TryRecvError {}

impl fmt::Display for RecvTimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecvTimeoutError::Timeout => f.write_str("timed out receiving on a channel"),
            RecvTimeoutError::Disconnected => {
                f.write_str("receiving on a closed channel (every sender dropped, buffer drained)")
            }
        }
    }
}
impl std::error::Error for RecvTimeoutError {}
