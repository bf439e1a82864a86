//! Seed 004's demo (Go's million-goroutine demo) at full size, with the plan and the run you wrote in `src/demo.rs`.
//!
//! ```console
//! cargo run --release -p lesson-14-one-million --example one_million
//! cargo run --release -p lesson-14-one-million --example one_million -- 200000 20000
//! GORO_STACK_GUARD=mprotect cargo run --release -p lesson-14-one-million --example one_million
//! ```
//!
//! Arguments: tasks wanted (default 1,000,000) and messages (default a tenth of the tasks).
//! The plan decides how many of the wanted tasks this kernel allows.

use lesson_14_one_million::{Kernel, Probe, plan, run, thousands};

fn main() {
    let mut args = std::env::args().skip(1).map(|a| {
        a.replace(['_', ','], "")
            .parse::<usize>()
            .unwrap_or_else(|_| panic!("usage: one_million [TASKS] [MESSAGES], got {a:?}"))
    });
    let wanted = args.next().unwrap_or(1_000_000);
    let kernel = Kernel::this();
    let plan = plan(&kernel, wanted);
    let messages = args.next().unwrap_or(plan.tasks / 10).min(plan.tasks);
    if plan.tasks < wanted {
        println!(
            "The plan launches {} of the {} tasks wanted: guard pages by {} cost mappings, and \
             this process may have {}.",
            thousands(plan.tasks),
            thousands(wanted),
            kernel.guard,
            thousands(kernel.max_map_count)
        );
    }
    let probe = Probe::start();
    let answered = run(&plan, messages, &probe);
    println!("{}", probe.finish(&plan, answered));
}
