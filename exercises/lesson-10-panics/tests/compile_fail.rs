//! What the compiler says about recovering from a panic: a handler that shares state a panic
//! can leave half-updated is refused until its author acknowledges it.

#[test]
fn compile_fail() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/fail/*.rs");
    cases.pass("tests/ui/pass/*.rs");
}
