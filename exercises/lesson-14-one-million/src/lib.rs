//! Lesson 14: one million.
//!
//! Seed 004's demo (Go's million-goroutine demo, one of the study documents the course is
//! built from; the book's introduction lists them), on goro: launch a crowd of tasks that all wait, message some of them, shut
//! every one of them down gracefully, and print memory before, during and after. The learner
//! writes `src/demo.rs`: the plan (how many tasks this kernel allows, how large their stacks
//! are) and the run itself. Everything here is given: the instruments that measure memory the
//! way the kernel counts it, the work a messaged task does, and the [`Probe`] the run reports
//! to, which takes its own measurements so that nothing in the report is the demo's word.

use std::fmt;
use std::hint::black_box;
use std::io;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use goro::debug::Stats;
use goro::stack::GuardKind;
use goro::sys::libc;

pub mod demo;

pub use demo::{Plan, plan, run};

/// The size of a memory page in bytes (4096 on x86-64 Linux).
pub fn page_size() -> usize {
    goro::stack::page_size()
}

// ANCHOR: memory
/// What the process costs right now, as the kernel counts it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Memory {
    /// Resident bytes: pages of this process in RAM (`/proc/self/statm`, second field).
    pub rss: usize,
    /// Bytes of page tables (`VmPTE` in `/proc/self/status`). `rss` does not include them, yet
    /// every touched stack needs some: one 4 KiB page-table page maps 2 MiB of address space.
    pub page_tables: usize,
    /// Memory mappings (VMAs): the lines of `/proc/self/maps`. The kernel allows a process
    /// `vm.max_map_count` of them.
    pub mappings: usize,
}

impl Memory {
    /// Reads the three numbers from `/proc/self`.
    pub fn now() -> Memory {
        let statm = read("/proc/self/statm");
        let pages: usize = statm
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .expect("/proc/self/statm has a resident field");
        let status = read("/proc/self/status");
        let pte_kib: usize = status
            .lines()
            .find_map(|l| l.strip_prefix("VmPTE:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0);
        let mappings = read("/proc/self/maps").lines().count();
        Memory {
            rss: pages * page_size(),
            page_tables: pte_kib * 1024,
            mappings,
        }
    }

    /// Resident bytes plus page tables: what the process really holds.
    pub fn total(&self) -> usize {
        self.rss + self.page_tables
    }
}
// ANCHOR_END: memory

fn read(path: &str) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {path} ({e}): this lesson needs Linux's /proc"))
}

// ANCHOR: kernel
/// What the kernel allows this process, as far as stacks are concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Kernel {
    /// How goro installs guard pages here (`GORO_STACK_GUARD=mprotect` forces the old way).
    pub guard: GuardKind,
    /// `vm.max_map_count`: the most mappings (VMAs) a process may have (65,530 by default).
    pub max_map_count: usize,
    /// Mappings the process has already (code, heap, thread stacks, libraries...).
    pub mappings: usize,
    /// The page size, in bytes.
    pub page_size: usize,
}

impl Kernel {
    /// This process on this kernel, right now.
    pub fn this() -> Kernel {
        let max_map_count = std::fs::read_to_string("/proc/sys/vm/max_map_count")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(65_530);
        Kernel {
            guard: goro::stack::guard_kind(),
            max_map_count,
            mappings: Memory::now().mappings,
            page_size: page_size(),
        }
    }
}
// ANCHOR_END: kernel

// ANCHOR: handle
/// The work a messaged task does: a digest of the message, computed with a 24 KiB scratch
/// buffer on the task's own stack (as real code does when it parses or formats something).
/// Every call is counted, with the task it ran on, so tests can see who did the work.
pub fn handle(msg: u64) -> u64 {
    let mut scratch = [0u8; 24 * 1024];
    for (i, b) in scratch.iter_mut().enumerate() {
        *b = (msg as u8) ^ (i as u8);
    }
    let scratch = black_box(&scratch);
    let mut digest = 0xcbf2_9ce4_8422_2325_u64 ^ msg;
    for chunk in scratch.chunks(4096) {
        digest = (digest ^ u64::from(chunk[chunk.len() - 1])).wrapping_mul(0x0000_0100_0000_01b3);
    }
    HANDLED.fetch_add(1, Ordering::Relaxed);
    if goro::runtime::in_runtime() && goro::current().id().as_u64() != 1 {
        HANDLED_BY_TASKS.fetch_add(1, Ordering::Relaxed);
    }
    digest
}
// ANCHOR_END: handle

