//! The checks of lesson 16.

#[test]
fn the_crate_builds() {
    let _ = lesson_16_debugging::answer();
}

#[test]
fn the_lesson_works() {
    let answer = lesson_16_debugging::answer();
    assert_eq!(answer, 42, "answer() must return 42");
}
