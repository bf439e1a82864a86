//! A task's state words: its lifecycle state (what a dump shows), why it waits, and its park
//! token; and the one place each of them changes.
//!
//! Every change of a task's lifecycle state goes through [`TaskState::set`] (Go's
//! `casgstatus`), and every move of its park token through the few transitions below. A trace
//! that wants to see every transition hooks in here and nowhere else.
//!
//! The park token follows `std::thread::park`'s semantics: `unpark` leaves a token if the task
//! is not parked, and the next `park` consumes it and returns at once. Its states:
//!
//! ```text
//!   EMPTY --unpark--> NOTIFIED --park (consume)--> EMPTY
//!   EMPTY --park: the worker that landed the switch, registers saved--> PARKED
//!   PARKED --unpark (claim)--> EMPTY      the claimer queues the task, exactly once
//!   any --retire / cancel unstarted--> DEAD (final)
//! ```
//!
//! The protocol relies on these rules:
//!
//! 1. Only the task itself (or, before it starts, its owner) writes `Running`, `Runnable` for a
//!    yield, and `Waiting(reason)`; a waker writes `Runnable` only after winning the claim of
//!    rule 4. Each goes through [`TaskState::set`].
//! 2. The token goes `EMPTY -> PARKED` only on the far side of the switch
//!    ([`TaskState::finish_park`], called from whatever the worker switched to), after the
//!    task's registers are saved: a waker that sees `PARKED` may queue the task at once.
//! 3. If a token arrived between the decision to park and rule 2, `finish_park` consumes it and
//!    the task runs again: a wakeup is never lost.
//! 4. `PARKED -> EMPTY` is a claim ([`TaskState::claim_for_wake`], [`TaskState::claim_parked`]):
//!    exactly one claimer wins, and the winner queues the task exactly once.
//! 5. `DEAD` is final: unparking a finished task does nothing, ever.
//! 6. Every unpark *writes* the token word, even when a token is already there, and a park
//!    consumes a token with a read-modify-write: so whatever any waker did before its unpark
//!    is visible to the task once the token is consumed (std's "unpark synchronizes with
//!    park"). Checked, with rules 3 and 4, by the loom models in `loom/models/park_token.rs`.
//! 7. A task that parks holding the lock its only rightful waker must take (a channel's
//!    blocking send or receive: Go's `gopark` with `chanparkcommit`) completes its park with a
//!    plain store ([`TaskState::finish_park_locked`], [`Switch::ParkLocked`]), and the lock is
//!    released only after it. No rightful wakeup can come before the unlock; a stray token
//!    (an unpark meant for no wait in particular) is overwritten, as the wait's loop would have
//!    consumed it anyway; and a claim after the store is a spurious wakeup the loop absorbs.
//!
//! Go counterpart: `_Grunnable`, `_Grunning`, `_Gwaiting`, `_Gdead` and `casgstatus` in
//! `runtime/proc.go`, `waitReason` in `runtime/runtime2.go`, and `notesleep`/`notewakeup`
//! for the token. Lessons: 04 (scheduler) and 16 (introspection: the dump's `[chan receive]`).

use std::fmt;
use std::panic::Location;
use std::sync::atomic::Ordering;

// std's atomics, or loom's when the protocol is model-checked (`crate::loom`).
use crate::loom::sync::atomic::{AtomicPtr, AtomicU8, AtomicU32};

/// Why a task is waiting: shown in [`crate::debug::dump`] the way Go shows `[chan receive]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WaitReason {
    /// [`park`](crate::task::park) or [`park_timeout`](crate::task::park_timeout) with no more
    /// specific reason.
    Park,
    /// Receiving from a channel.
    ChanReceive,
    /// Sending on a channel.
    ChanSend,
    /// Blocked in `select!`.
    Select,
    /// In [`sleep`](crate::time::sleep).
    Sleep,
    /// Locking a `sync::Mutex`.
    Mutex,
    /// Locking a `sync::RwLock` for writing.
    RwLock,
    /// In `WaitGroup::wait`.
    WaitGroup,
    /// In [`JoinHandle::join`](crate::task::JoinHandle::join).
    Join,
    /// Waiting for a context to be cancelled.
    Context,
    /// Waiting for a file descriptor to become ready.
    IoWait,
    /// Waiting for a call in [`blocking`](crate::task::blocking()) to return (Go's `syscall`).
    Syscall,
    /// Locking a `sync::RwLock` for reading.
    RwLockRead,
    /// In a `select!` with no arms, which waits forever (Go's `select {}`).
    SelectNoCases,
}

