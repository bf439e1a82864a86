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

use goro::task::{self, Task, WaitReason};

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
struct State<T> {
    /// Values sent and not yet received, oldest first.
    buffer: VecDeque<T>,
    /// How many values may wait in `buffer`; 0 means rendezvous.
    capacity: usize,
    /// Set once by `close`; never cleared.
    closed: bool,
    /// Tasks parked in `recv`, waiting for a value or for close.
    receivers: VecDeque<Task>,
    /// Tasks parked in `send`, waiting for room or for a receiver to take their value.
    senders: VecDeque<Task>,
    /// Values ever pushed into `buffer`; the n-th value sent has ticket n.
    sent: u64,
    /// Values ever taken out of `buffer`; ticket n has been received once `taken >= n`.
    taken: u64,
}

impl<T> State<T> {
    fn new(capacity: usize) -> State<T> {
        State {
            buffer: VecDeque::new(),
            capacity,
            closed: false,
            receivers: VecDeque::new(),
            senders: VecDeque::new(),
            sent: 0,
            taken: 0,
        }
    }

    /// Room for one more value? A rendezvous channel holds one value in hand-off.
    fn has_room(&self) -> bool {
        self.buffer.len() < self.capacity.max(1)
    }
}

/// Queues `me` to be woken, once: after a spurious wake-up it may still be queued.
fn enqueue(queue: &mut VecDeque<Task>, me: &Task) {
    if !queue.iter().any(|t| t.id() == me.id()) {
        queue.push_back(me.clone());
    }
}
// ANCHOR_END: state

impl<T> Chan<T> {
    /// Locks the state. The state is consistent whenever the lock is free (nothing panics while
    /// holding it), so a poisoned lock is safe to use.
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Releases the lock, parks the calling task, and takes the lock again. The caller has
    /// queued itself first, so whoever changes the state next will unpark it; an unpark that
    /// lands before the park is kept as a token, so it cannot be lost in between.
    fn park<'a>(
        &'a self,
        state: MutexGuard<'a, State<T>>,
        why: WaitReason,
    ) -> MutexGuard<'a, State<T>> {
        drop(state);
        task::park_with(why);
        self.lock()
    }
}

// ANCHOR: send
impl<T> Sender<T> {
    /// Sends `value`, waiting while the buffer is full (on a rendezvous channel: until a
    /// receiver has taken it). Gives the value back in `Err` if the channel is closed.
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        let mut state = self.chan.lock();
        while !state.closed && !state.has_room() {
            enqueue(&mut state.senders, &task::current());
            state = self.chan.park(state, WaitReason::ChanSend);
        }
        if state.closed {
            return Err(SendError(value));
        }
        state.buffer.push_back(value);
        state.sent += 1;
        let ticket = state.sent;
        // Unparking only marks the task runnable, so doing it under the lock is correct; here
        // it saves re-locking, since a rendezvous sender keeps the lock to wait below.
        if let Some(receiver) = state.receivers.pop_front() {
            receiver.unpark();
        }
        if state.capacity == 0 {
            // Rendezvous: the send completes when a receiver has the value, not before.
            while state.taken < ticket {
                if state.closed {
                    // Closed while our value sat in the hand-off slot: nobody took it, so the
                    // send did not happen. The slot holds one value and ours was not taken,
                    // so the value there is ours (and close stops anyone pushing another).
                    let value = state.buffer.pop_back().expect("our value is in the slot");
                    return Err(SendError(value));
                }
                enqueue(&mut state.senders, &task::current());
                state = self.chan.park(state, WaitReason::ChanSend);
            }
        }
        Ok(())
    }

    /// Closes the channel: receivers get what is buffered, then `None`; sends fail.
    /// Closing twice is harmless (Go panics; here the last `Sender` closes on drop anyway).
    pub fn close(&self) {
        let mut state = self.chan.lock();
        if state.closed {
            return;
        }
        state.closed = true;
        // Receivers find the channel drained-or-closed, senders find it closed.
        let mut parked: Vec<Task> = state.receivers.drain(..).collect();
        parked.extend(state.senders.drain(..));
        drop(state);
        for task in parked {
            task.unpark();
        }
    }
}
// ANCHOR_END: send

// ANCHOR: recv
impl<T> Receiver<T> {
    /// Receives the oldest value, waiting until there is one. `None` once the channel is closed
    /// and drained, like Go's `v, ok := <-ch` with `ok == false`.
    pub fn recv(&self) -> Option<T> {
        let mut state = self.chan.lock();
        loop {
            if let Some(value) = state.buffer.pop_front() {
                state.taken += 1;
                // Wake every parked sender: one may be waiting for room, and on a rendezvous
                // channel the owner of this value is waiting to hear it was taken. Each
                // re-checks its own condition; the ones with nothing to do park again.
                let senders = std::mem::take(&mut state.senders);
                drop(state);
                for sender in senders {
                    sender.unpark();
                }
                return Some(value);
            }
            if state.closed {
                return None;
            }
            enqueue(&mut state.receivers, &task::current());
            state = self.chan.park(state, WaitReason::ChanReceive);
        }
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
// SAFETY: an endpoint in another task moves `T` values between tasks (in through a Sender,
// out through a Receiver), which is sound exactly when `T: Send`. The state itself is only
// touched under its mutex, so no `T: Sync` is needed: no `&T` is ever shared.
unsafe impl<T: Send> Send for Sender<T> {}
// SAFETY: `&Sender<T>` can only send (move a `T` in), so `T: Send` is enough, as above.
unsafe impl<T: Send> Sync for Sender<T> {}
// SAFETY: a `Receiver<T>` in another task takes `T` values out there: needs `T: Send`.
unsafe impl<T: Send> Send for Receiver<T> {}
// SAFETY: `&Receiver<T>` can only receive (move a `T` out), so `T: Send` is enough.
unsafe impl<T: Send> Sync for Receiver<T> {}
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
