//! A tiny futex lock for channel and sync internals (Go: `runtime.lock` / `lock_futex.go`).
//!
//! `std::sync::Mutex` only hands out guards, but `select!` must lock several channels of
//! different element types in address order and unlock them later, so it needs a lock with
//! plain `lock()`/`unlock()`. Critical sections are a few dozen instructions and never park a
//! task, so the lock spins briefly and then sleeps the OS thread on a futex, as Go's runtime
//! lock does.
//!
//! Rules:
//!
//! 1. A critical section never parks a task and never calls user code (a waker is woken only
//!    after the unlock), so the holder always runs to the unlock soon.
//! 2. Several locks are taken in address order only (`select!`), so no two holders wait on each
//!    other.
//! 3. `CONTENDED` is set by whoever may sleep; an unlock that sees it wakes one sleeper.
//!
//! Mutual exclusion and rule 3 are model-checked with loom (`loom/models/raw_lock.rs`), where
//! the futex is a model of it (`crate::loom::futex`).
//!
//! Go counterpart: `lock`/`unlock` in `runtime/lock_futex.go`. Lesson: 08 (select and
//! timeouts): locking several channels at once is what `select!` needs.

use std::sync::atomic::Ordering;

// std's atomics, spin hint and yield, or loom's when the lock is model-checked (`crate::loom`).
use crate::loom::const_unless_loom;
use crate::loom::sync::atomic::AtomicU32;
use crate::loom::{hint, thread};

const UNLOCKED: u32 = 0;
const LOCKED: u32 = 1;
/// Locked, and some thread may be sleeping in `futex_wait`: unlock must wake one.
const CONTENDED: u32 = 2;

/// Tries before `lock_slow` sleeps, and how many of them only pause the CPU before the rest
/// yield the thread. Under loom, two: enough to take both paths, few enough to model.
const SPINS: u32 = if cfg!(loom) { 2 } else { 100 };
const PAUSES: u32 = if cfg!(loom) { 1 } else { 60 };

/// A mutual-exclusion lock without a guard type: the caller pairs `lock` and `unlock`.
pub(crate) struct RawLock {
    state: AtomicU32,
}

impl RawLock {
    const_unless_loom! {
        pub(crate) fn new() -> RawLock {
            RawLock {
                state: AtomicU32::new(UNLOCKED),
            }
        }
    }

    /// Acquires the lock, spinning a little and then sleeping the OS thread.
    #[inline]
    pub(crate) fn lock(&self) {
        if self
            .state
            .compare_exchange(UNLOCKED, LOCKED, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            self.lock_slow();
        }
    }

    #[cold]
    fn lock_slow(&self) {
        for i in 0..SPINS {
            if self.state.load(Ordering::Relaxed) == UNLOCKED
                && self
                    .state
                    .compare_exchange(UNLOCKED, LOCKED, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
            {
                return;
            }
            if i < PAUSES {
                hint::spin_loop();
            } else {
                thread::yield_now();
            }
        }
        // From here on we may sleep, so mark the lock contended; whoever unlocks wakes us.
        while self.state.swap(CONTENDED, Ordering::Acquire) != UNLOCKED {
            futex_wait(&self.state, CONTENDED);
        }
    }

    /// Releases the lock. The caller must hold it.
    #[inline]
    pub(crate) fn unlock(&self) {
        if self.state.swap(UNLOCKED, Ordering::Release) == CONTENDED {
            futex_wake_one(&self.state);
        }
    }
}

#[cfg(all(target_os = "linux", not(loom)))]
fn futex_wait(word: &AtomicU32, expected: u32) {
    // SAFETY: FUTEX_WAIT reads the u32 behind a valid, aligned pointer that outlives the call;
    // the kernel returns at once if the value is not `expected`, and spurious returns are
    // handled by the caller's loop. A null timeout means "no timeout".
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
            expected,
            std::ptr::null::<libc::timespec>(),
        );
    }
}

#[cfg(all(target_os = "linux", not(loom)))]
fn futex_wake_one(word: &AtomicU32) {
    // SAFETY: FUTEX_WAKE only uses the address as a key; the pointer is valid and aligned.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
            1,
        );
    }
}

#[cfg(loom)]
use crate::loom::futex::{wait as futex_wait, wake_one as futex_wake_one};

#[cfg(not(any(target_os = "linux", loom)))]
fn futex_wait(word: &AtomicU32, expected: u32) {
    // Portable fallback: no futex, so back off to the OS scheduler and let the loop re-check.
    if word.load(Ordering::Relaxed) == expected {
        std::thread::yield_now();
    }
}

#[cfg(not(any(target_os = "linux", loom)))]
fn futex_wake_one(_word: &AtomicU32) {}

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
