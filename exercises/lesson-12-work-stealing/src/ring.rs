//! The ring's operations: the owner pushes at the tail and pops at the head; a thief takes from
//! the head of somebody else's ring.
//!
//! This first draft is correct, but timid: a full ring sends only the new task to the global
//! queue, and a thief takes one task at a time. The tests want batches. Rewrite it.

use std::sync::atomic::Ordering;

use crate::{CAPACITY, Ring};

impl Ring {
    /// How many tasks are queued (a snapshot: other threads may change it at once).
    pub fn len(&self) -> usize {
        let head = self.head.load(Ordering::Acquire);
        let tail = self.tail.load(Ordering::Acquire);
        tail.wrapping_sub(head) as usize
    }

    /// Whether nothing is queued (a snapshot).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    // ANCHOR: push
    /// Owner only: queues `task` at the tail.
    ///
    /// When the ring is full, nothing is written: the tasks returned in `Err` go to the global
    /// queue instead, oldest first, and the ring keeps the rest.
    pub fn push(&self, task: u64) -> Result<(), Vec<u64>> {
        // TODO(lesson): a full ring should hand over its older half along with `task`.
        let tail = self.tail.load(Ordering::Relaxed);
        let head = self.head.load(Ordering::Acquire);
        if tail.wrapping_sub(head) >= CAPACITY {
            return Err(vec![task]);
        }
        self.slot(tail).store(task, Ordering::Relaxed);
        self.tail.store(tail.wrapping_add(1), Ordering::Release);
        Ok(())
    }
    // ANCHOR_END: push

    /// Owner only: takes the oldest task.
    pub fn pop(&self) -> Option<u64> {
        loop {
            let head = self.head.load(Ordering::Acquire);
            let tail = self.tail.load(Ordering::Acquire);
            if head == tail {
                return None;
            }
            let task = self.slot(head).load(Ordering::Relaxed);
            if self
                .head
                .compare_exchange(
                    head,
                    head.wrapping_add(1),
                    Ordering::AcqRel,
                    Ordering::Relaxed,
                )
                .is_ok()
            {
                return Some(task);
            }
        }
    }

    // ANCHOR: steal_into
    /// Called by the owner of `self`, an empty ring, to steal from `victim`: takes the older
    /// half of `victim`'s tasks (rounded up, so a lone task can be stolen too), returns the
    /// newest of them to run at once and leaves the others queued in `self`, oldest first.
    /// `None` if `victim` is empty.
    pub fn steal_into(&self, victim: &Ring) -> Option<u64> {
        // TODO(lesson): take half, not one.
        victim.pop()
    }
    // ANCHOR_END: steal_into
}
