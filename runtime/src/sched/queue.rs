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
//! migratable ones. A started task waits in its worker's private queue instead ([`Fifo`]).
//!
//! Each ring also keeps a [`Progress`]: how fast its owner gets through it. Thieves read it to
//! leave work its owner is about to get to (see `steal.rs`, "Thieves are patient").
//!
//! Also here: the [`GlobalQueue`] (Go's `sched.runq`), which takes the overflow of full rings
//! and work queued from outside the runtime.
//!
//! The queues' rules:
//!
//! 1. Only a ring's owner pushes to it; owner and thieves pop from it, and a successful CAS of
//!    `head` is what hands an entry to exactly one of them.
//! 2. A ring and the global queue hold only tasks that may run on any thread (unstarted or
//!    migratable); a started pinned task only ever sits in its home worker's [`Fifo`],
//!    `runnext` or inbox.
//! 3. A [`Fifo`] is touched by its owning thread only.
//! 4. The global queue's `len` is published after every change under its lock, so a worker
//!    may skip the lock when it reads 0.
//!
//! Rule 1 (with `push`'s overflow and `steal_from`) is model-checked with loom:
//! `loom/models/run_queue.rs`.
//!
//! Go counterpart: `runqput`, `runqget`, `runqgrab`, `globrunqput`, `globrunqget` in
//! `runtime/proc.go`. Lessons: 04 (a run queue) and 12 (work stealing: why a thief takes half).

use std::cell::UnsafeCell;
use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::{Mutex, MutexGuard};

// std's atomics, or loom's when the protocol is model-checked (`crate::loom`).
use crate::loom::sync::atomic::{AtomicPtr, AtomicU32, AtomicU64, AtomicUsize};

use crate::task::record::{Header, TaskRef};

/// Slots in a local ring (Go uses 256 too).
#[cfg(not(loom))]
pub(crate) const CAPACITY: u32 = 256;
/// Under loom, a ring small enough for a model to fill (`loom/models/run_queue.rs`).
#[cfg(loom)]
pub(crate) const CAPACITY: u32 = 4;

pub(crate) struct RunQueue {
    head: AtomicU32,
    tail: AtomicU32,
    /// Tasks taken by `pop` (the owner), a wrapping count: what thieves measure progress by.
    /// Steals do not count: a thief's own takings say nothing about whether the owner keeps up.
    popped: AtomicU32,
    slots: Box<[AtomicPtr<Header>]>,
    /// How fast the owner gets through this ring, as thieves measure it.
    pub(crate) progress: Progress,
}

/// How fast a queue's owner is getting through it, as thieves measure it: they steal only when
/// the owner would need longer than their patience to finish what is queued (see `sched`'s
/// "Thieves are patient").
///
/// Measuring costs the owner one plain increment per task it takes from its ring. Thieves keep
/// the clock: the first look opens a window (time and count), a look at
/// least [`WINDOW_US`] later closes it and records the rate, and opens the next.
pub(crate) struct Progress {
    /// `microsecond << 32 | taken` when the current window opened (`NO_MARK`: none open).
    mark: AtomicU64,
    /// Tasks taken per millisecond over the last closed window (`NO_RATE`: none closed yet).
    rate: AtomicU32,
}

/// A measuring window: long enough to see the owner take a few tasks.
pub(crate) const WINDOW_US: u32 = 200;
/// A window left open longer than this (nobody looked) says nothing about the current rate.
const STALE_US: u32 = 4 * WINDOW_US;
const NO_MARK: u64 = u64::MAX;
const NO_RATE: u32 = u32::MAX;
/// The owner took nothing in one window: maybe stuck, maybe still spawning the burst it will
/// work through next (thread-ring's 503 spawns take about 150 µs, longer when a page fault or
/// the OS delays them). A second such window in a row says stuck.
const IDLE_ONCE: u32 = u32::MAX - 1;
/// How far one window can lower the measured rate: an owner that took 300 tasks per ms and then,
/// for one window, 5 is judged at 150. An owner busy with something other than its ring for a
/// moment (thread-ring's token passing through `runnext` from one parked task to the next,
/// while the tasks spawned last wait in the ring) keeps its ring; one that stays slow is judged
/// at half its last rate each window, until that reaches what it measures.
const DECAY: u32 = 2;

