//! A schedule explorer: run a concurrent test under many different interleavings, and replay
//! the one that failed.
//!
//! A data race or a lock-order inversion may hide under the schedule a scheduler happens to
//! pick, and show up once in a thousand runs. [`explore`] runs the same body in a fresh
//! deterministic runtime (one worker, virtual clock; see [`crate::runtime::Builder::deterministic`])
//! under many schedules, each one fully determined by a 64-bit seed, and stops at the first
//! one that fails, with a report that names the seed and the command that replays it:
//!
//! ```text
//! goro::check: schedule 13 of 200 failed (seed 0x3f1e9c0a5b7d2263):
//!
//! goroutine 1 "main" panicked at tests/explore.rs:40:9:
//! lost an update: counter is 1, expected 2
//!
//! replay: GORO_EXPLORE_SEED=0x3f1e9c0a5b7d2263 cargo test lost_update -- --exact
//!     or: goro::check::replay(0x3f1e9c0a5b7d2263, body)
//! ```
//!
//! ```
//! use std::sync::Arc;
//! use std::sync::atomic::{AtomicU64, Ordering};
//!
//! // Passes under every schedule: the increments are atomic.
//! goro::check::explore(50, || {
//!     let n = Arc::new(AtomicU64::new(0));
//!     let tasks: Vec<_> = (0..2)
//!         .map(|_| {
//!             let n = n.clone();
//!             goro::spawn(move || {
//!                 n.fetch_add(1, Ordering::Relaxed);
//!             })
//!         })
//!         .collect();
//!     tasks.into_iter().for_each(|t| t.join().unwrap());
//!     assert_eq!(n.load(Ordering::Relaxed), 2);
//! });
//! ```
//!
//! # What fails a schedule
//!
//! - a panic that no [`crate::recover`] caught, in any task (the main task, which runs the
//!   body, or one it spawned, even if a `join` got the panic as `Err`: Go would crash);
//! - a deadlock: every task waits and nothing can wake any (the report has the goroutine dump).
//!
//! Tasks still alive when the body returns are not a failure: they are cancelled, as every run
//! does (see [`crate::runtime`]). A test that cares can check [`crate::num_goroutines`] at the
//! end of the body.
//!
//! # How schedules are chosen: PCT
//!
//! Uniformly random choices rarely hit a bug that needs one task to be preempted at one
//! precise point. The explorer uses PCT (Burckhardt, Kothari, Musuvathi, Nagarakatte, "A
//! Randomized Scheduler with Probabilistic Guarantees of Finding Bugs", ASPLOS 2010): every task
//! gets a random priority and the highest-priority runnable task always runs; at `depth - 1`
//! change points, steps drawn at random, the running task's priority drops below all others.
//! For PCT proper, a bug that needs `d` ordering constraints to show is found by one run with
//! probability at least `1 / (n * k^(d-1))` for `n` tasks and `k` steps; the shallow bugs tests
//! meet in practice (a lost update, a lock-order inversion) show within a few dozen runs.
//!
//! A step is a *preemption point*: every place goro may switch tasks anyway (park, yield,
//! finishing), plus these, which complete without switching in a normal run: a channel send
//! or receive (and a `select!`) that completes at once, `goro::sync::Mutex` lock and unlock,
//! `WaitGroup::done`, [`crate::task::checkpoint`], and `spawn`. (`WaitGroup::add` is not one:
//! it comes right before a `spawn`, which is, and a point costs its instructions in every
//! program, exploring or not.) Memory accesses are not
//! points: a race between two plain loads and stores with no point between them stays
//! invisible, as it would on one CPU under Go's scheduler. Put a
//! [`checkpoint()`](crate::task::checkpoint) where a preemption may happen in real life.
//!
//! Differences from PCT proper: the number of steps `k` is not known in advance, so the first
//! run assumes 16 and each later one uses the largest count seen so far (rounded up to a power
//! of two); priorities are drawn when the scheduler first sees a task rather than at spawn;
//! an explicit [`crate::yield_now`] draws a fresh priority (otherwise a task that waits by
//! yielding would starve the one it waits for); likewise a task that passes 1000 points in a
//! row while another could run draws a fresh priority (a loop that waits for a flag with
//! `checkpoint()`); and timers and I/O follow the deterministic mode's rules.
//!
//! # Seeds and replay
//!
//! A seed is opaque: its low 4 bits hold the depth, the next 6 the step bound, the rest are
//! random. The same body with the same seed runs the same schedule, event for event, so:
//!
//! - [`replay(seed, body)`](replay) runs exactly that schedule (in a test, or under a
//!   debugger);
//! - `GORO_EXPLORE_SEED=0x…` in the environment makes [`explore`] (and [`Explorer::run`]) run
//!   only that seed: the replay line of a report is the same `cargo test` with it set;
//! - `GORO_EXPLORE_RUNS=n` overrides the number of schedules (CI can explore more than a
//!   laptop).
//!
//! The body must itself be deterministic: no real clocks, no OS threads, no ordering taken from
//! a `HashMap`'s iteration over addresses.
//!
//! Go counterpart: none in the runtime. Go's race detector (`go test -race`) and
//! `testing/synctest` come closest: the first finds data races in the schedule that happened,
//! the second runs goroutines in a bubble with a fake clock. Lesson: 16 (tools: dumps, leaks,
//! schedule exploration).

