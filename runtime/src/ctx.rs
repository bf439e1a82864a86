//! Cancellation and deadlines (Go: package `context`). Taught in lesson 09 (cancellation).
//!
//! A [`Context`] is handed down a tree of tasks; cancelling it (by calling its [`CancelFunc`],
//! or when its deadline passes) cancels every context derived from it, and closes their
//! [`done`](Context::done) channels so every task waiting on one wakes up, typically in a
//! `select!` arm:
//!
//! ```text
//! // Go                                          // goro
//! ctx, cancel := context.WithTimeout(parent,     let (ctx, cancel) = ctx::with_timeout(&parent,
//!     10*time.Second)                                Duration::from_secs(10));
//! defer cancel()                                 // `cancel` cancels when dropped, like `defer cancel()`
//! select {                                       goro::select! {
//! case r := <-results:                               recv(results) -> r => save(r),
//!     save(r)
//! case <-ctx.Done():                                 recv(ctx.done()) => {
//!     log.Println(ctx.Err())                             println!("{}", ctx.err().unwrap())
//! }                                                  }
//!                                                }
//! ```
//!
//! Differences from Go: [`CancelFunc`] also cancels when dropped (so forgetting to cancel cannot
//! leak the context's timer or its entry in the parent); values are looked up by a
//! `&'static str` key and a type ([`Context::with_value`], [`Context::value`]).
//!
//! Deadlines use the runtime's timers, so on a deterministic runtime a 10-second timeout
//! completes instantly in real time while the virtual clock moves by exactly 10 seconds:
//!
//! ```
//! use goro::ctx::{self, Context, CtxError};
//! use std::time::Duration;
//!
//! let rt = goro::Runtime::builder().deterministic(7).build().unwrap();
//! let err = rt
//!     .block_on(|| {
//!         let (ctx, _cancel) = ctx::with_timeout(&Context::background(), Duration::from_secs(10));
//!         let (_never_tx, replies) = goro::chan::bounded::<String>(0);
//!         goro::select! {
//!             recv(replies) -> r => panic!("no reply expected, got {r:?}"),
//!             recv(ctx.done()) => ctx.err(),
//!         }
//!     })
//!     .unwrap();
//! assert_eq!(err, Some(CtxError::DeadlineExceeded));
//! ```

use crate::chan::{self, Receiver, Sender};
use crate::task::state::WaitReason;
use crate::time::timer::{self, TimerHandle};
use std::any::Any;
use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

/// Why a context was cancelled (Go: `context.Canceled`, `context.DeadlineExceeded`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CtxError {
    /// Its [`CancelFunc`] (or an ancestor's) was called or dropped.
    Canceled,
    /// Its deadline (or an ancestor's) passed.
    DeadlineExceeded,
}

impl fmt::Display for CtxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Go's exact words, so logs read the same.
        f.write_str(match self {
            CtxError::Canceled => "context canceled",
            CtxError::DeadlineExceeded => "context deadline exceeded",
        })
    }
}

impl std::error::Error for CtxError {}

const LIVE: u8 = 0;
const CANCELED: u8 = 1;
const DEADLINE: u8 = 2;

/// A cancellation scope, cheap to clone and to send to other tasks (Go: `context.Context`).
#[derive(Clone)]
pub struct Context {
    node: Arc<Node>,
}

