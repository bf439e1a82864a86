//! `cargo xtask check`: build a lesson's tests, run them under the grader's eye, show what
//! matters about the first failure, and end with one line saying what to do next.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::Result;
use crate::course::{Course, Lesson};
use crate::lock::{self, Problem};
use crate::report;
use crate::runner::{self, Build, Event, Outcome, Run, TestCase};
use crate::state::State;
use crate::ui::{self, BAD, CMD, DIM, GOOD, HEAD, WARN, paint};

/// The result of building and running one lesson's tests somewhere.
pub struct Execution {
    /// The build.
    pub build: Build,
    /// The tests (None when the build failed).
    pub run: Option<Run>,
}

impl Execution {
    /// Everything built and every test passed (ignored tests do not count).
    pub fn passed(&self) -> bool {
        self.build.success
            && self.run.as_ref().is_some_and(|r| {
                r.cases.iter().any(|c| c.outcome == Outcome::Passed)
                    && r.failures().next().is_none()
            })
    }
}

/// Builds and runs the tests of the lesson crate in `dir`, printing progress when `live`.
pub fn execute(
    dir: &Path,
    lesson: &Lesson,
    expected: Option<&runner::Expected>,
    opts: &runner::Options,
    live: bool,
) -> Result<Execution> {
    let started = Instant::now();
    let interactive = live && ui::interactive();
    if live && !interactive {
        anstream::println!("  {}", paint(DIM, "building the tests…"));
    }
    // Said once, and only when cargo compiles more than the lesson's own crate: a rebuild
    // after an edit, or no build at all, takes seconds.
    const FIRST_BUILD: &str =
        "compiling the runtime and the test libraries (the first time: a minute or two)";
    let mut explained = false;
    // Without a terminal, a line every 20 s says the build is alive.
    let mut last_line = Instant::now();
    let build = runner::build(dir, opts, ui::color_enabled(), &mut |p| {
        if live && !interactive && p.compiling_dependencies && !explained {
            explained = true;
            anstream::println!("  {}", paint(DIM, format!("… {FIRST_BUILD}")));
        }
        if live && !interactive && last_line.elapsed() >= Duration::from_secs(20) {
            last_line = Instant::now();
            anstream::println!(
                "  {}",
                paint(
                    DIM,
                    format!(
                        "… still building: {} crates, {:.0} s",
                        p.crates,
                        started.elapsed().as_secs_f64()
                    )
                )
            );
        }
        if interactive {
            let why = if p.compiling_dependencies {
                " (the first build compiles the runtime)"
            } else {
                ""
            };
            anstream::print!(
                "\r\x1b[2K  {}",
                paint(
                    DIM,
                    format!(
                        "building… {} crates, {:.0} s{why}",
                        p.crates,
                        started.elapsed().as_secs_f64()
                    )
                )
            );
            let _ = std::io::Write::flush(&mut anstream::stdout());
        }
    })?;
    if interactive {
        ui::clear_line();
    }
    if !build.success {
        return Ok(Execution { build, run: None });
    }
    let mut on_event = |event: Event| {
        if !live {
            return;
        }
        match event {
            Event::Started(target, name) if interactive => {
                ui::clear_line();
                anstream::print!(
                    "  {} {}",
                    paint(DIM, "… running"),
                    paint(DIM, format!("{target}::{name}"))
                );
                let _ = std::io::Write::flush(&mut anstream::stdout());
            }
            Event::Started(..) => {}
            Event::Finished(case) => {
                if interactive {
                    ui::clear_line();
                }
                print_case(case);
            }
        }
    };
    let run = runner::run_tests(
        dir,
        &lesson.package,
        &lesson.version,
        &build.targets,
        expected,
        opts,
        &mut on_event,
    )?;
    Ok(Execution {
        build,
        run: Some(run),
    })
}

/// One result line.
pub fn print_case(case: &TestCase) {
    let id = case.id();
    match &case.outcome {
        Outcome::Passed => anstream::println!("  {} {id}", paint(GOOD, "✓")),
        Outcome::Failed(output) => {
            match report::one_line(output, 100usize.saturating_sub(id.len()).max(30)) {
                Some(why) => anstream::println!(
                    "  {} {id} {}",
                    paint(BAD, "✗"),
                    paint(DIM, format!("— {why}"))
                ),
                None => anstream::println!("  {} {id}", paint(BAD, "✗")),
            }
        }
        Outcome::Ignored => {
            anstream::println!("  {} {id} {}", paint(DIM, "-"), paint(DIM, "(ignored)"))
        }
        Outcome::Crashed(c) => anstream::println!(
            "  {} {id} {}",
            paint(BAD, "✗"),
            paint(BAD, format!("crashed ({})", c.signal))
        ),
        Outcome::TimedOut(d) => anstream::println!(
            "  {} {id} {}",
            paint(WARN, "⧗"),
            paint(
                WARN,
                format!("still running after {} s: stopped", d.as_secs())
            )
        ),
        Outcome::NotRun => {
            anstream::println!("  {} {id} {}", paint(DIM, "·"), paint(DIM, "(not run)"))
        }
        Outcome::Invalid(_) => anstream::println!(
            "  {} {id} {}",
            paint(BAD, "✗"),
            paint(BAD, "not trusted: the run does not add up")
        ),
    }
}