/// What a thief should do about a queue.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Its owner will not get through it within the thief's patience: take half.
    Steal,
    /// Leave it to its owner; look again after this many microseconds.
    Wait(u32),
}

impl Progress {
    pub(crate) fn new() -> Progress {
        Progress {
            mark: AtomicU64::new(NO_MARK),
            rate: AtomicU32::new(NO_RATE),
        }
    }

    /// A thief's look at `now_us` (microseconds on the clock all thieves share) at a queue
    /// whose owner has taken `taken` tasks so far (a wrapping count) and has `queued` waiting.
    pub(crate) fn judge(&self, now_us: u32, taken: u32, queued: u32, patience_us: u32) -> Verdict {
        let mark = self.mark.load(Ordering::Relaxed);
        let elapsed = now_us.wrapping_sub((mark >> 32) as u32);
        let here = u64::from(now_us) << 32 | u64::from(taken);
        if mark == NO_MARK || elapsed > STALE_US {
            // Nothing recent to go on: start measuring. (Thieves racing here store the same
            // kind of mark: harmless.)
            self.mark.store(here, Ordering::Relaxed);
            self.rate.store(NO_RATE, Ordering::Relaxed);
            return Verdict::Wait(WINDOW_US);
        }
        if elapsed >= WINDOW_US {
            let done = u64::from(taken.wrapping_sub(mark as u32));
            let mut rate = (done * 1000 / u64::from(elapsed)).min(u64::from(IDLE_ONCE - 1)) as u32;
            let before = self.rate.load(Ordering::Relaxed);
            if rate == 0 && !matches!(before, 0 | IDLE_ONCE) {
                rate = IDLE_ONCE;
            } else if rate > 0 && !matches!(before, NO_RATE | IDLE_ONCE) {
                // One slow window after a fast one is not yet a slow owner: the rate falls by
                // at most half per window (see `DECAY`).
                rate = rate.max(before / DECAY);
            }
            self.rate.store(rate, Ordering::Relaxed);
            self.mark.store(here, Ordering::Relaxed);
        }
        match self.rate.load(Ordering::Relaxed) {
            NO_RATE => Verdict::Wait(WINDOW_US.saturating_sub(elapsed).max(1)),
            IDLE_ONCE => Verdict::Wait(WINDOW_US),
            0 => Verdict::Steal,
            rate => {
                let drain_us = u64::from(queued) * 1000 / u64::from(rate);
                if drain_us > u64::from(patience_us) {
                    Verdict::Steal
                } else {
                    Verdict::Wait((drain_us as u32).clamp(1, WINDOW_US))
                }
            }
        }
    }
}

