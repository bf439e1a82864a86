//! Prints what OS threads cost on this machine, with the numbers the tests do not look at.
//!
//! `cargo run --release -p lesson-01-threads-are-heavy --bin measure [THREADS] [STACK_KIB]`

use std::process::ExitCode;

use lesson_01_threads_are_heavy::{harness, ping_pong, spawn_join};

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let parse = |arg: Option<String>, default: usize, what: &str| match arg {
        None => Ok(default),
        Some(s) => s.parse::<usize>().map_err(|_| {
            format!(
                "{what} must be a whole number, got {s:?}; usage: measure [THREADS] [STACK_KIB]"
            )
        }),
    };
    let threads = parse(args.next(), 1000, "THREADS");
    let stack_kib = parse(args.next(), 2048, "STACK_KIB");
    let (threads, stack_kib) = match (threads, stack_kib) {
        (Ok(t), Ok(s)) => (t, s),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };

    match harness::measure(threads, stack_kib * 1024) {
        Ok(cost) => println!("{cost}"),
        Err(e) => {
            eprintln!("error: spawning {threads} threads failed: {e}");
            eprintln!("try fewer threads, or a smaller stack (see `ulimit -u` and `ulimit -v`)");
            return ExitCode::FAILURE;
        }
    }
    println!(
        "spawn + join, one at a time: {:?} per thread",
        spawn_join(2000)
    );
    println!(
        "ping-pong between two threads: {:?} per round trip",
        ping_pong(20_000)
    );
    ExitCode::SUCCESS
}