/// Options of `check`.
#[derive(Debug, Clone, Copy, Default)]
pub struct CheckOptions {
    /// Show warnings, full output and backtraces.
    pub verbose: bool,
    /// `watch` after a pass it already showed: name the solution diff and WHY.md, not reprint them.
    pub pass_shown_before: bool,
}

/// Runs `check` for one lesson; returns whether it passed.
pub fn check(course: &Course, lesson: &Lesson, options: CheckOptions) -> Result<bool> {
    anstream::println!(
        "{}  {}",
        paint(
            HEAD,
            format!("Lesson {} · {}", lesson.nn(), lesson.meta.title)
        ),
        paint(DIM, course.rel(&lesson.page(course)))
    );
    for file in &lesson.meta.edit {
        crate::guard::no_links(&course.root, &format!("exercises/{}/{file}", lesson.name))?;
    }
    if !crate::scan::check_lesson(course, lesson)? {
        return Ok(false);
    }
    if let Some(note) = crate::guard::env_note() {
        anstream::println!("  {}", paint(DIM, format!("(note: {note})")));
    }
    let shipped_build_script = lock::read(course)?
        .and_then(|l| l.lessons.get(&lesson.name).cloned())
        .is_some_and(|e| e.protected.contains_key("build.rs"));
    let config = crate::guard::judging_files(&course.root, &lesson.dir, shipped_build_script);
    if !config.is_empty() {
        anstream::println!(
            "  {} these files change how the lesson is judged, so it is not checked:",
            paint(BAD, "refused:")
        );
        for f in &config {
            anstream::println!("    {} — {}", paint(HEAD, &f.file), f.why);
        }
        anstream::println!(
            "{} remove them (`cargo xtask grade` never uses them either) and check again.",
            paint(HEAD, "Next:")
        );
        return Ok(false);
    }
    let problems = lock::check(course, lesson)?;
    if problems.is_none() {
        anstream::println!(
            "  {} exercises/{} is missing or has no entry for this lesson, so changed tests \
             cannot be detected and the lesson cannot count as passed; restore it with {}",
            paint(BAD, "no lock:"),
            lock::LOCK_FILE,
            paint(
                CMD,
                format!("git checkout -- exercises/{}", lock::LOCK_FILE)
            )
        );
    }
    if let Some(problems) = &problems
        && !problems.is_empty()
    {
        print_lock_problems(course, lesson, problems);
    }
    let opts = runner::Options {
        verbose: options.verbose,
        target_dir: None,
        rerun_after_timeout: false,
        test_env: Vec::new(),
        time_limit: Duration::from_secs(lesson.meta.time_limit_secs),
        sandbox: true,
    };
    let exec = execute(&lesson.dir, lesson, None, &opts, true)?;
    // A test process that changed protected files while it ran counts as tampering too.
    let after = lock::check(course, lesson)?;
    if problems.as_ref().is_some_and(|p| p.is_empty())
        && let Some(changed) = after.as_ref().filter(|p| !p.is_empty())
    {
        anstream::println!(
            "  {} a test process changed protected files while it ran:",
            paint(BAD, "tampering:")
        );
        print_lock_problems(course, lesson, changed);
    }
    let tampered = problems.as_ref().is_none_or(|p| !p.is_empty())
        || after.as_ref().is_none_or(|p| !p.is_empty());
    let passed = exec.passed() && !tampered;
    let mut state = State::load(course);
    state.record(lesson, passed);
    let hints_shown = state.lesson(lesson).hints_shown;
    // State is a convenience: failing to save it must not hide the result.
    let _ = state.save(course);
    anstream::println!();
    if !exec.build.success {
        print_build_failure(&exec.build, options.verbose);
        next_line(course, lesson, hints_shown, "fix the compile error above");
        return Ok(false);
    }
    let run = exec.run.as_ref().expect("built");
    for note in &run.notes {
        anstream::println!("  {}", paint(DIM, format!("(note: {note})")));
    }
    if !options.verbose && !exec.build.warnings.is_empty() {
        anstream::println!(
            "  {}",
            paint(
                DIM,
                format!(
                    "({} compiler warning{} hidden; --verbose shows them)",
                    exec.build.warnings.len(),
                    if exec.build.warnings.len() == 1 {
                        ""
                    } else {
                        "s"
                    }
                )
            )
        );
    } else {
        for w in &exec.build.warnings {
            anstream::println!("{w}");
        }
    }
    let total = run
        .cases
        .iter()
        .filter(|c| c.outcome != Outcome::Ignored)
        .count();
    let failed: Vec<&TestCase> = run.failures().collect();
    if total == 0 {
        anstream::println!(
            "{} this lesson has no tests to run. The course is broken: tell your instructor.",
            paint(BAD, "✗")
        );
        return Ok(false);
    }
    if failed.is_empty() && tampered {
        anstream::println!(
            "{} All {total} checks pass, but protected files were changed (see above), so the \
             lesson does not count as passed.",
            paint(BAD, "✗")
        );
        print_restore(course, lesson, problems.as_deref().unwrap_or_default());
        return Ok(false);
    }
    if failed.is_empty() {
        print_pass(course, lesson, total, options.pass_shown_before);
        return Ok(passed);
    }
    anstream::println!(
        "{} {} of {total} checks failed. The first one, {}:",
        paint(BAD, "✗"),
        failed.len(),
        paint(HEAD, failed[0].id())
    );
    let first = failed[0];
    let stderr = run
        .stderr
        .get(&first.target)
        .map(String::as_str)
        .unwrap_or("");
    report::explain(first, stderr, options.verbose);
    anstream::println!();
    let what = match &first.outcome {
        Outcome::TimedOut(_) => format!("find what `{}` waits for forever", first.name),
        Outcome::Crashed(_) => format!("find why `{}` crashes", first.name),
        Outcome::Invalid(_) => {
            format!("make `{}` pass without ending the test process", first.name)
        }
        _ => format!("make `{}` pass", first.name),
    };
    next_line(course, lesson, hints_shown, &what);
    Ok(false)
}

