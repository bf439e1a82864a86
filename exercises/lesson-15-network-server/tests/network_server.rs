//! The checks of lesson 15.

#[test]
fn the_crate_builds() {
    let _ = lesson_15_network_server::answer();
}

#[test]
fn the_lesson_works() {
    assert_eq!(lesson_15_network_server::answer(), 42, "answer() must return 42");
}
