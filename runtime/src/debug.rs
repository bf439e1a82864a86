//! Introspection: how many goroutines are alive, what each one is doing, and runtime counters.
//!
//! [`dump`] prints every live task the way Go prints goroutines after a crash or on `SIGQUIT`:
//! its id, its state (with Go's wait reason and how many minutes it has waited), its name,
//! the line it is blocked at, the stack it has touched, and who created it where. Go prints a
//! stack trace per goroutine; goro cannot walk another task's stack safely, so it records the
//! two lines a reader looks for first: the blocking call's caller (`#[track_caller]` on every
//! public blocking API, one pointer stored per park) and the spawn site. `block_on` uses the
//! same text in its deadlock report. [`num_goroutines`] is the number leak
//! tests watch; [`stats`] gathers counters from the scheduler and the stack layer.
//!
//! Go counterpart: `runtime.NumGoroutine`, `runtime.Stack(buf, true)` / `GOTRACEBACK`, and the
//! `checkdead` message "all goroutines are asleep - deadlock!". Lesson: 16 (debugging).

use std::fmt;
use std::time::Duration;

use crate::sched;
use crate::stack::GuardKind;

/// Counters from the runtime and its stack layer. `Display` prints one `key: value` per line.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// How guard pages are installed (`MADV_GUARD_INSTALL`, or `mprotect` on older kernels).
    pub guard: GuardKind,
    /// Free stacks kept for reuse.
    pub stacks_pooled: usize,
    /// Stacks in use (by tasks, or standalone ones).
    pub stacks_live: usize,
    /// Slabs (large mappings stacks are carved from) currently mapped.
    pub slabs: usize,
    /// Address space reserved by slabs, in bytes (virtual, not resident).
    pub reserved_bytes: usize,
    /// Worker threads of the current runtime (0 outside a runtime).
    pub workers: usize,
    /// Tasks spawned in the current run, the main task included.
    pub tasks_spawned: u64,
    /// Live tasks in the current run.
    pub tasks_live: usize,
    /// Tasks moved by work stealing in the current run.
    pub steals: u64,
    /// Whether the current runtime is deterministic.
    pub deterministic: bool,
    /// Spare threads started for [`task::blocking`](crate::task::blocking()) in the current run.
    pub blocking_threads: usize,
    /// Stack bytes the live started tasks have touched, summed (resident pages of their
    /// stacks; see [`dump`] for the same number per task).
    pub stack_touched_bytes: usize,
    /// The most stack any one live task has touched: size `stack_size` from this, with room
    /// to spare (a task that touches its guard page is stopped with an overflow report).
    pub stack_touched_max: usize,
    /// Usable stack bytes the live started tasks have reserved, summed (virtual).
    pub stack_reserved_bytes: usize,
}

impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "guard: {}", self.guard)?;
        writeln!(f, "stacks_live: {}", self.stacks_live)?;
        writeln!(f, "stacks_pooled: {}", self.stacks_pooled)?;
        writeln!(f, "slabs: {}", self.slabs)?;
        writeln!(f, "reserved_bytes: {}", self.reserved_bytes)?;
        writeln!(f, "workers: {}", self.workers)?;
        writeln!(f, "tasks_spawned: {}", self.tasks_spawned)?;
        writeln!(f, "tasks_live: {}", self.tasks_live)?;
        writeln!(f, "steals: {}", self.steals)?;
        writeln!(f, "deterministic: {}", self.deterministic)?;
        writeln!(f, "blocking_threads: {}", self.blocking_threads)?;
        writeln!(f, "stack_touched_bytes: {}", self.stack_touched_bytes)?;
        writeln!(f, "stack_touched_max: {}", self.stack_touched_max)?;
        write!(f, "stack_reserved_bytes: {}", self.stack_reserved_bytes)
    }
}

