//! A task that finished gives its stack back at once, not when the scheduler goes away.
//!
//! goro counts the stacks of the whole process (`goro::debug::stats`), and the tests of one
//! binary run at the same time, so this test has a binary of its own.

use std::cell::Cell;
use std::rc::Rc;

use lesson_04_scheduler::Scheduler;

fn stacks_live() -> usize {
    goro::debug::stats().stacks_live
}

#[test]
fn a_finished_task_gives_its_stack_back_at_once() {
    let before = stacks_live();
    let mut scheduler = Scheduler::new();
    scheduler
        .spawn("short", |cx| cx.say("short returns at once"))
        .unwrap();
    let seen = Rc::new(Cell::new(None));
    let seen_in_task = Rc::clone(&seen);
    scheduler
        .spawn("observer", move |_cx| {
            // "short" ran first and is Dead; only this task's own stack should be left.
            seen_in_task.set(Some(stacks_live().saturating_sub(before)));
        })
        .unwrap();
    assert_eq!(stacks_live() - before, 2, "spawn gives each task a stack");
    let result = scheduler.run();
    match seen.get() {
        None => panic!(
            "the observer task never ran; run returned {result:?}\n\ntrace:\n{}",
            scheduler.trace().text()
        ),
        Some(n) => assert_eq!(
            n, 1,
            "while the observer ran, {n} task stacks were live: the Dead task's stack should \
             have gone back when it finished (a Dead task's coroutine is dropped at once)"
        ),
    }
    assert!(result.is_ok(), "run failed: {result:?}");
    assert_eq!(
        stacks_live(),
        before,
        "every task is Dead, so every stack should be back"
    );
}
