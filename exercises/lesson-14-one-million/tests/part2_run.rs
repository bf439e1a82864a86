//! Part 2: the run. 20,000 tasks (the 1,000,000 of seed 004 is the example you run yourself:
//! see the page), 2,000 of them messaged, all stopped, measured by the course's `Probe`.
//!
//! The run happens once per test process, and every test here reads its report.

use std::sync::{Mutex, OnceLock};

use lesson_14_one_million::{Kernel, Probe, Report, handled, plan, run};

const TASKS: usize = 20_000;
const MESSAGES: usize = 2_000;
/// Bytes each parked task may add (resident memory plus page tables), in this debug build.
/// A debug build's frames are larger than a release build's: a parked task touches two stack
/// pages here, one in release.
// ANCHOR: budget
const BUDGET_PER_TASK: usize = 12 * 1024;
// ANCHOR_END: budget

fn report() -> &'static Report {
    static REPORT: OnceLock<Report> = OnceLock::new();
    static LOCK: Mutex<()> = Mutex::new(());
    let _one_at_a_time = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    REPORT.get_or_init(|| {
        let p = plan(&Kernel::this(), TASKS);
        assert_eq!(
            p.tasks, TASKS,
            "plan(&Kernel::this(), {TASKS}) launches {} tasks; {TASKS} fit on any kernel",
            p.tasks
        );
        let probe = Probe::start();
        let answered = run(&p, MESSAGES, &probe);
        let report = probe.finish(&p, answered);
        eprintln!("{report}");
        report
    })
}

#[test]
fn every_task_parks_while_it_waits() {
    let r = report();
    assert_eq!(
        r.parked_calls, 1,
        "the run should call probe.all_parked() exactly once, from main, once every task waits"
    );
    let (_, states) = r.parked.as_ref().unwrap();
    assert!(
        states.runnable <= 1 && states.unstarted == 0 && states.waiting == TASKS,
        "when all_parked looked (and a few looks later), {} tasks waited, {} were runnable or \
         running (main is one of them) and {} had not started: a task that waits for a \
         message must park (a channel receive, a WaitGroup), not spin with yield_now, which \
         keeps it runnable and burns a worker; and main must know that every task has started \
         and parked before it calls all_parked",
        states.waiting,
        states.runnable,
        states.unstarted
    );
}

#[test]
fn parked_tasks_fit_the_budget() {
    let r = report();
    let per_task = r
        .bytes_per_parked_task()
        .expect("the run never called probe.all_parked()");
    let (parked, _) = r.parked.as_ref().unwrap();
    assert!(
        parked.stats.stacks_live > TASKS,
        "goro::debug::stats() counted {} live stacks when all_parked looked: a task that has not \
         started has no stack yet, so this measurement does not show what {TASKS} parked tasks \
         cost; make every task park first (every_task_parks_while_it_waits)",
        parked.stats.stacks_live
    );
    assert!(
        per_task <= BUDGET_PER_TASK,
        "each parked task added {per_task} bytes (resident + page tables; {} KiB stacks, \
         {} MB of page tables for {TASKS} tasks); the budget is {BUDGET_PER_TASK}: a waiting \
         task should hold no buffer of its own, and its stack should be sized from evidence",
        r.stack_size / 1024,
        parked.memory.page_tables >> 20
    );
}

#[test]
fn every_message_is_answered_by_a_task() {
    let r = report();
    assert_eq!(
        r.answered, MESSAGES,
        "run should return the number of answers"
    );
    let (all, by_tasks) = handled();
    assert_eq!(
        (all, by_tasks),
        (MESSAGES as u64, MESSAGES as u64),
        "handle was called {all} times, {by_tasks} of them by tasks other than main: each of \
         the {MESSAGES} messages must be handled once, by one of the launched tasks"
    );
}

#[test]
fn every_task_ends_on_its_own() {
    let r = report();
    let stopped = r.stopped.as_ref().expect(
        "the run never called probe.all_stopped(): main must tell every task to stop, wait \
         until they all have ended, and then call it (returning from main while tasks still \
         wait makes the runtime cancel them: that is not a graceful shutdown)",
    );
    assert_eq!(
        stopped.goroutines, 1,
        "when all_stopped was called, {} goroutines were alive (main included): wait for every \
         task to end before calling it",
        stopped.goroutines
    );
}

#[test]
fn memory_comes_back_after_the_run() {
    let r = report();
    let (before, after) = (&r.before.memory, &r.after.memory);
    assert_eq!(
        r.after.stats.stacks_live, 0,
        "{} stacks are still in use after the run",
        r.after.stats.stacks_live
    );
    assert!(
        after.total() <= before.total() + (16 << 20),
        "the process held {} MB before the run and {} MB after it: something the tasks \
         allocated outlives the run",
        before.total() >> 20,
        after.total() >> 20
    );
}