use std::any::Any;
use std::collections::HashSet;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use crate::runtime::Runtime;
use crate::sched::{ExploreRun, POINT_WATCH};

/// Environment variable: run only this seed (hex with `0x`, or decimal).
pub const SEED_ENV: &str = "GORO_EXPLORE_SEED";

/// Environment variable: the number of schedules to explore, overriding the code's.
pub const RUNS_ENV: &str = "GORO_EXPLORE_RUNS";

/// The default PCT depth: two change points, enough for an atomicity violation (one) or a
/// lock-order inversion (one or two).
pub const DEFAULT_DEPTH: u32 = 3;

/// The default first seed of the sequence.
pub const DEFAULT_SEED: u64 = 0x9e37_79b9_7f4a_7c15;

/// The largest depth a seed can hold.
pub const MAX_DEPTH: u32 = 15;

/// Runs `body` under `runs` schedules (see the [module docs](self)); panics with the report of
/// the first failing one. Returns what was explored.
///
/// `GORO_EXPLORE_SEED` and `GORO_EXPLORE_RUNS` override the seeds and the count.
///
/// # Panics
/// If a schedule fails (the message has the seed and a replay line), if `runs` is 0, if an
/// environment variable above does not parse, or if called from inside a goro task.
#[track_caller]
pub fn explore<F>(runs: u32, body: F) -> Report
where
    F: Fn() + Send + Sync + 'static,
{
    match Explorer::new().runs(runs).run(body) {
        Ok(report) => report,
        Err(failure) => panic!("{failure}"),
    }
}

/// Runs `body` under exactly the schedule `seed` names (a seed from a failure report); panics
/// with the same report if it fails.
#[track_caller]
pub fn replay<F>(seed: u64, body: F)
where
    F: Fn() + Send + Sync + 'static,
{
    check_outside_runtime("replay");
    let body = Arc::new(body);
    if let Err(message) = run_seed(seed, &body).1 {
        panic!("{}", Failure::new(seed, message, 1, 1));
    }
}

/// Options for exploring: number of runs, first seed, PCT depth.
///
/// ```
/// let report = goro::check::Explorer::new()
///     .runs(20)
///     .seed(7)
///     .depth(2)
///     .run(|| {
///         let (tx, rx) = goro::chan::bounded(1);
///         goro::spawn(move || tx.send(1).unwrap());
///         assert_eq!(rx.recv(), Ok(1));
///     })
///     .expect("no schedule fails");
/// assert_eq!(report.runs(), 20);
/// ```
#[derive(Debug, Clone)]
#[must_use = "an Explorer does nothing until .run() is called"]
pub struct Explorer {
    runs: u32,
    seed: u64,
    depth: u32,
}

impl Default for Explorer {
    fn default() -> Explorer {
        Explorer {
            runs: 100,
            seed: DEFAULT_SEED,
            depth: DEFAULT_DEPTH,
        }
    }
}

impl Explorer {
    /// 100 runs from [`DEFAULT_SEED`] at depth [`DEFAULT_DEPTH`].
    pub fn new() -> Explorer {
        Explorer::default()
    }

    /// How many schedules to run (at least 1; `GORO_EXPLORE_RUNS` overrides it).
    #[track_caller]
    pub fn runs(mut self, n: u32) -> Explorer {
        assert!(
            n > 0,
            "goro::check: runs(0) explores nothing; ask for at least one schedule, e.g. runs(100)"
        );
        self.runs = n;
        self
    }

