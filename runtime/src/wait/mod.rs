//! The waiting primitives that channels, `select!` and `sync` share: how a task waits for
//! another to hand it something, without the two ever waiting on each other's threads.
//!
//! - [`Selector`] (`selector.rs`): the completion word of one blocking operation: exactly one
//!   waker completes it, or its owner gives up (Go's `selectDone`);
//! - [`Waiter`] and [`WaitList`] (`list.rs`): a parked operation's node, on the waiting task's
//!   stack, and the intrusive FIFO of them a channel keeps (Go's `sudog` and `waitq`);
//! - `RawLock` and [`Locked`] (`lock.rs`): the small spin lock around a channel's or a
//!   mutex's state, with plain `lock`/`unlock` so `select!` can hold several at once (Go's
//!   `runtime.lock`).
//!
//! A waiter is woken through its [`Parker`](crate::task::record::Parker): the task's park token
//! (`crate::task::state`) or, outside a runtime, the OS thread. To add a new kind of waiter
//! (a condition variable, a semaphore, a poller's readiness), put a [`Selector`] on the waiting
//! frame, queue a node pointing at it under your lock, and wait with [`Selector::wait`]; the
//! waker claims, completes and wakes as the selector's rules say.
//!
//! Go counterpart: `sudog` (`runtime/runtime2.go`), `waitq` (`runtime/chan.go`), `selectDone`
//! (`runtime/select.go`), `runtime.lock` (`runtime/lock_futex.go`). Lessons: 05 (sync), 07
//! (channels) and 08 (select).

mod list;
mod lock;
mod selector;

pub(crate) use list::{WaitList, Waiter};
pub(crate) use lock::{Locked, RawLock};
pub(crate) use selector::{Selector, Wakeup, Woken};
