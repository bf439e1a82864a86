//! `SIGQUIT` (Ctrl-\) prints every task and exits, as Go does: `SIGQUIT: quit`, then the
//! goroutine dump of each live run ([`crate::debug::dump`]'s text), then exit status 2. On by
//! default; [`Builder::sigquit_dump(false)`](crate::runtime::Builder::sigquit_dump) leaves
//! `SIGQUIT` alone (its default action: the process dies of the signal and may dump core).
//!
//! Printing a dump allocates and takes locks, which a signal handler must not do, so the
//! handler is `notify`'s (it writes the signal number into a pipe); a plain watcher thread
//! receives it from `notify`'s channel and prints from there, while the runs keep going.
//!
//! Rules:
//!
//! 1. Each run that wants the dump registers itself (a `Weak` reference) for as long as it runs
//!    (`QuitWatch`); the watcher dumps the runs still alive when the signal comes.
//! 2. A program that listens for `SIGQUIT` itself (`goro::signal::notify(&[SIGQUIT])`) gets it
//!    instead: the watcher then does nothing (Go's `signal.Notify` disables the dump too).
//!
//! Go counterpart: `sighandler` and `dopanic_m` with `GOTRACEBACK` in
//! `runtime/signal_unix.go` and `runtime/panic.go`. Lesson: 16 (introspection).

use std::io::Write;
use std::sync::{Arc, Mutex, Weak};

use super::notify;
use crate::sched::Shared;

/// The runs that want a dump on SIGQUIT (rule 1); the watcher starts with the first one.
static RUNS: Mutex<Vec<Weak<Shared>>> = Mutex::new(Vec::new());
static WATCHER: std::sync::Once = std::sync::Once::new();

/// A run's registration for the SIGQUIT dump; dropping it (at the end of the run) unregisters.
pub(crate) struct QuitWatch(Weak<Shared>);

impl Drop for QuitWatch {
    fn drop(&mut self) {
        let mut runs = RUNS.lock().unwrap_or_else(|e| e.into_inner());
        runs.retain(|w| !w.ptr_eq(&self.0) && w.strong_count() > 0);
    }
}

/// Registers run `shared` for the SIGQUIT dump and starts the watcher (once per process).
/// If the signal cannot be handled (no pipe, no thread), says so on stderr and carries on: a
/// run must not fail for want of its debugging aid.
pub(crate) fn watch_sigquit(shared: &Arc<Shared>) -> QuitWatch {
    let me = Arc::downgrade(shared);
    RUNS.lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(me.clone());
    WATCHER.call_once(|| {
        let started = notify::notify(&[libc::SIGQUIT]).and_then(|rx| {
            std::thread::Builder::new()
                .name("goro-sigquit".into())
                .spawn(move || {
                    while rx.recv().is_ok() {
                        on_sigquit();
                    }
                })
                .map(|_| ())
        });
        if let Err(e) = started {
            eprintln!(
                "goro: cannot watch for SIGQUIT ({e}); Ctrl-\\ will not print the goroutine dump"
            );
        }
    });
    QuitWatch(me)
}

/// The signal came: dump every live run and exit with status 2, unless the program listens
/// for SIGQUIT itself (rule 2: the watcher is one listener, anybody else is the program).
fn on_sigquit() {
    if notify::listeners(libc::SIGQUIT) > 1 {
        return;
    }
    let runs: Vec<Arc<Shared>> = RUNS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .filter_map(Weak::upgrade)
        .collect();
    let mut text = String::from("SIGQUIT: quit\n");
    for (i, s) in runs.iter().enumerate() {
        if runs.len() > 1 {
            text.push_str(&format!("\nrun {} of {}:\n", i + 1, runs.len()));
        }
        text.push('\n');
        text.push_str(&crate::debug::dump_of(s));
    }
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(text.as_bytes());
    let _ = err.flush();
    std::process::exit(2);
}
