//! One million goroutines parked at the same time, each on its own guarded stack.
//!
//! ```console
//! cargo run --release -p goro --example million
//! ```
//!
//! Spawns 1,000,000 tasks that each park, waits until all of them are parked, measures the
//! memory they hold, wakes them all, lets them finish, shuts the runtime down and measures
//! again. The last line is machine-readable:
//! `tasks=1000000 launch_ms=N bytes_per_task=N rss_after_mb=N`.
//!
//! Memory per parked task, where it goes (x86-64, 4 KiB pages):
//! - one 4 KiB stack page: the task has run, so the top page of its stack is committed;
//! - page tables: ~8 bytes per 4 KiB of stack *spacing*; with 32 KiB stacks plus a guard page
//!   that is ~72 bytes (it would be ~520 with 256 KiB stacks);
//! - the task record, its closure and its JoinHandle: a few hundred bytes of heap.
//!
//! `bytes_per_task` counts resident memory *and* page tables (`VmPTE`), since both are paid for
//! every task. Lesson 14 works through this arithmetic.
//!
//! On Linux before 6.13 (Debian 12, Ubuntu 24.04, WSL2, most CI runners) the kernel has no
//! `MADV_GUARD_INSTALL`, so goro guards stacks with `mprotect`, which costs two of the
//! `vm.max_map_count` memory mappings a process may have per stack: about 30,700 stacks fit
//! under the default 65,530 (`goro::stack::max_guarded_stacks()` says how many). The example
//! then runs as many tasks as fit and says so. To run the full million on such a kernel, raise
//! the limit first: `sudo sysctl vm.max_map_count=2200000`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

use goro::Runtime;

/// Stack reservation per task. A parked task here uses far less than one page of it; 32 KiB
/// still leaves room for a panic backtrace (~22 KiB) and keeps page tables small.
const STACK: usize = 32 * 1024;

/// Resident bytes (from `/proc/self/statm`) plus page-table bytes (`VmPTE` in
/// `/proc/self/status`, which `statm` does not include).
fn memory() -> (usize, usize) {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("read /proc/self/statm");
    let pages: usize = statm
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("statm has a resident field");
    let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    let pte_kb: usize = status
        .lines()
        .find_map(|l| l.strip_prefix("VmPTE:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    (pages * goro::stack::page_size(), pte_kb * 1024)
}

fn mb(bytes: usize) -> usize {
    bytes / (1024 * 1024)
}

fn main() {
    let tasks: usize = std::env::args()
        .nth(1)
        .map(|s| {
            s.parse()
                .expect("usage: million [TASKS] (a positive number, default 1000000)")
        })
        .unwrap_or(1_000_000);
    let tasks = match goro::stack::max_guarded_stacks() {
        // Leave a few stacks for the main task and the runtime's own.
        Some(fit) if tasks > fit.saturating_sub(64) => {
            let fit = fit.saturating_sub(64);
            println!(
                "note: guard pages are made with mprotect here (Linux < 6.13 or \
                 GORO_STACK_GUARD=mprotect), which costs two memory mappings per stack, so only \
                 {fit} stacks fit under vm.max_map_count; running {fit} tasks instead of {tasks}. \
                 To run {tasks}: sudo sysctl vm.max_map_count={}",
                (tasks * 2 + 8192).next_multiple_of(100_000)
            );
            fit
        }
        _ => tasks,
    };
    let (rss_start, pte_start) = memory();
    println!(
        "starting {tasks} tasks ({} KiB stacks, guard pages by {})",
        STACK / 1024,
        goro::stack::guard_kind()
    );

    let rt = Runtime::builder()
        .stack_size(STACK)
        .build()
        .expect("runtime settings are valid");
    let (launch, rss_parked, pte_parked) = rt
        .block_on(move || {
            // One shared record per run, so each task's closure holds a single Arc.
            struct Gate {
                go: AtomicBool,
                parked: AtomicUsize,
                main: goro::Task,
            }
            let gate = Arc::new(Gate {
                go: AtomicBool::new(false),
                parked: AtomicUsize::new(0),
                main: goro::current(),
            });
            let start = Instant::now();
            let handles: Vec<_> = (0..tasks)
                .map(|_| {
                    let gate = gate.clone();
                    goro::spawn(move || {
                        // The last task to arrive wakes main, which waits without spinning.
                        if gate.parked.fetch_add(1, Ordering::AcqRel) + 1 == tasks {
                            gate.main.unpark();
                        }
                        while !gate.go.load(Ordering::Acquire) {
                            goro::park();
                        }
                    })
                })
                .collect();
            while gate.parked.load(Ordering::Acquire) < tasks {
                goro::park();
            }
            let launch = start.elapsed();
            let (rss, pte) = memory();
            println!(
                "all {} tasks parked after {} ms; live goroutines: {}",
                tasks,
                launch.as_millis(),
                goro::num_goroutines()
            );
            println!("{}", goro::debug::stats());

            let wake = Instant::now();
            gate.go.store(true, Ordering::Release);
            for h in &handles {
                h.task().unpark();
            }
            for h in handles {
                h.join().expect("a parked task panicked");
            }
            println!(
                "woke and joined them all in {} ms",
                wake.elapsed().as_millis()
            );
            (launch, rss, pte)
        })
        .expect("the million tasks never deadlock");

    let (rss_after, _) = memory();
    let per_task = (rss_parked + pte_parked).saturating_sub(rss_start + pte_start) / tasks;
    println!(
        "rss: start {} MB, all parked {} MB (+{} MB page tables), after shutdown {} MB",
        mb(rss_start),
        mb(rss_parked),
        mb(pte_parked.saturating_sub(pte_start)),
        mb(rss_after)
    );
    println!(
        "tasks={tasks} launch_ms={} bytes_per_task={per_task} rss_after_mb={}",
        launch.as_millis(),
        mb(rss_after)
    );
}