struct Node {
    id: u64,
    parent: Option<Context>,
    /// Nearest deadline on the path to the root.
    deadline: Option<Instant>,
    /// `None` for a value node: done/err come from the parent.
    cancel: Option<CancelState>,
    value: Option<(&'static str, Box<dyn Any + Send + Sync>)>,
}

struct CancelState {
    err: AtomicU8,
    done: Receiver<()>,
    inner: Mutex<Inner>,
}

struct Inner {
    /// Dropping it closes `done` (waking every waiter). `None` once cancelled, and always for
    /// the background context, which can never be cancelled.
    done_tx: Option<Sender<()>>,
    children: HashMap<u64, Weak<Node>>,
    timer: Option<TimerHandle>,
    /// Callbacks registered with [`after_func`], run once when the context is cancelled.
    funcs: HashMap<u64, Box<dyn FnOnce() + Send>>,
}

fn lock(m: &Mutex<Inner>) -> MutexGuard<'_, Inner> {
    // Nothing panics while holding this lock; recover the data if a destructor ever did.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn next_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Cancels its context when called or dropped (Go: `context.CancelFunc`).
///
/// Dropping it is the Rust spelling of Go's `defer cancel()`. Careful: `let (ctx, _) = ...`
/// drops it at once and so cancels `ctx` immediately; bind it to a name such as `_cancel`.
#[must_use = "dropping a CancelFunc cancels its context at once; bind it: `let (ctx, cancel) = ...`"]
pub struct CancelFunc {
    node: Arc<Node>,
}

impl CancelFunc {
    /// Cancels the context and its descendants with [`CtxError::Canceled`]. Idempotent.
    pub fn cancel(&self) {
        cancel(&self.node, CtxError::Canceled, true);
    }
}

impl Drop for CancelFunc {
    fn drop(&mut self) {
        self.cancel();
    }
}

impl fmt::Debug for CancelFunc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancelFunc").finish_non_exhaustive()
    }
}

impl Context {
    /// The root context: never cancelled, no deadline, no values (Go: `context.Background()`).
    pub fn background() -> Context {
        Context {
            node: Arc::new(Node {
                id: next_id(),
                parent: None,
                deadline: None,
                cancel: Some(CancelState {
                    err: AtomicU8::new(LIVE),
                    done: chan::never(),
                    inner: Mutex::new(Inner {
                        done_tx: None,
                        children: HashMap::new(),
                        timer: None,
                        funcs: HashMap::new(),
                    }),
                }),
                value: None,
            }),
        }
    }

    /// A receiver that is closed when the context is cancelled (Go: `ctx.Done()`). Use it as a
    /// `select!` arm: `recv(ctx.done()) => return`. The channel never carries values; the arm
    /// fires with `Err(RecvError)` once it is closed.
    pub fn done(&self) -> Receiver<()> {
        self.cancel_state().done.clone()
    }

    /// `None` while the context is live; why it was cancelled afterwards (Go: `ctx.Err()`).
    pub fn err(&self) -> Option<CtxError> {
        match self.cancel_state().err.load(Ordering::Acquire) {
            CANCELED => Some(CtxError::Canceled),
            DEADLINE => Some(CtxError::DeadlineExceeded),
            _ => None,
        }
    }

    /// Whether the context was cancelled (`err().is_some()`).
    pub fn is_cancelled(&self) -> bool {
        self.err().is_some()
    }

    /// The time at which the context will be cancelled, if it has a deadline
    /// (Go: `ctx.Deadline()`); measured by [`goro::time::now`](crate::time::now).
    pub fn deadline(&self) -> Option<Instant> {
        self.node.deadline
    }

    /// Parks until the context is cancelled, then returns why (a shorthand for
    /// `ctx.done().recv()` followed by `ctx.err()`).
    #[track_caller]
    pub fn wait(&self) -> CtxError {
        let done = &self.cancel_state().done;
        // Shown as `[context]` in the goroutine dump.
        let _ = done.chan.recv_as(chan::Mode::Block, WaitReason::Context);
        self.err()
            .expect("a closed done channel means the context was cancelled")
    }

    /// A child context carrying `value` under `key` (Go: `context.WithValue`). Lookups walk
    /// up the tree, so the nearest ancestor with the key wins.
    pub fn with_value<V: Any + Send + Sync>(&self, key: &'static str, value: V) -> Context {
        Context {
            node: Arc::new(Node {
                id: next_id(),
                parent: Some(self.clone()),
                deadline: self.node.deadline,
                cancel: None,
                value: Some((key, Box::new(value))),
            }),
        }
    }

    /// The value stored under `key` by [`with_value`](Context::with_value) in this context or
    /// an ancestor, if it has type `V` (Go: `ctx.Value(key)`).
    pub fn value<V: Any>(&self, key: &str) -> Option<&V> {
        let mut node = &self.node;
        loop {
            if let Some((k, v)) = &node.value
                && *k == key
            {
                return v.downcast_ref::<V>();
            }
            node = &node.parent.as_ref()?.node;
        }
    }

