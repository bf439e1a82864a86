//! Synchronization that parks the task, not the thread (Go: package `sync`): [`WaitGroup`],
//! [`Mutex`], [`RwLock`] and [`Once`]. Taught in lesson 05 (join and WaitGroup).
//!
//! Why not `std::sync::Mutex`? Inside a goro task, a std mutex that is held blocks the whole
//! worker thread, and with it every other task queued on that worker; if the holder is one of
//! those tasks, the program stops. These types park only the waiting task, so its worker keeps
//! running other tasks, exactly as Go's `sync.Mutex` parks a goroutine. From a plain OS thread
//! (outside a runtime) they block that thread, so they also work between a runtime and the
//! rest of a program.
//!
//! | Go | goro |
//! | --- | --- |
//! | `var wg sync.WaitGroup` | `let wg = WaitGroup::new();` (clone it into tasks) |
//! | `wg.Add(1); go func() { defer wg.Done(); ... }()` | `wg.add(1); let wg = wg.clone(); goro::spawn(move \|\| { ...; wg.done() });` |
//! | `wg.Go(func() { ... })` (Go 1.25) | `wg.go(\|\| ...)` |
//! | `wg.Wait()` | `wg.wait()` |
//! | `mu.Lock(); defer mu.Unlock()` | `let guard = mu.lock();` (unlocks when dropped) |
//! | `mu.RLock()` / `mu.Lock()` on a `sync.RWMutex` | `rw.read()` / `rw.write()` |
//! | `once.Do(f)` | `once.call_once(f)` |
//!
//! Like Go's and unlike std's, these locks are not poisoned: if a task panics while holding a
//! guard, the guard still unlocks on unwind and the next locker sees the data as it was left.
//! The data is never torn by the panic itself (Rust cannot tear a value mid-write), but it may
//! be logically half-updated; design updates so that is harmless, or catch the panic.
//!
//! Waiters are served in FIFO order and the lock is handed directly to the first waiter (Go's
//! "starvation mode", always on), so a stream of newcomers cannot starve a parked task. An
//! uncontended `lock`/`unlock` is one compare-and-swap each.
//!
//! `WaitGroup`'s counter and waiter protocol is model-checked with loom:
//! `loom/models/wait_group.rs`.

// `WaitGroup`'s atomics are std's, or loom's when its protocol is model-checked (`crate::loom`).
use crate::loom::const_unless_loom;
use crate::loom::sync::atomic::{AtomicU64, AtomicUsize};
use crate::task::parking::{current_parker, park_with};
use crate::task::record::Parker;
use crate::task::state::WaitReason;
use crate::wait::{Locked, Selector, Wakeup};
use std::cell::UnsafeCell;
use std::collections::VecDeque;
use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

// ---------------------------------------------------------------------------------------------
// WaitGroup
// ---------------------------------------------------------------------------------------------

/// Waits for a collection of tasks to finish (Go: `sync.WaitGroup`).
///
/// `add(n)` before starting work, `done()` when one piece finishes, `wait()` parks until the
/// counter is back to zero. Clones share one counter, so hand a clone to each task.
///
/// ```
/// use goro::sync::{Mutex, WaitGroup};
/// use std::sync::Arc;
///
/// let total = goro::run(|| {
///     let wg = WaitGroup::new();
///     let sum = Arc::new(Mutex::new(0));
///     for i in 1..=10 {
///         let sum = sum.clone();
///         wg.go(move || *sum.lock() += i); // add(1) now, done() when the task ends
///     }
///     wg.wait();
///     let total = *sum.lock();
///     total
/// });
/// assert_eq!(total, 55);
/// ```
#[derive(Clone, Default)]
pub struct WaitGroup {
    inner: Arc<WgInner>,
}

#[derive(Default)]
struct WgInner {
    count: AtomicUsize,
    /// Bumped each time the counter reaches zero; a waiter leaves when it changed.
    generation: AtomicU64,
    waiters: Locked<Vec<Parker>>,
}

impl WaitGroup {
    /// A wait group with a zero counter.
    pub fn new() -> WaitGroup {
        WaitGroup::default()
    }

