//! The course's book, built with the mdBook library and checked the way a reader would look at
//! it. This crate lives apart from `xtask` so that a learner's first `cargo xtask check` does
//! not compile the renderer: `cargo xtask book`, `verify` and `ci` run it through cargo.
//!
//! What it adds to a plain `mdbook build`:
//! - **the course as shipped**: `--shipped FILE=COPY` makes every `{{#include}}` of `FILE` (a
//!   learner's file) read `COPY` (its shipped version) instead, so that blocks the prose calls
//!   "as shipped" never show a learner's edits;
//! - **checks** (`--check`): every `{{#include file:anchor}}` names a file and an anchor that
//!   exist; mdBook's warnings (an unclosed HTML tag, an include it could not resolve) are errors;
//!   and in the rendered HTML of each page every included listing sits inside a code block and
//!   every image exists.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use mdbook_driver::MDBook;
use mdbook_driver::book::{Book, BookItem, Chapter};
use mdbook_driver::builtin_preprocessors::LinkPreprocessor;
use mdbook_preprocessor::{Preprocessor, PreprocessorContext};
use pulldown_cmark::{CodeBlockKind, Event, Parser, Tag, TagEnd};
use regex::Regex;

/// Errors are messages for a person.
pub type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// How to build.
#[derive(Debug, Default, Clone)]
pub struct Options {
    /// Replacements: an included file (absolute) and the file to read instead (absolute).
    pub shipped: BTreeMap<PathBuf, PathBuf>,
    /// Run the checks (verify, CI).
    pub check: bool,
    /// The output folder (default: book.toml's `build-dir`).
    pub dest: Option<PathBuf>,
}

/// What a build produced.
#[derive(Debug)]
pub struct Built {
    /// The HTML folder.
    pub out: PathBuf,
    /// Problems found by the checks, as `page: what is wrong` (empty without `check`).
    pub problems: Vec<String>,
}

/// One `{{#include path[:anchor or range]}}` (or `rustdoc_include`) in a page.
#[derive(Debug, Clone, PartialEq)]
pub struct Directive {
    /// Byte range of the whole directive in the page.
    pub range: std::ops::Range<usize>,
    /// `include` or `rustdoc_include`.
    pub kind: String,
    /// The path as written.
    pub path: String,
    /// What follows the first `:` (an anchor, a line range, or nothing).
    pub selector: Option<String>,
}

impl Directive {
    /// The text of the directive as written.
    pub fn text(&self) -> String {
        match &self.selector {
            Some(s) => format!("{{{{#{} {}:{s}}}}}", self.kind, self.path),
            None => format!("{{{{#{} {}}}}}", self.kind, self.path),
        }
    }

    /// The anchor, when the selector names one (not a line range).
    pub fn anchor(&self) -> Option<&str> {
        let first = self.selector.as_deref()?.split(':').next()?;
        (!first.is_empty() && first.parse::<usize>().is_err()).then_some(first)
    }
}

/// The include directives of a page, as mdBook finds them (escaped ones `\{{#...}}` skipped).
pub fn directives(text: &str) -> Vec<Directive> {
    let re = Regex::new(r"\\\{\{\#.*\}\}|\{\{\s*\#(include|rustdoc_include)\s+([^}]+)\}\}")
        .expect("valid regex");
    re.captures_iter(text)
        .filter_map(|c| {
            let kind = c.get(1)?.as_str().to_string();
            let target = c.get(2)?.as_str().split_whitespace().next()?.to_string();
            let (path, selector) = match target.split_once(':') {
                Some((p, s)) => (p.to_string(), Some(s.to_string())),
                None => (target, None),
            };
            Some(Directive {
                range: c.get(0)?.range(),
                kind,
                path,
                selector,
            })
        })
        .collect()
}

/// Whether `file`'s text defines mdBook's anchor `name` (`ANCHOR: name`).
pub fn has_anchor(file: &str, name: &str) -> bool {
    file.lines().any(|l| {
        l.split_once("ANCHOR:").is_some_and(|(_, rest)| {
            rest.trim_start()
                .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-'))
                .next()
                == Some(name)
        })
    })
}

/// Collects mdBook's warnings and errors (it reports them through `tracing`).
#[derive(Clone, Default)]
struct Collector(Arc<Mutex<Vec<String>>>);

struct Message(String);

impl tracing::field::Visit for Message {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.0, "{value:?}");
        } else {
            let _ = write!(self.0, " ({}: {value:?})", field.name());
        }
    }
}