static HANDLED: AtomicU64 = AtomicU64::new(0);
static HANDLED_BY_TASKS: AtomicU64 = AtomicU64::new(0);

/// Calls of [`handle`] so far in this process: (all calls, calls made by tasks other than main).
pub fn handled() -> (u64, u64) {
    (
        HANDLED.load(Ordering::Relaxed),
        HANDLED_BY_TASKS.load(Ordering::Relaxed),
    )
}

// ANCHOR: measure_stack
/// Runs `f` on a fresh 1 MiB stack (a coroutine, as in lesson 03) and returns how many bytes
/// of that stack it touched, in whole pages: the evidence for choosing a stack size.
pub fn measure_stack<F: FnOnce() + Send + 'static>(f: F) -> io::Result<usize> {
    let stack = goro::stack::Stack::new(1 << 20)?;
    let (bottom, top) = (stack.bottom(), stack.top());
    let mut co = goro::coroutine::Coroutine::new(stack, move |_| f());
    co.resume();
    let page = page_size();
    let pages = (top - bottom) / page;
    let mut flags = vec![0u8; pages];
    // SAFETY: `flags` has one byte per page of `bottom..top`, which is mapped (the coroutine
    // still owns its stack); mincore only reads page tables.
    let rc = unsafe {
        libc::mincore(
            bottom as *mut libc::c_void,
            top - bottom,
            flags.as_mut_ptr(),
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(flags.iter().filter(|f| **f & 1 == 1).count() * page)
}
// ANCHOR_END: measure_stack

/// The memory and the runtime's counters at one moment of the run.
#[derive(Clone, Debug)]
pub struct Snapshot {
    /// The process's memory.
    pub memory: Memory,
    /// `goro::debug::stats()` (stacks live and pooled, slabs, reserved address space, guard kind).
    pub stats: Stats,
    /// `goro::num_goroutines()`, the main task included.
    pub goroutines: usize,
}

impl Snapshot {
    fn take() -> Snapshot {
        let memory = Memory::now();
        Snapshot {
            memory,
            stats: goro::debug::stats(),
            goroutines: goro::num_goroutines(),
        }
    }
}

/// Tasks by what they were doing when [`Probe::all_parked`] looked (from `goro::debug::dump()`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct States {
    /// Tasks waiting on something (a channel, a lock, a join...): parked, costing no CPU.
    pub waiting: usize,
    /// Tasks ready to run or running: not parked. The main task is one of them.
    pub runnable: usize,
    /// Tasks spawned but not started yet (they have no stack yet).
    pub unstarted: usize,
}

/// The most times [`Probe::all_parked`] looks, 5 ms apart, for tasks on their way to park.
const PARK_LOOKS: usize = 100;

// ANCHOR: probe
/// The course's witness of a run. The test makes one before the run, the run's main task calls
/// [`all_parked`](Probe::all_parked) once every task waits and [`all_stopped`](Probe::all_stopped)
/// once every task has ended, and the test calls [`finish`](Probe::finish) after the run. Each
/// call measures for itself.
#[derive(Clone)]
pub struct Probe {
    inner: Arc<ProbeInner>,
}

struct ProbeInner {
    before: Snapshot,
    parked: Mutex<Option<(Snapshot, States)>>,
    stopped: Mutex<Option<Snapshot>>,
    calls: AtomicUsize,
}

impl Probe {
    /// Measures the process before the run. Call it outside any runtime.
    pub fn start() -> Probe {
        assert!(
            !goro::runtime::in_runtime(),
            "Probe::start measures before the run: call it outside the runtime"
        );
        Probe {
            inner: Arc::new(ProbeInner {
                before: Snapshot::take(),
                parked: Mutex::new(None),
                stopped: Mutex::new(None),
                calls: AtomicUsize::new(0),
            }),
        }
    }

