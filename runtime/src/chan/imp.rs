//! The channel itself (Go: `hchan` in `runtime/chan.go`): one lock around a ring buffer and two
//! wait queues. Every operation takes the lock once on its fast path and never allocates.
//!
//! Rules:
//!
//! 1. Every operation takes the channel's lock (`crate::wait::Locked`) once on its fast path;
//!    whoever it completes is woken only after the lock is released.
//! 2. A send hands its value to the first parked receiver if there is one, else to the
//!    buffer; a receive takes from the buffer first and then refills it from the first parked
//!    sender (or, on a rendezvous channel, takes that sender's value): senders and receivers
//!    are served in FIFO order.
//! 3. A parked operation's node is claimed and completed under the lock, as the selector's
//!    rules say (`crate::wait`); a solo wait gives up by unlinking its node under the lock, and
//!    a node already gone means a waker completed it.
//! 4. When the last sender or the last receiver goes, every operation parked on the other
//!    side completes as "disconnected", and nothing new ever parks there.
//!
//! Lesson: 07 (channels), where the learner builds the same hand-off on park/unpark.

use crate::task::state::WaitReason;
use crate::wait::{Locked, Selector, WaitList, Waiter, Wakeup, Woken};
use std::collections::VecDeque;
use std::sync::atomic::AtomicUsize;
use std::time::Instant;

/// How long an operation may wait.
#[derive(Clone, Copy)]
pub(crate) enum Mode {
    /// Do not wait at all (`try_send`, `try_recv`).
    Try,
    /// Wait as long as it takes.
    Block,
    /// Wait until the deadline (`send_timeout`, `recv_timeout`).
    Until(Instant),
}

/// Why an operation did not complete.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fail {
    /// `Mode::Try`, and the operation would have to wait.
    WouldBlock,
    /// The other side is gone: every receiver (for a send) or every sender after the buffer
    /// drained (for a receive).
    Disconnected,
    /// The deadline passed first.
    Timeout,
}

pub(crate) struct State<T> {
    pub(crate) buf: VecDeque<T>,
    pub(crate) recvq: WaitList<T>,
    pub(crate) sendq: WaitList<T>,
    /// Every sender was dropped (Go: `closed`): receivers drain `buf`, then fail.
    pub(crate) senders_gone: bool,
    /// Every receiver was dropped: sends fail at once and give the value back.
    pub(crate) receivers_gone: bool,
    /// Run once when the last receiver goes: an `after`/`tick` channel cancels its pending
    /// timer here, so an abandoned timeout neither keeps the deadlock detector quiet nor moves
    /// the virtual clock. (The channel knows nothing of timers: `crate::time` installs it.)
    pub(crate) on_receivers_gone: Option<Box<dyn FnOnce() + Send>>,
}

// SAFETY: the raw node pointers in the wait queues are only followed under the channel lock, and
// the nodes they point to carry `T` values between threads, which T: Send permits.
unsafe impl<T: Send> Send for State<T> {}

/// A channel shared by its senders and receivers.
pub(crate) struct Chan<T> {
    pub(crate) state: Locked<State<T>>,
    /// Buffer capacity: 0 for a rendezvous channel, `usize::MAX` for an unbounded one.
    pub(crate) cap: usize,
    pub(crate) senders: AtomicUsize,
    pub(crate) receivers: AtomicUsize,
    /// Never report "disconnected" to receivers (timer channels, `never()`), like Go channels
    /// nobody closes.
    keep_open: bool,
}

/// Outcome of a receive attempted under the lock: the value (or `None` if disconnected) and a
/// sender to wake once the lock is released.
pub(crate) type Received<T> = (Option<T>, Option<Wakeup>);

impl<T> Chan<T> {
    pub(crate) fn new(cap: usize, keep_open: bool) -> Chan<T> {
        // Bounded buffers are reserved up front, up to 16 KiB, so steady-state sends do not
        // allocate; bigger ones (and unbounded ones) grow on demand, so `bounded(1 << 30)`
        // does not reserve gigabytes before the first send.
        let reserve = if cap == usize::MAX {
            0
        } else {
            cap.min((16 * 1024 / std::mem::size_of::<T>().max(1)).max(1))
        };
        Chan {
            state: Locked::new(State {
                buf: VecDeque::with_capacity(reserve),
                recvq: WaitList::new(),
                sendq: WaitList::new(),
                senders_gone: false,
                receivers_gone: false,
                on_receivers_gone: None,
            }),
            cap,
            senders: AtomicUsize::new(1),
            receivers: AtomicUsize::new(1),
            keep_open,
        }
    }

