//! The handles the rest of the program holds: [`Context`], [`CancelFunc`], [`CtxError`]. Given.
//!
//! A `Context` is a cheap, clonable handle to one node of a tree of cancellation scopes; what a
//! node holds, and how cancelling one reaches its descendants, is yours to write in
//! `src/context.rs` (the `Node` type there).

use std::fmt;
use std::sync::{Arc, Mutex};

use crate::context::Node;

/// A cancellation scope (Go: `context.Context`). Clone it freely and hand it to every task that
/// works for the same request; they all see the same cancellation.
#[derive(Clone)]
pub struct Context {
    /// This context's node in the tree.
    pub(crate) node: Arc<Node>,
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("err", &self.err())
            .finish_non_exhaustive()
    }
}

/// Why a context was cancelled (Go: the errors `context.Canceled` and
/// `context.DeadlineExceeded`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CtxError {
    /// Its `CancelFunc`, or an ancestor's, was called or dropped.
    Canceled,
    /// Its deadline, or an ancestor's, passed.
    DeadlineExceeded,
}

impl fmt::Display for CtxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Go's exact words, so that logs read the same.
        f.write_str(match self {
            CtxError::Canceled => "context canceled",
            CtxError::DeadlineExceeded => "context deadline exceeded",
        })
    }
}

impl std::error::Error for CtxError {}

// ANCHOR: cancel_func
/// Cancels its context when called, or when dropped (Go: `context.CancelFunc`, and dropping it is
/// Rust's spelling of `defer cancel()`). Calling it again does nothing.
#[must_use = "dropping a CancelFunc cancels its context at once; bind it: `let (ctx, cancel) = ...`"]
pub struct CancelFunc {
    action: Mutex<Option<Box<dyn FnOnce() + Send>>>,
}

impl CancelFunc {
    /// A `CancelFunc` that runs `action` the first time it is called or dropped.
    pub fn new(action: impl FnOnce() + Send + 'static) -> CancelFunc {
        CancelFunc {
            action: Mutex::new(Some(Box::new(action))),
        }
    }

    /// Cancels the context (and everything derived from it). Idempotent.
    pub fn cancel(&self) {
        let action = self.action.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(action) = action {
            action();
        }
    }
}

impl Drop for CancelFunc {
    fn drop(&mut self) {
        self.cancel();
    }
}
// ANCHOR_END: cancel_func

impl fmt::Debug for CancelFunc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancelFunc").finish_non_exhaustive()
    }
}
