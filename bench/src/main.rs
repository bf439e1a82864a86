//! `goro-bench`: goro next to Go and OS threads, on the same machine, in the same run.
//!
//! Normally started by `cargo xtask bench`, which builds this binary with whole-program
//! optimisation and runs `goro-bench suite ...`. The subcommands:
//!
//! - `suite [--json] [--only NAME] [--quick] [--workers 1,2,4] ...`: the harness
//!   (see `suite.rs`): every workload, every system, a child process per run.
//! - `run --system goro|threads --n N [--workers W] WORKLOAD`: one run of one workload in
//!   this process; prints JSON result lines. The Go twin (`bench/go/`) takes the same
//!   arguments after `run --system go`.
//! - `plot RESULTS.jsonl OUT.svg [TITLE]`, `markdown RESULTS.jsonl`: the book's chart and
//!   table from a saved `--json` run.
//! - `list`: the workloads and their sizes.

mod goro_chan;
mod goro_impl;
mod json;
mod measure;
mod report;
mod spec;
mod suite;
mod threads;

use spec::System;
use std::process::ExitCode;

const USAGE: &str = "\
usage: goro-bench suite [OPTIONS]          run the suite (cargo xtask bench runs this; see `suite --help`)
       goro-bench run --system goro|threads --n N [--workers W] [--sweep] WORKLOAD
       goro-bench plot RESULTS.jsonl OUT.svg [TITLE]
       goro-bench markdown RESULTS.jsonl
       goro-bench list";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("suite") => {
            if args[1..].iter().any(|a| a == "--help" || a == "-h") {
                print!("{}", suite::USAGE);
                Ok(())
            } else {
                suite::Options::parse(&args[1..]).and_then(|o| suite::run(&o))
            }
        }
        Some("run") => run_one(&args[1..]),
        Some("plot") => plot(&args[1..]),
        Some("markdown") => markdown(&args[1..]),
        Some("list") => {
            list();
            Ok(())
        }
        Some("--help" | "-h" | "help") => {
            println!("{USAGE}");
            Ok(())
        }
        Some(other) => Err(format!("unknown subcommand {other:?}\n{USAGE}")),
        None => Err(format!("missing subcommand\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("goro-bench: {msg}");
            ExitCode::FAILURE
        }
    }
}

/// `run`: one workload, once, in this process.
fn run_one(args: &[String]) -> Result<(), String> {
    let mut system = None;
    let mut n = None;
    let mut workers = None;
    let mut sweep = false;
    let mut name = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || {
            it.next()
                .ok_or_else(|| format!("{a} needs a value\n{USAGE}"))
        };
        match a.as_str() {
            "--system" => {
                let v = value()?;
                system = Some(System::parse(v).ok_or_else(|| {
                    format!("unknown system {v:?}: this binary runs goro and threads (Go runs from bench/go/)")
                })?);
            }
            "--n" => {
                let v = value()?;
                n = Some(
                    v.parse::<u64>()
                        .ok()
                        .filter(|&n| n >= 1)
                        .ok_or_else(|| format!("--n wants a whole number >= 1, got {v:?}"))?,
                );
            }
            "--workers" => {
                let v = value()?;
                workers =
                    Some(v.parse::<usize>().ok().filter(|&n| n >= 1).ok_or_else(|| {
                        format!("--workers wants a whole number >= 1, got {v:?}")
                    })?);
            }
            "--sweep" => sweep = true,
            s if s.starts_with('-') => return Err(format!("unknown option {s:?}\n{USAGE}")),
            s => name = Some(s.to_string()),
        }
    }
    let name = name.ok_or_else(|| format!("missing the workload name\n{USAGE}"))?;
    let workload = spec::find(&name).ok_or_else(|| {
        format!(
            "unknown workload {name:?}; the workloads are: {}",
            spec::names()
        )
    })?;
    let system = system.ok_or_else(|| format!("missing --system goro|threads\n{USAGE}"))?;
    let n = match n {
        Some(n) => n,
        None => workload
            .size(system, true)
            .ok_or_else(|| format!("{name} has no {system} version"))?,
    };
    let job = measure::Job {
        system,
        n,
        workers: workload.fixed_workers.or(workers),
        sweep,
    };
    let ran = match system {
        System::Goro => goro_impl::run(&name, &job),
        System::Threads => threads::run(&name, &job),
        System::Go => {
            return Err(
                "the Go twin is a separate program: bench/go/ (the suite builds it)".into(),
            );
        }
    };
    if ran {
        Ok(())
    } else {
        Err(format!("{name} has no {system} version"))
    }
}

fn read_records(path: &str) -> Result<Vec<json::Record>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        format!("cannot read {path}: {e} (save a run with `cargo xtask bench --json > {path}`)")
    })?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| json::Record::parse(l).map_err(|e| format!("{path}:{}: {e}", i + 1)))
        .collect()
}

fn plot(args: &[String]) -> Result<(), String> {
    let [input, output, rest @ ..] = args else {
        return Err(format!("plot needs an input and an output file\n{USAGE}"));
    };
    let records = read_records(input)?;
    let title = rest
        .first()
        .map_or("goro and OS threads relative to Go", String::as_str);
    // A saved `--workers` sweep gets the scaling chart; a normal run the ratio chart.
    let svg = if records.iter().any(|r| r.workers.is_some()) {
        report::svg_sweep(&records, title)
    } else {
        report::svg_ratios(&records, title)
    };
    std::fs::write(output, svg).map_err(|e| format!("cannot write {output}: {e}"))?;
    eprintln!("goro-bench: wrote {output}");
    Ok(())
}

fn markdown(args: &[String]) -> Result<(), String> {
    let [input] = args else {
        return Err(format!("markdown needs one input file\n{USAGE}"));
    };
    print!("{}", report::markdown_table(&read_records(input)?));
    Ok(())
}

fn list() {
    for w in spec::WORKLOADS {
        let sizes = System::ALL
            .iter()
            .filter_map(|&s| {
                let full = w.size(s, false)?;
                let quick = w.size(s, true)?;
                Some(format!("{s} n={full} (quick {quick})"))
            })
            .collect::<Vec<_>>()
            .join(", ");
        println!("{:<12} {}\n{:<12} {sizes}", w.name, w.about, "");
    }
}
