//! `course-book`: builds (and with `--check`, checks) the course's book. Run by `cargo xtask
//! book`, `verify` and `ci`; see the library's documentation for what it adds to `mdbook build`.
//!
//! Stdout: `book: DIR`, then one `problem: ...` line per failed check. Exit status: 0 built
//! (and every check held), 1 built but a check failed, 2 the book could not be built.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

#[derive(Parser)]
#[command(
    name = "course-book",
    about = "Builds the course's book with the mdBook library (normally run by `cargo xtask book`)"
)]
struct Cli {
    /// The course root (the folder holding book.toml)
    #[arg(long, value_name = "DIR")]
    root: PathBuf,
    /// Where to write the HTML (default: book.toml's build-dir)
    #[arg(long, value_name = "DIR")]
    dest: Option<PathBuf>,
    /// Read COPY wherever a page includes FILE (both absolute): the shipped version of a
    /// learner's file
    #[arg(long, value_name = "FILE=COPY")]
    shipped: Vec<String>,
    /// Check the book: includes and anchors exist, mdBook warns about nothing, every listing
    /// renders inside a code block, every image exists
    #[arg(long)]
    check: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut options = course_book::Options {
        check: cli.check,
        dest: cli.dest,
        ..Default::default()
    };
    for pair in &cli.shipped {
        let Some((file, copy)) = pair.split_once('=') else {
            eprintln!("error: --shipped takes FILE=COPY, not `{pair}`");
            return ExitCode::from(2);
        };
        options
            .shipped
            .insert(PathBuf::from(file), PathBuf::from(copy));
    }
    match course_book::build(&cli.root, &options) {
        Ok(built) => {
            println!("book: {}", built.out.display());
            for p in &built.problems {
                println!("problem: {p}");
            }
            if built.problems.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
