//! The checks of lesson 09.

#[test]
fn the_crate_builds() {
    let _ = lesson_09_cancellation::answer();
}

#[test]
fn the_lesson_works() {
    assert_eq!(lesson_09_cancellation::answer(), 42, "answer() must return 42");
}
