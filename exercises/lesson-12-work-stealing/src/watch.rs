//! The ring's atomics, and a way for a test to step in between two of a thief's operations.
//!
//! [`Counter`] is an `AtomicU32` and [`Slot`] an `AtomicU64`: the same methods, with the same
//! orderings, and nothing added to what they do. They exist for the tests in `tests/ring.rs`
//! that stop a thief right after one of its loads or swaps on a victim's ring and run the
//! victim's owner there, as another thread could at that moment, instead of waiting for real
//! threads to hit that moment by chance. Outside such a test they cost one thread-local check.

use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use crate::{CAPACITY, Ring};

/// A ring's `head` or `tail`: an [`AtomicU32`] with the methods a ring needs.
#[derive(Debug, Default)]
pub struct Counter {
    value: AtomicU32,
}

impl Counter {
    /// A counter at `value`.
    pub const fn new(value: u32) -> Counter {
        Counter {
            value: AtomicU32::new(value),
        }
    }

    /// [`AtomicU32::load`].
    pub fn load(&self, order: Ordering) -> u32 {
        let value = self.value.load(order);
        seen(self, None);
        value
    }

    /// [`AtomicU32::store`].
    pub fn store(&self, value: u32, order: Ordering) {
        self.value.store(value, order);
    }

    /// [`AtomicU32::fetch_add`] (wrapping).
    pub fn fetch_add(&self, value: u32, order: Ordering) -> u32 {
        self.value.fetch_add(value, order)
    }

    /// [`AtomicU32::compare_exchange`].
    pub fn compare_exchange(
        &self,
        current: u32,
        new: u32,
        success: Ordering,
        failure: Ordering,
    ) -> Result<u32, u32> {
        let result = self.value.compare_exchange(current, new, success, failure);
        seen(self, Some((new.wrapping_sub(current), result.is_ok())));
        result
    }

    /// [`AtomicU32::compare_exchange_weak`].
    pub fn compare_exchange_weak(
        &self,
        current: u32,
        new: u32,
        success: Ordering,
        failure: Ordering,
    ) -> Result<u32, u32> {
        let result = self
            .value
            .compare_exchange_weak(current, new, success, failure);
        seen(self, Some((new.wrapping_sub(current), result.is_ok())));
        result
    }
}

/// One of a ring's slots: an [`AtomicU64`] with the methods a ring needs.
#[derive(Debug, Default)]
pub struct Slot {
    value: AtomicU64,
}

impl Slot {
    /// A slot holding `value`.
    pub const fn new(value: u64) -> Slot {
        Slot {
            value: AtomicU64::new(value),
        }
    }

    /// [`AtomicU64::load`].
    pub fn load(&self, order: Ordering) -> u64 {
        if ARMED.get() {
            slot_read();
        }
        self.value.load(order)
    }

    /// [`AtomicU64::store`].
    pub fn store(&self, value: u64, order: Ordering) {
        self.value.store(value, order);
    }
}

/// When [`interleave`] runs the owner.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum When {
    /// Right after the thief's first load of the victim's `head` or `tail`, whichever is first.
    FirstLook,
    /// Right after the thief's first compare-and-swap of the victim's `head` that succeeds.
    Claimed,
}

/// What happened during [`interleave`].
#[derive(Debug)]
pub struct Interleaved<R> {
    /// What the thief returned.
    pub result: R,
    /// Whether the owner ran (the thief did what `when` waits for).
    pub owner_ran: bool,
    /// How far each of the thief's compare-and-swaps of the victim's `head` tried to move it
    /// (that is, how many tasks it tried to claim), won or lost, in order.
    pub claims: Vec<u32>,
}

/// Runs `thief` on this thread; the moment it does `when` on `victim`, runs `owner`, then lets
/// the thief go on. Panics if the thief reads more than `2 * CAPACITY` slots without a
/// compare-and-swap in between (it would be copying what a torn snapshot made up).
pub fn interleave<R>(
    victim: &Ring,
    when: When,
    owner: impl FnOnce() + 'static,
    thief: impl FnOnce() -> R,
) -> Interleaved<R> {
    struct Disarm;
    impl Drop for Disarm {
        fn drop(&mut self) {
            ARMED.set(false);
            WATCH.with(|w| w.borrow_mut().take());
        }
    }
    WATCH.with(|w| {
        *w.borrow_mut() = Some(Watch {
            head: &victim.head as *const Counter as usize,
            tail: &victim.tail as *const Counter as usize,
            when,
            owner: Some(Box::new(owner)),
            owner_running: false,
            claims: Vec::new(),
            slot_reads: 0,
        });
    });
    ARMED.set(true);
    let disarm = Disarm;
    let result = thief();
    let (owner_ran, claims) = WATCH.with(|w| {
        let mut w = w.borrow_mut();
        let watch = w.as_mut().expect("armed");
        (watch.owner.is_none(), std::mem::take(&mut watch.claims))
    });
    drop(disarm);
    Interleaved {
        result,
        owner_ran,
        claims,
    }
}

struct Watch {
    head: usize,
    tail: usize,
    when: When,
    owner: Option<Box<dyn FnOnce()>>,
    owner_running: bool,
    claims: Vec<u32>,
    slot_reads: u32,
}

thread_local! {
    static ARMED: Cell<bool> = const { Cell::new(false) };
    static WATCH: RefCell<Option<Watch>> = const { RefCell::new(None) };
}

/// A load (`swap` is `None`) or a compare-and-swap (how far, and whether it won) of `counter`.
fn seen(counter: &Counter, swap: Option<(u32, bool)>) {
    if !ARMED.get() {
        return;
    }
    let address = counter as *const Counter as usize;
    let owner = WATCH.with(|w| {
        let mut w = w.borrow_mut();
        let watch = w.as_mut()?;
        if watch.owner_running {
            return None;
        }
        if swap.is_some() {
            watch.slot_reads = 0;
        }
        let fire = match (swap, watch.when) {
            (None, When::FirstLook) => address == watch.head || address == watch.tail,
            (Some((claimed, won)), when) if address == watch.head => {
                watch.claims.push(claimed);
                when == When::Claimed && won
            }
            _ => false,
        };
        if !fire {
            return None;
        }
        let owner = watch.owner.take()?;
        watch.owner_running = true;
        Some(owner)
    });
    if let Some(owner) = owner {
        owner();
        WATCH.with(|w| {
            if let Some(watch) = w.borrow_mut().as_mut() {
                watch.owner_running = false;
            }
        });
    }
}

fn slot_read() {
    let reads = WATCH.with(|w| {
        let mut w = w.borrow_mut();
        let watch = w.as_mut()?;
        if watch.owner_running {
            return None;
        }
        watch.slot_reads += 1;
        Some(watch.slot_reads)
    });
    if let Some(reads) = reads
        && reads > 2 * CAPACITY
    {
        panic!(
            "the thief read {reads} slots without a compare-and-swap in between, from a ring \
             of {CAPACITY}: it is copying as many tasks as a torn (head, tail) snapshot said \
             were queued"
        );
    }
}
