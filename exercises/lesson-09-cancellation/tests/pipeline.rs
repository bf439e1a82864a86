//! The generator and the pipeline: every stage stops when the consumer is done with it.

use std::time::Duration;

use lesson_09_cancellation::{
    Context, first_squares, generate, run_deterministic, settle, squares_until, with_cancel,
};

#[test]
fn the_generator_stops_when_cancelled() {
    let (first, left, rest) = run_deterministic(0, || {
        let baseline = goro::num_goroutines();
        let (ctx, cancel) = with_cancel(&Context::background());
        let numbers = generate(&ctx);
        let first: Vec<u64> = numbers.iter().take(5).collect();
        cancel.cancel();
        settle();
        let left = goro::num_goroutines() - baseline;
        // Still holding `numbers`: the generator must have stopped because it was told to,
        // not because its receiver went away. Stopped, it has closed its channel.
        let rest = numbers.iter().take(100).count();
        (first, left, rest)
    });
    assert_eq!(first, [0, 1, 2, 3, 4]);
    assert_eq!(
        left, 0,
        "the generator must end when its context is cancelled"
    );
    assert!(
        rest < 100,
        "a stopped generator closes its channel (its Sender is dropped)"
    );
}

#[test]
fn cancel_stops_every_stage() {
    let report = run_deterministic(0, || first_squares(5));
    insta::assert_snapshot!(report.to_string());
}

#[test]
fn a_deadline_stops_every_stage() {
    let report = run_deterministic(0, || squares_until(Duration::from_millis(55)));
    insta::assert_snapshot!(report.to_string());
}

#[test]
fn no_seed_leaves_a_goroutine_behind() {
    for seed in 0..8 {
        let report = run_deterministic(seed, || first_squares(3));
        assert_eq!(
            report.left, 0,
            "seed {seed}, cancelled after 3 lines:\n{report}"
        );
        let report = run_deterministic(seed, || squares_until(Duration::from_millis(25)));
        assert_eq!(report.left, 0, "seed {seed}, 25 ms deadline:\n{report}");
    }
}

#[test]
fn a_consumer_that_returns_stops_the_pipeline() {
    let left = run_deterministic(5, || {
        let baseline = goro::num_goroutines();
        let first = {
            let (ctx, _cancel) = with_cancel(&Context::background());
            let out = lesson_09_cancellation::consumer::squares(&ctx);
            out.iter().take(2).collect::<Vec<_>>()
        }; // Go: `defer cancel()`; here `_cancel` is dropped, and `out` with it
        assert_eq!(first, ["0² = 0", "1² = 1"]);
        settle();
        goro::num_goroutines() - baseline
    });
    assert_eq!(
        left, 0,
        "a consumer that returns must leave no stage running"
    );
}
