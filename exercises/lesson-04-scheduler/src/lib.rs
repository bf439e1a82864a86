//! Lesson 04: a scheduler.
//!
//! Many tasks, one thread: each task is a goro [`Coroutine`](goro::coroutine::Coroutine) on its
//! own stack (lessons 02 and 03), and a loop decides which one runs next. This crate gives the
//! pieces around that loop: task ids and states, the requests a task makes of the scheduler,
//! and a trace of everything that happens. The learner writes the loop, `Scheduler::run`, in
//! `src/scheduler.rs`.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::fmt;
use std::rc::Rc;

use goro::coroutine::Yielder;

pub mod scheduler;

pub use scheduler::Scheduler;

/// Usable bytes of each task's stack: reserved, committed only as used (lesson 02).
pub const STACK_SIZE: usize = 256 * 1024;

/// A task's number: 1 for the first task spawned, then counting up in spawn order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaskId(pub usize);

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&format!("#{}", self.0))
    }
}

// ANCHOR: state
/// Where a task is in its life. Go calls these `_Grunnable`, `_Grunning`, `_Gwaiting` and
/// `_Gdead`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Ready to run, waiting in the run queue for its turn.
    Runnable,
    /// Running right now. On one worker thread, at most one task is.
    Running,
    /// Parked: not in the run queue, and not coming back until something unparks it.
    Waiting,
    /// Its body returned. It never runs again.
    Dead,
}
// ANCHOR_END: state

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            State::Runnable => "Runnable",
            State::Running => "Running",
            State::Waiting => "Waiting",
            State::Dead => "Dead",
        })
    }
}

/// A task's body: runs on the task's own stack, talks to the scheduler through [`Cx`].
pub type Body = Box<dyn FnOnce(&Cx<'_>)>;

// ANCHOR: request
/// What a running task asks of the scheduler. The task leaves requests in the [`Outbox`]; the
/// scheduler acts on them, in order, after the task has switched back to it.
pub enum Request {
    /// `yield_now`: "I can go on, but let the others have a turn first." (Go: `runtime.Gosched`.)
    /// The task has suspended.
    Yield,
    /// `park`: "do not run me until someone unparks me." The task has suspended.
    Park,
    /// `unpark(id)`: "task `id` may run again." The task that asked keeps running.
    Unpark(TaskId),
    /// `spawn(name, body)`: "start a new task." The task that asked keeps running.
    Spawn(String, Body),
}
// ANCHOR_END: request

/// Requests from the running task to the scheduler, oldest first.
#[derive(Clone, Default)]
pub struct Outbox(Rc<RefCell<VecDeque<Request>>>);

impl Outbox {
    /// Leaves a request for the scheduler.
    pub fn send(&self, request: Request) {
        self.0.borrow_mut().push_back(request);
    }

    /// Takes the oldest request, if any.
    pub fn next(&self) -> Option<Request> {
        self.0.borrow_mut().pop_front()
    }
}

/// Everything that happened, one line per event, in order: state changes written by the
/// scheduler, and the lines tasks [`say`](Cx::say). Deterministic, so it can be snapshot-tested.
#[derive(Clone, Default)]
pub struct Trace(Rc<RefCell<Vec<String>>>);

impl Trace {
    /// Appends a line.
    pub fn line(&self, line: impl Into<String>) {
        self.0.borrow_mut().push(line.into());
    }

    /// Records that task `id` (`name`) went from `from` to `to`.
    pub fn transition(&self, id: TaskId, name: &str, from: Option<State>, to: State) {
        match from {
            None => self.line(format!("{id:>3} {name:<8} spawned  -> {to}")),
            Some(from) => self.line(format!("{id:>3} {name:<8} {from:<8} -> {to}")),
        }
    }

    /// The whole trace, one event per line.
    pub fn text(&self) -> String {
        self.0.borrow().join("\n")
    }

    /// Only the lines tasks said, without the state changes.
    pub fn said(&self) -> Vec<String> {
        self.0
            .borrow()
            .iter()
            .filter_map(|l| l.split_once(" says: ").map(|(_, s)| s.to_string()))
            .collect()
    }
}

// ANCHOR: cx
/// What a task's body gets: its identity, and the ways to talk to the scheduler.
pub struct Cx<'a> {
    id: TaskId,
    name: &'a str,
    yielder: &'a Yielder,
    outbox: &'a Outbox,
    trace: &'a Trace,
}

impl<'a> Cx<'a> {
    /// Made by the scheduler for each task when it first runs.
    pub fn new(
        id: TaskId,
        name: &'a str,
        yielder: &'a Yielder,
        outbox: &'a Outbox,
        trace: &'a Trace,
    ) -> Cx<'a> {
        Cx {
            id,
            name,
            yielder,
            outbox,
            trace,
        }
    }

    /// This task's id.
    pub fn id(&self) -> TaskId {
        self.id
    }

    /// Writes a line to the trace, marked with this task's id and name.
    pub fn say(&self, what: impl fmt::Display) {
        self.trace
            .line(format!("{:>3} {:<8} says: {what}", self.id, self.name));
    }

    /// Lets the other runnable tasks run before this one continues (Go: `runtime.Gosched()`).
    pub fn yield_now(&self) {
        self.outbox.send(Request::Yield);
        self.yielder.suspend();
    }

    /// Stops running until another task calls [`unpark`](Cx::unpark) with this task's id.
    pub fn park(&self) {
        self.outbox.send(Request::Park);
        self.yielder.suspend();
    }

    /// Makes task `id` runnable again if it is parked. Does not switch: this task keeps running.
    /// If `id` is Runnable or Running, its next `park` returns at once instead (one token,
    /// however many unparks); if it is Dead, or no task has that id, nothing happens.
    pub fn unpark(&self, id: TaskId) {
        self.outbox.send(Request::Unpark(id));
    }

    /// Starts a new task. It runs once the tasks already runnable have had their turn.
    pub fn spawn(&self, name: &str, body: impl FnOnce(&Cx<'_>) + 'static) {
        self.outbox
            .send(Request::Spawn(name.to_string(), Box::new(body)));
    }
}
// ANCHOR_END: cx

/// Why [`Scheduler::run`] stopped before every task was Dead.
#[derive(Debug)]
pub enum RunError {
    /// The run queue is empty but these tasks are not Dead: nothing is left that could ever
    /// run them. Each is written `#id name`, in id order, followed by its state if it is not
    /// Waiting (which only a scheduler bug can cause).
    Deadlock {
        /// The parked tasks.
        waiting: Vec<String>,
    },
    /// A task asked to spawn another, and there was no memory for its stack.
    Spawn {
        /// The task that could not be created.
        name: String,
        /// What `mmap` said.
        source: std::io::Error,
    },
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunError::Deadlock { waiting } => {
                write!(
                    f,
                    "all tasks are asleep - deadlock! stuck: {}",
                    waiting.join(", ")
                )
            }
            RunError::Spawn { name, source } => {
                write!(f, "could not create a stack for task {name:?}: {source}")
            }
        }
    }
}

impl std::error::Error for RunError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RunError::Deadlock { .. } => None,
            RunError::Spawn { source, .. } => Some(source),
        }
    }
}