    /// Where the sequence of seeds starts: two explorers with the same base run the same
    /// schedules.
    pub fn seed(mut self, base: u64) -> Explorer {
        self.seed = base;
        self
    }

    /// PCT's bug depth `d` (1 to [`MAX_DEPTH`]): each run preempts the running task at `d - 1`
    /// random steps. 1: no preemption beyond the random priorities; higher: more preemptions,
    /// each one less likely to land where it matters.
    #[track_caller]
    pub fn depth(mut self, d: u32) -> Explorer {
        assert!(
            (1..=MAX_DEPTH).contains(&d),
            "goro::check: depth({d}) is out of range; PCT's depth is 1 to {MAX_DEPTH} (a seed \
             holds it in 4 bits); most bugs need 2 or 3"
        );
        self.depth = d;
        self
    }

    /// Runs `body` under the schedules; `Err` with the first failure, or what was explored.
    ///
    /// With `GORO_EXPLORE_SEED` set, runs only that seed; `GORO_EXPLORE_RUNS` overrides the
    /// number of runs.
    ///
    /// # Panics
    /// If an environment variable above does not parse, or if called from inside a goro task.
    #[track_caller]
    pub fn run<F>(self, body: F) -> Result<Report, Failure>
    where
        F: Fn() + Send + Sync + 'static,
    {
        check_outside_runtime("explore");
        let body = Arc::new(body);
        if let Some(seed) = env_seed() {
            return match run_seed(seed, &body) {
                (outcome, Ok(())) => Ok(Report {
                    runs: 1,
                    distinct: 1,
                    max_steps: outcome.steps,
                }),
                (_, Err(message)) => Err(Failure::new(seed, message, 1, 1)),
            };
        }
        let runs = env_runs().unwrap_or(self.runs);
        let mut seen = HashSet::new();
        let mut max_steps = 0;
        let mut bound_log2 = MIN_BOUND_LOG2;
        for i in 0..runs {
            let random = crate::rand::splitmix(
                self.seed
                    .wrapping_add(u64::from(i).wrapping_mul(0x9e37_79b9_7f4a_7c15)),
            );
            let seed = compose(random, self.depth, bound_log2);
            let (outcome, result) = run_seed(seed, &body);
            if let Err(message) = result {
                return Err(Failure::new(seed, message, i + 1, runs));
            }
            seen.insert(outcome.signature);
            max_steps = max_steps.max(outcome.steps);
            bound_log2 = bound_log2.max(ceil_log2(outcome.steps));
        }
        Ok(Report {
            runs,
            distinct: seen.len(),
            max_steps,
        })
    }
}

/// What a successful exploration ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    runs: u32,
    distinct: usize,
    max_steps: u64,
}

impl Report {
    /// How many schedules ran.
    pub fn runs(&self) -> u32 {
        self.runs
    }

    /// How many of them differed (by a hash of every scheduling decision, in order).
    pub fn distinct_schedules(&self) -> usize {
        self.distinct
    }

    /// The most preemption points one run went through.
    pub fn max_steps(&self) -> u64 {
        self.max_steps
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} schedules, {} distinct, up to {} preemption points each",
            self.runs, self.distinct, self.max_steps
        )
    }
}

/// A failing schedule: its seed, what went wrong, and (in `Display`) how to replay it.
#[derive(Debug, Clone)]
pub struct Failure {
    seed: u64,
    message: String,
    run: u32,
    runs: u32,
    test: Option<String>,
}

impl Failure {
    fn new(seed: u64, message: String, run: u32, runs: u32) -> Failure {
        // libtest names the thread of each test after the test's path.
        let test = std::thread::current()
            .name()
            .filter(|n| *n != "main")
            .map(str::to_owned);
        Failure {
            seed,
            message,
            run,
            runs,
            test,
        }
    }

    /// The seed that replays this schedule (see [`replay`]).
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// What went wrong: the panic report (task, location, message) or the deadlock report
    /// (with the goroutine dump).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The one-line command that replays this schedule.
    pub fn replay_line(&self) -> String {
        match &self.test {
            Some(test) => format!(
                "{SEED_ENV}={:#018x} cargo test {test} -- --exact",
                self.seed
            ),
            None => format!("{SEED_ENV}={:#018x} <the same command>", self.seed),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "goro::check: schedule {} of {} failed (seed {:#018x}):\n\n{}\n\nreplay: {}\n    \
             or: goro::check::replay({:#018x}, body)",
            self.run,
            self.runs,
            self.seed,
            self.message,
            self.replay_line(),
            self.seed
        )
    }
}

