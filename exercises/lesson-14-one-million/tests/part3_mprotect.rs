//! Part 3: the kernel without guard markers. In a child process with
//! `GORO_STACK_GUARD=mprotect` (what a Linux older than 6.13 gives you), 40,000 tasks are
//! wanted; the plan must launch only what the mappings allow, and the run must go through.

use std::process::Command;

use lesson_14_one_million::{Kernel, Probe, plan, run};

const CHILD_ENV: &str = "LESSON_14_MPROTECT_CHILD";
const WANTED: usize = 40_000;
const MESSAGES: usize = 1_000;

#[test]
fn mprotect_guards_stop_at_the_plan() {
    if std::env::var_os(CHILD_ENV).is_some() {
        return child();
    }
    let out = Command::new(std::env::current_exe().expect("the test binary's path"))
        .args([
            "mprotect_guards_stop_at_the_plan",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, "1")
        .env("GORO_STACK_GUARD", "mprotect")
        .output()
        .expect("run the test binary again as a child");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let tail: String = {
        let lines: Vec<&str> = stderr.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    };
    let refused = stderr
        .lines()
        .filter(|l| l.contains("could not start"))
        .count();
    assert!(
        refused == 0,
        "with mprotect guards, {refused} {} could not get a stack (the mappings ran out); \
         the plan must launch fewer tasks than vm.max_map_count allows stacks for, with \
         headroom: goro stops carving stacks at goro::stack::max_guarded_stacks(), and the \
         main task's stack and the rest of the process's mappings count against the same \
         limit. Last words:\n{tail}",
        if refused == 1 { "task" } else { "tasks" }
    );
    assert!(
        out.status.success(),
        "the run with GORO_STACK_GUARD=mprotect failed ({}):\n{tail}\n{stdout}",
        out.status
    );
}

fn child() {
    let kernel = Kernel::this();
    assert_eq!(
        kernel.guard,
        goro::stack::GuardKind::Mprotect,
        "GORO_STACK_GUARD=mprotect is set"
    );
    let ceiling = kernel.max_map_count.saturating_sub(kernel.mappings) / 2;
    let p = plan(&kernel, WANTED);
    assert!(
        p.tasks <= WANTED && p.tasks + 3_000 >= ceiling.min(WANTED),
        "the plan launches {} tasks of {WANTED} wanted; about {ceiling} stacks fit here",
        p.tasks
    );
    let probe = Probe::start();
    let answered = run(&p, MESSAGES, &probe);
    let r = probe.finish(&p, answered);
    eprintln!("{r}");
    let (parked, states) = r.parked.as_ref().expect("the run called all_parked");
    assert_eq!(
        states.waiting, p.tasks,
        "every launched task parks, also here"
    );
    assert!(parked.memory.mappings <= kernel.max_map_count);
    assert_eq!(answered, MESSAGES);
    assert_eq!(r.stopped.as_ref().map(|s| s.goroutines), Some(1));
}
