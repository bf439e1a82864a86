//! A scoreboard for one test run: when each task was admitted, started and finished, on goro's
//! clock, and how many were in flight at once. Given; you do not edit it.
//!
//! Under goro's deterministic mode the clock is virtual: a 10 ms sleep takes no real time and
//! always reads exactly 10 ms, so the chart a test prints is the same on every machine.

use std::collections::BTreeMap;
use std::fmt::{Display, Write};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// One mark of [`Board::chart`]'s timeline covers this many milliseconds.
pub const MS_PER_MARK: u128 = 10;

/// Shared by every task of a run; cloning gives another handle to the same board.
#[derive(Clone, Debug)]
pub struct Board {
    inner: Arc<Mutex<Inner>>,
}

#[derive(Debug)]
struct Inner {
    start: Instant,
    rows: BTreeMap<usize, Row>,
    in_flight: usize,
    peak: usize,
    peak_goroutines: usize,
}

#[derive(Debug, Default)]
struct Row {
    admitted: Option<u128>,
    started: Option<u128>,
    finished: Option<(u128, String)>,
}

impl Board {
    /// An empty board whose clock reads zero now.
    pub fn new() -> Board {
        Board {
            inner: Arc::new(Mutex::new(Inner {
                start: goro::time::now(),
                rows: BTreeMap::new(),
                in_flight: 0,
                peak: 0,
                peak_goroutines: 0,
            })),
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut Inner, u128) -> R) -> R {
        let mut inner = self.inner.lock().unwrap();
        let ms = goro::time::now()
            .saturating_duration_since(inner.start)
            .as_millis();
        f(&mut inner, ms)
    }

    /// The caller let `task` in: its `acquire`, `submit` or `spawn` returned.
    pub fn admitted(&self, task: usize) {
        self.with(|b, ms| b.rows.entry(task).or_default().admitted = Some(ms));
    }

    /// `task` begins its work: one more in flight. Also notes how many goroutines are alive.
    pub fn started(&self, task: usize) {
        let goroutines = goro::num_goroutines();
        self.with(|b, ms| {
            b.rows.entry(task).or_default().started = Some(ms);
            b.in_flight += 1;
            b.peak = b.peak.max(b.in_flight);
            b.peak_goroutines = b.peak_goroutines.max(goroutines);
        });
    }

    /// `task` is done with its work (`outcome` says how it ended): one fewer in flight.
    ///
    /// # Panics
    /// If `task` never [`started`](Board::started).
    pub fn finished(&self, task: usize, outcome: impl Display) {
        let outcome = outcome.to_string();
        self.with(|b, ms| {
            let row = b.rows.entry(task).or_default();
            assert!(
                row.started.is_some(),
                "task {task} finished without having started"
            );
            row.finished = Some((ms, outcome));
            b.in_flight -= 1;
        });
    }

    /// The most tasks that were between `started` and `finished` at the same moment.
    pub fn peak(&self) -> usize {
        self.inner.lock().unwrap().peak
    }

    /// The most goroutines alive (main included) that any `started` call saw.
    pub fn peak_goroutines(&self) -> usize {
        self.inner.lock().unwrap().peak_goroutines
    }

    /// Tasks started and not finished, now.
    pub fn in_flight(&self) -> usize {
        self.inner.lock().unwrap().in_flight
    }

    /// One line per task: when it was admitted, started and finished (virtual milliseconds),
    /// a timeline (`.` admitted and waiting to start, `#` running; one mark per 10 ms) and how
    /// it ended. A task that never started shows `-`.
    pub fn chart(&self) -> String {
        let inner = self.inner.lock().unwrap();
        let end = inner
            .rows
            .values()
            .filter_map(|r| r.finished.as_ref().map(|f| f.0))
            .max()
            .unwrap_or(0);
        let marks = end.div_ceil(MS_PER_MARK);
        let show = |t: Option<u128>| t.map_or_else(|| "-".to_string(), |ms| format!("{ms}ms"));
        let mut out = String::from("task  admitted  started  finished  timeline");
        for (task, row) in &inner.rows {
            let finished = row.finished.as_ref().map(|f| f.0);
            let bar: String = (0..marks)
                .map(|k| k * MS_PER_MARK)
                .map(|t| match (row.admitted, row.started, finished) {
                    (_, Some(s), Some(f)) if s <= t && t < f => '#',
                    (Some(a), Some(s), _) if a <= t && t < s => '.',
                    _ => ' ',
                })
                .collect();
            let outcome = row.finished.as_ref().map_or("", |f| f.1.as_str());
            write!(
                out,
                "\n{task:>4}  {:>8}  {:>7}  {:>8}  |{bar}|  {outcome}",
                show(row.admitted),
                show(row.started),
                show(finished),
            )
            .unwrap();
        }
        out
    }
}

impl Default for Board {
    fn default() -> Board {
        Board::new()
    }
}
