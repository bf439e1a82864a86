//! Which tasks move between threads: goro's pinned tasks never do; a task whose every yield the
//! compiler has checked may.

use std::cell::Cell;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::thread::{self, ThreadId};

use lesson_12_work_stealing::migrate::{migratable, yield_now};

// ANCHOR: pinned
#[test]
fn a_started_goro_task_stays_on_its_thread() {
    // Two workers, forty tasks that each keep an `Rc` on their stack across five yields. The
    // compiler cannot see the `Rc` (the closure captures nothing), so goro must keep every
    // started task on the thread it started on.
    let moved = goro::Runtime::builder()
        .workers(2)
        .build()
        .expect("could not start a goro runtime")
        .block_on(|| {
            let tasks: Vec<_> = (0..40)
                .map(|_| {
                    goro::spawn(|| {
                        let home = thread::current().id();
                        let counter = Rc::new(Cell::new(0));
                        let mut moved = 0;
                        for _ in 0..5 {
                            counter.set(counter.get() + 1);
                            goro::yield_now();
                            moved += usize::from(thread::current().id() != home);
                        }
                        moved
                    })
                })
                .collect();
            tasks.into_iter().map(|t| t.join().unwrap()).sum::<usize>()
        })
        .expect("the runtime ran");
    assert_eq!(moved, 0, "a started task resumed on another thread");
}
// ANCHOR_END: pinned

// ANCHOR: moves
#[test]
fn a_task_with_nothing_thread_bound_across_its_yields_may_move() {
    let threads: Arc<Mutex<Vec<ThreadId>>> = Arc::default();
    let seen = Arc::clone(&threads);
    let mut task = migratable(async move {
        // An `Rc` is fine if its scope ends before the yield. (A `drop(local)` would not do:
        // the compiler decides what lives across an `.await` by scopes.)
        let sum = {
            let local = Rc::new(1);
            *local + 1
        };
        seen.lock().unwrap().push(thread::current().id());
        yield_now().await;
        seen.lock().unwrap().push(thread::current().id());
        assert_eq!(sum, 2);
    });
    assert!(!task.resume(), "the task yields once");
    let finished = thread::spawn(move || task.resume()).join().unwrap();
    assert!(finished);
    let threads = threads.lock().unwrap();
    assert_eq!(threads.len(), 2);
    assert_ne!(threads[0], threads[1], "the task resumed on another thread");
}
// ANCHOR_END: moves
