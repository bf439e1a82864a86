//! The one kind of task the compiler can prove safe to move between threads after it started.
//!
//! A goro task is a closure on a stack of its own. `Send` on the closure covers what it
//! captures, but nothing the running task later keeps on its stack: an `Rc` it creates, a
//! `MutexGuard` it holds across a yield. So goro keeps a started task on its thread.
//!
//! An `async` block is different: its state between two `.await`s is a value of a type the
//! compiler builds, with a field for everything kept alive across each `.await`. That type is
//! `Send` only if every such field is. A scheduler that requires it may resume the task on any
//! thread, after any yield, and the compiler checks the promise that goro's
//! `task::Builder::migratable` (an `unsafe fn`) asks you to make by hand.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

/// A task that may resume on any thread after any yield: see [`migratable`].
pub struct Migratable {
    body: Pin<Box<dyn Future<Output = ()> + Send>>,
}

// ANCHOR: migratable
/// Wraps `body` as a task that a scheduler may move to another thread at every yield.
///
/// The bound says it all: the future must be `Send`, which for an `async` block means that
/// everything it keeps alive across an `.await` is `Send`.
pub fn migratable<F>(body: F) -> Migratable
where
    F: Future<Output = ()> + Send + 'static,
{
    Migratable {
        body: Box::pin(body),
    }
}
// ANCHOR_END: migratable

impl Migratable {
    /// Runs the task until its next yield (`false`) or its end (`true`), on the calling
    /// thread, whichever thread that is.
    pub fn resume(&mut self) -> bool {
        let mut cx = Context::from_waker(Waker::noop());
        self.body.as_mut().poll(&mut cx).is_ready()
    }
}

/// Gives the thread back once: the task's `resume` returns `false`, and the next `resume`
/// continues after the `.await`.
pub fn yield_now() -> YieldNow {
    YieldNow { yielded: false }
}

/// The future of [`yield_now`].
pub struct YieldNow {
    yielded: bool,
}

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            Poll::Ready(())
        } else {
            self.yielded = true;
            Poll::Pending
        }
    }
}