    /// The node that owns this context's cancellation (itself, or the nearest non-value
    /// ancestor).
    fn cancel_node(&self) -> &Arc<Node> {
        let mut node = &self.node;
        while node.cancel.is_none() {
            node = &node
                .parent
                .as_ref()
                .expect("a value context has a parent")
                .node;
        }
        node
    }

    fn cancel_state(&self) -> &CancelState {
        self.cancel_node()
            .cancel
            .as_ref()
            .expect("cancel_node has cancel state")
    }
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("err", &self.err())
            .field("deadline", &self.deadline())
            .finish_non_exhaustive()
    }
}

impl Default for Context {
    fn default() -> Self {
        Context::background()
    }
}

/// Arranges for `f` to run once `ctx` is cancelled (Go: `context.AfterFunc`); at once, on
/// this thread, if it already is. The returned [`AfterFunc`] stops it from running.
///
/// Unlike Go, which starts `f` in a goroutine of its own, `f` runs on whichever thread cancels
/// the context (a `CancelFunc`'s caller, or a timer callback for a deadline), so it must be
/// short and must not block: wake a task, set a flag. `goro::net` uses it to wake a task
/// waiting on a socket when the task's context is cancelled.
pub fn after_func(ctx: &Context, f: impl FnOnce() + Send + 'static) -> AfterFunc {
    let owner = ctx.cancel_node();
    let node = owner.clone();
    let id = next_id();
    let state = owner.cancel.as_ref().expect("cancel_node has cancel state");
    let cancelled = {
        let mut inner = lock(&state.inner);
        let cancelled = state.err.load(Ordering::Acquire) != LIVE;
        // The background context (no `done_tx`) is never cancelled: nothing to remember.
        if !cancelled && inner.done_tx.is_some() {
            inner.funcs.insert(id, Box::new(f));
            return AfterFunc { node, id };
        }
        cancelled.then_some(f)
    };
    if let Some(f) = cancelled {
        f();
    }
    AfterFunc { node, id }
}

/// Stops a callback registered with [`after_func`] (Go: the `stop` function
/// `context.AfterFunc` returns). Dropping it does *not* stop the callback.
pub struct AfterFunc {
    node: Arc<Node>,
    id: u64,
}

impl AfterFunc {
    /// Keeps the callback from running; true if it had not run (or started) yet.
    pub fn stop(&self) -> bool {
        let state = self
            .node
            .cancel
            .as_ref()
            .expect("cancel_node has cancel state");
        lock(&state.inner).funcs.remove(&self.id).is_some()
    }
}

impl fmt::Debug for AfterFunc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AfterFunc").finish_non_exhaustive()
    }
}

/// A child of `parent` that is cancelled when the returned [`CancelFunc`] is called or dropped,
/// or when `parent` is (Go: `context.WithCancel`).
pub fn with_cancel(parent: &Context) -> (Context, CancelFunc) {
    new_child(parent, parent.node.deadline)
}

/// A child of `parent` cancelled with [`CtxError::DeadlineExceeded`] at `deadline`, or earlier
/// like [`with_cancel`] (Go: `context.WithDeadline`). A parent's earlier deadline wins.
pub fn with_deadline(parent: &Context, deadline: Instant) -> (Context, CancelFunc) {
    if parent.node.deadline.is_some_and(|d| d <= deadline) {
        // The parent fires first anyway; no timer needed (Go does the same).
        return with_cancel(parent);
    }
    let (ctx, cancel_fn) = new_child(parent, Some(deadline));
    if ctx.err().is_some() {
        return (ctx, cancel_fn);
    }
    if crate::time::now() >= deadline {
        cancel(&ctx.node, CtxError::DeadlineExceeded, true);
        return (ctx, cancel_fn);
    }
    let weak = Arc::downgrade(&ctx.node);
    let timer = timer::schedule(
        deadline,
        Box::new(move || {
            if let Some(node) = weak.upgrade() {
                cancel(&node, CtxError::DeadlineExceeded, true);
            }
        }),
    );
    let state = ctx
        .node
        .cancel
        .as_ref()
        .expect("a cancel context has cancel state");
    let leftover = {
        let mut inner = lock(&state.inner);
        if state.err.load(Ordering::Acquire) == LIVE {
            inner.timer = Some(timer);
            None
        } else {
            Some(timer) // cancelled meanwhile (by the parent, or the timer itself fired)
        }
    };
    if let Some(timer) = leftover {
        timer::cancel_timer(timer);
    }
    (ctx, cancel_fn)
}

