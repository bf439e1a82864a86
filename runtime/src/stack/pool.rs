//! The stack pool: slabs of guarded stacks, a per-thread cache, a global free list, and pages
//! given back to the kernel past a high-water mark.
//!
//! Go keeps freed stacks in per-P caches in front of a global pool (`stackcache`, `stackpool`
//! in `runtime/stack.go`); goro does the same. Spawning and finishing a task pops and pushes one
//! address on a thread-local `Vec`; the global pool, behind a mutex, is only touched in batches.
//!
//! A *slab* is one `mmap` reservation holding many stack slots laid out back to back, each a
//! guard (`POOL_GUARD_PAGES` pages, free with guard markers) followed by the usable stack. Slots are carved lazily, a batch at a time, and get
//! their guard page when carved. Adjacent slots share page-table pages: a stack that has run costs
//! its touched pages plus `slot / 512` bytes of page table (one 4 KiB page-table page maps 2 MiB),
//! so smaller stacks are cheaper to park by the million.
//!
//! Memory comes back in two ways. Once the global pool holds more than `HIGH_WATER` free
//! stacks, slabs whose slots are all free are unmapped (page tables included) until only a small
//! reserve is left; and when more than `WARM_MAX` free stacks may still have resident pages,
//! those pages are released with `MADV_DONTNEED` (guard markers survive it), one call per run of
//! adjacent slots. [`trim`] does both at once when a runtime shuts down.
//!
//! Go counterpart: the stack caches of `runtime/stack.go` (`stackcache`, `stackpool`).
//! Lessons: 02 (stacks) and 14 (one million: memory math, VMAs, guard installs).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use super::{
    GuardKind, Stack, advise_ranges, guard_kind, install_guards, mprotect_guards_left, pool_guard,
    reserve, unreserve, usable_len,
};

/// Stacks a thread keeps for itself before handing half of them to the global pool.
const LOCAL_MAX: usize = 256;
/// Stacks moved from the global pool to a thread's cache at once.
const BATCH: usize = 64;
/// Free stacks the global pool keeps ready (pages possibly resident) before it releases pages.
const WARM_MAX: usize = 1024;
/// Free stacks the global pool keeps before it unmaps slabs that are entirely free.
const HIGH_WATER: usize = 4096;
/// Bytes of address space per slab (rounded to whole slots, at least `MIN_SLOTS` of them).
const SLAB_BYTES: usize = 64 << 20;
const MIN_SLOTS: usize = 8;

/// Counters describing the stack layer, for `goro::debug::stats()`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct StackStats {
    /// How guard pages are installed.
    pub guard: GuardKind,
    /// Stacks in use: handed out by the pool or made with `Stack::new`, not yet dropped.
    pub live: usize,
    /// Free stacks kept for reuse (thread caches and the global pool).
    pub pooled: usize,
    /// Slabs currently mapped.
    pub slabs: usize,
    /// Address space currently reserved by slabs, in bytes (virtual, not resident).
    pub reserved_bytes: usize,
}

impl fmt::Display for StackStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "stacks: {} live, {} pooled, {} slabs, {} MiB reserved, guard pages by {}",
            self.live,
            self.pooled,
            self.slabs,
            self.reserved_bytes >> 20,
            self.guard
        )
    }
}

struct Slab {
    /// Bytes per slot (guard page + usable stack).
    slot: usize,
    /// Slots in this slab.
    slots: usize,
    /// Slots carved so far (from the low end).
    carved: usize,
    /// Free slots (their low addresses) in the global pool; `free[..cold]` have had their pages
    /// released, the rest may still have resident pages.
    free: Vec<usize>,
    cold: usize,
}

impl Slab {
    fn bytes(&self) -> usize {
        self.slot * self.slots
    }
}

/// The global pool for one stack size.
struct Class {
    /// Usable bytes per stack.
    len: usize,
    /// Slabs by base address.
    slabs: BTreeMap<usize, Slab>,
    /// Slabs that may have free slots (stale entries are skipped).
    avail: Vec<usize>,
    /// The slab new slots are carved from, if it has room left.
    carving: Option<usize>,
    /// Free stacks in all slabs, and how many of them may have resident pages.
    free: usize,
    warm: usize,
}

struct Global {
    classes: Vec<Class>,
    carved: usize,
    free: usize,
    slabs: usize,
    reserved: usize,
}

