//! Task stacks: address space reserved with `mmap`, committed lazily by page faults, with a
//! guard page at the low end, carved from large slabs and pooled for reuse.
//!
//! Go's counterpart is `runtime/stack.go`: a goroutine starts on a tiny (2 KiB) stack and, when a
//! function prologue finds too little room, the runtime allocates a stack twice as large, copies
//! the old one over and rewrites the pointers into it ("copying stacks"; Go 1.3 and earlier used
//! segmented stacks instead). Rust cannot move a stack, because it cannot find and rewrite the
//! pointers into it, so goro does what the kernel does for OS threads: it *reserves* a generous
//! range of address space per task (64 KiB by default) and lets the page-fault handler commit
//! physical pages only when the task first touches them. A task that never goes deeper than a
//! few frames costs one 4 KiB page, however large its reservation. Lesson 02 builds this.
//!
//! Below each stack sits one guard page that faults on any access, so running off the end of a
//! stack is a crash the overflow handler (`signal.rs`) can name, never a silent write into the
//! neighbouring stack. One page is enough because Rust inserts *stack probes* into every function
//! whose frame is larger than a page: the probe touches the new frame one page at a time from the
//! top down, so even a 1 MiB local array hits the guard page before it can skip past it.
//!
//! Guard pages are installed with `madvise(MADV_GUARD_INSTALL)` (Linux ≥ 6.13), which marks the
//! page in the page table without creating a new memory mapping. The classic way,
//! `mprotect(PROT_NONE)`, splits the mapping in two for every guard; Linux caps a process at
//! `vm.max_map_count` (65,530 by default) mappings, so mprotect guards stop at about 32,700 stacks.
//! goro falls back to `mprotect` on older kernels and reports which kind is in use
//! ([`GuardKind`], `goro::debug::stats()`). Setting the environment variable
//! `GORO_STACK_GUARD=mprotect` forces the fallback, so the limit can be observed (lesson 14);
//! any other value, or none, means the default (guard markers where the kernel has them). Guard
//! markers for a batch of new stacks go to the kernel in one `process_madvise` call.
//!
//! With `mprotect` guards goro stops carving stacks while 4,096 mappings are still free, so that
//! `malloc` and new threads never find the process out of mappings (which aborts it): about
//! 30,700 stacks fit under the default limit ([`max_guarded_stacks`]). A task that finds no stack
//! does not run; its `join` returns an error naming `vm.max_map_count` and
//! `GORO_STACK_GUARD`, and the first such failure is reported once on stderr. On such a kernel,
//! raise the limit (`sudo sysctl vm.max_map_count=2200000` fits a million stacks) or run fewer
//! tasks at a time.
//!
//! Pooled stacks are separated by a guard [`POOL_GUARD_PAGES`] pages wide rather than one:
//! code without stack probes (C) can move the stack pointer by more than a page in one frame,
//! and a wider guard catches that too. It costs no memory (and, with guard markers, no mapping).
//!
//! [`Stack::new`] makes a standalone stack with its own mapping (what the lessons use). The
//! runtime gets its stacks from a pool instead (`pool.rs`): one `mmap` per slab of many stacks,
//! a per-thread cache in front of a global free list, and pages handed back to the kernel
//! (`MADV_DONTNEED`, whole slabs with `munmap`) past a high-water mark.

use std::fmt;
use std::io;
use std::ops::Range;
use std::ptr;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};

mod pool;

pub(crate) use pool::{pool_get, spill_if_tight, stats, trim};

/// `madvise` advice that installs guard markers (Linux ≥ 6.13; not yet in the `libc` crate).
const MADV_GUARD_INSTALL: libc::c_int = 102;

