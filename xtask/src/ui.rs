//! Terminal output: a few styles, printed through `anstream` so colours appear only on a
//! terminal (and never with `NO_COLOR`, or with `--color never`).

use std::io::IsTerminal;

use anstyle::{AnsiColor, Style};

/// Passed checks.
pub const GOOD: Style = AnsiColor::Green.on_default().bold();
/// Failed checks.
pub const BAD: Style = AnsiColor::Red.on_default().bold();
/// Warnings and hangs.
pub const WARN: Style = AnsiColor::Yellow.on_default().bold();
/// Headings.
pub const HEAD: Style = Style::new().bold();
/// Less important text.
pub const DIM: Style = Style::new().dimmed();
/// Commands the reader can run.
pub const CMD: Style = AnsiColor::Cyan.on_default();
/// Inserted lines in a diff.
pub const ADD: Style = AnsiColor::Green.on_default();
/// Removed lines in a diff.
pub const DEL: Style = AnsiColor::Red.on_default();

/// Whether colours go to stdout (after `--color`, `NO_COLOR`, `CLICOLOR_FORCE` and TTY detection).
pub fn color_enabled() -> bool {
    !matches!(
        anstream::AutoStream::choice(&std::io::stdout()),
        anstream::ColorChoice::Never
    )
}

/// Whether stdout is an interactive terminal (for progress lines that rewrite themselves).
pub fn interactive() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("CI").is_none()
}

/// `text` in `style` (plain when colours are off: anstream strips the codes).
pub fn paint(style: Style, text: impl std::fmt::Display) -> String {
    format!("{style}{text}{style:#}")
}

/// A progress bar `[#####-----]`.
pub fn bar(done: usize, total: usize, width: usize) -> String {
    let filled = (done * width).checked_div(total).unwrap_or(0);
    format!(
        "[{}{}]",
        paint(GOOD, "#".repeat(filled)),
        paint(DIM, "-".repeat(width - filled))
    )
}

/// Clears a rewritten progress line (interactive terminals only).
pub fn clear_line() {
    if interactive() {
        anstream::print!("\r\x1b[2K");
    }
}

/// Prints a unified diff of `old` against `new`, labelled, at most `max_lines` lines.
pub fn print_diff(old_label: &str, new_label: &str, old: &str, new: &str, max_lines: usize) {
    let diff = similar::TextDiff::from_lines(old, new);
    anstream::println!("    {}", paint(DEL, format!("- {old_label}")));
    anstream::println!("    {}", paint(ADD, format!("+ {new_label}")));
    let mut shown = 0;
    for (i, group) in diff.grouped_ops(3).iter().enumerate() {
        if i > 0 {
            anstream::println!("    {}", paint(DIM, "  ┈┈┈"));
        }
        for op in group {
            for change in diff.iter_changes(op) {
                if shown == max_lines {
                    anstream::println!("    {}", paint(DIM, "  … (diff cut short)"));
                    return;
                }
                shown += 1;
                let line = change.value().trim_end_matches('\n');
                match change.tag() {
                    similar::ChangeTag::Delete => {
                        anstream::println!("    {}", paint(DEL, format!("- {line}")))
                    }
                    similar::ChangeTag::Insert => {
                        anstream::println!("    {}", paint(ADD, format!("+ {line}")))
                    }
                    similar::ChangeTag::Equal => {
                        anstream::println!("    {}", paint(DIM, format!("  {line}")))
                    }
                }
            }
        }
    }
}

/// Prints `text` indented by four spaces.
pub fn indent(text: &str) {
    for line in text.trim_end().lines() {
        anstream::println!("    {line}");
    }
}

/// Prints `text` as a paragraph wrapped at 92 columns, indented by four spaces.
pub fn para(text: &str) {
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > 88 {
            anstream::println!("    {line}");
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        anstream::println!("    {line}");
    }
}
