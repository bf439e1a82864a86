//! The payment-processor leak: handlers that wait for a gateway that never answers.

use std::time::Duration;

use lesson_08_select_and_timeouts::{
    Gateway, Outcome, Payment, Reply, process_batch, run_deterministic,
};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Five payments: quick, hung, declined, too slow, hung.
fn a_bad_day() -> (Vec<Payment>, std::sync::Arc<Gateway>) {
    let payments = (1..=5)
        .map(|id| Payment {
            id,
            cents: 1000 * u64::from(id),
        })
        .collect();
    let gateway = Gateway::scripted([
        (1, Reply::Approve(ms(120))),
        (2, Reply::Hang),
        (3, Reply::Decline(ms(300))),
        (4, Reply::Approve(ms(5000))),
        (5, Reply::Hang),
    ]);
    (payments, gateway)
}

#[test]
fn no_handler_outlives_its_timeout() {
    let mut report = run_deterministic(0, || {
        let (payments, gateway) = a_bad_day();
        process_batch(&payments, &gateway)
    });
    // Entries stamped with the same millisecond are sorted: their order depends on scheduling
    // details that differ between correct solutions. (Stamps are right-aligned.)
    report.ledger.sort();
    insta::assert_snapshot!(report.to_string());
}

#[test]
fn no_seed_leaks_a_goroutine() {
    for seed in 0..8 {
        let report = run_deterministic(seed, || {
            let (payments, gateway) = a_bad_day();
            process_batch(&payments, &gateway)
        });
        assert_eq!(
            report.leaked, 0,
            "seed {seed}: goroutines still waiting a minute later:\n{report}"
        );
    }
}

#[test]
fn a_slow_reply_times_out() {
    let report = run_deterministic(1, || {
        let (payments, gateway) = a_bad_day();
        process_batch(&payments[3..4], &gateway)
    });
    assert_eq!(
        report.ledger,
        [" 2000ms  payment 4 (4000 cents): timed out after 2s"],
        "a reply that takes 5s must be given up on at the 2s timeout"
    );
    assert_eq!(
        report.gateway,
        [(4, Outcome::Aborted)],
        "a payment the ledger calls timed out must not be charged later: abort the call"
    );
}

#[test]
fn hung_calls_are_aborted_not_abandoned() {
    let report = run_deterministic(3, || {
        let (payments, gateway) = a_bad_day();
        process_batch(&payments[1..2], &gateway)
    });
    assert_eq!(
        report.gateway,
        [(2, Outcome::Aborted)],
        "the hung call must be aborted at the timeout:\n{report}"
    );
    assert_eq!(
        report.leaked, 0,
        "nothing started for the payment may still wait a minute later:\n{report}"
    );
}

#[test]
fn the_ledger_says_what_the_gateway_did() {
    // The gateway answers at exactly 2 s, the moment the handler gives up. Which comes first
    // depends on the schedule; either way the ledger must agree with the gateway: "approved"
    // if the call was answered, "timed out" if it was aborted.
    for seed in 0..16 {
        let report = run_deterministic(seed, || {
            let payments = [Payment { id: 7, cents: 700 }];
            let gateway = Gateway::scripted([(7, Reply::Approve(ms(2000)))]);
            process_batch(&payments, &gateway)
        });
        let expected = match report.gateway.as_slice() {
            [(7, Outcome::Answered)] => " 2000ms  payment 7 (700 cents): approved",
            [(7, Outcome::Aborted)] => " 2000ms  payment 7 (700 cents): timed out after 2s",
            other => panic!("seed {seed}: the call must be answered or aborted, got {other:?}"),
        };
        assert_eq!(
            report.ledger,
            [expected],
            "seed {seed}: the ledger disagrees with the gateway:\n{report}"
        );
        assert_eq!(report.leaked, 0, "seed {seed}:\n{report}");
    }
}

#[test]
fn fast_replies_are_not_cut_off() {
    let report = run_deterministic(2, || {
        let payments: Vec<_> = (1..=3).map(|id| Payment { id, cents: 500 }).collect();
        let gateway = Gateway::scripted([(3, Reply::Decline(ms(1999)))]);
        process_batch(&payments, &gateway)
    });
    let mut ledger = report.ledger.clone();
    ledger.sort();
    assert_eq!(
        ledger,
        [
            "   50ms  payment 1 (500 cents): approved",
            "   50ms  payment 2 (500 cents): approved",
            " 1999ms  payment 3 (500 cents): declined",
        ],
        "replies that arrive before the timeout must be recorded as they are"
    );
    assert_eq!(report.leaked, 0, "{report}");
}
