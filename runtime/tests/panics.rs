//! Panic containment: a task's panic is reported once, stays in the task, and reaches join().
//! Tests that look at stderr or expect an abort re-run this binary as a child process.

use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use goro::{Runtime, task};

const CHILD_ENV: &str = "GORO_PANICS_CHILD";

/// Re-runs this test binary, running only `test` with `scenario` selected.
fn run_child(test: &str, scenario: &str, extra_env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, scenario);
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

/// The text of a panic payload (`&str` or `String`).
fn message(payload: &(dyn std::any::Any + Send)) -> Option<String> {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
}

fn scenario() -> Option<String> {
    std::env::var(CHILD_ENV).ok()
}

#[test]
fn join_returns_the_panic_payload() {
    let (payload, others) = goro::run(|| {
        let done = Arc::new(AtomicUsize::new(0));
        let d = done.clone();
        let quiet = goro::spawn(move || {
            goro::yield_now();
            d.fetch_add(1, Ordering::SeqCst);
        });
        let bad = task::Builder::new()
            .name("bad")
            .spawn(|| -> u32 { panic!("boom {}", std::hint::black_box(7)) })
            .unwrap();
        let err = bad.join().unwrap_err();
        quiet.join().unwrap();
        (message(&*err), done.load(Ordering::SeqCst))
    });
    assert_eq!(payload.as_deref(), Some("boom 7"));
    assert_eq!(others, 1, "the other task kept running");
}

#[test]
fn a_panic_in_main_resumes_on_the_caller() {
    let err = std::panic::catch_unwind(|| {
        Runtime::new().block_on(|| {
            let _bystander = goro::spawn(goro::park);
            std::panic::panic_any(17u32);
        })
    })
    .unwrap_err();
    assert_eq!(err.downcast_ref::<u32>(), Some(&17));
}

#[test]
fn many_panicking_tasks_do_not_disturb_the_rest() {
    let (ok, failed) = goro::run(|| {
        let hs: Vec<_> = (0..100u32)
            .map(|i| {
                goro::spawn(move || {
                    goro::yield_now();
                    assert!(i % 3 != 0, "task {i} fails on purpose");
                    i
                })
            })
            .collect();
        let results: Vec<_> = hs.into_iter().map(|h| h.join()).collect();
        (
            results.iter().filter(|r| r.is_ok()).count(),
            results.iter().filter(|r| r.is_err()).count(),
        )
    });
    assert_eq!((ok, failed), (66, 34));
}

#[test]
fn a_panic_is_reported_once_with_the_task_id_and_name() {
    if scenario().as_deref() == Some("report") {
        let r = goro::run(|| {
            task::Builder::new()
                .name("reporter")
                .spawn(|| panic!("reported exactly once"))
                .unwrap()
                .join()
        });
        assert!(r.is_err());
        return;
    }
    let out = run_child(
        "a_panic_is_reported_once_with_the_task_id_and_name",
        "report",
        &[("RUST_BACKTRACE", "0")],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "child failed:\n{stderr}");
    assert_eq!(
        stderr.matches("reported exactly once").count(),
        1,
        "{stderr}"
    );
    assert!(
        stderr.contains("goroutine 2 \"reporter\" panicked at"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("goro-worker"),
        "reported as a thread:\n{stderr}"
    );
}

#[inline(never)]
fn recurse_then_panic(depth: u32) -> u32 {
    if depth == 0 {
        panic!("deep panic with a backtrace");
    }
    // Keep the frames alive so the backtrace has something to walk.
    recurse_then_panic(depth - 1) + std::hint::black_box(1)
}

#[test]
fn the_default_stack_survives_a_full_backtrace() {
    if scenario().as_deref() == Some("backtrace") {
        let r = goro::run(|| {
            task::Builder::new()
                .name("deep")
                .spawn(|| recurse_then_panic(40))
                .unwrap()
                .join()
        });
        assert!(r.is_err());
        return;
    }
    for setting in ["1", "full"] {
        let out = run_child(
            "the_default_stack_survives_a_full_backtrace",
            "backtrace",
            &[("RUST_BACKTRACE", setting)],
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "RUST_BACKTRACE={setting}: child died: {:?}\n{stderr}",
            out.status
        );
        assert!(stderr.contains("stack backtrace:"), "{stderr}");
        assert!(stderr.contains("recurse_then_panic"), "{stderr}");
    }
}

#[test]
fn panic_crashes_aborts_the_process_like_go() {
    if scenario().as_deref() == Some("crash") {
        let rt = Runtime::builder().panic_crashes(true).build().unwrap();
        let _ = rt.block_on(|| {
            let _ = task::Builder::new()
                .name("fatal")
                .spawn(|| panic!("this kills the process"))
                .unwrap()
                .join();
        });
        println!("still alive after the panic");
        return;
    }
    let out = run_child(
        "panic_crashes_aborts_the_process_like_go",
        "crash",
        &[("RUST_BACKTRACE", "0")],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success());
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(
        out.status.signal(),
        Some(goro::sys::libc::SIGABRT),
        "{stderr}"
    );
    assert!(
        stderr.contains("goroutine 2 \"fatal\" panicked"),
        "{stderr}"
    );
    assert!(!stdout.contains("still alive"), "{stdout}");
}
