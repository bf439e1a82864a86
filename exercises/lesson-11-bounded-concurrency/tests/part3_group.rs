//! The errgroup with a limit, observed under goro's deterministic mode (virtual clock).

use std::time::Duration;

use goro::ctx::Context;
use lesson_11_bounded_concurrency::examples::lookup_all;
use lesson_11_bounded_concurrency::{Board, Downstream, Group, run_deterministic};

const LIMIT: usize = 3;
const COSTS_MS: [u64; 8] = [30, 10, 20, 10, 40, 10, 20, 30];

/// Main spawns 8 tasks into a group with a limit of 3; "admitted" is when `spawn` returned.
fn eight_tasks(seed: u64) -> (Board, Result<Vec<usize>, String>) {
    run_deterministic(seed, || {
        let board = Board::new();
        let (mut group, _ctx) = Group::with_context(&Context::background(), LIMIT);
        for (i, cost) in COSTS_MS.into_iter().enumerate() {
            let board_for_task = board.clone();
            group.spawn(move |_ctx| {
                board_for_task.started(i);
                goro::sleep(Duration::from_millis(cost));
                board_for_task.finished(i, "ok");
                Ok::<usize, String>(i * 10)
            });
            board.admitted(i);
        }
        let results = group.wait();
        (board, results)
    })
}

#[test]
fn spawn_waits_while_the_group_is_full() {
    // Tasks 0-2 start at once; `spawn` of task 3 returns only when task 1 ends at 10ms, and
    // so on: no `.` anywhere, because no task exists before it may run.
    let (board, results) = eight_tasks(0);
    insta::assert_snapshot!(board.chart());
    assert_eq!(results, Ok(vec![0, 10, 20, 30, 40, 50, 60, 70]));
}

#[test]
fn never_more_than_the_limit_in_flight() {
    for seed in 0..6 {
        let (board, _) = eight_tasks(seed);
        assert_eq!(
            board.peak(),
            LIMIT,
            "seed {seed}: a group with limit {LIMIT} must run exactly {LIMIT} tasks at once\n{}",
            board.chart()
        );
        assert!(
            board.peak_goroutines() <= LIMIT + 2,
            "seed {seed}: {} goroutines were alive at once with a limit of {LIMIT} (main and \
             one helper are allowed): `spawn` must wait before it starts a task, not after",
            board.peak_goroutines()
        );
    }
}

#[test]
fn results_come_back_in_spawn_order() {
    for seed in 0..6 {
        let results = run_deterministic(seed, || {
            let (mut group, _ctx) = Group::with_context(&Context::background(), 4);
            for i in 0..8u64 {
                // Later tasks are quicker: they finish first.
                group.spawn(move |_ctx| {
                    goro::sleep(Duration::from_millis(80 - 10 * i));
                    Ok::<String, ()>(format!("answer {i}"))
                });
            }
            group.wait()
        });
        let expected: Vec<String> = (0..8).map(|i| format!("answer {i}")).collect();
        assert_eq!(
            results,
            Ok(expected),
            "seed {seed}: results must be in the order the tasks were spawned, not the order \
             they finished"
        );
    }
}

/// Works for `ms`, unless the group's context is cancelled first.
fn work(ctx: &Context, ms: u64) -> Result<(), String> {
    goro::select! {
        recv(goro::time::after(Duration::from_millis(ms))) => Ok(()),
        recv(ctx.done()) => Err("cancelled".to_string()),
    }
}

#[test]
fn the_first_error_wins_and_cancels_the_rest() {
    let text = run_deterministic(3, || {
        let board = Board::new();
        let start = goro::time::now();
        let (mut group, _ctx) = Group::with_context(&Context::background(), 4);
        let tasks: [(u64, bool, &str); 4] = [
            (50, true, "watches ctx, would work 50ms"),
            (30, false, "ignores ctx, fails at 30ms"),
            (10, false, "ignores ctx, fails at 10ms"),
            (40, true, "watches ctx, would work 40ms"),
        ];
        for (i, (ms, watches, _)) in tasks.into_iter().enumerate() {
            let board_for_task = board.clone();
            group.spawn(move |ctx| {
                board_for_task.started(i);
                let outcome = if watches {
                    work(&ctx, ms)
                } else {
                    goro::sleep(Duration::from_millis(ms));
                    Err(format!("task {i} failed"))
                };
                board_for_task.finished(i, outcome.as_ref().map_or_else(|e| e.as_str(), |()| "ok"));
                outcome
            });
            board.admitted(i);
        }
        let result = group.wait();
        let waited = goro::time::now().saturating_duration_since(start);
        let mut text = board.chart();
        for (i, (_, _, what)) in tasks.iter().enumerate() {
            text += &format!("\ntask {i}: {what}");
        }
        text += &format!(
            "\nwait returned {result:?} at {}ms; goroutines left: {}",
            waited.as_millis(),
            goro::num_goroutines()
        );
        text
    });
    insta::assert_snapshot!(text);
}

#[test]
fn lookup_all_stops_at_the_first_failure() {
    let text = run_deterministic(4, || {
        let ids: Vec<u32> = (0..12).collect();
        let db = Downstream::new(4);
        let fine = lookup_all(&db, &ids, 4);
        let fine = format!("capacity 4, limit 4: {fine:?}\n  {}", db.report());
        let db = Downstream::new(2);
        let failed = lookup_all(&db, &ids, 3);
        let failed = format!("capacity 2, limit 3: {failed:?}\n  {}", db.report());
        format!("{fine}\n{failed}")
    });
    insta::assert_snapshot!(text);
}
