//! Dropping a stack gives its whole mapping back, guard page included.
//!
//! Freed address space is reused by the very next `mmap`, and the other tests of this binary
//! create stacks on other threads, so the check runs in a child process that does nothing else.

use std::process::Command;

use lesson_02_stacks::{Stack, page_size, resident_pages};

const CHILD_ENV: &str = "LESSON_02_UNMAP_CHILD";

/// What `mincore` says about the range of a stack: `Ok` if every page of it is mapped, the
/// error (ENOMEM) if some page is not.
fn mapped(lo: usize, hi: usize) -> Result<(), std::io::Error> {
    resident_pages(lo, hi).map(|_| ())
}

#[test]
fn dropping_a_stack_unmaps_all_of_it() {
    if std::env::var_os(CHILD_ENV).is_some() {
        let stack = Stack::new(16 * page_size()).expect("a 16-page stack");
        let (guard, top) = (stack.guard().start, stack.top());
        if let Err(err) = mapped(guard, top) {
            panic!(
                "mincore on a live stack's guard page and usable pages failed ({err}): is the \
                 whole range guard().start..top() one page-aligned mapping?"
            );
        }
        drop(stack);
        match mapped(guard, top) {
            Err(err) if err.raw_os_error() == Some(goro::sys::libc::ENOMEM) => {}
            Err(err) => panic!("mincore after the drop failed oddly: {err}"),
            Ok(()) => panic!(
                "after the drop, the pages from the guard page to top() are still mapped: `Drop` \
                 must give the whole mapping back to the kernel (munmap), guard page included"
            ),
        }
        return;
    }
    let output = Command::new(std::env::current_exe().expect("the test binary's path"))
        .args([
            "dropping_a_stack_unmaps_all_of_it",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, "1")
        .output()
        .expect("re-running the test binary as a child");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    // The child's own panic message says what went wrong; put it first.
    let all = format!("{stdout}\n{stderr}");
    let why = all
        .lines()
        .skip_while(|l| !l.contains("panicked at"))
        .nth(1)
        .unwrap_or("the child process failed");
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "{why}\n\nthe child process that dropped a stack reported:\n{all}"
    );
}