/// Pages of guard below each *pooled* stack. Rust's stack probes make one page enough for Rust
/// frames, but C code (or Rust built without probes) can move the stack pointer by more than a
/// page in one frame and land in the neighbouring slot's live stack. A wider guard catches
/// frames up to this size. It costs no memory and, with `MADV_GUARD_INSTALL`, no memory mapping
/// (with `mprotect` a wide guard is still one mapping): only address space, and 8 bytes of
/// page table per guard page (24 bytes per task more than a one-page guard).
pub const POOL_GUARD_PAGES: usize = 4;

/// The largest stack goro will reserve for one task: far beyond any sane recursion depth, small
/// enough that size arithmetic can never overflow.
const MAX_STACK: usize = 1 << 36; // 64 GiB

/// The size of a memory page in bytes (4096 on x86-64 Linux).
///
/// Stacks are reserved, committed and guarded in whole pages.
#[inline]
pub fn page_size() -> usize {
    static PAGE: AtomicUsize = AtomicUsize::new(0);
    match PAGE.load(Ordering::Relaxed) {
        0 => {
            // SAFETY: sysconf has no preconditions; _SC_PAGESIZE is always supported.
            let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
            let page = if page > 0 { page as usize } else { 4096 };
            PAGE.store(page, Ordering::Relaxed);
            page
        }
        page => page,
    }
}

/// How guard pages are installed in this process.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum GuardKind {
    /// `madvise(MADV_GUARD_INSTALL)`: a marker in the page table, no extra memory mapping
    /// (Linux ≥ 6.13). A million guarded stacks fit in one mapping.
    MadvGuard,
    /// `mprotect(PROT_NONE)`: one extra mapping per guard, so `vm.max_map_count` limits the
    /// number of stacks (about 32,700 with the default 65,530).
    Mprotect,
}

impl fmt::Display for GuardKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            GuardKind::MadvGuard => "MADV_GUARD_INSTALL",
            GuardKind::Mprotect => "mprotect(PROT_NONE)",
        })
    }
}

const GUARD_UNKNOWN: u8 = 0;
const GUARD_MADV: u8 = 1;
const GUARD_MPROTECT: u8 = 2;
static GUARD: AtomicU8 = AtomicU8::new(GUARD_UNKNOWN);

/// The kind of guard page this process installs (decided by the first stack it makes).
///
/// Before any stack exists this reports what the first stack will try: `MadvGuard`, unless
/// `GORO_STACK_GUARD=mprotect` is set.
pub fn guard_kind() -> GuardKind {
    match GUARD.load(Ordering::Relaxed) {
        GUARD_MPROTECT => GuardKind::Mprotect,
        GUARD_MADV => GuardKind::MadvGuard,
        _ if forced_mprotect() => GuardKind::Mprotect,
        _ => GuardKind::MadvGuard,
    }
}

fn forced_mprotect() -> bool {
    std::env::var_os("GORO_STACK_GUARD").is_some_and(|v| v == "mprotect")
}

