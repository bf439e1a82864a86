//! A task that overflows its stack is reported by name and aborts the process, and faults that
//! are not overflows still behave as plain segfaults. Each crash runs in a child process: this
//! test binary re-runs itself with a test-name filter and `GORO_OVERFLOW_TEST_CHILD` set.

use std::hint::black_box;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Output};

const CHILD: &str = "GORO_OVERFLOW_TEST_CHILD";

fn run_child(test: &str, mode: &str) -> Output {
    // "NAME+mprotect" runs mode NAME with mprotect guard pages instead of guard markers.
    let (mode, guard) = match mode.strip_suffix("+mprotect") {
        Some(m) => (m, "mprotect"),
        None => (mode, "madvise"),
    };
    Command::new(std::env::current_exe().expect("path of this test binary"))
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, mode)
        .env("GORO_STACK_GUARD", guard)
        .output()
        .expect("re-running the test binary")
}

#[allow(unconditional_recursion)] // the point: it never returns
fn recurse(depth: u64) -> u64 {
    let frame = black_box([depth as u8; 256]);
    recurse(depth + 1) + u64::from(frame[(depth % 256) as usize])
}

/// One frame far larger than a page: Rust's stack probes touch it page by page, so the
/// first touch past the end lands in the guard page instead of skipping over it.
fn huge_frame() -> u8 {
    let big = black_box([7u8; 1024 * 1024]);
    big[black_box(12345)]
}

#[test]
fn overflowing_task_is_named_and_aborts() {
    match std::env::var(CHILD).as_deref() {
        Ok("recursion") => goro::run(|| {
            let h = goro::task::Builder::new()
                .name("deep".to_string())
                .stack_size(128 * 1024)
                .spawn(|| recurse(0))
                .unwrap();
            let _ = h.join();
        }),
        Ok("huge-frame") => goro::run(|| {
            let h = goro::task::Builder::new()
                .name("big-frame".to_string())
                .stack_size(64 * 1024)
                .spawn(huge_frame)
                .unwrap();
            let _ = h.join();
        }),
        Ok("chained") => {
            // One worker: "first" finishes, and "second" (same stack size, next in the queue)
            // starts on the stack "first" just left (see `sched::Worker::chain`). The report
            // must name the task that overflowed, not the stack's previous owner.
            let rt = goro::Runtime::builder().workers(1).build().unwrap();
            let _ = rt.block_on(|| {
                let spawn = |name: &str, f: fn() -> u64| {
                    goro::task::Builder::new()
                        .name(name.to_string())
                        .stack_size(128 * 1024)
                        .spawn(f)
                        .unwrap()
                };
                let first = spawn("first", || 1);
                let second = spawn("second", || recurse(0));
                let _ = second.join();
                let _ = first.join();
            });
        }
        Ok("unnamed") => goro::run(|| {
            let _ = goro::spawn(|| recurse(0)).join();
        }),
        Ok(_) => {}
        Err(_) => {
            let test = "overflowing_task_is_named_and_aborts";
            let default = format!(
                "goro: goroutine 2 has overflowed its stack (stack size {} KiB)",
                goro::runtime::DEFAULT_STACK_SIZE / 1024
            );
            for (mode, needle) in [
                (
                    "recursion",
                    "\"deep\" has overflowed its stack (stack size 128 KiB)",
                ),
                (
                    "huge-frame",
                    "\"big-frame\" has overflowed its stack (stack size 64 KiB)",
                ),
                ("unnamed", default.as_str()),
                (
                    "chained",
                    "\"second\" has overflowed its stack (stack size 128 KiB)",
                ),
                (
                    "recursion+mprotect",
                    "\"deep\" has overflowed its stack (stack size 128 KiB)",
                ),
            ] {
                let out = run_child(test, mode);
                let stderr = String::from_utf8_lossy(&out.stderr);
                assert_eq!(out.status.signal(), Some(libc::SIGABRT), "{mode}: {stderr}");
                assert!(stderr.contains(needle), "{mode}: {stderr}");
                assert!(stderr.contains("Builder::stack_size"), "{mode}: {stderr}");
            }
        }
    }
}

#[test]
fn other_faults_in_a_task_are_still_plain_segfaults() {
    match std::env::var(CHILD).as_deref() {
        Ok("null") => goro::run(|| {
            let h = goro::spawn(|| {
                // SAFETY: deliberately writes to an address that is never mapped.
                unsafe { std::ptr::write_volatile(black_box(8usize) as *mut u8, 1) };
            });
            let _ = h.join();
        }),
        Ok(_) => {}
        Err(_) => {
            let out = run_child("other_faults_in_a_task_are_still_plain_segfaults", "null");
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.signal(), Some(libc::SIGSEGV), "{stderr}");
            assert!(!stderr.contains("overflowed"), "{stderr}");
        }
    }
}

#[test]
fn os_thread_overflow_is_still_reported_by_std() {
    match std::env::var(CHILD).as_deref() {
        Ok("thread") => {
            // Start a runtime first so goro's handler is installed, then overflow an OS thread:
            // the fault must reach std's handler, which names the thread.
            goro::run(|| {});
            std::thread::Builder::new()
                .name("os-thread".to_string())
                .stack_size(256 * 1024)
                .spawn(|| recurse(0))
                .unwrap()
                .join()
                .ok();
        }
        Ok(_) => {}
        Err(_) => {
            let out = run_child("os_thread_overflow_is_still_reported_by_std", "thread");
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.signal(), Some(libc::SIGABRT), "{stderr}");
            assert!(
                stderr.contains("thread 'os-thread'") && stderr.contains("overflowed"),
                "{stderr}"
            );
        }
    }
}
