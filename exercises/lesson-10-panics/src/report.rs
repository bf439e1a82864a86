//! What a supervisor tells the rest of the program. This file is given: the tests read it.

use std::fmt;

// ANCHOR: crash
/// What became of the update a worker was handling when it panicked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fate {
    /// The worker's replacement tries it again before it takes anything new.
    Retried,
    /// It has panicked `max_attempts` times: it is reported, not tried again, whether or not
    /// the worker is restarted.
    GivenUp,
    /// It had attempts left but nobody to try them: the restart budget was spent, so the worker
    /// was not restarted.
    Unprocessed,
}

/// One panic, caught at a worker's task boundary, and what the supervisor did about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Crash {
    /// The name of the task that panicked.
    pub task: String,
    /// The id of the update it was handling.
    pub update: u32,
    /// Which attempt at that update this was (1 for the first).
    pub attempt: u32,
    /// The panic's message: the payload itself when it is a `&str` or a `String`, else
    /// `Box<dyn Any>` (what Rust's own panic message says then).
    pub message: String,
    /// The name of the task started in its place, or `None` if it was not restarted.
    pub restarted_as: Option<String>,
    /// What became of the update.
    pub fate: Fate,
}
// ANCHOR_END: crash

/// A supervisor's account of a run: every update ends up in exactly one of "done", "given up"
/// and "unprocessed", and every panic is one [`Crash`].
#[derive(Clone, Debug, Default)]
pub struct Report {
    done: Vec<u32>,
    crashes: Vec<Crash>,
    unprocessed: Vec<u32>,
}

impl Report {
    /// An empty report.
    pub fn new() -> Report {
        Report::default()
    }

    /// Records that update `id` was applied.
    pub fn done(&mut self, id: u32) {
        self.done.push(id);
    }

    /// Records a panic and what was done about it.
    ///
    /// # Panics
    /// If `crash.fate` is [`Fate::Retried`] but `crash.restarted_as` is `None`: a retry needs a
    /// replacement worker to run it.
    pub fn crash(&mut self, crash: Crash) {
        assert!(
            crash.fate != Fate::Retried || crash.restarted_as.is_some(),
            "Report::crash: update {} is marked Fate::Retried, but no worker was restarted to \
             retry it (restarted_as is None); use Fate::Unprocessed when the restart budget is \
             spent",
            crash.update
        );
        self.crashes.push(crash);
    }

    /// Records that update `id` was never handled (no worker was left to take it).
    pub fn unprocessed(&mut self, id: u32) {
        self.unprocessed.push(id);
    }

    /// The updates applied, in the order they were recorded.
    pub fn done_ids(&self) -> &[u32] {
        &self.done
    }

    /// Every panic, in the order they were recorded.
    pub fn crashes(&self) -> &[Crash] {
        &self.crashes
    }

    /// The updates given up after `max_attempts` panics.
    pub fn given_up_ids(&self) -> Vec<u32> {
        self.with_fate(Fate::GivenUp)
    }

    /// The updates never applied because no worker was left: those in flight when the restart
    /// budget ran out, and those still in the inbox.
    pub fn unprocessed_ids(&self) -> Vec<u32> {
        let mut ids = self.with_fate(Fate::Unprocessed);
        ids.extend_from_slice(&self.unprocessed);
        ids
    }

    fn with_fate(&self, fate: Fate) -> Vec<u32> {
        self.crashes
            .iter()
            .filter(|c| c.fate == fate)
            .map(|c| c.update)
            .collect()
    }
}

fn id_list(ids: &[u32]) -> String {
    let mut ids = ids.to_vec();
    ids.sort_unstable();
    if ids.is_empty() {
        return "-".to_owned();
    }
    ids.iter().map(u32::to_string).collect::<Vec<_>>().join(" ")
}

/// One line per panic, one line for what followed it, then the fate of every update.
impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in &self.crashes {
            writeln!(
                f,
                "{} panicked on update {} (attempt {}): {}",
                c.task, c.update, c.attempt, c.message
            )?;
            let worker = match &c.restarted_as {
                Some(name) => format!("restarted as {name}"),
                None => "not restarted: the restart budget is spent".to_owned(),
            };
            let update = match c.fate {
                Fate::Retried => format!("update {} retried", c.update),
                Fate::GivenUp => format!("update {} given up", c.update),
                Fate::Unprocessed => format!("update {} left unprocessed", c.update),
            };
            writeln!(f, "    {worker}; {update}")?;
        }
        writeln!(f, "done:        {}", id_list(&self.done))?;
        writeln!(f, "given up:    {}", id_list(&self.given_up_ids()))?;
        write!(f, "unprocessed: {}", id_list(&self.unprocessed_ids()))
    }
}
