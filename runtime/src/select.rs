//! `select!`: wait on several channel operations at once (Go: the `select` statement,
//! implemented by `selectgo` in `runtime/select.go`). Taught in lesson 08.
//!
//! Go and goro side by side:
//!
//! ```text
//! // Go                                   // goro
//! select {                                goro::select! {
//! case v, ok := <-jobs:                       recv(jobs) -> v => match v {
//!     if !ok { return }                           Ok(job) => run(job),
//!     run(v)                                      Err(_) => return, // closed and drained
//!                                             },
//! case results <- r:                          send(results, r) -> res => res.unwrap(),
//! case <-ctx.Done():                          recv(ctx.done()) => return,
//! case <-time.After(time.Second):             recv(goro::time::after(Duration::from_secs(1))) => {
//!     log.Println("slow")                         println!("slow")
//!                                             }
//! default:                                    default => println!("nothing ready"),
//! }                                       }
//! ```
//!
//! Arms, separated by commas (optional after a `{ block }` body):
//!
//! * `recv(rx) -> msg => body`: `rx` is a [`Receiver`] (or a reference
//!   to one); `msg: Result<T, RecvError>` is `Err` once the channel is closed and drained. A
//!   closed channel is always ready, as in Go. `-> msg` may be left out.
//! * `send(tx, value) -> res => body`: `res: Result<(), SendError<T>>`; `Err` hands the value
//!   back when every receiver is gone (Go would panic). `-> res` may be left out.
//! * `default => body`: runs at once when no other arm is ready (a non-blocking select).
//! * Timeouts are ordinary arms: `recv(goro::time::after(d))`.
//! * Go's nil channel: `rx` and `tx` may also be an `Option` of an endpoint (or a reference to
//!   one); `None` switches the arm off, it never fires. [`chan::never()`](crate::chan::never)
//!   does the same with a receiver.
//! * A list of channels known only at run time: [`Select`] (Go's `reflect.Select`).
//!
//! One pitfall Go does not have in this form: a goro channel closes by itself when its last
//! `Sender` is dropped, and a closed channel's receive arm is always ready. In a loop, stop
//! selecting on an input once it reported `Err`: rebind it to [`chan::never()`](crate::chan::never)
//! (Go's "set the channel to nil" idiom; see `examples/fan_in.rs`), or keep a `Sender` clone
//! alive while the loop runs; otherwise the loop keeps picking that arm.
//!
//! Semantics, as in Go: every channel and value expression is evaluated once, in source order,
//! before anything else; if one or more arms are ready, one of them is picked uniformly at
//! random (from the runtime's random source, so a deterministic runtime replays the same
//! choices); otherwise the task parks on all of them and the first operation to complete wins
//! (its wait nodes are queued in random order, so several arms on one channel win equally
//! often, as Go's permuted cases do).
//! Send values of arms that were not chosen are dropped. `select! {}` with no arms parks
//! forever (the deadlock detector will say so if nothing else runs).
//!
//! How it works (as `selectgo`): lock every channel involved, in address order; poll the arms
//! in a random order; if none is ready, put one wait node per arm on the channels' queues,
//! all pointing at one shared selector word, unlock and park. The first waker to claim the
//! word (a compare-and-swap) completes its arm; the others find it claimed and skip the node.
//! After waking, the task takes its remaining nodes off the other channels. A ready `select!`
//! allocates nothing; a blocking one allocates nothing either (the nodes live on the stack).

use crate::chan::{Chan, Fail, Receiver, RecvError, SendError, Sender};
use crate::task::parking::{current_parker, park_with};
use crate::task::state::WaitReason;
use crate::wait::{Selector, Waiter, Wakeup};
use std::cell::Cell;
use std::marker::PhantomData;
use std::sync::Arc;

