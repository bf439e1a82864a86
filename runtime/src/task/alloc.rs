//! Task record memory and its reference count: [`TaskRef`], the counted pointer through which
//! the scheduler, `Task` handles and the `JoinHandle` share a record, and the chunks records
//! are carved from.
//!
//! Records are not allocated one by one. A thread carves them from a chunk of [`PER_CHUNK`]
//! records that it allocated in one piece, so spawning a burst of tasks costs one `malloc` per
//! chunk instead of one per task. A record whose last reference is gone is dropped, and its
//! memory (a [`FreeRecord`]) either waits in a free list to be written over by the next spawn
//! (the scheduler keeps those lists: `sched/registry.rs`) or goes back to its chunk; the chunk
//! is freed when the last of its records comes back.
//!
//! The count sits beside the record (like `Arc`'s). A new record starts with as many references
//! as its spawner needs (the `JoinHandle`'s and the run queue's) written with a plain store, and
//! the last reference is recognised by a load when the count is 1, so that neither costs a
//! locked instruction.
//!
//! Rules:
//!
//! 1. A record's count is the number of [`TaskRef`]s to it (a pointer from
//!    [`TaskRef::into_raw`] counts as one). Only code that holds one may make another, so a
//!    holder that reads a count of 1 holds the only one and nobody can make more. (The
//!    registry's readers act for a registered task's own reference, under a lock its holder
//!    takes before dropping it: `sched/registry.rs`, rule 6.)
//! 2. The header is live from [`FreeRecord::fill`] until its count drops to zero; then it is
//!    dropped, and the memory is a [`FreeRecord`] again, owned by exactly one holder: a free
//!    list, or whoever gives it back to its chunk.
//! 3. A chunk's `live` counts its records that have not been given back, whether carved or not
//!    and whether their header is live or not. The give-back that takes it to zero frees the
//!    chunk. A header whose destructor panics never comes back: its chunk is leaked, not freed
//!    under anybody's feet.
//!
//! Go counterpart: `malg` and `allgadd` in `runtime/proc.go` (Go allocates each `g` on its own
//! and never frees it; `gfput`/`gfget` are its free lists). Lesson: 04 (scheduler).

use std::alloc::{Layout, alloc, dealloc, handle_alloc_error};
use std::cell::Cell;
use std::mem::{ManuallyDrop, MaybeUninit};
use std::ops::Deref;
use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicUsize, Ordering, fence};

use super::record::{Header, Spec};

/// Records per chunk: 32 records of 256 bytes, one allocation of 8 KiB.
pub(crate) const PER_CHUNK: usize = 32;

/// One record's memory: the header first (so a pointer to the record is a pointer to its
/// header), then its count and its chunk.
#[repr(C)]
struct Record {
    header: MaybeUninit<Header>,
    refs: AtomicUsize,
    chunk: *mut Chunk,
}

#[repr(C)]
struct Chunk {
    /// Records not given back yet (rule 3).
    live: AtomicUsize,
    records: [Record; PER_CHUNK],
}

impl Chunk {
    /// A new chunk, all of whose records count as live (rule 3).
    fn new() -> *mut Chunk {
        let layout = Layout::new::<Chunk>();
        // SAFETY: the layout has a non-zero size.
        let p = unsafe { alloc(layout) }.cast::<Chunk>();
        if p.is_null() {
            handle_alloc_error(layout);
        }
        // SAFETY: `p` is fresh memory for a `Chunk`; only the count needs a value now (the
        // records are written as they are carved).
        unsafe { ptr::addr_of_mut!((*p).live).write(AtomicUsize::new(PER_CHUNK)) };
        p
    }

    /// Record `i` of `chunk`, marked as belonging to it.
    ///
    /// # Safety
    /// `chunk` came from [`Chunk::new`], is not freed, and record `i` has not been handed out.
    unsafe fn record(chunk: *mut Chunk, i: usize) -> FreeRecord {
        // SAFETY: see the function contract; no reference into the chunk is made.
        unsafe {
            let r = ptr::addr_of_mut!((*chunk).records[i]);
            ptr::addr_of_mut!((*r).chunk).write(chunk);
            FreeRecord {
                rec: NonNull::new_unchecked(r),
            }
        }
    }