static GLOBAL: Mutex<Global> = Mutex::new(Global {
    classes: Vec::new(),
    carved: 0,
    free: 0,
    slabs: 0,
    reserved: 0,
});

/// Per-thread cache sizes, summed by `stats()`.
static LOCALS: Mutex<Vec<Arc<AtomicUsize>>> = Mutex::new(Vec::new());
/// Live standalone stacks (`Stack::new`).
static STANDALONE: AtomicUsize = AtomicUsize::new(0);

fn global() -> MutexGuard<'static, Global> {
    // The pool's invariants hold between statements that can panic (allocation only), so a
    // poisoned lock still guards consistent data.
    GLOBAL.lock().unwrap_or_else(|e| e.into_inner())
}

pub(super) fn standalone_created() {
    STANDALONE.fetch_add(1, Ordering::Relaxed);
}

pub(super) fn standalone_dropped() {
    STANDALONE.fetch_sub(1, Ordering::Relaxed);
}

struct Local {
    /// (usable length, free stack addresses), usually a single entry.
    classes: Vec<(usize, Vec<usize>)>,
    count: usize,
    published: Arc<AtomicUsize>,
}

impl Local {
    fn new() -> Local {
        let published = Arc::new(AtomicUsize::new(0));
        LOCALS
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(published.clone());
        Local {
            classes: Vec::new(),
            count: 0,
            published,
        }
    }

    #[inline]
    fn class(&mut self, len: usize) -> &mut Vec<usize> {
        // Almost every program uses one stack size: check the first class before searching.
        let i = match self.classes.first() {
            Some((l, _)) if *l == len => 0,
            _ => self.find_class(len),
        };
        &mut self.classes[i].1
    }

    #[cold]
    fn find_class(&mut self, len: usize) -> usize {
        match self.classes.iter().position(|(l, _)| *l == len) {
            Some(i) => i,
            None => {
                self.classes.push((len, Vec::with_capacity(LOCAL_MAX + 1)));
                self.classes.len() - 1
            }
        }
    }

    fn publish(&self) {
        self.published.store(self.count, Ordering::Relaxed);
    }
}

impl Drop for Local {
    fn drop(&mut self) {
        let mut g = global();
        for (len, free) in self.classes.drain(..) {
            g.put_batch(len, &free);
        }
        drop(g);
        self.count = 0;
        let mut locals = LOCALS.lock().unwrap_or_else(|e| e.into_inner());
        locals.retain(|a| !Arc::ptr_eq(a, &self.published));
    }
}

thread_local! {
    static LOCAL: RefCell<Local> = RefCell::new(Local::new());
}

/// Takes a stack of at least `size` usable bytes from the pool: the calling thread's cache first,
/// then the global pool, then a freshly carved slot.
pub(crate) fn pool_get(size: usize) -> io::Result<Stack> {
    let len = usable_len(size)?;
    let from_cache = LOCAL.try_with(|local| {
        let mut local = local.borrow_mut();
        let free = local.class(len);
        if let Some(lo) = free.pop() {
            local.count -= 1;
            local.publish();
            return Ok(Some(lo));
        }
        // Refill a batch from the global pool; hand one out.
        let n = refill_size();
        let mut batch = Vec::with_capacity(n);
        global().take_batch(len, n, &mut batch)?;
        let lo = batch.pop();
        let free = local.class(len);
        free.extend_from_slice(&batch);
        local.count += batch.len();
        local.publish();
        Ok(lo)
    });
    let lo = match from_cache {
        Ok(Ok(Some(lo))) => lo,
        Ok(Ok(None)) => unreachable!("take_batch returns at least one stack or an error"),
        Ok(Err(err)) => return Err(err),
        // The thread is being torn down: go straight to the global pool.
        Err(_) => {
            let mut one = Vec::with_capacity(1);
            global().take_batch(len, 1, &mut one)?;
            one[0]
        }
    };
    Ok(Stack::from_pool(lo, len))
}

/// How many stacks a thread's cache takes from the global pool at once: [`BATCH`], except
/// near the end of the `mprotect` mapping budget. There a full batch per thread would strand
/// stacks in caches of threads that may never use them (a worker that goes idle keeps its
/// cache) while another thread is refused a stack: with 16 workers, up to a thousand of the
/// ~30,700 stacks that [`crate::stack::max_guarded_stacks`] promises. So the batch shrinks
/// with what is left, shared among the threads that have caches, down to one stack at a
/// time: whatever is stranded is at most half of what was left at the last refill.
#[cold]
fn refill_size() -> usize {
    match mprotect_guards_left() {
        None => BATCH,
        Some(left) => (left / (2 * caching_threads())).clamp(1, BATCH),
    }
}

