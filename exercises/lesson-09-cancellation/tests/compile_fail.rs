//! What the types refuse: nobody but a `CancelFunc` can close a done channel, and a
//! `CancelFunc` cannot be ignored by accident.

#[test]
fn compile_fail() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*.rs");
}