/// Makes `[addr, addr + len)` fault on every access, with the cheapest mechanism the kernel has.
///
/// `addr` and `len` must be page aligned and lie inside a mapping this module owns.
pub(crate) fn install_guard(addr: usize, len: usize) -> io::Result<GuardKind> {
    let mut state = GUARD.load(Ordering::Relaxed);
    if state == GUARD_UNKNOWN && forced_mprotect() {
        GUARD.store(GUARD_MPROTECT, Ordering::Relaxed);
        state = GUARD_MPROTECT;
    }
    if state != GUARD_MPROTECT {
        loop {
            // SAFETY: the range is page aligned and inside a private anonymous mapping we own;
            // guard markers only change how the range faults, never memory in use elsewhere.
            let rc = unsafe { libc::madvise(addr as *mut libc::c_void, len, MADV_GUARD_INSTALL) };
            if rc == 0 {
                GUARD.store(GUARD_MADV, Ordering::Relaxed);
                return Ok(GuardKind::MadvGuard);
            }
            let err = io::Error::last_os_error();
            match err.raw_os_error() {
                // The kernel may ask us to retry while it races with page faults.
                Some(libc::EINTR) | Some(libc::EAGAIN) => continue,
                // Kernels before 6.13 do not know the advice: fall back to mprotect for good.
                Some(libc::EINVAL) => {
                    GUARD.store(GUARD_MPROTECT, Ordering::Relaxed);
                    break;
                }
                _ => {
                    return Err(io::Error::new(
                        err.kind(),
                        format!("installing a stack guard page with madvise failed: {err}"),
                    ));
                }
            }
        }
    }
    // Each mprotect guard splits a mapping in two; stop while the process still has mappings
    // to spare (rule: never let stacks use up what `malloc` and thread creation need).
    let limit = mprotect_limit();
    let before = MPROTECT_GUARDS.fetch_add(1, Ordering::Relaxed);
    if before >= limit && !cache_overdraft(before, limit) {
        MPROTECT_GUARDS.fetch_sub(1, Ordering::Relaxed);
        return Err(map_limit_error(None));
    }
    // SAFETY: as above; PROT_NONE on our own page-aligned range only removes access.
    let rc = unsafe { libc::mprotect(addr as *mut libc::c_void, len, libc::PROT_NONE) };
    if rc != 0 {
        MPROTECT_GUARDS.fetch_sub(1, Ordering::Relaxed);
        let err = io::Error::last_os_error();
        if err.raw_os_error() == Some(libc::ENOMEM) {
            return Err(map_limit_error(Some(err)));
        }
        return Err(io::Error::new(
            err.kind(),
            format!("installing a stack guard page with mprotect failed: {err}"),
        ));
    }
    Ok(GuardKind::Mprotect)
}

/// Whether a guard past the limit may still be installed because free stacks sitting in
/// threads' caches hold that much of the budget: the limit counts stacks in use, and a stack a
/// busy worker cached but will not use before another worker needs one must not be what makes
/// that worker fail. Bounded by [`CACHE_OVERDRAFT`], a small part of [`SPARE_MAPPINGS`]. Cold:
/// only reached once the limit is hit.
#[cold]
fn cache_overdraft(guards: usize, limit: usize) -> bool {
    guards < limit + CACHE_OVERDRAFT && guards - pool::cached_in_threads().min(guards) < limit
}

/// Stacks past [`mprotect_limit`] that may be carved to stand in for stacks stranded in
/// threads' caches (each costs two of the [`SPARE_MAPPINGS`]).
const CACHE_OVERDRAFT: usize = 256;

/// Live `mprotect` guard pages (each costs about two memory mappings).
static MPROTECT_GUARDS: AtomicUsize = AtomicUsize::new(0);

/// Mappings left for everything else in the process (`malloc`'s large blocks and arenas,
/// thread stacks, files) when stacks stop being carved.
const SPARE_MAPPINGS: usize = 4096;

/// `vm.max_map_count` as the kernel reports it (65,530 if it cannot be read).
fn max_map_count() -> usize {
    static MAX: AtomicUsize = AtomicUsize::new(0);
    match MAX.load(Ordering::Relaxed) {
        0 => {
            let max = std::fs::read_to_string("/proc/sys/vm/max_map_count")
                .ok()
                .and_then(|s| s.trim().parse().ok())
                .unwrap_or(65_530);
            MAX.store(max, Ordering::Relaxed);
            max
        }
        max => max,
    }
}

/// How many `mprotect`-guarded stacks may exist at once: half of the mappings the kernel allows
/// a process, after keeping [`SPARE_MAPPINGS`] for the rest of the program.
fn mprotect_limit() -> usize {
    max_map_count().saturating_sub(SPARE_MAPPINGS) / 2
}