/// Threads that have a stack cache (at least one, for dividing by).
fn caching_threads() -> usize {
    LOCALS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .len()
        .max(1)
}

/// Free stacks held in threads' caches (not in the global pool), as last published.
pub(super) fn cached_in_threads() -> usize {
    LOCALS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .map(|c| c.load(Ordering::Relaxed))
        .sum()
}

/// Returns a pooled stack (called from `Stack::drop`).
#[inline]
pub(super) fn put(lo: usize, len: usize) {
    let cached = LOCAL.try_with(|local| {
        let mut local = local.borrow_mut();
        let free = local.class(len);
        free.push(lo);
        if free.len() > LOCAL_MAX {
            // Hand the oldest (coldest) half to the global pool.
            let spill: Vec<usize> = free.drain(..LOCAL_MAX / 2).collect();
            local.count -= spill.len();
            global().put_batch(len, &spill);
        }
        local.count += 1;
        local.publish();
    });
    if cached.is_err() {
        global().put_batch(len, &[lo]);
    }
}

/// Hands this thread's cached stacks to the global pool if the `mprotect` mapping budget is
/// nearly spent (less than a full batch per caching thread is left): a worker about to sleep
/// calls it, so that the stacks it cached are not what another thread is refused. A no-op
/// with guard markers, and whenever the budget is far from spent.
pub(crate) fn spill_if_tight() {
    let Some(left) = mprotect_guards_left() else {
        return;
    };
    if left >= 2 * BATCH * caching_threads() {
        return;
    }
    spill_local();
}

/// Moves every stack of this thread's cache to the global pool.
fn spill_local() {
    let _ = LOCAL.try_with(|local| {
        let mut local = local.borrow_mut();
        if local.count == 0 {
            return;
        }
        let classes: Vec<(usize, Vec<usize>)> = local.classes.drain(..).collect();
        local.count = 0;
        local.publish();
        let mut g = global();
        for (len, free) in classes {
            g.put_batch(len, &free);
        }
    });
}

/// Hands this thread's cached stacks to the global pool, releases the pages of all but a few
/// free stacks and unmaps every slab whose stacks are all free. The runtime calls this when it
/// shuts down, so that memory returns to the kernel between runtime lifetimes.
pub(crate) fn trim() {
    spill_local();
    let mut g = global();
    let mut unmapped = (0, 0, 0);
    for class in &mut g.classes {
        let (slabs, bytes, slots) = class.unmap_empty_slabs(0);
        unmapped.0 += slabs;
        unmapped.1 += bytes;
        unmapped.2 += slots;
        class.cool(WARM_MAX / 4);
    }
    g.slabs -= unmapped.0;
    g.reserved -= unmapped.1;
    g.carved -= unmapped.2;
    g.free -= unmapped.2;
    g.classes.retain(|c| !c.slabs.is_empty());
}

/// A snapshot of the stack layer's counters.
pub(crate) fn stats() -> StackStats {
    let local = cached_in_threads();
    let g = global();
    StackStats {
        guard: guard_kind(),
        live: (g.carved.saturating_sub(g.free).saturating_sub(local))
            + STANDALONE.load(Ordering::Relaxed),
        pooled: g.free + local,
        slabs: g.slabs,
        reserved_bytes: g.reserved,
    }
}

impl Global {
    fn class(&mut self, len: usize) -> &mut Class {
        let i = match self.classes.iter().position(|c| c.len == len) {
            Some(i) => i,
            None => {
                self.classes.push(Class {
                    len,
                    slabs: BTreeMap::new(),
                    avail: Vec::new(),
                    carving: None,
                    free: 0,
                    warm: 0,
                });
                self.classes.len() - 1
            }
        };
        &mut self.classes[i]
    }

