//! The per-worker local run queue: a bounded ring that its owner pushes and pops without locks,
//! and that idle workers steal half of. This is Go's `runq` (`runqput`, `runqget`, `runqgrab`).
//!
//! The owner writes slots at `tail` and publishes them with a Release store of `tail`. Everyone
//! (owner and thieves) takes from `head` with a compare-and-swap, so each entry is handed out
//! exactly once. A thief copies the entries it wants *before* its CAS; if the CAS fails the
//! copies are discarded (they are plain pointers, the CAS is what transfers ownership). Slots are
//! atomics, so a thief reading a slot the owner is overwriting reads a stale value rather than
//! racing: its CAS then fails.
//!
//! Only tasks that may move between threads go in here: tasks that have not started yet, and
//! migratable ones. A started task waits in its worker's private queue instead.
//!
//! Each ring also keeps a [`Backlog`]: how long it has held work without running dry. Thieves
//! read it to leave young work to its owner (see `sched`'s "patience" note).
//!
//! Lessons: 04 (a run queue) and 12 (work stealing: why a thief takes half).

use std::sync::Arc;
use std::sync::atomic::{AtomicPtr, AtomicU32, AtomicU64, Ordering};

use crate::task::{Header, TaskRef};

/// Slots in a local ring (Go uses 256 too).
pub(crate) const CAPACITY: u32 = 256;

pub(crate) struct RunQueue {
    head: AtomicU32,
    tail: AtomicU32,
    slots: Box<[AtomicPtr<Header>]>,
    /// How long this ring has held work without running dry.
    pub(crate) backlog: Backlog,
}

/// How long a queue has been non-empty without a break, as thieves see it.
///
/// The queue's owner only counts *spells*: each time the queue goes from empty to non-empty it
/// starts a new one (a plain increment, no clock read on the owner's fast path). Thieves do the
/// timing: the first thief to see a spell notes the time; later looks at the same spell measure
/// its age from that note. The age is a lower bound (nobody looked earlier), which is what
/// patience needs: a thief never steals earlier than it should.
pub(crate) struct Backlog {
    /// Spell counter, written by the queue's owner.
    spell: AtomicU32,
    /// `spell << 32 | microsecond` of the first look at that spell (one word, so a thief never
    /// pairs one spell with another's time).
    seen: AtomicU64,
}

impl Backlog {
    pub(crate) fn new() -> Backlog {
        Backlog {
            spell: AtomicU32::new(0),
            // Spell 0 has not been seen by anybody (the time half says "never").
            seen: AtomicU64::new(u64::from(u32::MAX)),
        }
    }

    /// The queue went from empty to non-empty. Only its owner (or its lock holder) calls this.
    #[inline]
    pub(crate) fn new_spell(&self) {
        self.spell.store(
            self.spell.load(Ordering::Relaxed).wrapping_add(1),
            Ordering::Relaxed,
        );
    }

    /// A thief's look at a non-empty queue at `now_us` (microseconds on any clock that all
    /// thieves share): how many microseconds the current spell has lasted, as far as anybody
    /// saw. 0 for a spell nobody had seen yet (this look starts its clock).
    pub(crate) fn age_us(&self, now_us: u32) -> u32 {
        let spell = self.spell.load(Ordering::Relaxed);
        let seen = self.seen.load(Ordering::Relaxed);
        if (seen >> 32) as u32 == spell && seen as u32 != u32::MAX {
            return now_us.wrapping_sub(seen as u32);
        }
        let mine = u64::from(spell) << 32 | u64::from(now_us.min(u32::MAX - 1));
        // Losing this race to another thief is fine: it noted the same spell at about the
        // same time.
        let _ = self
            .seen
            .compare_exchange(seen, mine, Ordering::Relaxed, Ordering::Relaxed);
        0
    }
}

impl RunQueue {
    pub(crate) fn new() -> RunQueue {
        RunQueue {
            head: AtomicU32::new(0),
            tail: AtomicU32::new(0),
            slots: (0..CAPACITY)
                .map(|_| AtomicPtr::new(std::ptr::null_mut()))
                .collect(),
            backlog: Backlog::new(),
        }
    }

    fn slot(&self, i: u32) -> &AtomicPtr<Header> {
        &self.slots[(i % CAPACITY) as usize]
    }

