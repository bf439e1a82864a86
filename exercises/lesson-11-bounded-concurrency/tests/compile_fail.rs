//! What the type system must refuse. Each file in tests/ui is one mistake; its .stderr is what
//! rustc says about it.

#[test]
fn compile_fail() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*.rs");
}