/// Gathers the counters. Outside a runtime the scheduler fields are zero.
///
/// The stack-use fields walk every live task and ask the kernel which stack pages are
/// resident (`mincore(2)`, one call per run of neighbouring stacks): cheap for thousands of
/// tasks, about a second for a million.
pub fn stats() -> Stats {
    let stack = crate::stack::stats();
    let ranges: Vec<(usize, usize)> = sched::with_shared(|s| {
        s.snapshot()
            .iter()
            .filter_map(|t| t.stack_range())
            .collect()
    })
    .unwrap_or_default();
    let touched = touched_many(&ranges);
    let (workers, tasks_spawned, tasks_live, steals, deterministic, blocking_threads) =
        sched::with_shared(|s| {
            (
                s.worker_count(),
                s.tasks_spawned(),
                s.live_tasks(),
                s.steals(),
                s.is_deterministic(),
                s.blocking.threads_started(),
            )
        })
        .unwrap_or((0, 0, 0, 0, false, 0));
    Stats {
        guard: stack.guard,
        stacks_pooled: stack.pooled,
        stacks_live: stack.live,
        slabs: stack.slabs,
        reserved_bytes: stack.reserved_bytes,
        workers,
        tasks_spawned,
        tasks_live,
        steals,
        deterministic,
        blocking_threads,
        stack_touched_bytes: touched.iter().sum(),
        stack_touched_max: touched.iter().copied().max().unwrap_or(0),
        stack_reserved_bytes: ranges.iter().map(|r| r.1).sum(),
    }
}

/// A byte count as a dump shows it: `4 KiB`, `256 KiB`, `8 MiB` (rounded up to KiB).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Bytes(pub(crate) usize);

impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const MIB: usize = 1 << 20;
        let n = self.0;
        if n >= MIB && n.is_multiple_of(MIB) {
            write!(f, "{} MiB", n / MIB)
        } else {
            write!(f, "{} KiB", n.div_ceil(1024))
        }
    }
}

/// Bytes of `[lo, lo + len)` (a task's stack) that are resident: the pages the task touched.
/// Stacks are committed lazily, one page at the first touch (lesson 02), so this is the stack
/// the task has used at its deepest, rounded up to pages. A stack reused from the pool may
/// still hold pages an earlier task touched (until the pool releases them): an upper bound.
/// None if the range is not mapped any more (the task finished meanwhile).
pub(crate) fn touched_bytes(lo: usize, len: usize) -> Option<usize> {
    let page = crate::stack::page_size();
    if !lo.is_multiple_of(page) || len == 0 {
        return None;
    }
    let pages = len.div_ceil(page);
    let mut vec = vec![0u8; pages];
    // SAFETY: mincore only reads the page tables for the range and writes one byte per page
    // into `vec`, which has room for exactly `pages` bytes. An unmapped range is an error
    // (ENOMEM), never a fault.
    let rc = unsafe { libc::mincore(lo as *mut libc::c_void, len, vec.as_mut_ptr()) };
    (rc == 0).then(|| vec.iter().filter(|&&b| b & 1 != 0).count() * page)
}

/// [`touched_bytes`] for many stacks, in order, with few system calls: stacks carved from
/// one slab lie next to each other (a guard page apart), so neighbours are asked about in
/// one `mincore` call over the run they form (guard pages are never resident).
fn touched_many(ranges: &[(usize, usize)]) -> Vec<usize> {
    let page = crate::stack::page_size();
    let mut order: Vec<usize> = (0..ranges.len()).collect();
    order.sort_unstable_by_key(|&i| ranges[i].0);
    let mut out = vec![0; ranges.len()];
    let mut i = 0;
    while i < order.len() {
        // A run: each next stack starts at most one guard page after the previous ends.
        let lo = ranges[order[i]].0;
        let mut hi = lo + ranges[order[i]].1;
        let mut j = i + 1;
        while j < order.len() && ranges[order[j]].0 >= hi && ranges[order[j]].0 <= hi + page {
            hi = ranges[order[j]].0 + ranges[order[j]].1;
            j += 1;
        }
        let pages = (hi - lo).div_ceil(page);
        let mut vec = vec![0u8; pages];
        let rc = if lo.is_multiple_of(page) {
            // SAFETY: as in `touched_bytes`: `vec` has one byte per page of the range.
            unsafe { libc::mincore(lo as *mut libc::c_void, hi - lo, vec.as_mut_ptr()) }
        } else {
            -1
        };
        for &k in &order[i..j] {
            let (slo, slen) = ranges[k];
            out[k] = if rc == 0 {
                let first = (slo - lo) / page;
                let n = slen.div_ceil(page);
                vec[first..first + n]
                    .iter()
                    .filter(|&&b| b & 1 != 0)
                    .count()
                    * page
            } else {
                // Not one mapping after all (or gone): ask per stack.
                touched_bytes(slo, slen).unwrap_or(0)
            };
        }
        i = j;
    }
    out
}