/// Selects over channel operations; see the [module documentation](mod@crate::select) for the
/// arms, the semantics, and a side-by-side with Go.
///
/// ```
/// use goro::chan;
/// use std::time::Duration;
///
/// goro::run(|| {
///     let (tx, rx) = chan::bounded::<u32>(1);
///     // Nothing to receive yet and room to send: only the send arm is ready.
///     goro::select! {
///         recv(rx) -> msg => panic!("unexpected {msg:?}"),
///         send(tx, 7) -> res => res.expect("the receiver is alive"),
///     }
///     // Now the value waits in the buffer; a 1 s timeout arm loses.
///     let got = goro::select! {
///         recv(rx) -> msg => msg.unwrap(),
///         recv(goro::time::after(Duration::from_secs(1))) => 0,
///     };
///     assert_eq!(got, 7);
///     // Nothing ready at all: `default` runs at once.
///     let idle = goro::select! {
///         recv(rx) => false,
///         default => true,
///     };
///     assert!(idle);
/// });
/// ```
#[macro_export]
macro_rules! select {
    ($($tokens:tt)*) => {
        $crate::__select_parse!(@arms () () $($tokens)*)
    };
}

/// Parses `select!` arms into a normalized list. Not public API.
#[doc(hidden)]
#[macro_export]
macro_rules! __select_parse {
    // All arms parsed.
    (@arms $arms:tt $default:tt) => {
        $crate::__select_bind!($arms () $default)
    };
    (@arms $arms:tt $default:tt , $($rest:tt)*) => {
        $crate::__select_parse!(@arms $arms $default $($rest)*)
    };
    // Arm heads.
    (@arms $arms:tt $default:tt recv($rx:expr $(,)?) -> $p:pat => $($rest:tt)*) => {
        $crate::__select_parse!(@body $arms $default (recv ($rx) ($p)) $($rest)*)
    };
    (@arms $arms:tt $default:tt recv($rx:expr $(,)?) => $($rest:tt)*) => {
        $crate::__select_parse!(@body $arms $default (recv ($rx) (_)) $($rest)*)
    };
    (@arms $arms:tt $default:tt send($tx:expr, $v:expr $(,)?) -> $p:pat => $($rest:tt)*) => {
        $crate::__select_parse!(@body $arms $default (send ($tx, $v) ($p)) $($rest)*)
    };
    (@arms $arms:tt $default:tt send($tx:expr, $v:expr $(,)?) => $($rest:tt)*) => {
        $crate::__select_parse!(@body $arms $default (send ($tx, $v) (_)) $($rest)*)
    };
    (@arms $arms:tt () default => $($rest:tt)*) => {
        $crate::__select_parse!(@body $arms () (default) $($rest)*)
    };
    (@arms $arms:tt ($($default:tt)+) default => $($rest:tt)*) => {
        ::core::compile_error!("goro::select!: more than one `default` arm; keep only one")
    };
    (@arms $arms:tt $default:tt $($rest:tt)+) => {
        ::core::compile_error!(::core::concat!(
            "goro::select!: could not parse an arm starting at `",
            ::core::stringify!($($rest)+),
            "`; expected `recv(rx) -> msg => body`, `send(tx, value) -> res => body` ",
            "or `default => body`, separated by commas"
        ))
    };
    // Arm bodies: a block (comma optional) or an expression (comma required unless last).
    (@body $arms:tt $default:tt $head:tt $body:block , $($rest:tt)*) => {
        $crate::__select_parse!(@push $arms $default $head ($body) $($rest)*)
    };
    (@body $arms:tt $default:tt $head:tt $body:block $($rest:tt)*) => {
        $crate::__select_parse!(@push $arms $default $head ($body) $($rest)*)
    };
    (@body $arms:tt $default:tt $head:tt $body:expr , $($rest:tt)*) => {
        $crate::__select_parse!(@push $arms $default $head ($body) $($rest)*)
    };
    (@body $arms:tt $default:tt $head:tt $body:expr) => {
        $crate::__select_parse!(@push $arms $default $head ($body))
    };
    // Each @push expansion makes its own `__arm` identifier (macro hygiene), so every arm gets
    // a distinct local variable.
    (@push $arms:tt () (default) $body:tt $($rest:tt)*) => {
        $crate::__select_parse!(@arms $arms $body $($rest)*)
    };
    (@push ($($arms:tt)*) $default:tt ($kind:ident $args:tt $p:tt) $body:tt $($rest:tt)*) => {
        $crate::__select_parse!(@arms ($($arms)* ($kind $args $p __arm $body)) $default $($rest)*)
    };
}

