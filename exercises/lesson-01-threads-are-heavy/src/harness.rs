//! The measuring harness. This is the file you edit (with `src/bin/main_exits.rs`).
//!
//! `measure` spawns `threads` OS threads and reports what they cost while they exist. The numbers
//! it prints look plausible, and they are wrong: read the lesson page, then fix it.

use std::io;
use std::sync::Arc;
use std::thread;
use std::time::Instant;

use crate::{Census, MemInfo, STACK_TOUCH, ThreadCost, touch_stack};

// ANCHOR: measure
/// Spawns `threads` threads with `stack_size`-byte stacks, each of which touches
/// [`STACK_TOUCH`] bytes of its stack, and measures how much memory they hold.
pub fn measure(threads: usize, stack_size: usize) -> io::Result<ThreadCost> {
    let census = Arc::new(Census::new());
    let before = MemInfo::read()?;

    let start = Instant::now();
    let mut handles = Vec::with_capacity(threads);
    for _ in 0..threads {
        let census = Arc::clone(&census);
        let handle = thread::Builder::new()
            .stack_size(stack_size)
            .spawn(move || {
                let _alive = census.enter();
                touch_stack(STACK_TOUCH);
                // TODO(lesson): this thread's work is done, so it returns, and its stack is gone.
            })?;
        handles.push(handle);
    }
    let spawn_time = start.elapsed();

    for handle in handles {
        handle.join().expect("a measured thread panicked");
    }
    // TODO(lesson): measure while the threads exist. By now, how many of them do?
    let during = MemInfo::read()?;

    Ok(ThreadCost {
        threads,
        stack_size,
        alive_at_measurement: census.alive(),
        finished: census.finished(),
        reserved: during.reserved.saturating_sub(before.reserved),
        committed: during.committed.saturating_sub(before.committed),
        spawn_time,
    })
}
// ANCHOR_END: measure
