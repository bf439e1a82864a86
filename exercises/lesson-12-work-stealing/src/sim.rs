//! A step-by-step simulation of a few workers, their rings and a global queue, with no real
//! threads: the same program and seed always print the same trace.
//!
//! A simulated task has a cost (how many steps it keeps its worker busy) and a list of
//! children that it spawns, into its worker's ring, the moment it starts. Every step, each
//! worker in turn (w0, w1, ...) either spends one step on its task or, if it has none, asks
//! [`crate::schedule::find_task`] for the next one. Once a task has started it stays on its
//! worker until it finishes, as goro's tasks do.

use std::collections::VecDeque;
use std::fmt::Write as _;

use crate::Ring;
use crate::schedule::find_task;

// ANCHOR: places
/// Every 61st scheduling tick, a worker takes its next task from the global queue first.
pub const FAIRNESS_TICK: u64 = 61;

/// Everywhere one worker may find its next task, as [`find_task`] sees it.
pub struct Places<'a> {
    /// This worker's scheduling tick: 1 while it looks for its first task, 2 for its second...
    pub tick: u64,
    /// This worker's own ring.
    pub own: &'a Ring,
    /// The global queue, oldest first (a plain queue: the simulation has one thread).
    pub global: &'a mut VecDeque<u64>,
    /// The other workers (index, ring), in the order to try to steal from them.
    pub victims: Vec<(usize, &'a Ring)>,
    /// How many workers there are, this one included.
    pub workers: usize,
}

/// Where a task was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// The worker's own ring.
    Own,
    /// The global queue, on a fairness tick, before looking anywhere else.
    FairnessTick,
    /// The global queue, because the worker's own ring was empty.
    Global,
    /// Stolen from worker `victim`.
    Stolen {
        /// The worker it was stolen from.
        victim: usize,
    },
}

/// The task a worker runs next, and where it came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Found {
    /// The task's id.
    pub task: u64,
    /// Where it was found.
    pub source: Source,
}
// ANCHOR_END: places

/// When and where a task started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Start {
    /// The step of the simulation (1 for the first).
    pub step: u64,
    /// The worker that runs it.
    pub worker: usize,
    /// That worker's scheduling tick when it found the task.
    pub tick: u64,
}

/// A whole simulation: workers, tasks and what happened.
pub struct Sim {
    workers: Vec<SimWorker>,
    global: VecDeque<u64>,
    /// `tasks[id - 1]`.
    tasks: Vec<TaskSpec>,
    starts: Vec<Option<Start>>,
    rng: u64,
    trace: String,
}

struct SimWorker {
    ring: Ring,
    /// The task it runs and the steps it still needs after this one.
    running: Option<(u64, u32)>,
    /// Tasks it has started so far.
    started: u64,
    idle: bool,
}

struct TaskSpec {
    cost: u32,
    children: Vec<u64>,
}

/// What [`Sim::run`] reports.
pub struct Report {
    /// One line per event.
    pub trace: String,
    starts: Vec<Start>,
}

impl Report {
    /// When and where task `task` started.
    pub fn start_of(&self, task: u64) -> Start {
        self.starts[task as usize - 1]
    }

    /// How many tasks each worker started.
    pub fn started_per_worker(&self) -> Vec<usize> {
        let workers = self.starts.iter().map(|s| s.worker + 1).max().unwrap_or(0);
        let mut counts = vec![0; workers];
        for s in &self.starts {
            counts[s.worker] += 1;
        }
        counts
    }
}

impl Sim {
    /// `workers` idle workers; `seed` decides the order in which thieves try their victims.
    pub fn new(workers: usize, seed: u64) -> Sim {
        assert!(workers > 0, "a simulation needs at least one worker");
        Sim {
            workers: (0..workers)
                .map(|_| SimWorker {
                    ring: Ring::new(),
                    running: None,
                    started: 0,
                    idle: false,
                })
                .collect(),
            global: VecDeque::new(),
            tasks: Vec::new(),
            starts: Vec::new(),
            // xorshift needs a state that is not zero.
            rng: seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1,
            trace: String::new(),
        }
    }

    /// A new task (ids count from 1) that keeps its worker busy for `cost` steps. It is not
    /// queued anywhere yet: see [`Sim::spawns`], [`Sim::queue_on`], [`Sim::queue_global`].
    pub fn task(&mut self, cost: u32) -> u64 {
        assert!(cost > 0, "a task costs at least one step");
        self.tasks.push(TaskSpec {
            cost,
            children: Vec::new(),
        });
        self.starts.push(None);
        self.tasks.len() as u64
    }

    /// When `parent` starts, it spawns `child` into its worker's ring.
    pub fn spawns(&mut self, parent: u64, child: u64) {
        self.tasks[parent as usize - 1].children.push(child);
    }

    /// Queues `task` on worker `worker`'s ring before the simulation starts (like a program's
    /// main task).
    pub fn queue_on(&mut self, worker: usize, task: u64) {
        let ring = &self.workers[worker].ring;
        if let Err(batch) = ring.push(task) {
            self.global.extend(batch);
        }
    }

    /// Queues `task` on the global queue before the simulation starts (like work handed to
    /// the runtime from outside).
    pub fn queue_global(&mut self, task: u64) {
        self.global.push_back(task);
    }

