//! A single-worker, round-robin scheduler. This is the file you edit.
//!
//! The run queue holds the ids of Runnable tasks in the order they will run. `run` takes the
//! first, switches to it, and when it switches back, acts on what the task asked for. One rule
//! keeps it honest: a task is in the run queue exactly when its state is Runnable, so every
//! change to Runnable comes with a `push_back`.

use std::collections::VecDeque;
use std::io;

use goro::coroutine::{CoState, Coroutine};
use goro::stack::Stack;

use crate::{Body, Cx, Outbox, Request, RunError, STACK_SIZE, State, TaskId, Trace};

/// One task: a coroutine and what the scheduler knows about it.
struct Task {
    id: TaskId,
    name: String,
    state: State,
    /// An `unpark` that arrived while the task was not parked; its next `park` returns at once.
    /// `spawn` starts it at `false`; setting and consuming it is `run`'s job.
    wakeup_pending: bool,
    /// `None` once the task is Dead: its stack goes back as soon as it finishes.
    co: Option<Coroutine>,
}

/// Runs tasks one at a time, on the calling thread.
pub struct Scheduler {
    /// Every task ever spawned; `TaskId(n)` is at index `n - 1`.
    tasks: Vec<Task>,
    /// Ids of the Runnable tasks, next to run first.
    run_queue: VecDeque<TaskId>,
    outbox: Outbox,
    trace: Trace,
}

impl Default for Scheduler {
    fn default() -> Self {
        Scheduler::new()
    }
}

impl Scheduler {
    /// A scheduler with no tasks.
    pub fn new() -> Scheduler {
        Scheduler {
            tasks: Vec::new(),
            run_queue: VecDeque::new(),
            outbox: Outbox::default(),
            trace: Trace::default(),
        }
    }

    /// The trace of everything that happened so far.
    pub fn trace(&self) -> &Trace {
        &self.trace
    }

    /// The current state of task `id`, if it exists.
    pub fn state(&self, id: TaskId) -> Option<State> {
        self.tasks.get(id.0.checked_sub(1)?).map(|t| t.state)
    }

    // ANCHOR: spawn
    /// Creates a Runnable task at the back of the run queue. It runs when `run` gets to it.
    pub fn spawn(
        &mut self,
        name: &str,
        body: impl FnOnce(&Cx<'_>) + 'static,
    ) -> io::Result<TaskId> {
        self.spawn_boxed(name.to_string(), Box::new(body))
    }

    fn spawn_boxed(&mut self, name: String, body: Body) -> io::Result<TaskId> {
        let id = TaskId(self.tasks.len() + 1);
        let stack = Stack::new(STACK_SIZE)?;
        let (outbox, trace, task_name) = (self.outbox.clone(), self.trace.clone(), name.clone());
        let co = Coroutine::new(stack, move |yielder| {
            body(&Cx::new(id, &task_name, yielder, &outbox, &trace));
        });
        self.trace.transition(id, &name, None, State::Runnable);
        self.tasks.push(Task {
            id,
            name,
            state: State::Runnable,
            wakeup_pending: false,
            co: Some(co),
        });
        self.run_queue.push_back(id);
        Ok(id)
    }
    // ANCHOR_END: spawn

    /// Moves task `id` to state `to`, and writes the change to the trace.
    fn set_state(&mut self, id: TaskId, to: State) {
        let task = &mut self.tasks[id.0 - 1];
        self.trace
            .transition(task.id, &task.name, Some(task.state), to);
        task.state = to;
    }

    // ANCHOR: run
    /// Runs tasks until every one is Dead. Fails with [`RunError::Deadlock`] if the run queue
    /// empties while some tasks are still Waiting: nothing is left that could ever wake them.
    /// A panic in a task continues here, on the caller's stack.
    pub fn run(&mut self) -> Result<(), RunError> {
        while let Some(id) = self.run_queue.pop_front() {
            self.set_state(id, State::Running);
            let co = self.tasks[id.0 - 1]
                .co
                .as_mut()
                .expect("a Runnable task has a coroutine");
            let outcome = co.resume();

            if outcome == CoState::Finished {
                self.set_state(id, State::Dead);
                self.tasks[id.0 - 1].co = None;
            }
            while let Some(request) = self.outbox.next() {
                match request {
                    Request::Yield => {
                        // Go's Gosched: behind every task that was already waiting for a turn
                        // (Go puts it on the global queue; one worker has only this one).
                        self.set_state(id, State::Runnable);
                        self.run_queue.push_back(id);
                    }
                    Request::Park => {
                        let task = &mut self.tasks[id.0 - 1];
                        if std::mem::take(&mut task.wakeup_pending) {
                            // Someone unparked it already: the park returns at once.
                            self.set_state(id, State::Runnable);
                            self.run_queue.push_back(id);
                        } else {
                            self.set_state(id, State::Waiting);
                        }
                    }
                    Request::Unpark(target) => match self.state(target) {
                        Some(State::Waiting) => {
                            self.set_state(target, State::Runnable);
                            self.run_queue.push_back(target);
                        }
                        Some(State::Runnable | State::Running) => {
                            self.tasks[target.0 - 1].wakeup_pending = true;
                        }
                        Some(State::Dead) | None => {}
                    },
                    Request::Spawn(name, body) => {
                        if let Err(source) = self.spawn_boxed(name.clone(), body) {
                            return Err(RunError::Spawn { name, source });
                        }
                    }
                }
            }
        }

        // The queue is empty: either every task is Dead, or nothing is left to wake the rest.
        self.stuck()
    }
    // ANCHOR_END: run

    // ANCHOR: stuck
    /// What is left once the run queue is empty: `Ok` if every task is Dead, otherwise a
    /// deadlock naming the tasks that are not.
    fn stuck(&self) -> Result<(), RunError> {
        let waiting: Vec<String> = self
            .tasks
            .iter()
            .filter(|t| t.state != State::Dead)
            .map(|t| match t.state {
                State::Waiting => format!("{} {}", t.id, t.name),
                other => format!("{} {} (still {other})", t.id, t.name),
            })
            .collect();
        if waiting.is_empty() {
            Ok(())
        } else {
            Err(RunError::Deadlock { waiting })
        }
    }
    // ANCHOR_END: stuck
}
