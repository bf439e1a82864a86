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

/// Numbers checked between two yield points: a few milliseconds of work in a debug build,
/// well under a millisecond in release, and a checkpoint's cost (two loads) vanishes in it.
const CHUNK: u64 = 4096;

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
    let mut next = 1;
    while next <= limit && !ctx.is_cancelled() {
        // One chunk without a yield point, then one place where the worker may be given away.
        let last = next.saturating_add(CHUNK - 1).min(limit);
        for n in next..=last {
            let steps = collatz_steps(n);
            if steps > best.steps {
                best.n = n;
                best.steps = steps;
            }
        }
        best.checked = last;
        goro::task::checkpoint();
        match last.checked_add(1) {
            Some(n) => next = n,
            None => break,
        }
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
        // The read runs on a spare thread, which may outlive this call's borrows: it gets
        // its own handle on the disk, its own path and the buffer itself, and hands the
        // buffer back with the result.
        let (disk, path) = (Arc::clone(disk), path.clone());
        let (filled, read) = goro::task::blocking(move || {
            let read = disk.read_into(&path, &mut buf);
            (buf, read)
        });
        buf = filled;
        read?;
        summaries.push(summarize(&buf));
    }
    Ok(summaries)
}
// ANCHOR_END: scan
