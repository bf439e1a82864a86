//! The selector: the "who completed me" word of one blocking operation (Go's `selectDone`
//! and the `g.selectDone`/`sudog.isSelect` dance in `runtime/select.go`).
//!
//! Every parked node (a channel [`Waiter`](super::list::Waiter), a mutex waiter) points at a
//! [`Selector`]. A plain send, receive or lock has a selector of its own (a *solo* one); all
//! arms of one `select!` share one, so exactly one arm can complete. The protocol:
//!
//! * a waker (a task on the other side of the channel, an unlock, or `close`) holds the queue's
//!   lock, unlinks a node and claims its selector (`Waiting -> Busy`, a CAS; a solo selector
//!   is claimed by the unlink itself). If the claim fails the operation already completed
//!   elsewhere (another arm, a timeout): the node is dropped from the queue and the waker
//!   tries the next one;
//! * the winner moves the value into or out of the node, takes the selector's [`Parker`],
//!   publishes the arm (`Busy -> Done(index)`, a release store) and unparks the owner after
//!   releasing the lock;
//! * the owner parks until the selector is final. A timed-out owner claims its own selector
//!   (`Waiting -> TimedOut`), so a timeout and a wakeup can never both win.
//!
//! Rules:
//!
//! 1. States only move forward: `Waiting -> Busy -> Done(index)`, or `Waiting -> TimedOut`.
//! 2. `Done` and `TimedOut` are final; once the owner sees one it may return and free the
//!    selector and its nodes, so the waker touches neither after publishing.
//! 3. Exactly one claim succeeds (a CAS from `Waiting`, or for a solo selector the unlink
//!    under the queue's lock).
//! 4. A waker never waits for another thread, which keeps the protocol free of lock cycles.
//! 5. A task's own solo wait ([`Selector::solo_here`], a channel send or receive) holds no
//!    reference to the task, which saves two locked reference-count updates per hand-off. So
//!    its waker must not let the owner go before it is done with the task: it completes the
//!    node under the lock with `Waiting -> Busy`, and after the unlock it unparks the task and
//!    only then publishes `Done` ([`Wakeup`]). An owner that sees `Busy` spins until `Done`
//!    (the waker is running on another thread, a few instructions from it), and an owner that
//!    gives up and finds its node gone does the same ([`Selector::settle`]). A parked task
//!    keeps the reference its worker ran it with (`sched/switch.rs`), and the unpark that
//!    claims it takes that reference over, so the waker needs none of its own.
//!
//! Rules 1 to 3 are model-checked with loom: `loom/models/selector.rs`. Rule 5 is not (its
//! waker half runs the scheduler's wake path, which a loom model cannot run); the park-token
//! models cover the claim it relies on.
//!
//! Go counterpart: `selectDone` in `runtime/select.go`, `sudog.isSelect`. Lessons: 07
//! (channels) and 08 (select and timeouts).

use std::cell::UnsafeCell;
use std::sync::atomic::Ordering;
use std::time::Instant;

// std's atomics, or loom's when the protocol is model-checked (`crate::loom`).
use super::RawLock;
use crate::loom::sync::atomic::AtomicUsize;
use crate::loom::{hint, thread};
use crate::task::parking::park_with;
use crate::task::record::{Header, Parker};
use crate::task::state::WaitReason;

// How a selector's word encodes its state (see [`SelState`]): an arm index, or one of these.
/// Nobody completed the operation yet.
const WAITING: usize = usize::MAX;
/// A waker claimed the operation and is moving the value; the index follows shortly.
const BUSY: usize = usize::MAX - 1;
/// The owner gave up (timeout, or it is unwinding); no arm completed.
const TIMED_OUT: usize = usize::MAX - 2;

/// What a selector's word says (rule 1: states only move forward, left to right or down).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SelState {
    /// Nobody completed the operation yet.
    Waiting,
    /// A waker claimed it and is moving the value; `Done` follows shortly.
    Busy,
    /// The owner gave up (timeout, or it is unwinding); no arm completed.
    TimedOut,
    /// Arm `index` completed.
    Done(usize),
}

impl SelState {
    #[inline(always)]
    fn decode(word: usize) -> SelState {
        match word {
            WAITING => SelState::Waiting,
            BUSY => SelState::Busy,
            TIMED_OUT => SelState::TimedOut,
            index => SelState::Done(index),
        }
    }
}

