//! Behaviour of `goro::stack`: lazy commit, guard pages, size checking, and the mprotect fallback.
//!
//! Tests that must crash run in a child process: this test binary re-runs itself with a filter
//! naming one test and `GORO_STACK_TEST_CHILD` set, and the parent checks how the child died.

use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Output};

use goro::stack::{GuardKind, Stack, page_size};

const CHILD: &str = "GORO_STACK_TEST_CHILD";

fn child_mode() -> Option<String> {
    std::env::var(CHILD).ok()
}

fn run_child(test: &str, mode: &str, extra_env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(std::env::current_exe().expect("path of this test binary"));
    cmd.args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, mode);
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    cmd.output().expect("re-running the test binary")
}

/// Which pages of `[from, to)` are resident, according to mincore(2).
fn resident_pages(from: usize, to: usize) -> Vec<bool> {
    let page = page_size();
    let mut vec = vec![0u8; (to - from) / page];
    // SAFETY: the range is page aligned and mapped (it lies inside a live Stack); mincore
    // writes one byte per page into `vec`, which is exactly that long.
    let rc = unsafe { libc::mincore(from as *mut libc::c_void, to - from, vec.as_mut_ptr()) };
    assert_eq!(rc, 0, "mincore: {}", std::io::Error::last_os_error());
    vec.iter().map(|b| b & 1 == 1).collect()
}

fn write_byte(addr: usize) {
    // SAFETY: callers pass an address inside a live Stack's usable range, or (in a child
    // process) its guard page on purpose.
    unsafe { std::ptr::write_volatile(addr as *mut u8, 0xAB) };
}

#[test]
fn stacks_are_committed_lazily_page_by_page() {
    let page = page_size();
    let stack = Stack::new(1024 * 1024).unwrap();
    assert_eq!(stack.len(), 1024 * 1024);
    assert_eq!(stack.top() - stack.bottom(), stack.len());
    assert_eq!(
        stack.top() % 16,
        0,
        "the initial stack pointer must be 16-byte aligned"
    );

    let untouched = resident_pages(stack.bottom(), stack.top());
    assert_eq!(
        untouched.iter().filter(|r| **r).count(),
        0,
        "a new stack is all reservation"
    );

    // Touch the top page (where a stack starts) and one page in the middle.
    write_byte(stack.top() - 1);
    let middle = stack.bottom() + 100 * page + 17;
    write_byte(middle);

    let resident = resident_pages(stack.bottom(), stack.top());
    let expected: Vec<usize> = vec![100, resident.len() - 1];
    let actual: Vec<usize> = (0..resident.len()).filter(|&i| resident[i]).collect();
    assert_eq!(actual, expected, "only the touched pages are resident");
}

#[test]
fn sizes_are_rounded_up_to_pages_and_nonsense_is_rejected() {
    let page = page_size();
    assert_eq!(Stack::new(1).unwrap().len(), page);
    assert_eq!(Stack::new(page + 1).unwrap().len(), 2 * page);

    let err = Stack::new(0).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("too small"), "{err}");

    let err = Stack::new(usize::MAX).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("larger than"), "{err}");

    assert!(Stack::pooled(0).is_err());
}

#[test]
fn guard_page_sits_just_below_the_usable_range() {
    let stack = Stack::new(64 * 1024).unwrap();
    let guard = stack.guard();
    assert_eq!(guard.end, stack.bottom());
    assert_eq!(guard.end - guard.start, page_size());
    // The lowest usable byte is writable.
    write_byte(stack.bottom());
    let pooled = Stack::pooled(64 * 1024).unwrap();
    assert!(pooled.is_pooled() && !stack.is_pooled());
    assert_eq!(pooled.guard().end, pooled.bottom());
    write_byte(pooled.bottom());
}

#[test]
fn stacks_can_move_between_threads() {
    fn assert_send<T: Send + Sync>() {}
    assert_send::<Stack>();
    let stack = Stack::pooled(64 * 1024).unwrap();
    let top = stack.top();
    let back = std::thread::spawn(move || {
        write_byte(stack.top() - 1);
        stack
    })
    .join()
    .unwrap();
    assert_eq!(back.top(), top);
}

#[test]
fn touching_a_guard_page_kills_the_process_with_sigsegv() {
    match child_mode().as_deref() {
        Some("standalone") => {
            let stack = Stack::new(64 * 1024).unwrap();
            write_byte(stack.bottom());
            eprintln!("usable byte written");
            write_byte(stack.guard().end - 1);
            eprintln!("guard byte written: the guard page is missing");
        }
        Some("pooled") => {
            let stacks: Vec<Stack> = (0..100)
                .map(|_| Stack::pooled(32 * 1024).unwrap())
                .collect();
            write_byte(stacks[57].bottom());
            eprintln!("usable byte written");
            write_byte(stacks[57].guard().start);
            eprintln!("guard byte written: the guard page is missing");
        }
        Some(_) => {}
        None => {
            for mode in ["standalone", "pooled"] {
                let out = run_child(
                    "touching_a_guard_page_kills_the_process_with_sigsegv",
                    mode,
                    &[],
                );
                let stderr = String::from_utf8_lossy(&out.stderr);
                assert_eq!(out.status.signal(), Some(libc::SIGSEGV), "{mode}: {stderr}");
                assert!(stderr.contains("usable byte written"), "{mode}: {stderr}");
                assert!(!stderr.contains("guard byte written"), "{mode}: {stderr}");
            }
        }
    }
}

#[test]
fn mprotect_fallback_guards_too_and_reports_the_mapping_limit() {
    match child_mode().as_deref() {
        Some("mprotect-fault") => {
            assert_eq!(goro::stack::guard_kind(), GuardKind::Mprotect);
            let stacks: Vec<Stack> = (0..10).map(|_| Stack::pooled(32 * 1024).unwrap()).collect();
            assert_eq!(goro::stack::guard_kind(), GuardKind::Mprotect);
            write_byte(stacks[3].bottom());
            eprintln!("usable byte written");
            write_byte(stacks[3].guard().start);
            eprintln!("guard byte written: the guard page is missing");
        }
        Some("mprotect-limit") => {
            // Each mprotect guard splits a mapping in two, so the kernel's mapping limit is
            // reached at about half of vm.max_map_count stacks.
            let limit: usize = std::fs::read_to_string("/proc/sys/vm/max_map_count")
                .unwrap()
                .trim()
                .parse()
                .unwrap();
            let mut stacks = Vec::new();
            for _ in 0..limit + 1000 {
                match Stack::pooled(16 * 1024) {
                    Ok(s) => stacks.push(s),
                    Err(err) => {
                        eprintln!("failed after {} stacks: {err}", stacks.len());
                        return;
                    }
                }
            }
            eprintln!("no error after {} stacks", stacks.len());
        }
        Some(_) => {}
        None => {
            let test = "mprotect_fallback_guards_too_and_reports_the_mapping_limit";
            let env = [("GORO_STACK_GUARD", "mprotect")];
            let out = run_child(test, "mprotect-fault", &env);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.signal(), Some(libc::SIGSEGV), "{stderr}");
            assert!(stderr.contains("usable byte written"), "{stderr}");

            let out = run_child(test, "mprotect-limit", &env);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "{stderr}");
            assert!(stderr.contains("failed after"), "{stderr}");
            assert!(stderr.contains("vm.max_map_count"), "{stderr}");
        }
    }
}