    /// Adds `n` to the counter (Go: `wg.Add(n)`). Call it before starting the task it counts,
    /// not inside the task, or `wait` may return before the task even started.
    pub fn add(&self, n: usize) {
        self.inner.count.fetch_add(n, Ordering::AcqRel);
    }

    /// Subtracts one from the counter (Go: `wg.Done()`), waking every waiter when it hits zero.
    ///
    /// # Panics
    /// If the counter is already zero: `done` was called more often than `add` counted, the
    /// same bug Go reports as "sync: negative WaitGroup counter".
    #[track_caller]
    pub fn done(&self) {
        let waiters = self.arrive();
        if !waiters.is_empty() {
            wake_all(waiters);
        }
        // A preemption point when exploring (`crate::check`).
        crate::sched::preemption_point();
    }

    /// `done` without the wakeups: counts one down and, if that reached zero, starts a new
    /// generation and returns the waiters to wake. (Split out so the loom model runs the
    /// counter protocol with its own stand-in for waking: `loom/models/wait_group.rs`.)
    #[inline]
    #[track_caller]
    pub(crate) fn arrive(&self) -> Vec<Parker> {
        let previous = self.inner.count.fetch_sub(1, Ordering::AcqRel);
        if previous == 0 {
            self.inner.count.fetch_add(1, Ordering::AcqRel);
            panic!(
                "goro::sync::WaitGroup: negative WaitGroup counter: done() was called more \
                 times than add() counted; call add(n) once per task before starting it"
            );
        }
        if previous == 1 {
            return self.inner.waiters.with(|w| {
                self.inner.generation.fetch_add(1, Ordering::AcqRel);
                std::mem::take(w)
            });
        }
        Vec::new()
    }

    /// Parks until the counter is zero (Go: `wg.Wait()`); returns at once if it already is.
    #[track_caller]
    pub fn wait(&self) {
        let Some(generation) = self.enlist(current_parker) else {
            return;
        };
        while self.waiting_for(generation) {
            park_with(WaitReason::WaitGroup);
        }
    }

    /// `wait` up to its parking: None if the counter is zero, else registers the waiter
    /// (`parker()`) and returns the generation it waits to see end (see `waiting_for`).
    /// (Split out for the loom model, like `arrive`.)
    #[inline]
    pub(crate) fn enlist(&self, parker: impl FnOnce() -> Parker) -> Option<u64> {
        if self.inner.count.load(Ordering::Acquire) == 0 {
            return None;
        }
        let parker = parker();
        self.inner.waiters.with(|w| {
            // Checked under the lock: `done` takes the lock after reaching zero, so either we
            // see zero here or `done` sees our parker.
            if self.inner.count.load(Ordering::Acquire) == 0 {
                return None;
            }
            w.push(parker);
            Some(self.inner.generation.load(Ordering::Acquire))
        })
    }

    /// Whether the counter has not yet reached zero since `enlist` returned `generation`.
    #[inline]
    pub(crate) fn waiting_for(&self, generation: u64) -> bool {
        self.inner.generation.load(Ordering::Acquire) == generation
    }

    /// Runs `f` in a new task counted by this group (Go 1.25: `wg.Go(f)`): `add(1)` now,
    /// `done()` when `f` returns or panics.
    #[track_caller]
    pub fn go<F>(&self, f: F) -> crate::JoinHandle<()>
    where
        F: FnOnce() + Send + 'static,
    {
        struct DoneOnDrop(WaitGroup);
        impl Drop for DoneOnDrop {
            fn drop(&mut self) {
                self.0.done();
            }
        }
        self.add(1);
        let done = DoneOnDrop(self.clone());
        crate::task::spawn(move || {
            let _done = done;
            f()
        })
    }

    /// The current counter (for tests and debugging; it may change right after you read it).
    pub fn count(&self) -> usize {
        self.inner.count.load(Ordering::Acquire)
    }
}

impl fmt::Debug for WaitGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitGroup")
            .field("count", &self.count())
            .finish()
    }
}

// ---------------------------------------------------------------------------------------------
// A FIFO of parked lockers, shared by Mutex and RwLock
// ---------------------------------------------------------------------------------------------

/// Queue entries point at selectors on the parked tasks' stacks; `bool` = wants to write.
struct Queue(VecDeque<(*const Selector, bool)>);

