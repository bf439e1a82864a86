//! `grade`: takes only the files a learner may edit from a submission, lays them over a
//! pristine copy of the course (a `git archive` of a revision, or a checkout given with
//! `--course`) and runs the shipped tests there, so changed tests or snapshots in the
//! submission count for nothing. Reports as text, JSON or JUnit XML.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use clap::{Args, ValueEnum};
use serde::Serialize;

use crate::Result;
use crate::check;
use crate::course::{Course, Lesson};
use crate::lock;
use crate::report;
use crate::runner::{self, Outcome};
use crate::ui::{BAD, GOOD, HEAD, paint};

/// Arguments of `grade`.
#[derive(Args, Debug)]
pub struct GradeArgs {
    /// Lessons to grade (default: all)
    pub lessons: Vec<String>,
    /// Report format
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Write the report to FILE instead of stdout
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// The learner's tree to take edited files from (default: this course)
    #[arg(long, value_name = "DIR")]
    pub submission: Option<PathBuf>,
    /// A pristine course checkout to grade against (default: `git archive` of --rev)
    #[arg(long, value_name = "DIR")]
    pub course: Option<PathBuf>,
    /// The git revision of this repository used as the pristine course
    #[arg(long, default_value = "HEAD")]
    pub rev: String,
}

/// Report formats.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq)]
pub enum Format {
    /// For people.
    Text,
    /// One JSON object.
    Json,
    /// JUnit XML, which CI systems display.
    Junit,
}

#[derive(Serialize)]
struct LessonGrade {
    lesson: String,
    title: String,
    passed: bool,
    /// Why the lesson could not be run at all (missing files, build errors).
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    /// How the tests ran (e.g. without the read-only guard on this kernel).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    notes: Vec<String>,
    tests: Vec<TestGrade>,
}

#[derive(Serialize)]
struct TestGrade {
    name: String,
    outcome: &'static str,
    #[serde(skip_serializing_if = "String::is_empty")]
    message: String,
}

#[derive(Serialize)]
struct Grade {
    passed: usize,
    total: usize,
    lessons: Vec<LessonGrade>,
}

fn failed(lesson: &Lesson, error: String) -> LessonGrade {
    LessonGrade {
        lesson: lesson.name.clone(),
        title: lesson.meta.title.clone(),
        passed: false,
        error: Some(error),
        notes: vec![],
        tests: vec![],
    }
}

