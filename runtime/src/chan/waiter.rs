//! Wait queues of parked channel operations (Go: `sudog` and `waitq` in `runtime/chan.go`).
//!
//! A blocked `send`, `recv` or `select!` puts a [`Waiter`] node on the channel's queue. The
//! node lives on the blocked task's own stack (no allocation per operation, like Go's sudog
//! cache) and is linked into an intrusive doubly linked list, so a `select!` that wins on one
//! channel removes its nodes from the other channels in O(1).
//!
//! Every node points at a [`Selector`]: the operation's "who completed me" word. A plain send
//! or receive has a selector of its own; all arms of one `select!` share one, so exactly one
//! arm can complete (Go's `selectDone` flag). The protocol:
//!
//! * a waker (a task on the other side of the channel, or `close`) holds the channel lock,
//!   unlinks a node and claims its selector with a CAS `WAITING -> BUSY`. If the CAS fails the
//!   operation already completed elsewhere (another arm, a timeout): the node is dropped from
//!   the queue and the waker tries the next one;
//! * the winner moves the value into or out of the node, takes the selector's [`Parker`],
//!   publishes the arm index with a release store (`BUSY -> index`) and unparks the owner after
//!   releasing the lock;
//! * the owner parks until the selector holds an index. A timed-out owner claims its own
//!   selector with `WAITING -> TIMED_OUT`, so a timeout and a wakeup can never both win.
//!
//! States only move forward (`WAITING -> BUSY -> index`, or `WAITING -> TIMED_OUT`); a
//! waker never waits for another thread, which keeps the protocol free of lock cycles.
//!
//! Go counterpart: `sudog` and `selectDone` in `runtime/chan.go` and `runtime/select.go`.
//! Lessons: 07 (channels) and 08 (select and timeouts).

use crate::task::{Parker, WaitReason};
use std::cell::{Cell, UnsafeCell};
use std::ptr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

/// Nobody completed the operation yet.
const WAITING: usize = usize::MAX;
/// A waker claimed the operation and is moving the value; the index follows shortly.
const BUSY: usize = usize::MAX - 1;
/// The owner gave up (timeout, or it is unwinding); no arm completed.
pub(crate) const TIMED_OUT: usize = usize::MAX - 2;

/// The shared completion word of one blocking operation or one `select!`.
pub(crate) struct Selector {
    state: AtomicUsize,
    /// Taken by the single waker whose claim succeeded; nobody else touches it while linked.
    parker: UnsafeCell<Option<Parker>>,
    /// Exactly one node, on one queue, protected by one lock (a plain send or receive, a
    /// mutex waiter): whoever unlinks the node under that lock owns it, so wakers need no
    /// compare-and-swap. The owner gives up (timeout, unwinding) by unlinking its node under
    /// the lock too: if the node is gone, a waker completed it (and set the final state, under
    /// the lock) first.
    solo: bool,
}

impl Selector {
    /// The selector of a `select!` with several nodes: wakers claim it with a CAS.
    pub(crate) fn new(parker: Parker) -> Selector {
        Selector {
            state: AtomicUsize::new(WAITING),
            parker: UnsafeCell::new(Some(parker)),
            solo: false,
        }
    }

    /// The selector of a single-node wait (see the `solo` field).
    #[inline]
    pub(crate) fn solo(parker: Parker) -> Selector {
        Selector {
            state: AtomicUsize::new(WAITING),
            parker: UnsafeCell::new(Some(parker)),
            solo: true,
        }
    }

