//! Two consumers of the pipeline, and what they leave behind. Given.

use std::fmt;
use std::time::{Duration, Instant};

use goro::chan::Receiver;

use crate::context::{with_cancel, with_timeout};
use crate::handles::Context;
use crate::pipeline::{format, generate, square};
use crate::settle;

/// The whole pipeline: counts, squares them (each square takes [`WORK`](crate::WORK)), and
/// formats the results.
pub fn squares(ctx: &Context) -> Receiver<String> {
    format(ctx, square(ctx, generate(ctx)))
}

/// What a consumer saw and what it left behind.
#[derive(Debug)]
pub struct Report {
    /// Every line the consumer received, stamped with the virtual time, then how it stopped.
    pub log: Vec<String>,
    /// Pipeline stages alive while the consumer was reading.
    pub stages_running: usize,
    /// Goroutines still alive 1 ms after the consumer stopped (main not counted).
    pub left: usize,
    /// Those goroutines as a dump shows them: `name [wait reason]`.
    pub stuck: Vec<String>,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for line in &self.log {
            writeln!(f, "{line}")?;
        }
        writeln!(f, "stage goroutines while reading: {}", self.stages_running)?;
        write!(f, "goroutines left 1 ms later: {}", self.left)?;
        for task in &self.stuck {
            write!(f, "\n    {task}")?;
        }
        Ok(())
    }
}

fn stamp(start: Instant, what: impl fmt::Display) -> String {
    let ms = goro::time::now()
        .saturating_duration_since(start)
        .as_millis();
    format!("{ms:>5}ms  {what}")
}

fn why(ctx: &Context) -> String {
    match ctx.err() {
        Some(err) => err.to_string(),
        None => "ctx.err() is None: the context is still live".to_string(),
    }
}

// ANCHOR: first_squares
/// Reads the first `n` lines, then cancels the pipeline, still holding its output channel (as a
/// consumer does that has more to do before it returns).
pub fn first_squares(n: usize) -> Report {
    let start = goro::time::now();
    let baseline = goro::num_goroutines();
    let (ctx, cancel) = with_cancel(&Context::background());
    let out = squares(&ctx);
    let mut log: Vec<String> = out.iter().take(n).map(|l| stamp(start, l)).collect();
    let stages_running = stages(&goro::debug::dump());
    cancel.cancel();
    log.push(stamp(start, format_args!("cancelled: {}", why(&ctx))));
    settle();
    let report = Report {
        log,
        stages_running,
        left: goro::num_goroutines() - baseline,
        stuck: stuck(&goro::debug::dump()),
    };
    drop(out);
    report
}
// ANCHOR_END: first_squares

// ANCHOR: squares_until
/// Reads lines until `timeout` has passed (Go: `context.WithTimeout`), then stops.
pub fn squares_until(timeout: Duration) -> Report {
    let start = goro::time::now();
    let baseline = goro::num_goroutines();
    let (ctx, _cancel) = with_timeout(&Context::background(), timeout);
    let out = squares(&ctx);
    let done = ctx.done();
    // A backstop, so that a deadline that never fires ends the test instead of hanging it.
    let give_up = goro::time::after(timeout * 2);
    let mut log = Vec::new();
    let mut stages_running = 0;
    loop {
        goro::select! {
            recv(out) -> line => match line {
                Ok(line) => {
                    stages_running = stages(&goro::debug::dump());
                    log.push(stamp(start, line));
                }
                Err(_) => {
                    log.push(stamp(start, "the pipeline closed its output"));
                    break;
                }
            },
            recv(done) => {
                log.push(stamp(start, format_args!("stopped: {}", why(&ctx))));
                break;
            }
            recv(give_up) => {
                log.push(stamp(start, format_args!("gave up at twice the timeout: {}", why(&ctx))));
                break;
            }
        }
    }
    settle();
    Report {
        log,
        stages_running,
        left: goro::num_goroutines() - baseline,
        stuck: stuck(&goro::debug::dump()),
    }
}
// ANCHOR_END: squares_until

/// How many pipeline stages a dump lists.
fn stages(dump: &str) -> usize {
    ["generate", "square", "format"]
        .iter()
        .map(|s| dump.matches(&format!("name: {s}\n")).count())
        .sum()
}

/// Every goroutine in a dump except main, one line each: `square [sleep]`.
fn stuck(dump: &str) -> Vec<String> {
    let mut stuck = Vec::new();
    for block in dump.split("\n\n") {
        let mut lines = block.lines();
        let Some(header) = lines.next() else { continue };
        if header.starts_with("goroutine 1 ") || header.trim().is_empty() {
            continue;
        }
        if header.starts_with("...") {
            stuck.push(header.to_string());
            continue;
        }
        let state = header
            .split_once(' ')
            .and_then(|(_, rest)| rest.split_once(' '))
            .map_or(header, |(_, state)| state.trim_end_matches(':'));
        let name = lines
            .find_map(|l| l.trim().strip_prefix("name: "))
            .unwrap_or("(unnamed)");
        stuck.push(format!("{name} {state}"));
    }
    stuck
}