impl WaitReason {
    pub(crate) const ALL: [WaitReason; 14] = [
        WaitReason::Park,
        WaitReason::ChanReceive,
        WaitReason::ChanSend,
        WaitReason::Select,
        WaitReason::Sleep,
        WaitReason::Mutex,
        WaitReason::RwLock,
        WaitReason::WaitGroup,
        WaitReason::Join,
        WaitReason::Context,
        WaitReason::IoWait,
        WaitReason::Syscall,
        WaitReason::RwLockRead,
        WaitReason::SelectNoCases,
    ];

    pub(crate) fn as_u8(self) -> u8 {
        // `ALL` lists the variants in declaration order, so the discriminant is the index.
        self as u8
    }

    pub(crate) fn from_u8(v: u8) -> WaitReason {
        WaitReason::ALL[v as usize]
    }
}

/// Go's words where Go has the same wait (`runtime/runtime2.go`, `waitReasonStrings`), so a
/// dump reads like a Go traceback; goro's own words where Go has no such wait (`join`).
impl fmt::Display for WaitReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            WaitReason::Park => "park",
            WaitReason::ChanReceive => "chan receive",
            WaitReason::ChanSend => "chan send",
            WaitReason::Select => "select",
            WaitReason::Sleep => "sleep",
            WaitReason::Mutex => "sync.Mutex.Lock",
            WaitReason::RwLock => "sync.RWMutex.Lock",
            WaitReason::RwLockRead => "sync.RWMutex.RLock",
            WaitReason::WaitGroup => "sync.WaitGroup.Wait",
            WaitReason::Join => "join",
            WaitReason::Context => "context",
            WaitReason::IoWait => "IO wait",
            WaitReason::Syscall => "syscall",
            WaitReason::SelectNoCases => "select (no cases)",
        })
    }
}

/// A task's lifecycle state as [`crate::debug::dump`] reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum State {
    Runnable,
    Running,
    Waiting(WaitReason),
    Dead,
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            State::Runnable => f.write_str("runnable"),
            State::Running => f.write_str("running"),
            State::Waiting(r) => r.fmt(f),
            State::Dead => f.write_str("dead"),
        }
    }
}

/// What a switch away from a task is for: what the task asks of the scheduler as it leaves,
/// carried across the switch and carried out by whoever is switched to (`sched::switch`,
/// `Worker::land`), once the leaving task's registers are saved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Switch {
    /// No switch in flight (debug builds check that every switch is landed exactly once).
    None,
    /// The scheduler loop switches into a task (nothing to do on landing but save the loop).
    Run,
    /// The task yielded: queue it again (it is `Runnable`).
    Yield,
    /// A spawner whose ring is full steps back: it runs again once the tasks it queued have
    /// left the ring (`sched/worker.rs`, `defer_spawner`). It is `Runnable`.
    Behind,
    /// The task parks: complete the park (`TaskState::finish_park`, rule 2) or, if a token
    /// came, queue it again (rule 3).
    Park,
    /// The task parks holding a queue's lock, which the worker's `pending_unlock` names:
    /// complete the park with a store, then release the lock (rule 7).
    ParkLocked,
    /// A task being cancelled tried to park again while unwinding: it can never finish. Its
    /// stack is never reused.
    Abandon,
    /// The task's body returned: retire it.
    Finished,
}

const ST_RUNNABLE: u8 = 0;
const ST_RUNNING: u8 = 1;
const ST_WAITING: u8 = 2;
const ST_DEAD: u8 = 3;

// Park token states (see the module comment).
const P_EMPTY: u8 = 0;
const P_NOTIFIED: u8 = 1;
const P_PARKED: u8 = 2;
/// The task is finished (or abandoned): unpark does nothing, ever.
const P_DEAD: u8 = 3;

