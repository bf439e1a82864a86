//! A lesson's hints live in one file, `exercises/<lesson>/hints.md`: the lesson's page pulls
//! it in with mdBook's `{{#include}}` (so plain `mdbook serve` shows them too), and `cargo xtask
//! hint` reads the same file. Each hint is one `<details>` block:
//!
//! ```text
//! <details>
//! <summary>Hint 1</summary>
//!
//! The hint, in Markdown.
//! </details>
//! ```

use std::path::Path;

use crate::Result;

/// The hints file's name inside an exercise folder.
pub const FILE: &str = "hints.md";

/// The hints in `text`, in order: the Markdown between each `</summary>` and `</details>`.
pub fn parse(text: &str) -> Vec<String> {
    let mut hints = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find("<details>") {
        let block = &rest[open..];
        let end = block.find("</details>").unwrap_or(block.len());
        let body = &block[..end];
        let body = body
            .find("</summary>")
            .map_or(&body["<details>".len()..], |s| {
                &body[s + "</summary>".len()..]
            });
        let hint = body.trim();
        if !hint.is_empty() {
            hints.push(hint.to_string());
        }
        rest = &block[end..];
    }
    hints
}

/// The text of a hints file for lesson `nn` (what `cargo xtask new` writes).
pub fn render(nn: &str, hints: &[&str]) -> String {
    let mut out = format!(
        "<!-- Lesson {nn}'s hints: its page includes this file, and `cargo xtask hint {nn}` \
         shows them one at a time. -->\n"
    );
    for (i, h) in hints.iter().enumerate() {
        out.push_str(&format!(
            "\n<details>\n<summary>Hint {}</summary>\n\n{}\n</details>\n",
            i + 1,
            h.trim()
        ));
    }
    out
}

/// The hints of the exercise in `dir`, or None when it has no hints file.
pub fn read(dir: &Path) -> Result<Option<Vec<String>>> {
    let path = dir.join(FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(Some(parse(&text))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("{} is not readable: {e}", path.display()).into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_round_trip_through_the_file() {
        let text = render("07", &["First, `a`.", "Second:\n\n- one\n- two"]);
        assert_eq!(parse(&text), vec!["First, `a`.", "Second:\n\n- one\n- two"]);
        assert!(text.starts_with("<!-- Lesson 07's hints"));
        assert!(parse("no hints here").is_empty());
    }
}