impl std::error::Error for Failure {}

/// The smallest step bound a seed names (16 steps).
const MIN_BOUND_LOG2: u32 = 4;
/// The largest one (2^40 steps).
const MAX_BOUND_LOG2: u32 = 40;

/// A seed from its random part, depth and step bound.
fn compose(random: u64, depth: u32, bound_log2: u32) -> u64 {
    (random & !0x3ff) | (u64::from(bound_log2.min(MAX_BOUND_LOG2)) << 4) | u64::from(depth)
}

/// Depth and step bound of a seed (any `u64` decodes to valid ones).
fn decode(seed: u64) -> (u32, u64) {
    let depth = ((seed & 0xf) as u32).max(1);
    let log2 = (((seed >> 4) & 0x3f) as u32).clamp(MIN_BOUND_LOG2, MAX_BOUND_LOG2);
    (depth, 1 << log2)
}

fn ceil_log2(n: u64) -> u32 {
    n.max(1).next_power_of_two().trailing_zeros()
}

fn check_outside_runtime(what: &str) {
    assert!(
        !crate::sched::in_runtime(),
        "goro::check::{what} called from inside a goro task; it starts runtimes of its own: call \
         it from a #[test] function or from main"
    );
}

/// Counts an exploring run as alive, so the preemption points look (`sched/deterministic.rs`,
/// rule 10).
struct Alive;

impl Alive {
    fn start() -> Alive {
        POINT_WATCH.fetch_add(1, Ordering::Relaxed);
        Alive
    }
}

impl Drop for Alive {
    fn drop(&mut self) {
        POINT_WATCH.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Runs one schedule: what it saw, and the failure message if it failed.
fn run_seed<F>(seed: u64, body: &Arc<F>) -> (crate::sched::Outcome, Result<(), String>)
where
    F: Fn() + Send + Sync + 'static,
{
    let (depth, bound) = decode(seed);
    let run = Arc::new(ExploreRun::new(depth, bound));
    let rt = Runtime::builder()
        .deterministic(seed)
        .explore(run.clone())
        .build()
        .expect("a deterministic runtime with default settings is valid");
    let body = body.clone();
    let alive = Alive::start();
    let result = catch_unwind(AssertUnwindSafe(|| rt.block_on(move || body())));
    drop(alive);
    let outcome = crate::sched::shared_lock(&run.outcome).clone();
    let failure = match result {
        Ok(Ok(())) => outcome.panic.clone(),
        Ok(Err(error)) => Some(match &outcome.panic {
            Some(p) => format!("{p}\n\nand then: {error}"),
            None => error.to_string(),
        }),
        Err(payload) => Some(
            outcome
                .panic
                .clone()
                .unwrap_or_else(|| payload_text(&*payload)),
        ),
    };
    (outcome, failure.map_or(Ok(()), Err))
}

fn payload_text(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic with a non-string payload".to_owned()
    }
}

fn env_seed() -> Option<u64> {
    let v = std::env::var(SEED_ENV).ok()?;
    let t = v.trim();
    let parsed = match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(&hex.replace('_', ""), 16),
        None => t.parse(),
    };
    match parsed {
        Ok(seed) => Some(seed),
        Err(e) => panic!(
            "goro::check: {SEED_ENV}={v:?} is not a seed ({e}); give the value a failure report \
             printed, e.g. {SEED_ENV}=0x9e3779b97f4a7c13, or unset it to explore"
        ),
    }
}

fn env_runs() -> Option<u32> {
    let v = std::env::var(RUNS_ENV).ok()?;
    match v.trim().parse::<u32>() {
        Ok(n) if n > 0 => Some(n),
        _ => panic!(
            "goro::check: {RUNS_ENV}={v:?} is not a number of runs; give a whole number from 1 \
             to {}, or unset it to use the count in the code",
            u32::MAX
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_carry_depth_and_bound() {
        let s = compose(0xdead_beef_cafe_f00d, 3, 7);
        assert_eq!(decode(s), (3, 128));
        assert_eq!(s & !0x3ff, 0xdead_beef_cafe_f00d & !0x3ff);
        // Any u64 decodes to something runnable.
        assert_eq!(decode(0), (1, 16));
        assert_eq!(decode(u64::MAX), (15, 1 << 40));
        assert_eq!(ceil_log2(0), 0);
        assert_eq!(ceil_log2(17), 5);
        assert_eq!(ceil_log2(16), 4);
    }
}