    /// Gives `n` records back to `chunk`, freeing it if they were the last (rule 3).
    ///
    /// # Safety
    /// The caller owns `n` records of `chunk` (or, for its carver, `n` records not carved) and
    /// never uses them again.
    unsafe fn give_back(chunk: *mut Chunk, n: usize) {
        // SAFETY: the chunk is alive while one of its records is not given back.
        let live = unsafe { &(*chunk).live };
        if live.fetch_sub(n, Ordering::Release) == n {
            // Every other give-back happened before this (their Release, our Acquire).
            fence(Ordering::Acquire);
            // SAFETY: no record of the chunk is in use any more (rule 3).
            unsafe { dealloc(chunk.cast(), Layout::new::<Chunk>()) };
        }
    }
}

/// The chunk this thread carves records from, and the next record to carve.
struct Carver {
    chunk: Cell<*mut Chunk>,
    next: Cell<usize>,
}

impl Drop for Carver {
    fn drop(&mut self) {
        let chunk = self.chunk.get();
        let left = PER_CHUNK - self.next.get();
        if !chunk.is_null() && left > 0 {
            // SAFETY: the records not carved are this carver's to give back.
            unsafe { Chunk::give_back(chunk, left) };
        }
    }
}

thread_local! {
    static CARVER: Carver = const {
        Carver {
            chunk: Cell::new(ptr::null_mut()),
            next: Cell::new(PER_CHUNK),
        }
    };
}

/// The memory of one task record, with no live header (rule 2). Dropping it gives it back to
/// its chunk.
pub(crate) struct FreeRecord {
    rec: NonNull<Record>,
}

// SAFETY: it is plain memory owned by its one holder (rule 2).
unsafe impl Send for FreeRecord {}

impl FreeRecord {
    /// A record's memory from this thread's chunk (a new chunk when that one is used up).
    pub(crate) fn carve() -> FreeRecord {
        CARVER
            .try_with(|c| {
                let mut chunk = c.chunk.get();
                let mut i = c.next.get();
                if i == PER_CHUNK {
                    // The used-up chunk's records are all handed out: it is theirs now.
                    chunk = Chunk::new();
                    c.chunk.set(chunk);
                    i = 0;
                }
                c.next.set(i + 1);
                // SAFETY: record `i` of this thread's chunk has not been handed out.
                unsafe { Chunk::record(chunk, i) }
            })
            .unwrap_or_else(|_| {
                // The thread is exiting: a chunk for this one record.
                let chunk = Chunk::new();
                // SAFETY: records 1.. of the new chunk are ours and never handed out.
                unsafe {
                    Chunk::give_back(chunk, PER_CHUNK - 1);
                    Chunk::record(chunk, 0)
                }
            })
    }

    /// Writes a fresh record for `f` here, with `refs` references to it.
    #[inline(always)]
    fn fill_n<F, T>(self, spec: Spec, f: F, refs: usize) -> NonNull<Record>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let rec = ManuallyDrop::new(self).rec;
        let p = rec.as_ptr();
        // SAFETY: the memory is ours alone and holds no live header (rule 2); writing the count
        // with a plain store is fine because nobody else can see the record yet.
        unsafe {
            ptr::addr_of_mut!((*p).refs).write(AtomicUsize::new(refs));
            Header::init(ptr::addr_of_mut!((*p).header).cast::<Header>(), spec, f);
        }
        rec
    }

    /// Writes a fresh record for `f` here: its one reference.
    #[inline(always)]
    pub(crate) fn fill<F, T>(self, spec: Spec, f: F) -> TaskRef
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        TaskRef {
            rec: self.fill_n(spec, f, 1),
        }
    }

    /// Writes a fresh record for `f` here: two references (a spawn's `JoinHandle` and run
    /// queue entry), made without a locked instruction.
    #[inline(always)]
    pub(crate) fn fill_pair<F, T>(self, spec: Spec, f: F) -> (TaskRef, TaskRef)
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let rec = self.fill_n(spec, f, 2);
        (TaskRef { rec }, TaskRef { rec })
    }
}

