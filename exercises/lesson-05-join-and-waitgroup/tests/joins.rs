//! Part 1: main must join its cooks before it says service is over.

use lesson_05_join_and_waitgroup::{Log, ORDERS, run_deterministic, serve};

/// Runs `serve` in a deterministic runtime and returns (plates, log lines).
fn serve_with_seed(seed: u64) -> (Vec<&'static str>, Vec<String>) {
    run_deterministic(seed, || {
        let log = Log::new();
        let plates = serve(&ORDERS, &log);
        (plates, log.lines())
    })
}

/// Lines stamped with the same virtual millisecond are sorted: which of them is logged first
/// depends on scheduling details that differ between correct solutions.
fn by_time(mut lines: Vec<String>) -> String {
    // The stamps are right-aligned, so sorting whole lines sorts by time first.
    lines.sort();
    lines.join("\n")
}

#[test]
fn every_plate_is_served() {
    let (plates, lines) = serve_with_seed(5);
    assert_eq!(
        plates,
        ["soup", "bread", "tea"],
        "serve must return every cook's plate, in the order of the orders"
    );
    insta::assert_snapshot!(by_time(lines));
}

#[test]
fn main_waits_for_every_cook() {
    for seed in 0..16 {
        let (_, lines) = serve_with_seed(seed);
        let ready = lines.iter().filter(|l| l.ends_with(" ready")).count();
        assert_eq!(
            ready,
            3,
            "seed {seed}: only {ready} of 3 cooks finished before main returned:\n{}",
            lines.join("\n")
        );
        assert!(
            lines
                .last()
                .is_some_and(|l| l.contains("main: service is over")),
            "seed {seed}: main must log last, after joining every cook:\n{}",
            lines.join("\n")
        );
    }
}
