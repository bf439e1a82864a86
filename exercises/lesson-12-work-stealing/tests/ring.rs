//! The ring on one thread: what goes where.

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
