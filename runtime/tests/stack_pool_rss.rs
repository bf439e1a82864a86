//! The stack pool gives memory back to the kernel once it holds more free stacks than its
//! high-water mark: dropping many touched stacks makes the process's resident set shrink again,
//! without any explicit call. (A file of its own: RSS is per process, so no other test may run
//! beside this one.)

use goro::stack::{Stack, page_size};

fn rss_bytes() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace()
        .nth(1)
        .unwrap()
        .parse::<usize>()
        .unwrap()
        * 1024
}

#[test]
fn dropping_many_touched_stacks_returns_their_pages() {
    const STACKS: usize = 10_000;
    const TOUCHED: usize = 32 * 1024; // per stack: 320 MB in all
    let before = rss_bytes();
    let stacks: Vec<Stack> = (0..STACKS)
        .map(|_| Stack::pooled(64 * 1024).unwrap())
        .collect();
    for s in &stacks {
        for addr in (s.top() - TOUCHED..s.top()).step_by(page_size()) {
            // SAFETY: the address lies in the stack's usable range, which we own.
            unsafe { std::ptr::write_volatile(addr as *mut u8, 1) };
        }
    }
    let touched = rss_bytes();
    assert!(
        touched >= before + STACKS * TOUCHED * 9 / 10,
        "touching {STACKS} x {TOUCHED} bytes made RSS go from {before} only to {touched}"
    );
    drop(stacks);
    let after = rss_bytes();
    // The thread cache keeps up to 256 stacks and the global pool a small warm reserve; the
    // rest goes back. Allow 10% of what was touched.
    assert!(
        after < before + STACKS * TOUCHED / 10,
        "RSS {before} before, {touched} with the stacks touched, {after} after dropping them"
    );
}