/// The state words of one task (a field of its record), and what a dump shows about its wait.
pub(crate) struct TaskState {
    state: AtomicU8,
    reason: AtomicU8,
    park: AtomicU8,
    /// Where the task's last wait was entered: the caller of the public blocking call (one
    /// pointer store per park, captured with `#[track_caller]`). Null before the first wait.
    blocked_at: AtomicPtr<Location<'static>>,
    /// When the last wait began, in the run's coarse clock (milliseconds, wrapping every 49
    /// days; see `sched::Shared::coarse_ms`): Go's `g.waitsince`. 32 bits, so it fits in the
    /// padding beside the three state bytes.
    since_ms: AtomicU32,
}

impl TaskState {
    /// A fresh task: runnable, no token.
    pub(crate) fn new() -> TaskState {
        TaskState {
            state: AtomicU8::new(ST_RUNNABLE),
            reason: AtomicU8::new(0),
            park: AtomicU8::new(P_EMPTY),
            blocked_at: AtomicPtr::new(std::ptr::null_mut()),
            since_ms: AtomicU32::new(0),
        }
    }

    /// Enters a wait: notes where and since when (for the dump), then `set(Waiting(reason))`.
    /// Only the task itself calls it (rule 1). Two plain stores besides the state's.
    #[inline(always)]
    pub(crate) fn set_waiting(
        &self,
        reason: WaitReason,
        at: &'static Location<'static>,
        now_ms: u64,
    ) {
        self.blocked_at
            .store(at as *const Location<'static> as *mut _, Ordering::Relaxed);
        self.since_ms.store(now_ms as u32, Ordering::Relaxed);
        self.set(State::Waiting(reason));
    }

    /// Where the last wait was entered (None if the task never waited).
    pub(crate) fn blocked_at(&self) -> Option<&'static Location<'static>> {
        let p = self.blocked_at.load(Ordering::Relaxed);
        // SAFETY: the pointer is null or came from a `&'static Location` (`set_waiting`).
        unsafe { p.cast_const().as_ref() }
    }

    /// Milliseconds the last wait has lasted at `now_ms` (coarse clock).
    pub(crate) fn waited_ms(&self, now_ms: u64) -> u32 {
        (now_ms as u32).wrapping_sub(self.since_ms.load(Ordering::Relaxed))
    }

    /// The lifecycle state (for dumps: a relaxed read, possibly a moment old).
    pub(crate) fn get(&self) -> State {
        match self.state.load(Ordering::Relaxed) {
            ST_RUNNABLE => State::Runnable,
            ST_RUNNING => State::Running,
            ST_WAITING => State::Waiting(WaitReason::from_u8(self.reason.load(Ordering::Relaxed))),
            _ => State::Dead,
        }
    }

    /// Every lifecycle state change goes through here (Go's `casgstatus`; rule 1). The argument
    /// is a constant at every call site, so this compiles to one or two plain stores.
    #[inline(always)]
    pub(crate) fn set(&self, s: State) {
        let code = match s {
            State::Runnable => ST_RUNNABLE,
            State::Running => ST_RUNNING,
            State::Waiting(r) => {
                self.reason.store(r.as_u8(), Ordering::Relaxed);
                ST_WAITING
            }
            State::Dead => ST_DEAD,
        };
        self.state.store(code, Ordering::Relaxed);
        // The execution trace's one hook (`crate::trace`): a load and a branch not taken
        // while no run traces.
        if crate::trace::on() {
            crate::trace::state_changed(self, s);
        }
    }

    /// Consumes a waiting token (`NOTIFIED -> EMPTY`); true if there was one. A plain load
    /// first: the locked compare-exchange is only worth paying when there is a token.
    #[inline(always)]
    pub(crate) fn take_token(&self) -> bool {
        self.park.load(Ordering::Acquire) == P_NOTIFIED
            && self
                .park
                .compare_exchange(P_NOTIFIED, P_EMPTY, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
    }

    /// The unpark transition: leaves a token (`EMPTY -> NOTIFIED`), or claims a parked task
    /// (`PARKED -> EMPTY`, rule 4), marks it runnable and returns true: the caller must then
    /// queue it, exactly once.
    #[inline(always)]
    pub(crate) fn claim_for_wake(&self) -> bool {
        let mut s = self.park.load(Ordering::Acquire);
        loop {
            // PARKED first: it is the common case of a wakeup (a channel partner, a joiner).
            if s == P_PARKED {
                match self.park.compare_exchange_weak(
                    P_PARKED,
                    P_EMPTY,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                ) {
                    Ok(_) => {
                        self.set(State::Runnable);
                        return true;
                    }
                    Err(now) => s = now,
                }
            } else if s == P_EMPTY {
                match self.park.compare_exchange_weak(
                    P_EMPTY,
                    P_NOTIFIED,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                ) {
                    Ok(_) => return false,
                    Err(now) => s = now,
                }
            } else {
                // NOTIFIED (a token is already there: write it again, rule 6) or DEAD.
                return s == P_NOTIFIED && self.renotify();
            }
        }
    }

    /// An unpark found a token already there: writes it again rather than just reading it, so
    /// the park that consumes it also sees what this waker did before unparking (rule 6; a
    /// load alone left this waker's writes unordered with the task's next look, a lost wakeup
    /// the loom model in `loom/models/park_token.rs` found). If the token was consumed in the
    /// meantime, unparks afresh. Out of line: the common wakeups never come here.
    #[cold]
    #[inline(never)]
    fn renotify(&self) -> bool {
        match self.park.compare_exchange(
            P_NOTIFIED,
            P_NOTIFIED,
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            Ok(_) => false,
            Err(_) => self.claim_for_wake(),
        }
    }

    /// Completes a park on the far side of the switch (rule 2): `EMPTY -> PARKED`. Returns
    /// false if a token arrived in between (rule 3): it is consumed and the task must run again.
    #[inline(always)]
    pub(crate) fn finish_park(&self) -> bool {
        match self
            .park
            .compare_exchange(P_EMPTY, P_PARKED, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => true,
            Err(_) => {
                // The deliberate bug the park-token model must catch (`crate::loom::mutation`).
                #[cfg(loom)]
                if crate::loom::mutation::finish_park_ignores_token() {
                    self.park.store(P_PARKED, Ordering::Release);
                    return true;
                }
                // NOTIFIED: consume the token and keep running. A swap, not a store: the
                // failed compare-exchange is only a load, which may see an earlier waker's
                // token rather than the latest; the swap reads the latest, so the task sees
                // what every waker did before its unpark (rule 6).
                self.park.swap(P_EMPTY, Ordering::AcqRel);
                self.set(State::Runnable);
                false
            }
        }
    }

    /// Completes a park made holding the lock the task's rightful waker needs (rule 7): a plain
    /// store, no compare-and-swap; the caller releases that lock afterwards.
    #[inline(always)]
    pub(crate) fn finish_park_locked(&self) {
        self.park.store(P_PARKED, Ordering::Release);
    }

    /// Claims a parked task for the scheduler (to cancel it at shutdown; rule 4).
    pub(crate) fn claim_parked(&self) -> bool {
        self.park
            .compare_exchange(P_PARKED, P_EMPTY, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// The task is finished or will never run: `DEAD`, for good (rule 5).
    pub(crate) fn kill(&self) {
        self.park.store(P_DEAD, Ordering::Release);
        self.set(State::Dead);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_reasons_round_trip_through_their_byte() {
        for (i, r) in WaitReason::ALL.iter().enumerate() {
            assert_eq!(
                r.as_u8() as usize,
                i,
                "{r} is listed out of declaration order"
            );
            assert_eq!(WaitReason::from_u8(r.as_u8()), *r);
        }
    }

    #[test]
    fn a_token_left_before_the_park_is_consumed_by_it() {
        let s = TaskState::new();
        assert!(
            !s.claim_for_wake(),
            "nobody is parked: the unpark leaves a token"
        );
        assert!(!s.finish_park(), "the token cancels the park");
        assert_eq!(s.get(), State::Runnable);
        assert!(s.finish_park(), "no token left: this park holds");
        assert!(s.claim_for_wake(), "a parked task is claimed by one waker");
        assert!(!s.claim_parked(), "and by nobody else");
        s.kill();
        assert!(!s.claim_for_wake());
        assert_eq!(s.get(), State::Dead);
    }
}