/// Evaluates the channel expressions and builds the arms. Not public API.
#[doc(hidden)]
#[macro_export]
macro_rules! __select_bind {
    (() $done:tt $default:tt) => {
        $crate::__select_run!($done $default)
    };
    (((recv ($rx:expr) $p:tt $arm:ident $body:tt) $($rest:tt)*) ($($done:tt)*) $default:tt) => {
        // `match` keeps a temporary receiver (e.g. `ctx.done()`) alive for the whole select.
        match $rx {
            ref __goro_rx => {
                let $arm = $crate::select::RecvArm::new(__goro_rx);
                $crate::__select_bind!(($($rest)*) ($($done)* ($arm $p $body)) $default)
            }
        }
    };
    (((send ($tx:expr, $v:expr) $p:tt $arm:ident $body:tt) $($rest:tt)*) ($($done:tt)*) $default:tt) => {
        match $tx {
            ref __goro_tx => {
                let $arm = $crate::select::SendArm::new(__goro_tx, $v);
                $crate::__select_bind!(($($rest)*) ($($done)* ($arm $p $body)) $default)
            }
        }
    };
}

/// Runs the selection and dispatches to the chosen arm's body. Not public API.
#[doc(hidden)]
#[macro_export]
macro_rules! __select_run {
    (($(($arm:ident ($p:pat) ($body:expr)))*) ()) => {{
        $crate::select::select([$(&$arm),*], false);
        $(
            if $arm.chosen() {
                let $p = $arm.take();
                $body
            } else
        )* {
            ::core::unreachable!("goro::select!: no arm was chosen")
        }
    }};
    (($(($arm:ident ($p:pat) ($body:expr)))*) ($default:expr)) => {{
        $crate::select::select([$(&$arm),*], true);
        $(
            if $arm.chosen() {
                let $p = $arm.take();
                $body
            } else
        )* {
            $default
        }
    }};
}

/// A unit of wake-up work produced under a channel lock and performed after unlocking.
#[doc(hidden)]
pub struct Wake(Option<Wakeup>);

/// The shared "which arm won" word of one blocking select.
#[doc(hidden)]
pub struct SelectCtx(Selector);

/// One arm of a `select!`. Not public API: implemented by [`RecvArm`] and [`SendArm`].
///
/// # Safety
/// Implementations must lock and unlock the same lock, identified by `lock_addr`, and keep
/// their wait node alive and linked only as the methods below describe.
#[doc(hidden)]
pub unsafe trait Arm {
    /// Address of the channel lock: the lock order, and how duplicates are detected.
    fn lock_addr(&self) -> usize;
    /// Takes the channel lock.
    fn lock(&self);
    /// Releases the channel lock.
    fn unlock(&self);
    /// Completes the operation if it is ready.
    ///
    /// # Safety
    /// The channel lock is held.
    unsafe fn poll(&self) -> Option<Wake>;
    /// Puts this arm's node on the channel's queue.
    ///
    /// # Safety
    /// The channel lock is held; the node is not linked; `sel` outlives the linked period.
    unsafe fn enqueue(&self, sel: &SelectCtx, index: usize);
    /// Takes the node off the channel's queue if it is still there (takes the lock itself).
    fn dequeue(&self);
    /// Marks this arm as the one that completed.
    fn set_chosen(&self);
}

/// What a `recv(..)` arm accepts: a [`Receiver`], a reference to one, or an `Option` of either,
/// whose `None` is an arm that never fires (Go's nil channel).
pub trait SelectRecv<T> {
    /// The receiver to wait on, or `None` for an arm that is switched off.
    fn receiver(&self) -> Option<&Receiver<T>>;
}

impl<T> SelectRecv<T> for Receiver<T> {
    fn receiver(&self) -> Option<&Receiver<T>> {
        Some(self)
    }
}

impl<T, R: SelectRecv<T> + ?Sized> SelectRecv<T> for &R {
    fn receiver(&self) -> Option<&Receiver<T>> {
        (**self).receiver()
    }
}

impl<T, R: SelectRecv<T>> SelectRecv<T> for Option<R> {
    fn receiver(&self) -> Option<&Receiver<T>> {
        self.as_ref().and_then(|r| r.receiver())
    }
}

