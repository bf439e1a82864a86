//! Lesson 06: Send and capture.
//!
//! [`go`] is a small wrapper over goro's spawn, named after Go's `go` statement. As shipped it
//! accepts closures that Go would accept and Rust must not: ones that borrow a loop variable,
//! or carry an `Rc` to another thread. You fix its bounds in `src/go.rs`; the programs in
//! [`patterns`] show what to write instead, and keep compiling after your fix.

pub mod go;
pub mod patterns;

pub use go::go;

/// Runs `f` as the main task of a deterministic goro runtime: same seed, same interleaving.
pub fn run_deterministic<F, T>(seed: u64, f: F) -> T
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let runtime = goro::Runtime::builder()
        .deterministic(seed)
        .build()
        .expect("could not start a goro runtime");
    match runtime.block_on(f) {
        Ok(value) => value,
        Err(error) => panic!("{error}"),
    }
}