    /// Entries currently queued (a snapshot).
    pub(crate) fn len(&self) -> usize {
        let h = self.head.load(Ordering::Acquire);
        let t = self.tail.load(Ordering::Acquire);
        t.wrapping_sub(h) as usize
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Owner only: appends `task`, or hands it back with half the queue when the ring is full
    /// (the caller moves those to the global queue, as Go's `runqputslow` does).
    pub(crate) fn push(&self, task: TaskRef) -> Result<(), (TaskRef, Vec<TaskRef>)> {
        let t = self.tail.load(Ordering::Relaxed);
        loop {
            let h = self.head.load(Ordering::Acquire);
            if t.wrapping_sub(h) < CAPACITY {
                if t == h {
                    self.backlog.new_spell();
                }
                self.slot(t)
                    .store(Arc::into_raw(task) as *mut Header, Ordering::Relaxed);
                self.tail.store(t.wrapping_add(1), Ordering::Release);
                return Ok(());
            }
            // Full: grab the older half for the global queue.
            let n = CAPACITY / 2;
            let grabbed: Vec<*mut Header> = (0..n)
                .map(|i| self.slot(h.wrapping_add(i)).load(Ordering::Relaxed))
                .collect();
            if self
                .head
                .compare_exchange(h, h.wrapping_add(n), Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
            {
                let batch = grabbed
                    .into_iter()
                    // SAFETY: the successful CAS transferred these queue references to us.
                    .map(|p| unsafe { Arc::from_raw(p as *const Header) })
                    .collect();
                return Err((task, batch));
            }
            // A thief took some: there is room now, try again.
        }
    }

    /// Takes the oldest entry (owner, or anyone during shutdown).
    pub(crate) fn pop(&self) -> Option<TaskRef> {
        loop {
            let h = self.head.load(Ordering::Acquire);
            let t = self.tail.load(Ordering::Acquire);
            if t == h {
                return None;
            }
            let p = self.slot(h).load(Ordering::Relaxed);
            if self
                .head
                .compare_exchange(h, h.wrapping_add(1), Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
            {
                // SAFETY: the CAS made us the sole owner of the reference stored in the slot.
                return Some(unsafe { Arc::from_raw(p as *const Header) });
            }
        }
    }

    /// Called by `self`'s owner, with `self` empty: moves half of `victim`'s entries into
    /// `self` and returns one of them to run now. Go's `runqsteal`.
    pub(crate) fn steal_from(&self, victim: &RunQueue) -> Option<(TaskRef, usize)> {
        let my_tail = self.tail.load(Ordering::Relaxed);
        loop {
            let h = victim.head.load(Ordering::Acquire);
            let t = victim.tail.load(Ordering::Acquire);
            let n = t.wrapping_sub(h);
            if n == 0 || n > CAPACITY {
                // Empty, or an inconsistent snapshot (head moved past our tail read).
                if n == 0 {
                    return None;
                }
                continue;
            }
            let n = n - n / 2;
            for i in 0..n {
                let p = victim.slot(h.wrapping_add(i)).load(Ordering::Relaxed);
                self.slot(my_tail.wrapping_add(i))
                    .store(p, Ordering::Relaxed);
            }
            if victim
                .head
                .compare_exchange(h, h.wrapping_add(n), Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
            {
                // Keep the last one to run; publish the rest.
                let last = self
                    .slot(my_tail.wrapping_add(n - 1))
                    .load(Ordering::Relaxed);
                if n > 1 {
                    self.backlog.new_spell();
                    self.tail
                        .store(my_tail.wrapping_add(n - 1), Ordering::Release);
                }
                // SAFETY: the CAS transferred the reference to us.
                let task = unsafe { Arc::from_raw(last as *const Header) };
                return Some((task, n as usize));
            }
        }
    }
}

impl Drop for RunQueue {
    fn drop(&mut self) {
        while let Some(t) = self.pop() {
            drop(t);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Backlog;

    #[test]
    fn a_backlog_ages_until_its_queue_runs_dry() {
        let b = Backlog::new();
        b.new_spell();
        assert_eq!(b.age_us(1_000), 0, "the first look starts the clock");
        assert_eq!(b.age_us(1_400), 400);
        assert_eq!(b.age_us(3_000), 2_000, "looks do not restart the clock");
        // The queue ran dry and filled again: a new spell, seen fresh.
        b.new_spell();
        assert_eq!(b.age_us(3_100), 0);
        assert_eq!(b.age_us(3_150), 50);
    }

    #[test]
    fn backlog_ages_survive_the_microsecond_clock_wrapping() {
        let b = Backlog::new();
        b.new_spell();
        assert_eq!(b.age_us(u32::MAX - 10), 0);
        assert_eq!(b.age_us(5), 16);
    }
}
