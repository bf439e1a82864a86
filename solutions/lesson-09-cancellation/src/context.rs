//! Go's `context`, built on goro's channels and `select!`. YOU EDIT THIS FILE.

use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use goro::chan::{self, Receiver, Sender};

use crate::handles::{CancelFunc, Context, CtxError};

// ANCHOR: node
/// One node of the context tree: what a [`Context`] handle points at.
pub struct Node {
    /// The node this one was derived from (`None` for the background context).
    parent: Option<Arc<Node>>,
    /// The nearest deadline on the path to the root.
    deadline: Option<Instant>,
    /// Closed when the node is cancelled; every waiter holds a clone.
    done: Receiver<()>,
    state: Mutex<State>,
}

struct State {
    /// Why the node was cancelled; the first cause wins.
    err: Option<CtxError>,
    /// The only sender of `done`: dropping it closes the channel. `None` once cancelled, and
    /// always for the background context, which nothing can cancel.
    close: Option<Sender<()>>,
    /// Contexts derived from this one, to cancel with it. Weak: a child that everybody has let
    /// go of must not be kept alive by its parent.
    children: Vec<Weak<Node>>,
}
// ANCHOR_END: node

fn lock(node: &Node) -> MutexGuard<'_, State> {
    node.state.lock().unwrap_or_else(|e| e.into_inner())
}

impl Context {
    /// The root of every tree: never cancelled, no deadline (Go: `context.Background()`).
    pub fn background() -> Context {
        Context {
            node: Arc::new(Node {
                parent: None,
                deadline: None,
                done: chan::never(),
                state: Mutex::new(State {
                    err: None,
                    close: None,
                    children: Vec::new(),
                }),
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
        lock(&self.node).err
    }

    /// When this context will be cancelled by itself, if ever (Go: `ctx.Deadline()`).
    pub fn deadline(&self) -> Option<Instant> {
        self.node.deadline
    }
}

// ANCHOR: cancel
/// Cancels `node` and everything below it with `err`, unless it was cancelled already.
fn cancel(node: &Arc<Node>, err: CtxError) {
    let (close, children) = {
        let mut state = lock(node);
        if state.err.is_some() || state.close.is_none() {
            return; // cancelled before, or the background context
        }
        state.err = Some(err);
        (state.close.take(), std::mem::take(&mut state.children))
    };
    drop(close); // closes `done`: every task parked on it wakes up
    for child in children.iter().filter_map(Weak::upgrade) {
        cancel(&child, err);
    }
    // A long-lived parent must not collect the nodes of every request it ever served.
    if let Some(parent) = &node.parent {
        lock(parent)
            .children
            .retain(|c| c.upgrade().is_some_and(|c| !Arc::ptr_eq(&c, node)));
    }
}
// ANCHOR_END: cancel

fn child(parent: &Context, deadline: Option<Instant>) -> (Context, CancelFunc) {
    let (close, done) = chan::bounded(0);
    let node = Arc::new(Node {
        parent: Some(Arc::clone(&parent.node)),
        deadline,
        done,
        state: Mutex::new(State {
            err: None,
            close: Some(close),
            children: Vec::new(),
        }),
    });
    let inherited = {
        let mut state = lock(&parent.node);
        if state.err.is_none() && state.close.is_some() {
            state.children.push(Arc::downgrade(&node));
        }
        state.err
    };
    if let Some(err) = inherited {
        cancel(&node, err); // born of a cancelled parent: cancelled from the start
    }
    let target = Arc::clone(&node);
    let cancel_fn = CancelFunc::new(move || cancel(&target, CtxError::Canceled));
    (Context { node }, cancel_fn)
}

/// A child of `parent`, cancelled when the returned [`CancelFunc`] is called or dropped, or when
/// `parent` is (Go: `context.WithCancel`).
pub fn with_cancel(parent: &Context) -> (Context, CancelFunc) {
    child(parent, parent.deadline())
}

// ANCHOR: with_deadline
/// A child of `parent` that is also cancelled, with [`CtxError::DeadlineExceeded`], when the
/// clock reaches `deadline` (Go: `context.WithDeadline`). Call it from a goro task.
pub fn with_deadline(parent: &Context, deadline: Instant) -> (Context, CancelFunc) {
    if parent.deadline().is_some_and(|d| d <= deadline) {
        return with_cancel(parent); // the parent's deadline comes first anyway
    }
    let (ctx, cancel_fn) = child(parent, Some(deadline));
    let left = deadline.saturating_duration_since(goro::time::now());
    if left.is_zero() {
        cancel(&ctx.node, CtxError::DeadlineExceeded);
    } else if ctx.err().is_none() {
        let node = Arc::downgrade(&ctx.node);
        let done = ctx.done();
        goro::task::Builder::new()
            .name("context timer")
            .spawn(move || {
                goro::select! {
                    recv(goro::time::after(left)) => {
                        if let Some(node) = node.upgrade() {
                            cancel(&node, CtxError::DeadlineExceeded);
                        }
                    }
                    // Cancelled first: the timer has nothing left to do.
                    recv(done) => {}
                }
            })
            .expect("could not start a context timer");
    }
    (ctx, cancel_fn)
}
// ANCHOR_END: with_deadline

/// A child of `parent` cancelled with [`CtxError::DeadlineExceeded`] once `timeout` has passed
/// (Go: `context.WithTimeout`). Call it from a goro task.
pub fn with_timeout(parent: &Context, timeout: Duration) -> (Context, CancelFunc) {
    with_deadline(parent, goro::time::now() + timeout)
}
