//! The scheduler's decisions, checked through the trace it writes.

use lesson_04_scheduler::{RunError, Scheduler, State, TaskId};

/// Runs the tasks and returns what they said, failing the test with the trace if `run` fails.
fn run_and_listen(mut scheduler: Scheduler) -> Vec<String> {
    if let Err(err) = scheduler.run() {
        panic!("run failed: {err}\n\ntrace:\n{}", scheduler.trace().text());
    }
    scheduler.trace().said()
}

#[test]
fn tasks_run_in_spawn_order() {
    let mut scheduler = Scheduler::new();
    for name in ["a", "b", "c"] {
        scheduler
            .spawn(name, move |cx| cx.say(format!("{name} ran")))
            .unwrap();
    }
    assert_eq!(run_and_listen(scheduler), ["a ran", "b ran", "c ran"]);
}

#[test]
fn yield_now_lets_the_others_run() {
    let mut scheduler = Scheduler::new();
    for name in ["a", "b", "c"] {
        scheduler
            .spawn(name, move |cx| {
                for round in 1..=3 {
                    cx.say(format!("{name}{round}"));
                    cx.yield_now();
                }
            })
            .unwrap();
    }
    assert_eq!(
        run_and_listen(scheduler).join(" "),
        "a1 b1 c1 a2 b2 c2 a3 b3 c3",
        "yield_now must give every other Runnable task a turn before the caller runs again"
    );
}

#[test]
fn spawned_tasks_join_the_back_of_the_queue() {
    let mut scheduler = Scheduler::new();
    scheduler
        .spawn("main", |cx| {
            cx.spawn("x", |cx| cx.say("x ran"));
            cx.spawn("y", |cx| cx.say("y ran"));
            cx.say("main spawned x and y");
        })
        .unwrap();
    scheduler.spawn("early", |cx| cx.say("early ran")).unwrap();
    assert_eq!(
        run_and_listen(scheduler),
        ["main spawned x and y", "early ran", "x ran", "y ran"]
    );
}

#[test]
fn unpark_wakes_a_waiting_task() {
    let mut scheduler = Scheduler::new();
    let sleeper = scheduler
        .spawn("sleeper", |cx| {
            cx.say("parking");
            cx.park();
            cx.say("woken up");
        })
        .unwrap();
    scheduler
        .spawn("waker", move |cx| {
            cx.say("unparking the sleeper");
            cx.unpark(sleeper);
        })
        .unwrap();
    assert_eq!(
        run_and_listen(scheduler),
        ["parking", "unparking the sleeper", "woken up"]
    );
}

#[test]
fn ping_pong_with_park() {
    let mut scheduler = Scheduler::new();
    let (ping, pong) = (TaskId(1), TaskId(2));
    scheduler
        .spawn("ping", move |cx| {
            for round in 1..=3 {
                cx.say(format!("ping {round}"));
                cx.unpark(pong);
                cx.park();
            }
        })
        .unwrap();
    scheduler
        .spawn("pong", move |cx| {
            for round in 1..=3 {
                cx.park();
                cx.say(format!("pong {round}"));
                cx.unpark(ping);
            }
        })
        .unwrap();
    assert_eq!(
        run_and_listen(scheduler).join(", "),
        "ping 1, pong 1, ping 2, pong 2, ping 3, pong 3"
    );
}

#[test]
fn unpark_of_a_task_that_is_not_waiting_is_kept_for_its_next_park() {
    let mut scheduler = Scheduler::new();
    let (a, b) = (TaskId(1), TaskId(2));
    scheduler
        .spawn("a", move |cx| {
            // b has not run yet: it is Runnable, and already in the run queue.
            cx.unpark(b);
            cx.unpark(b);
            cx.say("a unparked b twice");
        })
        .unwrap();
    scheduler
        .spawn("b", |cx| {
            cx.say("b runs once");
            cx.park();
            cx.say("b's park returned at once");
            cx.park();
            cx.say("b never gets here: one token, however many unparks");
        })
        .unwrap();
    match scheduler.run() {
        Err(RunError::Deadlock { waiting }) => assert_eq!(
            waiting,
            ["#2 b"],
            "b's second park has no token left and must wait: trace:\n{}",
            scheduler.trace().text()
        ),
        other => panic!(
            "expected b to be stuck in its second park, got {other:?}; trace:\n{}",
            scheduler.trace().text()
        ),
    }
    assert_eq!(
        scheduler.trace().said(),
        [
            "a unparked b twice",
            "b runs once",
            "b's park returned at once"
        ]
    );
    assert_eq!(scheduler.state(a), Some(State::Dead));
}

