//! Introspection: how many goroutines are alive, what each one is doing, and runtime counters.
//!
//! [`dump`] prints every live task the way Go prints goroutines after a crash or on `SIGQUIT`:
//! its id, its state (with the wait reason if it waits), its name, and where it was spawned.
//! `block_on` uses the same text in its deadlock report. [`num_goroutines`] is the number leak
//! tests watch; [`stats`] gathers counters from the scheduler and the stack layer.
//!
//! Go counterpart: `runtime.NumGoroutine`, `runtime.Stack(buf, true)` / `GOTRACEBACK`, and the
//! `checkdead` message "all goroutines are asleep - deadlock!". Lesson: 16 (debugging).

use std::fmt;

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
    /// Spare threads started for [`task::blocking`](crate::task::blocking) in the current run.
    pub blocking_threads: usize,
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
        write!(f, "blocking_threads: {}", self.blocking_threads)
    }
}

/// Gathers the counters. Outside a runtime the scheduler fields are zero.
pub fn stats() -> Stats {
    let stack = crate::stack::stats();
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
    }
}

/// Live tasks in the current runtime, the main task included (0 outside a runtime).
pub fn num_goroutines() -> usize {
    crate::task::num_goroutines()
}

/// A Go-style dump of every live task of the current runtime, sorted by id:
///
/// ```text
/// goroutine 1 [join]:
///     name: main
///     spawned at src/main.rs:4:5
///
/// goroutine 7 [chan receive]:
///     name: worker-3
///     spawned at src/main.rs:12:9
/// ```
///
/// States: `running`, `runnable`, or the wait reason (`chan receive`, `sleep`, ...). Tasks
/// that were spawned but have not started yet have no stack or state worth showing; they are
/// counted in one last line. Empty outside a runtime.
///
/// A worker that sysmon found stuck in one task for more than 10 ms is named first:
/// `worker 1: one task running for 2.3 s without yielding (see goro::task::checkpoint)`.
pub fn dump() -> String {
    sched::with_shared(|s| {
        let mut out = String::new();
        for (w, d) in s.hogs() {
            out.push_str(&format!(
                "worker {w}: one task running for {:.1} s without yielding (see goro::task::checkpoint)\n\n",
                d.as_secs_f64()
            ));
        }
        out.push_str(&s.dump());
        out
    })
    .unwrap_or_default()
}
