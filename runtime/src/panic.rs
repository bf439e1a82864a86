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
//! [`recover`] is Go's `recover` for Rust closures: it runs a closure and returns its value, or
//! the panic as a [`Panic`] (message, task, location). A panic inside `recover` is one the
//! program handles, so, as in Go, nothing is printed for it and `panic_crashes` does not abort:
//! the hook sees that the panicking task (or thread) is inside a `recover`, stores the message's
//! location for it and stays quiet. Rules:
//!
//! 1. The hook is quiet exactly while the panicking task's (or thread's) `recover` depth is not
//!    zero: every panic raised there is caught by that `recover` or by code inside it.
//! 2. `recover` never catches the runtime's cancellation (shutdown): it re-raises it, so a
//!    task that recovers in a loop still ends (`task::parking`, rule 1).
//!
//! Go counterpart: `gopanic`, `recover`, `printpanics` and the crash in `fatalpanic`.
//! Lesson: 10 (panics).

use std::any::Any;
use std::backtrace::{Backtrace, BacktraceStatus};
use std::cell::{Cell, RefCell};
use std::fmt;
use std::io::Write;
use std::panic::{self, AssertUnwindSafe, PanicHookInfo};
use std::sync::Once;
use std::sync::atomic::Ordering;

use crate::coroutine::Cancelled;
use crate::sched;
use crate::task::TaskId;
use crate::task::record::Header;

thread_local! {
    /// `recover` depth of a plain OS thread (tasks keep theirs in their record).
    static THREAD_RECOVERING: Cell<u32> = const { Cell::new(0) };
    /// Where the latest quiet panic on this thread happened, by the task it happened in (null
    /// for the thread itself), for the `recover` that catches it.
    static RECOVERED_AT: RefCell<Vec<(usize, String)>> = const { RefCell::new(Vec::new()) };
}

/// Whether the code panicking on this thread is inside a `recover` (rule 1).
fn recovering(task: *const Header) -> bool {
    if task.is_null() {
        THREAD_RECOVERING.with(|d| d.get() > 0)
    } else {
        // SAFETY: a non-null pointer is the header of the task running on this thread.
        unsafe { &*task }.recovering.load(Ordering::Relaxed) > 0
    }
}

/// Installs the chained hook (once per process).
pub(crate) fn install_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            let task = sched::current_task_ptr();
            if recovering(task) {
                let at = info
                    .location()
                    .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()))
                    .unwrap_or_default();
                let _ = RECOVERED_AT.try_with(|r| {
                    let mut r = r.borrow_mut();
                    r.retain(|(t, _)| *t != task as usize);
                    r.push((task as usize, at));
                });
                return;
            }
            if task.is_null() {
                previous(info);
                return;
            }
            // SAFETY: the pointer is the header of the task running on this thread, kept alive
            // by the scheduler while it runs.
            let header = unsafe { &*task };
            report(header.id, header.name.as_deref(), info);
            if let Some(run) = &header.shared().config.explore {
                // An unrecovered panic fails an explored schedule (`crate::check`).
                run.note_panic(headline(header.id, header.name.as_deref(), info));
            }
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

/// The first lines of a report: which task panicked, where, and the message.
fn headline(id: u64, name: Option<&str>, info: &PanicHookInfo<'_>) -> String {
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
    msg.push_str(&format!(":\n{}", payload_text(info)));
    msg
}

