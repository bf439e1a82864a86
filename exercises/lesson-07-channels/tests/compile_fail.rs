//! What the type system must refuse: endpoints of a channel of non-`Send` values may not move
//! to another task, and a sent value is gone from the sender.

#[test]
fn compile_fail() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*.rs");
}