impl Drop for FreeRecord {
    fn drop(&mut self) {
        // SAFETY: the memory is ours (rule 2) and its chunk alive while it is not given back.
        unsafe { Chunk::give_back((*self.rec.as_ptr()).chunk, 1) };
    }
}

/// Gives a list of free records back to their chunks, one locked instruction per run of
/// records from the same chunk (records freed in the order they were carved come in runs).
pub(crate) fn give_back_all(list: Vec<FreeRecord>) {
    let mut run: (*mut Chunk, usize) = (ptr::null_mut(), 0);
    for r in list {
        let r = ManuallyDrop::new(r);
        // SAFETY: the record is ours (rule 2).
        let chunk = unsafe { (*r.rec.as_ptr()).chunk };
        if chunk != run.0 {
            if run.1 > 0 {
                // SAFETY: we own `run.1` records of `run.0`, which we no longer use.
                unsafe { Chunk::give_back(run.0, run.1) };
            }
            run = (chunk, 0);
        }
        run.1 += 1;
    }
    if run.1 > 0 {
        // SAFETY: as above.
        unsafe { Chunk::give_back(run.0, run.1) };
    }
}

/// A counted reference to a task record (see the rules above). Like `Arc<Header>`, without
/// weak references.
pub(crate) struct TaskRef {
    rec: NonNull<Record>,
}

// SAFETY: a `TaskRef` only gives out `&Header`, and `Header` is `Send + Sync`; the count is
// atomic.
unsafe impl Send for TaskRef {}
// SAFETY: as above.
unsafe impl Sync for TaskRef {}

impl TaskRef {
    /// The header's address (stays valid while the reference lives).
    #[inline(always)]
    pub(crate) fn as_ptr(this: &TaskRef) -> *const Header {
        this.rec.as_ptr().cast::<Header>().cast_const()
    }

    /// The reference as a raw pointer, for [`TaskRef::from_raw`] to take back.
    #[inline(always)]
    pub(crate) fn into_raw(this: TaskRef) -> *const Header {
        ManuallyDrop::new(this)
            .rec
            .as_ptr()
            .cast::<Header>()
            .cast_const()
    }

    /// Takes back a reference made by [`TaskRef::into_raw`].
    ///
    /// # Safety
    /// `p` came from `into_raw` (or its count was raised by [`TaskRef::increment_count`]), and
    /// this is the one place that takes that reference back.
    #[inline(always)]
    pub(crate) unsafe fn from_raw(p: *const Header) -> TaskRef {
        TaskRef {
            // SAFETY: the header is the first field of its record (`repr(C)`), and the pointer
            // came from a live reference, so it is not null.
            rec: unsafe { NonNull::new_unchecked(p.cast_mut().cast::<Record>()) },
        }
    }

    /// Adds a reference to the record at `p` (for [`TaskRef::from_raw`] to take).
    ///
    /// # Safety
    /// `p` is the header of a record on which somebody holds a reference for the whole call
    /// (rule 1).
    #[inline(always)]
    pub(crate) unsafe fn increment_count(p: *const Header) {
        // SAFETY: see the function contract.
        let refs = unsafe { &(*p.cast::<Record>()).refs };
        if refs.fetch_add(1, Ordering::Relaxed) > isize::MAX as usize {
            // Like `Arc`: more references than memory could hold means a leak in a loop.
            std::process::abort();
        }
    }

    /// Drops this reference; if it was the last one, drops the record and returns its memory.
    #[inline(always)]
    pub(crate) fn release(this: TaskRef) -> Option<FreeRecord> {
        let this = ManuallyDrop::new(this);
        // SAFETY: `this` is a reference we give up here and never use again.
        unsafe { Self::release_rec(this.rec) }
    }

