//! A tiny spin lock for channel and sync internals (Go: `runtime.lock`).
//!
//! `std::sync::Mutex` only hands out guards, but `select!` must lock several channels of
//! different element types in address order and unlock them later, so it needs a lock with
//! plain `lock()`/`unlock()`. Critical sections are a few dozen instructions and never park a
//! task, so a waiter spins, then yields its OS thread, then naps; and the unlock is a plain
//! release store, not a read-modify-write. That matters: a channel hand-off takes two of these
//! locks, and on x86 each locked instruction costs as much as a dozen ordinary ones. Go's
//! `runtime.lock` sleeps on a futex instead, so its unlock must swap the word to learn whether
//! someone sleeps; crossbeam's channels use a spin lock for the same reason we do.
//!
//! Rules:
//!
//! 1. A critical section never parks a task and never calls user code (a waker is woken only
//!    after the unlock), so the holder always runs to the unlock soon.
//! 2. Several locks are taken in address order only (`select!`), so no two holders wait on each
//!    other.
//! 3. Nobody sleeps waiting for a wakeup: a waiter that spun and yielded long enough naps for a
//!    bounded time and looks again. So the unlock wakes nobody and cannot lose a wakeup, and a
//!    holder descheduled by the OS costs its waiters only their naps.
//!
//! Mutual exclusion is model-checked with loom (`loom/models/raw_lock.rs`).
//!
//! Go counterpart: `lock`/`unlock` in `runtime/lock_futex.go` (which sleeps where we nap).
//! Lesson: 08 (select and timeouts): locking several channels at once is what `select!` needs.

use std::sync::atomic::Ordering;

// std's atomics, spin hint and yield, or loom's when the lock is model-checked (`crate::loom`).
use crate::loom::const_unless_loom;
use crate::loom::sync::atomic::AtomicBool;
use crate::loom::{hint, thread};

/// Tries that only pause the CPU, then tries that yield the thread, before a waiter naps
/// between tries. Under loom, one of each: enough to take every path, few enough to model.
const PAUSES: u32 = if cfg!(loom) { 1 } else { 64 };
const YIELDS: u32 = if cfg!(loom) { 1 } else { 64 };
/// A napping waiter's pause between tries: short next to a time slice, long next to a
/// critical section, so only a holder the OS descheduled makes anyone nap.
#[cfg(not(loom))]
const NAP: std::time::Duration = std::time::Duration::from_micros(50);

/// A mutual-exclusion lock without a guard type: the caller pairs `lock` and `unlock`.
pub(crate) struct RawLock {
    locked: AtomicBool,
}

impl RawLock {
    const_unless_loom! {
        pub(crate) fn new() -> RawLock {
            RawLock {
                locked: AtomicBool::new(false),
            }
        }
    }

    /// Acquires the lock: one compare-and-swap when it is free.
    #[inline]
    pub(crate) fn lock(&self) {
        if self
            .locked
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            self.lock_slow();
        }
    }

    /// Waits for the holder: pause, then yield, then nap (rule 3), trying again in between
    /// with a plain load first so waiters do not bounce the line while it is held.
    #[cold]
    fn lock_slow(&self) {
        let mut tries = 0u32;
        loop {
            if !self.locked.load(Ordering::Relaxed)
                && self
                    .locked
                    .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
            {
                return;
            }
            if tries < PAUSES {
                hint::spin_loop();
            } else if tries < PAUSES + YIELDS {
                thread::yield_now();
            } else {
                #[cfg(not(loom))]
                std::thread::sleep(NAP);
                // Under loom a nap blocks until an unlock (`crate::loom::nap`).
                #[cfg(loom)]
                crate::loom::nap::nap(&self.locked);
            }
            tries = tries.saturating_add(1);
        }
    }

    /// Releases the lock: a plain release store (rule 3). The caller must hold it.
    #[inline]
    pub(crate) fn unlock(&self) {
        // The deliberate bug the raw-lock model must catch (`crate::loom::mutation`).
        #[cfg(loom)]
        if crate::loom::mutation::relaxed_unlock() {
            self.locked.store(false, Ordering::Relaxed);
            crate::loom::nap::wake_all();
            return;
        }
        self.locked.store(false, Ordering::Release);
        #[cfg(loom)]
        crate::loom::nap::wake_all();
    }
}

/// Data protected by a [`RawLock`], reachable only through [`Locked::with`] or a raw
/// `lock()`/`get()`/`unlock()` sequence for code that must hold several locks at once.
pub(crate) struct Locked<T> {
    lock: RawLock,
    data: std::cell::UnsafeCell<T>,
}

// SAFETY: the data is only reached while the lock is held (see `with` and `get`), which gives
// the same guarantees as `std::sync::Mutex<T>`: Send + Sync when T is Send.
unsafe impl<T: Send> Sync for Locked<T> {}
// SAFETY: moving the lock moves the data; T: Send makes that fine.
unsafe impl<T: Send> Send for Locked<T> {}

impl<T> Locked<T> {
    const_unless_loom! {
        pub(crate) fn new(data: T) -> Locked<T> {
            Locked {
                lock: RawLock::new(),
                data: std::cell::UnsafeCell::new(data),
            }
        }
    }

    /// Runs `f` with the lock held. `f` must not panic while leaving the data inconsistent,
    /// and must not try to take this lock again.
    #[inline]
    pub(crate) fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        struct Unlock<'a>(&'a RawLock);
        impl Drop for Unlock<'_> {
            fn drop(&mut self) {
                self.0.unlock();
            }
        }
        self.lock.lock();
        let _unlock = Unlock(&self.lock);
        // SAFETY: we hold the lock until `_unlock` drops, so this is the only live reference.
        f(unsafe { &mut *self.data.get() })
    }

    /// Acquires the lock without a guard; pair with [`Locked::unlock`].
    #[inline]
    pub(crate) fn lock(&self) {
        self.lock.lock();
    }

    /// Releases a lock taken with [`Locked::lock`].
    #[inline]
    pub(crate) fn unlock(&self) {
        self.lock.unlock();
    }

    /// The protected data.
    ///
    /// # Safety
    /// The caller holds the lock (taken with [`Locked::lock`]) for as long as the returned
    /// reference is used, and creates no other reference to the data meanwhile.
    #[inline]
    #[allow(clippy::mut_from_ref)]
    pub(crate) unsafe fn get(&self) -> &mut T {
        // SAFETY: guaranteed by the caller, see above.
        unsafe { &mut *self.data.get() }
    }

    /// The lock itself, for a park that releases it on the far side of the switch
    /// (`task::parking::park_unlocking`).
    #[inline]
    pub(crate) fn raw(&self) -> &RawLock {
        &self.lock
    }

    /// The address of the lock, used to order locks when several are taken together.
    pub(crate) fn addr(&self) -> usize {
        &self.lock as *const RawLock as usize
    }
}

impl<T: Default> Default for Locked<T> {
    fn default() -> Self {
        Locked::new(T::default())
    }
}
