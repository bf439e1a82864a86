//! `go`: start a named task, the way Go's `go` statement starts a goroutine. YOU EDIT THIS FILE.

use goro::task::{Builder, JoinHandle};

// ANCHOR: go
/// Starts `f` in a new task called `name` and returns its handle.
///
/// # Panics
/// If the runtime cannot allocate a stack for the task.
//
// TODO(lesson): these bounds accept any closure at all: one that borrows the caller's
// variables (which may be gone when the task runs) and one that holds an `Rc` or a `RefCell`
// (which must never be touched from two threads). Ask for what a task really needs, and the
// `unsafe` below has nothing left to paper over. Keep the bounds in the `where` clause, on
// one line, as goro::spawn writes them: the expected compiler messages in tests/ui quote it.
pub fn go<'a, F>(name: &str, f: F) -> JoinHandle<()>
where
    F: FnOnce() + 'a,
{
    let job: Box<dyn FnOnce() + 'a> = Box::new(f);
    // SAFETY: none; this is the bug. It tells the compiler that `job` owns everything it uses
    // and may move to another thread, without checking either claim.
    let job = unsafe {
        std::mem::transmute::<Box<dyn FnOnce() + 'a>, Box<dyn FnOnce() + Send + 'static>>(job)
    };
    Builder::new()
        .name(name.to_owned())
        .spawn(job)
        .expect("could not start a task")
}
// ANCHOR_END: go
