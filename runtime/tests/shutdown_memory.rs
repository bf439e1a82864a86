//! Repeated runtime lifetimes leak nothing: threads are joined and stack memory goes back to
//! the kernel. One test in its own binary, so no other test's threads or memory blur the
//! numbers.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use goro::Runtime;

fn statm_resident_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: usize = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * goro::stack::page_size()
}

fn thread_count() -> usize {
    std::fs::read_dir("/proc/self/task").unwrap().count()
}

/// One run: `n` tasks each touch 32 KiB of their stack, then all park at once; main returns
/// and shutdown cancels them. Returns the resident size seen while they were all parked.
fn one_lifetime(n: usize) -> usize {
    Runtime::builder()
        .workers(2)
        .build()
        .unwrap()
        .block_on(move || {
            let parked = Arc::new(AtomicUsize::new(0));
            for _ in 0..n {
                let parked = parked.clone();
                goro::spawn(move || {
                    let buf = [7u8; 32 * 1024];
                    std::hint::black_box(&buf);
                    parked.fetch_add(1, Ordering::SeqCst);
                    goro::park();
                });
            }
            // Wait until every task has touched its stack and is about to park.
            while parked.load(Ordering::SeqCst) < n {
                goro::sleep(Duration::from_millis(1));
            }
            statm_resident_bytes()
        })
        .unwrap()
}

#[test]
fn memory_and_threads_come_back_after_each_runtime() {
    let n = if cfg!(debug_assertions) {
        4_000
    } else {
        20_000
    };
    // Warm up allocator arenas and the stack layer's bookkeeping (and start the process-wide
    // threads that outlive runs: the signal helper and the SIGQUIT watcher, `signal/quit.rs`).
    one_lifetime(n);
    let threads_before = thread_count();
    let base = statm_resident_bytes();
    let mut peaks = Vec::new();
    let mut afters = Vec::new();
    for _ in 0..5 {
        peaks.push(one_lifetime(n));
        afters.push(statm_resident_bytes());
    }
    assert_eq!(thread_count(), threads_before, "worker threads leaked");
    let touched = n * 32 * 1024;
    for (peak, after) in peaks.iter().zip(&afters) {
        // While parked, the touched stack pages were resident...
        assert!(
            *peak > base + touched / 2,
            "peak {peak} base {base}: the tasks' stacks were never resident?"
        );
        // ...and after shutdown most of them went back to the kernel.
        assert!(
            *after < base + touched / 4,
            "after {after} base {base} (touched {touched}): stack memory was not returned"
        );
    }
    assert_eq!(goro::debug::stats().stacks_live, 0);
}
