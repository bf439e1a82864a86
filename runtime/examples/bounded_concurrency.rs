//! Bounded concurrency: a buffered channel as a semaphore, so at most N tasks do the work at
//! once (lesson 11). Run: `cargo run -p goro --example bounded_concurrency`
//!
//! Go twin:
//! ```go
//! sem := make(chan struct{}, 10)
//! for i := 0; i < 100; i++ {
//!     wg.Add(1)
//!     go func() {
//!         defer wg.Done()
//!         sem <- struct{}{}        // acquire
//!         defer func() { <-sem }() // release
//!         work()
//!     }()
//! }
//! wg.Wait()
//! ```

use goro::chan::{self, Receiver, Sender};
use goro::sync::WaitGroup;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// A permit: taken by sending into the semaphore channel, given back (by receiving) on drop,
/// which is Rust's `defer`.
struct Permit(Receiver<()>);

fn acquire(sem: &(Sender<()>, Receiver<()>)) -> Permit {
    sem.0.send(()).unwrap(); // waits while the buffer (the permits) is full
    Permit(sem.1.clone())
}

impl Drop for Permit {
    fn drop(&mut self) {
        let _ = self.0.recv();
    }
}

fn main() {
    goro::run(|| {
        let sem = Arc::new(chan::bounded::<()>(10));
        let (now, peak) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let wg = WaitGroup::new();
        for _ in 0..100 {
            let (sem, now, peak) = (sem.clone(), now.clone(), peak.clone());
            wg.go(move || {
                let _permit = acquire(&sem);
                let running = now.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(running, Ordering::SeqCst);
                goro::sleep(Duration::from_millis(2)); // the work
                now.fetch_sub(1, Ordering::SeqCst);
            });
        }
        wg.wait();
        println!(
            "100 tasks ran, at most {} at a time",
            peak.load(Ordering::SeqCst)
        );
    });
}