    /// Call from the main task once every task has been launched and waits. Measures memory
    /// and counts tasks by state. Tasks on their way to park (or still unstarted) get a few
    /// more looks, 5 ms apart, as long as more of them park each time; a task that spins
    /// instead of parking never does.
    pub fn all_parked(&self) {
        self.inner.calls.fetch_add(1, Ordering::Relaxed);
        assert!(
            goro::runtime::in_runtime(),
            "Probe::all_parked must be called from the run's main task, inside the runtime"
        );
        let mut last: Option<(Snapshot, States)> = None;
        let mut stalled = 0;
        for _ in 0..PARK_LOOKS {
            let snap = Snapshot::take();
            let states = count_states(&goro::debug::dump());
            let done = states.runnable <= 1 && states.unstarted == 0;
            // Tasks on their way to park get there within a look or two; spinning ones never
            // do, so stop looking once three looks in a row found no more tasks started or
            // waiting.
            match &last {
                Some((_, prev))
                    if states.waiting <= prev.waiting && states.unstarted >= prev.unstarted =>
                {
                    stalled += 1
                }
                _ => stalled = 0,
            }
            last = Some((snap, states));
            if done || stalled >= 3 {
                break;
            }
            goro::sleep(Duration::from_millis(5));
        }
        *self.inner.parked.lock().unwrap_or_else(|e| e.into_inner()) = last;
    }

    /// Call from the main task once every other task has ended on its own (not cancelled by
    /// the end of the run). Measures again; tasks that are on their way out (they signalled
    /// that they are done and are returning) get a few more looks, 5 ms apart.
    pub fn all_stopped(&self) {
        assert!(
            goro::runtime::in_runtime(),
            "Probe::all_stopped must be called from the run's main task, inside the runtime"
        );
        // A task that has just said it is done (`WaitGroup::done`, a last send) still has to
        // return and be retired: give those a few more looks, as long as their number falls.
        let mut snap = Snapshot::take();
        let mut stalled = 0;
        for _ in 0..PARK_LOOKS {
            if snap.goroutines <= 1 || stalled >= 3 {
                break;
            }
            goro::sleep(Duration::from_millis(5));
            let next = Snapshot::take();
            stalled = if next.goroutines < snap.goroutines {
                0
            } else {
                stalled + 1
            };
            snap = next;
        }
        *self.inner.stopped.lock().unwrap_or_else(|e| e.into_inner()) = Some(snap);
    }

    /// Measures after the run and returns everything the probe saw. Call it after the runtime
    /// has returned.
    pub fn finish(self, plan: &Plan, answered: usize) -> Report {
        assert!(
            !goro::runtime::in_runtime(),
            "Probe::finish measures after the run: call it once the runtime has returned"
        );
        let after = Snapshot::take();
        let i = &self.inner;
        Report {
            tasks: plan.tasks,
            stack_size: plan.stack_size,
            answered,
            before: i.before.clone(),
            parked: i.parked.lock().unwrap_or_else(|e| e.into_inner()).clone(),
            parked_calls: i.calls.load(Ordering::Relaxed),
            stopped: i.stopped.lock().unwrap_or_else(|e| e.into_inner()).clone(),
            after,
        }
    }
}
// ANCHOR_END: probe

fn count_states(dump: &str) -> States {
    let mut s = States::default();
    for line in dump.lines() {
        if let Some(rest) = line.strip_prefix("goroutine ") {
            let state = rest.split('[').nth(1).and_then(|r| r.split(']').next());
            match state {
                Some("running") | Some("runnable") => s.runnable += 1,
                Some(_) => s.waiting += 1,
                None => {}
            }
        } else if let Some(n) = line
            .split_whitespace()
            .find_map(|w| w.parse::<usize>().ok())
            .filter(|_| line.contains("not started"))
        {
            s.unstarted += n;
        }
    }
    s
}