/// Live tasks in the current runtime, the main task included (0 outside a runtime).
pub fn num_goroutines() -> usize {
    crate::task::num_goroutines()
}

/// A Go-style dump of every live task of the current runtime, sorted by id:
///
/// ```text
/// goroutine 1 [sync.WaitGroup.Wait]:
///     name: main
///     blocked at src/main.rs:9:8
///     stack: 8 KiB touched of 64 KiB
///     created at src/main.rs:4:5
///
/// goroutine 7 [chan receive, 5 minutes]:
///     name: worker-3
///     blocked at src/main.rs:20:13
///     stack: 12 KiB touched of 64 KiB
///     created by goroutine 1 at src/main.rs:12:9
/// ```
///
/// For each task: its id; its state, `running`, `runnable` or why it waits in Go's words
/// (`chan receive`, `chan send`, `select`, `select (no cases)`, `sleep`, `IO wait`,
/// `sync.Mutex.Lock`, `sync.RWMutex.Lock`, `sync.RWMutex.RLock`, `sync.WaitGroup.Wait`,
/// `syscall`; goro's own `join`, `context` and `park` where Go has no such wait); how long it
/// has waited, in whole minutes from the first one on, as Go prints it (the clock is
/// sampled every few milliseconds, and virtual in deterministic mode); its name; the line
/// that made it wait (the caller of the blocking call: `recv`, `send`, `select!`, `sleep`,
/// `lock`, `wait`, `join`, socket reads and writes...); how much of its stack it has touched
/// (see [`Stats::stack_touched_bytes`]); and where it was spawned, by which task. Tasks that
/// were spawned but have not started yet have no stack or state worth showing; they are
/// counted in one last line. Empty outside a runtime.
///
/// A worker that sysmon found stuck in one task for more than 10 ms is named first:
/// `worker 1: goroutine 7 (indexer) running for 2.3 s without yielding (see
/// goro::task::checkpoint)`, naming the task if it is pinned to that worker (`one task` if it
/// is a migratable one, which may run anywhere).
pub fn dump() -> String {
    sched::with_shared(|s| dump_of(s)).unwrap_or_default()
}

/// The dump of run `s`, from any thread (the SIGQUIT dump uses it: `signal/quit.rs`).
pub(crate) fn dump_of(s: &sched::Shared) -> String {
    let mut out = String::new();
    for (w, d) in s.hogs() {
        let who = match s.running_on(w) {
            Some(t) => match t.name.as_deref() {
                Some(name) => format!("goroutine {} ({name})", t.id),
                None => format!("goroutine {}", t.id),
            },
            None => "one task".to_string(),
        };
        out.push_str(&format!(
            "worker {w}: {who} running for {:.1} s without yielding (see goro::task::checkpoint)\n\n",
            d.as_secs_f64()
        ));
    }
    out.push_str(&s.dump());
    out
}

/// Fails a test that leaves goroutines behind (uber-go/goleak's `VerifyNone`): runs `f`, then
/// waits for every task spawned while it ran to finish, and panics with their dump if some are
/// still alive. Tasks alive before `f` started are not counted. The same as
/// `LeakCheck::new().run(f)`; see [`LeakCheck`] for the waiting and the allowed set.
///
/// Must be called from a task (inside `goro::run` or `Runtime::block_on`): it panics otherwise,
/// since there is no runtime to look at.
///
/// ```
/// let rt = goro::Runtime::builder().deterministic(1).build().unwrap();
/// rt.block_on(|| {
///     goro::debug::check_leaks(|| {
///         let (tx, rx) = goro::chan::bounded::<u32>(1);
///         goro::spawn(move || tx.send(7).unwrap());
///         assert_eq!(rx.recv(), Ok(7));
///     });
/// })
/// .unwrap();
/// ```
#[track_caller]
pub fn check_leaks<R>(f: impl FnOnce() -> R) -> R {
    LeakCheck::new().run(f)
}

/// A configurable leak check: which tasks may outlive the checked code, and how long to wait
/// for the others to finish.
///
/// Waiting polls with growing pauses (1 ms up to 100 ms) until no task is left or [`wait`]
/// has passed. In deterministic mode the pauses are on the virtual clock, so the check is
/// instant and gives every timer-driven task (a timeout, a retry) its chance to finish.
///
/// [`wait`]: LeakCheck::wait
#[derive(Clone, Debug)]
pub struct LeakCheck {
    allowed: Vec<String>,
    wait: Duration,
}