fn print_lock_problems(course: &Course, lesson: &Lesson, problems: &[Problem]) {
    anstream::println!(
        "  {} these files are part of the lesson and must stay as shipped:",
        paint(BAD, "protected files changed:")
    );
    for p in problems {
        let rel = course.rel(&lesson.dir.join(p.path()));
        let (what, fix) = match p {
            Problem::Changed(_) => ("changed", format!("git checkout -- {rel}")),
            Problem::Missing(_) => ("missing", format!("git checkout -- {rel}")),
            Problem::Unexpected(_) => (
                "not part of the lesson",
                format!(
                    "move its code into {} and delete it",
                    lesson.edit_list(course)
                ),
            ),
        };
        anstream::println!("    {} ({what}) → {}", paint(HEAD, &rel), paint(CMD, fix));
    }
    anstream::println!(
        "    {}",
        paint(
            DIM,
            format!(
                "or `cargo xtask reset {}` restores the whole exercise after backing up your files",
                lesson.nn()
            )
        )
    );
}

/// "Next:" after tampering: the one-file restore first, the whole-exercise reset second.
fn print_restore(course: &Course, lesson: &Lesson, problems: &[Problem]) {
    let files: Vec<String> = problems
        .iter()
        .filter(|p| matches!(p, Problem::Changed(_) | Problem::Missing(_)))
        .map(|p| course.rel(&lesson.dir.join(p.path())))
        .collect();
    let reset = paint(CMD, format!("cargo xtask reset {}", lesson.nn()));
    if files.is_empty() {
        anstream::println!(
            "{} deal with the files listed above, or {reset} (it backs up your work first), \
             and check again.",
            paint(HEAD, "Next:")
        );
    } else {
        anstream::println!(
            "{} restore {} with {} and check again.\n      Or {reset} restores the whole \
             exercise (it backs up your work first).",
            paint(HEAD, "Next:"),
            if files.len() == 1 { "it" } else { "them" },
            paint(CMD, format!("git checkout -- {}", files.join(" ")))
        );
    }
}

