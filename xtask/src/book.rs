//! The book: built with the mdBook library (no separate install), and linted so that every
//! ```rust block in a page is either `{{#include ...}}` lines pointing into compiled `.rs`
//! files or explicitly marked ```rust,ignore.

use std::path::{Path, PathBuf};

use mdbook_driver::MDBook;
use pulldown_cmark::{CodeBlockKind, Event, Parser, Tag, TagEnd};

use crate::Result;

/// Builds the book at `root` (its `book.toml`) and returns the output folder.
pub fn build_quiet(root: &Path) -> Result<PathBuf> {
    let config_file = root.join("book.toml");
    let mut config = mdbook_driver::config::Config::from_disk(&config_file)
        .map_err(|e| format!("{} is not readable: {e:#}", config_file.display()))?;
    // A chapter listed in SUMMARY.md but missing on disk is an error, never a silently
    // created empty page (mdBook's default would write files into lessons/).
    config.build.create_missing = false;
    let book = MDBook::load_with_config(root, config)
        .map_err(|e| format!("the book does not load: {e:#}"))?;
    book.build()
        .map_err(|e| format!("the book does not build: {e:#}"))?;
    Ok(root.join(&book.config.build.build_dir))
}

/// `cargo xtask book [--open]`.
pub fn build(root: &Path, open: bool) -> Result<()> {
    let out = build_quiet(root)?;
    let index = out.join("index.html");
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