/// What a `send(..)` arm accepts: a [`Sender`], a reference to one, or an `Option` of either,
/// whose `None` is an arm that never fires (Go's nil channel).
pub trait SelectSend<T> {
    /// The sender to offer the value to, or `None` for an arm that is switched off.
    fn sender(&self) -> Option<&Sender<T>>;
}

impl<T> SelectSend<T> for Sender<T> {
    fn sender(&self) -> Option<&Sender<T>> {
        Some(self)
    }
}

impl<T, S: SelectSend<T> + ?Sized> SelectSend<T> for &S {
    fn sender(&self) -> Option<&Sender<T>> {
        (**self).sender()
    }
}

impl<T, S: SelectSend<T>> SelectSend<T> for Option<S> {
    fn sender(&self) -> Option<&Sender<T>> {
        self.as_ref().and_then(|s| s.sender())
    }
}

/// A `recv(rx)` arm. Not public API.
///
/// A switched-off arm (a `None` endpoint) waits on a channel of its own that nobody can send
/// on, so the select's hot path has no extra branch for it.
#[doc(hidden)]
pub struct RecvArm<'a, T> {
    /// The channel: borrowed for `'a` from the caller's receiver, or owned by `off`.
    chan: *const Chan<T>,
    /// The never-ready channel of a switched-off arm.
    _off: Option<Receiver<T>>,
    node: Waiter<T>,
    chosen: Cell<bool>,
    _borrow: PhantomData<&'a Chan<T>>,
}

impl<'a, T> RecvArm<'a, T> {
    /// Builds the arm.
    pub fn new(rx: &'a (impl SelectRecv<T> + ?Sized)) -> Self {
        let (chan, off) = match rx.receiver() {
            Some(rx) => (Arc::as_ptr(&rx.chan), None),
            None => {
                let never = crate::chan::never();
                (Arc::as_ptr(&never.chan), Some(never))
            }
        };
        RecvArm {
            chan,
            _off: off,
            node: Waiter::new(None),
            chosen: Cell::new(false),
            _borrow: PhantomData,
        }
    }

    #[inline(always)]
    fn chan(&self) -> &Chan<T> {
        // SAFETY: `chan` points into a receiver borrowed for `'a` (which outlives `self`) or
        // into `self.off`'s `Arc`, whose allocation does not move when `self` does.
        unsafe { &*self.chan }
    }
    /// Whether `select` picked this arm.
    pub fn chosen(&self) -> bool {
        self.chosen.get()
    }
    /// The received value, or `Err` if the channel was closed and drained.
    pub fn take(&self) -> Result<T, RecvError> {
        // SAFETY: `select` unlinks every node before it returns, and this type is not Sync,
        // so no other thread can reach the node now.
        unsafe { self.node.take() }.ok_or(RecvError)
    }
}

// SAFETY: lock/unlock/lock_addr all refer to the channel's one lock; the node is linked only by
// `enqueue` (under the lock) and unlinked by wakers or `dequeue` (under the lock).
unsafe impl<T> Arm for RecvArm<'_, T> {
    fn lock_addr(&self) -> usize {
        self.chan().state.addr()
    }
    fn lock(&self) {
        self.chan().state.lock();
    }
    fn unlock(&self) {
        self.chan().state.unlock();
    }
    unsafe fn poll(&self) -> Option<Wake> {
        // SAFETY: the caller holds the lock.
        let st = unsafe { self.chan().state.get() };
        // SAFETY: lock held.
        let (value, wake) = unsafe { Chan::poll_recv(st) }?;
        match value {
            // SAFETY: the node is not linked during polling: it is ours alone.
            Some(v) => unsafe { self.node.put(v) },
            None => self.node.set_disconnected(),
        }
        Some(Wake(wake))
    }
    unsafe fn enqueue(&self, sel: &SelectCtx, index: usize) {
        self.node.prepare(&sel.0, index);
        // SAFETY: lock held (caller); the node lives in `self`, which `select` borrows until
        // every node is dequeued.
        unsafe { self.chan().state.get().recvq.push_back(&self.node) };
    }
    fn dequeue(&self) {
        self.chan().unlink(&self.node, true);
    }
    fn set_chosen(&self) {
        self.chosen.set(true);
    }
}

