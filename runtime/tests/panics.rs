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

/// `goro::recover` is Go's `recover`: the value or a displayable panic (message, task,
/// location), and no panic report on stderr for a panic the program handled.
#[test]
fn recover_returns_the_panic_and_prints_nothing() {
    if scenario().as_deref() == Some("recover") {
        let text = goro::run(|| {
            task::Builder::new()
                .name("worker")
                .spawn(|| {
                    assert_eq!(goro::recover(|| 7).ok(), Some(7));
                    let p = goro::recover(|| -> u32 { panic!("bad input {}", 42) }).unwrap_err();
                    assert_eq!(p.message(), "bad input 42");
                    assert_eq!(p.task_name(), Some("worker"));
                    assert!(p.location().unwrap().contains("panics.rs"), "{p:?}");
                    p.to_string()
                })
                .unwrap()
                .join()
                .unwrap()
        });
        // On a plain thread too.
        let p = goro::recover(|| panic!("on a thread")).unwrap_err();
        assert_eq!(p.task_id(), None);
        println!("RECOVERED: {text} / {p}");
        return;
    }
    let out = run_child(
        "recover_returns_the_panic_and_prints_nothing",
        "recover",
        &[("RUST_BACKTRACE", "1")],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("RECOVERED: goroutine 2 \"worker\" panicked at ")
            && stdout.contains(": bad input 42 / panicked at "),
        "{stdout}"
    );
    assert!(
        !stderr.contains("panicked"),
        "a report was printed:\n{stderr}"
    );
}

/// With `panic_crashes(true)` a panic that a `recover` handles does not crash the process (as
/// in Go); one that reaches the task boundary still does.
#[test]
fn recover_works_under_panic_crashes() {
    if scenario().as_deref() == Some("recover-crashes") {
        let rt = Runtime::builder().panic_crashes(true).build().unwrap();
        let _ = rt.block_on(|| {
            let saved = goro::spawn(|| goro::recover(|| panic!("handled")).is_err())
                .join()
                .unwrap();
            println!("survived a recovered panic: {saved}");
            let _ = goro::spawn(|| panic!("not handled")).join();
        });
        println!("still alive after the unrecovered panic");
        return;
    }
    let out = run_child(
        "recover_works_under_panic_crashes",
        "recover-crashes",
        &[("RUST_BACKTRACE", "0")],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("survived a recovered panic: true"),
        "{stdout}\n{stderr}"
    );
    assert!(!stdout.contains("still alive"), "{stdout}");
    assert!(stderr.contains("not handled"), "{stderr}");
    assert_eq!(stderr.matches("panicked").count(), 1, "{stderr}");
}

/// A task whose result panics when dropped: reported the way std reports it for threads
/// ("thread result panicked on drop"), not a silent abort through the task's entry frame.
#[test]
fn a_result_that_panics_on_drop_is_reported() {
    if scenario().as_deref() == Some("result-drop") {
        struct Bomb;
        impl Drop for Bomb {
            fn drop(&mut self) {
                panic!("bomb");
            }
        }
        goro::run(|| {
            let gate = goro::chan::bounded::<()>(0);
            let rx = gate.1.clone();
            let h = goro::spawn(move || {
                let _ = rx.recv();
                Bomb
            });
            drop(h); // detached: the task drops its own result when it finishes
            drop(gate);
            goro::sleep(std::time::Duration::from_millis(50));
        });
        println!("still alive");
        return;
    }
    let out = run_child(
        "a_result_that_panics_on_drop_is_reported",
        "result-drop",
        &[("RUST_BACKTRACE", "0")],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("panicked on drop"), "{stderr}");
}
