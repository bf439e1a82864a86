//! The ring on one thread: what goes where.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use lesson_12_work_stealing::watch::{When, interleave};
use lesson_12_work_stealing::{CAPACITY, Ring};

fn drain(ring: &Ring) -> Vec<u64> {
    std::iter::from_fn(|| ring.pop()).collect()
}

fn filled(tasks: impl IntoIterator<Item = u64>) -> Ring {
    let ring = Ring::new();
    for t in tasks {
        ring.push(t).expect("the ring has room");
    }
    ring
}

#[test]
fn pop_takes_the_oldest_first() {
    let ring = filled([1, 2, 3]);
    assert_eq!(ring.len(), 3);
    assert_eq!(drain(&ring), [1, 2, 3]);
    assert!(ring.is_empty());
    assert_eq!(ring.pop(), None);
}

#[test]
fn the_ring_wraps_around() {
    let ring = Ring::new();
    let mut out = Vec::new();
    for t in 0..10 * u64::from(CAPACITY) {
        ring.push(t).expect("never more than two queued");
        if t % 2 == 1 {
            out.extend(ring.pop());
            out.extend(ring.pop());
        }
    }
    assert_eq!(out, (0..10 * u64::from(CAPACITY)).collect::<Vec<_>>());
}

// ANCHOR: overflow
#[test]
fn a_full_ring_hands_its_older_half_to_the_global_queue() {
    let ring = filled(1..=u64::from(CAPACITY));
    let spilled = ring
        .push(100)
        .expect_err("a full ring has no room for another task");
    assert_eq!(
        spilled,
        [1, 2, 3, 4, 100],
        "a full ring hands over its older half and the new task, oldest first"
    );
    assert_eq!(drain(&ring), [5, 6, 7, 8], "the newer half stays");
    // And there is room again: the next pushes do not spill.
    for t in 200..204 {
        ring.push(t).expect("half the ring is free after a spill");
    }
}
// ANCHOR_END: overflow

// ANCHOR: steal
#[test]
fn a_thief_takes_the_older_half_rounded_up() {
    let victim = filled([1, 2, 3, 4, 5]);
    let thief = Ring::new();
    assert_eq!(
        thief.steal_into(&victim),
        Some(3),
        "a thief takes 3 of 5 (half, rounded up) and runs the newest of them"
    );
    assert_eq!(
        drain(&thief),
        [1, 2],
        "the rest of the loot waits in the thief's ring"
    );
    assert_eq!(drain(&victim), [4, 5], "the victim keeps its newer half");

    let lone = filled([9]);
    assert_eq!(
        thief.steal_into(&lone),
        Some(9),
        "a lone task can be stolen"
    );
    assert!(thief.is_empty() && lone.is_empty());
}
// ANCHOR_END: steal

#[test]
fn a_thief_of_an_empty_ring_gets_nothing() {
    let thief = Ring::new();
    assert_eq!(thief.steal_into(&Ring::new()), None);
    assert!(thief.is_empty());
}

#[test]
fn steals_and_spills_keep_every_task() {
    // Push 100 tasks through a ring that thieves keep stealing from, and count.
    let owner = Ring::new();
    let thief = Ring::new();
    let mut seen = Vec::new();
    for t in 0..100u64 {
        if let Err(spilled) = owner.push(t) {
            seen.extend(spilled);
        }
        if t % 7 == 0 {
            seen.extend(thief.steal_into(&owner));
            seen.extend(drain(&thief));
        }
        if t % 5 == 0 {
            seen.extend(owner.pop());
        }
    }
    seen.extend(drain(&owner));
    seen.sort_unstable();
    assert_eq!(
        seen,
        (0..100).collect::<Vec<_>>(),
        "every task exactly once"
    );
}

/// Every task of `all` exactly once among the lists: which ones were lost, and which were
/// handed out more than once.
fn lost_and_twice(all: std::ops::RangeInclusive<u64>, lists: &[&[u64]]) -> (Vec<u64>, Vec<u64>) {
    let count = |t: u64| {
        lists
            .iter()
            .flat_map(|l| l.iter())
            .filter(|&&x| x == t)
            .count()
    };
    let lost = all.clone().filter(|&t| count(t) == 0).collect();
    let twice = all.filter(|&t| count(t) > 1).collect();
    (lost, twice)
}