    /// # Safety
    /// The caller gives up one reference to `rec` and never uses it again.
    #[inline(always)]
    unsafe fn release_rec(rec: NonNull<Record>) -> Option<FreeRecord> {
        // SAFETY: we hold a reference: the record is live.
        let refs = unsafe { &(*rec.as_ptr()).refs };
        // A count of 1 is ours alone, and nobody can make another reference (rule 1): the
        // Acquire load orders the other holders' last uses (their Release decrements) before
        // the drop below, and no decrement is needed. Otherwise a decrement, as `Arc` does.
        if refs.load(Ordering::Acquire) != 1 {
            if refs.fetch_sub(1, Ordering::Release) != 1 {
                return None;
            }
            fence(Ordering::Acquire);
        }
        // SAFETY: that was the last reference (see the function contract).
        Some(unsafe { Self::drop_header(rec) })
    }

    /// Drops the header whose last reference is gone (out of line, like `Arc::drop_slow`, so
    /// that dropping a reference that is not the last stays a few instructions).
    ///
    /// # Safety
    /// The last reference to `rec` is gone: nobody else can reach the header (rule 2).
    #[inline(never)]
    unsafe fn drop_header(rec: NonNull<Record>) -> FreeRecord {
        // SAFETY: see the function contract.
        unsafe { ptr::drop_in_place(ptr::addr_of_mut!((*rec.as_ptr()).header).cast::<Header>()) };
        FreeRecord { rec }
    }
}

impl Clone for TaskRef {
    #[inline(always)]
    fn clone(&self) -> TaskRef {
        // SAFETY: `self` is a reference held for the whole call.
        unsafe { TaskRef::increment_count(TaskRef::as_ptr(self)) };
        TaskRef { rec: self.rec }
    }
}

impl Deref for TaskRef {
    type Target = Header;

    #[inline(always)]
    fn deref(&self) -> &Header {
        // SAFETY: a reference keeps its header live (rule 2).
        unsafe { &*TaskRef::as_ptr(self) }
    }
}

impl Drop for TaskRef {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: this reference is given up here.
        if let Some(mem) = unsafe { Self::release_rec(self.rec) } {
            drop(mem);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::panic::Location;

    fn spec(id: u64) -> Spec {
        Spec {
            id,
            name: None,
            location: Location::caller(),
            parent: 0,
            migratable: false,
            is_main: false,
            run: ptr::null(),
            stack_size: 0,
        }
    }

    #[test]
    fn a_record_lives_until_its_last_reference_goes() {
        struct Flag(std::sync::Arc<AtomicUsize>);
        impl Drop for Flag {
            fn drop(&mut self) {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        let dropped = std::sync::Arc::new(AtomicUsize::new(0));
        let flag = Flag(dropped.clone());
        let (a, b) = FreeRecord::carve().fill_pair(spec(7), move || drop(flag));
        let c = a.clone();
        assert_eq!(c.id, 7);
        drop(a);
        assert!(TaskRef::release(b).is_none(), "c still holds the record");
        assert_eq!(
            dropped.load(Ordering::SeqCst),
            0,
            "the closure is still in the record"
        );
        let mem = TaskRef::release(c).expect("the last reference gives the memory back");
        assert_eq!(
            dropped.load(Ordering::SeqCst),
            1,
            "the unrun closure was dropped"
        );
        let again = mem.fill(spec(8), || 5u32);
        assert_eq!(again.id, 8);
    }

    #[test]
    fn chunks_are_given_back_from_any_thread_in_any_order() {
        // More than one chunk's worth, dropped on another thread in reverse order, partly as
        // free lists: every give-back path runs (the chunks' frees are checked by Miri/valgrind
        // runs; here the records' own values must come out right).
        let refs: Vec<TaskRef> = (0..3 * PER_CHUNK as u64 + 5)
            .map(|i| FreeRecord::carve().fill(spec(i + 1), || ()))
            .collect();
        let ids: Vec<u64> = refs.iter().map(|r| r.id).collect();
        assert_eq!(ids, (1..=3 * PER_CHUNK as u64 + 5).collect::<Vec<_>>());
        std::thread::spawn(move || {
            let mut free = Vec::new();
            for (i, r) in refs.into_iter().rev().enumerate() {
                if i % 2 == 0 {
                    free.push(TaskRef::release(r).expect("the only reference"));
                } else {
                    drop(r);
                }
            }
            give_back_all(free);
        })
        .join()
        .unwrap();
    }
}
