//! Go's `context`, built on goro's channels and `select!`. YOU EDIT THIS FILE.
//!
//! As shipped, every context is a background context: nothing is ever cancelled, `done()` never
//! closes, `err()` is always `None`, and deadlines are ignored. The signatures stay; what a
//! [`Node`] holds and how cancelling one reaches its descendants is up to you.

use std::time::{Duration, Instant};

use goro::chan::{self, Receiver};
use std::sync::Arc;

use crate::handles::{CancelFunc, Context, CtxError};

// ANCHOR: node
/// One node of the context tree: what a [`Context`] handle points at. Must be `Send + Sync`:
/// every task of a request holds a clone of the same context.
pub struct Node {
    // TODO(lesson): a cancellable node needs a done channel that closes exactly once (goro
    // closes a channel when its last `Sender` is dropped), the reason it was cancelled, and a
    // way to reach the contexts derived from it. And its deadline, if it has one.
    done: Receiver<()>,
}
// ANCHOR_END: node

impl Context {
    /// The root of every tree: never cancelled, no deadline (Go: `context.Background()`).
    pub fn background() -> Context {
        Context {
            node: Arc::new(Node {
                done: chan::never(),
            }),
        }
    }

    /// A channel that is closed when this context is cancelled (Go: `ctx.Done()`). It never
    /// carries a value: use it as a `select!` arm, `recv(ctx.done()) => return`.
    pub fn done(&self) -> Receiver<()> {
        self.node.done.clone()
    }

    /// `None` while the context is live; afterwards, why it was cancelled (Go: `ctx.Err()`).
    pub fn err(&self) -> Option<CtxError> {
        // TODO(lesson): the first cause of cancellation, once there is one.
        None
    }

    /// When this context will be cancelled by itself, if ever (Go: `ctx.Deadline()`).
    pub fn deadline(&self) -> Option<Instant> {
        // TODO(lesson): its own deadline, or its parent's if that comes first.
        None
    }
}

/// A child of `parent`, cancelled when the returned [`CancelFunc`] is called or dropped, or when
/// `parent` is (Go: `context.WithCancel`).
pub fn with_cancel(parent: &Context) -> (Context, CancelFunc) {
    // TODO(lesson): a node of its own, that the parent's cancellation reaches (also if the
    // parent is cancelled already), and a CancelFunc that cancels it with CtxError::Canceled.
    (parent.clone(), CancelFunc::new(|| {}))
}

/// A child of `parent` that is also cancelled, with [`CtxError::DeadlineExceeded`], when the
/// clock reaches `deadline` (Go: `context.WithDeadline`). Call it from a goro task.
pub fn with_deadline(parent: &Context, deadline: Instant) -> (Context, CancelFunc) {
    // TODO(lesson): something must wait for the deadline (on goro's clock: `goro::time`), and
    // stop waiting when the context is cancelled first.
    let _ = deadline;
    with_cancel(parent)
}

/// A child of `parent` cancelled with [`CtxError::DeadlineExceeded`] once `timeout` has passed
/// (Go: `context.WithTimeout`). Call it from a goro task.
pub fn with_timeout(parent: &Context, timeout: Duration) -> (Context, CancelFunc) {
    with_deadline(parent, goro::time::now() + timeout)
}