// ANCHOR: claimed
#[test]
fn the_owner_refills_the_slots_a_thief_just_claimed() {
    // The victim holds g1-g4. The moment the thief's compare-and-swap of its head succeeds,
    // the owner (running all along on another thread) pushes g5, g6... until its ring is full
    // again, which writes into the very slots the thief just claimed.
    let victim = Rc::new(filled(1..=4));
    let thief = Ring::new();
    let owner_ring = Rc::clone(&victim);
    let pushed = Rc::new(Cell::new(4));
    let spilled = Rc::new(RefCell::new(Vec::new()));
    let (last, spill) = (Rc::clone(&pushed), Rc::clone(&spilled));
    let owner = move || {
        while owner_ring.len() < CAPACITY as usize {
            let t = last.get() + 1;
            last.set(t);
            if let Err(batch) = owner_ring.push(t) {
                spill.borrow_mut().extend(batch);
                break;
            }
        }
    };
    let run = interleave(&victim, When::Claimed, owner, || thief.steal_into(&victim));
    assert!(
        run.owner_ran,
        "the thief took nothing from a ring of four tasks"
    );
    let mut stolen = drain(&thief);
    stolen.extend(run.result);
    let left = drain(&victim);
    let (lost, twice) = lost_and_twice(1..=pushed.get(), &[&stolen, &left, &spilled.borrow()]);
    assert!(
        lost.is_empty() && twice.is_empty(),
        "lost {lost:?}, handed out twice {twice:?} (the thief got {stolen:?}, the victim kept \
         {left:?}): the moment a thief's compare-and-swap moves `head`, the owner may write new \
         tasks into those slots"
    );
}
// ANCHOR_END: claimed

// ANCHOR: torn
#[test]
fn a_torn_snapshot_is_not_believed() {
    // The victim holds g1-g4. Right after the thief's first look at the victim's head or tail,
    // the owner runs: it takes g1-g4, pushes g5-g12, and takes g5-g10. The thief's next load
    // sees a different moment from its first.
    let victim = Rc::new(filled(1..=4));
    let thief = Ring::new();
    let (owner_ring, owner_log) = (Rc::clone(&victim), Rc::new(RefCell::new(Vec::new())));
    let log = Rc::clone(&owner_log);
    let run = interleave(
        &victim,
        When::FirstLook,
        move || {
            let mut log = log.borrow_mut();
            log.extend(std::iter::from_fn(|| owner_ring.pop()).take(4));
            for t in 5..=12 {
                if let Err(spilled) = owner_ring.push(t) {
                    log.extend(spilled);
                }
            }
            log.extend(std::iter::from_fn(|| owner_ring.pop()).take(6));
        },
        || thief.steal_into(&victim),
    );
    assert!(
        run.owner_ran,
        "the thief never looked at the victim's head or tail"
    );
    let too_many: Vec<u32> = run
        .claims
        .iter()
        .copied()
        .filter(|&n| n > CAPACITY / 2)
        .collect();
    assert!(
        too_many.is_empty(),
        "the thief tried to claim {too_many:?} tasks at once (its claims: {:?}), from a ring \
         that never holds more than {CAPACITY}: half of that is {}. Its (head, tail) snapshot \
         was torn: the owner took and pushed tasks between the thief's two loads",
        run.claims,
        CAPACITY / 2
    );
    let mut stolen: Vec<u64> = drain(&thief);
    stolen.extend(run.result);
    let left = drain(&victim);
    let (lost, twice) = lost_and_twice(1..=12, &[&stolen, &left, &owner_log.borrow()]);
    assert!(
        lost.is_empty() && twice.is_empty(),
        "lost {lost:?}, handed out twice {twice:?} (the thief got {stolen:?}, the victim kept \
         {left:?})"
    );
}
// ANCHOR_END: torn
