//! The right way to capture, run under goro's deterministic mode.

use lesson_06_send_and_capture::patterns::{bump_copies, count_visits, guest_book, squares};
use lesson_06_send_and_capture::run_deterministic;

#[test]
fn each_task_squares_its_own_number() {
    // The tasks run in an order the scheduler picks; sorted, each number appears once, squared
    // by the task that owned it.
    let mut lines = run_deterministic(6, || squares(5));
    lines.sort();
    insta::assert_snapshot!(lines.join("\n"));
    assert_eq!(
        lines,
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
    // Sorted by guest: the order they signed in depends on the scheduler. Task ids follow
    // spawn order (main is 1), so ana, the first guest, is task 2.
    let mut lines = run_deterministic(2, || guest_book(&["ana", "bo", "cy"]));
    lines.sort();
    insta::assert_snapshot!(lines.join("\n"));
}

#[test]
fn move_gives_each_task_its_own_counter() {
    // `move || counter += 1` compiles: the closure owns a copy of `counter`, made when the
    // closure is created. Each task bumps its own copy from 0 to 1; the original never moves.
    let (original, copies) = run_deterministic(5, || bump_copies(3));
    assert_eq!(copies, [1, 1, 1], "each task increments its own copy once");
    assert_eq!(
        original, 0,
        "the caller's counter is not shared with the tasks"
    );
}
