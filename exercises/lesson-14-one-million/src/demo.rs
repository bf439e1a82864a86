//! The demo: how many tasks, on how much stack, and the run itself.
//!
//! TODO(lesson): this version answers every message, and that is all that can be said for it.
//! Make it fit: a plan this kernel can keep, a stack size chosen from evidence, tasks that park
//! while they wait and end on their own. The page's "The exercise" section lists what the tests
//! measure.

use std::collections::VecDeque;
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::{Kernel, Probe, handle};

/// What the run will launch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Plan {
    /// Tasks to launch.
    pub tasks: usize,
    /// Usable stack bytes per task.
    pub stack_size: usize,
}

// ANCHOR: plan
/// How many of the `wanted` tasks this kernel allows, and their stack size.
pub fn plan(kernel: &Kernel, wanted: usize) -> Plan {
    let _ = kernel;
    Plan {
        tasks: wanted,
        // As much as a Rust thread gets by default would be 2 MiB; surely 1 MiB is modest.
        stack_size: 1024 * 1024,
    }
}
// ANCHOR_END: plan

// ANCHOR: run
/// Launches `plan.tasks` tasks that wait for a message, messages `messages` of them, stops
/// them all and returns how many messages were answered.
pub fn run(plan: &Plan, messages: usize, probe: &Probe) -> usize {
    let rt = goro::Runtime::builder()
        .stack_size(plan.stack_size)
        .build()
        .expect("the plan's stack size is valid");
    let (tasks, probe) = (plan.tasks, probe.clone());
    rt.block_on(move || {
        let mailbox = Arc::new(Mutex::new(VecDeque::<u64>::new()));
        let answered = Arc::new(AtomicUsize::new(0));
        for _ in 0..tasks {
            let (mailbox, answered) = (mailbox.clone(), answered.clone());
            goro::spawn(move || {
                // Room for the biggest message this task could ever get.
                let mut buffer = [0u8; 16 * 1024];
                black_box(&mut buffer);
                loop {
                    let msg = mailbox.lock().unwrap().pop_front();
                    match msg {
                        Some(msg) => {
                            black_box(handle(msg));
                            answered.fetch_add(1, Ordering::Relaxed);
                        }
                        None => goro::yield_now(),
                    }
                }
            });
        }
        probe.all_parked();

        mailbox.lock().unwrap().extend(0..messages as u64);
        while answered.load(Ordering::Relaxed) < messages {
            goro::yield_now();
        }
        // Returning from main ends the run; the runtime cancels whatever is left.
        answered.load(Ordering::Relaxed)
    })
    .expect("the run does not deadlock")
}
// ANCHOR_END: run
