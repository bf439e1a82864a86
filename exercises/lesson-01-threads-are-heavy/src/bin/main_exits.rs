//! Three workers and a `main` that does not wait for them. This is a file you edit.
//!
//! Run it with `cargo run -p lesson-01-threads-are-heavy --bin main_exits`.

use std::thread;
use std::time::Duration;

// ANCHOR: main
fn main() {
    for id in 1..=3 {
        thread::spawn(move || {
            // Pretend to work. The pause makes the bug show on every run instead of on some.
            thread::sleep(Duration::from_millis(100));
            println!("worker {id}: done");
        });
    }
    println!("main: spawned 3 workers");
    // TODO(lesson): `main` returns here. What happens to the workers?
}
// ANCHOR_END: main