/// How a wait ended, as its owner sees it: arm `index` completed ([`Woken::arm`]), or the
/// owner gave up first ([`Woken::TIMED_OUT`]: deadline, or unwinding). A final [`SelState`]
/// in the selector's own encoding, so reading one costs a single compare.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Woken(usize);

impl Woken {
    /// The owner gave up before any waker completed an arm.
    pub(crate) const TIMED_OUT: Woken = Woken(TIMED_OUT);

    /// The arm that completed, or None if the owner gave up.
    #[inline]
    pub(crate) fn arm(self) -> Option<usize> {
        (self != Woken::TIMED_OUT).then_some(self.0)
    }
}

/// The shared completion word of one blocking operation or one `select!`.
pub(crate) struct Selector {
    state: AtomicUsize,
    /// Taken by the single waker whose claim succeeded; nobody else touches it while linked.
    parker: UnsafeCell<Option<Parker>>,
    /// A task's own solo wait (rule 5): the waiting task, borrowed (no reference held), and
    /// `parker` is None. Null otherwise.
    task: *const Header,
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
            task: std::ptr::null(),
            solo: false,
        }
    }

    /// The selector of a single-node wait (see the `solo` field) woken through `parker`.
    #[inline]
    pub(crate) fn solo(parker: Parker) -> Selector {
        Selector {
            state: AtomicUsize::new(WAITING),
            parker: UnsafeCell::new(Some(parker)),
            task: std::ptr::null(),
            solo: true,
        }
    }

    /// The selector of a single-node wait by whoever is running: a task's borrows the task
    /// (rule 5: its waker publishes `Done` last, and the owner waits for that); a plain
    /// thread's holds the thread's parker.
    #[inline]
    pub(crate) fn solo_here() -> Selector {
        let task = crate::sched::current_task_ptr();
        Selector {
            state: AtomicUsize::new(WAITING),
            parker: UnsafeCell::new(
                task.is_null()
                    .then(|| Parker::Thread(std::thread::current())),
            ),
            task,
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

    /// Completes arm `index` and returns the wakeup to perform once the queue's lock is
    /// released: for a task's solo wait the arm is published by that wakeup (rule 5), for every
    /// other wait it is published here.
    ///
    /// # Safety
    /// The caller's `try_claim` on this selector succeeded, and it has finished writing the
    /// node's slot. After this call (and, for a solo task wait, after the wakeup's publish) the
    /// owner may return and free the selector, so the caller must not touch the selector or
    /// the node again.
    #[inline]
    pub(crate) unsafe fn complete(&self, index: usize) -> Option<Wakeup> {
        debug_assert!(index < TIMED_OUT, "an arm index is not a state code");
        if !self.task.is_null() {
            // Rule 5: `Busy` until the wakeup publishes. Relaxed: an owner that reads it only
            // spins; what it then reads is ordered by the publishing store.
            self.state.store(BUSY, Ordering::Relaxed);
            return Some(Wakeup::Solo(SoloWake {
                sel: self,
                task: self.task,
                index,
            }));
        }
        // SAFETY: our successful claim makes us the only accessor of `parker` (the owner does
        // not read it while the state is not final).
        let parker = unsafe { (*self.parker.get()).take() };
        self.state.store(index, Ordering::Release);
        parker.map(Wakeup::Parker)
    }

    /// How the wait ended, if it has (rule 2: a final state is never left). A task's solo
    /// wait that a waker is finishing (`Busy`, rule 5) is waited for here, so it counts as
    /// ended.
    #[inline]
    pub(crate) fn finished(&self) -> Option<Woken> {
        match SelState::decode(self.state.load(Ordering::Acquire)) {
            SelState::Waiting => None,
            SelState::Busy if self.task.is_null() => None,
            SelState::Busy => Some(self.settle()),
            SelState::TimedOut => Some(Woken::TIMED_OUT),
            SelState::Done(index) => Some(Woken(index)),
        }
    }

    /// Waits for the waker that took this wait's node to publish its arm (rule 5): the owner
    /// of a solo wait calls it when it finds its node gone (the waker has it) or its selector
    /// `Busy`. That waker holds no lock and is a few instructions from publishing, on another
    /// thread, so this spins, yielding the thread if the waker was descheduled. A wait that
    /// is final already returns at once.
    #[cold]
    pub(crate) fn settle(&self) -> Woken {
        let mut spins = 0u32;
        loop {
            match SelState::decode(self.state.load(Ordering::Acquire)) {
                SelState::Waiting | SelState::Busy => {}
                SelState::TimedOut => return Woken::TIMED_OUT,
                SelState::Done(index) => return Woken(index),
            }
            if spins < 64 {
                hint::spin_loop();
                spins += 1;
            } else {
                thread::yield_now();
            }
        }
    }

    /// Like [`wait`](Selector::wait), for a solo wait whose node was just queued under `lock`,
    /// still held: the first park releases it once the task is parked
    /// (`task::parking::park_unlocking`).
    #[inline]
    #[track_caller]
    pub(crate) fn wait_unlocking(&self, reason: WaitReason, lock: &RawLock) -> Woken {
        crate::task::parking::park_unlocking(reason, lock);
        self.wait(reason)
    }

    /// Parks until some waker completed an arm (or the owner gave up).
    #[inline]
    #[track_caller]
    pub(crate) fn wait(&self, reason: WaitReason) -> Woken {
        loop {
            if let Some(index) = self.finished() {
                return index;
            }
            park_with(reason);
        }
    }

    /// Solo waits only: parks until completed or until `deadline` passed; returns the arm, or
    /// `Woken::TIMED_OUT` if the deadline passed first. Then the caller must take the lock and unlink
    /// its node: if the node is already gone, a waker completed it after all (and
    /// `finished()` says so).
    #[track_caller]
    pub(crate) fn wait_until(&self, reason: WaitReason, deadline: Instant) -> Woken {
        debug_assert!(self.solo);
        loop {
            if let Some(index) = self.finished() {
                return index;
            }
            if crate::time::now() >= deadline {
                return Woken::TIMED_OUT;
            }
            crate::time::park_until(reason, deadline);
        }
    }

    /// Stops a multi-node wait without parking (used while unwinding, when parking is not
    /// allowed): claims the selector as `TimedOut`, or, if a waker claimed it first, waits
    /// for that waker to publish its arm and returns it. Such a waker is running right now
    /// (it holds a channel lock), so the spin is short.
    pub(crate) fn give_up_spinning(&self) -> Woken {
        match self
            .state
            .compare_exchange(WAITING, TIMED_OUT, Ordering::Acquire, Ordering::Acquire)
        {
            Ok(_) => Woken::TIMED_OUT,
            Err(_) => loop {
                if let Some(index) = self.finished() {
                    return index;
                }
                crate::loom::thread::yield_now();
            },
        }
    }

    /// Claims the selector for its owner (`Waiting -> TimedOut`) unless a waker did first.
    pub(crate) fn try_give_up(&self) -> bool {
        self.state
            .compare_exchange(WAITING, TIMED_OUT, Ordering::Acquire, Ordering::Acquire)
            .is_ok()
    }
}

/// The wakeup a waker owes the owner of a wait it completed, performed once it released the
/// queue's lock (`Selector::complete`). Dropping a `Solo` one unperformed would leave its owner
/// spinning (rule 5), hence `must_use`.
#[must_use = "the owner of a completed wait waits for this wakeup"]
pub(crate) enum Wakeup {
    /// The selector is final: unpark this parker.
    Parker(Parker),
    /// A task's solo wait, `Busy`: unpark the task, then publish the arm (rule 5).
    Solo(SoloWake),
}

/// The second half of completing a task's solo wait (rule 5).
pub(crate) struct SoloWake {
    sel: *const Selector,
    task: *const Header,
    index: usize,
}

impl Wakeup {
    /// Wakes the owner (token semantics for a parker; see `Parker::wake`).
    #[inline]
    pub(crate) fn wake(self) {
        match self {
            Wakeup::Parker(p) => p.wake(),
            Wakeup::Solo(w) => w.finish::<false>(),
        }
    }

    /// Like [`wake`](Wakeup::wake), as the waker's last step, with no lock held: the waker is
    /// at a preemption point (`sched/deterministic.rs`, rule 7).
    #[inline]
    pub(crate) fn wake_at_point(self) {
        match self {
            Wakeup::Parker(p) => p.wake_at_point(),
            Wakeup::Solo(w) => w.finish::<true>(),
        }
    }
}

impl SoloWake {
    #[inline]
    fn finish<const POINT: bool>(self) {
        let (sel, index) = (self.sel, self.index);
        // SAFETY: the selector is `Busy`, so its owner is still waiting (rule 5): the task is
        // alive and the selector, on its stack, too, until the publish, our last access.
        unsafe {
            crate::sched::unpark_solo::<POINT>(self.task, move || {
                (*sel).state.store(index, Ordering::Release);
            });
        }
    }
}