impl tracing::Subscriber for Collector {
    fn enabled(&self, meta: &tracing::Metadata<'_>) -> bool {
        *meta.level() <= tracing::Level::WARN
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut m = Message(String::new());
        event.record(&mut m);
        let level = if *event.metadata().level() == tracing::Level::ERROR {
            "error"
        } else {
            "warning"
        };
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(format!("mdBook {level}: {}", m.0.trim()));
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

/// Builds the book at `root` (its `book.toml`); see the crate's documentation.
pub fn build(root: &Path, options: &Options) -> Result<Built> {
    let collector = Collector::default();
    let result =
        tracing::subscriber::with_default(collector.clone(), || build_inner(root, options));
    let (out, mut problems) = result?;
    if options.check {
        let warnings = collector.0.lock().unwrap_or_else(|e| e.into_inner());
        problems.extend(warnings.iter().cloned());
    }
    Ok(Built { out, problems })
}

fn build_inner(root: &Path, options: &Options) -> Result<(PathBuf, Vec<String>)> {
    let root = root
        .canonicalize()
        .map_err(|e| format!("{} is not readable: {e}", root.display()))?;
    let config_file = root.join("book.toml");
    let mut config = mdbook_driver::config::Config::from_disk(&config_file)
        .map_err(|e| format!("{} is not readable: {e:#}", config_file.display()))?;
    // A chapter listed in SUMMARY.md but missing on disk is an error, never a silently
    // created empty page (mdBook's default would write files into the book's sources).
    config.build.create_missing = false;
    if let Some(dest) = &options.dest {
        config.build.build_dir = dest.clone();
    }
    let mut book = MDBook::load_with_config(&root, config)
        .map_err(|e| format!("the book does not load: {e:#}"))?;
    let src = book.source_dir();
    let mut problems = Vec::new();
    // Point includes of learner files at their shipped versions, and check every include.
    book.book.for_each_chapter_mut(|ch| {
        let Some(path) = ch.path.clone() else { return };
        let base = src.join(path.parent().unwrap_or(Path::new("")));
        let page = Path::new(&config_src(&root, &src)).join(&path);
        let mut content = String::with_capacity(ch.content.len());
        let mut last = 0;
        for d in directives(&ch.content) {
            let resolved = base.join(&d.path);
            let canonical = resolved.canonicalize().unwrap_or(resolved.clone());
            let (read_from, shown) = match options.shipped.get(&canonical) {
                Some(copy) => (copy.clone(), Some(copy.display().to_string())),
                None => (resolved, None),
            };
            if options.check {
                check_directive(&page, &d, &read_from, &mut problems);
            }
            content.push_str(&ch.content[last..d.range.start]);
            match shown {
                Some(copy) => {
                    let mut d2 = d.clone();
                    d2.path = copy;
                    content.push_str(&d2.text());
                }
                None => content.push_str(&ch.content[d.range.clone()]),
            }
            last = d.range.end;
        }
        content.push_str(&ch.content[last..]);
        ch.content = content;
    });
    book.build()
        .map_err(|e| format!("the book does not build: {e:#}"))?;
    let out = book.build_dir_for("html");
    if options.check {
        check_html(&book, &root, &out, &mut problems)?;
    }
    Ok((out, problems))
}

/// The book's source folder relative to the root, for messages (`lessons`).
fn config_src(root: &Path, src: &Path) -> String {
    src.strip_prefix(root).unwrap_or(src).display().to_string()
}

fn check_directive(page: &Path, d: &Directive, file: &Path, problems: &mut Vec<String>) {
    let page = page.display();
    let Ok(text) = std::fs::read_to_string(file) else {
        problems.push(format!(
            "{page}: {} names {}, which does not exist",
            d.text(),
            d.path
        ));
        return;
    };
    if let Some(anchor) = d.anchor()
        && !has_anchor(&text, anchor)
    {
        problems.push(format!(
            "{page}: {} names the anchor `{anchor}`, but {} has no `ANCHOR: {anchor}` (the block \
             would be empty): restore the anchor or fix the include",
            d.text(),
            d.path
        ));
    }
}

/// The included texts of a chapter's directives that sit inside fenced code blocks, expanded
/// by mdBook's own `links` preprocessor.
fn listings(book: &MDBook, root: &Path, ch: &Chapter) -> Result<Vec<(Directive, String)>> {
    let mut inside = Vec::new();
    let mut block: Option<std::ops::Range<usize>> = None;
    for (event, range) in Parser::new(&ch.content).into_offset_iter() {
        match event {
            Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(_))) => block = Some(range),
            Event::End(TagEnd::CodeBlock) => {
                if let Some(r) = block.take() {
                    inside.extend(
                        directives(&ch.content)
                            .into_iter()
                            .filter(|d| d.range.start >= r.start && d.range.end <= r.end),
                    );
                }
            }
            _ => {}
        }
    }
    let ctx = PreprocessorContext::new(root.to_path_buf(), book.config.clone(), "html".into());
    let mut out = Vec::new();
    for d in inside {
        let mut one = ch.clone();
        one.content = ch.content[d.range.clone()].to_string();
        one.sub_items.clear();
        let expanded = LinkPreprocessor::new()
            .run(&ctx, Book::new_with_items(vec![BookItem::Chapter(one)]))
            .map_err(|e| format!("expanding {}: {e:#}", d.text()))?;
        let text = expanded
            .chapters()
            .next()
            .map(|c| c.content.clone())
            .unwrap_or_default();
        out.push((d, text));
    }
    Ok(out)
}

