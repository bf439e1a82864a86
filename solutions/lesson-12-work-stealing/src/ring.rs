//! The ring's operations: the owner pushes at the tail and pops at the head; a thief takes from
//! the head of somebody else's ring.

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
        // Only the owner writes `tail`, so its own last value is current.
        let tail = self.tail.load(Ordering::Relaxed);
        loop {
            let head = self.head.load(Ordering::Acquire);
            if tail.wrapping_sub(head) < CAPACITY {
                self.slot(tail).store(task, Ordering::Relaxed);
                // Release: a thief that sees the new tail sees the slot written.
                self.tail.store(tail.wrapping_add(1), Ordering::Release);
                return Ok(());
            }
            // Full: claim the older half, as a thief would, and hand it over with `task`.
            let half = CAPACITY / 2;
            let mut batch: Vec<u64> = (0..half)
                .map(|i| self.slot(head.wrapping_add(i)).load(Ordering::Relaxed))
                .collect();
            if self
                .head
                .compare_exchange(
                    head,
                    head.wrapping_add(half),
                    Ordering::AcqRel,
                    Ordering::Relaxed,
                )
                .is_ok()
            {
                batch.push(task);
                return Err(batch);
            }
            // A thief took some first: now there is room. Look again.
        }
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
        // `self` is ours: nobody else writes its tail, and the slots at and above it are
        // unpublished, so copying into them is invisible until `tail` moves.
        let my_tail = self.tail.load(Ordering::Relaxed);
        loop {
            let head = victim.head.load(Ordering::Acquire);
            let tail = victim.tail.load(Ordering::Acquire);
            let queued = tail.wrapping_sub(head);
            if queued == 0 {
                return None;
            }
            if queued > CAPACITY {
                // `head` moved on (and the owner pushed more) between our two loads.
                continue;
            }
            let n = queued - queued / 2;
            // Copy first, claim after: if the claim fails, the copies are just stale numbers.
            for i in 0..n {
                let task = victim.slot(head.wrapping_add(i)).load(Ordering::Relaxed);
                self.slot(my_tail.wrapping_add(i))
                    .store(task, Ordering::Relaxed);
            }
            if victim
                .head
                .compare_exchange(
                    head,
                    head.wrapping_add(n),
                    Ordering::AcqRel,
                    Ordering::Relaxed,
                )
                .is_ok()
            {
                let run_now = self
                    .slot(my_tail.wrapping_add(n - 1))
                    .load(Ordering::Relaxed);
                if n > 1 {
                    self.tail
                        .store(my_tail.wrapping_add(n - 1), Ordering::Release);
                }
                return Some(run_now);
            }
            // Somebody else took from `victim` first: look again.
        }
    }
    // ANCHOR_END: steal_into
}
