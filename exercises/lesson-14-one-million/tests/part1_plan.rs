//! Part 1: the plan. How many tasks this kernel allows, and how much stack each one gets.
//! Pure decisions: these tests hand `plan` made-up kernels and check the numbers it picks.

use goro::stack::GuardKind;
use lesson_14_one_million::{Kernel, handle, measure_stack, plan};

const KIB: usize = 1024;

fn kernel(guard: GuardKind, max_map_count: usize, mappings: usize) -> Kernel {
    Kernel {
        guard,
        max_map_count,
        mappings,
        page_size: 4096,
    }
}

/// Every mprotect guard splits its slab: a stack costs two mappings. A plan must stay under
/// that ceiling, and not waste more than a few thousand mappings below it.
fn check_mprotect_cap(max_map_count: usize, mappings: usize) {
    let k = kernel(GuardKind::Mprotect, max_map_count, mappings);
    let ceiling = (max_map_count - mappings) / 2;
    let p = plan(&k, 1_000_000);
    assert!(
        p.tasks + 100 <= ceiling,
        "with mprotect guards, vm.max_map_count = {max_map_count} and {mappings} mappings \
         already in use, each stack costs two mappings (its guard page and the stack itself), \
         so at most {ceiling} stacks fit, and the runtime needs some mappings of its own; the \
         plan launches {} of 1,000,000 tasks",
        p.tasks
    );
    let goro_cap = (max_map_count - 4_096) / 2;
    assert!(
        p.tasks < goro_cap,
        "with mprotect guards and vm.max_map_count = {max_map_count}, goro itself carves at most \
         {goro_cap} stacks: it keeps 4,096 mappings for the rest of the program (see \
         goro::stack::max_guarded_stacks in runtime/src/stack.rs), and the main task takes one \
         of them; the plan launches {} tasks, so the last ones would find no stack",
        p.tasks
    );
    assert!(
        p.tasks + 3_000 >= ceiling,
        "the plan launches only {} tasks where about {ceiling} stacks fit \
         (vm.max_map_count = {max_map_count}, {mappings} mappings in use, two per stack): \
         keep a headroom of a few hundred stacks below goro::stack::max_guarded_stacks(), not thousands",
        p.tasks
    );
}

#[test]
fn mprotect_guards_cap_the_tasks() {
    check_mprotect_cap(65_530, 500);
    check_mprotect_cap(20_000, 1_000);
    check_mprotect_cap(262_144, 3_000);
}

#[test]
fn wanted_tasks_that_fit_are_all_launched() {
    let k = kernel(GuardKind::Mprotect, 65_530, 500);
    assert_eq!(
        plan(&k, 10_000).tasks,
        10_000,
        "10,000 stacks need about 20,000 mappings: they fit, launch them all"
    );
}

#[test]
fn guard_markers_do_not_cap_the_tasks() {
    let k = kernel(GuardKind::MadvGuard, 65_530, 500);
    assert_eq!(
        plan(&k, 1_000_000).tasks,
        1_000_000,
        "with MADV_GUARD_INSTALL the guard is a mark in the page table: a million stacks share \
         a few dozen slab mappings, and vm.max_map_count is no limit"
    );
}

// ANCHOR: evidence
/// How much of a stack `handle` touches, measured here, in this build.
fn handle_needs() -> usize {
    (0..4u64)
        .map(|m| {
            measure_stack(move || {
                std::hint::black_box(handle(m));
            })
            .expect("a 1 MiB stack for measuring")
        })
        .max()
        .unwrap()
}
// ANCHOR_END: evidence

#[test]
fn the_stack_has_room_for_the_work() {
    let need = handle_needs();
    let p = plan(&Kernel::this(), 1_000);
    assert!(
        p.stack_size >= need + 16 * KIB,
        "stack_size {} KiB: `handle` alone touches {} KiB of stack in this build \
         (measure_stack), and a task runs it under frames of its own (its entry, the receive, \
         the runtime's switch) and may need ~20 KiB more for a panic's backtrace: leave at \
         least 16 KiB above what handle needs, or a messaged task overflows",
        p.stack_size / KIB,
        need / KIB
    );
}

#[test]
fn the_stack_does_not_waste_page_tables() {
    let p = plan(&Kernel::this(), 1_000);
    assert!(
        p.stack_size <= 256 * KIB,
        "stack_size {} KiB: a touched stack costs (stack_size + its 16 KiB guard) / 512 = {} \
         bytes of page table (one 4 KiB page-table page maps 2 MiB of address space): that \
         many MB for a million parked tasks, and nothing in these tasks goes that deep; measure \
         what they need (measure_stack) and reserve a few times that, not a thread's worth",
        p.stack_size / KIB,
        (p.stack_size + 16 * KIB) / 512
    );
}