/// The text of each `<pre>` element of an HTML page, tags removed and entities decoded, without
/// the `fn main() { ... }` wrapper mdBook adds (hidden) around a Rust listing that has none.
pub fn code_blocks(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find("<pre") {
        let after = &rest[start..];
        let end = after.find("</pre>").unwrap_or(after.len());
        let block = after[..end]
            .replace("<span class=\"boring\">#![allow(unused)]\n</span>", "")
            .replace("<span class=\"boring\">fn main() {\n</span>", "")
            .replace("<span class=\"boring\">}</span></code>", "</code>");
        out.push(strip_tags(&block));
        rest = &after[end..];
    }
    out
}

fn strip_tags(html: &str) -> String {
    let mut text = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&amp;", "&")
}

/// Text compared line by line whatever its indentation: lines trimmed, empty ones dropped, and
/// a Rust block's hidden `# ` marker removed (mdBook renders hidden lines without it).
fn normalized(text: &str) -> String {
    text.lines()
        .map(|l| {
            let t = l.trim();
            t.strip_prefix("# ").unwrap_or(t).trim()
        })
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The `src` of every `<img>` in an HTML page.
pub fn image_sources(html: &str) -> Vec<String> {
    let re = Regex::new(r#"<img\b[^>]*?\bsrc\s*=\s*["']([^"']+)["']"#).expect("valid regex");
    re.captures_iter(html).map(|c| c[1].to_string()).collect()
}

fn check_html(book: &MDBook, root: &Path, out: &Path, problems: &mut Vec<String>) -> Result<()> {
    let src = book.source_dir();
    for ch in book.book.chapters() {
        let Some(path) = &ch.path else { continue };
        let page = Path::new(&config_src(root, &src)).join(path);
        let html_path = out.join(path).with_extension("html");
        let html = std::fs::read_to_string(&html_path).map_err(|e| {
            format!(
                "{}: the rendered page {} is not readable: {e}",
                page.display(),
                html_path.display()
            )
        })?;
        let code: Vec<String> = code_blocks(&html).iter().map(|b| normalized(b)).collect();
        for (d, text) in listings(book, root, ch)? {
            let listing = normalized(&text);
            if !listing.is_empty() && !code.iter().any(|b| b.contains(&listing)) {
                problems.push(format!(
                    "{}: the listing of {} does not render as one code block: an include inside \
                     a list item or another indented block loses its indentation after the \
                     first line; move the block out to column 0",
                    page.display(),
                    d.text()
                ));
            }
        }
        let mut images = image_sources(&html);
        images.sort();
        images.dedup();
        for img in images {
            if img.contains("://") || img.starts_with("data:") {
                continue;
            }
            let file = img.split(['#', '?']).next().unwrap_or(&img);
            let target = html_path.parent().unwrap_or(out).join(file);
            if !target.is_file() {
                problems.push(format!(
                    "{}: the image `{img}` is not in the built book (looked for {})",
                    page.display(),
                    target.display()
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small book: `lessons/` with the given pages (SUMMARY lists them in order), an
    /// `ex/src/lib.rs` with two anchors, and `lessons/images/ok.svg`.
    fn book(pages: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::write(
            root.join("book.toml"),
            "[book]\ntitle = \"T\"\nsrc = \"lessons\"\n[build]\nbuild-dir = \"out\"\n",
        )
        .unwrap();
        std::fs::create_dir_all(root.join("lessons/images")).unwrap();
        std::fs::write(
            root.join("lessons/images/ok.svg"),
            "<svg xmlns=\"http://www.w3.org/2000/svg\"/>",
        )
        .unwrap();
        std::fs::create_dir_all(root.join("ex/src")).unwrap();
        std::fs::write(
            root.join("ex/src/lib.rs"),
            "// ANCHOR: two\nfn first_line() -> u64 {\n    second_line::<u64>()\n}\n// ANCHOR_END: two\n\
             // ANCHOR: one\nfn only() {}\n// ANCHOR_END: one\n",
        )
        .unwrap();
        let mut summary = String::from("# Summary\n\n");
        for (name, text) in pages {
            summary.push_str(&format!("- [{name}]({name}.md)\n"));
            std::fs::write(root.join(format!("lessons/{name}.md")), text).unwrap();
        }
        std::fs::write(root.join("lessons/SUMMARY.md"), summary).unwrap();
        dir
    }

    fn checked(root: &Path, shipped: BTreeMap<PathBuf, PathBuf>) -> Built {
        build(
            root,
            &Options {
                check: true,
                shipped,
                dest: None,
            },
        )
        .unwrap()
    }

    #[test]
    fn a_sound_book_builds_without_problems() {
        let dir = book(&[(
            "good",
            "# Good\n\n```rust\n{{#include ../ex/src/lib.rs:two}}\n```\n\n\
             1. A list item with a one-line listing:\n\n   ```rust\n   {{#include ../ex/src/lib.rs:one}}\n   ```\n\n\
             ![a picture](images/ok.svg)\n\nAn escaped one: \\{{#include nothing.rs}}\n",
        )]);
        let built = checked(dir.path(), BTreeMap::new());
        assert_eq!(built.problems, Vec::<String>::new());
        let html = std::fs::read_to_string(built.out.join("good.html")).unwrap();
        let blocks = code_blocks(&html);
        assert!(
            blocks[0].starts_with("fn first_line() -> u64 {")
                && blocks[0].contains("second_line::<u64>()"),
            "{blocks:?}"
        );
    }

    #[test]
    fn broken_listings_anchors_images_and_html_are_named() {
        let dir = book(&[(
            "bad",
            "# Bad\n\n1. A list item whose listing spills out:\n\n   ```rust\n   {{#include ../ex/src/lib.rs:two}}\n   ```\n\n\
             ```rust\n{{#include ../ex/src/lib.rs:gone}}\n```\n\n\
             ![missing](images/nowhere.svg)\n\nA stray <u64> tag in a paragraph.\n\n- item\n",
        )]);
        let built = checked(dir.path(), BTreeMap::new());
        let all = built.problems.join("\n");
        assert_eq!(built.problems.len(), 4, "{all}");
        assert!(
            all.contains("lessons/bad.md: the listing of {{#include ../ex/src/lib.rs:two}} does not render as one code block"),
            "{all}"
        );
        assert!(
            all.contains("lessons/bad.md: {{#include ../ex/src/lib.rs:gone}} names the anchor `gone`, but ../ex/src/lib.rs has no `ANCHOR: gone`"),
            "{all}"
        );
        assert!(all.contains("the image `images/nowhere.svg`"), "{all}");
        assert!(
            all.contains("mdBook warning: unclosed HTML tag `<u64>`"),
            "{all}"
        );
    }

    #[test]
    fn a_shipped_copy_replaces_the_learners_file() {
        let dir = book(&[(
            "page",
            "# Page\n\n```rust\n{{#include ../ex/src/lib.rs:one}}\n```\n",
        )]);
        let lib = dir.path().join("ex/src/lib.rs").canonicalize().unwrap();
        let copy = dir.path().join("shipped.rs");
        std::fs::write(
            &copy,
            "// ANCHOR: one\nfn as_shipped() {}\n// ANCHOR_END: one\n",
        )
        .unwrap();
        let built = checked(dir.path(), BTreeMap::from([(lib, copy)]));
        assert_eq!(built.problems, Vec::<String>::new());
        let html = std::fs::read_to_string(built.out.join("page.html")).unwrap();
        assert!(
            html.contains("as_shipped") && !html.contains("fn only"),
            "{html}"
        );
    }

    #[test]
    fn directives_are_found_as_mdbook_finds_them() {
        let d = directives(
            "a {{#include x.rs:anc}} b\n\\{{#include no.rs}}\n{{ #rustdoc_include y.rs:3:5 }}",
        );
        assert_eq!(d.len(), 2);
        assert_eq!(d[0].anchor(), Some("anc"));
        assert_eq!(d[1].kind, "rustdoc_include");
        assert_eq!(d[1].anchor(), None);
        assert!(has_anchor("// ANCHOR: anc\n", "anc"));
        assert!(!has_anchor("// ANCHOR: ancient\n", "anc"));
    }
}
