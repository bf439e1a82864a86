//! The Go bugs that `go` must refuse to compile. Each file in tests/ui is one of them; its
//! .stderr is what rustc says once `go` has the right bounds.

#[test]
fn compile_fail() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*.rs");
}
