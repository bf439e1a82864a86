//! `cargo xtask bench`: builds the benchmark binary (crate `goro-bench`, in `bench/`) with
//! whole-program optimisation and hands it the arguments. The workloads, the harness, the
//! Go twins and the tables all live in `bench/`; this file only builds and starts it, so
//! `cargo run -p goro-bench --profile bench-lto -- suite ...` does exactly the same.
//!
//! It never runs inside `cargo test`: benchmarks report numbers, tests assert behaviour.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The Cargo profile the benchmarks are built with (defined in the root `Cargo.toml`).
const PROFILE: &str = "bench-lto";

/// Runs `cargo xtask bench ARGS...`: `args` are the arguments after `bench`, unparsed
/// (`goro-bench suite` parses them and answers `--help`). `Err` is a one-line message that
/// names the problem and what to do next.
pub fn run(args: &[String]) -> Result<(), String> {
    let root = workspace_root();
    let exe = build(&root)?;
    let status = Command::new(&exe)
        .arg("suite")
        .args(args)
        .current_dir(&root)
        .status()
        .map_err(|e| format!("cannot start {}: {e}", exe.display()))?;
    match status.code() {
        Some(0) => Ok(()),
        // clap's exit code for a usage error; goro-bench already printed what was wrong.
        Some(2) => Err("goro-bench did not accept the arguments (see above); `cargo xtask bench --help` lists them".into()),
        _ => Err(format!(
            "the benchmark suite did not finish cleanly ({status}); the lines above say which workload failed and why"
        )),
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
}

/// Builds goro-bench and returns the path of its executable, as Cargo reports it (so a
/// custom `CARGO_TARGET_DIR` or `build.target-dir` is respected).
fn build(root: &Path) -> Result<PathBuf, String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root).args([
        "build",
        "--package",
        "goro-bench",
        "--bin",
        "goro-bench",
        "--profile",
        PROFILE,
        "--message-format",
        "json-render-diagnostics",
    ]);
    // Until the root manifest defines the profile, define it on the command line.
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap_or_default();
    if !manifest.contains(&format!("[profile.{PROFILE}]")) {
        for setting in [
            format!("profile.{PROFILE}.inherits=\"release\""),
            format!("profile.{PROFILE}.lto=\"fat\""),
            format!("profile.{PROFILE}.codegen-units=1"),
        ] {
            cmd.arg("--config").arg(setting);
        }
    }
    eprintln!("xtask bench: building goro-bench (profile {PROFILE})...");
    let out = cmd
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run cargo to build goro-bench: {e}"))?;
    if !out.status.success() {
        return Err(
            "building goro-bench failed (the compiler's errors are above); fix them, or run `cargo build -p goro-bench` to see them again"
                .into(),
        );
    }
    executable_from_messages(&String::from_utf8_lossy(&out.stdout)).ok_or_else(|| {
        "cargo built goro-bench but did not report where its executable is; run `cargo build -p goro-bench --profile bench-lto` and start target/bench-lto/goro-bench suite by hand".into()
    })
}

/// Finds the `goro-bench` executable in Cargo's JSON messages.
fn executable_from_messages(stdout: &str) -> Option<PathBuf> {
    stdout
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|msg| msg["reason"] == "compiler-artifact" && msg["target"]["name"] == "goro-bench")
        .filter_map(|msg| msg["executable"].as_str().map(PathBuf::from))
        .next_back()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_executable_among_cargo_messages() {
        let messages = r#"{"reason":"compiler-artifact","target":{"name":"goro"},"executable":null}
{"reason":"compiler-artifact","target":{"name":"goro-bench"},"executable":"/t/bench-lto/goro-bench"}
{"reason":"build-finished","success":true}"#;
        assert_eq!(
            executable_from_messages(messages),
            Some(PathBuf::from("/t/bench-lto/goro-bench"))
        );
        assert_eq!(executable_from_messages("not json\n"), None);
    }
}