/// How many guarded stacks fit in this process at once, if the kernel limits it.
///
/// `None` with `MADV_GUARD_INSTALL` guards, which cost no memory mapping: stacks are then
/// limited only by memory. With `mprotect` guards (Linux before 6.13, or
/// `GORO_STACK_GUARD=mprotect`) every stack costs about two of the `vm.max_map_count` mappings
/// a process may have, so about 30,700 stacks fit under the default limit of 65,530; goro stops
/// carving stacks while a few thousand mappings are still free for the rest of the program.
/// That many stacks fit however many workers cache free stacks: near the limit the caches
/// shrink, an idle worker hands its cache back, and goro may carve up to 256 stacks past the
/// limit (out of the mappings kept free) to stand in for stacks still sitting in busy workers'
/// caches, so a few more than this may start.
/// A task that finds no stack does not run: its `join` returns `Err` naming the limit, and the
/// first such failure is reported once on stderr. To run more tasks at once on such a kernel,
/// raise the limit (`sudo sysctl vm.max_map_count=2200000` fits a million stacks) or run fewer
/// tasks at a time.
pub fn max_guarded_stacks() -> Option<usize> {
    match guard_kind() {
        GuardKind::MadvGuard => None,
        GuardKind::Mprotect => Some(mprotect_limit()),
    }
}

/// With `mprotect` guards, how many more guards fit under the mapping budget; `None` with guard
/// markers (no budget).
pub(crate) fn mprotect_guards_left() -> Option<usize> {
    (GUARD.load(Ordering::Relaxed) == GUARD_MPROTECT)
        .then(|| mprotect_limit().saturating_sub(MPROTECT_GUARDS.load(Ordering::Relaxed)))
}

/// Forgets `n` guard pages whose mappings were unmapped (no-op with guard markers).
pub(crate) fn guards_removed(n: usize) {
    if GUARD.load(Ordering::Relaxed) == GUARD_MPROTECT {
        MPROTECT_GUARDS.fetch_sub(n, Ordering::Relaxed);
    }
}

/// The error for a stack that cannot get an `mprotect` guard because the process is (nearly)
/// out of memory mappings: says why, how many stacks fit, and what to do.
#[cold]
fn map_limit_error(os: Option<io::Error>) -> io::Error {
    let os = os.map(|e| format!(" ({e})")).unwrap_or_default();
    io::Error::new(
        io::ErrorKind::OutOfMemory,
        format!(
            "no memory mapping left for another stack guard page{os}: guard pages are made with \
             mprotect (GORO_STACK_GUARD=mprotect, or a Linux kernel older than 6.13 without \
             MADV_GUARD_INSTALL), each stack costs two of the vm.max_map_count = {max} mappings \
             a process may have, so at most {fit} stacks fit at once and {live} are in use \
             ({cached} of them free in threads' stack caches). Run \
             fewer tasks at a time, or raise the limit (`sudo sysctl vm.max_map_count=2200000` \
             fits a million stacks), or use Linux >= 6.13",
            max = max_map_count(),
            fit = mprotect_limit(),
            live = MPROTECT_GUARDS.load(Ordering::Relaxed),
            cached = pool::cached_in_threads(),
        ),
    )
}

/// Installs a guard of `len` bytes at each address in `pages` (page aligned, inside mappings
/// this module owns). With guard markers, up to 1,024 guards go to the kernel in one
/// `process_madvise` call instead of one `madvise` each; if that is not possible, each page is
/// guarded on its own. On error, the first `*done` pages are guarded (the caller keeps them:
/// an `mprotect` guard is counted against the mapping budget until its mapping goes away).
pub(crate) fn install_guards(
    pages: &[usize],
    len: usize,
    done: &mut usize,
) -> io::Result<GuardKind> {
    *done = 0;
    if pages.len() > 1 && GUARD.load(Ordering::Relaxed) == GUARD_MADV && batch_guards(pages, len) {
        *done = pages.len();
        return Ok(GuardKind::MadvGuard);
    }
    let mut kind = guard_kind();
    for &lo in pages {
        kind = install_guard(lo, len)?;
        *done += 1;
    }
    Ok(kind)
}

/// Guard markers for many guards of `len` bytes in as few system calls as possible.
fn batch_guards(pages: &[usize], len: usize) -> bool {
    let ranges: Vec<(usize, usize)> = pages.iter().map(|&lo| (lo, len)).collect();
    advise_ranges(&ranges, MADV_GUARD_INSTALL)
}

