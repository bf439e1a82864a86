//! `watch`: re-checks a lesson every time one of its files is saved. File events come from
//! the operating system (inotify on Linux); on file systems where they do not arrive (network
//! drives, WSL's /mnt/ drives, FUSE) it polls instead, and `--poll` forces polling.

use std::io::BufRead;
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use notify::{RecursiveMode, Watcher};

use crate::Result;
use crate::check::{self, CheckOptions};
use crate::course::{Course, Lesson};
use crate::learner;
use crate::ui::{self, CMD, DIM, HEAD, WARN, paint};

enum Msg {
    Changed,
    Key(String),
    Error(String),
}

/// Whether file events are unreliable where `dir` lives.
fn needs_polling(dir: &Path) -> Option<&'static str> {
    if std::env::var_os("XTASK_POLL").is_some_and(|v| v != "0") {
        return Some("XTASK_POLL is set");
    }
    let wsl = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .is_ok_and(|r| r.to_ascii_lowercase().contains("microsoft"));
    if wsl && dir.starts_with("/mnt/") {
        return Some("a Windows drive under WSL");
    }
    let Ok(c) = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes()) else {
        return None;
    };
    // SAFETY: `statfs` is plain old data, so all-zero bytes are a valid value of it.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a valid NUL-terminated path and `st` a valid, writable statfs.
    if unsafe { libc::statfs(c.as_ptr(), &mut st) } != 0 {
        return None;
    }
    // Magic numbers from statfs(2).
    match st.f_type as u64 {
        0x6969 => Some("an NFS share"),
        0xFF53_4D42 | 0xFE53_4D42 | 0x517B => Some("an SMB share"),
        0x0102_1997 => Some("a 9p file system (WSL, VMs)"),
        0x6573_5546 => Some("a FUSE file system"),
        _ => None,
    }
}

fn relevant(lesson: &Lesson, path: &Path) -> bool {
    let Ok(rel) = path.strip_prefix(&lesson.dir) else {
        return false;
    };
    let rel = rel.to_string_lossy();
    !(rel.starts_with("target")
        || rel.ends_with(".snap.new")
        || rel.ends_with(".pending-snap")
        || rel.ends_with('~')
        || rel.ends_with(".swp")
        || rel
            .split('/')
            .any(|p| p.starts_with('.') || p.starts_with('#')))
}

/// Runs the watch loop until `q` or end of input and a failing watcher.
pub fn watch(course: &Course, lesson: &Lesson, force_poll: bool, verbose: bool) -> Result<bool> {
    let (tx, rx) = mpsc::channel::<Msg>();
    let lesson_for_events = lesson.clone();
    let events_tx = tx.clone();
    let handler = move |res: notify::Result<notify::Event>| match res {
        Ok(ev) => {
            if ev.kind.is_access() {
                return;
            }
            if ev.paths.iter().any(|p| relevant(&lesson_for_events, p)) {
                let _ = events_tx.send(Msg::Changed);
            }
        }
        Err(e) => {
            let _ = events_tx.send(Msg::Error(e.to_string()));
        }
    };
    let poll_reason = if force_poll {
        Some("--poll")
    } else {
        needs_polling(&lesson.dir)
    };
    let poll_config = notify::Config::default()
        .with_poll_interval(Duration::from_millis(700))
        .with_compare_contents(true);
    let mut watcher: Box<dyn Watcher> = match poll_reason {
        Some(_) => Box::new(notify::PollWatcher::new(handler, poll_config)?),
        None => match notify::RecommendedWatcher::new(handler.clone(), notify::Config::default()) {
            Ok(w) => Box::new(w),
            Err(e) => {
                anstream::println!(
                    "{} file events are unavailable ({e}); polling instead",
                    paint(WARN, "note:")
                );
                Box::new(notify::PollWatcher::new(handler, poll_config)?)
            }
        },
    };
    watcher.watch(&lesson.dir, RecursiveMode::Recursive)?;
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if tx.send(Msg::Key(line.trim().to_ascii_lowercase())).is_err() {
                break;
            }
        }
    });
    let mut rerun = true;
    // The solution diff and WHY.md are shown at the first pass, not after every save.
    let mut pass_shown = false;
    loop {
        if rerun {
            if ui::interactive() {
                anstream::print!("\x1b[2J\x1b[3J\x1b[H");
            }
            let options = CheckOptions {
                verbose,
                pass_shown_before: pass_shown,
            };
            match check::check(course, lesson, options) {
                Ok(passed) => pass_shown |= passed,
                Err(e) => anstream::println!("{} {e}", paint(WARN, "error:")),
            }
            anstream::println!();
            anstream::println!(
                "{} {}",
                paint(
                    DIM,
                    format!(
                        "watching {}{} · save to re-check ·",
                        course.rel(&lesson.dir),
                        poll_reason
                            .map(|r| format!(" (polling: {r})"))
                            .unwrap_or_default()
                    )
                ),
                paint(CMD, "h⏎ hint · ⏎ re-check · q⏎ quit")
            );
            rerun = false;
        }
        match rx.recv() {
            Ok(Msg::Changed) => {
                // Editors save in bursts (temp file, rename, chmod): settle first.
                while rx
                    .recv_timeout(Duration::from_millis(300))
                    .is_ok_and(|m| matches!(m, Msg::Changed))
                {}
                rerun = true;
            }
            Ok(Msg::Key(k)) => match k.as_str() {
                "q" | "quit" | "exit" => return Ok(true),
                "h" | "hint" => {
                    anstream::println!();
                    learner::hint(course, lesson, false, "h⏎")?;
                }
                "" | "r" => rerun = true,
                other => anstream::println!(
                    "{} `{other}`: type h (hint), q (quit) or just press Enter (re-check)",
                    paint(HEAD, "?")
                ),
            },
            Ok(Msg::Error(e)) => anstream::println!("{} {e}", paint(WARN, "watch error:")),
            Err(_) => return Ok(true),
        }
    }
}
