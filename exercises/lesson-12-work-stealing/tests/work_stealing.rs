//! The checks of lesson 12.

#[test]
fn the_crate_builds() {
    let _ = lesson_12_work_stealing::answer();
}

#[test]
fn the_lesson_works() {
    assert_eq!(lesson_12_work_stealing::answer(), 42, "answer() must return 42");
}
