//! Which closures may run as tasks, and how a scope keeps its promise. YOU EDIT THIS FILE.
//!
//! `go`, `scope` and `Scope::go` are declared in `src/lib.rs` (given); they call into this
//! file.

use std::any::Any;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Mutex, PoisonError};

use goro::task::{Builder, JoinHandle};

use crate::{Scope, Task};

// ANCHOR: task_impl
/// A closure is a task when it owns everything it uses (`'static`: the task may run after the
/// caller's frame is gone) and may move to another thread (`Send`: goro may start it on
/// another worker). Those are the bounds of `goro::spawn` itself, so `f` goes straight there.
impl<F> Task for F
where
    F: FnOnce() + Send + 'static,
{
    fn start(self, name: &str) -> JoinHandle<()> {
        Builder::new()
            .name(name.to_owned())
            .spawn(self)
            .expect("could not start a task")
    }
}
// ANCHOR_END: task_impl

// ANCHOR: scope_impl
/// What a [`Scope`] keeps while it is open: the handles of the tasks started in it.
#[derive(Default)]
pub(crate) struct ScopeState {
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl ScopeState {
    /// Takes the handles recorded so far. A poisoned lock is fine: pushing a handle cannot
    /// leave the vector half-changed.
    fn take(&self) -> Vec<JoinHandle<()>> {
        std::mem::take(&mut *self.tasks.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// Runs the body of `scope`: makes the scope, runs `f` with it, and keeps the promise that
/// nothing started in the scope is still running when this returns.
pub(crate) fn run_scope<'env, F, R>(f: F) -> R
where
    F: for<'scope> FnOnce(&'scope Scope<'scope, 'env>) -> R,
{
    let scope = Scope::new(ScopeState::default());
    // A panic in `f` must not skip the joins below: tasks may still be borrowing from the
    // frames that the unwind is about to free.
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| f(&scope)));
    // Join until no handle is left: a scoped task may start more scoped tasks.
    let mut task_panic: Option<Box<dyn Any + Send>> = None;
    loop {
        let tasks = scope.state().take();
        if tasks.is_empty() {
            break;
        }
        for task in tasks {
            if let Err(payload) = task.join() {
                task_panic.get_or_insert(payload);
            }
        }
    }
    match (outcome, task_panic) {
        (Err(payload), _) | (Ok(_), Some(payload)) => panic::resume_unwind(payload),
        (Ok(value), None) => value,
    }
}

/// Starts `f` for `Scope::go`.
pub(crate) fn start_scoped<'scope, 'env, F>(scope: &'scope Scope<'scope, 'env>, name: &str, f: F)
where
    F: FnOnce() + Send + 'scope,
{
    let job: Box<dyn FnOnce() + Send + 'scope> = Box::new(f);
    // SAFETY: only the lifetime changes. `job` borrows data that lives for `'scope`, and
    // `run_scope` joins this task (its handle is recorded below, before anyone can wait for
    // the scope) before `'scope` ends, on every path, a panic in the scope's body included.
    // So the task never runs after the data it borrows is gone. `Send` is still checked.
    let job = unsafe {
        std::mem::transmute::<Box<dyn FnOnce() + Send + 'scope>, Box<dyn FnOnce() + Send + 'static>>(
            job,
        )
    };
    let task = Builder::new()
        .name(name.to_owned())
        .spawn(job)
        .expect("could not start a task");
    scope
        .state()
        .tasks
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(task);
}
// ANCHOR_END: scope_impl