/// Bytes of guard below a pooled stack ([`POOL_GUARD_PAGES`] pages).
#[inline]
pub(crate) fn pool_guard() -> usize {
    POOL_GUARD_PAGES * page_size()
}

/// Applies `advice` to every `(start, len)` range with `process_madvise` on our own process,
/// 1,024 ranges per call (the kernel's iovec limit), so that the kernel takes its locks and
/// flushes TLBs once per batch instead of once per range. Returns false if the kernel refused
/// (no pidfd_open, or a kernel that does not accept this advice here); the caller then falls
/// back to one `madvise` per range. The advice must be one that is harmless to repeat, since a
/// refused batch may have been partly applied.
pub(crate) fn advise_ranges(ranges: &[(usize, usize)], advice: libc::c_int) -> bool {
    let Some(pidfd) = self_pidfd() else {
        return false;
    };
    let mut iov = Vec::with_capacity(ranges.len().min(1024));
    for chunk in ranges.chunks(1024) {
        iov.clear();
        iov.extend(chunk.iter().map(|&(start, len)| libc::iovec {
            iov_base: start as *mut libc::c_void,
            iov_len: len,
        }));
        let want: usize = chunk.iter().map(|&(_, len)| len).sum();
        loop {
            // SAFETY: the callers pass page-aligned ranges of private mappings this module owns
            // that nothing is using, and `pidfd` refers to this very process (checked against
            // getpid in self_pidfd).
            let done = unsafe {
                libc::syscall(
                    libc::SYS_process_madvise,
                    pidfd,
                    iov.as_ptr(),
                    iov.len(),
                    advice,
                    0,
                )
            };
            if done >= 0 && done as usize == want {
                break;
            }
            let again = done < 0
                && matches!(
                    io::Error::last_os_error().raw_os_error(),
                    Some(libc::EINTR) | Some(libc::EAGAIN)
                );
            if !again {
                return false;
            }
        }
    }
    true
}

/// A pidfd for this process, opened once. Rechecked against `getpid()` so that a forked child
/// never advises its parent's memory through an inherited descriptor.
fn self_pidfd() -> Option<libc::c_int> {
    use std::sync::atomic::AtomicI64;
    // (pid << 32) | fd, or -1 when the kernel has no pidfd_open / process_madvise.
    static PIDFD: AtomicI64 = AtomicI64::new(0);
    // SAFETY: getpid has no preconditions.
    let pid = unsafe { libc::getpid() } as i64;
    let cached = PIDFD.load(Ordering::Relaxed);
    if cached == -1 {
        return None;
    }
    if cached != 0 && cached >> 32 == pid {
        return Some(cached as u32 as libc::c_int);
    }
    // SAFETY: pidfd_open on our own pid; the descriptor is close-on-exec by default.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    if fd < 0 {
        PIDFD.store(-1, Ordering::Relaxed);
        return None;
    }
    // Two threads may race here and each open one; the loser's descriptor stays open for the
    // life of the process, which is harmless.
    PIDFD.store((pid << 32) | fd as i64, Ordering::Relaxed);
    Some(fd as libc::c_int)
}

