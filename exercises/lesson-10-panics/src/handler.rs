//! What a worker runs for each update. This file is given: its bounds are the lesson.

use std::ops::Deref;
use std::panic::RefUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use crate::routes::Update;

// ANCHOR: handler
/// The code a supervisor's workers run for each update, shared by every worker and by every
/// restarted worker. Call it like a function, `handler(&update)`, and clone it to give each
/// worker its own copy.
///
/// `RefUnwindSafe` is the compiler's question "if this code panics halfway, may the next call
/// look at what it left behind?". A supervisor calls the same handler again after a panic, so
/// it asks for it here, once, instead of in every `catch_unwind`.
#[derive(Clone)]
pub struct Handler {
    f: Arc<dyn Fn(&Update) + Send + Sync + RefUnwindSafe + 'static>,
    made_by: Option<goro::TaskId>,
}

/// Wraps a closure as a [`Handler`].
pub fn handler<F>(f: F) -> Handler
where
    F: Fn(&Update) + Send + Sync + RefUnwindSafe + 'static,
{
    let made_by = goro::runtime::in_runtime().then(|| goro::task::current().id());
    Handler {
        f: Arc::new(f),
        made_by,
    }
}
// ANCHOR_END: handler

impl Deref for Handler {
    type Target = dyn Fn(&Update) + Send + Sync + RefUnwindSafe + 'static;

    fn deref(&self) -> &Self::Target {
        &*self.f
    }
}

// ANCHOR: copies
impl Handler {
    /// How many copies of this handler exist, this one included. The tests keep one and read
    /// this when `supervise` returns: any other copy still alive belongs to a worker task that
    /// has not finished, that is, one the supervisor did not join.
    pub fn copies(&self) -> usize {
        Arc::strong_count(&self.f)
    }
}

/// A copy dropped by another task than the one that made the handler (a worker, as it ends)
/// waits a moment of virtual time first. A supervisor that joins its workers waits for that
/// too; one that does not returns while the worker still holds its copy, and the tests see it.
impl Drop for Handler {
    fn drop(&mut self) {
        if std::thread::panicking() || !goro::runtime::in_runtime() {
            return;
        }
        if self.made_by != Some(goro::task::current().id()) {
            goro::sleep(Duration::from_millis(1));
        }
    }
}
// ANCHOR_END: copies
