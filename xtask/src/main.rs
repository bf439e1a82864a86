//! `cargo xtask`: the workbook's grader and the instructors' tools.
//!
//! Learners: `check`, `list`, `hint`, `watch`, `reset`. Instructors and CI: `verify`, `new`,
//! `seal`, `bless`, `grade`, `book`, `ci`. Lessons are discovered from
//! `exercises/lesson-*/Cargo.toml` (`[package.metadata.workbook]`).

mod bench;
mod book;
mod check;
mod ci;
mod confine;
mod course;
mod grade;
mod guard;
mod hints;
mod learner;
mod lock;
mod report;
mod runner;
mod sandbox;
mod scaffold;
mod scan;
mod scratch;
mod state;
mod trace;
mod ui;
mod verify;
mod watch;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::course::Course;
use crate::ui::{BAD, paint};

/// Errors are messages for a person: what went wrong and what to do next.
pub type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

#[derive(Parser)]
#[command(
    name = "cargo xtask",
    bin_name = "cargo xtask",
    about = "The workbook of \"Goroutines from scratch\": check your exercises, and the instructors' tools",
    after_help = "Start learning: `cargo xtask check 01` and `cargo xtask book --open`.\n\
                  Run the project's tests: `cargo xtask ci`."
)]
struct Cli {
    /// The course root (default: the course that holds the current folder, found as cargo
    /// finds its workspace)
    #[arg(long, global = true, env = "XTASK_ROOT", value_name = "DIR")]
    root: Option<PathBuf>,
    /// Show compiler warnings, cargo's output and full test output
    #[arg(short, long, global = true)]
    verbose: bool,
    /// When to use colours
    #[arg(long, global = true, value_enum, default_value_t = Color::Auto)]
    color: Color,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum Color {
    Auto,
    Always,
    Never,
}

#[derive(Subcommand)]
enum Command {
    /// Run a lesson's checks (e.g. `check 07`, `check lesson-07`, `check channels`)
    Check {
        /// The lesson (default: the one you are in, else the first not yet passed)
        lesson: Option<String>,
    },
    /// Show every lesson, its state and your progress
    List,
    /// Show the next hint for a lesson
    Hint {
        /// The lesson
        lesson: String,
        /// Show all hints at once
        #[arg(long)]
        all: bool,
    },
    /// Re-check a lesson every time you save a file
    Watch {
        /// The lesson (default: as for `check`)
        lesson: Option<String>,
        /// Poll for changes instead of waiting for file events (network drives, WSL)
        #[arg(long)]
        poll: bool,
    },
    /// Restore a lesson's exercise as shipped, after backing up your files
    Reset {
        /// The lesson
        #[arg(required_unless_present = "list")]
        lesson: Option<String>,
        /// List the backups (of LESSON, or of every lesson) instead
        #[arg(long)]
        list: bool,
    },
    /// Bring back a backup that `reset` made (after backing up your files as they are now)
    Restore {
        /// The lesson
        lesson: String,
        /// The backup's folder name (default: the newest; `reset --list` shows them)
        backup: Option<String>,
    },
    /// Instructors: prove every lesson is sound (solutions pass, exercises fail as declared, book builds)
    Verify {
        /// Lessons to verify (default: all)
        lessons: Vec<String>,
        /// Skip the book build and the page checks
        #[arg(long)]
        no_book: bool,
    },
    /// Instructors: scaffold a new lesson that passes `verify` at once
    New {
        /// `lesson-NN-slug`
        name: String,
        /// The page title
        #[arg(long)]
        title: String,
    },
    /// Instructors: regenerate the protected-file lock (exercises/workbook.lock)
    Seal,
    /// Instructors: re-record a lesson's snapshots and `.stderr` files from its solution
    Bless {
        /// The lesson
        lesson: String,
    },
    /// Grade a submission on a pristine copy of the course; report as text, JSON or JUnit
    Grade(grade::GradeArgs),
    /// Build the book into target/book from the course as shipped (with the mdBook library)
    Book {
        /// Open it in a browser afterwards
        #[arg(long)]
        open: bool,
    },
    /// Everything the project's CI runs: fmt, clippy, tests, verify, book
    Ci,
    /// Tools for goro's execution traces (`GORO_TRACE=trace.json`): `trace render` draws one
    /// as an SVG timeline
    Trace(trace::TraceArgs),
    /// Benchmarks: goro against OS threads (and Go when installed); options: --json, --only NAME,
    /// --quick, --workers 1,2,4 (`bench --help` for all)
    #[command(disable_help_flag = true)]
    Bench {
        /// Arguments for the benchmark suite (`cargo xtask bench -- --help` lists them)
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

/// The course that holds the current folder: the nearest folder, from here up, with a
/// `Cargo.toml` and an `exercises/` folder (as cargo finds its workspace). Never the folder
/// this binary was built from: with a shared `CARGO_TARGET_DIR` that may be another checkout.
fn find_root() -> Result<PathBuf> {
    let cwd = std::env::current_dir()
        .map_err(|e| format!("cannot read the current folder ({e}); pass --root DIR"))?;
    cwd.ancestors()
        .find(|d| d.join("Cargo.toml").is_file() && d.join("exercises").is_dir())
        .map(Path::to_path_buf)
        .ok_or_else(|| {
            format!(
                "{} is not inside a course checkout (no folder from here up has both \
                 Cargo.toml and exercises/): cd into the course, or pass --root DIR",
                cwd.display()
            )
            .into()
        })
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("__sandbox") {
        // The launcher of test processes (see sandbox.rs); not a command for people.
        return match sandbox::main(&args[2..]) {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::from(1),
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(125)
            }
        };
    }
    let cli = Cli::parse();
    match cli.color {
        Color::Always => anstream::ColorChoice::Always.write_global(),
        Color::Never => anstream::ColorChoice::Never.write_global(),
        Color::Auto => {}
    }
    match run(cli) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            anstream::eprintln!("{} {e}", paint(BAD, "error:"));
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Result<bool> {
    let root = match cli.root.clone() {
        Some(r) => r,
        None => find_root()?,
    };
    let verbose = cli.verbose;
    let load = || Course::load(&root);
    match cli.command {
        Command::Check { lesson } => {
            let course = load()?;
            let lesson = match lesson {
                Some(l) => course.find(&l)?,
                None => check::default_lesson(&course)?,
            };
            let options = check::CheckOptions {
                verbose,
                ..Default::default()
            };
            check::check(&course, lesson, options)
        }
        Command::List => {
            learner::list(&load()?)?;
            Ok(true)
        }
        Command::Hint { lesson, all } => {
            let course = load()?;
            let lesson = course.find(&lesson)?;
            let more = format!(
                "`cargo xtask hint {}` (`--all` for all of them)",
                lesson.nn()
            );
            learner::hint(&course, lesson, all, &more)?;
            Ok(true)
        }
        Command::Watch { lesson, poll } => {
            let course = load()?;
            let lesson = match lesson {
                Some(l) => course.find(&l)?.clone(),
                None => check::default_lesson(&course)?.clone(),
            };
            watch::watch(&course, &lesson, poll, verbose)
        }
        Command::Reset { lesson, list } => {
            let course = load()?;
            if list {
                let lesson = lesson.as_deref().map(|l| course.find(l)).transpose()?;
                learner::list_backups(&course, lesson)?;
            } else {
                let lesson = lesson.expect("clap requires it without --list");
                learner::reset(&course, course.find(&lesson)?)?;
            }
            Ok(true)
        }
        Command::Restore { lesson, backup } => {
            let course = load()?;
            learner::restore(&course, course.find(&lesson)?, backup.as_deref())?;
            Ok(true)
        }
        Command::Verify { lessons, no_book } => {
            verify::verify(&load()?, &lessons, !no_book, verbose)
        }
        Command::New { name, title } => {
            scaffold::new_lesson(&root, &name, &title)?;
            Ok(true)
        }
        Command::Seal => {
            let course = load()?;
            let changed = lock::seal(&course)?;
            if changed.is_empty() {
                anstream::println!("exercises/{} is already current.", lock::LOCK_FILE);
            } else {
                anstream::println!(
                    "exercises/{} updated for: {}",
                    lock::LOCK_FILE,
                    changed.join(", ")
                );
            }
            Ok(true)
        }
        Command::Bless { lesson } => {
            let course = load()?;
            let lesson = course.find(&lesson)?.clone();
            verify::bless(&course, &lesson, verbose)
        }
        Command::Grade(args) => grade::grade(&root, &args, verbose),
        Command::Book { open } => {
            book::build(&load()?, open)?;
            Ok(true)
        }
        Command::Ci => ci::ci(&root, verbose),
        Command::Trace(args) => {
            trace::run(&args)?;
            Ok(true)
        }
        Command::Bench { args } => {
            bench::run(&args)?;
            Ok(true)
        }
    }
}