/// A `send(tx, value)` arm. Not public API. A switched-off arm offers its value to a
/// rendezvous channel of its own whose receiver never receives.
#[doc(hidden)]
pub struct SendArm<'a, T> {
    /// The channel: borrowed for `'a` from the caller's sender, or owned by `off`.
    chan: *const Chan<T>,
    /// The never-ready channel of a switched-off arm (both ends, so it stays connected).
    _off: Option<(Sender<T>, Receiver<T>)>,
    node: Waiter<T>,
    chosen: Cell<bool>,
    _borrow: PhantomData<&'a Chan<T>>,
}

impl<'a, T> SendArm<'a, T> {
    /// Builds the arm; the value is offered to the channel.
    pub fn new(tx: &'a (impl SelectSend<T> + ?Sized), value: T) -> Self {
        let (chan, off) = match tx.sender() {
            Some(tx) => (Arc::as_ptr(&tx.chan), None),
            None => {
                let pair = crate::chan::bounded(0);
                (Arc::as_ptr(&pair.0.chan), Some(pair))
            }
        };
        SendArm {
            chan,
            _off: off,
            node: Waiter::new(Some(value)),
            chosen: Cell::new(false),
            _borrow: PhantomData,
        }
    }

    #[inline(always)]
    fn chan(&self) -> &Chan<T> {
        // SAFETY: as in `RecvArm::chan`.
        unsafe { &*self.chan }
    }
    /// Whether `select` picked this arm.
    pub fn chosen(&self) -> bool {
        self.chosen.get()
    }
    /// `Ok` if the value was sent, or the value back if every receiver is gone.
    pub fn take(&self) -> Result<(), SendError<T>> {
        if self.node.was_disconnected() {
            // SAFETY: as in `RecvArm::take`.
            if let Some(v) = unsafe { self.node.take() } {
                return Err(SendError(v));
            }
        }
        Ok(())
    }
}

// SAFETY: as for `RecvArm`.
unsafe impl<T> Arm for SendArm<'_, T> {
    fn lock_addr(&self) -> usize {
        self.chan().state.addr()
    }
    fn lock(&self) {
        self.chan().state.lock();
    }
    fn unlock(&self) {
        self.chan().state.unlock();
    }
    unsafe fn poll(&self) -> Option<Wake> {
        let chan = self.chan();
        // SAFETY: the node is not linked during polling: it is ours alone.
        let value = unsafe { self.node.take() }?;
        // SAFETY: the caller holds the lock.
        let st = unsafe { chan.state.get() };
        // SAFETY: lock held.
        match unsafe { Chan::poll_send(st, chan.cap, value) } {
            Ok(wake) => Some(Wake(wake)),
            Err((value, fail)) => {
                // SAFETY: as above.
                unsafe { self.node.put(value) };
                if fail == Fail::Disconnected {
                    self.node.set_disconnected();
                    Some(Wake(None))
                } else {
                    None
                }
            }
        }
    }
    unsafe fn enqueue(&self, sel: &SelectCtx, index: usize) {
        self.node.prepare(&sel.0, index);
        // SAFETY: as for `RecvArm::enqueue`.
        unsafe { self.chan().state.get().sendq.push_back(&self.node) };
    }
    fn dequeue(&self) {
        self.chan().unlink(&self.node, false);
    }
    fn set_chosen(&self) {
        self.chosen.set(true);
    }
}