/// Reserves `len` bytes of address space: readable and writable, but backed by physical pages
/// only once touched, and not charged against the commit limit (`MAP_NORESERVE`).
pub(crate) fn reserve(len: usize) -> io::Result<usize> {
    // SAFETY: an anonymous private mapping at an address of the kernel's choosing cannot alias
    // any existing memory.
    let p = unsafe {
        libc::mmap(
            ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE | libc::MAP_STACK,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        let err = io::Error::last_os_error();
        return Err(io::Error::new(
            err.kind(),
            format!("reserving {len} bytes of stack address space with mmap failed: {err}"),
        ));
    }
    // Where transparent huge pages are "always" on, one touched byte could otherwise cost a
    // whole 2 MiB page shared by several stacks, none of which needs it. Failure only costs
    // memory.
    // SAFETY: advice on the mapping just created; it changes no contents.
    unsafe { libc::madvise(p, len, libc::MADV_NOHUGEPAGE) };
    Ok(p as usize)
}

/// Gives a range obtained from [`reserve`] back to the kernel.
///
/// # Safety
/// Nothing may use any byte of `[addr, addr + len)` afterwards.
pub(crate) unsafe fn unreserve(addr: usize, len: usize) {
    // SAFETY: the caller promises the range is ours and unused. munmap can only fail for
    // invalid arguments, which would be a bug in this module.
    let rc = unsafe { libc::munmap(addr as *mut libc::c_void, len) };
    debug_assert_eq!(rc, 0, "munmap of a stack range failed");
}

/// Rounds a requested stack size up to whole pages, rejecting sizes that make no sense.
#[inline]
pub(crate) fn usable_len(size: usize) -> io::Result<usize> {
    let page = page_size();
    if size.wrapping_sub(1) < MAX_STACK && size & (page - 1) == 0 {
        return Ok(size); // the common case: a whole number of pages
    }
    bad_or_rounded_len(size, page)
}

#[cold]
fn bad_or_rounded_len(size: usize, page: usize) -> io::Result<usize> {
    if size == 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "stack size 0 is too small: a stack needs at least one page; \
             64 KiB (64 * 1024) is goro's default",
        ));
    }
    if size > MAX_STACK {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "stack size {size} bytes is larger than goro's limit of {MAX_STACK} bytes (64 GiB); \
                 a task that needs more should keep its data on the heap (Vec, Box)"
            ),
        ));
    }
    Ok(size.div_ceil(page) * page)
}

/// A task stack: a guard page followed by `len()` usable bytes, committed lazily.
///
/// ```text
///  guard().start   bottom()                                   top()
///  |  guard page   |  usable bytes: untouched pages cost nothing  |
///  +---------------+----------------------------------------------+
///  low addresses                           stacks grow downwards <-
/// ```
///
/// A `Stack` only hands out addresses; running code on it (lesson 03, `goro::coroutine`) is the
/// unsafe part. Dropping it unmaps a standalone stack, or returns a pooled one to the pool.
///
/// ```
/// let stack = goro::stack::Stack::new(64 * 1024)?;
/// assert_eq!(stack.top() - stack.bottom(), stack.len());
/// assert_eq!(stack.guard().end, stack.bottom());
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Stack {
    /// Lowest address of the guard page.
    lo: usize,
    /// Usable bytes above the guard page (a multiple of the page size).
    len: usize,
    /// Bytes of guard below the stack (kept here, so `bottom` is one addition).
    guard_len: u32,
    /// Whether the stack came from the pool (and goes back to it) or owns its mapping.
    pooled: bool,
}

impl Stack {
    /// Reserves a standalone stack of at least `size` usable bytes (rounded up to whole pages)
    /// plus a guard page below it, in a mapping of its own.
    ///
    /// Nothing is committed yet: the pages are filled in by the kernel as the stack is touched.
    /// Errors if `size` is 0 or absurdly large, if the address space is exhausted, or if the
    /// guard page cannot be installed (with `mprotect` guards: too many mappings).
    pub fn new(size: usize) -> io::Result<Stack> {
        let len = usable_len(size)?;
        let page = page_size();
        let lo = reserve(len + page)?;
        if let Err(err) = install_guard(lo, page) {
            // SAFETY: the mapping was created just above and nothing else knows of it.
            unsafe { unreserve(lo, len + page) };
            return Err(err);
        }
        pool::standalone_created();
        Ok(Stack {
            lo,
            len,
            guard_len: page as u32,
            pooled: false,
        })
    }

