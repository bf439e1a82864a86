//! The worker pool, observed under goro's deterministic mode (virtual clock).

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use lesson_11_bounded_concurrency::{Board, Busy, Pool, run_deterministic};

const WORKERS: usize = 3;
const QUEUE: usize = 2;

fn cost(job: usize) -> Duration {
    Duration::from_millis([30, 10, 20][job % 3])
}

/// Main submits 10 jobs as fast as the pool lets it; "admitted" is when `submit` returned.
fn ten_jobs(seed: u64) -> Board {
    run_deterministic(seed, || {
        let board = Board::new();
        let pool = {
            let board = board.clone();
            Pool::new(WORKERS, QUEUE, move |job: usize| {
                board.started(job);
                goro::sleep(cost(job));
                board.finished(job, "done");
            })
        };
        for job in 0..10 {
            pool.submit(job);
            board.admitted(job);
        }
        pool.shutdown();
        board
    })
}

#[test]
fn submit_waits_when_the_queue_is_full() {
    // 3 workers, room for 2 queued jobs: jobs 0-4 are in at 0ms (`.` is waiting in the
    // queue); from job 5 on, `submit` returns only when a worker frees a place.
    insta::assert_snapshot!(ten_jobs(0).chart());
}

#[test]
fn no_more_tasks_than_workers() {
    for seed in 0..4 {
        let board = ten_jobs(seed);
        assert_eq!(
            board.peak(),
            WORKERS,
            "seed {seed}: {WORKERS} workers must work on exactly {WORKERS} jobs at once\n{}",
            board.chart()
        );
        assert!(
            board.peak_goroutines() <= WORKERS + 2,
            "seed {seed}: {} goroutines were alive at once for a pool of {WORKERS} workers \
             (main and one helper are allowed): a job must wait in the queue, not as a task",
            board.peak_goroutines()
        );
    }
}

#[test]
fn try_submit_says_busy_instead_of_waiting() {
    let (accepted, busy, handled) = run_deterministic(0, || {
        let handled = Arc::new(AtomicU32::new(0));
        let pool = {
            let handled = Arc::clone(&handled);
            Pool::new(2, 2, move |_job: u32| {
                goro::sleep(Duration::from_millis(10));
                handled.fetch_add(1, Ordering::SeqCst);
            })
        };
        goro::sleep(Duration::from_millis(1)); // let the workers get ready for work
        let (mut accepted, mut busy) = (Vec::new(), Vec::new());
        for job in 0..10 {
            match pool.try_submit(job) {
                Ok(()) => accepted.push(job),
                Err(Busy(job)) => busy.push(job),
            }
        }
        pool.shutdown();
        (accepted, busy, handled.load(Ordering::SeqCst))
    });
    assert_eq!(
        (accepted, busy),
        (vec![0, 1, 2, 3], vec![4, 5, 6, 7, 8, 9]),
        "two idle workers and room for two queued jobs: the first four are taken, the other \
         six must come back in Busy at once"
    );
    assert_eq!(handled, 4, "every accepted job must be handled");
}

#[test]
fn shutdown_finishes_every_queued_job() {
    let (handled, goroutines) = run_deterministic(2, || {
        let handled = Arc::new(AtomicU32::new(0));
        let pool = {
            let handled = Arc::clone(&handled);
            Pool::new(3, 4, move |job: u32| {
                goro::sleep(Duration::from_millis(u64::from(job % 4) * 5));
                handled.fetch_add(1, Ordering::SeqCst);
            })
        };
        for job in 0..12 {
            pool.submit(job);
        }
        pool.shutdown();
        (handled.load(Ordering::SeqCst), goro::num_goroutines())
    });
    assert_eq!(
        handled, 12,
        "shutdown must let the workers finish every queued job"
    );
    assert_eq!(goroutines, 1, "after shutdown only main may be left");
}
