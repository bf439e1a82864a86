//! Scoped tasks: they may borrow from their caller because `scope` waits for every one of
//! them. Run under goro's deterministic mode, with its virtual clock.

use std::panic::{self, AssertUnwindSafe};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use lesson_06_send_and_capture::patterns::sum_in_chunks;
use lesson_06_send_and_capture::{run_deterministic, scope};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn scoped_tasks_run_as_tasks_of_their_own() {
    let seen = run_deterministic(1, || {
        let caller = goro::task::current().id();
        let seen = Mutex::new(Vec::new());
        scope(|s| {
            for n in 0..3 {
                let seen = &seen;
                s.go(&format!("worker {n}"), move || {
                    let me = goro::task::current();
                    let name = me.name().unwrap_or("(unnamed)").to_owned();
                    seen.lock().unwrap().push((name, me.id() != caller));
                });
            }
        });
        let mut seen = seen.into_inner().unwrap();
        seen.sort();
        seen
    });
    let expected: Vec<_> = (0..3).map(|n| (format!("worker {n}"), true)).collect();
    assert_eq!(
        seen, expected,
        "each `s.go` must start a task of its own, with its name, not run inside the caller"
    );
}

#[test]
fn scope_returns_after_its_last_task() {
    // Three tasks that finish at 10, 30 and 20 ms (virtual time). `scope` must return at
    // 30 ms, with all three done: not before (borrowed data would still be in use), and not
    // one at a time (they run concurrently).
    let (elapsed, done) = run_deterministic(3, || {
        let start = goro::time::now();
        let done = Mutex::new(Vec::new());
        scope(|s| {
            for wait in [10, 30, 20] {
                let done = &done;
                s.go("sleeper", move || {
                    goro::sleep(ms(wait));
                    done.lock().unwrap().push(wait);
                });
            }
        });
        (goro::time::now() - start, done.into_inner().unwrap())
    });
    assert_eq!(
        done,
        [10, 20, 30],
        "every task finished, in the order of their sleeps"
    );
    assert_eq!(
        elapsed,
        ms(30),
        "scope returns when its last task does, at 30 ms"
    );
}

#[test]
fn tasks_borrow_the_callers_data() {
    for seed in 0..4 {
        let numbers: Vec<u64> = (1..=10).collect();
        let total = run_deterministic(seed, move || sum_in_chunks(&numbers, 3));
        assert_eq!(total, 55, "seed {seed}");
    }
}

#[test]
fn a_task_panic_reaches_the_caller_after_the_others_finish() {
    let (message, finished) = run_deterministic(2, || {
        let finished = AtomicUsize::new(0);
        let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
            scope(|s| {
                s.go("burnt", || panic!("order 66 is burnt"));
                s.go("slow", || {
                    goro::sleep(ms(10));
                    finished.fetch_add(1, Ordering::Relaxed);
                });
            });
        }));
        let message = outcome
            .err()
            .and_then(|payload| payload.downcast_ref::<&str>().map(|m| m.to_string()));
        (message, finished.into_inner())
    });
    assert_eq!(
        message.as_deref(),
        Some("order 66 is burnt"),
        "a panic in a scoped task must come out of `scope`, with its payload"
    );
    assert_eq!(
        finished, 1,
        "`scope` may only panic after every task has finished, the slow one too"
    );
}

#[test]
fn the_scope_waits_even_when_its_body_panics() {
    let finished = run_deterministic(4, || {
        let finished = AtomicUsize::new(0);
        let _ = panic::catch_unwind(AssertUnwindSafe(|| {
            scope(|s| {
                s.go("slow", || {
                    goro::sleep(ms(10));
                    finished.fetch_add(1, Ordering::Relaxed);
                });
                panic!("the body gives up");
            });
        }));
        finished.into_inner()
    });
    assert_eq!(
        finished, 1,
        "a panicking body unwinds out of `scope` only after its tasks finish: they borrow from it"
    );
}

#[test]
fn tasks_started_by_scoped_tasks_are_waited_for_too() {
    let finished = run_deterministic(5, || {
        let finished = AtomicUsize::new(0);
        scope(|s| {
            let finished = &finished;
            s.go("parent", move || {
                s.go("child", move || {
                    goro::sleep(ms(10));
                    finished.fetch_add(1, Ordering::Relaxed);
                });
                finished.fetch_add(1, Ordering::Relaxed);
            });
        });
        finished.into_inner()
    });
    assert_eq!(
        finished, 2,
        "scope must also wait for tasks that scoped tasks started"
    );
}