    /// Claims the operation for a waker (`WAITING -> BUSY`); only one claim ever succeeds.
    /// The caller holds the lock of the queue it just unlinked the node from.
    #[inline]
    pub(crate) fn try_claim(&self) -> bool {
        // A solo node is claimed by being unlinked under the lock: nobody can race us.
        self.solo
            || self
                .state
                .compare_exchange(WAITING, BUSY, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
    }

    /// Publishes the completed arm and returns the parker to unpark (after unlocking).
    ///
    /// # Safety
    /// The caller's `try_claim` on this selector succeeded, and it has finished writing the
    /// node's slot. After this call the owner may return and free the selector, so the caller
    /// must not touch the selector or the node again.
    #[inline]
    pub(crate) unsafe fn complete(&self, index: usize) -> Option<Parker> {
        // SAFETY: our successful claim makes us the only accessor of `parker` (the owner does
        // not read it while the state is not final).
        let parker = unsafe { (*self.parker.get()).take() };
        self.state.store(index, Ordering::Release);
        parker
    }

    /// The completed arm, if any (`TIMED_OUT` included).
    #[inline]
    pub(crate) fn finished(&self) -> Option<usize> {
        match self.state.load(Ordering::Acquire) {
            WAITING | BUSY => None,
            index => Some(index),
        }
    }

    /// Parks until some waker completed an arm; returns its index.
    #[inline]
    pub(crate) fn wait(&self, reason: WaitReason) -> usize {
        loop {
            if let Some(index) = self.finished() {
                return index;
            }
            crate::task::park_with(reason);
        }
    }

    /// Solo waits only: parks until completed or until `deadline` passed; returns the index,
    /// or [`TIMED_OUT`] if the deadline passed first. Then the caller must take the lock and
    /// unlink its node: if the node is already gone, a waker completed it after all (and
    /// `finished()` says so).
    pub(crate) fn wait_until(&self, reason: WaitReason, deadline: Instant) -> usize {
        debug_assert!(self.solo);
        loop {
            if let Some(index) = self.finished() {
                return index;
            }
            if crate::time::now() >= deadline {
                return TIMED_OUT;
            }
            crate::task::park_until(reason, deadline);
        }
    }

    /// Stops a multi-node wait without parking (used while unwinding, when parking is not
    /// allowed): claims the selector as [`TIMED_OUT`], or, if a waker claimed it first, waits
    /// for that waker to publish its arm and returns it. Such a waker is running right now
    /// (it holds a channel lock), so the spin is short.
    pub(crate) fn give_up_spinning(&self) -> usize {
        match self
            .state
            .compare_exchange(WAITING, TIMED_OUT, Ordering::Acquire, Ordering::Acquire)
        {
            Ok(_) => TIMED_OUT,
            Err(_) => loop {
                if let Some(index) = self.finished() {
                    return index;
                }
                std::thread::yield_now();
            },
        }
    }

    /// Claims the selector for its owner (`WAITING -> TIMED_OUT`) unless a waker did first.
    pub(crate) fn try_give_up(&self) -> bool {
        self.state
            .compare_exchange(WAITING, TIMED_OUT, Ordering::Acquire, Ordering::Acquire)
            .is_ok()
    }
}

/// One parked channel operation, linked into a channel's send or receive queue.
pub(crate) struct Waiter<T> {
    /// The operation this node belongs to (set before linking).
    sel: Cell<*const Selector>,
    /// The arm index reported to the selector when this node completes.
    index: Cell<usize>,
    /// Send: the value offered (taken by the receiver). Receive: the value delivered.
    slot: UnsafeCell<Option<T>>,
    /// Set by the waker when the node completed because the other side disconnected.
    disconnected: Cell<bool>,
    prev: Cell<*const Waiter<T>>,
    next: Cell<*const Waiter<T>>,
    linked: Cell<bool>,
}

impl<T> Waiter<T> {
    pub(crate) const fn new(value: Option<T>) -> Waiter<T> {
        Waiter {
            sel: Cell::new(ptr::null()),
            index: Cell::new(0),
            slot: UnsafeCell::new(value),
            disconnected: Cell::new(false),
            prev: Cell::new(ptr::null()),
            next: Cell::new(ptr::null()),
            linked: Cell::new(false),
        }
    }

    /// Points the node at its selector. Only while the node is not linked.
    #[inline]
    pub(crate) fn prepare(&self, sel: &Selector, index: usize) {
        debug_assert!(!self.linked.get());
        self.sel.set(sel);
        self.index.set(index);
        self.disconnected.set(false);
    }

    /// Takes the slot's value.
    ///
    /// # Safety
    /// The node is not linked, or the caller holds the channel lock and has claimed the node's
    /// selector: no other thread can touch the slot.
    pub(crate) unsafe fn take(&self) -> Option<T> {
        // SAFETY: exclusive access, guaranteed by the caller.
        unsafe { (*self.slot.get()).take() }
    }

    /// Stores a value into the slot.
    ///
    /// # Safety
    /// As for [`Waiter::take`].
    pub(crate) unsafe fn put(&self, value: T) {
        // SAFETY: exclusive access, guaranteed by the caller.
        unsafe { *self.slot.get() = Some(value) }
    }

    /// Marks the node as completed by disconnection (used by `select!` when it finds a
    /// disconnected channel itself). Only while the node is not linked.
    pub(crate) fn set_disconnected(&self) {
        self.disconnected.set(true);
    }

