//! Lesson 13: a program that starves its own heartbeat and stalls its only worker.
//!
//! Two functions of a small service run on a goro runtime with one worker. `search` crunches
//! numbers until it is done or cancelled; `scan_files` reads files through a [`Disk`] whose
//! reads block the OS thread. Both are correct, and both keep every other task on their worker
//! waiting. Make them share the worker without changing what they compute.

mod work;

pub use work::{Best, Disk, LocalDisk, Summary, collatz_steps, summarize};

use goro::ctx::Context;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;

// ANCHOR: search
/// Searches `1..=limit` for the number with the longest Collatz chain (the first one, if
/// several tie) until it is done or `ctx` is cancelled, and returns the best number found
/// among the numbers it checked, which are always all of `1..=checked`.
///
/// Other tasks on the same worker must keep running while it searches, and a search must not
/// pay a task switch for every number: a switch costs about as much as checking one.
pub fn search(limit: u64, ctx: &Context) -> Best {
    let mut best = Best {
        n: 1,
        steps: 0,
        checked: 0,
    };
    // TODO(lesson): nothing else runs on this worker until this loop returns. Checking `ctx`
    // does not give the worker away: it only reads a flag.
    for n in 1..=limit {
        if ctx.is_cancelled() {
            break;
        }
        let steps = collatz_steps(n);
        if steps > best.steps {
            best.n = n;
            best.steps = steps;
        }
        best.checked = n;
    }
    best
}
// ANCHOR_END: search

// ANCHOR: scan
/// Reads each of `paths` through `disk`, in order, into one buffer reused for every file, and
/// summarises each; stops at the first error and returns it.
///
/// A read blocks its OS thread for as long as the disk takes. Other tasks on the same worker
/// must keep running meanwhile.
pub fn scan_files(disk: &Arc<dyn Disk>, paths: &[PathBuf]) -> io::Result<Vec<Summary>> {
    let mut buf = Vec::new();
    let mut summaries = Vec::with_capacity(paths.len());
    for path in paths {
        // TODO(lesson): this call holds the worker's thread until the disk answers.
        disk.read_into(path, &mut buf)?;
        summaries.push(summarize(&buf));
    }
    Ok(summaries)
}
// ANCHOR_END: scan
