//! `ci`: everything the project's CI runs, in order: rustfmt, clippy (`-D warnings`), the tests
//! of every crate except the exercises (which fail by design), the runtime's suite again with
//! mprotect stack guards, the loom models of the runtime's lock-free protocols, then `verify`
//! for every lesson, which also lints the pages and builds the book.

use std::path::Path;
use std::process::Stdio;
use std::time::Instant;

use crate::Result;
use crate::course::Course;
use crate::runner;
use crate::ui::{BAD, CMD, GOOD, HEAD, paint};
use crate::verify;

/// Workspace members that are not exercises (`-p` arguments).
fn non_exercise_packages(root: &Path) -> Result<Vec<String>> {
    let out = runner::cargo()
        .args([
            "metadata",
            "--no-deps",
            "--format-version",
            "1",
            "--manifest-path",
        ])
        .arg(root.join("Cargo.toml"))
        .stderr(Stdio::inherit())
        .output()?;
    if !out.status.success() {
        return Err("cargo metadata failed (see above)".into());
    }
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    let exercises = root.join("exercises");
    let mut names = Vec::new();
    for pkg in meta["packages"].as_array().into_iter().flatten() {
        let manifest = Path::new(pkg["manifest_path"].as_str().unwrap_or(""));
        if !manifest.starts_with(&exercises)
            && let Some(name) = pkg["name"].as_str()
        {
            names.push(name.to_string());
        }
    }
    Ok(names)
}

/// One cargo step of CI: its name, cargo's arguments, environment variables to set for it.
type Step = (String, Vec<String>, Vec<(&'static str, &'static str)>);

/// Runs the CI steps; returns whether all passed.
pub fn ci(root: &Path, verbose: bool) -> Result<bool> {
    let root = root.canonicalize()?;
    let packages = non_exercise_packages(&root)?;
    let mut pkg_args = Vec::new();
    for p in &packages {
        pkg_args.push("-p".to_string());
        pkg_args.push(p.clone());
    }
    // Each step: a name, cargo's arguments, and environment variables to set for it.
    let mut steps: Vec<Step> = vec![
        (
            "rustfmt".into(),
            vec!["fmt".into(), "--all".into(), "--check".into()],
            vec![],
        ),
        (
            "clippy".into(),
            {
                let mut a = vec!["clippy".to_string(), "--all-targets".into()];
                a.extend(pkg_args.iter().cloned());
                a.extend(["--".into(), "-D".into(), "warnings".into()]);
                a
            },
            vec![],
        ),
        (
            "tests".into(),
            {
                let mut a = vec!["test".to_string()];
                a.extend(pkg_args.iter().cloned());
                a
            },
            vec![],
        ),
        // Most learners' and hosted CI kernels (Linux < 6.13) have no MADV_GUARD_INSTALL, so
        // goro falls back to mprotect guards and a VMA budget: its suite must pass there too.
        // The debug build of the step above is reused, so this costs only the test time.
        (
            "tests (mprotect guards)".into(),
            vec!["test".to_string(), "-p".into(), "goro".into()],
            vec![("GORO_STACK_GUARD", "mprotect")],
        ),
        // The model checks of goro's lock-free protocols (`runtime/src/loom.rs`): the crate
        // built with `--cfg loom` runs only its `loom_*` tests. A target directory of its own,
        // since different RUSTFLAGS would otherwise invalidate the normal build's cache.
        (
            "loom models".into(),
            vec![
                "test".to_string(),
                "-p".into(),
                "goro".into(),
                "--release".into(),
                "--lib".into(),
                "--target-dir".into(),
                "target/loom".into(),
                "loom_".into(),
            ],
            vec![("RUSTFLAGS", "--cfg loom -D warnings")],
        ),
    ];
    if !verbose {
        // No walls of "Compiling ..." lines; diagnostics and test results still show.
        for (_, args, _) in steps.iter_mut().skip(1) {
            args.insert(1, "--quiet".into());
        }
    }
    let total = steps.len() + 1;
    let mut results = Vec::new();
    for (i, (name, args, env)) in steps.drain(..).enumerate() {
        anstream::println!(
            "{} {}",
            paint(HEAD, format!("── ci {}/{total}: {name}", i + 1)),
            paint(
                CMD,
                format!(
                    "{}cargo {}",
                    env.iter()
                        .map(|(k, v)| format!("{k}={v} "))
                        .collect::<String>(),
                    args.join(" ")
                )
            )
        );
        let started = Instant::now();
        let status = runner::cargo()
            .args(&args)
            .envs(env.iter().copied())
            .current_dir(&root)
            .stdin(Stdio::null())
            .status()?;
        results.push((name, status.success(), started.elapsed()));
    }
    anstream::println!(
        "{}",
        paint(
            HEAD,
            format!("── ci {total}/{total}: verify (every lesson, the pages, the book)")
        )
    );
    let started = Instant::now();
    let course = Course::load(&root)?;
    let ok = verify::verify(&course, &[], true, verbose)?;
    results.push(("verify".into(), ok, started.elapsed()));
    anstream::println!();
    let mut all = true;
    for (name, ok, took) in &results {
        all &= ok;
        let mark = if *ok {
            paint(GOOD, "✓")
        } else {
            paint(BAD, "✗")
        };
        anstream::println!("{mark} {name:<24} {:>6.1} s", took.as_secs_f64());
    }
    let failed = results.iter().filter(|r| !r.1).count();
    anstream::println!("ci: {} passed, {} failed", results.len() - failed, failed);
    Ok(all)
}