    /// Completes a receive if it can complete now.
    ///
    /// # Safety
    /// The caller holds the lock and passes its state.
    #[inline(always)]
    pub(crate) unsafe fn poll_recv(st: &mut State<T>) -> Option<Received<T>> {
        if let Some(value) = st.buf.pop_front() {
            // The buffer had room for one more: move the first waiting sender's value in
            // (Go does the same, so senders are served in FIFO order).
            // SAFETY: we hold the lock (caller's contract).
            let wake = match unsafe { st.sendq.pop_claimable() } {
                Some(node) => {
                    // SAFETY: we claimed the node; it is unlinked; after `complete` we drop it.
                    unsafe {
                        st.buf.extend((*node).take());
                        Waiter::complete(node, false)
                    }
                }
                None => None,
            };
            return Some((Some(value), wake));
        }
        // Empty buffer: a waiting sender exists only on a rendezvous channel; take its value.
        // SAFETY: we hold the lock.
        if let Some(node) = unsafe { st.sendq.pop_claimable() } {
            // SAFETY: we claimed the node; it is unlinked; after `complete` we drop it.
            let (value, wake) = unsafe { ((*node).take(), Waiter::complete(node, false)) };
            return Some((value, wake));
        }
        if st.senders_gone {
            return Some((None, None));
        }
        None
    }

    /// Completes a send if it can complete now; gives the value back if it cannot.
    /// `Err((value, Fail::Disconnected))` when every receiver is gone.
    ///
    /// # Safety
    /// The caller holds the lock and passes its state.
    #[inline]
    pub(crate) unsafe fn poll_send(
        st: &mut State<T>,
        cap: usize,
        value: T,
    ) -> Result<Option<Wakeup>, (T, Fail)> {
        if st.receivers_gone {
            return Err((value, Fail::Disconnected));
        }
        // SAFETY: we hold the lock.
        if let Some(node) = unsafe { st.recvq.pop_claimable() } {
            // SAFETY: we claimed the node; it is unlinked; after `complete` we drop it.
            return Ok(unsafe {
                (*node).put(value);
                Waiter::complete(node, false)
            });
        }
        if st.buf.len() < cap {
            st.buf.push_back(value);
            return Ok(None);
        }
        Err((value, Fail::WouldBlock))
    }

    /// Receives a value, waiting as `mode` allows.
    #[track_caller]
    pub(crate) fn recv(&self, mode: Mode) -> Result<T, Fail> {
        self.recv_as(mode, WaitReason::ChanReceive)
    }

    /// Like `recv`, shown in the goroutine dump as waiting for `reason` (e.g. `context`).
    #[track_caller]
    pub(crate) fn recv_as(&self, mode: Mode, reason: WaitReason) -> Result<T, Fail> {
        self.state.lock();
        // SAFETY: we hold the lock until the matching unlock below.
        let st = unsafe { self.state.get() };
        // SAFETY: lock held.
        if let Some((value, wake)) = unsafe { Self::poll_recv(st) } {
            self.state.unlock();
            // A preemption point when exploring (`crate::check`), on either path.
            match wake {
                Some(p) => p.wake_at_point(),
                None => crate::sched::preemption_point(),
            }
            return value.ok_or(Fail::Disconnected);
        }
        if let Mode::Try = mode {
            self.state.unlock();
            return Err(Fail::WouldBlock);
        }
        let sel = Selector::solo_here();
        let node = Waiter::new(None);
        node.prepare(&sel, 0);
        // SAFETY: lock held; the node stays on this frame until `Blocked` unlinks it or a
        // waker completes it, and `Blocked` waits for either before the frame goes away.
        unsafe { st.recvq.push_back(&node) };
        let blocked = Blocked {
            chan: self,
            node: &node,
            sel: &sel,
            recv: true,
        };
        let woken = blocked.wait(mode, reason);
        std::mem::forget(blocked);
        if woken == Woken::TIMED_OUT {
            if self.unlink(&node, true) {
                return Err(Fail::Timeout);
            }
            // A waker took the node first: wait until it is done with us (selector rule 5).
            sel.settle();
        }
        // SAFETY: the selector is final, so no other thread touches the node any more.
        match unsafe { node.take() } {
            Some(value) => Ok(value),
            None => Err(Fail::Disconnected),
        }
    }

