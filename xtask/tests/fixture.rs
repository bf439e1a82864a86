//! Drives the real `cargo xtask` binary against a fixture course (tests/fixtures/course: two
//! runtime-less lessons) copied into a temporary folder, as a learner and an instructor would.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A private copy of the fixture course, a git repository with one commit (the "shipped" course).
struct Course {
    dir: tempfile::TempDir,
    _one_at_a_time: std::sync::MutexGuard<'static, ()>,
}

/// Copies of the course share a target folder (so the test dependencies compile once), and
/// cargo tells two copies' builds apart by file times only. So the tests take turns: a copy
/// is made after the previous test's builds, and its files are newer than those builds.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn shared_target(name: &str) -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join(name)
}

fn copy_dir(from: &Path, to: &Path) {
    for entry in walkdir::WalkDir::new(from) {
        let entry = entry.unwrap();
        let rel = entry.path().strip_prefix(from).unwrap();
        if rel.starts_with("target") || rel.starts_with(".workbook") {
            continue;
        }
        let dest = to.join(rel);
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&dest).unwrap();
        } else {
            std::fs::copy(entry.path(), &dest).unwrap();
        }
    }
}

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Course {
    fn new() -> Course {
        let guard = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
        let dir = tempfile::tempdir().unwrap();
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/course");
        copy_dir(&src, dir.path());
        git(dir.path(), &["init", "-q"]);
        git(dir.path(), &["add", "."]);
        git(dir.path(), &["commit", "-q", "-m", "the course as shipped"]);
        Course {
            dir,
            _one_at_a_time: guard,
        }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn write(&self, rel: &str, text: &str) {
        std::fs::write(self.path(rel), text).unwrap();
    }

    fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel)).unwrap()
    }

    fn solve(&self, lesson: &str) {
        let from = self.path(&format!("solutions/{lesson}/src/lib.rs"));
        std::fs::copy(from, self.path(&format!("exercises/{lesson}/src/lib.rs"))).unwrap();
    }

    /// Runs `cargo xtask ARGS` on this course; returns (exit code, stdout + stderr).
    fn xtask(&self, args: &[&str]) -> (i32, String) {
        self.xtask_with(args, &[])
    }

    /// `xtask` with extra environment variables.
    fn xtask_with(&self, args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
        let mut cmd = xtask_command();
        cmd.arg("--root").arg(self.dir.path());
        cmd.args(["--color", "never"]).args(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        run(cmd)
    }
}

/// The grader under test: this build's, or another one named by `XTASK_UNDER_TEST` (to show
/// that a regression test fails against the grader before its fix).
fn xtask_command() -> Command {
    let exe =
        std::env::var_os("XTASK_UNDER_TEST").unwrap_or_else(|| env!("CARGO_BIN_EXE_xtask").into());
    let mut cmd = Command::new(exe);
    cmd.env("CARGO_TARGET_DIR", shared_target("fixture-target"))
        .env("XTASK_SCRATCH_TARGET", shared_target("fixture-scratch"))
        .env_remove("CI");
    cmd
}

fn run(mut cmd: Command) -> (i32, String) {
    {
        let out: Output = cmd.output().unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.code().unwrap_or(-1), text)
    }
}

