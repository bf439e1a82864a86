//! Turns a failed test's raw output into the part a learner needs: the snapshot diff, the
//! compile-fail case's compiler error, the panic message, or for a hang or a crash, what
//! probably happened.

use crate::runner::{Crash, Outcome, TestCase};
use crate::ui::{self, ADD, BAD, DEL, DIM, HEAD, WARN, paint};

/// Prints what matters about one failed test.
pub fn explain(case: &TestCase, stderr: &str, verbose: bool) {
    match &case.outcome {
        Outcome::Failed(output) => explain_failure(case, output, stderr, verbose),
        Outcome::Crashed(crash) => explain_crash(case, crash),
        Outcome::TimedOut(limit) => explain_timeout(case, limit.as_secs(), stderr),
        Outcome::NotRun => anstream::println!(
            "    {}",
            paint(
                DIM,
                "did not run: an earlier test in the same file hung or crashed"
            )
        ),
        Outcome::Invalid(why) => anstream::println!("    {}", paint(BAD, why)),
        Outcome::Passed | Outcome::Ignored => {}
    }
}

fn explain_failure(case: &TestCase, output: &str, stderr: &str, verbose: bool) {
    if let Some(snapshot) = insta_diff(output) {
        print_snapshot(&snapshot);
        return;
    }
    let ui = trybuild_failures(stderr);
    if !ui.is_empty() {
        for failure in ui.iter().take(if verbose { usize::MAX } else { 1 }) {
            print_ui_failure(failure);
        }
        if ui.len() > 1 && !verbose {
            anstream::println!(
                "    {}",
                paint(
                    DIM,
                    format!(
                        "(and {} more compile-fail cases; --verbose shows all)",
                        ui.len() - 1
                    )
                )
            );
        }
        return;
    }
    let shown = if verbose {
        output.trim().to_string()
    } else {
        panic_summary(output)
    };
    if shown.trim().is_empty() {
        anstream::println!(
            "    {}",
            paint(
                DIM,
                format!("`{}` failed without printing anything", case.name)
            )
        );
    } else {
        ui::indent(&shown);
    }
}

fn explain_crash(case: &TestCase, crash: &Crash) {
    let why = match crash.signo {
        Some(libc::SIGSEGV) | Some(libc::SIGBUS) => {
            "a memory access the kernel refused. In this course that usually means a context switch \
             to a bad stack pointer, a stack without room or without its guard page, or a stack \
             used after it was freed."
        }
        Some(libc::SIGABRT) => {
            "the process aborted: a panic while already panicking, a panic that tried to unwind \
             out of an `extern \"C\"` function, or the runtime stopping on purpose (its message \
             is below)."
        }
        Some(libc::SIGILL) | Some(libc::SIGTRAP) => {
            "an illegal instruction: Rust emits one when it must abort (for example a panic that \
             cannot unwind) or when execution continues on a corrupted stack."
        }
        Some(libc::SIGKILL) => {
            "killed from outside, most often by the kernel's out-of-memory killer: look for a loop \
             that allocates stacks or tasks without end."
        }
        Some(_) => "the process was stopped by a signal.",
        None => "the test process exited in the middle of a test (`std::process::exit`?).",
    };
    anstream::println!(
        "    {} while `{}` was running.",
        paint(BAD, format!("crashed with {}", crash.signal)),
        case.name
    );
    ui::para(why);
    let message = runtime_message(&crash.stderr);
    if !message.trim().is_empty() {
        anstream::println!("    {}", paint(HEAD, "The process's last words:"));
        ui::indent(&message);
    }
}

fn explain_timeout(case: &TestCase, secs: u64, stderr: &str) {
    if case.target == "compile_fail" || stderr.contains("tests/ui/") {
        anstream::println!(
            "    {} `{}` was still compiling its cases after {secs} s.",
            paint(WARN, "time limit:"),
            case.name
        );
        ui::para(
            "trybuild runs rustc on each case; the very first run also compiles the \
             dependencies. Run the check again; if it keeps happening, the lesson's \
             time_limit_secs is too small for this machine.",
        );
        return;
    }
    anstream::println!(
        "    {} `{}` was still running after {secs} s and was stopped.",
        paint(WARN, "hang:"),
        case.name
    );
    ui::para(
        "The usual cause is a task waiting for something that never comes: a send on a \
         channel nobody receives from, a receive on a channel nobody sends to or closes, a \
         join on a task that never ends, or a park() with no matching unpark(). A task that \
         loops without yielding can also starve every other task on its worker.",
    );
    ui::para(
        "In a test that runs goro in deterministic mode, time is virtual: the clock only moves \
         when every task waits (parked, sleeping, or blocked on a channel or a timer). A loop \
         that yields until some time has passed keeps its task runnable, so the clock never \
         moves and the loop never ends: wait with `goro::time::sleep`, a timer or a channel.",
    );
    let message = runtime_message(stderr);
    if !message.trim().is_empty() {
        anstream::println!("    {}", paint(HEAD, "Its last words (stderr):"));
        ui::indent(&message);
    }
}

