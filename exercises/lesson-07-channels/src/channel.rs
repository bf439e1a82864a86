//! A channel built on goro's park/unpark. YOU EDIT THIS FILE.
//!
//! `channel(0)` is Go's `make(chan T)`: a rendezvous, where a send waits for a receiver.
//! `channel(n)` is `make(chan T, n)`: up to `n` values wait in a buffer. Many senders and many
//! receivers may share one channel (clone the endpoints). Closing it (explicitly, or by dropping
//! the last `Sender`) lets receivers drain what is buffered and then get `None`.

use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// Creates a channel that buffers up to `capacity` values; 0 makes a rendezvous channel.
pub fn channel<T>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    let chan = Arc::new(Chan {
        state: Mutex::new(State::new(capacity)),
        senders: AtomicUsize::new(1),
    });
    (
        Sender {
            chan: Arc::clone(&chan),
        },
        Receiver { chan },
    )
}

/// The sending half. Clone it for more senders; the channel closes when the last one drops.
pub struct Sender<T> {
    chan: Arc<Chan<T>>,
}

/// The receiving half. Clone it for more receivers; each value goes to exactly one of them.
pub struct Receiver<T> {
    chan: Arc<Chan<T>>,
}

/// The value of a send that could not happen because the channel is closed.
#[derive(PartialEq, Eq)]
pub struct SendError<T>(pub T);

struct Chan<T> {
    state: Mutex<State<T>>,
    /// Live `Sender`s; when it drops to zero the channel closes.
    senders: AtomicUsize,
}

// ANCHOR: state
// TODO(lesson): a queue is not yet a channel. Somebody has to remember which tasks are
// parked in `recv` (waiting for a value) and in `send` (waiting for room, or, on a rendezvous
// channel, for a receiver to take their value), so that the other side can wake them.
struct State<T> {
    /// Values sent and not yet received, oldest first.
    buffer: VecDeque<T>,
    /// How many values may wait in `buffer`; 0 means rendezvous.
    capacity: usize,
    /// Set once by `close`; never cleared.
    closed: bool,
}

impl<T> State<T> {
    fn new(capacity: usize) -> State<T> {
        State {
            buffer: VecDeque::new(),
            capacity,
            closed: false,
        }
    }
}
// ANCHOR_END: state

impl<T> Chan<T> {
    /// Locks the state. The state is consistent whenever the lock is free (nothing panics while
    /// holding it), so a poisoned lock is safe to use.
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

// ANCHOR: send
impl<T> Sender<T> {
    /// Sends `value`, waiting while the buffer is full (on a rendezvous channel: until a
    /// receiver has taken it). Gives the value back in `Err` if the channel is closed.
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        // TODO(lesson): refuse to send on a closed channel; wait (park) while there is no room;
        // wake a parked receiver; on a rendezvous channel, wait until your value was taken.
        let mut state = self.chan.lock();
        state.buffer.push_back(value);
        Ok(())
    }

    /// Closes the channel: receivers get what is buffered, then `None`; sends fail.
    /// Closing twice is harmless (Go panics; here the last `Sender` closes on drop anyway).
    pub fn close(&self) {
        // TODO(lesson): everybody parked on this channel must find out.
        self.chan.lock().closed = true;
    }
}
// ANCHOR_END: send

// ANCHOR: recv
impl<T> Receiver<T> {
    /// Receives the oldest value, waiting until there is one. `None` once the channel is closed
    /// and drained, like Go's `v, ok := <-ch` with `ok == false`.
    pub fn recv(&self) -> Option<T> {
        // TODO(lesson): an empty buffer does not mean "no more values" unless the channel is
        // closed. Park until a sender (or close) wakes you; wake a parked sender when you take one.
        self.chan.lock().buffer.pop_front()
    }
}
// ANCHOR_END: recv

impl<T> Sender<T> {
    /// Values buffered right now (Go's `len(ch)`).
    pub fn len(&self) -> usize {
        self.chan.lock().buffer.len()
    }

    /// True when nothing is buffered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The buffer size given to [`channel`] (Go's `cap(ch)`).
    pub fn capacity(&self) -> usize {
        self.chan.lock().capacity
    }
}

impl<T> Receiver<T> {
    /// Values buffered right now (Go's `len(ch)`).
    pub fn len(&self) -> usize {
        self.chan.lock().buffer.len()
    }

    /// True when nothing is buffered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Receives until the channel is closed and drained: Go's `for v := range ch`.
    pub fn iter(&self) -> Iter<'_, T> {
        Iter { rx: self }
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Sender<T> {
        self.chan.senders.fetch_add(1, Ordering::Relaxed);
        Sender {
            chan: Arc::clone(&self.chan),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        if self.chan.senders.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.close();
        }
    }
}

impl<T> Clone for Receiver<T> {
    fn clone(&self) -> Receiver<T> {
        Receiver {
            chan: Arc::clone(&self.chan),
        }
    }
}

// ANCHOR: bounds
// TODO(lesson): these promises hold for any `T`? Moving a `Receiver<T>` to another task lets
// that task take `T` values out; sharing `&Sender<T>` lets it put them in.
// SAFETY: the state is only ever touched under its mutex, so an endpoint can be used from
// whichever task holds it.
unsafe impl<T> Send for Sender<T> {}
// SAFETY: as above.
unsafe impl<T> Sync for Sender<T> {}
// SAFETY: as above.
unsafe impl<T> Send for Receiver<T> {}
// SAFETY: as above.
unsafe impl<T> Sync for Receiver<T> {}
// ANCHOR_END: bounds

/// Iterator over received values, borrowed from a [`Receiver`]; see [`Receiver::iter`].
pub struct Iter<'a, T> {
    rx: &'a Receiver<T>,
}

impl<T> Iterator for Iter<'_, T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        self.rx.recv()
    }
}

/// Iterator that owns a [`Receiver`]: `for v in rx { .. }`.
pub struct IntoIter<T> {
    rx: Receiver<T>,
}

impl<T> Iterator for IntoIter<T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        self.rx.recv()
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

impl<T> fmt::Debug for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SendError(..)")
    }
}

impl<T> fmt::Display for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("send on closed channel")
    }
}

impl<T> std::error::Error for SendError<T> {}