    /// Runs until every task has started and finished; panics after `max_steps` steps.
    pub fn run(mut self, max_steps: u64) -> Report {
        for step in 1..=max_steps {
            for w in 0..self.workers.len() {
                self.step_worker(step, w);
            }
            if self.all_done() {
                let _ = writeln!(
                    self.trace,
                    "all {} tasks done after {step} steps",
                    self.tasks.len()
                );
                let starts = self
                    .starts
                    .into_iter()
                    .map(|s| s.expect("every task started"))
                    .collect();
                return Report {
                    trace: self.trace,
                    starts,
                };
            }
        }
        let never: Vec<String> = (1..=self.tasks.len() as u64)
            .filter(|&t| self.starts[t as usize - 1].is_none())
            .map(|t| format!("g{t}"))
            .collect();
        panic!(
            "the simulation did not finish in {max_steps} steps; never started: {}. A task that \
             was taken out of a ring but not handed to anybody is lost: check that every task \
             `push`, `pop` and `steal_into` take out of a ring ends up returned or queued.\n\
             Trace so far:\n{}",
            never.join(" "),
            self.trace
        );
    }

    fn all_done(&self) -> bool {
        self.starts.iter().all(Option::is_some) && self.workers.iter().all(|w| w.running.is_none())
    }

    fn step_worker(&mut self, step: u64, w: usize) {
        if let Some((task, left)) = self.workers[w].running {
            self.workers[w].running = (left > 1).then_some((task, left - 1));
            return;
        }
        let n = self.workers.len();
        let start = self.next_random() % n as u64;
        let order: Vec<usize> = (0..n)
            .map(|k| (start as usize + k) % n)
            .filter(|&v| v != w)
            .collect();
        let tick = self.workers[w].started + 1;
        let places = Places {
            tick,
            own: &self.workers[w].ring,
            global: &mut self.global,
            victims: order.iter().map(|&v| (v, &self.workers[v].ring)).collect(),
            workers: n,
        };
        let Some(found) = find_task(places) else {
            if !self.workers[w].idle && self.starts.iter().any(Option::is_none) {
                let _ = writeln!(self.trace, "{step:>3} w{w} finds nothing");
            }
            self.workers[w].idle = true;
            return;
        };
        self.start(step, w, tick, found);
    }

    fn start(&mut self, step: u64, w: usize, tick: u64, found: Found) {
        let Found { task, source } = found;
        let ok = task >= 1 && (task as usize) <= self.tasks.len();
        assert!(ok, "w{w} was handed g{task}, a task that does not exist");
        if let Some(first) = self.starts[task as usize - 1] {
            panic!(
                "g{task} was handed out twice: to w{} at step {} and to w{w} at step {step}. \
                 Each task must leave the queues exactly once.\nTrace so far:\n{}",
                first.worker, first.step, self.trace
            );
        }
        self.starts[task as usize - 1] = Some(Start {
            step,
            worker: w,
            tick,
        });
        let from = match source {
            Source::Own => "own ring".to_string(),
            Source::FairnessTick => format!("global queue, tick {tick}"),
            Source::Global => "global queue".to_string(),
            Source::Stolen { victim } => {
                format!("stolen from w{victim}, {} more", self.workers[w].ring.len())
            }
        };
        let _ = writeln!(self.trace, "{step:>3} w{w} runs g{task} ({from})");
        let worker = &mut self.workers[w];
        worker.started += 1;
        worker.idle = false;
        // This step is the task's first; it needs `cost - 1` more.
        let more = self.tasks[task as usize - 1].cost - 1;
        worker.running = (more > 0).then_some((task, more));
        for i in 0..self.tasks[task as usize - 1].children.len() {
            let child = self.tasks[task as usize - 1].children[i];
            if let Err(batch) = self.workers[w].ring.push(child) {
                let names: Vec<String> = batch.iter().map(|t| format!("g{t}")).collect();
                let _ = writeln!(
                    self.trace,
                    "{step:>3} w{w} ring full: {} to the global queue",
                    names.join(" ")
                );
                self.global.extend(batch);
            }
        }
        if !matches!(source, Source::Own) || !self.tasks[task as usize - 1].children.is_empty() {
            self.write_queues();
        }
    }

    /// One line with every queue's contents.
    fn write_queues(&mut self) {
        let mut line = String::from("      ");
        for (i, w) in self.workers.iter().enumerate() {
            let _ = write!(line, " w{i} [{}]", names(&ring_contents(&w.ring)));
        }
        let global: Vec<u64> = self.global.iter().copied().collect();
        let _ = write!(line, " global [{}]", names(&global));
        let _ = writeln!(self.trace, "{line}");
    }

    fn next_random(&mut self) -> u64 {
        // xorshift64*
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 32
    }
}

/// What a ring holds, oldest first, read without taking anything (the simulation has one
/// thread, so nothing moves while it looks).
fn ring_contents(ring: &Ring) -> Vec<u64> {
    use std::sync::atomic::Ordering;
    let head = ring.head.load(Ordering::Acquire);
    let tail = ring.tail.load(Ordering::Acquire);
    let n = tail.wrapping_sub(head).min(crate::CAPACITY);
    (0..n)
        .map(|i| ring.slot(head.wrapping_add(i)).load(Ordering::Relaxed))
        .collect()
}

fn names(tasks: &[u64]) -> String {
    tasks
        .iter()
        .map(|t| format!("g{t}"))
        .collect::<Vec<_>>()
        .join(" ")
}
