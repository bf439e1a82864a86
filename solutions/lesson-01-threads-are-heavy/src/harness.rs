//! The measuring harness. This is the file you edit (with `src/bin/main_exits.rs`).
//!
//! `measure` spawns `threads` OS threads and reports what they cost while they exist.

use std::io;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Instant;

use crate::{Census, MemInfo, STACK_TOUCH, ThreadCost, touch_stack};

// ANCHOR: measure
/// Spawns `threads` threads with `stack_size`-byte stacks, each of which touches
/// [`STACK_TOUCH`] bytes of its stack, and measures how much memory they hold.
pub fn measure(threads: usize, stack_size: usize) -> io::Result<ThreadCost> {
    let census = Arc::new(Census::new());
    // Every thread, plus this one, meets twice: once when all are running (we measure), and
    // once more to let them go.
    let ready = Arc::new(Barrier::new(threads + 1));
    let release = Arc::new(Barrier::new(threads + 1));
    let before = MemInfo::read()?;

    let start = Instant::now();
    let mut handles = Vec::with_capacity(threads);
    for _ in 0..threads {
        let (census, ready, release) = (
            Arc::clone(&census),
            Arc::clone(&ready),
            Arc::clone(&release),
        );
        let spawned = thread::Builder::new()
            .stack_size(stack_size)
            .spawn(move || {
                let _alive = census.enter();
                touch_stack(STACK_TOUCH);
                ready.wait();
                release.wait();
            });
        match spawned {
            Ok(handle) => handles.push(handle),
            Err(e) => {
                // Out of threads or memory. The threads already running wait at a barrier
                // that can no longer fill up, so they stay blocked until the process exits;
                // waiting for them here would hang. Report which spawn failed.
                return Err(io::Error::new(
                    e.kind(),
                    format!(
                        "spawning thread {} of {threads} failed: {e}",
                        handles.len() + 1
                    ),
                ));
            }
        }
    }
    let spawn_time = start.elapsed();

    ready.wait();
    // Every thread is between the two barriers: alive, its stack touched, not yet returned.
    let during = MemInfo::read()?;
    let alive_at_measurement = census.alive();
    release.wait();

    for handle in handles {
        handle.join().expect("a measured thread panicked");
    }

    Ok(ThreadCost {
        threads,
        stack_size,
        alive_at_measurement,
        finished: census.finished(),
        reserved: during.reserved.saturating_sub(before.reserved),
        committed: during.committed.saturating_sub(before.committed),
        spawn_time,
    })
}
// ANCHOR_END: measure