/// The stderr of a crashed process without libtest's own lines, the last 25 lines.
fn runtime_message(stderr: &str) -> String {
    let kept: Vec<&str> = stderr
        .lines()
        .filter(|l| !l.starts_with("error: test failed, to rerun"))
        .collect();
    crate::runner::tail(&kept.join("\n"), 25)
}

/// A panic's location and message from libtest's captured output, without the backtrace.
pub fn panic_summary(output: &str) -> String {
    let mut kept = Vec::new();
    let mut in_backtrace = false;
    for line in output.lines() {
        if line.starts_with("stack backtrace:") {
            in_backtrace = true;
            continue;
        }
        if in_backtrace {
            // Frames are indented; the backtrace ends at the first unindented line.
            if line.starts_with(' ') || line.is_empty() {
                continue;
            }
            in_backtrace = false;
        }
        if line.starts_with("note: run with `RUST_BACKTRACE")
            || line.starts_with("note: Some details are omitted")
        {
            continue;
        }
        kept.push(line);
    }
    let text = strip_thread_ids(&kept.join("\n"));
    let lines: Vec<&str> = text.trim().lines().collect();
    if lines.len() <= 40 {
        return lines.join("\n");
    }
    // Keep the panic and what led to it.
    let at = lines
        .iter()
        .position(|l| l.contains("panicked at"))
        .unwrap_or(lines.len() - 20);
    let start = at.saturating_sub(10);
    let end = (at + 30).min(lines.len());
    let mut out = String::new();
    if start > 0 {
        out.push_str(&format!("[… {start} earlier lines …]\n"));
    }
    out.push_str(&lines[start..end].join("\n"));
    if end < lines.len() {
        out.push_str(&format!("\n[… {} more lines …]", lines.len() - end));
    }
    out
}