// SAFETY: the pointers are only followed under the queue's lock while their owners are parked
// (an owner removes its entry, under the lock, before its frame goes away).
unsafe impl Send for Queue {}

/// Grants the lock to a queued waiter: claims it and returns its parker.
///
/// # Safety
/// `sel` came off a queue under its lock; its owner is still parked on it.
unsafe fn grant(sel: *const Selector) -> Option<Wakeup> {
    // SAFETY: alive, as the caller guarantees. The only other claimant is the owner giving up
    // while unwinding, which does so under the same lock and removes its entry first, so the
    // claim below cannot fail.
    unsafe {
        let claimed = (*sel).try_claim();
        debug_assert!(claimed, "a queued lock waiter was claimed twice");
        (*sel).complete(0)
    }
}

/// Parks on `sel` until granted. If the wait unwinds (the runtime is shutting down),
/// `on_unwind` runs: it must, under the queue lock, either give up (`try_give_up`) and remove
/// the entry, or find the lock already granted and release it.
#[track_caller]
fn wait_granted(sel: &Selector, reason: WaitReason, on_unwind: impl FnMut()) {
    struct Unwind<F: FnMut()>(F);
    impl<F: FnMut()> Drop for Unwind<F> {
        fn drop(&mut self) {
            (self.0)();
        }
    }
    let guard = Unwind(on_unwind);
    sel.wait(reason);
    std::mem::forget(guard);
}

// ---------------------------------------------------------------------------------------------
// Mutex
// ---------------------------------------------------------------------------------------------

const UNLOCKED: u8 = 0;
const LOCKED: u8 = 1;
/// Locked, and the queue may hold waiters: unlocking must look at it.
const CONTENDED: u8 = 2;

/// A mutual-exclusion lock that parks the waiting task (Go: `sync.Mutex`), protecting a `T`.
///
/// ```
/// let counter = goro::sync::Mutex::new(0);
/// *counter.lock() += 1; // unlocked at the end of the statement
/// assert_eq!(*counter.lock(), 1);
/// ```
pub struct Mutex<T: ?Sized> {
    state: AtomicU8,
    queue: Locked<Queue>,
    data: UnsafeCell<T>,
}

// SAFETY: the lock gives exclusive access to `data`, like std's Mutex: sending the mutex sends
// the T, and sharing it lets any thread get `&mut T` one at a time, which needs only T: Send.
unsafe impl<T: ?Sized + Send> Send for Mutex<T> {}
// SAFETY: as above.
unsafe impl<T: ?Sized + Send> Sync for Mutex<T> {}

/// Proof of holding a [`Mutex`]; derefs to the data and unlocks when dropped.
#[must_use = "if unused the Mutex unlocks immediately"]
pub struct MutexGuard<'a, T: ?Sized> {
    mutex: &'a Mutex<T>,
    /// Not Send: keep the guard on the task that locked (as std does).
    _not_send: PhantomData<*const ()>,
}

// SAFETY: sharing a guard shares `&T` only, which is fine when T: Sync.
unsafe impl<T: ?Sized + Sync> Sync for MutexGuard<'_, T> {}

impl<T> Mutex<T> {
    const_unless_loom! {
        /// A new unlocked mutex.
        pub fn new(value: T) -> Mutex<T> {
            Mutex {
                state: AtomicU8::new(UNLOCKED),
                queue: Locked::new(Queue(VecDeque::new())),
                data: UnsafeCell::new(value),
            }
        }
    }