    /// Sends `value`, waiting as `mode` allows; gives it back on failure.
    #[track_caller]
    pub(crate) fn send(&self, value: T, mode: Mode) -> Result<(), (T, Fail)> {
        self.state.lock();
        // SAFETY: we hold the lock until the matching unlock below.
        let st = unsafe { self.state.get() };
        // SAFETY: lock held.
        let value = match unsafe { Self::poll_send(st, self.cap, value) } {
            Ok(wake) => {
                self.state.unlock();
                // A preemption point when exploring (`crate::check`), on either path.
                match wake {
                    Some(p) => p.wake_at_point(),
                    None => crate::sched::preemption_point(),
                }
                return Ok(());
            }
            Err((value, Fail::WouldBlock)) if !matches!(mode, Mode::Try) => value,
            Err(fail) => {
                self.state.unlock();
                return Err(fail);
            }
        };
        let sel = Selector::solo_here();
        let node = Waiter::new(Some(value));
        node.prepare(&sel, 0);
        // SAFETY: as in `recv`.
        unsafe { st.sendq.push_back(&node) };
        let blocked = Blocked {
            chan: self,
            node: &node,
            sel: &sel,
            recv: false,
        };
        let woken = blocked.wait(mode, WaitReason::ChanSend);
        std::mem::forget(blocked);
        if woken == Woken::TIMED_OUT {
            if self.unlink(&node, false) {
                // SAFETY: unlinked and our selector is final: the node is ours alone.
                let value = unsafe { node.take() }.expect("a timed-out send still holds its value");
                return Err((value, Fail::Timeout));
            }
            // A waker took the node first: wait until it is done with us (selector rule 5).
            sel.settle();
        }
        if node.was_disconnected() {
            // SAFETY: as above.
            let value = unsafe { node.take() }.expect("a disconnected send still holds its value");
            return Err((value, Fail::Disconnected));
        }
        Ok(())
    }

    /// Removes `node` from the receive (`recv == true`) or send queue if it is still there;
    /// returns whether it was. For a solo wait, `false` means a waker completed the operation
    /// (under this lock, so its result is visible now).
    pub(crate) fn unlink(&self, node: &Waiter<T>, recv: bool) -> bool {
        self.state.with(|st| {
            let queue = if recv { &mut st.recvq } else { &mut st.sendq };
            // SAFETY: lock held; the node is alive (it is on the caller's frame) and only ever
            // linked into this queue.
            unsafe { queue.remove(node) }
        })
    }

    /// The last sender is gone: wake every parked receiver (Go: `closechan`). O(receivers).
    pub(crate) fn disconnect_senders(&self) {
        if self.keep_open {
            return;
        }
        let mut wake = Vec::new();
        self.state.with(|st| {
            st.senders_gone = true;
            // SAFETY: lock held.
            unsafe { st.recvq.disconnect_all(&mut wake) };
        });
        for p in wake {
            p.wake();
        }
    }

    /// The last receiver is gone: fail every parked sender and drop what is buffered.
    pub(crate) fn disconnect_receivers(&self) {
        let mut wake = Vec::new();
        let (buffered, hook) = self.state.with(|st| {
            st.receivers_gone = true;
            // SAFETY: lock held.
            unsafe { st.sendq.disconnect_all(&mut wake) };
            (std::mem::take(&mut st.buf), st.on_receivers_gone.take())
        });
        for p in wake {
            p.wake();
        }
        if let Some(hook) = hook {
            hook();
        }
        // Values are dropped outside the lock: their destructors may use channels too.
        drop(buffered);
    }

    pub(crate) fn len(&self) -> usize {
        self.state.with(|st| st.buf.len())
    }

    pub(crate) fn receivers_gone(&self) -> bool {
        self.state.with(|st| st.receivers_gone)
    }
}

/// A parked operation's node on its frame. Normally we `forget` it after the wait; if the wait
/// unwinds (the runtime shutting down resumes parked tasks with a panic), its destructor takes
/// the node off the queue so no dangling pointer stays behind.
struct Blocked<'a, T> {
    chan: &'a Chan<T>,
    node: &'a Waiter<T>,
    sel: &'a Selector,
    recv: bool,
}

impl<T> Blocked<'_, T> {
    /// Waits, entered with the channel's lock held (the node was just queued); releases it.
    /// A blocking wait parks first and has the lock released once it is parked: only a waker
    /// holding this lock can complete it (`task::state` rule 7). A timed wait has a second
    /// waker, its timer, so it unlocks first and parks the usual way.
    #[track_caller]
    fn wait(&self, mode: Mode, reason: WaitReason) -> Woken {
        match mode {
            Mode::Until(deadline) => {
                self.chan.state.unlock();
                self.sel.wait_until(reason, deadline)
            }
            _ => self.sel.wait_unlocking(reason, self.chan.state.raw()),
        }
    }
}

impl<T> Drop for Blocked<'_, T> {
    fn drop(&mut self) {
        // A solo wait gives up by unlinking under the lock; if a waker got there first it
        // completed the node under the same lock, and the frame must outlive its wakeup
        // (selector rule 5): then nobody touches node or selector afterwards.
        if !self.chan.unlink(self.node, self.recv) {
            self.sel.settle();
        }
    }
}
