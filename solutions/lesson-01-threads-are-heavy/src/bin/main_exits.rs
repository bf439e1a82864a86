//! Three workers and a `main` that waits for them. This is a file you edit.
//!
//! Run it with `cargo run -p lesson-01-threads-are-heavy --bin main_exits`.

use std::thread;
use std::time::Duration;

// ANCHOR: main
fn main() {
    let mut workers = Vec::new();
    for id in 1..=3 {
        workers.push(thread::spawn(move || {
            // Pretend to work. The pause makes the bug show on every run instead of on some.
            thread::sleep(Duration::from_millis(100));
            println!("worker {id}: done");
        }));
    }
    println!("main: spawned 3 workers");
    // Returning from `main` ends the process, and every thread in it: wait for each worker.
    for worker in workers {
        worker.join().expect("a worker panicked");
    }
}
// ANCHOR_END: main
