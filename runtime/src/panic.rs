//! Panic containment: a task's panic stops at the task boundary and is reported once.
//!
//! The task entry (`sched/switch.rs`) runs the body under `catch_unwind`, so a panic never unwinds
//! through the `extern "C"` switch frame; the payload goes to `JoinHandle::join` as `Err`. What
//! this module adds is the report: a panic hook, chained in front of the one that was installed
//! before, that recognises panics raised inside a task and prints one message naming the task
//! (id and name) instead of the worker thread, with a backtrace when `RUST_BACKTRACE` asks for
//! one. Panics outside tasks go to the previous hook untouched.
//!
//! With `runtime::Builder::panic_crashes(true)` the hook aborts the process after the report:
//! Go's behaviour, where an unrecovered panic in any goroutine kills the program.
//!
//! Go counterpart: `gopanic`, `recover`, `printpanics` and the crash in `fatalpanic`.
//! Lesson: 10 (panics).

use std::backtrace::{Backtrace, BacktraceStatus};
use std::io::Write;
use std::panic::{self, PanicHookInfo};
use std::sync::Once;

use crate::sched;

/// Installs the chained hook (once per process).
pub(crate) fn install_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            let task = sched::current_task_ptr();
            if task.is_null() {
                previous(info);
                return;
            }
            // SAFETY: the pointer is the header of the task running on this thread, kept alive
            // by the scheduler while it runs.
            let header = unsafe { &*task };
            report(header.id, header.name.as_deref(), info);
            if header.shared().config.panic_crashes {
                let _ = std::io::stderr().write_all(
                    b"goro: panic_crashes is set, so a panicking goroutine aborts the process\n",
                );
                std::process::abort();
            }
        }));
    });
}

fn payload_text<'a>(info: &'a PanicHookInfo<'a>) -> &'a str {
    if let Some(s) = info.payload().downcast_ref::<&'static str>() {
        s
    } else if let Some(s) = info.payload().downcast_ref::<String>() {
        s
    } else {
        "Box<dyn Any>"
    }
}

/// Prints one report, in a single write so reports from two workers do not interleave.
fn report(id: u64, name: Option<&str>, info: &PanicHookInfo<'_>) {
    let mut msg = format!("goroutine {id}");
    if let Some(name) = name {
        msg.push_str(&format!(" \"{name}\""));
    }
    msg.push_str(" panicked");
    if let Some(loc) = info.location() {
        msg.push_str(&format!(
            " at {}:{}:{}",
            loc.file(),
            loc.line(),
            loc.column()
        ));
    }
    msg.push_str(&format!(":\n{}\n", payload_text(info)));
    let bt = Backtrace::capture();
    match bt.status() {
        BacktraceStatus::Captured => {
            let full = std::env::var("RUST_BACKTRACE").is_ok_and(|v| v == "full");
            let text = bt.to_string();
            msg.push_str("stack backtrace:\n");
            if full {
                msg.push_str(&text);
            } else {
                msg.push_str(&short_backtrace(&text));
                msg.push_str(
                    "note: Some details are omitted, run with `RUST_BACKTRACE=full` for a \
                     verbose backtrace.\n",
                );
            }
        }
        _ => msg.push_str(
            "note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n",
        ),
    }
    let _ = std::io::stderr().lock().write_all(msg.as_bytes());
}

/// Trims a captured backtrace to the task's own frames, like std's short backtraces: drops the
/// panic machinery on top (this hook, `rust_begin_unwind`, `core::panicking`) and the task
/// entry's `catch_unwind` plumbing at the bottom, then renumbers the frames.
fn short_backtrace(text: &str) -> String {
    // Group the lines into frames: "  N: symbol" followed by "at file:line" lines.
    let mut frames: Vec<Vec<&str>> = Vec::new();
    for line in text.lines() {
        let trimmed = line.trim_start();
        let is_header = trimmed
            .split_once(": ")
            .is_some_and(|(n, _)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        if is_header || frames.is_empty() {
            frames.push(vec![line]);
        } else if let Some(f) = frames.last_mut() {
            f.push(line);
        }
    }
    let name = |f: &Vec<&str>| {
        f[0].trim_start()
            .split_once(": ")
            .map_or("", |(_, s)| s)
            .to_owned()
    };
    let machinery = [
        "goro::panic::",
        "std::panicking::",
        "core::panicking::",
        "rust_begin_unwind",
        "__rust_end_short_backtrace",
        "core::ops::function::Fn",
        "std::sys::backtrace",
    ];
    let start = frames
        .iter()
        .position(|f| {
            let n = name(f);
            !machinery.iter().any(|m| n.contains(m))
        })
        .unwrap_or(0);
    let plumbing = [
        "goro::task::",
        "goro::runtime::",
        "std::panicking::catch_unwind",
        "std::panic::catch_unwind",
        "__rust_try",
        "call_once",
        "AssertUnwindSafe",
        "make_fcontext",
    ];
    let mut end = frames.len();
    while end > start && plumbing.iter().any(|p| name(&frames[end - 1]).contains(p)) {
        end -= 1;
    }
    let mut out = String::new();
    for (i, frame) in frames[start..end].iter().enumerate() {
        let symbol = name(frame);
        out.push_str(&format!("{i:>4}: {symbol}\n"));
        for line in &frame[1..] {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}
