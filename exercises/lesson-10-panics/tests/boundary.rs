//! What happens to a panic in a task, in goro and in Go. These checks pass as shipped: they
//! show the runtime's behaviour that the supervisor builds on.

use std::os::unix::process::ExitStatusExt;
use std::process::Command;

// ANCHOR: contained
#[test]
fn goro_contains_a_panic_at_the_task_boundary() {
    let (outcome, after) = lesson_10_panics::run_deterministic(0, || {
        let reader = goro::task::Builder::new()
            .name("config-reader")
            .spawn(|| {
                let lines: Vec<&str> = Vec::new();
                lines[3].len() // index out of bounds: this task panics
            })
            .expect("could not start a task");
        // The panic stopped at the task's boundary: join hands over its payload as `Err`.
        let outcome = reader.join().map_err(|payload| {
            payload
                .downcast::<String>()
                .map(|text| *text)
                .unwrap_or_default()
        });
        (outcome, "main goes on")
    });
    let message = outcome.expect_err("the task panicked");
    assert!(message.contains("index out of bounds"), "{message}");
    assert_eq!(after, "main goes on");
}
// ANCHOR_END: contained

// ANCHOR: crashes
/// The child process: a runtime with Go's rule, where any unrecovered panic ends the program.
fn go_rules() {
    let runtime = goro::Runtime::builder()
        .deterministic(0)
        .panic_crashes(true)
        .build()
        .expect("could not start a goro runtime");
    let _ = runtime.block_on(|| {
        goro::task::Builder::new()
            .name("config-reader")
            .spawn(|| panic!("no config file"))
            .expect("could not start a task");
        goro::sleep(std::time::Duration::from_secs(1));
        println!("main goes on"); // never printed: the process is gone
    });
}

#[test]
fn panic_crashes_ends_the_process_like_go() {
    if std::env::var_os("LESSON10_GO_RULES").is_some() {
        return go_rules();
    }
    // Run this very test again in a child process, with the variable set.
    let child = Command::new(std::env::current_exe().expect("the test binary's path"))
        .args([
            "--exact",
            "panic_crashes_ends_the_process_like_go",
            "--nocapture",
        ])
        .args(["--test-threads", "1"])
        .env("LESSON10_GO_RULES", "1")
        .output()
        .expect("could not run the test binary as a child");
    let stderr = String::from_utf8_lossy(&child.stderr);
    let stdout = String::from_utf8_lossy(&child.stdout);
    assert_eq!(
        child.status.signal(),
        Some(libc_sigabrt()),
        "the child should abort; it ended with {:?}\n{stderr}",
        child.status
    );
    assert!(stderr.contains("\"config-reader\" panicked"), "{stderr}");
    assert!(stderr.contains("no config file"), "{stderr}");
    assert!(!stdout.contains("main goes on"), "{stdout}");
}
// ANCHOR_END: crashes

fn libc_sigabrt() -> i32 {
    goro::sys::libc::SIGABRT
}
