//! Runs the `main_exits` program and checks that every worker got to finish.

use std::process::Command;

#[test]
fn every_worker_gets_to_finish() {
    let output = Command::new(env!("CARGO_BIN_EXE_main_exits"))
        .output()
        .expect("the main_exits program starts");
    assert!(output.status.success(), "main_exits failed: {output:?}");
    let stdout = String::from_utf8(output.stdout).expect("main_exits prints UTF-8");
    // The kernel decides which worker finishes first, so compare the lines in sorted order.
    let mut lines: Vec<&str> = stdout.lines().collect();
    lines.sort_unstable();
    insta::assert_snapshot!(lines.join("\n"));
}