/// Grades one lesson of the pristine `course` with the learner's files from `submission`.
fn grade_lesson(
    course: &Course,
    lesson: &Lesson,
    submission: &Path,
    target: &Path,
    verbose: bool,
) -> Result<LessonGrade> {
    let not_pristine = |what: &str, problems: &[lock::Problem]| -> Result<()> {
        Err(format!(
            "the course copy is not pristine {what}: {} differs from its lock in {}; grade \
             against the official course with --course DIR",
            lesson.name,
            problems
                .iter()
                .map(|p| p.path().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )
        .into())
    };
    match lock::check(course, lesson)? {
        Some(problems) if !problems.is_empty() => not_pristine("", &problems)?,
        Some(_) => {}
        None => {
            return Err(format!(
                "the course has no lock entry for {} (exercises/{}): grade against the \
                 official course with --course DIR, or seal it first (`cargo xtask seal`)",
                lesson.name,
                lock::LOCK_FILE
            )
            .into());
        }
    }
    let shipped_build_script = lesson.dir.join("build.rs").is_file();
    let config = crate::guard::judging_files(&course.root, &lesson.dir, shipped_build_script);
    if let Some(f) = config.first() {
        return Err(format!("the course folder has {}: {}", f.file, f.why).into());
    }
    let opts = runner::Options {
        verbose,
        target_dir: Some(target.to_path_buf()),
        rerun_after_timeout: true,
        test_env: Vec::new(),
        time_limit: Duration::from_secs(lesson.meta.time_limit_secs),
        sandbox: true,
    };
    // The list of tests comes from the course as shipped, before any code of the learner's
    // is built: a test that vanishes from the submission's build fails.
    let shipped = runner::build(&lesson.dir, &opts, false, &mut |_| {})?;
    if !shipped.success {
        return Ok(failed(
            lesson,
            format!(
                "the course's exercise as shipped does not build, so its tests are unknown \
                 (run `cargo xtask verify {}` on the course):\n{}",
                lesson.nn(),
                runner::tail(&shipped.cargo_stderr, 20)
            ),
        ));
    }
    let expected = runner::list_all(
        &lesson.dir,
        &lesson.package,
        &lesson.version,
        &shipped.targets,
    )?;
    let mut missing = Vec::new();
    let mut refusals = Vec::new();
    for file in &lesson.meta.edit {
        let rel = format!("exercises/{}/{file}", lesson.name);
        match crate::guard::read_regular(submission, &rel) {
            Ok(bytes) => {
                refusals.extend(crate::scan::scan_bytes(&rel, &bytes));
                std::fs::write(lesson.dir.join(file), bytes)?
            }
            Err(e)
                if e.downcast_ref::<std::io::Error>()
                    .is_some_and(|e| e.kind() == std::io::ErrorKind::NotFound) =>
            {
                missing.push(file.clone())
            }
            Err(e) => return Ok(failed(lesson, format!("not graded: {e}"))),
        }
    }
    if !missing.is_empty() {
        return Ok(failed(
            lesson,
            format!("not submitted: {} missing", missing.join(", ")),
        ));
    }
    if !refusals.is_empty() {
        return Ok(failed(lesson, crate::scan::message(&refusals)));
    }
    let ignored = ignored_submission_config(submission, lesson, shipped_build_script);
    let exec = check::execute(&lesson.dir, lesson, Some(&expected), &opts, false)?;
    // What the tests ran against must still be what the course shipped.
    if let Some(problems) = lock::check(course, lesson)?
        && !problems.is_empty()
    {
        return Ok(failed(
            lesson,
            format!(
                "a test process changed the course's files while it ran: {}",
                problems
                    .iter()
                    .map(|p| p.path().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    let passed = exec.passed();
    let mut notes = exec
        .run
        .as_ref()
        .map(|r| r.notes.clone())
        .unwrap_or_default();
    notes.extend(ignored);
    let (error, tests) = match &exec.run {
        None => (
            Some(format!(
                "does not compile ({} error{}; the first below):\n{}",
                exec.build.errors.len(),
                if exec.build.errors.len() == 1 {
                    ""
                } else {
                    "s"
                },
                strip_ansi(&exec.build.errors.join("\n"))
                    + &runner::tail(&exec.build.cargo_stderr, 20)
            )),
            vec![],
        ),
        Some(run) => (
            None,
            run.cases
                .iter()
                .map(|c| TestGrade {
                    name: c.id(),
                    outcome: outcome_word(&c.outcome),
                    message: report::plain(c, run.stderr.get(&c.target).map_or("", |s| s)),
                })
                .collect(),
        ),
    };
    Ok(LessonGrade {
        lesson: lesson.name.clone(),
        title: lesson.meta.title.clone(),
        passed,
        error,
        notes,
        tests,
    })
}

/// Runs `grade`; returns whether every graded lesson passed.
pub fn grade(root: &Path, args: &GradeArgs, verbose: bool) -> Result<bool> {
    let root = root.canonicalize()?;
    let submission = args
        .submission
        .clone()
        .unwrap_or_else(|| root.clone())
        .canonicalize()
        .map_err(|e| {
            format!(
                "--submission {}: {e}",
                args.submission
                    .as_deref()
                    .unwrap_or(Path::new("."))
                    .display()
            )
        })?;
    let _scratch = crate::scratch::lock(&root)?;
    let work = root.join("target").join("workbook").join("grade");
    let pristine = work.join("course");
    if pristine.exists() {
        std::fs::remove_dir_all(&pristine)?;
    }
    std::fs::create_dir_all(&pristine)?;
    match &args.course {
        Some(dir) => copy_course(dir, &pristine)?,
        None => git_archive(&root, &args.rev, &pristine)?,
    }
    let course = Course::load(&pristine)?;
    let lessons: Vec<_> = if args.lessons.is_empty() {
        course.lessons.iter().collect()
    } else {
        args.lessons
            .iter()
            .map(|l| course.find(l))
            .collect::<Result<Vec<_>>>()?
    };
    let target = std::env::var_os("XTASK_SCRATCH_TARGET")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target").join("workbook").join("target"));
    if let Some(note) = crate::guard::env_note() {
        eprintln!("note: {note}");
    }
    if let Some(note) = crate::confine::root_note() {
        eprintln!("note: {note}");
    }
    let mut grades = Vec::new();
    for broken in &course.broken {
        if args.lessons.is_empty() {
            grades.push(LessonGrade {
                lesson: broken.name.clone(),
                title: broken.name.clone(),
                passed: false,
                error: Some(format!("the course's lesson is broken: {}", broken.error)),
                notes: vec![],
                tests: vec![],
            });
        }
    }
    for lesson in lessons {
        eprintln!("grading {} …", lesson.name);
        let grade = grade_lesson(&course, lesson, &submission, &target, verbose)?;
        grades.push(grade);
    }
    grades.sort_by(|a, b| a.lesson.cmp(&b.lesson));
    for g in &mut grades {
        escape_learner_text(g);
    }
    let grade = Grade {
        passed: grades.iter().filter(|g| g.passed).count(),
        total: grades.len(),
        lessons: grades,
    };
    let text = match args.format {
        Format::Json => serde_json::to_string_pretty(&grade)? + "\n",
        Format::Junit => junit(&grade)?,
        Format::Text => text(&grade),
    };
    match &args.out {
        Some(path) => {
            std::fs::write(path, &text)?;
            eprintln!(
                "grade: {}/{} lessons passed; report written to {}",
                grade.passed,
                grade.total,
                path.display()
            );
        }
        None => anstream::print!("{text}"),
    }
    Ok(grade.passed == grade.total)
}

fn outcome_word(o: &Outcome) -> &'static str {
    match o {
        Outcome::Passed => "passed",
        Outcome::Failed(_) => "failed",
        Outcome::Ignored => "ignored",
        Outcome::Crashed(_) => "crashed",
        Outcome::TimedOut(_) => "timed_out",
        Outcome::NotRun => "not_run",
        Outcome::Invalid(_) => "invalid",
    }
}

fn text(g: &Grade) -> String {
    let mut out = String::new();
    for l in &g.lessons {
        let ok = l.tests.iter().filter(|t| t.outcome == "passed").count();
        let mark = if l.passed {
            paint(GOOD, "✓")
        } else {
            paint(BAD, "✗")
        };
        out.push_str(&format!(
            "{mark} {} · {} ({ok}/{} tests)\n",
            l.lesson,
            l.title,
            l.tests.len()
        ));
        if let Some(e) = &l.error {
            let lines: Vec<&str> = e.lines().collect();
            for line in lines.iter().take(ERROR_LINES) {
                out.push_str(&format!("    {line}\n"));
            }
            if lines.len() > ERROR_LINES {
                out.push_str(&format!(
                    "    … ({} more lines in the JSON or JUnit report)\n",
                    lines.len() - ERROR_LINES
                ));
            }
        }
        for n in &l.notes {
            out.push_str(&format!("    note: {n}\n"));
        }
        for t in l
            .tests
            .iter()
            .filter(|t| t.outcome != "passed" && t.outcome != "ignored")
        {
            let first = headline(&t.message).unwrap_or("");
            out.push_str(&format!("    {} {}: {first}\n", t.outcome, t.name));
        }
    }
    out.push_str(&format!(
        "{} {}/{} lessons passed\n",
        paint(HEAD, "grade:"),
        g.passed,
        g.total
    ));
    out
}

fn junit(g: &Grade) -> Result<String> {
    use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
    let mut report = Report::new("workbook");
    for l in &g.lessons {
        let mut suite = TestSuite::new(format!("{} · {}", l.lesson, l.title));
        if let Some(e) = &l.error {
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
            status.set_message(e.lines().next().unwrap_or("error"));
            status.set_description(e.as_str());
            let mut case = TestCase::new("build", status);
            case.set_classname(l.lesson.as_str());
            suite.add_test_case(case);
        }
        for t in &l.tests {
            let status = match t.outcome {
                "passed" => TestCaseStatus::success(),
                "ignored" => TestCaseStatus::skipped(),
                other => {
                    let kind = if other == "failed" {
                        NonSuccessKind::Failure
                    } else {
                        NonSuccessKind::Error
                    };
                    let mut s = TestCaseStatus::non_success(kind);
                    s.set_type(other);
                    s.set_message(headline(&t.message).unwrap_or(other));
                    s.set_description(t.message.as_str());
                    s
                }
            };
            let mut case = TestCase::new(t.name.as_str(), status);
            case.set_classname(l.lesson.as_str());
            suite.add_test_case(case);
        }
        report.add_test_suite(suite);
    }
    Ok(report.to_string()?)
}

/// Lines of a lesson's error (a compile error, say) that the text report shows.
const ERROR_LINES: usize = 20;

/// A submission's config files that would change how tests build or judge (`.cargo/config.toml`,
/// insta's config, a `build.rs` the lesson does not ship): `grade` never copies them, and says so.
fn ignored_submission_config(
    submission: &Path,
    lesson: &Lesson,
    shipped_build_script: bool,
) -> Vec<String> {
    let dir = submission.join("exercises").join(&lesson.name);
    crate::guard::judging_files(submission, &dir, shipped_build_script)
        .into_iter()
        .map(|f| {
            format!(
                "ignored the submission's {}: grade uses only the learner's files ({}) and the \
                 course's own config",
                f.file,
                lesson.meta.edit.join(", ")
            )
        })
        .collect()
}

/// Control characters in learner-produced text (test output, compiler messages quoting the
/// learner's code, file names) are shown escaped, so that a report cannot be redrawn by it
/// (an ANSI sequence or a carriage return turning a ✗ line into a ✓ one).
fn escape_controls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() && c != '\n' && c != '\t' {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

fn escape_learner_text(g: &mut LessonGrade) {
    if let Some(e) = &mut g.error {
        *e = escape_controls(e);
    }
    for n in &mut g.notes {
        *n = escape_controls(n);
    }
    for t in &mut g.tests {
        t.message = escape_controls(&t.message);
        t.name = escape_controls(&t.name);
    }
}

/// The line of a failure message worth a headline: not libtest's "thread '...' panicked at".
fn headline(message: &str) -> Option<&str> {
    message
        .lines()
        .find(|l| !l.trim().is_empty() && !l.starts_with("thread '"))
}

fn strip_ansi(s: &str) -> String {
    anstream::adapter::strip_str(s).to_string()
}

fn git_archive(root: &Path, rev: &str, dest: &Path) -> Result<()> {
    let archive = Command::new("git")
        .arg("-C")
        .arg(root)
        .args(["archive", "--format=tar", rev])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            format!("could not run git ({e}); pass a pristine course with --course DIR")
        })?;
    let out = archive.wait_with_output()?;
    if !out.status.success() {
        return Err(format!(
            "git archive {rev} failed: {} (pass a pristine course with --course DIR)",
            String::from_utf8_lossy(&out.stderr).trim()
        )
        .into());
    }
    // -m: fresh modification times, so cargo never mistakes an older build for this copy.
    let mut tar = Command::new("tar")
        .arg("-xm")
        .arg("-C")
        .arg(dest)
        .stdin(Stdio::piped())
        .spawn()?;
    std::io::Write::write_all(tar.stdin.as_mut().expect("piped"), &out.stdout)?;
    drop(tar.stdin.take());
    if !tar.wait()?.success() {
        return Err("tar could not unpack the course archive".into());
    }
    Ok(())
}

/// Files a course may hold; more means `--course` points somewhere else (a home folder, say).
const MAX_COURSE_FILES: usize = 20_000;

/// Copies the course at `from` into `dest`: only its own files, never build output (`target/`
/// at any depth), git's folder, learner state or `dest` itself, and never through links.
fn copy_course(from: &Path, dest: &Path) -> Result<()> {
    let shown = from.display().to_string();
    let from = from
        .canonicalize()
        .map_err(|e| format!("--course {shown}: {e}"))?;
    if !from.join("Cargo.toml").is_file() || !from.join("exercises").is_dir() {
        return Err(format!(
            "--course {shown} is not a course: it has no Cargo.toml and exercises/ folder (give \
             the root of a checkout of the official course)"
        )
        .into());
    }
    if !from.join("exercises").join(lock::LOCK_FILE).is_file() {
        return Err(format!(
            "--course {shown} has no exercises/{}: the course to grade against must be sealed \
             (`cargo xtask seal` there, and commit it)",
            lock::LOCK_FILE
        )
        .into());
    }
    let dest = dest.canonicalize()?;
    // Validate before copying anything: the whole walk, counted.
    let keep = |e: &walkdir::DirEntry| {
        let n = e.file_name().to_string_lossy();
        e.path() != dest
            && !(e.file_type().is_dir() && n == "target")
            && !(e.depth() == 1 && (n == ".git" || n == ".workbook"))
    };
    let mut files = Vec::new();
    let mut links = Vec::new();
    for entry in walkdir::WalkDir::new(&from).into_iter().filter_entry(keep) {
        let entry = entry?;
        let rel = entry
            .path()
            .strip_prefix(&from)
            .expect("inside")
            .to_path_buf();
        if entry.path_is_symlink() {
            links.push(rel.display().to_string());
        } else {
            files.push((rel, entry.file_type().is_dir()));
        }
        if files.len() > MAX_COURSE_FILES {
            return Err(format!(
                "--course {shown} holds more than {MAX_COURSE_FILES} files outside target/: is \
                 it really the course's root?"
            )
            .into());
        }
    }
    if !links.is_empty() {
        eprintln!(
            "note: --course {shown}: symbolic links are not copied: {}",
            links.join(", ")
        );
    }
    for (rel, is_dir) in files {
        let to = dest.join(&rel);
        if is_dir {
            std::fs::create_dir_all(&to)?;
        } else {
            std::fs::copy(from.join(&rel), &to)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_from_learner_text_are_shown_escaped() {
        assert_eq!(
            escape_controls("boom\r\u{1b}[32m✓ passed\u{7}\nnext\tline"),
            "boom\\u{d}\\u{1b}[32m✓ passed\\u{7}\nnext\tline"
        );
    }
}
