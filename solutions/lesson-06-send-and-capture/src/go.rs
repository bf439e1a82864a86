//! `go`: start a named task, the way Go's `go` statement starts a goroutine. YOU EDIT THIS FILE.

use goro::task::{Builder, JoinHandle};

// ANCHOR: go
/// Starts `f` in a new task called `name` and returns its handle.
///
/// `f` must own what it uses (`'static`): the task may run after the caller's frame is gone.
/// It must be `Send`: the task may run on another worker thread than the one that started it.
///
/// # Panics
/// If the runtime cannot allocate a stack for the task.
pub fn go<F>(name: &str, f: F) -> JoinHandle<()>
where
    F: FnOnce() + Send + 'static,
{
    Builder::new()
        .name(name.to_owned())
        .spawn(f)
        .expect("could not start a task")
}
// ANCHOR_END: go
