//! `new lesson-NN-slug --title "..."`: scaffolds a lesson (exercise crate with one test that
//! passes and one that fails as shipped, its hints.md, its solution and WHY.md, a book page that
//! includes the exercise's code and hints, a SUMMARY entry, a lock entry) that passes `verify` at once.

use std::path::Path;

use crate::Result;
use crate::course::Course;
use crate::lock;
use crate::ui::{CMD, GOOD, HEAD, paint};

fn write(root: &Path, rel: &str, text: &str) -> Result<()> {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().expect("relative path has a parent"))?;
    std::fs::write(&path, text)?;
    anstream::println!("  {} {rel}", paint(GOOD, "created"));
    Ok(())
}

/// Scaffolds the lesson `name` under `root`.
pub fn new_lesson(root: &Path, name: &str, title: &str) -> Result<()> {
    let bad = || {
        format!(
            "`{name}` is not a lesson name: use lesson-NN-slug, e.g. lesson-17-select-fairness \
             (NN a number, slug in lowercase letters, digits and dashes)"
        )
    };
    let rest = name.strip_prefix("lesson-").ok_or_else(bad)?;
    let (nn, slug) = rest.split_once('-').ok_or_else(bad)?;
    let number: u32 = nn.parse().map_err(|_| bad())?;
    if nn.len() < 2
        || slug.is_empty()
        || !slug
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return Err(bad().into());
    }
    if title.trim().is_empty() || title.contains('"') || title.contains('\n') {
        return Err("--title needs a one-line title without double quotes".into());
    }
    let course = Course::load(root)?;
    if let Some(l) = course.lessons.iter().find(|l| l.number == number) {
        return Err(format!("lesson {nn} already exists: {}", l.name).into());
    }
    let krate = name.replace('-', "_");
    let stem = slug.replace('-', "_");
    let has_runtime = root.join("runtime/Cargo.toml").is_file();
    let lockfile = std::fs::read_to_string(root.join("Cargo.lock")).unwrap_or_default();
    let mut dev_deps = String::new();
    for dep in ["insta", "trybuild"] {
        if lockfile.contains(&format!("name = \"{dep}\"")) {
            dev_deps.push_str(&format!("{dep} = \"1\"\n"));
        }
    }
    anstream::println!("{}", paint(HEAD, format!("New lesson {nn} · {title}")));
    let goro = if has_runtime {
        "goro = { path = \"../../runtime\" }\n"
    } else {
        ""
    };
    write(
        root,
        &format!("exercises/{name}/Cargo.toml"),
        &format!(
            r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2024"
publish = false

[dependencies]
{goro}
[dev-dependencies]
{dev_deps}
[package.metadata.workbook]
title = "{title}"
edit = ["src/lib.rs"]
time_limit_secs = 60
expected_failures = ["{stem}::the_lesson_works"]
"#
        ),
    )?;
    write(
        root,
        &format!("exercises/{name}/{}", crate::hints::FILE),
        &crate::hints::render(
            nn,
            &[
                "Read the TODO(lesson) comment in src/lib.rs: it says what is missing.",
                &format!("The test in tests/{stem}.rs says what the finished code must do."),
            ],
        ),
    )?;
    let lib = |body: &str, todo: &str| {
        format!(
            "//! Lesson {nn}: {title}.\n\n// ANCHOR: answer\n/// What the lesson's test checks.\npub fn answer() -> u32 {{\n{todo}    {body}\n}}\n// ANCHOR_END: answer\n"
        )
    };
    write(
        root,
        &format!("exercises/{name}/src/lib.rs"),
        &lib("0", "    // TODO(lesson): make this return 42.\n"),
    )?;
    write(
        root,
        &format!("exercises/{name}/tests/{stem}.rs"),
        &format!(
            "//! The checks of lesson {nn}.\n\n#[test]\nfn the_crate_builds() {{\n    let _ = {krate}::answer();\n}}\n\n\
             #[test]\nfn the_lesson_works() {{\n    let answer = {krate}::answer();\n    assert_eq!(answer, 42, \"answer() must return 42\");\n}}\n"
        ),
    )?;
    write(
        root,
        &format!("solutions/{name}/src/lib.rs"),
        &lib("42", ""),
    )?;
    write(
        root,
        &format!("solutions/{name}/WHY.md"),
        "`answer()` returns 42 because the test asks for it. (Replace this with why the \
         lesson's solution works.)\n",
    )?;
    write(
        root,
        &format!("lessons/{name}.md"),
        &format!(
            "# {nn}. {title}\n\nWhat this lesson teaches, and why it matters.\n\n\
             ```rust\n{{{{#include ../exercises/{name}/src/lib.rs:answer}}}}\n```\n\n\
             Fix it, then run `cargo xtask check {nn}`.\n\n\
             {{{{#include ../exercises/{name}/{hints}}}}}\n",
            hints = crate::hints::FILE
        ),
    )?;
    add_to_summary(root, name, nn, title)?;
    // Lock entry for the new lesson only: other lessons' entries stay as they were.
    let course = Course::load(root)?;
    let lesson = course.find(name)?;
    let mut file = lock::read(&course)?.unwrap_or_default();
    file.version = 1;
    file.lessons
        .insert(name.to_string(), lock::compute(lesson)?);
    lock::write(&course, &file)?;
    anstream::println!("  {} exercises/{}", paint(GOOD, "updated"), lock::LOCK_FILE);
    anstream::println!(
        "{} fill in the page, the exercise and its solution, then {}",
        paint(HEAD, "Next:"),
        paint(CMD, format!("cargo xtask verify {nn}"))
    );
    Ok(())
}

/// Links the lesson in SUMMARY.md: fills a draft entry `[NN. ...]()` if there is one, else
/// adds a line after the last lesson.
fn add_to_summary(root: &Path, name: &str, nn: &str, title: &str) -> Result<()> {
    let path = root.join("lessons/SUMMARY.md");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|_| "# Summary\n\n".into());
    let link = format!("({name}.md)");
    if text.contains(&link) {
        return Ok(());
    }
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let draft = lines
        .iter()
        .position(|l| l.contains(&format!("[{nn}. ")) && l.trim_end().ends_with("]()"));
    match draft {
        Some(i) => lines[i] = format!("{}{link}", lines[i].trim_end().trim_end_matches("()")),
        None => {
            let entry = format!("- [{nn}. {title}]{link}");
            match lines
                .iter()
                .rposition(|l| l.contains("](lesson-") || l.contains("]()"))
            {
                Some(i) => lines.insert(i + 1, entry),
                None => lines.push(entry),
            }
        }
    }
    std::fs::write(&path, lines.join("\n") + "\n")?;
    anstream::println!("  {} lessons/SUMMARY.md", paint(GOOD, "updated"));
    Ok(())
}