#[test]
fn a_failing_lesson_shows_each_check_the_first_failure_and_what_to_do_next() {
    let c = Course::new();
    let (code, out) = c.xtask(&["check", "01"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("✗ adding::adds_small_numbers"), "{out}");
    assert!(out.contains("✓ adding::adds_zero"), "{out}");
    assert!(out.contains("✗ table::the_table"), "{out}");
    assert!(out.contains("2 of 3 checks failed"), "{out}");
    assert!(
        out.contains("2 + 3 should be 5"),
        "the panic message: {out}"
    );
    assert!(!out.contains("stack backtrace"), "{out}");
    assert!(
        out.contains("Next:") && out.contains("cargo xtask hint 01"),
        "{out}"
    );
    // The state is remembered for `list`, and invalidated by an edit.
    let (_, list) = c.xtask(&["list"]);
    assert!(list.contains("01  ✗ failing"), "{list}");
    assert!(list.contains("02  · not started"), "{list}");
    assert!(list.contains("0/2 lessons passed"), "{list}");
    c.write(
        "exercises/lesson-01-adding/src/lib.rs",
        "pub fn add(a: u32, b: u32) -> u32 { a * b }\n",
    );
    let (_, list) = c.xtask(&["list"]);
    assert!(list.contains("01  ~ in progress"), "{list}");
    assert!(
        list.contains("(\"in progress\": your files changed"),
        "{list}"
    );
    // A wrong answer that passes one test shows the snapshot diff.
    c.write(
        "exercises/lesson-01-adding/src/lib.rs",
        "pub fn add(a: u32, b: u32) -> u32 { if a == 2 && b == 3 { 5 } else { a * b } }\n",
    );
    let (code, out) = c.xtask(&["check", "adding"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("The first one, table::the_table"), "{out}");
    assert!(
        out.contains("tests/snapshots/table__the_table.snap"),
        "{out}"
    );
    assert!(
        out.contains("- 1 + 1 = 2") && out.contains("+ 1 + 1 = 1"),
        "{out}"
    );
    assert!(
        !out.contains("cargo insta review"),
        "never advise rewriting snapshots: {out}"
    );
    // Nothing was written next to the snapshots.
    let snaps = std::fs::read_dir(c.path("exercises/lesson-01-adding/tests/snapshots"))
        .unwrap()
        .count();
    assert_eq!(snaps, 1);
}

#[test]
fn a_solved_lesson_passes_and_shows_the_solution_and_why() {
    let c = Course::new();
    c.solve("lesson-01-adding");
    let (code, out) = c.xtask(&["check", "lesson-01"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("Lesson 01 passed: all 3 checks"), "{out}");
    assert!(
        out.contains("solutions/lesson-01-adding/src/lib.rs"),
        "{out}"
    );
    assert!(
        out.contains("Addition is what `+` does."),
        "the WHY.md note: {out}"
    );
    assert!(out.contains("cargo xtask check 02"), "{out}");
    let (_, list) = c.xtask(&["list"]);
    assert!(
        list.contains("01  ✓ passed") && list.contains("1/2 lessons passed"),
        "{list}"
    );
    assert!(
        !list.contains("in progress"),
        "no legend for a state nobody is in: {list}"
    );
}

#[test]
fn a_pass_spelled_differently_shows_the_difference_from_the_solution() {
    let c = Course::new();
    let lib = "exercises/lesson-01-adding/src/lib.rs";
    c.write(
        lib,
        &c.read(lib).replace(
            "    // TODO(lesson): add them.\n    let _ = (a, b);\n    0\n",
            "    b + a\n",
        ),
    );
    let (code, out) = c.xtask(&["check", "01"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("- yours (exercises/lesson-01-adding/src/lib.rs)")
            && out.contains("+ the course's (solutions/lesson-01-adding/src/lib.rs)"),
        "{out}"
    );
    assert!(
        out.contains("-     b + a") && out.contains("+     a + b"),
        "the diff: {out}"
    );
    let diff_at = out.find("+     a + b").unwrap();
    let why_at = out.find("Addition is what `+` does.").unwrap();
    assert!(diff_at < why_at, "the diff, then WHY.md: {out}");
}

#[test]
fn watch_shows_the_solution_and_why_once() {
    use std::io::Write;
    let c = Course::new();
    c.solve("lesson-01-adding");
    let mut child = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("--root")
        .arg(c.dir.path())
        .args(["--color", "never", "watch", "01", "--poll"])
        .env("CARGO_TARGET_DIR", shared_target("fixture-target"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Enter re-checks (as a save would), then q quits.
    child.stdin.take().unwrap().write_all(b"\nq\n").unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert_eq!(text.matches("Lesson 01 passed").count(), 2, "{text}");
    assert_eq!(
        text.matches("Addition is what `+` does.").count(),
        1,
        "WHY.md once: {text}"
    );
    assert!(text.contains("were shown at the first pass"), "{text}");
}

#[test]
fn the_book_shows_the_exercises_as_shipped_and_the_hints_file() {
    let c = Course::new();
    c.write(
        "exercises/lesson-01-adding/src/lib.rs",
        "// ANCHOR: add\npub fn add(a: u32, b: u32) -> u32 {\n    my_own_answer(a, b)\n}\n// ANCHOR_END: add\n",
    );
    let (code, out) = c.xtask(&["book"]);
    assert_eq!(code, 0, "{out}");
    let html = c.read("target/book/lesson-01-adding.html");
    assert!(
        html.contains("TODO(lesson): add them") && !html.contains("my_own_answer"),
        "the block shows the shipped code: {html}"
    );
    assert!(
        html.contains("<summary>Hint 2</summary>") && html.contains("It should be a plus."),
        "the page shows hints.md: {html}"
    );
    // `hint` reads the same file.
    c.write(
        "exercises/lesson-01-adding/hints.md",
        "<details>\n<summary>Hint 1</summary>\n\nA changed hint.\n</details>\n",
    );
    let (_, out) = c.xtask(&["hint", "01"]);
    assert!(out.contains("1/1 A changed hint."), "{out}");
}

#[test]
fn a_tampered_snapshot_never_passes() {
    let c = Course::new();
    // The learner "fixes" the lesson by rewriting the snapshot to match the wrong code.
    let snap = "exercises/lesson-01-adding/tests/snapshots/table__the_table.snap";
    c.write(
        snap,
        "---\nsource: tests/table.rs\nexpression: out\n---\n1 + 1 = 0\n2 + 2 = 0\n3 + 3 = 0\n",
    );
    c.write(
        "exercises/lesson-01-adding/tests/adding.rs",
        "#[test]\nfn adds_zero() {}\n",
    );
    let (code, out) = c.xtask(&["check", "1"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("protected files changed"), "{out}");
    assert!(out.contains(&format!("git checkout -- {snap}")), "{out}");
    assert!(out.contains("cargo xtask reset 01"), "{out}");
    assert!(out.contains("does not count as passed"), "{out}");
    let next = out.lines().find(|l| l.starts_with("Next:")).unwrap_or("");
    assert!(
        next.starts_with("Next: restore them with git checkout -- ") && next.contains(snap),
        "the one-file restore comes first: {out}"
    );
    // grade ignores the tampering: it runs the shipped tests on the learner's code.
    let (code, json) = c.xtask(&["grade", "--format", "json", "01"]);
    assert_eq!(code, 1, "{json}");
    assert!(json.contains("\"passed\": false"), "{json}");
    assert!(json.contains("adding::adds_small_numbers"), "{json}");
}

#[test]
fn a_hanging_test_is_stopped_at_the_time_limit_and_explained() {
    let c = Course::new();
    c.write(
        "exercises/lesson-02-waiting/src/lib.rs",
        "pub fn answer() -> u32 {\n    let (tx, rx) = std::sync::mpsc::channel::<u32>();\n    \
         std::thread::spawn(move || std::mem::forget(tx));\n    rx.recv().unwrap_or(0)\n}\n",
    );
    let started = std::time::Instant::now();
    let (code, out) = c.xtask(&["check", "waiting"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("still running after 3 s"), "{out}");
    assert!(
        out.contains("a task waiting for something that never comes"),
        "{out}"
    );
    let words = out.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        words.contains("time is virtual: the clock only moves when every task waits"),
        "{out}"
    );
    assert!(out.contains("waiting::then_the_rest (not run)"), "{out}");
    // Generous bound: the point is that the grader did not wait forever.
    assert!(started.elapsed().as_secs() < 240);
}

#[test]
fn crashes_are_named_with_the_process_last_words() {
    let c = Course::new();
    let lib = "exercises/lesson-02-waiting/src/lib.rs";
    c.write(
        lib,
        "pub fn answer() -> u32 {\n    use std::io::Write;\n    \
         let _ = std::io::stderr().write_all(b\"runtime: task 7 overflowed its stack\\n\");\n    \
         std::process::abort()\n}\n",
    );
    let (code, out) = c.xtask(&["check", "02"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("crashed (SIGABRT)"), "{out}");
    assert!(
        out.contains("runtime: task 7 overflowed its stack"),
        "{out}"
    );
    // The test after the crash still ran.
    assert!(out.contains("✓ waiting::then_the_rest"), "{out}");
    c.write(
        lib,
        "pub fn answer() -> u32 {\n    println!(\"about to write through a null pointer\");\n    \
         // SAFETY: none: this crashes on purpose.\n    \
         unsafe { std::ptr::null_mut::<u32>().write_volatile(1) };\n    0\n}\n",
    );
    let (code, out) = c.xtask(&["check", "02"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("crashed with SIGSEGV"), "{out}");
    assert!(
        out.contains("about to write through a null pointer"),
        "{out}"
    );
}

#[test]
fn an_unknown_lesson_lists_the_lessons_and_the_closest_match() {
    let c = Course::new();
    let (code, out) = c.xtask(&["check", "addng"]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("there is no lesson `addng`"), "{out}");
    assert!(out.contains("Did you mean `lesson-01-adding`?"), "{out}");
    assert!(out.contains("02  lesson-02-waiting"), "{out}");
    // Without a terminal and without --color, no escape codes.
    let plain = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("--root")
        .arg(c.dir.path())
        .args(["check", "addng"])
        .env_remove("CLICOLOR_FORCE")
        .output()
        .unwrap();
    assert!(
        !plain.stderr.contains(&0x1b),
        "{}",
        String::from_utf8_lossy(&plain.stderr)
    );
    let (code, out) = c.xtask(&["hint", "9"]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("no lesson `9`"), "{out}");
}

#[test]
fn hints_come_one_at_a_time_and_are_remembered() {
    let c = Course::new();
    let (_, out) = c.xtask(&["hint", "01"]);
    assert!(
        out.contains("1/2 Look at the operator.") && !out.contains("plus"),
        "{out}"
    );
    let (_, out) = c.xtask(&["hint", "01"]);
    assert!(out.contains("2/2 It should be a plus."), "{out}");
    assert!(out.contains("last hint"), "{out}");
    let (_, out) = c.xtask(&["hint", "02", "--all"]);
    assert!(out.contains("1/1 Send the answer"), "{out}");
}

#[test]
fn reset_backs_up_the_learner_files_then_restores_the_shipped_ones() {
    let c = Course::new();
    let lib = "exercises/lesson-01-adding/src/lib.rs";
    let shipped = c.read(lib);
    c.write(lib, "// my attempt\n");
    c.write(
        "exercises/lesson-01-adding/tests/adding.rs",
        "// broken by mistake\n",
    );
    c.write(
        "exercises/lesson-01-adding/src/extra.rs",
        "// a file of mine\n",
    );
    // The learner's own commit does not count as "shipped".
    git(c.dir.path(), &["add", "."]);
    git(c.dir.path(), &["commit", "-q", "-m", "my work"]);
    let (code, out) = c.xtask(&["reset", "01"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(c.read(lib), shipped);
    assert!(
        c.read("exercises/lesson-01-adding/tests/adding.rs")
            .contains("adds_small_numbers")
    );
    assert!(!c.path("exercises/lesson-01-adding/src/extra.rs").exists());
    let backups: Vec<_> = std::fs::read_dir(c.path(".workbook/backups"))
        .unwrap()
        .collect();
    assert_eq!(backups.len(), 1);
    let backup = backups[0].as_ref().unwrap().path();
    assert!(
        backup
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("lesson-01-adding-")
    );
    assert!(
        out.contains(&backup.file_name().unwrap().to_string_lossy().to_string()),
        "{out}"
    );
    assert_eq!(
        std::fs::read_to_string(backup.join("src/lib.rs")).unwrap(),
        "// my attempt\n"
    );
    assert_eq!(
        std::fs::read_to_string(backup.join("src/extra.rs")).unwrap(),
        "// a file of mine\n"
    );
}

#[test]
fn verify_accepts_a_sound_course_and_new_lessons_pass_it_at_once() {
    let c = Course::new();
    let (code, out) = c.xtask(&["new", "lesson-03-fresh", "--title", "Fresh start"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        c.read("lessons/SUMMARY.md")
            .contains("[03. A lesson still being written](lesson-03-fresh.md)")
    );
    let (code, out) = c.xtask(&["verify"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("the exercise builds and fails exactly its 2 expected tests"),
        "{out}"
    );
    assert!(out.contains("the solution is clippy-clean"), "{out}");
    assert!(out.contains("the book builds"), "{out}");
    assert!(out.contains("verify: 3 lessons sound"), "{out}");
    assert!(c.path("target/book/index.html").is_file());
    // The lock is current: seal changes nothing.
    let (_, out) = c.xtask(&["seal"]);
    assert!(out.contains("already current"), "{out}");
}

#[test]
fn verify_names_the_lesson_and_the_reason() {
    let c = Course::new();
    // An exercise that passes a test it declares as failing, a pasted code block, a stale lock.
    let manifest = "exercises/lesson-02-waiting/Cargo.toml";
    c.write(
        manifest,
        &c.read(manifest).replace(
            "expected_failures = [\"waiting::the_answer_arrives\"]",
            "expected_failures = [\"waiting::the_answer_arrives\", \"waiting::then_the_rest\"]",
        ),
    );
    // The page also lost its hints, names an anchor that does not exist (outside a ```rust
    // block, which the page lint does not read) and has an unclosed HTML tag.
    c.write(
        "lessons/lesson-02-waiting.md",
        "# 02\n\n```rust\nfn pasted() {}\n```\n\n\
         ```text\n{{#include ../exercises/lesson-02-waiting/src/lib.rs:gone}}\n```\n\n\
         A stray <u64> tag.\n",
    );
    let (code, out) = c.xtask(&["verify", "02"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("expected to fail but pass as shipped: waiting::then_the_rest"),
        "{out}"
    );
    assert!(out.contains("lock: out of date for Cargo.toml"), "{out}");
    assert!(out.contains("lessons/lesson-02-waiting.md:3"), "{out}");
    assert!(out.contains("pasted"), "{out}");
    assert!(
        out.contains("lessons/lesson-02-waiting.md does not show the hints"),
        "{out}"
    );
    assert!(
        out.contains(
            "lessons/lesson-02-waiting.md: {{#include ../exercises/lesson-02-waiting/src/lib.rs:gone}} \
             names the anchor `gone`, but ../exercises/lesson-02-waiting/src/lib.rs has no `ANCHOR: gone`"
        ),
        "{out}"
    );
    assert!(out.contains("unclosed HTML tag `<u64>`"), "{out}");
}

#[test]
fn grade_writes_junit_from_a_pristine_copy() {
    let c = Course::new();
    c.solve("lesson-01-adding");
    let report = c.path("report.xml");
    let (code, out) = c.xtask(&[
        "grade",
        "--format",
        "junit",
        "--out",
        report.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "lesson 02 is not solved: {out}");
    assert!(out.contains("1/2 lessons passed"), "{out}");
    let xml = std::fs::read_to_string(report).unwrap();
    assert!(
        xml.contains("<testsuite name=\"lesson-01-adding · Adding\" tests=\"3\""),
        "{xml}"
    );
    assert!(xml.contains("failures=\"0\""), "{xml}");
    assert!(
        xml.contains("name=\"waiting::the_answer_arrives\""),
        "{xml}"
    );
    assert!(xml.contains("<failure"), "{xml}");
}

#[test]
fn bless_re_records_snapshots_from_the_solution_and_reseals() {
    let c = Course::new();
    let test = "exercises/lesson-01-adding/tests/table.rs";
    c.write(
        test,
        &c.read(test).replace("{a} + {a} = {}", "{a} plus {a} is {}"),
    );
    let (code, out) = c.xtask(&["bless", "01"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("+ 1 plus 1 is 2"), "the diff: {out}");
    let snap = c.read("exercises/lesson-01-adding/tests/snapshots/table__the_table.snap");
    assert!(snap.contains("3 plus 3 is 6"), "{snap}");
    // The lock now accepts the changed test and snapshot; the solution passes them.
    c.solve("lesson-01-adding");
    let (code, out) = c.xtask(&["check", "01"]);
    assert_eq!(code, 0, "{out}");
}

#[test]
fn a_compile_error_is_shown_with_the_next_step() {
    let c = Course::new();
    c.write(
        "exercises/lesson-02-waiting/src/lib.rs",
        "pub fn answer() -> u32 {\n    \"forty-two\"\n}\n",
    );
    let (code, out) = c.xtask(&["check", "02"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("the exercise does not compile (1 error)"),
        "{out}"
    );
    assert!(out.contains("mismatched types"), "rustc's own words: {out}");
    assert!(out.contains("Next: fix the compile error above"), "{out}");
}

#[test]
fn watch_checks_at_once_and_quits_on_q() {
    use std::io::Write;
    let c = Course::new();
    let mut child = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("--root")
        .arg(c.dir.path())
        .args(["--color", "never", "watch", "02", "--poll"])
        .env("CARGO_TARGET_DIR", shared_target("fixture-target"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Typed while the first check runs; read once it is done.
    child.stdin.take().unwrap().write_all(b"h\nq\n").unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("✗ waiting::the_answer_arrives"), "{text}");
    assert!(
        text.contains("watching exercises/lesson-02-waiting (polling: --poll)"),
        "{text}"
    );
    assert!(text.contains("1/1 Send the answer"), "the hint: {text}");
}

// ---------------------------------------------------------------------------------------------
// Attacks. Each test is written as a learner who wants the points without the work would try
// it, from inside the one file they may edit (or their own checkout and shell). Lesson 01's
// honest failure: `add` is right for the `adding` tests and wrong for the snapshot table.

const LIB: &str = "exercises/lesson-01-adding/src/lib.rs";

/// Right where `adding` looks, wrong where `table` looks: fails `table::the_table` honestly.
const HALF_RIGHT: &str =
    "pub fn add(a: u32, b: u32) -> u32 { if a == b && a > 0 { a * b } else { a + b } }\n";

fn grade_json(
    c: &Course,
    extra: &[&str],
    env: &[(&str, &str)],
) -> (i32, serde_json::Value, String) {
    let report = c.path("grade.json");
    let mut args = vec![
        "grade",
        "--format",
        "json",
        "--out",
        report.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let (code, out) = c.xtask_with(&args, env);
    let json = std::fs::read_to_string(&report)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(serde_json::Value::Null);
    (code, json, out)
}

fn lesson_passed(json: &serde_json::Value, lesson: &str) -> bool {
    json["lessons"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|l| l["lesson"] == lesson && l["passed"] == true)
}

#[test]
fn attack_printing_libtest_lines_and_exiting_0_is_no_pass() {
    let c = Course::new();
    c.write(
        LIB,
        r#"pub fn add(a: u32, b: u32) -> u32 {
    use std::io::Write;
    // Straight to fd 1, past libtest's capture: what the old grader read as the verdict.
    let mut out = std::io::stdout().lock();
    for name in ["adding::adds_small_numbers", "adds_small_numbers", "adds_zero", "the_table"] {
        let _ = writeln!(out, "ok\ntest {name} ... ok");
    }
    let _ = writeln!(out, "\ntest result: ok. 2 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s");
    let _ = out.flush();
    let _ = (a, b);
    std::process::exit(0)
}
"#,
    );
    // The token scan refuses `exit`; behind it (XTASK_NO_SCAN), the verdict check does.
    let (code, json, out) = grade_json(&c, &["01"], &[]);
    assert_eq!(code, 1, "{out}\n{json}");
    assert!(json.to_string().contains("`exit`"), "{json}");
    let no_scan = [("XTASK_NO_SCAN", "1")];
    let (code, json, out) = grade_json(&c, &["01"], &no_scan);
    assert_eq!(code, 1, "{out}\n{json}");
    assert!(!lesson_passed(&json, "lesson-01-adding"), "{json}");
    let text = json.to_string();
    assert!(
        text.contains("exited with status 0 before the test harness reported a result"),
        "the report says why: {text}"
    );
    // check, the learner's mirror, agrees.
    let (code, out) = c.xtask_with(&["check", "01"], &no_scan);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("not trusted"), "{out}");
}

/// The attack on the binaries: the first test binary to run rewrites every later one it can
/// find into a script that claims success.
const OVERWRITE_LATER_BINARIES: &str = r##"pub fn add(a: u32, b: u32) -> u32 {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let fake = "#!/bin/sh\nfor a in \"$@\"; do [ \"$a\" = --list ] && { echo 'the_table: test'; exit 0; }; done\necho 'test the_table ... ok'\necho 'test result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out'\nexit 0\n";
        let me = std::env::current_exe().unwrap();
        let mut dirs = vec![me.parent().unwrap().to_path_buf()];
        dirs.push(std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")));
        for dir in dirs {
            for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.starts_with("table") && entry.path() != me {
                    let _ = std::fs::remove_file(entry.path());
                    let _ = std::fs::write(entry.path(), fake);
                    use std::os::unix::fs::PermissionsExt;
                    let _ = std::fs::set_permissions(entry.path(), std::fs::Permissions::from_mode(0o755));
                }
            }
        }
    });
    if a == b && a > 0 { a * b } else { a + b }
}
"##;

#[test]
fn attack_rewriting_a_later_test_binary_is_no_pass() {
    let c = Course::new();
    c.write(LIB, OVERWRITE_LATER_BINARIES);
    // Behind Landlock the write is refused; without it, the changed binary is caught by its hash.
    for env in [&[][..], &[("XTASK_NO_LANDLOCK", "1")][..]] {
        let (code, json, out) = grade_json(&c, &["01"], env);
        assert_eq!(code, 1, "{env:?}: {out}\n{json}");
        assert!(!lesson_passed(&json, "lesson-01-adding"), "{env:?}: {json}");
        let text = json.to_string();
        assert!(text.contains("table::the_table"), "{env:?}: {text}");
    }
    let (_, json, _) = grade_json(&c, &["01"], &[("XTASK_NO_LANDLOCK", "1")]);
    let text = json.to_string();
    assert!(
        text.contains("without the read-only guard") || text.contains("test binary changed"),
        "{text}"
    );
}

#[test]
fn attack_hiding_a_test_from_the_list_is_no_pass() {
    let c = Course::new();
    // Code that runs before main (as a static constructor) and makes the snapshot test's
    // binary list no tests, so the test vanishes.
    c.write(
        LIB,
        r#"pub fn add(a: u32, b: u32) -> u32 { if a == b && a > 0 { a * b } else { a + b } }

#[used]
#[unsafe(link_section = ".init_array")]
static HIDE: extern "C" fn() = hide;

extern "C" fn hide() {
    let me = std::env::current_exe().map(|p| p.display().to_string()).unwrap_or_default();
    if me.contains("table") && std::env::args().any(|a| a == "--list") {
        std::process::exit(0);
    }
}
"#,
    );
    // Behind the token scan (which refuses `link_section`), the course's own list counts.
    let (code, json, out) = grade_json(&c, &["01"], &[("XTASK_NO_SCAN", "1")]);
    assert_eq!(code, 1, "{out}\n{json}");
    assert!(!lesson_passed(&json, "lesson-01-adding"), "{json}");
    assert!(json.to_string().contains("table::the_table"), "{json}");
}

#[test]
fn compile_fail_cases_run_before_any_binary_that_links_the_learner_code() {
    let c = Course::new();
    let (_, out) = c.xtask(&["check", "02"]);
    let first = out
        .find("compile_fail::misuse_does_not_compile")
        .expect(&out);
    let later = out.find("waiting::").expect(&out);
    assert!(first < later, "{out}");
}

#[test]
fn attack_insta_config_forcing_a_pass_is_refused() {
    let c = Course::new();
    c.write(LIB, HALF_RIGHT);
    for file in [
        "insta.yaml",
        "exercises/lesson-01-adding/.config/insta.yaml",
    ] {
        std::fs::create_dir_all(c.path(file).parent().unwrap()).unwrap();
        c.write(file, "behavior:\n  force_pass: true\n");
        let (code, out) = c.xtask_with(&["check", "01"], &[("INSTA_FORCE_PASS", "1")]);
        assert_eq!(code, 1, "{out}");
        assert!(!out.contains("passed: all"), "{out}");
        assert!(
            out.contains("refused:") && out.contains(file),
            "names {file}: {out}"
        );
        std::fs::remove_file(c.path(file)).unwrap();
    }
}

#[test]
fn attack_cargo_config_patching_insta_is_refused() {
    let c = Course::new();
    c.write(LIB, HALF_RIGHT);
    // A fake insta whose assertion checks nothing, patched in by a cargo config.
    let fake = c.path("exercises/lesson-01-adding/.fake-insta");
    std::fs::create_dir_all(fake.join("src")).unwrap();
    std::fs::write(
        fake.join("Cargo.toml"),
        "[package]\nname = \"insta\"\nversion = \"1.999.0\"\nedition = \"2021\"\n",
    )
    .unwrap();
    std::fs::write(
        fake.join("src/lib.rs"),
        "#[macro_export]\nmacro_rules! assert_snapshot { ($($t:tt)*) => {}; }\n",
    )
    .unwrap();
    std::fs::create_dir_all(c.path("exercises/lesson-01-adding/.cargo")).unwrap();
    c.write(
        "exercises/lesson-01-adding/.cargo/config.toml",
        &format!(
            "[patch.crates-io]\ninsta = {{ path = \"{}\" }}\n",
            fake.display()
        ),
    );
    let (code, out) = c.xtask(&["check", "01"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("exercises/lesson-01-adding/.cargo/config.toml") && out.contains("[patch]"),
        "{out}"
    );
}

#[test]
fn attack_through_build_environment_and_build_script_is_neutralised() {
    let c = Course::new();
    c.solve("lesson-01-adding");
    let marker = c.path("wrapper-ran");
    let wrapper = c.path("wrapper.sh");
    std::fs::write(
        &wrapper,
        format!("#!/bin/sh\ntouch {}\nexec \"$@\"\n", marker.display()),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let (code, out) = c.xtask_with(
        &["check", "01"],
        &[("RUSTC_WRAPPER", wrapper.to_str().unwrap())],
    );
    assert_eq!(code, 0, "{out}");
    assert!(!marker.exists(), "RUSTC_WRAPPER ran: {out}");
    // The note lists every judging variable set (under `cargo xtask ci` the INSTA_ ones too).
    assert!(
        out.lines()
            .any(|l| l.contains("note: ignoring") && l.contains("RUSTC_WRAPPER")),
        "{out}"
    );
    // A build script runs code at build time: refused before anything is built.
    c.write(
        "exercises/lesson-01-adding/build.rs",
        &format!(
            "fn main() {{ std::fs::write({:?}, \"\").unwrap(); }}\n",
            marker.display().to_string()
        ),
    );
    let (code, out) = c.xtask(&["check", "01"]);
    assert_eq!(code, 1, "{out}");
    assert!(!marker.exists(), "build.rs ran: {out}");
    assert!(out.contains("exercises/lesson-01-adding/build.rs"), "{out}");
}

#[test]
fn attack_deleting_the_lock_makes_no_pass() {
    let c = Course::new();
    c.write(LIB, HALF_RIGHT);
    // "Fix" the snapshot, then remove the lock that would notice.
    let snap = "exercises/lesson-01-adding/tests/snapshots/table__the_table.snap";
    c.write(
        snap,
        &c.read(snap)
            .replace("1 + 1 = 2", "1 + 1 = 1")
            .replace("3 + 3 = 6", "3 + 3 = 9"),
    );
    std::fs::remove_file(c.path("exercises/workbook.lock")).unwrap();
    let (code, out) = c.xtask(&["check", "01"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("git checkout -- exercises/workbook.lock"),
        "{out}"
    );
}

#[test]
fn attack_a_symlinked_learner_file_is_never_read_or_written_through() {
    let c = Course::new();
    let secret_dir = tempfile::tempdir().unwrap();
    let secret = secret_dir.path().join("secret.txt");
    std::fs::write(&secret, "TOP-SECRET-LINE\n").unwrap();
    std::fs::remove_file(c.path(LIB)).unwrap();
    std::os::unix::fs::symlink(&secret, c.path(LIB)).unwrap();
    // grade: the submission's link is refused, never read, never quoted.
    let (code, json, out) = grade_json(&c, &["01"], &[]);
    assert_eq!(code, 1, "{out}");
    assert!(
        !out.contains("TOP-SECRET") && !json.to_string().contains("TOP-SECRET"),
        "{out}\n{json}"
    );
    assert!(json.to_string().contains("symbolic link"), "{json}");
    // check refuses with a message; reset refuses and writes nothing through the link.
    let (code, out) = c.xtask(&["check", "01"]);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("symbolic link") && !out.contains("TOP-SECRET"),
        "{out}"
    );
    let (code, out) = c.xtask(&["reset", "01"]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("symbolic link"), "{out}");
    assert_eq!(
        std::fs::read_to_string(&secret).unwrap(),
        "TOP-SECRET-LINE\n"
    );
}

#[test]
fn resets_in_quick_succession_keep_every_attempt_and_restore_brings_them_back() {
    let c = Course::new();
    let mut saved = Vec::new();
    for attempt in ["// attempt 1\n", "// attempt 2\n"] {
        c.write(LIB, attempt);
        let (code, out) = c.xtask(&["reset", "01"]);
        assert_eq!(code, 0, "{out}");
        let line = out
            .lines()
            .find(|l| l.contains("backed up in"))
            .expect(&out)
            .to_string();
        saved.push(line);
    }
    assert_ne!(saved[0], saved[1]);
    let backups: Vec<_> = std::fs::read_dir(c.path(".workbook/backups"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(backups.len(), 2, "{backups:?}");
    let mut contents: Vec<String> = backups
        .iter()
        .map(|b| std::fs::read_to_string(b.join("src/lib.rs")).unwrap())
        .collect();
    contents.sort();
    assert_eq!(contents, ["// attempt 1\n", "// attempt 2\n"]);
    let (code, list) = c.xtask(&["reset", "--list"]);
    assert_eq!(code, 0, "{list}");
    assert!(list.contains("cargo xtask restore 01"), "{list}");
    // restore brings the newest back, after backing up what is there now.
    c.write(LIB, "// attempt 3\n");
    let (code, out) = c.xtask(&["restore", "01"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(c.read(LIB), "// attempt 2\n");
    let (_, list) = c.xtask(&["reset", "--list", "01"]);
    assert_eq!(
        list.matches(".workbook/backups/lesson-01-adding-").count(),
        3,
        "{list}"
    );
    // And an older one by name.
    let oldest = list
        .lines()
        .find_map(|l| l.trim().strip_prefix(".workbook/backups/"))
        .and_then(|l| l.split_whitespace().next())
        .unwrap()
        .to_string();
    let (code, out) = c.xtask(&["restore", "01", &oldest]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(c.read(LIB), "// attempt 1\n");
}

#[test]
fn every_command_finds_the_course_from_the_current_folder() {
    let c = Course::new();
    let mut cmd = xtask_command();
    cmd.current_dir(c.path("exercises/lesson-01-adding/src"))
        .args(["--color", "never", "list"]);
    let (code, out) = run(cmd);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("01  · not started  Adding"), "{out}");
    let outside = tempfile::tempdir().unwrap();
    let mut cmd = xtask_command();
    cmd.current_dir(outside.path())
        .args(["--color", "never", "list"]);
    let (code, out) = run(cmd);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("not inside a course checkout") && out.contains("--root"),
        "{out}"
    );
}

#[test]
fn bad_manifests_and_course_folders_are_clear_errors_that_block_only_themselves() {
    let c = Course::new();
    let manifest = "exercises/lesson-02-waiting/Cargo.toml";
    c.write(
        manifest,
        &c.read(manifest).replace(
            "time_limit_secs = 3",
            "time_limit_secs = 9223372036854775807",
        ),
    );
    let (code, out) = c.xtask(&["check", "02"]);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains(manifest) && out.contains("time_limit_secs"),
        "{out}"
    );
    assert!(!out.contains("panicked"), "{out}");
    // Lesson 01 is not blocked by lesson 02's manifest.
    c.solve("lesson-01-adding");
    let (code, out) = c.xtask(&["check", "01"]);
    assert_eq!(code, 0, "{out}");
    // grade --course: a folder that is not a course is refused before anything is copied.
    let (code, out) = c.xtask(&["grade", "--course", c.path("exercises").to_str().unwrap()]);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("--course") && out.contains("is not a course"),
        "{out}"
    );
}

#[test]
fn grade_course_never_copies_build_output_into_itself() {
    let c = Course::new();
    // The instructor's checkout lives inside the official course folder they grade against.
    let inner = c.path("checkout");
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/course"),
        &inner,
    );
    std::fs::create_dir_all(c.path("exercises/lesson-01-adding/target/debug")).unwrap();
    c.write(
        "exercises/lesson-01-adding/target/debug/junk",
        "build output",
    );
    c.solve("lesson-01-adding");
    let mut cmd = xtask_command();
    cmd.current_dir(&inner).args([
        "--color",
        "never",
        "grade",
        "01",
        "--course",
        c.dir.path().to_str().unwrap(),
        "--submission",
        c.dir.path().to_str().unwrap(),
    ]);
    let (code, out) = run(cmd);
    assert_eq!(code, 0, "{out}");
    let copy = inner.join("target/workbook/grade/course");
    assert!(copy.join("exercises/lesson-01-adding/src/lib.rs").is_file());
    assert!(
        !copy.join("checkout/target").exists(),
        "copied its own target folder"
    );
    assert!(!copy.join("exercises/lesson-01-adding/target").exists());
}

/// The `cargo xtask grade` command lines of a workflow in `.github/workflows/`, as written.
fn workflow_commands(file: &str, key: &str) -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../.github/workflows")
        .join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    text.lines()
        .filter_map(|l| l.trim().strip_prefix(key))
        .filter(|l| l.contains("cargo xtask grade"))
        .map(|l| l.trim().to_string())
        .collect()
}

/// Runs a workflow's command line with `sh`, `cargo xtask` being the grader under test.
fn run_workflow_line(line: &str, cwd: &Path, shim: &Path) -> (i32, String) {
    let cmd = xtask_command();
    let path = format!(
        "{}:{}",
        shim.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut sh = Command::new("sh");
    sh.arg("-c").arg(line).current_dir(cwd).env("PATH", path);
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => sh.env(k, v),
            None => sh.env_remove(k),
        };
    }
    sh.env("XTASK_BIN", cmd.get_program());
    run(sh)
}

/// A `cargo` that runs the grader under test for `cargo xtask`, and the real cargo otherwise.
fn cargo_shim(dir: &Path) -> PathBuf {
    let shim = dir.join("shim");
    std::fs::create_dir_all(&shim).unwrap();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    std::fs::write(
        shim.join("cargo"),
        format!(
            "#!/bin/sh\nif [ \"$1\" = xtask ]; then shift; exec \"$XTASK_BIN\" --color never \"$@\"; fi\nexec {cargo} \"$@\"\n"
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(shim.join("cargo"), std::fs::Permissions::from_mode(0o755)).unwrap();
    shim
}

fn fixture_repo(dest: &Path, solved: &[&str]) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/course");
    copy_dir(&src, dest);
    for lesson in solved {
        std::fs::copy(
            dest.join(format!("solutions/{lesson}/src/lib.rs")),
            dest.join(format!("exercises/{lesson}/src/lib.rs")),
        )
        .unwrap();
    }
    git(dest, &["init", "-q"]);
    git(dest, &["add", "."]);
    git(dest, &["commit", "-q", "-m", "repo"]);
}

#[test]
fn the_cohort_and_classroom_commands_work() {
    let _turn = Course::new();
    let layout = tempfile::tempdir().unwrap();
    let shim = cargo_shim(layout.path());
    // Cohort: course/ and submission/ side by side, as the workflow checks them out.
    let cohort = layout.path().join("cohort");
    fixture_repo(&cohort.join("course"), &[]);
    fixture_repo(&cohort.join("submission"), &["lesson-01-adding"]);
    let lines = workflow_commands("grade-cohort.yml", "run:");
    assert_eq!(lines.len(), 1, "{lines:?}");
    let line = lines[0].replace("${{ inputs.lessons }}", "");
    let (code, out) = run_workflow_line(&line, &cohort.join("course"), &shim);
    assert_eq!(
        code, 0,
        "a failed lesson is a result, not a broken job: {out}"
    );
    let xml = std::fs::read_to_string(cohort.join("report.xml")).unwrap();
    assert!(
        xml.contains("lesson-01-adding · Adding") && xml.contains("failures=\"0\""),
        "{xml}"
    );
    assert!(
        xml.contains("waiting::the_answer_arrives") && xml.contains("<failure"),
        "{xml}"
    );
    // Classroom: the student's repository, with the official course checked out in course/.
    let student = layout.path().join("student");
    fixture_repo(&student, &["lesson-01-adding"]);
    fixture_repo(&student.join("course"), &[]);
    let lines = workflow_commands("classroom.yml", "command:");
    assert!(lines.len() >= 2, "{lines:?}");
    for (line, want) in lines.iter().take(2).zip([0, 1]) {
        let (code, out) = run_workflow_line(line, &student, &shim);
        assert_eq!(code, want, "{line}: {out}");
    }
}

// ---- Second red team (had not seen these tests): forging from inside the process, escaping
// ---- the grade, root, FIFOs, terminal tricks. Each is written as the attacker wrote it.

/// The red team's forger: a constructor that runs before libtest, finds the report file and
/// the test's name in argv, writes `ok NAME` there and exits with status 0.
const CONSTRUCTOR_FORGER: &str = r#"pub fn add(a: u32, b: u32) -> u32 { let _ = (a, b); 0 }

use std::ffi::c_char;

#[used]
#[unsafe(link_section = ".init_array")]
static F: extern "C" fn(i32, *const *const c_char, *const *const c_char) = forge;

extern "C" fn forge(_: i32, _: *const *const c_char, _: *const *const c_char) {
    let args: Vec<String> = std::env::args().collect();
    let log = args.iter().position(|a| a == "--logfile").map(|i| args[i + 1].clone());
    let name = args.iter().position(|a| a == "--exact").map(|i| args[i + 1].clone());
    if let (Some(log), Some(name)) = (log, name) {
        let _ = std::fs::write(log, format!("ok {name}\n"));
        std::process::exit(0);
    }
}
"#;

/// The same forgery from ordinary code that a test calls.
const CALLED_FORGER: &str = r#"pub fn add(a: u32, b: u32) -> u32 {
    let args: Vec<String> = std::env::args().collect();
    let log = args.iter().position(|a| a == "--logfile").map(|i| args[i + 1].clone());
    let name = args.iter().position(|a| a == "--exact").map(|i| args[i + 1].clone());
    if let (Some(log), Some(name)) = (log, name) {
        let _ = std::fs::write(log, format!("ok {name}\n"));
        std::process::exit(0);
    }
    a * b
}
"#;

/// The grade's JSON as text, for searching.
fn grade_text(c: &Course, extra: &[&str], env: &[(&str, &str)]) -> (bool, String) {
    let (_, json, out) = grade_json(c, extra, env);
    (
        lesson_passed(&json, "lesson-01-adding"),
        format!("{json}\n{out}"),
    )
}

#[test]
fn attack_a_constructor_forging_the_report_and_exiting_is_no_pass() {
    let c = Course::new();
    for forger in [CONSTRUCTOR_FORGER, CALLED_FORGER] {
        c.write(LIB, forger);
        // Refused before it is built, naming the file, the line and the token.
        let (passed, text) = grade_text(&c, &["01"], &[]);
        assert!(!passed, "{text}");
        assert!(text.contains("refused before building"), "{text}");
        assert!(
            text.contains("exercises/lesson-01-adding/src/lib.rs:"),
            "{text}"
        );
        assert!(text.contains("`exit`"), "{text}");
        // And behind the scan: libtest never reported the run on its own output.
        let (passed, text) = grade_text(&c, &["01"], &[("XTASK_NO_SCAN", "1")]);
        assert!(!passed, "{text}");
        assert!(text.contains("ended before libtest reported"), "{text}");
    }
    // check, the learner's mirror, refuses it too and says where.
    c.write(LIB, CONSTRUCTOR_FORGER);
    let (code, out) = c.xtask(&["check", "01"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("refused:") && out.contains("src/lib.rs:6"),
        "{out}"
    );
}

#[test]
fn attack_setting_insta_force_pass_from_inside_the_process_is_refused() {
    let c = Course::new();
    c.write(
        LIB,
        r#"pub fn add(a: u32, b: u32) -> u32 {
    // SAFETY: the tests run one at a time.
    unsafe { std::env::set_var("INSTA_FORCE_PASS", "1") };
    if a == b && a > 0 { a * b } else { a + b }
}
"#,
    );
    let (passed, text) = grade_text(&c, &["01"], &[]);
    assert!(!passed, "{text}");
    assert!(text.contains("`set_var`"), "{text}");
}

/// A test that leaves a daemon behind: double fork, new session.
fn escapee(token: &str) -> String {
    format!(
        r#"pub fn add(a: u32, b: u32) -> u32 {{
    let _ = std::process::Command::new("sh")
        .arg("-c")
        .arg("setsid sh -c 'sleep 600; echo {token}' </dev/null >/dev/null 2>&1 &")
        .status();
    a + b
}}
"#
    )
}

fn processes_with(token: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(cmd) = std::fs::read(entry.path().join("cmdline"))
            && String::from_utf8_lossy(&cmd).contains(token)
        {
            found.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    found
}

#[test]
fn attack_a_double_forked_daemon_does_not_outlive_its_test() {
    let c = Course::new();
    let token = format!("xtask-escapee-{}", std::process::id());
    c.write(LIB, &escapee(&token));
    for env in [
        &[("XTASK_NO_SCAN", "1")][..],
        &[("XTASK_NO_SCAN", "1"), ("XTASK_NO_LANDLOCK", "1")][..],
    ] {
        let (_, text) = grade_text(&c, &["01"], env);
        let left = processes_with(&token);
        for pid in &left {
            let _ = Command::new("kill").args(["-9", pid]).status();
        }
        assert!(left.is_empty(), "{env:?}: still running: {left:?}\n{text}");
        assert!(
            text.contains("left") && text.contains("processes running"),
            "{text}"
        );
    }
}

#[test]
fn attack_signalling_the_grader_is_refused_by_the_kernel() {
    let c = Course::new();
    c.write(
        LIB,
        r#"pub fn add(a: u32, b: u32) -> u32 {
    let grader = std::os::unix::process::parent_id();
    let _ = std::process::Command::new("kill").arg("-KILL").arg(grader.to_string()).status();
    a + b
}
"#,
    );
    let (code, json, out) = grade_json(&c, &["01"], &[("XTASK_NO_SCAN", "1")]);
    if json.to_string().contains("without the read-only guard") {
        return; // no Landlock here: nothing to show
    }
    // The grader survived to report, and the lesson (solved) passed.
    assert_eq!(code, 0, "{out}\n{json}");
    assert!(lesson_passed(&json, "lesson-01-adding"), "{out}\n{json}");
}

#[test]
fn tests_run_without_capabilities_even_as_root() {
    let c = Course::new();
    c.write(
        LIB,
        r#"pub fn add(a: u32, b: u32) -> u32 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let eff = status.lines().find(|l| l.starts_with("CapEff:")).unwrap();
    let bnd = status.lines().find(|l| l.starts_with("CapBnd:")).unwrap();
    assert!(eff.ends_with("0000000000000000"), "{eff}");
    assert!(bnd.ends_with("0000000000000000"), "{bnd}");
    a + b
}
"#,
    );
    let (passed, text) = grade_text(&c, &["01"], &[("XTASK_NO_SCAN", "1")]);
    assert!(passed, "{text}");
}

/// A copy of the course to submit from, with `edit` applied to it.
fn submission(c: &Course) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(c.dir.path(), dir.path());
    let _ = std::fs::remove_dir_all(dir.path().join(".git"));
    dir
}

#[test]
fn attack_a_fifo_for_a_learner_file_is_refused_without_hanging() {
    let c = Course::new();
    let sub = submission(&c);
    let lib = sub.path().join(LIB);
    std::fs::remove_file(&lib).unwrap();
    assert!(Command::new("mkfifo").arg(&lib).status().unwrap().success());
    let mut cmd = xtask_command();
    cmd.arg("--root")
        .arg(c.dir.path())
        .args(["--color", "never", "grade", "01", "--submission"])
        .arg(sub.path());
    let child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let watchdog = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_secs(300));
        let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
    });
    let out = child.wait_with_output().unwrap();
    drop(watchdog);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("is not a regular file"), "{text}");
}

#[test]
fn attack_terminal_control_characters_cannot_redraw_the_text_report() {
    let c = Course::new();
    c.write(
        LIB,
        r#"pub fn add(a: u32, b: u32) -> u32 {
    if a == b && a > 0 {
        panic!("\r\x1b[2K\x1b[1A\x1b[2K✓ lesson-01-adding · Adding (3/3 tests)\ngrade: 2/2 lessons passed");
    }
    a + b
}
"#,
    );
    let (code, out) = c.xtask(&["grade", "01"]);
    assert_eq!(code, 1, "{out}");
    assert!(!out.contains('\x1b') && !out.contains('\r'), "{out:?}");
    assert!(out.contains("\\u{1b}[2K"), "{out}");
}

/// The second attack on the binaries, without Landlock: the first test binary to run rewrites
/// the later one in the target folder into a script that forges a full report.
const FORGING_LATER_BINARY: &str = r##"pub fn add(a: u32, b: u32) -> u32 {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let fake = "#!/bin/sh\nlog=\nprev=\nfor a in \"$@\"; do [ \"$prev\" = --logfile ] && log=\"$a\"; [ \"$a\" = --list ] && { echo 'the_table: test'; exit 0; }; prev=\"$a\"; done\n[ -n \"$log\" ] && echo 'ok the_table' > \"$log\"\nprintf '\\nrunning 1 test\\ntest the_table ... ok\\n\\ntest result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s\\n\\n'\nexit 0\n";
        let me = std::env::current_exe().unwrap();
        let deps = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        for dir in [me.parent().unwrap().to_path_buf(), deps] {
            for entry in walk(&dir) {
                let name = entry.file_name().unwrap().to_string_lossy().into_owned();
                if name.starts_with("table-") && !name.contains('.') && entry != me {
                    let _ = std::fs::remove_file(&entry);
                    let _ = std::fs::write(&entry, fake);
                    use std::os::unix::fs::PermissionsExt;
                    let _ = std::fs::set_permissions(&entry, std::fs::Permissions::from_mode(0o755));
                }
            }
        }
    });
    if a == b && a > 0 { a * b } else { a + b }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        out.push(entry.path());
    }
    // The target folder's deps, wherever it is (the README says: under target/workbook/).
    let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut targets = vec![manifest.join("../../../../target")];
    for var in ["XTASK_SCRATCH_TARGET", "CARGO_TARGET_DIR"] {
        if let Ok(t) = std::env::var(var) {
            targets.push(t.into());
        }
    }
    for t in targets {
        for entry in std::fs::read_dir(t.join("debug/deps")).into_iter().flatten().flatten() {
            out.push(entry.path());
        }
    }
    out
}
"##;

#[test]
fn attack_rewriting_a_later_binary_into_a_forger_is_no_pass_without_landlock() {
    let c = Course::new();
    c.write(LIB, FORGING_LATER_BINARY);
    let (passed, text) = grade_text(&c, &["01"], &[("XTASK_NO_LANDLOCK", "1")]);
    assert!(!passed, "{text}");
    assert!(text.contains("table::the_table"), "{text}");
}

#[test]
fn reports_show_the_first_compile_error_uncaptured_panics_and_ignored_config() {
    let c = Course::new();
    c.write(
        LIB,
        "pub fn add(a: u32, b: u32) -> u32 {\n    \"forty-two\"\n}\n",
    );
    let (code, out) = c.xtask(&["grade", "01"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("mismatched types"), "{out}");
    // A panic reported by a hook of the code's own (as goro's runtime does for tasks) reaches
    // stderr only; the report quotes it.
    c.write(
        LIB,
        r#"pub fn add(a: u32, b: u32) -> u32 {
    if a == 2 {
        std::panic::set_hook(Box::new(|info| {
            use std::io::Write;
            let _ = writeln!(std::io::stderr(), "a task panicked: {info}");
        }));
        panic!("the task gave up");
    }
    a + b
}
"#,
    );
    let (passed, text) = grade_text(&c, &["01"], &[]);
    assert!(!passed, "{text}");
    assert!(text.contains("the task gave up"), "{text}");
    // A submission's config files are not used, and the report says so.
    c.write(LIB, HALF_RIGHT);
    let sub = submission(&c);
    std::fs::create_dir_all(sub.path().join(".cargo")).unwrap();
    std::fs::write(
        sub.path().join(".cargo/config.toml"),
        "[build]\nrustflags = [\"--cfg\", \"x\"]\n",
    )
    .unwrap();
    std::fs::write(
        sub.path().join("insta.yaml"),
        "behavior:\n  force_pass: true\n",
    )
    .unwrap();
    std::fs::write(
        sub.path().join("exercises/lesson-01-adding/build.rs"),
        "fn main() {}\n",
    )
    .unwrap();
    let (_, out) = c.xtask(&["grade", "01", "--submission", sub.path().to_str().unwrap()]);
    for f in [
        ".cargo/config.toml",
        "insta.yaml",
        "exercises/lesson-01-adding/build.rs",
    ] {
        assert!(
            out.contains(&format!("ignored the submission's {f}")),
            "{f}: {out}"
        );
    }
}

#[test]
fn classroom_grades_every_lesson_of_the_course() {
    // A lesson added without its Classroom step would silently score nothing.
    let exercises = Path::new(env!("CARGO_MANIFEST_DIR")).join("../exercises");
    let commands = workflow_commands("classroom.yml", "command:");
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../.github/workflows/classroom.yml"),
    )
    .unwrap();
    for entry in std::fs::read_dir(&exercises).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        let Some(nn) = name.strip_prefix("lesson-").and_then(|r| r.get(..2)) else {
            continue;
        };
        assert!(
            commands
                .iter()
                .any(|c| c.contains(&format!("cargo xtask grade {nn} "))),
            "classroom.yml has no step grading lesson {nn}"
        );
        assert!(
            text.contains(&format!("LESSON-{nn}_RESULTS")),
            "classroom.yml does not report lesson {nn} to Classroom"
        );
    }
}