/// Runs a select over `arms`; with `has_default`, returns at once if none is ready. The chosen
/// arm is marked (see `chosen()`); with a default and nothing ready, none is. Not public API.
#[doc(hidden)]
#[track_caller]
pub fn select<const N: usize>(arms: [&dyn Arm; N], has_default: bool) {
    // Each arm owns one wait node, which can sit on one queue only. The macro never repeats an
    // arm; this check keeps the hidden API sound if someone calls it by hand.
    for i in 1..N {
        for j in 0..i {
            assert!(
                !std::ptr::addr_eq(arms[i], arms[j]),
                "goro::select::select: the same arm was passed twice"
            );
        }
    }
    // Go's pollorder: a random permutation (Fisher-Yates), so every ready arm is equally likely.
    let mut poll_order = [0usize; N];
    for i in 0..N {
        let j = random_below(i + 1);
        poll_order[i] = poll_order[j];
        poll_order[j] = i;
    }
    // Go's lockorder: by lock address, so two selects never lock the same pair in opposite orders.
    let mut lock_order = [0usize; N];
    for (i, slot) in lock_order.iter_mut().enumerate() {
        *slot = i;
    }
    lock_order.sort_unstable_by_key(|&i| arms[i].lock_addr());
    run(&arms, &poll_order, &lock_order, has_default);
}

/// A select over a list of operations whose length is known only at run time (Go's
/// `reflect.Select`, crossbeam's `Select`); all channels carry the same type `T`.
///
/// ```
/// use goro::chan;
/// use goro::select::{Select, Selected};
///
/// goro::run(|| {
///     let inputs: Vec<_> = (0..5).map(|_| chan::bounded::<u32>(1)).collect();
///     inputs[3].0.send(30).unwrap();
///     let mut sel = Select::new();
///     for (_, rx) in &inputs {
///         sel.recv(rx);
///     }
///     match sel.select() {
///         Selected::Received(index, msg) => assert_eq!((index, msg), (3, Ok(30))),
///         Selected::Sent(..) => unreachable!("no send operations"),
///     }
/// });
/// ```
///
/// Operations are numbered in the order they were added. The semantics are `select!`'s: a
/// ready operation is picked at random, otherwise the task waits for the first to complete;
/// [`try_select`](Select::try_select) is the `default` arm. A `None` endpoint adds an operation
/// that never fires.
pub struct Select<'a, T> {
    ops: Vec<DynArm<'a, T>>,
}

enum DynArm<'a, T> {
    RecvOp(RecvArm<'a, T>),
    SendOp(SendArm<'a, T>),
}

impl<T> DynArm<'_, T> {
    fn arm(&self) -> &dyn Arm {
        match self {
            DynArm::RecvOp(a) => a,
            DynArm::SendOp(a) => a,
        }
    }
}

/// The operation a [`Select`] completed: its index, and what `recv` or `send` returned.
#[derive(Debug, PartialEq, Eq)]
pub enum Selected<T> {
    /// Operation `index` received a value, or `Err` if its channel is closed and drained.
    /// (Not named `Recv`/`Send`: a public item named `Send` makes rustc spell the marker trait
    /// `std::marker::Send` in every error message of every crate that uses goro.)
    Received(usize, Result<T, RecvError>),
    /// Operation `index` sent its value, or got it back because every receiver is gone.
    Sent(usize, Result<(), SendError<T>>),
}

impl<T> Selected<T> {
    /// The index of the completed operation.
    pub fn index(&self) -> usize {
        match self {
            Selected::Received(i, _) | Selected::Sent(i, _) => *i,
        }
    }
}

impl<T> Default for Select<'_, T> {
    fn default() -> Self {
        Select::new()
    }
}

impl<'a, T> Select<'a, T> {
    /// An empty select (selecting on it waits forever, like `select! {}`).
    pub fn new() -> Self {
        Select { ops: Vec::new() }
    }

    /// Adds a receive operation; returns its index.
    pub fn recv(&mut self, rx: &'a (impl SelectRecv<T> + ?Sized)) -> usize {
        self.ops.push(DynArm::RecvOp(RecvArm::new(rx)));
        self.ops.len() - 1
    }

    /// Adds a send operation offering `value`; returns its index. If another operation is
    /// chosen, the value is dropped.
    pub fn send(&mut self, tx: &'a (impl SelectSend<T> + ?Sized), value: T) -> usize {
        self.ops.push(DynArm::SendOp(SendArm::new(tx, value)));
        self.ops.len() - 1
    }

    /// Waits until one operation completes, and returns it.
    pub fn select(self) -> Selected<T> {
        self.run(false)
            .expect("a blocking select completes an operation")
    }

    /// Completes one ready operation, or returns `None` at once if none is ready.
    pub fn try_select(self) -> Option<Selected<T>> {
        self.run(true)
    }

