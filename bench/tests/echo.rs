//! The echo workload at a tiny size on every Rust system, run as `goro-bench run` would run it
//! for the suite: each run must exit cleanly (every echoed byte checked, the server's byte
//! count checked; a wrong answer exits with status 3) and print one result line.

use std::process::Command;

fn run(system: &str, workload: &str, n: u64) {
    let out = Command::new(env!("CARGO_BIN_EXE_goro-bench"))
        .args(["run", "--system", system, "--n", &n.to_string(), workload])
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("start goro-bench");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{workload} on {system} failed ({}):\n{stderr}",
        out.status
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "{workload} on {system} printed {stdout:?}");
    let v: serde_json::Value = serde_json::from_str(lines[0]).expect("a JSON result line");
    assert_eq!(v["workload"], workload);
    assert_eq!(v["system"], system);
    assert_eq!(v["unit"], "ns/round-trip");
    assert!(v["value"].as_f64().is_some_and(|x| x > 0.0), "{stdout}");
}

#[test]
fn echo_checks_its_answers_on_every_rust_system() {
    for system in ["goro", "tokio-mt", "tokio-ct", "may", "threads"] {
        run(system, "echo-latency", 20);
        // The full 1,000 connections; 1,003 round trips: three connections make two.
        run(system, "echo-throughput", 1_003);
    }
}