/// `thread 'name' (12345) panicked` -> `thread 'name' panicked`: the OS thread id is noise here.
fn strip_thread_ids(text: &str) -> String {
    text.lines()
        .map(|line| {
            if let Some(at) = line.find("' (")
                && line.starts_with("thread '")
                && let Some(close) = line[at + 3..].find(") panicked")
                && line[at + 3..at + 3 + close]
                    .chars()
                    .all(|c| c.is_ascii_digit())
            {
                format!("{}'{}", &line[..at], &line[at + 3 + close + 1..])
            } else {
                line.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A few words on why a test failed, for its result line.
pub fn one_line(output: &str, width: usize) -> Option<String> {
    if let Some(s) = insta_diff(output) {
        let name = s.file.rsplit('/').next().unwrap_or(&s.file).to_string();
        return Some(format!("output differs from snapshot {name}"));
    }
    let mut lines = output.lines();
    lines.find(|l| l.starts_with("thread '") && l.contains("panicked at"))?;
    let msg = lines.next()?.trim();
    let msg: String = if msg.chars().count() > width {
        msg.chars().take(width - 1).collect::<String>() + "…"
    } else {
        msg.to_string()
    };
    (!msg.is_empty()).then_some(msg)
}

/// A snapshot mismatch as insta prints it.
#[derive(Debug, PartialEq)]
pub struct SnapshotDiff {
    /// `tests/snapshots/x.snap`.
    pub file: String,
    /// (`-`, `+` or ` `, text).
    pub lines: Vec<(char, String)>,
}

/// Finds insta's report in a test's captured output.
pub fn insta_diff(output: &str) -> Option<SnapshotDiff> {
    let mut file = None;
    let mut lines = Vec::new();
    let mut in_table = false;
    for line in output.lines() {
        if let Some(f) = line.strip_prefix("Snapshot file: ") {
            file = Some(f.trim().to_string());
        } else if line.starts_with("────────────┬") {
            in_table = true;
        } else if line.starts_with("────────────┴") {
            break;
        } else if line.starts_with("┈┈┈┈┈┈┈┈┈┈┈┈┼") {
            lines.push(('…', String::new()));
        } else if in_table && let Some((_, rest)) = line.split_once('│') {
            let mut chars = rest.chars();
            let mark = chars.next().unwrap_or(' ');
            lines.push((mark, chars.as_str().to_string()));
        }
    }
    Some(SnapshotDiff { file: file?, lines })
}

fn print_snapshot(s: &SnapshotDiff) {
    anstream::println!(
        "    The output no longer matches the snapshot {}.",
        paint(HEAD, &s.file)
    );
    anstream::println!(
        "    {}   {}",
        paint(DEL, "- expected (shipped snapshot)"),
        paint(ADD, "+ what your code produced")
    );
    for (mark, text) in s.lines.iter().take(60) {
        match mark {
            '-' => anstream::println!("    {}", paint(DEL, format!("- {text}"))),
            '+' => anstream::println!("    {}", paint(ADD, format!("+ {text}"))),
            '…' => anstream::println!("    {}", paint(DIM, "  ┈┈┈")),
            _ => anstream::println!("    {}", paint(DIM, format!("  {text}"))),
        }
    }
    if s.lines.len() > 60 {
        anstream::println!("    {}", paint(DIM, "  … (diff cut short)"));
    }
    anstream::println!(
        "    {}",
        paint(
            DIM,
            "The snapshot is part of the lesson: change the code, not the snapshot."
        )
    );
}

/// One failed trybuild case.
#[derive(Debug, PartialEq)]
pub enum UiFailure {
    /// A case that must not compile, compiled.
    Compiled(String),
    /// It failed to compile, but with a different error.
    Mismatch {
        /// `tests/ui/x.rs`.
        case: String,
        /// The `.stderr` file's content.
        expected: String,
        /// rustc's output now.
        actual: String,
    },
    /// Something else (the case's dependencies did not build, ...).
    Other(String, String),
}

/// Reads trybuild's report (it writes to stderr).
pub fn trybuild_failures(stderr: &str) -> Vec<UiFailure> {
    let mut out = Vec::new();
    let lines: Vec<&str> = stderr.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let Some(rest) = line.strip_prefix("test ") else {
            i += 1;
            continue;
        };
        let Some((case, verdict)) = rest.split_once(" ... ") else {
            i += 1;
            continue;
        };
        let case = case
            .trim_end_matches(" [should fail to compile]")
            .trim_end_matches(" [should pass]")
            .to_string();
        i += 1;
        match verdict.trim() {
            "ok" => {}
            "mismatch" => {
                let expected = block_after(&lines, &mut i, "EXPECTED:");
                let actual = block_after(&lines, &mut i, "ACTUAL OUTPUT:");
                out.push(UiFailure::Mismatch {
                    case,
                    expected,
                    actual,
                });
            }
            "error" => {
                let mut body = Vec::new();
                while i < lines.len() && !lines[i].starts_with("test ") {
                    body.push(lines[i]);
                    i += 1;
                }
                let body = body.join("\n").trim().to_string();
                if body.contains("Expected test case to fail to compile, but it succeeded") {
                    out.push(UiFailure::Compiled(case));
                } else {
                    out.push(UiFailure::Other(case, body));
                }
            }
            _ => {}
        }
    }
    out
}

/// The text between the dotted lines that follow `label`.
fn block_after(lines: &[&str], i: &mut usize, label: &str) -> String {
    while *i < lines.len() && lines[*i].trim() != label {
        *i += 1;
    }
    *i += 1;
    let dotted = |l: &str| !l.is_empty() && l.chars().all(|c| c == '┈');
    if *i < lines.len() && dotted(lines[*i]) {
        *i += 1;
    }
    let mut body = Vec::new();
    while *i < lines.len() && !dotted(lines[*i]) {
        body.push(lines[*i]);
        *i += 1;
    }
    *i += 1;
    body.join("\n")
}

fn print_ui_failure(f: &UiFailure) {
    match f {
        UiFailure::Compiled(case) => {
            anstream::println!(
                "    {} compiled, but it must not: this misuse has to be a compile error.",
                paint(HEAD, case)
            );
            anstream::println!(
                "    {}",
                paint(
                    DIM,
                    "Tighten the types or bounds so the compiler rejects it (read the case to see the misuse)."
                )
            );
        }
        UiFailure::Mismatch {
            case,
            expected,
            actual,
        } => {
            anstream::println!(
                "    {} fails to compile, as it should, but with a different error:",
                paint(HEAD, case)
            );
            ui::print_diff(
                "expected compiler error (shipped .stderr)",
                "the compiler's error now",
                expected,
                actual,
                60,
            );
        }
        UiFailure::Other(case, body) => {
            anstream::println!("    {}:", paint(HEAD, case));
            ui::indent(&crate::runner::tail(body, 40));
        }
    }
}

/// A plain-text account of a failure, for JSON and JUnit reports.
pub fn plain(case: &TestCase, stderr: &str) -> String {
    match &case.outcome {
        Outcome::Passed | Outcome::Ignored => String::new(),
        Outcome::NotRun => "did not run: an earlier test in the same file hung or crashed".into(),
        Outcome::Invalid(why) => format!("not trusted: {why}"),
        Outcome::TimedOut(d) => format!(
            "still running after {} s (a task waiting forever?)\n{}",
            d.as_secs(),
            runtime_message(stderr)
        ),
        Outcome::Crashed(c) => format!("crashed with {}\n{}", c.signal, runtime_message(&c.stderr)),
        Outcome::Failed(output) => {
            if let Some(s) = insta_diff(output) {
                let mut text = format!("snapshot {} differs (- expected, + actual)\n", s.file);
                for (mark, line) in &s.lines {
                    text.push_str(&format!("{mark} {line}\n"));
                }
                return text;
            }
            let ui = trybuild_failures(stderr);
            if !ui.is_empty() {
                return ui
                    .iter()
                    .map(|f| match f {
                        UiFailure::Compiled(c) => format!("{c} compiled, but must not"),
                        UiFailure::Mismatch { case, actual, .. } => {
                            format!("{case} fails with a different error:\n{actual}")
                        }
                        UiFailure::Other(c, body) => format!("{c}:\n{body}"),
                    })
                    .collect::<Vec<_>>()
                    .join("\n");
            }
            panic_summary(output)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_insta_table() {
        let out = "Snapshot Summary\nSnapshot file: tests/snapshots/a__b.snap\nSnapshot: b\n\
                   -old snapshot\n+new results\n────────────┬───\n    1       │-hello\n          1 │+world\n    2     2 │ same\n────────────┴───\n";
        let d = insta_diff(out).unwrap();
        assert_eq!(d.file, "tests/snapshots/a__b.snap");
        assert_eq!(
            d.lines,
            vec![
                ('-', "hello".to_string()),
                ('+', "world".to_string()),
                (' ', "same".to_string())
            ]
        );
        assert!(insta_diff("thread panicked").is_none());
    }

    #[test]
    fn reads_trybuild_report() {
        let err = "\ntest tests/ui/ok.rs ... ok\ntest tests/ui/rc.rs ... error\nExpected test case to fail to compile, but it succeeded.\n\n\
                   test tests/ui/borrow.rs ... mismatch\n\nEXPECTED:\n┈┈┈┈┈┈\nerror[E0373]: old\n┈┈┈┈┈┈\n\nACTUAL OUTPUT:\n┈┈┈┈┈┈\nerror[E0597]: new\n┈┈┈┈┈┈\nnote: If the actual output...\n";
        assert_eq!(
            trybuild_failures(err),
            vec![
                UiFailure::Compiled("tests/ui/rc.rs".into()),
                UiFailure::Mismatch {
                    case: "tests/ui/borrow.rs".into(),
                    expected: "error[E0373]: old".into(),
                    actual: "error[E0597]: new".into()
                }
            ]
        );
    }

    #[test]
    fn panic_summary_drops_backtraces() {
        let out = "thread 't' (42) panicked at tests/a.rs:3:5:\nboom\nstack backtrace:\n   0: std::x\n             at /rustc/x\n   1: y\nnote: Some details are omitted, run with `RUST_BACKTRACE=full`\n";
        assert_eq!(
            panic_summary(out),
            "thread 't' panicked at tests/a.rs:3:5:\nboom"
        );
    }
}
