//! The checks of lesson 10.

#[test]
fn the_crate_builds() {
    let _ = lesson_10_panics::answer();
}

#[test]
fn the_lesson_works() {
    assert_eq!(lesson_10_panics::answer(), 42, "answer() must return 42");
}