    /// Consumes the mutex and returns the data.
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Locks, parking the task while another holds the lock.
    #[track_caller]
    pub fn lock(&self) -> MutexGuard<'_, T> {
        if self
            .state
            .compare_exchange(UNLOCKED, LOCKED, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            self.lock_slow();
        }
        // A preemption point when exploring (`crate::check`): the lock is held.
        crate::sched::preemption_point();
        MutexGuard {
            mutex: self,
            _not_send: PhantomData,
        }
    }

    /// Locks only if nobody holds the lock.
    pub fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        self.state
            .compare_exchange(UNLOCKED, LOCKED, Ordering::Acquire, Ordering::Relaxed)
            .ok()
            .map(|_| MutexGuard {
                mutex: self,
                _not_send: PhantomData,
            })
    }

    /// Whether someone holds the lock right now.
    pub fn is_locked(&self) -> bool {
        self.state.load(Ordering::Relaxed) != UNLOCKED
    }

    /// The data, through a unique borrow: no locking needed.
    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }

    #[cold]
    #[track_caller]
    fn lock_slow(&self) {
        // A short spin first: critical sections are often shorter than a park/unpark. Only
        // when the holder can be running right now on another thread (as Go spins only with
        // GOMAXPROCS > 1): on a single worker, spinning just delays the holder.
        let spins = if crate::sched::with_shared(|s| s.config.workers > 1).unwrap_or(true) {
            40
        } else {
            0
        };
        for _ in 0..spins {
            std::hint::spin_loop();
            if self.state.load(Ordering::Relaxed) == UNLOCKED
                && self
                    .state
                    .compare_exchange(UNLOCKED, LOCKED, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
            {
                return;
            }
        }
        let sel = Selector::solo(current_parker());
        let queued = self.queue.with(|q| {
            loop {
                match self.state.load(Ordering::Relaxed) {
                    UNLOCKED => {
                        if self
                            .state
                            .compare_exchange(
                                UNLOCKED,
                                LOCKED,
                                Ordering::Acquire,
                                Ordering::Relaxed,
                            )
                            .is_ok()
                        {
                            return false;
                        }
                    }
                    LOCKED => {
                        if self
                            .state
                            .compare_exchange(
                                LOCKED,
                                CONTENDED,
                                Ordering::Relaxed,
                                Ordering::Relaxed,
                            )
                            .is_ok()
                        {
                            break;
                        }
                    }
                    _ => break,
                }
            }
            q.0.push_back((&sel, true));
            true
        });
        if !queued {
            return;
        }
        // Granted: the unlocker handed the lock to us without ever unlocking it.
        wait_granted(&sel, WaitReason::Mutex, || {
            let granted = self.queue.with(|q| {
                if !sel.try_give_up() {
                    return true; // granted under this lock before we could leave
                }
                q.0.retain(|&(s, _)| !std::ptr::eq(s, &sel));
                if q.0.is_empty() {
                    let _ = self.state.compare_exchange(
                        CONTENDED,
                        LOCKED,
                        Ordering::Relaxed,
                        Ordering::Relaxed,
                    );
                }
                false
            });
            if granted {
                self.unlock();
            }
        });
    }

    fn unlock(&self) {
        if self
            .state
            .compare_exchange(LOCKED, UNLOCKED, Ordering::Release, Ordering::Relaxed)
            .is_ok()
        {
            // A preemption point when exploring (`crate::check`), on every path.
            crate::sched::preemption_point();
            return;
        }
        let wake = self.queue.with(|q| match q.0.pop_front() {
            None => {
                // Every waiter left (unwound at shutdown) before we got here.
                self.state.store(UNLOCKED, Ordering::Release);
                None
            }
            Some((sel, _)) => {
                if q.0.is_empty() {
                    self.state.store(LOCKED, Ordering::Relaxed);
                }
                // SAFETY: popped under the queue lock; its owner is parked on it.
                unsafe { grant(sel) }
            }
        });
        match wake {
            Some(p) => p.wake_at_point(),
            None => crate::sched::preemption_point(),
        }
    }
}

impl<T: ?Sized> Drop for MutexGuard<'_, T> {
    fn drop(&mut self) {
        self.mutex.unlock();
    }
}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard proves we hold the lock.
        unsafe { &*self.mutex.data.get() }
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard proves we hold the lock, and `&mut self` makes this borrow unique.
        unsafe { &mut *self.mutex.data.get() }
    }
}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Self {
        Mutex::new(T::default())
    }
}

