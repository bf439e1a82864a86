//! The checks of lesson 14.

#[test]
fn the_crate_builds() {
    let _ = lesson_14_one_million::answer();
}

#[test]
fn the_lesson_works() {
    assert_eq!(lesson_14_one_million::answer(), 42, "answer() must return 42");
}