    fn run(self, has_default: bool) -> Option<Selected<T>> {
        let arms: Vec<&dyn Arm> = self.ops.iter().map(DynArm::arm).collect();
        let n = arms.len();
        let mut poll_order: Vec<usize> = (0..n).collect();
        for i in 1..n {
            poll_order.swap(i, random_below(i + 1));
        }
        let mut lock_order: Vec<usize> = (0..n).collect();
        lock_order.sort_unstable_by_key(|&i| arms[i].lock_addr());
        run(&arms, &poll_order, &lock_order, has_default);
        drop(arms);
        self.ops
            .into_iter()
            .enumerate()
            .find_map(|(i, op)| match op {
                DynArm::RecvOp(a) if a.chosen() => Some(Selected::Received(i, a.take())),
                DynArm::SendOp(a) if a.chosen() => Some(Selected::Sent(i, a.take())),
                _ => None,
            })
    }
}

fn random_below(n: usize) -> usize {
    if n <= 1 {
        return 0;
    }
    // Lemire's multiply-shift: uniform enough for arm choice and cheaper than `%`.
    ((crate::rand::fastrand() as u32 as u64 * n as u64) >> 32) as usize
}

fn lock_all(arms: &[&dyn Arm], lock_order: &[usize]) {
    let mut last = 0;
    for &i in lock_order {
        let addr = arms[i].lock_addr();
        if addr != last {
            arms[i].lock();
            last = addr;
        }
    }
}

fn unlock_all(arms: &[&dyn Arm], lock_order: &[usize]) {
    let mut last = 0;
    for &i in lock_order {
        let addr = arms[i].lock_addr();
        if addr != last {
            arms[i].unlock();
            last = addr;
        }
    }
}

#[track_caller]
fn run(arms: &[&dyn Arm], poll_order: &[usize], lock_order: &[usize], has_default: bool) {
    if arms.is_empty() {
        if has_default {
            return;
        }
        loop {
            park_with(WaitReason::SelectNoCases);
        }
    }
    lock_all(arms, lock_order);
    // Pass 1: is anything ready? Take the first ready arm in random order.
    for &i in poll_order {
        // SAFETY: every channel lock is held.
        if let Some(Wake(wake)) = unsafe { arms[i].poll() } {
            unlock_all(arms, lock_order);
            arms[i].set_chosen();
            // A preemption point when exploring (`crate::check`), on either path.
            match wake {
                Some(p) => p.wake_at_point(),
                None => crate::sched::preemption_point(),
            }
            return;
        }
    }
    if has_default {
        unlock_all(arms, lock_order);
        crate::sched::preemption_point();
        return;
    }
    // Pass 2: wait on all of them. The nodes go on their queues in the random poll order, so
    // among several arms on one channel, the one a waker finds first is a random one too.
    let sel = SelectCtx(Selector::new(current_parker()));
    for &i in poll_order {
        // SAFETY: `poll_order` is a permutation of `0..arms.len()` (both callers build it so),
        // so `i` is in bounds. Locks held; each node is unlinked; `sel` lives until `Dequeue`
        // below has taken every node off its queue.
        unsafe { arms.get_unchecked(i).enqueue(&sel, i) };
    }
    unlock_all(arms, lock_order);
    let dequeue = Dequeue { arms, sel: &sel };
    let woken = sel.0.wait(WaitReason::Select);
    drop(dequeue);
    let Some(index) = woken.arm() else {
        unreachable!("only the owner gives up a select, and it is parked");
    };
    arms[index].set_chosen();
}

/// Takes every node of a parked select off its queue: after a wakeup (pass 3 of `selectgo`),
/// and also if the wait unwinds because the runtime is shutting down.
struct Dequeue<'a, 'b> {
    arms: &'a [&'b dyn Arm],
    sel: &'a SelectCtx,
}

impl Drop for Dequeue<'_, '_> {
    fn drop(&mut self) {
        // Normally an arm already won; while unwinding this stops new wakers from claiming us.
        self.sel.0.give_up_spinning();
        for arm in self.arms {
            arm.dequeue();
        }
    }
}