impl RunQueue {
    pub(crate) fn new() -> RunQueue {
        RunQueue {
            head: AtomicU32::new(0),
            tail: AtomicU32::new(0),
            popped: AtomicU32::new(0),
            slots: (0..CAPACITY)
                .map(|_| AtomicPtr::new(std::ptr::null_mut()))
                .collect(),
            progress: Progress::new(),
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

    /// Owner only: the position the next push takes, to ask later (`passed`) whether every
    /// task queued before it has left the ring.
    #[inline(always)]
    pub(crate) fn end_mark(&self) -> u32 {
        self.tail.load(Ordering::Relaxed)
    }

    /// Whether every task queued before `mark` (an [`end_mark`](Self::end_mark)) has been
    /// taken, by the owner or by thieves.
    #[inline(always)]
    pub(crate) fn passed(&self, mark: u32) -> bool {
        self.head.load(Ordering::Relaxed).wrapping_sub(mark) as i32 >= 0
    }

    /// How many tasks the owner has taken from this ring so far (a wrapping count).
    pub(crate) fn taken(&self) -> u32 {
        self.popped.load(Ordering::Relaxed)
    }

    /// Owner only: appends `task`, or hands it back with half the queue when the ring is full
    /// (the caller moves those to the global queue, as Go's `runqputslow` does).
    #[inline]
    pub(crate) fn push(&self, task: TaskRef) -> Result<(), (TaskRef, Vec<TaskRef>)> {
        let t = self.tail.load(Ordering::Relaxed);
        let h = self.head.load(Ordering::Acquire);
        if t.wrapping_sub(h) < CAPACITY {
            self.publish(t, task);
            return Ok(());
        }
        self.push_full(task)
    }

    /// Owner only: writes `task` into free slot `t` and publishes it (tail `t + 1`).
    #[inline(always)]
    fn publish(&self, t: u32, task: TaskRef) {
        self.slot(t)
            .store(TaskRef::into_raw(task) as *mut Header, Ordering::Relaxed);
        self.tail.store(t.wrapping_add(1), Ordering::Release);
    }

    /// `push` when the ring looked full: out of line, so that the common push stays a few
    /// instructions (a spawner with a backlog comes here once every `CAPACITY / 2` pushes).
    #[cold]
    #[inline(never)]
    fn push_full(&self, task: TaskRef) -> Result<(), (TaskRef, Vec<TaskRef>)> {
        let t = self.tail.load(Ordering::Relaxed);
        loop {
            let h = self.head.load(Ordering::Acquire);
            if t.wrapping_sub(h) < CAPACITY {
                self.publish(t, task);
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
                    .map(|p| unsafe { TaskRef::from_raw(p as *const Header) })
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
                // Only the owner pops (outside shutdown): a load and a store suffice.
                self.popped.store(
                    self.popped.load(Ordering::Relaxed).wrapping_add(1),
                    Ordering::Relaxed,
                );
                // SAFETY: the CAS made us the sole owner of the reference stored in the slot.
                return Some(unsafe { TaskRef::from_raw(p as *const Header) });
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
                    self.tail
                        .store(my_tail.wrapping_add(n - 1), Ordering::Release);
                }
                // SAFETY: the CAS transferred the reference to us.
                let task = unsafe { TaskRef::from_raw(last as *const Header) };
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

/// A worker's private FIFO of started tasks that are ready again (they are pinned to the
/// worker's thread, so nobody else ever looks at it). A growable power-of-two ring of task
/// pointers: a push or a pop is a few instructions, where `VecDeque` spends a dozen more on
/// wrap-around arithmetic.
///
/// It is `!Sync` (an `UnsafeCell` inside), so only the owning thread can reach it, and every
/// method finishes its access to the cell before it calls anything else (an allocation, or a
/// task's destructor): no two accesses ever overlap, even if one of those calls re-entered.
pub(crate) struct Fifo {
    inner: UnsafeCell<FifoInner>,
}

struct FifoInner {
    /// `TaskRef::into_raw` of each queued task; the length is a power of two (or zero).
    slots: Vec<*const Header>,
    /// Free-running counters: the entries are `head..tail` (modulo the length).
    head: usize,
    tail: usize,
}

impl Fifo {
    pub(crate) const fn new() -> Fifo {
        Fifo {
            inner: UnsafeCell::new(FifoInner {
                slots: Vec::new(),
                head: 0,
                tail: 0,
            }),
        }
    }

    pub(crate) fn len(&self) -> usize {
        // SAFETY: see the type's doc: a short access that calls nothing.
        let q = unsafe { &*self.inner.get() };
        q.tail.wrapping_sub(q.head)
    }

    #[inline(always)]
    pub(crate) fn push_back(&self, task: TaskRef) {
        while self.len() == self.capacity() {
            self.grow();
        }
        let p = TaskRef::into_raw(task);
        // SAFETY: see the type's doc: a short access that calls nothing.
        let q = unsafe { &mut *self.inner.get() };
        let i = q.tail & (q.slots.len() - 1);
        // SAFETY: the length is a power of two (not zero: there was room for this push), so
        // the masked index is in bounds.
        unsafe { *q.slots.get_unchecked_mut(i) = p };
        q.tail = q.tail.wrapping_add(1);
    }

    #[inline(always)]
    pub(crate) fn pop_front(&self) -> Option<TaskRef> {
        let p = {
            // SAFETY: see the type's doc: a short access that calls nothing.
            let q = unsafe { &mut *self.inner.get() };
            if q.head == q.tail {
                return None;
            }
            let i = q.head & (q.slots.len() - 1);
            // SAFETY: the queue is not empty, so the length is a power of two, not zero, and
            // the masked index is in bounds.
            let p = unsafe { *q.slots.get_unchecked(i) };
            q.head = q.head.wrapping_add(1);
            p
        };
        // SAFETY: the pointer came from `TaskRef::into_raw` in `push_back`, and popping it took
        // it out of the queue: the reference is ours.
        Some(unsafe { TaskRef::from_raw(p) })
    }

    pub(crate) fn extend(&self, tasks: impl IntoIterator<Item = TaskRef>) {
        for t in tasks {
            self.push_back(t);
        }
    }

    fn capacity(&self) -> usize {
        // SAFETY: see the type's doc: a short access that calls nothing.
        unsafe { (*self.inner.get()).slots.len() }
    }

    /// Doubles the ring. The new buffer is allocated, and the old one freed, outside any
    /// access to the cell.
    #[cold]
    fn grow(&self) {
        let mut fresh = vec![std::ptr::null(); (self.capacity() * 2).max(16)];
        {
            // SAFETY: see the type's doc: a short access that calls nothing.
            let q = unsafe { &mut *self.inner.get() };
            let len = q.tail.wrapping_sub(q.head);
            if fresh.len() <= len {
                // Only if something re-entered during the allocation and grew it already.
                return;
            }
            let mask = q.slots.len().wrapping_sub(1);
            for (i, slot) in fresh.iter_mut().take(len).enumerate() {
                *slot = q.slots[q.head.wrapping_add(i) & mask];
            }
            std::mem::swap(&mut q.slots, &mut fresh);
            q.head = 0;
            q.tail = len;
        }
        drop(fresh);
    }
}

impl Drop for Fifo {
    fn drop(&mut self) {
        while let Some(t) = self.pop_front() {
            drop(t);
        }
    }
}

/// `GlobalQueue::owner` when its work came from outside (no patience applies).
pub(crate) const NO_OWNER: usize = usize::MAX;

/// The run's shared queue (Go's `sched.runq`): overflow of full rings, and tasks woken from
/// outside the runtime.
pub(crate) struct GlobalQueue {
    queue: Mutex<VecDeque<TaskRef>>,
    len: AtomicUsize,
    /// The worker whose overflow last went here (`NO_OWNER`: work from outside). Its own
    /// overflow is not another worker's to take before it has aged (see `steal.rs`).
    owner: AtomicUsize,
}

impl GlobalQueue {
    pub(crate) fn new() -> GlobalQueue {
        GlobalQueue {
            queue: Mutex::new(VecDeque::new()),
            len: AtomicUsize::new(0),
            owner: AtomicUsize::new(NO_OWNER),
        }
    }

    fn lock(&self) -> MutexGuard<'_, VecDeque<TaskRef>> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Tasks queued (rule 4: may be a moment old).
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.len.load(Ordering::SeqCst)
    }

    /// Whose overflow the queue holds (`NO_OWNER`: work from outside).
    pub(crate) fn owner(&self) -> usize {
        self.owner.load(Ordering::SeqCst)
    }

    /// Queues a task woken from outside: anybody may run it at once.
    pub(crate) fn push_outside(&self, t: TaskRef) {
        let mut g = self.lock();
        g.push_back(t);
        self.owner.store(NO_OWNER, Ordering::Relaxed);
        self.len.store(g.len(), Ordering::Release);
    }

    /// Worker `owner`'s overflow (its ring was full).
    pub(crate) fn push_batch(&self, owner: usize, batch: Vec<TaskRef>) {
        let mut g = self.lock();
        g.extend(batch);
        self.owner.store(owner, Ordering::Relaxed);
        self.len.store(g.len(), Ordering::Release);
    }

    /// Takes one task, and moves a fair share (of `workers`) more into `ring` if given.
    pub(crate) fn pop(&self, ring: Option<&RunQueue>, workers: usize) -> Option<TaskRef> {
        if self.len.load(Ordering::Acquire) == 0 {
            return None;
        }
        let mut g = self.lock();
        let first = g.pop_front();
        if let Some(ring) = ring {
            // Take a fair share, as Go's globrunqget does.
            let share = (g.len() / workers).min(CAPACITY as usize / 2);
            for _ in 0..share {
                let Some(t) = g.pop_front() else { break };
                if let Err((t, rest)) = ring.push(t) {
                    g.push_front(t);
                    for r in rest.into_iter().rev() {
                        g.push_front(r);
                    }
                    break;
                }
            }
        }
        self.len.store(g.len(), Ordering::Release);
        first
    }

    /// Empties the queue (shutdown).
    pub(crate) fn take_all(&self) -> VecDeque<TaskRef> {
        let mut g = self.lock();
        self.len.store(0, Ordering::Release);
        std::mem::take(&mut *g)
    }
}

#[cfg(test)]
mod tests {
    use super::{Progress, Verdict, WINDOW_US};

    const PATIENCE: u32 = 2_000;

    #[test]
    fn a_queue_is_measured_before_anything_is_stolen() {
        let p = Progress::new();
        assert_eq!(p.judge(1_000, 0, 500, PATIENCE), Verdict::Wait(WINDOW_US));
        assert_eq!(p.judge(1_100, 0, 500, PATIENCE), Verdict::Wait(100));
    }

    #[test]
    fn an_owner_getting_through_its_queue_in_time_keeps_it() {
        let p = Progress::new();
        p.judge(0, 0, 500, PATIENCE);
        // 100 taken in 250 µs: 400 per ms, so 400 left take 1 ms, within 2 ms of patience.
        assert_eq!(p.judge(250, 100, 400, PATIENCE), Verdict::Wait(WINDOW_US));
        // The next window: still fast enough.
        assert!(matches!(p.judge(500, 200, 300, PATIENCE), Verdict::Wait(_)));
    }

    #[test]
    fn a_slow_or_stuck_owner_gets_help() {
        let slow = Progress::new();
        slow.judge(0, 0, 100, PATIENCE);
        // 2 taken in 200 µs: 10 per ms, so 98 left take 9.8 ms.
        assert_eq!(slow.judge(200, 2, 98, PATIENCE), Verdict::Steal);
        // Nothing taken for one window: maybe still spawning; for two in a row: stuck.
        let stuck = Progress::new();
        stuck.judge(0, 7, 3, PATIENCE);
        assert_eq!(stuck.judge(300, 7, 3, PATIENCE), Verdict::Wait(WINDOW_US));
        assert_eq!(stuck.judge(550, 7, 3, PATIENCE), Verdict::Steal);
        // An owner that starts on its burst after one idle window keeps it.
        let spawning = Progress::new();
        spawning.judge(0, 0, 500, PATIENCE);
        assert_eq!(
            spawning.judge(250, 0, 503, PATIENCE),
            Verdict::Wait(WINDOW_US)
        );
        assert!(matches!(
            spawning.judge(500, 100, 403, PATIENCE),
            Verdict::Wait(_)
        ));
    }

    #[test]
    fn one_slow_window_after_fast_ones_is_not_yet_slow() {
        let p = Progress::new();
        p.judge(0, 0, 500, PATIENCE);
        // 300 per ms: keeps its ring.
        assert!(matches!(p.judge(200, 60, 440, PATIENCE), Verdict::Wait(_)));
        // One window at 5 per ms: judged at 150, so 240 take 1.6 ms: still its own.
        assert!(matches!(p.judge(400, 61, 240, PATIENCE), Verdict::Wait(_)));
        // A second slow window: judged at 75, 240 take 3.2 ms: help.
        assert_eq!(p.judge(600, 62, 240, PATIENCE), Verdict::Steal);
    }

    #[test]
    fn an_old_measurement_is_not_trusted() {
        let p = Progress::new();
        p.judge(0, 0, 10, PATIENCE);
        p.judge(300, 0, 10, PATIENCE);
        // Ten seconds later: the stuck verdict from back then does not count.
        assert_eq!(
            p.judge(10_000_000, 0, 10, PATIENCE),
            Verdict::Wait(WINDOW_US)
        );
    }

    #[test]
    fn measurements_survive_the_microsecond_clock_wrapping() {
        let p = Progress::new();
        p.judge(u32::MAX - 100, 0, 400, PATIENCE);
        assert_eq!(p.judge(150, 100, 400, PATIENCE), Verdict::Wait(WINDOW_US));
    }
}