#[test]
fn a_pending_wakeup_survives_a_yield() {
    let mut scheduler = Scheduler::new();
    let b = TaskId(2);
    scheduler
        .spawn("a", move |cx| {
            // b is Runnable and has not run yet: this leaves a token for b's next park.
            cx.unpark(b);
            cx.say("a unparked b");
        })
        .unwrap();
    scheduler
        .spawn("b", |cx| {
            cx.say("b yields");
            cx.yield_now();
            cx.say("b parks");
            cx.park();
            cx.say("b's park returned at once");
        })
        .unwrap();
    if let Err(err) = scheduler.run() {
        panic!(
            "b's park must return at once: a's unpark left a token, and only a park uses it up \
             (b's yield in between does not); run failed: {err}\n\ntrace:\n{}",
            scheduler.trace().text()
        );
    }
    assert_eq!(
        scheduler.trace().said(),
        [
            "a unparked b",
            "b yields",
            "b parks",
            "b's park returned at once"
        ]
    );
}

#[test]
fn unpark_of_a_dead_or_unknown_task_does_nothing() {
    let mut scheduler = Scheduler::new();
    let early = scheduler.spawn("early", |cx| cx.say("early ran")).unwrap();
    scheduler
        .spawn("late", move |cx| {
            cx.unpark(early); // early is Dead by now
            cx.unpark(TaskId(0)); // ids start at 1
            cx.unpark(TaskId(99)); // no such task
            cx.yield_now();
            cx.say("late carried on");
        })
        .unwrap();
    if let Err(err) = scheduler.run() {
        panic!("run failed: {err}\n\ntrace:\n{}", scheduler.trace().text());
    }
    let trace = scheduler.trace().text();
    assert_eq!(
        scheduler.trace().said(),
        ["early ran", "late carried on"],
        "trace:\n{trace}"
    );
    let early_changes: Vec<&str> = trace
        .lines()
        .filter(|l| l.contains(" early ") && !l.contains(" says: "))
        .collect();
    assert_eq!(
        early_changes,
        [
            " #1 early    spawned  -> Runnable",
            " #1 early    Runnable -> Running",
            " #1 early    Running  -> Dead",
        ],
        "a Dead task stays Dead: an unpark of it (or of an id no task has) does nothing"
    );
    assert_eq!(scheduler.state(TaskId(99)), None);
}

#[test]
fn a_lonely_park_is_a_deadlock() {
    let mut scheduler = Scheduler::new();
    let lonely = scheduler.spawn("lonely", |cx| cx.park()).unwrap();
    match scheduler.run() {
        Err(RunError::Deadlock { waiting }) => assert_eq!(waiting, ["#1 lonely"]),
        other => panic!("expected a deadlock, got {other:?}"),
    }
    assert_eq!(scheduler.state(lonely), Some(State::Waiting));
}

// ANCHOR: state_trace
#[test]
fn state_trace() {
    let mut scheduler = Scheduler::new();
    scheduler
        .spawn("main", |cx| {
            cx.say("spawning a worker");
            cx.spawn("worker", |cx| {
                cx.say("parking until main is ready");
                cx.park();
                cx.say("woken, finishing");
            });
            cx.yield_now();
            cx.say("waking the worker");
            cx.unpark(TaskId(2));
            cx.yield_now();
            cx.say("done");
        })
        .unwrap();
    let result = scheduler.run();
    let trace = scheduler.trace().text();
    let report = format!("{trace}\n\nrun: {result:?}");
    insta::assert_snapshot!(report);
}
// ANCHOR_END: state_trace
