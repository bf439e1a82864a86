//! The raw switch in `src/switch.rs`, given with the exercise: it already works.

#[test]
fn ping_and_pong_alternate() {
    let log = lesson_03_context_switch::switch::ping_pong(3).expect("a 64 KiB stack");
    insta::assert_snapshot!(log.join("\n"));
}
