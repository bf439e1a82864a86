//! Where a worker looks for its next task, and in which order.

use crate::sim::{Found, Places, Source};

// ANCHOR: find_task
/// The next task for one worker, or `None` if there is nothing anywhere.
pub fn find_task(places: Places<'_>) -> Option<Found> {
    // TODO(lesson): this worker can starve the global queue, and takes from it one task at
    // a time.
    let Places {
        own,
        global,
        victims,
        ..
    } = places;
    if let Some(task) = own.pop() {
        return Some(Found {
            task,
            source: Source::Own,
        });
    }
    if let Some(task) = global.pop_front() {
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
