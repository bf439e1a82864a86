//! Wait lists: the queues of parked operations on a channel (Go's `sudog` and `waitq` in
//! `runtime/chan.go`).
//!
//! A blocked `send`, `recv` or `select!` arm puts a [`Waiter`] node on a channel's queue. The
//! node lives on the blocked task's own stack (no allocation per operation, like Go's sudog
//! cache) and is linked into an intrusive doubly linked list, so a `select!` that wins on one
//! channel removes its nodes from the other channels in O(1). Each node points at the
//! [`Selector`] of its operation (`selector.rs`), which decides who completes it.
//!
//! Rules:
//!
//! 1. Every method of a [`WaitList`] runs under the lock of the queue's owner (the channel).
//! 2. A linked node is alive and unmoved: its owner does not return before it is unlinked or
//!    its selector is final.
//! 3. A node's slot is touched by its owner only while the node is unlinked, and by a waker
//!    only after it unlinked the node and claimed its selector.
//!
//! Go counterpart: `sudog`, `waitq.enqueue`/`dequeue` in `runtime/chan.go`. Lessons: 07
//! (channels) and 08 (select and timeouts).

use std::cell::{Cell, UnsafeCell};
use std::ptr;

use super::selector::{Selector, Wakeup};

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

    /// Finishes a claimed node: records whether it completed by disconnection, completes its
    /// selector and returns the wakeup to perform after the unlock.
    ///
    /// # Safety
    /// The caller claimed `node`'s selector (`try_claim` returned true) and the node is
    /// unlinked; the node must not be touched afterwards, nor the selector except through the
    /// returned wakeup.
    #[inline]
    pub(crate) unsafe fn complete(node: *const Waiter<T>, disconnected: bool) -> Option<Wakeup> {
        // SAFETY: the node is alive: its owner cannot return before the selector is final,
        // which happens in the `complete` call below (or in its wakeup, selector rule 5); this
        // is our last access to the node.
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
    /// "disconnected"; returns the wakeups to perform once the lock is released.
    ///
    /// # Safety
    /// The caller holds the channel lock.
    pub(crate) unsafe fn disconnect_all(&mut self, wake: &mut Vec<Wakeup>) {
        // SAFETY: forwarded from the caller; each claimed node is completed at once.
        while let Some(node) = unsafe { self.pop_claimable() } {
            // SAFETY: we claimed it just now and it is unlinked.
            if let Some(p) = unsafe { Waiter::complete(node, true) } {
                wake.push(p);
            }
        }
    }
}