impl<T> From<T> for Mutex<T> {
    fn from(value: T) -> Self {
        Mutex::new(value)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.try_lock() {
            Some(guard) => f.debug_struct("Mutex").field("data", &&*guard).finish(),
            None => f.debug_struct("Mutex").field("data", &"<locked>").finish(),
        }
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

// ---------------------------------------------------------------------------------------------
// RwLock
// ---------------------------------------------------------------------------------------------

/// A reader-writer lock that parks the waiting task (Go: `sync.RWMutex`).
///
/// Many readers or one writer. A queued writer stops new readers from entering (as in Go), so
/// a steady stream of readers cannot starve writers; waiters are served in FIFO order, with
/// consecutive readers admitted together.
pub struct RwLock<T: ?Sized> {
    state: Locked<RwState>,
    data: UnsafeCell<T>,
}

struct RwState {
    readers: usize,
    writer: bool,
    queue: Queue,
}

// SAFETY: readers on several threads share `&T` (T: Sync) and a writer gets `&mut T` (T: Send),
// the same bounds as std's RwLock.
unsafe impl<T: ?Sized + Send> Send for RwLock<T> {}
// SAFETY: as above.
unsafe impl<T: ?Sized + Send + Sync> Sync for RwLock<T> {}

/// Shared access to an [`RwLock`]; unlocks when dropped.
#[must_use = "if unused the RwLock unlocks immediately"]
pub struct RwLockReadGuard<'a, T: ?Sized> {
    lock: &'a RwLock<T>,
    _not_send: PhantomData<*const ()>,
}

/// Exclusive access to an [`RwLock`]; unlocks when dropped.
#[must_use = "if unused the RwLock unlocks immediately"]
pub struct RwLockWriteGuard<'a, T: ?Sized> {
    lock: &'a RwLock<T>,
    _not_send: PhantomData<*const ()>,
}

// SAFETY: a shared guard only hands out `&T`.
unsafe impl<T: ?Sized + Sync> Sync for RwLockReadGuard<'_, T> {}
// SAFETY: sharing a write guard only hands out `&T`.
unsafe impl<T: ?Sized + Sync> Sync for RwLockWriteGuard<'_, T> {}

impl<T> RwLock<T> {
    const_unless_loom! {
        /// A new unlocked lock.
        pub fn new(value: T) -> RwLock<T> {
            RwLock {
                state: Locked::new(RwState {
                    readers: 0,
                    writer: false,
                    queue: Queue(VecDeque::new()),
                }),
                data: UnsafeCell::new(value),
            }
        }
    }

    /// Consumes the lock and returns the data.
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<T: ?Sized> RwLock<T> {
    /// Locks for reading, parking while a writer holds or waits for the lock.
    #[track_caller]
    pub fn read(&self) -> RwLockReadGuard<'_, T> {
        self.acquire(false);
        RwLockReadGuard {
            lock: self,
            _not_send: PhantomData,
        }
    }

