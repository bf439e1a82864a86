//! Lesson 12: work stealing.
//!
//! A worker's local run queue is a fixed-size ring that its owner fills at the tail and empties
//! at the head without a lock, and that idle workers steal half of. You build it in
//! `src/ring.rs`, and the order in which a worker looks for its next task in `src/schedule.rs`.
//!
//! Given: the [`Ring`] type below (its fields are the whole of its state), a step-by-step
//! simulation of several workers ([`sim`]) that prints what each of them does, and, in
//! [`migrate`], the one kind of task the compiler can prove safe to move between threads.
//! The ring's atomics come from [`watch`]: they behave exactly like `AtomicU32` and
//! `AtomicU64`, and let the tests stop a thief at the worst moment and run the owner there.

pub mod migrate;
pub mod ring;
pub mod schedule;
pub mod sim;
pub mod watch;

use watch::{Counter, Slot};

// ANCHOR: ring
/// Slots in a ring. Go and goro use 256; eight keeps the simulation's traces short.
pub const CAPACITY: u32 = 8;

/// A worker's local run queue: at most [`CAPACITY`] task ids, oldest at `head`.
///
/// `head` and `tail` are free-running counters (they only ever grow, wrapping at `u32::MAX`):
/// the queued tasks are at positions `head..tail`, and position `p` lives in
/// `slots[p % CAPACITY]`. Only the ring's owner (one worker) moves `tail`; the owner and every
/// thief move `head`, each with a compare-and-swap, so that each task is handed out once.
pub struct Ring {
    /// Position of the oldest queued task: where `pop` and thieves take from.
    pub(crate) head: Counter,
    /// Position one past the newest queued task: where the owner's `push` writes.
    pub(crate) tail: Counter,
    /// The task ids. Atomics, so that a thief reading a slot while the owner rewrites it gets
    /// an old or a new value, never undefined behaviour; which one it got is its problem.
    pub(crate) slots: [Slot; CAPACITY as usize],
}
// ANCHOR_END: ring

impl Ring {
    /// An empty ring.
    pub fn new() -> Ring {
        Ring {
            head: Counter::new(0),
            tail: Counter::new(0),
            slots: std::array::from_fn(|_| Slot::new(0)),
        }
    }

    /// The slot that holds position `position`.
    pub(crate) fn slot(&self, position: u32) -> &Slot {
        &self.slots[(position % CAPACITY) as usize]
    }
}

impl Default for Ring {
    fn default() -> Ring {
        Ring::new()
    }
}