    /// Moves up to `n` (at least one) free or newly carved stacks of `len` bytes into `out`.
    fn take_batch(&mut self, len: usize, n: usize, out: &mut Vec<usize>) -> io::Result<()> {
        let class = self.class(len);
        let reused = class.take_free(n, out);
        let mut carved = 0;
        let mut new_slab = None;
        let mut result = Ok(());
        if out.is_empty() {
            result = class.carve(n, out, &mut carved, &mut new_slab);
        }
        self.free -= reused;
        self.carved += carved;
        if let Some(bytes) = new_slab {
            self.slabs += 1;
            self.reserved += bytes;
        }
        if out.is_empty() { result } else { Ok(()) }
    }

    fn put_batch(&mut self, len: usize, stacks: &[usize]) {
        if stacks.is_empty() {
            return;
        }
        let over_high_water = self.free + stacks.len() > HIGH_WATER;
        let class = self.class(len);
        let mut emptied = false;
        for &lo in stacks {
            let (&base, slab) = class
                .slabs
                .range_mut(..=lo)
                .next_back()
                .expect("a pooled stack belongs to a slab");
            debug_assert!(lo < base + slab.bytes());
            slab.free.push(lo);
            if slab.free.len() == 1 {
                class.avail.push(base);
            }
            emptied |= slab.free.len() == slab.carved;
        }
        class.free += stacks.len();
        class.warm += stacks.len();
        // Unmapping a whole slab is one cheap call and frees its page tables too, so do that
        // first, down to a small reserve; only then release pages stack by stack.
        let (slabs, bytes, slots) = if emptied && over_high_water {
            class.unmap_empty_slabs(WARM_MAX / 4)
        } else {
            (0, 0, 0)
        };
        if class.warm > WARM_MAX {
            class.cool(WARM_MAX / 4);
        }
        self.free = self.free + stacks.len() - slots;
        self.carved -= slots;
        self.slabs -= slabs;
        self.reserved -= bytes;
    }
}

impl Class {
    fn take_free(&mut self, n: usize, out: &mut Vec<usize>) -> usize {
        let start = out.len();
        while out.len() - start < n {
            let Some(&base) = self.avail.last() else {
                break;
            };
            let Some(slab) = self.slabs.get_mut(&base) else {
                self.avail.pop();
                continue;
            };
            while out.len() - start < n {
                let Some(lo) = slab.free.pop() else { break };
                if slab.free.len() < slab.cold {
                    slab.cold -= 1;
                } else {
                    self.warm -= 1;
                }
                out.push(lo);
            }
            if slab.free.is_empty() {
                self.avail.pop();
            }
        }
        let taken = out.len() - start;
        self.free -= taken;
        taken
    }

    fn carve(
        &mut self,
        n: usize,
        out: &mut Vec<usize>,
        carved: &mut usize,
        new_slab: &mut Option<usize>,
    ) -> io::Result<()> {
        let guard = pool_guard();
        let slot = self.len + guard;
        let base = match self.carving {
            Some(base) => base,
            None => {
                let slots = (SLAB_BYTES / slot).max(MIN_SLOTS);
                let bytes = slots * slot;
                let base = reserve(bytes)?;
                self.slabs.insert(
                    base,
                    Slab {
                        slot,
                        slots,
                        carved: 0,
                        free: Vec::new(),
                        cold: 0,
                    },
                );
                *new_slab = Some(bytes);
                self.carving = Some(base);
                base
            }
        };
        let slab = self
            .slabs
            .get_mut(&base)
            .expect("the carving slab is mapped");
        let mut count = n.min(slab.slots - slab.carved);
        let start = out.len();
        out.extend((0..count).map(|i| base + (slab.carved + i) * slot));
        let mut guarded = 0;
        let result = install_guards(&out[start..], guard, &mut guarded);
        if result.is_err() {
            // Keep the slots that did get their guard (they are counted against the mapping
            // budget until the slab is unmapped); the caller reports the error only if none did.
            out.truncate(start + guarded);
            count = guarded;
        }
        slab.carved += count;
        *carved += count;
        if slab.carved == slab.slots {
            self.carving = None;
        }
        result.map(drop)
    }

