//! What a worker runs for each update. This file is given: its bounds are the lesson.

use std::panic::RefUnwindSafe;
use std::sync::Arc;

use crate::routes::Update;

// ANCHOR: handler
/// The code a supervisor's workers run for each update, shared by every worker and by every
/// restarted worker.
///
/// `RefUnwindSafe` is the compiler's question "if this code panics halfway, may the next call
/// look at what it left behind?". A supervisor calls the same handler again after a panic, so
/// it asks for it here, once, instead of in every `catch_unwind`.
pub type Handler = Arc<dyn Fn(&Update) + Send + Sync + RefUnwindSafe + 'static>;

/// Wraps a closure as a [`Handler`].
pub fn handler<F>(f: F) -> Handler
where
    F: Fn(&Update) + Send + Sync + RefUnwindSafe + 'static,
{
    Arc::new(f)
}
// ANCHOR_END: handler