fn print_build_failure(build: &Build, verbose: bool) {
    if build.errors.is_empty() {
        anstream::println!(
            "{} the tests could not be built. Cargo said:",
            paint(BAD, "✗")
        );
        ui::indent(&runner::tail(&build.cargo_stderr, 40));
        return;
    }
    anstream::println!(
        "{} the exercise does not compile ({} error{}):",
        paint(BAD, "✗"),
        build.errors.len(),
        if build.errors.len() == 1 { "" } else { "s" }
    );
    let shown = if verbose { build.errors.len() } else { 3 };
    for e in build.errors.iter().take(shown) {
        anstream::print!("{e}");
    }
    if build.errors.len() > shown {
        anstream::println!(
            "{}",
            paint(
                DIM,
                format!(
                    "… and {} more (--verbose shows all)",
                    build.errors.len() - shown
                )
            )
        );
    }
}

fn next_line(course: &Course, lesson: &Lesson, hints_shown: usize, what: &str) {
    let total = lesson.meta.hints.len();
    let help = if hints_shown < total {
        format!(
            "Stuck? {} ({} of {total} hints seen).",
            paint(CMD, format!("cargo xtask hint {}", lesson.nn())),
            hints_shown
        )
    } else {
        format!(
            "Stuck? Re-read {} ({}).",
            course.rel(&lesson.page(course)),
            paint(CMD, "cargo xtask book --open")
        )
    };
    anstream::println!(
        "{} {what} by editing {}.\n      {help}",
        paint(HEAD, "Next:"),
        lesson.edit_list(course)
    );
}

fn print_pass(course: &Course, lesson: &Lesson, total: usize, shown_before: bool) {
    anstream::println!(
        "{} Lesson {} passed: all {total} checks.",
        paint(GOOD, "✓"),
        lesson.nn()
    );
    let solution = lesson.solution_dir(course);
    let why = solution.join("WHY.md");
    if shown_before {
        anstream::println!(
            "  {}",
            paint(
                DIM,
                format!(
                    "(the course's solution and {} were shown at the first pass)",
                    course.rel(&why)
                )
            )
        );
    } else {
        print_solution_diff(course, lesson);
        print_why(course, &why);
    }
    anstream::println!();
    let next = course.lessons.iter().find(|l| l.number > lesson.number);
    match next {
        Some(n) => anstream::println!(
            "{} {} ({}).",
            paint(HEAD, "Next:"),
            paint(CMD, format!("cargo xtask check {}", n.nn())),
            n.meta.title
        ),
        None => anstream::println!(
            "{} that was the last lesson. Well done.",
            paint(HEAD, "Next:")
        ),
    }
}

/// The learner's files next to the course's solution: a diff per file.
fn print_solution_diff(course: &Course, lesson: &Lesson) {
    let solution = lesson.solution_dir(course);
    anstream::println!(
        "  {}",
        paint(HEAD, "Your code next to the course's solution:")
    );
    for file in &lesson.meta.edit {
        let theirs = solution.join(file);
        let (Ok(yours), Ok(course_text)) = (
            std::fs::read_to_string(lesson.dir.join(file)),
            std::fs::read_to_string(&theirs),
        ) else {
            anstream::println!(
                "    {} {}",
                paint(CMD, course.rel(&theirs)),
                paint(DIM, "(not readable)")
            );
            continue;
        };
        if yours == course_text {
            anstream::println!(
                "    {} {}",
                course.rel(&lesson.dir.join(file)),
                paint(
                    DIM,
                    format!("is the same as the course's {}", course.rel(&theirs))
                )
            );
            continue;
        }
        anstream::println!("  {}", paint(HEAD, file));
        ui::print_diff(
            &format!("yours ({})", course.rel(&lesson.dir.join(file))),
            &format!("the course's ({})", course.rel(&theirs)),
            &yours,
            &course_text,
            80,
        );
    }
}

fn print_why(course: &Course, why: &Path) {
    if let Ok(text) = std::fs::read_to_string(why) {
        anstream::println!("  {}", paint(HEAD, "Why it works:"));
        let lines: Vec<&str> = text.trim().lines().collect();
        for line in lines.iter().take(30) {
            anstream::println!("    {line}");
        }
        if lines.len() > 30 {
            anstream::println!(
                "    {}",
                paint(DIM, format!("… the rest is in {}", course.rel(why)))
            );
        }
    }
}

/// The lesson to check when none is named: the one the current directory is in, else the
/// first lesson not yet passed.
pub fn default_lesson(course: &Course) -> Result<&Lesson> {
    if let Ok(cwd) = std::env::current_dir()
        && let Some(l) = course.lessons.iter().find(|l| cwd.starts_with(&l.dir))
    {
        return Ok(l);
    }
    let state = State::load(course);
    course
        .lessons
        .iter()
        .find(|l| state.status(course, l) != crate::state::Status::Passed)
        .or(course.lessons.last())
        .ok_or_else(|| "this course has no lessons yet".into())
}
