//! Helpers shared by the coordination tests: run a closure as the main task of a fresh runtime.
#![allow(dead_code)] // each test file is its own crate and uses a subset

use goro::runtime::Builder;

/// Runs `f` on a deterministic runtime with `seed`; a deadlock fails the test with the dump.
pub fn det<T: Send + 'static>(seed: u64, f: impl FnOnce() -> T + Send + 'static) -> T {
    let rt = Builder::new()
        .deterministic(seed)
        .build()
        .expect("deterministic runtime");
    match rt.block_on(f) {
        Ok(v) => v,
        Err(e) => panic!("{e}"),
    }
}

/// Runs `f` on a runtime with two worker threads; a deadlock fails the test with the dump.
pub fn two_workers<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let rt = Builder::new().workers(2).build().expect("2-worker runtime");
    match rt.block_on(f) {
        Ok(v) => v,
        Err(e) => panic!("{e}"),
    }
}
