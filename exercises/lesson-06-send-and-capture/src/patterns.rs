//! What to write instead of the Go bugs. Given: these compile with the shipped `go` and keep
//! compiling once you have fixed its bounds.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::{go, scope};

// ANCHOR: own_copy
/// One task per number; each task squares its own copy of the loop variable.
/// Returns "i*i = sq" lines in the order the tasks ran.
pub fn squares(n: u64) -> Vec<String> {
    let out = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for i in 1..=n {
        let out = Arc::clone(&out);
        // `move` copies `i` into the closure: each task owns the value of its iteration.
        tasks.push(go("square", move || {
            out.lock().unwrap().push(format!("{i}*{i} = {}", i * i));
        }));
    }
    for task in tasks {
        task.join().expect("a task panicked");
    }
    out.lock().unwrap().clone()
}
// ANCHOR_END: own_copy

// ANCHOR: shared_counter
/// `tasks` tasks each count `per_task` visits on one shared counter. An atomic makes each
/// increment indivisible; `Arc` keeps the counter alive as long as any task holds it.
pub fn count_visits(tasks: usize, per_task: usize) -> usize {
    let visits = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..tasks)
        .map(|_| {
            let visits = Arc::clone(&visits);
            go("visitor", move || {
                for _ in 0..per_task {
                    visits.fetch_add(1, Ordering::Relaxed);
                    goro::yield_now(); // let the others interleave
                }
            })
        })
        .collect();
    for handle in handles {
        handle.join().expect("a visitor panicked");
    }
    visits.load(Ordering::Relaxed)
}
// ANCHOR_END: shared_counter

// ANCHOR: shared_log
/// Several tasks append to one guest book. A `Mutex` (not a `RefCell`) guards it, because the
/// tasks may run on different threads.
pub fn guest_book(guests: &[&'static str]) -> Vec<String> {
    let book = Arc::new(Mutex::new(Vec::new()));
    let handles: Vec<_> = guests
        .iter()
        .map(|&guest| {
            let book = Arc::clone(&book);
            go(guest, move || {
                let me = goro::task::current();
                let line = format!("{} signed by task {}", guest, me.id());
                book.lock().unwrap().push(line);
            })
        })
        .collect();
    for handle in handles {
        handle.join().expect("a guest panicked");
    }
    book.lock().unwrap().clone()
}
// ANCHOR_END: shared_log

// ANCHOR: own_counter
/// Go's `counter++` from many goroutines, written with `move`: it compiles, and it does not
/// share anything. Each closure gets its own copy of `counter`, made when the closure is
/// created; each task increments its copy. Returns the original (untouched) and what each
/// task's copy ended at.
pub fn bump_copies(tasks: usize) -> (u32, Vec<u32>) {
    let mut counter = 0;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let handles: Vec<_> = (0..tasks)
        .map(|_| {
            let seen = Arc::clone(&seen);
            go("bump", move || {
                counter += 1; // this task's own `counter`
                seen.lock().unwrap().push(counter);
            })
        })
        .collect();
    for handle in handles {
        handle.join().expect("a task panicked");
    }
    let seen = seen.lock().unwrap().clone();
    (counter, seen)
}
// ANCHOR_END: own_counter

// ANCHOR: scoped_sum
/// Sums `numbers` in chunks, one scoped task per chunk. The tasks borrow `numbers` and the
/// total directly: no `Arc`, no copies, because `scope` waits for them before it returns.
pub fn sum_in_chunks(numbers: &[u64], chunk: usize) -> u64 {
    let total = Mutex::new(0);
    scope(|s| {
        for part in numbers.chunks(chunk) {
            let total = &total;
            s.go("part", move || {
                let sum: u64 = part.iter().sum();
                *total.lock().unwrap() += sum;
            });
        }
    });
    total.into_inner().unwrap()
}
// ANCHOR_END: scoped_sum