    /// Locks for writing, parking while anyone holds the lock.
    #[track_caller]
    pub fn write(&self) -> RwLockWriteGuard<'_, T> {
        self.acquire(true);
        RwLockWriteGuard {
            lock: self,
            _not_send: PhantomData,
        }
    }

    /// Locks for reading only if that needs no waiting.
    pub fn try_read(&self) -> Option<RwLockReadGuard<'_, T>> {
        self.state
            .with(|st| {
                let free = !st.writer && st.queue.0.is_empty();
                if free {
                    st.readers += 1;
                }
                free
            })
            .then(|| RwLockReadGuard {
                lock: self,
                _not_send: PhantomData,
            })
    }

    /// Locks for writing only if nobody holds the lock.
    pub fn try_write(&self) -> Option<RwLockWriteGuard<'_, T>> {
        self.state
            .with(|st| {
                let free = !st.writer && st.readers == 0 && st.queue.0.is_empty();
                if free {
                    st.writer = true;
                }
                free
            })
            .then(|| RwLockWriteGuard {
                lock: self,
                _not_send: PhantomData,
            })
    }

    /// The data, through a unique borrow: no locking needed.
    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }

    #[track_caller]
    fn acquire(&self, write: bool) {
        let parker = current_parker();
        let sel = Selector::solo(parker);
        let queued = self.state.with(|st| {
            let free = if write {
                !st.writer && st.readers == 0 && st.queue.0.is_empty()
            } else {
                !st.writer && st.queue.0.is_empty()
            };
            if free {
                if write {
                    st.writer = true;
                } else {
                    st.readers += 1;
                }
                return false;
            }
            st.queue.0.push_back((&sel, write));
            true
        });
        if !queued {
            return;
        }
        let reason = if write {
            WaitReason::RwLock
        } else {
            WaitReason::RwLockRead
        };
        wait_granted(&sel, reason, || {
            let (granted, wake) = self.state.with(|st| {
                if !sel.try_give_up() {
                    return (true, Vec::new()); // granted under this lock before we could leave
                }
                st.queue.0.retain(|&(s, _)| !std::ptr::eq(s, &sel));
                // Leaving may unblock readers queued behind us.
                (false, Self::admit(st))
            });
            wake.into_iter().for_each(|p| p.wake());
            if granted {
                self.release(write);
            }
        });
    }

    fn release(&self, write: bool) {
        let wake = self.state.with(|st| {
            if write {
                st.writer = false;
            } else {
                st.readers -= 1;
            }
            Self::admit(st)
        });
        for p in wake {
            p.wake();
        }
    }

    /// Hands the lock to the head of the queue: one writer, or every reader up to the next
    /// writer. Returns whom to unpark.
    fn admit(st: &mut RwState) -> Vec<Wakeup> {
        let mut wake = Vec::new();
        if st.writer {
            return wake;
        }
        while let Some(&(sel, write)) = st.queue.0.front() {
            if write {
                if st.readers == 0 {
                    st.queue.0.pop_front();
                    st.writer = true;
                    // SAFETY: popped under the state lock; its owner is parked on it.
                    wake.extend(unsafe { grant(sel) });
                }
                break;
            }
            st.queue.0.pop_front();
            st.readers += 1;
            // SAFETY: as above.
            wake.extend(unsafe { grant(sel) });
        }
        wake
    }
}

impl<T: ?Sized> Drop for RwLockReadGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.release(false);
    }
}

impl<T: ?Sized> Drop for RwLockWriteGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.release(true);
    }
}

impl<T: ?Sized> Deref for RwLockReadGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: a read guard proves no writer holds the lock.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T: ?Sized> Deref for RwLockWriteGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: a write guard proves exclusive access.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T: ?Sized> DerefMut for RwLockWriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: a write guard proves exclusive access; `&mut self` makes the borrow unique.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<T: Default> Default for RwLock<T> {
    fn default() -> Self {
        RwLock::new(T::default())
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.try_read() {
            Some(guard) => f.debug_struct("RwLock").field("data", &&*guard).finish(),
            None => f.debug_struct("RwLock").field("data", &"<locked>").finish(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Once
// ---------------------------------------------------------------------------------------------

/// Runs a function exactly once, however many tasks call it (Go: `sync.Once`).
///
/// Callers that arrive while the first call is running park until it finishes. As in Go, if
/// the function panics the `Once` still counts as done and later calls do nothing.
#[derive(Default)]
pub struct Once {
    done: AtomicBool,
    running: Mutex<()>,
}

impl Once {
    const_unless_loom! {
        /// A `Once` that has not run yet.
        pub fn new() -> Once {
            Once {
                done: AtomicBool::new(false),
                running: Mutex::new(()),
            }
        }
    }

    /// Runs `f` if no call has run yet; otherwise waits for the first call to finish.
    pub fn call_once(&self, f: impl FnOnce()) {
        if self.done.load(Ordering::Acquire) {
            return;
        }
        let _running = self.running.lock();
        if self.done.load(Ordering::Acquire) {
            return;
        }
        struct SetDone<'a>(&'a AtomicBool);
        impl Drop for SetDone<'_> {
            fn drop(&mut self) {
                self.0.store(true, Ordering::Release);
            }
        }
        let _set = SetDone(&self.done);
        f();
    }

    /// Whether a call has finished.
    pub fn is_completed(&self) -> bool {
        self.done.load(Ordering::Acquire)
    }
}

impl fmt::Debug for Once {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Once")
            .field("done", &self.is_completed())
            .finish()
    }
}

/// Wakes the waiters `WaitGroup::done` released (out of line: most `done`s release nobody, and
/// an empty list then costs no call to drop an iterator).
#[cold]
#[inline(never)]
fn wake_all(waiters: Vec<Parker>) {
    for p in waiters {
        p.wake();
    }
}
