//! Models of the selector's claim (`wait/selector.rs`): wakers racing to complete a multi-node
//! wait (a `select!` with several arms) with `try_claim` and `complete`, against each other
//! and against the owner giving up (`try_give_up`, `give_up_spinning`).
//!
//! A solo selector (one node, one queue) is not modelled here: its claim is the unlink of its
//! node under the queue's lock, with no atomic of its own, so it is the raw lock's model that
//! covers it.

use std::sync::Arc;

use ::loom::cell::UnsafeCell;
use ::loom::thread;

use super::{Sched, check, task};
use crate::task::record::{Parker, TaskRef};
use crate::wait::{Selector, Woken};

/// One `select!`: its selector and the slot each arm's waker moves a value into.
struct Select {
    sel: Selector,
    /// The value the winning waker delivered (`arm * 100 + 7`), a loom cell so loom checks that
    /// the owner reads it only after the winner wrote it.
    slot: UnsafeCell<usize>,
}

// SAFETY: in goro the selector and the slot live on the owner's stack and wakers reach them
// through pointers in wait-queue nodes; the protocol under test (only a claimer touches the
// parker and the slot, before it publishes) is what makes that sound, and loom checks it.
unsafe impl Sync for Select {}
// SAFETY: as above.
unsafe impl Send for Select {}

impl Select {
    fn new(owner: &TaskRef) -> Select {
        Select {
            sel: Selector::new(Parker::Task(owner.clone())),
            slot: UnsafeCell::new(0),
        }
    }

    /// A waker for arm `arm`, as a channel operation runs it once it unlinked the node: claim,
    /// move the value, publish, and wake the owner. Returns whether it won.
    fn complete(&self, sched: &Sched, arm: usize) -> bool {
        if !self.sel.try_claim() {
            return false;
        }
        // SAFETY: the claim makes this waker the only one to touch the slot until it publishes.
        self.slot.with_mut(|s| unsafe { *s = arm * 100 + 7 });
        // SAFETY: our claim succeeded and the slot is written; we touch neither afterwards.
        if let Some(p) = unsafe { self.sel.complete(arm) } {
            sched.wake(p);
        }
        true
    }

    /// The owner, once the wait ended: the value of the arm that completed.
    fn delivered(&self, woken: Woken) -> Option<usize> {
        let arm = woken.arm()?;
        // SAFETY: read after the final state was seen (Acquire); loom checks the ordering.
        let v = self.slot.with(|s| unsafe { *s });
        assert_eq!(
            v,
            arm * 100 + 7,
            "arm {arm} completed but its value is not there"
        );
        Some(arm)
    }
}

/// Two wakers race to complete two arms of one `select!` whose owner parks until one did
/// (`Selector::wait`: look at `finished`, park, look again).
///
/// Checks rules 1 to 3 of the selector: **exactly one arm completes** (one claim wins), the
/// owner **sees that arm and its value** (published with Release, read with Acquire), and
/// **the owner is woken** (the winner takes the parker and unparks it: no lost wakeup, which
/// loom would report as a deadlock).
#[test]
fn loom_selector_exactly_one_arm_completes_and_wakes_the_owner() {
    check("selector, two wakers", 3, || {
        let sched = Arc::new(Sched::new());
        let owner = task(1);
        let select = Arc::new(Select::new(&owner));
        let wakers: Vec<_> = (0..2)
            .map(|arm| {
                let (sched, select) = (sched.clone(), select.clone());
                thread::spawn(move || select.complete(&sched, arm))
            })
            .collect();
        let woken = loop {
            if let Some(w) = select.sel.finished() {
                break w;
            }
            sched.park(&owner);
        };
        let arm = select.delivered(woken).expect("no timeout in this model");
        let won: Vec<bool> = wakers.into_iter().map(|h| h.join().unwrap()).collect();
        assert_eq!(won.iter().filter(|&&w| w).count(), 1, "claims won: {won:?}");
        assert!(
            won[arm],
            "arm {arm} was reported but its waker lost the claim"
        );
        // A waker that lost left no token behind; the winner's unpark may have, if the owner
        // saw the final state before parking: consume it so the model ends idle.
        owner.st.take_token();
        sched.assert_idle();
    });
}

/// A waker races the owner giving up (a deadline passing): the owner claims its own selector
/// with `try_give_up`, and parks for the waker's result if that failed.
///
/// Checks rule 3 against a timeout: **a timeout and a completion never both win**, and the
/// owner learns which one did (`TimedOut` exactly when the waker's claim failed).
#[test]
fn loom_selector_a_timeout_and_a_completion_never_both_win() {
    check("selector, give up vs waker", 3, || {
        let sched = Arc::new(Sched::new());
        let owner = task(1);
        let select = Arc::new(Select::new(&owner));
        let waker = {
            let (sched, select) = (sched.clone(), select.clone());
            thread::spawn(move || select.complete(&sched, 0))
        };
        let woken = if select.sel.try_give_up() {
            Woken::TIMED_OUT
        } else {
            loop {
                if let Some(w) = select.sel.finished() {
                    break w;
                }
                sched.park(&owner);
            }
        };
        let arm = select.delivered(woken);
        let won = waker.join().unwrap();
        assert_eq!(won, arm.is_some(), "waker won: {won}, owner saw {woken:?}");
        owner.st.take_token();
        sched.assert_idle();
    });
}

/// A waker races an owner that is unwinding and cannot park: `give_up_spinning` claims the
/// selector as timed out, or spins until a waker that claimed it first publishes its arm.
///
/// Checks that the spin **ends with the waker's arm and value** when the waker claimed first
/// (rule 2: `Busy` is always followed by `Done`), and that exactly one side wins.
#[test]
fn loom_selector_giving_up_while_unwinding_sees_a_claimed_arm() {
    check("selector, give up spinning", 3, || {
        let sched = Arc::new(Sched::new());
        let owner = task(1);
        let select = Arc::new(Select::new(&owner));
        let waker = {
            let (sched, select) = (sched.clone(), select.clone());
            thread::spawn(move || select.complete(&sched, 1))
        };
        let woken = select.sel.give_up_spinning();
        let arm = select.delivered(woken);
        let won = waker.join().unwrap();
        assert_eq!(won, arm == Some(1), "waker won: {won}, owner saw {woken:?}");
        owner.st.take_token();
        sched.assert_idle();
    });
}