impl Default for LeakCheck {
    fn default() -> Self {
        Self::new()
    }
}

/// The tasks a [`LeakCheck`] found still alive: `Display` prints their dump.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Leaks {
    /// How many tasks outlived the checked code (started ones and not-yet-started ones).
    pub count: usize,
    /// Their Go-style dump (the format of [`dump`]).
    pub dump: String,
}

impl fmt::Display for Leaks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "goro: {} goroutine{} leaked (still alive after the checked code returned and the \
             check waited for them):\n\n{}",
            self.count,
            if self.count == 1 { "" } else { "s" },
            self.dump
        )
    }
}

impl std::error::Error for Leaks {}

impl LeakCheck {
    /// No task allowed to outlive the checked code; wait up to 5 seconds for them (virtual in
    /// deterministic mode).
    pub fn new() -> LeakCheck {
        LeakCheck {
            allowed: Vec::new(),
            wait: Duration::from_secs(5),
        }
    }

    /// Allows tasks named `name` to stay alive (goleak's `IgnoreTopFunction`): a pool that
    /// lives for the whole program, say.
    pub fn allow(mut self, name: impl Into<String>) -> LeakCheck {
        self.allowed.push(name.into());
        self
    }

    /// How long to wait for tasks to finish before calling them leaked.
    pub fn wait(mut self, d: Duration) -> LeakCheck {
        self.wait = d;
        self
    }

    /// Runs `f` and checks; panics with the dump of the leaked tasks (see [`check_leaks`]).
    #[track_caller]
    pub fn run<R>(&self, f: impl FnOnce() -> R) -> R {
        match self.try_run(f) {
            Ok(v) => v,
            Err(leaks) => panic!("{leaks}"),
        }
    }

    /// Runs `f` and checks; returns the leaked tasks instead of panicking.
    #[track_caller]
    pub fn try_run<R>(&self, f: impl FnOnce() -> R) -> Result<R, Leaks> {
        let me = crate::task::parking::current_header().unwrap_or_else(|| {
            panic!(
                "goro::debug::check_leaks runs only inside a goro task: call it from the \
                 closure given to goro::run or Runtime::block_on"
            )
        });
        // Tasks spawned before the check but not started yet are not in the registry: let
        // them start first, so they count as "alive before" rather than as leaks.
        for _ in 0..1000 {
            if sched::with_shared(|s| s.unstarted()).unwrap_or(0) == 0 {
                break;
            }
            crate::task::yield_now();
        }
        let before: std::collections::HashSet<u64> =
            sched::with_shared(|s| s.snapshot().iter().map(|t| t.id).collect()).unwrap_or_default();
        let before_unstarted = sched::with_shared(|s| s.unstarted()).unwrap_or(0);
        let value = f();
        let deadline = crate::time::now() + self.wait;
        let mut pause = Duration::from_millis(1);
        loop {
            let leaks = sched::with_shared(|s| {
                let left: Vec<_> = s
                    .snapshot()
                    .into_iter()
                    .filter(|t| {
                        t.id != me.id
                            && !before.contains(&t.id)
                            && !t
                                .name
                                .as_deref()
                                .is_some_and(|n| self.allowed.iter().any(|a| a == n))
                    })
                    .collect();
                let unstarted = s.unstarted().saturating_sub(before_unstarted);
                if left.is_empty() && unstarted == 0 {
                    return None;
                }
                let mut dump = s.dump_tasks(&left);
                if unstarted > 0 {
                    if !dump.is_empty() {
                        dump.push('\n');
                    }
                    dump.push_str(&format!(
                        "...and {unstarted} goroutine{} spawned but not started yet [runnable]\n",
                        if unstarted == 1 { "" } else { "s" }
                    ));
                }
                Some(Leaks {
                    count: left.len() + unstarted,
                    dump,
                })
            })
            .flatten();
            let Some(leaks) = leaks else {
                return Ok(value);
            };
            let now = crate::time::now();
            if now >= deadline {
                return Err(leaks);
            }
            crate::time::sleep(pause.min(deadline - now));
            pause = (pause * 2).min(Duration::from_millis(100));
        }
    }
}