/// Prints one report, in a single write so reports from two workers do not interleave.
fn report(id: u64, name: Option<&str>, info: &PanicHookInfo<'_>) {
    let mut msg = headline(id, name, info);
    msg.push('\n');
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

// ---------------------------------------------------------------------------------------------
// recover
// ---------------------------------------------------------------------------------------------

/// A panic caught by [`recover`]: its message, where it was raised, which task raised it, and
/// the payload itself. `Display` prints one line, the way Go prints a recovered value with
/// context: `goroutine 7 "worker" panicked at src/job.rs:12:9: index out of range`.
pub struct Panic {
    message: String,
    location: Option<String>,
    task: Option<(TaskId, Option<String>)>,
    payload: Box<dyn Any + Send>,
}

impl Panic {
    /// The panic's message (`"Box<dyn Any>"` for a payload that is not a string).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Where the panic was raised, as `file:line:column`, if known (the panic hook records it;
    /// unknown when the program replaced goro's hook after the runtime started).
    pub fn location(&self) -> Option<&str> {
        self.location.as_deref()
    }

    /// The task that panicked (`None` on a plain OS thread).
    pub fn task_id(&self) -> Option<TaskId> {
        self.task.as_ref().map(|(id, _)| *id)
    }

    /// The panicking task's name, if it has one.
    pub fn task_name(&self) -> Option<&str> {
        self.task.as_ref().and_then(|(_, n)| n.as_deref())
    }

    /// The payload the panic was raised with (what `std::panic::catch_unwind` would return).
    pub fn payload(&self) -> &(dyn Any + Send) {
        &*self.payload
    }

    /// Takes the payload, e.g. to pass it to `std::panic::resume_unwind`.
    pub fn into_payload(self) -> Box<dyn Any + Send> {
        self.payload
    }
}

impl fmt::Display for Panic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.task {
            Some((id, Some(name))) => write!(f, "goroutine {id} \"{name}\" panicked")?,
            Some((id, None)) => write!(f, "goroutine {id} panicked")?,
            None => f.write_str("panicked")?,
        }
        if let Some(at) = &self.location {
            write!(f, " at {at}")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl fmt::Debug for Panic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Panic")
            .field("message", &self.message)
            .field("location", &self.location)
            .field("task", &self.task)
            .finish_non_exhaustive()
    }
}

/// Runs `f` and returns its value, or the panic it raised: Go's `recover`.
///
/// ```
/// goro::run(|| {
///     let r = goro::recover(|| -> u32 { panic!("boom") });
///     let p = r.unwrap_err();
///     assert_eq!(p.message(), "boom");
///     assert!(p.to_string().contains("panicked at"));
/// });
/// ```
///
/// Unlike `std::panic::catch_unwind`:
/// - nothing is printed for a panic `recover` catches (Go prints nothing for a recovered
///   panic either); the [`Panic`] carries the message, the location and the task instead;
/// - it works under `runtime::Builder::panic_crashes(true)`: only a panic that reaches the task
///   boundary uncaught crashes the process, as in Go;
/// - it never catches the runtime's cancellation: when the runtime shuts down, a task inside
///   `recover` goes on unwinding (see [`crate::task::is_cancelled`]).
///
/// The closure is run as if it were unwind safe (`AssertUnwindSafe`), as Go's `recover` assumes:
/// data it was changing when it panicked may be half-updated.
pub fn recover<F, T>(f: F) -> Result<T, Panic>
where
    F: FnOnce() -> T,
{
    install_hook(); // also on a plain thread that never started a runtime
    let task = sched::current_task_ptr();
    enter(task, 1);
    let out = panic::catch_unwind(AssertUnwindSafe(f));
    enter(task, -1);
    let payload = match out {
        Ok(v) => return Ok(v),
        Err(p) if p.is::<Cancelled>() => panic::resume_unwind(p),
        Err(p) => p,
    };
    let location = RECOVERED_AT
        .try_with(|r| {
            let mut r = r.borrow_mut();
            let i = r.iter().position(|(t, _)| *t == task as usize)?;
            Some(r.swap_remove(i).1)
        })
        .ok()
        .flatten()
        .filter(|at| !at.is_empty());
    let message = if let Some(s) = payload.downcast_ref::<&'static str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "Box<dyn Any>".to_owned()
    };
    let task = (!task.is_null()).then(|| {
        // SAFETY: a non-null pointer is the header of the task running on this thread.
        let h = unsafe { &*task };
        (TaskId::new(h.id), h.name.as_deref().map(str::to_owned))
    });
    Err(Panic {
        message,
        location,
        task,
        payload,
    })
}

/// Counts a `recover` in or out for the running task (or thread).
fn enter(task: *const Header, by: i32) {
    if task.is_null() {
        THREAD_RECOVERING.with(|d| d.set(d.get().wrapping_add_signed(by)));
    } else {
        // SAFETY: a non-null pointer is the header of the task running on this thread; only
        // the task itself touches its depth.
        let depth = &unsafe { &*task }.recovering;
        let now = depth.load(Ordering::Relaxed);
        depth.store(now.wrapping_add_signed(by as i16), Ordering::Relaxed);
    }
}
