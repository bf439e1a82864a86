//! The semaphore, observed under goro's deterministic mode. Times are goro's virtual clock:
//! a 10 ms sleep takes no real time and always reads exactly 10 ms.

use std::time::Duration;

use lesson_11_bounded_concurrency::examples::{
    serve_acquire_inside, serve_bounded, serve_unbounded,
};
use lesson_11_bounded_concurrency::{Board, Downstream, Semaphore, run_deterministic};

const COSTS_MS: [u64; 7] = [30, 10, 20, 10, 40, 10, 20];

/// Main admits tasks one by one, each holding a permit of a 3-permit semaphore while it works.
fn admit_seven(seed: u64) -> Board {
    run_deterministic(seed, || {
        let board = Board::new();
        let sem = Semaphore::new(3);
        let mut tasks = Vec::new();
        for (i, cost) in COSTS_MS.into_iter().enumerate() {
            let permit = sem.acquire();
            board.admitted(i);
            let board = board.clone();
            tasks.push(goro::spawn(move || {
                board.started(i);
                goro::sleep(Duration::from_millis(cost));
                board.finished(i, "done");
                drop(permit);
            }));
        }
        for task in tasks {
            task.join().unwrap();
        }
        board
    })
}

#[test]
fn acquire_waits_while_every_permit_is_out() {
    // Three at once from 0ms; each later task is admitted the moment a holder lets go.
    insta::assert_snapshot!(admit_seven(0).chart());
}

#[test]
fn never_more_holders_than_permits() {
    for seed in 0..6 {
        let board = admit_seven(seed);
        assert_eq!(
            board.peak(),
            3,
            "seed {seed}: a 3-permit semaphore must let exactly 3 tasks work at once, no more \
             (and it should not let fewer: that wastes the permits)\n{}",
            board.chart()
        );
    }
}

#[test]
fn try_acquire_does_not_wait() {
    let (first_two, third, free_then, after_release) = run_deterministic(0, || {
        let sem = Semaphore::new(2);
        let a = sem.try_acquire();
        let b = sem.try_acquire();
        let first_two = a.is_some() && b.is_some();
        let third = sem.try_acquire().is_some();
        let free_then = sem.available();
        drop(a);
        (first_two, third, free_then, sem.available())
    });
    assert!(
        first_two,
        "a 2-permit semaphore must give 2 permits at once"
    );
    assert!(
        !third,
        "the third try_acquire must fail at once: both permits are out"
    );
    assert_eq!(free_then, 0, "available() with both permits out");
    assert_eq!(
        after_release, 1,
        "dropping a Permit must give it back (available() after one drop)"
    );
}

#[test]
fn the_downstream_sees_at_most_the_limit() {
    // 40 requests to a service that takes 4 at once: one task per request, a semaphore taken
    // before each task starts, and a semaphore taken inside each task.
    let report = run_deterministic(1, || {
        let mut lines = Vec::new();
        let db = Downstream::new(4);
        serve_unbounded(&db, 40);
        lines.push(format!("unbounded:      {}", db.report()));
        let db = Downstream::new(4);
        let answers = serve_bounded(&db, 40, 4);
        assert_eq!(answers, (0..40).map(|r| Ok(r * 10)).collect::<Vec<_>>());
        lines.push(format!("bounded:        {}", db.report()));
        let db = Downstream::new(4);
        serve_acquire_inside(&db, 40, 4);
        lines.push(format!("acquire inside: {}", db.report()));
        lines.join("\n")
    });
    insta::assert_snapshot!(report);
}