/// What a run did and cost, as the probe measured it.
#[derive(Clone, Debug)]
pub struct Report {
    /// Tasks the plan launched.
    pub tasks: usize,
    /// Usable stack bytes per task.
    pub stack_size: usize,
    /// Messages the run says were answered.
    pub answered: usize,
    /// Before the runtime started.
    pub before: Snapshot,
    /// When every task was parked (None if the run never called `all_parked`).
    pub parked: Option<(Snapshot, States)>,
    /// How many times the run called `all_parked`.
    pub parked_calls: usize,
    /// When every task had stopped (None if the run never called `all_stopped`).
    pub stopped: Option<Snapshot>,
    /// After the runtime returned.
    pub after: Snapshot,
}

impl Report {
    /// Bytes (resident plus page tables) each parked task added, or None without a parked
    /// measurement.
    pub fn bytes_per_parked_task(&self) -> Option<usize> {
        let (parked, _) = self.parked.as_ref()?;
        let grown = parked
            .memory
            .total()
            .saturating_sub(self.before.memory.total());
        Some(grown / self.tasks.max(1))
    }
}

/// Formats a number with thousands separators, like the seed's output (`1,000,000`).
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn mb(bytes: usize) -> String {
    thousands(bytes.div_ceil(1 << 20))
}

// ANCHOR: report
impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = &self.before;
        writeln!(f, "=== One million, on goro ===")?;
        writeln!(
            f,
            "Starting {} tasks ({} KiB stacks, guard pages by {}, vm.max_map_count allows {} mappings)",
            thousands(self.tasks),
            self.stack_size / 1024,
            b.stats.guard,
            thousands(Kernel::this().max_map_count),
        )?;
        writeln!(f)?;
        writeln!(
            f,
            "Memory before: {} MB ({} mappings)",
            mb(b.memory.total()),
            thousands(b.memory.mappings)
        )?;
        match &self.parked {
            Some((p, states)) => {
                writeln!(
                    f,
                    "Memory with every task parked: {} MB ({} MB of it page tables, {} mappings)",
                    mb(p.memory.total()),
                    mb(p.memory.page_tables),
                    thousands(p.memory.mappings)
                )?;
                writeln!(
                    f,
                    "Per parked task: {} bytes",
                    thousands(self.bytes_per_parked_task().unwrap_or(0))
                )?;
                writeln!(
                    f,
                    "Stacks: {} live, {} MB of address space reserved, {} MB resident",
                    thousands(p.stats.stacks_live),
                    mb(p.stats.reserved_bytes),
                    mb(p.memory.rss.saturating_sub(b.memory.rss)),
                )?;
                writeln!(
                    f,
                    "Active goroutines: {} ({} waiting, {} runnable, {} not started)",
                    thousands(p.goroutines),
                    thousands(states.waiting),
                    thousands(states.runnable),
                    thousands(states.unstarted)
                )?;
            }
            None => writeln!(f, "(the run never reported that every task was parked)")?,
        }
        writeln!(f)?;
        writeln!(f, "Messages answered: {}", thousands(self.answered))?;
        match &self.stopped {
            Some(s) => writeln!(
                f,
                "All tasks stopped. Active goroutines: {}",
                thousands(s.goroutines)
            )?,
            None => writeln!(f, "(the run never reported that every task had stopped)")?,
        }
        write!(
            f,
            "Final memory: {} MB ({} mappings, {} stacks pooled)",
            mb(self.after.memory.total()),
            thousands(self.after.memory.mappings),
            thousands(self.after.stats.stacks_pooled)
        )
    }
}
// ANCHOR_END: report

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dump_states_are_counted() {
        let dump = "goroutine 1 [running]:\n    name: main\n\ngoroutine 2 [chan receive]:\n\n\
                    goroutine 3 [runnable]:\n\ngoroutine 4 [park]:\n\n...and 7 goroutines spawned but not started yet [runnable]\n";
        let s = count_states(dump);
        assert_eq!((s.waiting, s.runnable, s.unstarted), (2, 2, 7));
    }

    #[test]
    fn thousands_has_separators() {
        assert_eq!(thousands(1_000_000), "1,000,000");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(20_000), "20,000");
    }
}
