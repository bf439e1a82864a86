//! Where a worker looks for its next task, and in which order.

use crate::CAPACITY;
use crate::sim::{FAIRNESS_TICK, Found, Places, Source};

// ANCHOR: find_task
/// The next task for one worker, or `None` if there is nothing anywhere.
pub fn find_task(places: Places<'_>) -> Option<Found> {
    let Places {
        tick,
        own,
        global,
        victims,
        workers,
    } = places;
    // Now and then the global queue goes first, or a busy ring could starve it for ever.
    if tick % FAIRNESS_TICK == 0
        && let Some(task) = global.pop_front()
    {
        return Some(Found {
            task,
            source: Source::FairnessTick,
        });
    }
    if let Some(task) = own.pop() {
        return Some(Found {
            task,
            source: Source::Own,
        });
    }
    // A fair share of the global queue: leave some for the other workers, and no more than
    // half a ring, so that the next spawns do not overflow straight back.
    let share = (global.len() / workers + 1)
        .min(global.len())
        .min(CAPACITY as usize / 2);
    if let Some(task) = global.pop_front() {
        for _ in 1..share {
            let more = global.pop_front().expect("share <= global.len()");
            if let Err(batch) = own.push(more) {
                // Cannot happen (the ring was empty), but never lose a task.
                global.extend(batch);
            }
        }
        return Some(Found {
            task,
            source: Source::Global,
        });
    }
    for (victim, ring) in victims {
        if let Some(task) = own.steal_into(ring) {
            return Some(Found {
                task,
                source: Source::Stolen { victim },
            });
        }
    }
    None
}
// ANCHOR_END: find_task
