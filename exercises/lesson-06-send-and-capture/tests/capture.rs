//! The right way to capture, run under goro's deterministic mode.

use lesson_06_send_and_capture::patterns::{count_visits, guest_book, squares};
use lesson_06_send_and_capture::run_deterministic;

#[test]
fn each_task_squares_its_own_number() {
    let lines = run_deterministic(6, || squares(5));
    insta::assert_snapshot!(lines.join("\n"));
    let mut sorted = lines.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        ["1*1 = 1", "2*2 = 4", "3*3 = 9", "4*4 = 16", "5*5 = 25"]
    );
}

#[test]
fn no_visit_is_lost() {
    for seed in 0..8 {
        assert_eq!(
            run_deterministic(seed, || count_visits(4, 25)),
            100,
            "seed {seed}"
        );
    }
}

#[test]
fn every_guest_signs_once() {
    let lines = run_deterministic(2, || guest_book(&["ana", "bo", "cy"]));
    insta::assert_snapshot!(lines.join("\n"));
}