    /// Takes a stack of at least `size` usable bytes from the pool the runtime uses for its tasks.
    ///
    /// Much cheaper than [`Stack::new`] when a stack of the same size was dropped recently on this
    /// thread (a pop from a thread-local list); otherwise it is carved from a shared slab, whose
    /// single mapping holds many stacks, each with its own guard page. Dropping the stack returns
    /// it to the pool; its pages may keep their contents until the pool gives them back to the
    /// kernel, so never rely on a pooled stack being zeroed.
    pub fn pooled(size: usize) -> io::Result<Stack> {
        pool::pool_get(size)
    }

    /// Wraps a pooled slot. Only the pool calls this.
    pub(crate) fn from_pool(lo: usize, len: usize) -> Stack {
        Stack {
            lo,
            len,
            guard_len: pool_guard() as u32,
            pooled: true,
        }
    }

    /// One past the highest usable byte: the initial stack pointer (stacks grow down).
    /// Page aligned, hence 16-byte aligned as the x86-64 and AArch64 ABIs require.
    pub fn top(&self) -> usize {
        self.bottom() + self.len
    }

    /// Where a task's first frame starts: [`top`](Self::top) lowered by 0 to 15 cache lines,
    /// the same amount every time for the same stack, different from stack to stack.
    ///
    /// Every stack's top is page aligned, and a task parks at about the same depth every time
    /// (some 400-1,100 bytes below where it started). Started right at `top`, the registers and
    /// frames of every parked task sit at the same offsets within a page, and caches pick the
    /// set a line goes into from exactly those address bits: a thousand parked tasks share a
    /// handful of sets and evict each other, while the rest of the cache stays empty. A ring of
    /// 503 tasks passing a token (`goro-bench`'s thread-ring) ran 1.5-2.4x slower that way.
    /// Staggering the start by a multiple of 64 bytes spreads them over 16 times as many sets.
    /// Go's goroutines line up less: a parked goroutine's saved registers live in its `g`
    /// struct on the heap, and only its frames stay on its stack.
    ///
    /// The stagger is at most 960 bytes, inside the top page, so a task that fit in one page
    /// still does unless it was within a kilobyte of the page's end; it is under a quarter
    /// of the smallest stack (one page) and keeps 16-byte alignment.
    pub(crate) fn staggered_top(&self) -> usize {
        // Fibonacci hashing of the page number: neighbouring slots get unrelated staggers.
        let page = (self.lo / page_size()) as u64;
        let lines = page.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 60; // 0..=15
        self.top() - lines as usize * 64
    }

    /// The lowest usable byte, just above the guard (one page for a standalone stack,
    /// [`POOL_GUARD_PAGES`] for a pooled one).
    pub fn bottom(&self) -> usize {
        self.lo + self.guard_len as usize
    }

    /// Usable bytes between [`bottom`](Self::bottom) and [`top`](Self::top), guard excluded.
    #[allow(clippy::len_without_is_empty)] // a stack is never empty
    pub fn len(&self) -> usize {
        self.len
    }

    /// The guard below the stack: any access to these addresses faults.
    pub fn guard(&self) -> Range<usize> {
        self.lo..self.bottom()
    }

    /// Whether this stack came from the runtime's pool rather than [`Stack::new`].
    pub fn is_pooled(&self) -> bool {
        self.pooled
    }
}

impl fmt::Debug for Stack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stack")
            .field("bottom", &format_args!("{:#x}", self.bottom()))
            .field("top", &format_args!("{:#x}", self.top()))
            .field("len", &self.len)
            .field("pooled", &self.pooled)
            .finish()
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        if self.pooled {
            pool::put(self.lo, self.len);
        } else {
            // SAFETY: a standalone stack owns its mapping, and the borrow checker guarantees no
            // `&Stack` outlives it. Code that ran on the stack (lesson 03) must have finished or
            // been abandoned before the stack is dropped: that is the coroutine's contract.
            unsafe { unreserve(self.lo, self.len + page_size()) };
            guards_removed(1);
            pool::standalone_dropped();
        }
    }
}
