//! The demo: how many tasks, on how much stack, and the run itself.

use goro::chan;
use goro::stack::GuardKind;
use goro::sync::WaitGroup;

use crate::{Kernel, Probe, handle};

/// What the run will launch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Plan {
    /// Tasks to launch.
    pub tasks: usize,
    /// Usable stack bytes per task.
    pub stack_size: usize,
}

// ANCHOR: stack_size
/// `measure_stack(|| { handle(7); })` touches 7 pages (28 KiB) in a debug build, 6 in release:
/// the 24 KiB scratch buffer and the frames around it. 64 KiB leaves more than twice that, and
/// costs 160 bytes of page table per touched stack ((64 + 16) KiB / 512: the slot includes a
/// 16 KiB guard).
const STACK_SIZE: usize = 64 * 1024;

/// Mappings kept free for everything else the process maps while the tasks live: goro keeps
/// 4,096 for the rest of the program and carves no stack past that (the error names the
/// limit; `goro::stack::max_guarded_stacks()` says it), and the main task needs a stack too.
const MAPPINGS_HEADROOM: usize = 4_500;
// ANCHOR_END: stack_size

// ANCHOR: plan
/// How many of the `wanted` tasks this kernel allows, and their stack size.
pub fn plan(kernel: &Kernel, wanted: usize) -> Plan {
    let tasks = match kernel.guard {
        // Guard markers live in the page table: stacks share their slab's one mapping.
        GuardKind::MadvGuard => wanted,
        // Each mprotect guard splits its slab: one mapping for the guard, one for the stack.
        GuardKind::Mprotect => {
            let free = kernel
                .max_map_count
                .saturating_sub(kernel.mappings + MAPPINGS_HEADROOM);
            wanted.min(free / 2)
        }
    };
    Plan {
        tasks,
        stack_size: STACK_SIZE,
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
        // One shared mailbox: a parked task holds two channel ends and a WaitGroup, nothing
        // more. Dropping the last sender is the shutdown broadcast.
        let (jobs, inbox) = chan::bounded::<u64>(0);
        let (reply, replies) = chan::unbounded::<u64>();
        let (ready, stopped) = (WaitGroup::new(), WaitGroup::new());
        ready.add(tasks);
        stopped.add(tasks);
        for _ in 0..tasks {
            let (inbox, reply) = (inbox.clone(), reply.clone());
            let (ready, stopped) = (ready.clone(), stopped.clone());
            goro::spawn(move || {
                ready.done();
                while let Ok(msg) = inbox.recv() {
                    // The receiver is waiting for exactly this many replies.
                    let _ = reply.send(handle(msg));
                }
                stopped.done();
            });
        }
        drop((inbox, reply));
        ready.wait();
        probe.all_parked();

        for msg in 0..messages as u64 {
            jobs.send(msg).expect("the tasks are alive");
        }
        let answered = replies.iter().take(messages).count();

        drop(jobs); // every recv now fails: each task leaves its loop and ends
        stopped.wait();
        probe.all_stopped();
        answered
    })
    .expect("the run does not deadlock")
}
// ANCHOR_END: run
