//! The checks of lesson 11.

#[test]
fn the_crate_builds() {
    let _ = lesson_11_bounded_concurrency::answer();
}

#[test]
fn the_lesson_works() {
    assert_eq!(lesson_11_bounded_concurrency::answer(), 42, "answer() must return 42");
}