    /// Unmaps slabs whose carved slots are all free, while more than `keep` free stacks remain.
    /// Returns (slabs, bytes, slots) unmapped.
    fn unmap_empty_slabs(&mut self, keep: usize) -> (usize, usize, usize) {
        let mut done = (0, 0, 0);
        let empty: Vec<usize> = self
            .slabs
            .iter()
            .filter(|(_, s)| s.free.len() == s.carved)
            .map(|(&b, _)| b)
            .collect();
        for base in empty {
            if self.free <= keep {
                break;
            }
            let slab = self.slabs.remove(&base).expect("listed above");
            // SAFETY: every carved slot of this slab is in its free list, so no `Stack` refers
            // to it, and uncarved slots were never handed out.
            unsafe { unreserve(base, slab.bytes()) };
            super::guards_removed(slab.carved);
            if self.carving == Some(base) {
                self.carving = None;
            }
            self.free -= slab.free.len();
            self.warm -= slab.free.len() - slab.cold;
            done.0 += 1;
            done.1 += slab.bytes();
            done.2 += slab.free.len();
        }
        done
    }

    /// Releases the pages of free stacks until at most `keep` may still be resident.
    fn cool(&mut self, keep: usize) {
        let guard = pool_guard();
        let mut runs = Vec::new();
        for slab in self.slabs.values_mut() {
            if self.warm <= keep {
                break;
            }
            let cold = slab.cold;
            let warm = &mut slab.free[cold..];
            if warm.is_empty() {
                continue;
            }
            warm.sort_unstable();
            // One range per run of adjacent slots; the guard pages inside a run keep their
            // markers (MADV_DONTNEED leaves guard markers in place).
            let mut i = 0;
            while i < warm.len() {
                let start = warm[i];
                let mut end = start + slab.slot;
                i += 1;
                while i < warm.len() && warm[i] == end {
                    end += slab.slot;
                    i += 1;
                }
                let from = start + guard; // skip the run's first guard: nothing to release there
                runs.push((from, end - from));
            }
            self.warm -= warm.len();
            slab.cold = slab.free.len();
        }
        // All runs in one system call per 1,024 (one TLB flush for the lot), else one each.
        if !advise_ranges(&runs, libc::MADV_DONTNEED) {
            for (from, len) in runs {
                // SAFETY: the range covers free slots only; their contents are garbage, and
                // dropping them is exactly what a free stack allows.
                unsafe { libc::madvise(from as *mut libc::c_void, len, libc::MADV_DONTNEED) };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    //! Each test uses a stack size no other test uses, so it has a size class of its own while
    //! the tests run in parallel.
    use super::*;
    use crate::stack::page_size;
    use std::io::{Read, Seek, SeekFrom};

    const KIB: usize = 1024;

    fn class_snapshot(len: usize) -> (usize, usize, usize) {
        let mut g = global();
        let c = g.class(len);
        (c.slabs.len(), c.free, c.warm)
    }

    /// Whether `addr`'s page is resident (`mincore`), or `None` if it is not mapped at all.
    fn resident(addr: usize) -> Option<bool> {
        let page = page_size();
        let mut v = 0u8;
        // SAFETY: mincore only writes one byte into `v` for a one-page range.
        let rc = unsafe { libc::mincore((addr & !(page - 1)) as *mut libc::c_void, page, &mut v) };
        (rc == 0).then_some(v & 1 == 1)
    }

    /// Whether the page at `addr` carries a guard marker (pagemap bit 58, Linux ≥ 6.14) or is
    /// PROT_NONE.
    fn guarded(addr: usize) -> bool {
        if guard_kind() == GuardKind::Mprotect {
            let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
            return maps.lines().any(|l| {
                let (range, rest) = l.split_once(' ').unwrap();
                let (a, b) = range.split_once('-').unwrap();
                let (a, b) = (
                    usize::from_str_radix(a, 16).unwrap(),
                    usize::from_str_radix(b, 16).unwrap(),
                );
                (a..b).contains(&addr) && rest.starts_with("---p")
            });
        }
        let mut f = std::fs::File::open("/proc/self/pagemap").unwrap();
        f.seek(SeekFrom::Start((addr / page_size() * 8) as u64))
            .unwrap();
        let mut entry = [0u8; 8];
        f.read_exact(&mut entry).unwrap();
        u64::from_le_bytes(entry) & (1 << 58) != 0
    }

    fn touch_top(stack: &Stack) {
        // SAFETY: the byte just below top() is the stack's own usable memory.
        unsafe { std::ptr::write_volatile((stack.top() - 8) as *mut u64, 0x5eed) };
    }

    #[test]
    fn a_dropped_stack_is_reused_by_the_next_get() {
        let a = Stack::pooled(40 * KIB).unwrap();
        assert!(a.is_pooled());
        assert_eq!(a.len(), 40 * KIB);
        let (bottom, top) = (a.bottom(), a.top());
        drop(a);
        let b = Stack::pooled(40 * KIB - 100).unwrap();
        assert_eq!(
            (b.bottom(), b.top()),
            (bottom, top),
            "LIFO reuse on one thread"
        );
        let c = Stack::pooled(40 * KIB).unwrap();
        assert_ne!(c.bottom(), b.bottom());
        assert!(guarded(b.guard().start) && guarded(c.guard().start));
        assert!(!guarded(b.bottom()));
    }

    /// Pooled stacks are separated by a guard several pages wide, so a frame that moves the
    /// stack pointer by more than a page without probing still faults instead of writing into
    /// the neighbour's stack.
    #[test]
    fn pooled_stacks_have_a_wide_guard() {
        let page = page_size();
        let a = Stack::pooled(36 * KIB).unwrap();
        let b = Stack::pooled(36 * KIB).unwrap();
        assert_eq!(a.guard().len(), super::super::POOL_GUARD_PAGES * page);
        const { assert!(super::super::POOL_GUARD_PAGES >= 4) };
        for s in [&a, &b] {
            for p in s.guard().step_by(page) {
                assert!(guarded(p), "page {p:#x} of {s:?}'s guard is not guarded");
            }
            assert!(!guarded(s.bottom()));
        }
        // The bytes between two neighbouring stacks are a whole guard.
        let (lo, hi) = if a.top() <= b.guard().start {
            (&a, &b)
        } else {
            (&b, &a)
        };
        assert!(
            hi.guard().start - lo.top() < page,
            "stacks are adjacent slots"
        );
        assert!(hi.bottom() - lo.top() >= 4 * page);
    }

    /// Tasks start their first frame a few cache lines below the top of their stack, by an
    /// amount that differs between neighbouring slots (`Stack::staggered_top`).
    #[test]
    fn task_frames_start_at_staggered_offsets() {
        let stacks: Vec<Stack> = (0..64).map(|_| Stack::pooled(28 * KIB).unwrap()).collect();
        let mut staggers: Vec<usize> = stacks
            .iter()
            .map(|s| {
                let start = s.staggered_top();
                assert_eq!(start, s.staggered_top(), "the same stack, the same start");
                assert!(
                    start <= s.top() && s.top() - start <= 15 * 64,
                    "{s:?}: {start:#x}"
                );
                assert!(start.is_multiple_of(64), "a whole number of cache lines");
                s.top() - start
            })
            .collect();
        staggers.sort_unstable();
        staggers.dedup();
        assert!(
            staggers.len() >= 12,
            "64 stacks start at only {} different offsets: {staggers:?}",
            staggers.len()
        );
    }

    #[test]
    fn slots_are_carved_from_shared_slabs() {
        let stacks: Vec<Stack> = (0..200).map(|_| Stack::pooled(44 * KIB).unwrap()).collect();
        let (slabs, _, _) = class_snapshot(44 * KIB);
        assert_eq!(slabs, 1, "200 stacks of 44 KiB fit in one 64 MiB slab");
        for pair in stacks.windows(2) {
            assert!(
                pair[0].top() <= pair[1].guard().start || pair[1].top() <= pair[0].guard().start
            );
        }
        let mut tops: Vec<usize> = stacks.iter().map(|s| s.top()).collect();
        tops.sort_unstable();
        tops.dedup();
        assert_eq!(tops.len(), 200, "no slot is handed out twice");
    }

    #[test]
    fn a_hundred_thousand_guarded_stacks_do_not_split_mappings() {
        if guard_kind() == GuardKind::Mprotect {
            eprintln!("skipped: this kernel has no MADV_GUARD_INSTALL, guards use mprotect");
            return;
        }
        let maps = || {
            std::fs::read_to_string("/proc/self/maps")
                .unwrap()
                .lines()
                .count()
        };
        let before = maps();
        let stacks: Vec<Stack> = (0..100_000)
            .map(|_| Stack::pooled(12 * KIB).unwrap())
            .collect();
        let after = maps();
        // mprotect guards would add two mappings per stack (200,000 > vm.max_map_count).
        assert!(
            after < before + 200,
            "{} mappings before, {} after 100,000 stacks",
            before,
            after
        );
        for s in stacks.iter().step_by(997) {
            assert!(guarded(s.guard().start), "stack {s:?} lost its guard");
        }
        let (slabs, _, _) = class_snapshot(12 * KIB);
        assert!(slabs >= 100_000 * 16 * KIB / SLAB_BYTES);
    }

    #[test]
    fn released_pages_go_back_to_the_kernel_and_guards_stay() {
        const N: usize = WARM_MAX + 2 * LOCAL_MAX;
        let keep = Stack::pooled(52 * KIB).unwrap(); // keeps its slab mapped
        let stacks: Vec<Stack> = (0..N).map(|_| Stack::pooled(52 * KIB).unwrap()).collect();
        for s in &stacks {
            touch_top(s);
            assert_eq!(resident(s.top() - 8), Some(true));
        }
        let addrs: Vec<(usize, usize)> =
            stacks.iter().map(|s| (s.guard().start, s.top())).collect();
        drop(stacks);
        // Past the high-water mark the global pool released most of them already.
        let (_, free, warm) = class_snapshot(52 * KIB);
        assert!(
            free > WARM_MAX && warm <= WARM_MAX,
            "free {free}, warm {warm}"
        );
        let released = addrs
            .iter()
            .filter(|(_, top)| resident(top - 8) == Some(false))
            .count();
        assert!(
            released >= N - WARM_MAX - LOCAL_MAX,
            "only {released} of {N} released"
        );
        for (guard, _) in &addrs {
            assert!(
                guarded(*guard),
                "MADV_DONTNEED removed the guard at {guard:#x}"
            );
        }
        drop(keep);
    }

    #[test]
    fn trim_unmaps_slabs_whose_stacks_are_all_free() {
        let stacks: Vec<Stack> = (0..300).map(|_| Stack::pooled(56 * KIB).unwrap()).collect();
        for s in &stacks {
            touch_top(s);
        }
        let top = stacks[0].top();
        assert_eq!(class_snapshot(56 * KIB).0, 1);
        drop(stacks);
        trim();
        let (slabs, free, _) = class_snapshot(56 * KIB);
        assert_eq!((slabs, free), (0, 0));
        assert_eq!(resident(top - 8), None, "the slab is unmapped");
        // The pool still works after being emptied.
        let again = Stack::pooled(56 * KIB).unwrap();
        touch_top(&again);
    }

    #[test]
    fn an_exiting_thread_hands_its_cached_stacks_to_the_global_pool() {
        let tops = std::thread::spawn(|| {
            let stacks: Vec<Stack> = (0..100).map(|_| Stack::pooled(68 * KIB).unwrap()).collect();
            let tops: Vec<usize> = stacks.iter().map(|s| s.top()).collect();
            drop(stacks); // into this thread's cache
            tops
        })
        .join()
        .unwrap();
        let (slabs, free, _) = class_snapshot(68 * KIB);
        let carved: usize = {
            let mut g = global();
            g.class(68 * KIB).slabs.values().map(|s| s.carved).sum()
        };
        assert!(carved >= 100);
        assert_eq!(
            (slabs, free),
            (1, carved),
            "the cache was not flushed at thread exit"
        );
        // Another thread gets the very same stacks back, without carving new ones.
        let again = std::thread::spawn(move || {
            let stacks: Vec<Stack> = (0..carved)
                .map(|_| Stack::pooled(68 * KIB).unwrap())
                .collect();
            stacks.iter().map(|s| s.top()).collect::<Vec<usize>>()
        })
        .join()
        .unwrap();
        assert!(tops.iter().all(|t| again.contains(t)));
        let carved_after: usize = {
            let mut g = global();
            g.class(68 * KIB).slabs.values().map(|s| s.carved).sum()
        };
        assert_eq!(
            carved_after, carved,
            "reused stacks should not need new slots"
        );
    }

    #[test]
    fn stats_count_live_and_pooled_stacks() {
        let before = stats();
        let stacks: Vec<Stack> = (0..10).map(|_| Stack::pooled(60 * KIB).unwrap()).collect();
        let during = stats();
        assert!(during.live >= 10 && during.slabs >= 1 && during.reserved_bytes >= 10 * 60 * KIB);
        drop(stacks);
        let after = stats();
        assert!(after.pooled >= 10);
        assert_eq!(after.guard, guard_kind());
        let _ = before;
        assert!(format!("{after}").contains("pooled"));
    }
}
