//! A task that recurses forever runs off the end of its stack into the guard page. goro's
//! overflow handler names the task and aborts the process, as Rust does for an OS thread
//! (`thread 'x' has overflowed its stack`) and Go for a goroutine (`goroutine stack exceeds
//! limit`). Without the handler this would be a bare "Segmentation fault".
//!
//! Run it with `cargo run --release -p goro --example overflow`. Expected: the process dies with
//! SIGABRT, and stderr contains
//! `goro: goroutine 2 "deep" has overflowed its stack (stack size 256 KiB)`.

use std::hint::black_box;

/// Recurses without end. The 512-byte array keeps each frame large, and `black_box` stops the
/// optimizer from turning the recursion into a loop.
#[allow(unconditional_recursion)] // the point: it never returns
fn recurse(depth: u64) -> u64 {
    let frame = black_box([depth as u8; 512]);
    recurse(depth + 1) + u64::from(frame[(depth % 512) as usize])
}

fn main() {
    goro::run(|| {
        // 256 KiB instead of the default 64 KiB, to show the size in the message is the task's.
        let task = goro::task::Builder::new()
            .name("deep".to_string())
            .stack_size(256 * 1024)
            .spawn(|| recurse(0))
            .expect("spawning the task");
        // Never printed: the process aborts while the task recurses.
        println!("result: {:?}", task.join());
    });
}