/// A child of `parent` cancelled with [`CtxError::DeadlineExceeded`] after `timeout`
/// (Go: `context.WithTimeout`).
pub fn with_timeout(parent: &Context, timeout: Duration) -> (Context, CancelFunc) {
    let now = crate::time::now();
    let deadline = now
        .checked_add(timeout)
        .unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 24 * 3600));
    with_deadline(parent, deadline)
}

fn new_child(parent: &Context, deadline: Option<Instant>) -> (Context, CancelFunc) {
    let (done_tx, done_rx) = chan::bounded(0);
    let node = Arc::new(Node {
        id: next_id(),
        parent: Some(parent.clone()),
        deadline,
        cancel: Some(CancelState {
            err: AtomicU8::new(LIVE),
            done: done_rx,
            inner: Mutex::new(Inner {
                done_tx: Some(done_tx),
                children: HashMap::new(),
                timer: None,
                funcs: HashMap::new(),
            }),
        }),
        value: None,
    });
    // Register with the nearest cancellable ancestor (Go: propagateCancel). The background
    // context can never be cancelled, so its children are not recorded anywhere.
    let owner = parent.cancel_node();
    let owner_state = owner.cancel.as_ref().expect("cancel_node has cancel state");
    let mut inherited = None;
    {
        let mut inner = lock(&owner_state.inner);
        match owner_state.err.load(Ordering::Acquire) {
            CANCELED => inherited = Some(CtxError::Canceled),
            DEADLINE => inherited = Some(CtxError::DeadlineExceeded),
            _ if inner.done_tx.is_some() => {
                inner.children.insert(node.id, Arc::downgrade(&node));
            }
            _ => {} // background
        }
    }
    if let Some(err) = inherited {
        cancel(&node, err, false);
    }
    (Context { node: node.clone() }, CancelFunc { node })
}

/// Cancels `node` and its descendants with `err` (first cancellation wins), closing their done
/// channels; optionally removes `node` from its parent's child list (Go: `cancelCtx.cancel`).
fn cancel(node: &Arc<Node>, err: CtxError, remove_from_parent: bool) {
    let state = node
        .cancel
        .as_ref()
        .expect("only cancel contexts are cancelled");
    let (done_tx, children, timer, funcs) = {
        let mut inner = lock(&state.inner);
        if state.err.load(Ordering::Acquire) != LIVE || inner.done_tx.is_none() {
            return; // already cancelled, or the background context
        }
        let code = match err {
            CtxError::Canceled => CANCELED,
            CtxError::DeadlineExceeded => DEADLINE,
        };
        state.err.store(code, Ordering::Release);
        (
            inner.done_tx.take(),
            std::mem::take(&mut inner.children),
            inner.timer.take(),
            std::mem::take(&mut inner.funcs),
        )
    };
    for f in funcs.into_values() {
        f();
    }
    // Closing the channel wakes every task parked on `done()`, in O(waiters).
    drop(done_tx);
    if let Some(timer) = timer {
        timer::cancel_timer(timer);
    }
    for child in children.into_values().filter_map(|w| w.upgrade()) {
        cancel(&child, err, false);
    }
    if remove_from_parent && let Some(parent) = &node.parent {
        let owner = parent.cancel_node();
        let owner_state = owner.cancel.as_ref().expect("cancel_node has cancel state");
        lock(&owner_state.inner).children.remove(&node.id);
    }
}
