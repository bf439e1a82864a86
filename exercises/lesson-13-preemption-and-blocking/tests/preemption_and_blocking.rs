//! The checks of lesson 13.

#[test]
fn the_crate_builds() {
    let _ = lesson_13_preemption_and_blocking::answer();
}

#[test]
fn the_lesson_works() {
    assert_eq!(lesson_13_preemption_and_blocking::answer(), 42, "answer() must return 42");
}