    /// Whether the node completed because the channel disconnected. Read by the owner after
    /// the selector reported this node's arm.
    pub(crate) fn was_disconnected(&self) -> bool {
        self.disconnected.get()
    }

    /// Finishes a claimed node: records whether it completed by disconnection, publishes the
    /// arm and returns the parker to unpark.
    ///
    /// # Safety
    /// The caller claimed `node`'s selector (`try_claim` returned true) and the node is
    /// unlinked; the node and selector must not be touched afterwards.
    #[inline]
    pub(crate) unsafe fn complete(node: *const Waiter<T>, disconnected: bool) -> Option<Parker> {
        // SAFETY: the node is alive: its owner cannot return before the selector is final,
        // which happens in the `complete` call below, our last access.
        unsafe {
            let node = &*node;
            node.disconnected.set(disconnected);
            let index = node.index.get();
            (*node.sel.get()).complete(index)
        }
    }
}

/// An intrusive FIFO of [`Waiter`] nodes. Every method runs under the owning channel's lock.
pub(crate) struct WaitList<T> {
    head: *const Waiter<T>,
    tail: *const Waiter<T>,
}

impl<T> WaitList<T> {
    pub(crate) const fn new() -> WaitList<T> {
        WaitList {
            head: ptr::null(),
            tail: ptr::null(),
        }
    }

    /// Appends a node.
    ///
    /// # Safety
    /// The node is not linked anywhere and stays alive (and unmoved) until it is unlinked; the
    /// caller holds the channel lock.
    #[inline]
    pub(crate) unsafe fn push_back(&mut self, node: &Waiter<T>) {
        debug_assert!(!node.linked.get());
        node.prev.set(self.tail);
        node.next.set(ptr::null());
        if self.tail.is_null() {
            self.head = node;
        } else {
            // SAFETY: linked nodes are alive (push_back's contract) and we hold the lock.
            unsafe { (*self.tail).next.set(node) };
        }
        self.tail = node;
        node.linked.set(true);
    }

    /// Unlinks `node` if it is linked; returns whether it was.
    ///
    /// # Safety
    /// `node` is alive; if linked, it is linked in this list; the caller holds the lock.
    #[inline]
    pub(crate) unsafe fn remove(&mut self, node: &Waiter<T>) -> bool {
        if !node.linked.get() {
            return false;
        }
        let (prev, next) = (node.prev.get(), node.next.get());
        if prev.is_null() {
            self.head = next;
        } else {
            // SAFETY: neighbours of a linked node are linked, hence alive.
            unsafe { (*prev).next.set(next) };
        }
        if next.is_null() {
            self.tail = prev;
        } else {
            // SAFETY: as above.
            unsafe { (*next).prev.set(prev) };
        }
        node.prev.set(ptr::null());
        node.next.set(ptr::null());
        node.linked.set(false);
        true
    }

    #[inline]
    fn pop_front(&mut self) -> Option<*const Waiter<T>> {
        let head = self.head;
        if head.is_null() {
            return None;
        }
        // SAFETY: the head is linked, hence alive, and we hold the lock.
        unsafe { self.remove(&*head) };
        Some(head)
    }

    /// Dequeues the first node whose operation can still complete, and claims it. Nodes of
    /// operations that already completed elsewhere are dropped from the queue on the way.
    ///
    /// The caller must finish the returned node with [`Waiter::complete`].
    ///
    /// # Safety
    /// The caller holds the channel lock.
    #[inline]
    pub(crate) unsafe fn pop_claimable(&mut self) -> Option<*const Waiter<T>> {
        while let Some(node) = self.pop_front() {
            // SAFETY: the node was linked, so its owner is still waiting: node and selector are
            // alive until its selector becomes final, and only a claim can make it so.
            if unsafe { (*(*node).sel.get()).try_claim() } {
                return Some(node);
            }
        }
        None
    }

    /// Unlinks every node, claiming those that can still complete and finishing them as
    /// "disconnected"; returns the parkers to unpark once the lock is released.
    ///
    /// # Safety
    /// The caller holds the channel lock.
    pub(crate) unsafe fn disconnect_all(&mut self, wake: &mut Vec<Parker>) {
        // SAFETY: forwarded from the caller; each claimed node is completed at once.
        while let Some(node) = unsafe { self.pop_claimable() } {
            // SAFETY: we claimed it just now and it is unlinked.
            if let Some(p) = unsafe { Waiter::complete(node, true) } {
                wake.push(p);
            }
        }
    }
}
