//! Which closures may run as tasks, and how a scope keeps its promise. YOU EDIT THIS FILE.
//!
//! `go`, `scope` and `Scope::go` are declared in `src/lib.rs` (given); they call into this
//! file.

use goro::task::{Builder, JoinHandle};

use crate::{Scope, Task};

// ANCHOR: task_impl
// TODO(lesson): this says that every closure at all is a task: one that borrows the caller's
// variables (which may be gone when the task runs) and one that holds an `Rc` or a `RefCell`
// (which must never be touched from two threads). Accept only the closures a task can run
// safely, and the `unsafe` below has nothing left to paper over.
impl<F: FnOnce()> Task for F {
    fn start(self, name: &str) -> JoinHandle<()> {
        Builder::new()
            .name(name.to_owned())
            .spawn(erase(self))
            .expect("could not start a task")
    }
}

/// Tells the compiler that `f` owns everything it uses and may move to another thread.
fn erase<'a, F: FnOnce() + 'a>(f: F) -> Box<dyn FnOnce() + Send + 'static> {
    let job: Box<dyn FnOnce() + 'a> = Box::new(f);
    // SAFETY: none; this is the bug. Nothing checks either claim.
    unsafe {
        std::mem::transmute::<Box<dyn FnOnce() + 'a>, Box<dyn FnOnce() + Send + 'static>>(job)
    }
}
// ANCHOR_END: task_impl

// ANCHOR: scope_impl
/// What a [`Scope`] keeps while it is open. `Scope::new(ScopeState::default())` makes one.
// TODO(lesson): a scope that promises to wait for its tasks has to know which tasks to wait for.
#[derive(Default)]
pub(crate) struct ScopeState {}

/// Runs the body of `scope`: makes the scope, runs `f` with it, and keeps the promise that
/// nothing started in the scope is still running when this returns.
pub(crate) fn run_scope<'env, F, R>(f: F) -> R
where
    F: for<'scope> FnOnce(&'scope Scope<'scope, 'env>) -> R,
{
    let scope = Scope::new(ScopeState::default());
    f(&scope)
}

/// Starts `f` for `Scope::go`.
// TODO(lesson): this runs `f` right here, in the caller's task, before returning: safe, and not a
// task at all. `f` borrows data that lives only as long as the scope (`'scope`), and a goro task
// wants `'static`.
pub(crate) fn start_scoped<'scope, 'env, F>(scope: &'scope Scope<'scope, 'env>, name: &str, f: F)
where
    F: FnOnce() + Send + 'scope,
{
    let _ = (scope.state(), name);
    f();
}
// ANCHOR_END: scope_impl
