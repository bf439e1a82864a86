//! Dropping a stack gives its whole mapping back, guard page included.
//!
//! Freed address space is reused by the very next `mmap` anywhere in the process (the test
//! harness maps memory too), so the check runs in a child process that does nothing else.

use std::process::Command;

use lesson_02_stacks::{Stack, page_size, resident_pages};

const CHILD_ENV: &str = "LESSON_02_UNMAP_CHILD";

/// Which pages of `lo..hi` are still mapped, asked one page at a time: `mincore` over a range
/// fails (ENOMEM) as soon as *any* page of it is unmapped, so one call over the whole range would
/// call a stack "gone" when only one of its pages went back.
fn mapped_pages(lo: usize, hi: usize) -> Vec<bool> {
    let page = page_size();
    (lo..hi)
        .step_by(page)
        .map(|p| match resident_pages(p, p + page) {
            Ok(_) => true,
            Err(err) if err.raw_os_error() == Some(goro::sys::libc::ENOMEM) => false,
            Err(err) => panic!("mincore on the page at {p:#x} failed oddly: {err}"),
        })
        .collect()
}

/// Names the pages of `guard..top` that `mapped_pages` reports as `want`: "the guard page",
/// "usable page 3" (counted from `bottom()`, starting at 0).
fn pages_that_are(pages: &[bool], want: bool) -> String {
    if pages.iter().all(|&m| m == want) {
        return format!(
            "all {} of them, the guard page and every usable page",
            pages.len()
        );
    }
    let names: Vec<String> = pages
        .iter()
        .enumerate()
        .filter(|&(_, &m)| m == want)
        .map(|(i, _)| match i {
            0 => "the guard page".to_string(),
            i => format!("usable page {}", i - 1),
        })
        .collect();
    names.join(", ")
}

#[test]
fn dropping_a_stack_unmaps_all_of_it() {
    if std::env::var_os(CHILD_ENV).is_some() {
        let page = page_size();
        let stack = Stack::new(16 * page).expect("a 16-page stack");
        let (guard, top) = (stack.guard().start, stack.top());
        if guard % page != 0 || stack.guard().len() != page || top != guard + 17 * page {
            panic!(
                "this test needs the layout first (see part1_layout): one guard page, then 16 \
                 usable pages, page aligned; got guard() = {:#x}..{:#x}, top() = {top:#x}",
                stack.guard().start,
                stack.guard().end
            );
        }
        let before = mapped_pages(guard, top);
        if before.contains(&false) {
            panic!(
                "before the drop, these pages of a live stack are not mapped: {}. `new` must \
                 map the guard page and the usable pages, all of them",
                pages_that_are(&before, false)
            );
        }
        drop(stack);
        let after = mapped_pages(guard, top);
        if after.contains(&true) {
            panic!(
                "after the drop, these pages are still mapped: {}. `Drop` must give the whole \
                 mapping back to the kernel (munmap), guard page included",
                pages_that_are(&after, true)
            );
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
