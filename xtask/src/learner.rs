//! The learner's small commands: `list`, `hint` and `reset`.

use std::path::{Path, PathBuf};

use crate::Result;
use crate::course::{Course, Lesson};
use crate::lock;
use crate::state::{State, Status};
use crate::ui::{self, BAD, CMD, DIM, GOOD, HEAD, WARN, paint};

/// `list`: every lesson with its state and a progress bar.
pub fn list(course: &Course) -> Result<()> {
    let state = State::load(course);
    let mut passed = 0;
    let mut in_progress = false;
    let title = std::fs::read_to_string(course.root.join("book.toml"))
        .ok()
        .and_then(|t| t.parse::<toml::Table>().ok())
        .and_then(|t| t.get("book")?.get("title")?.as_str().map(str::to_string))
        .unwrap_or_else(|| "The workbook".to_string());
    anstream::println!("{}", paint(HEAD, title));
    for lesson in &course.lessons {
        let status = state.status(course, lesson);
        let mark = match status {
            Status::Passed => {
                passed += 1;
                paint(GOOD, "✓ passed     ")
            }
            Status::Failing => paint(BAD, "✗ failing    "),
            Status::Edited => {
                in_progress = true;
                paint(WARN, "~ in progress")
            }
            Status::NotStarted => paint(DIM, "· not started"),
        };
        anstream::println!("  {}  {mark}  {}", lesson.nn(), lesson.meta.title);
    }
    let total = course.lessons.len();
    anstream::println!(
        "\n  {} {passed}/{total} lessons passed",
        ui::bar(passed, total, 30)
    );
    if let Some(next) = course
        .lessons
        .iter()
        .find(|l| state.status(course, l) != Status::Passed)
    {
        anstream::println!(
            "  {} {}",
            paint(HEAD, "Next:"),
            paint(CMD, format!("cargo xtask check {}", next.nn()))
        );
    }
    if in_progress {
        anstream::println!(
            "  {}",
            paint(
                DIM,
                "(\"in progress\": your files changed since the last check)"
            )
        );
    }
    Ok(())
}

/// `hint`: reveals the next hint (all with `all`).
/// `more` says how to ask for the next hint (it differs inside `watch`).
pub fn hint(course: &Course, lesson: &Lesson, all: bool, more: &str) -> Result<()> {
    let hints = &lesson.meta.hints;
    if hints.is_empty() {
        anstream::println!(
            "Lesson {} has no hints. Re-read {} ({}).",
            lesson.nn(),
            course.rel(&lesson.page(course)),
            paint(CMD, "cargo xtask book --open")
        );
        return Ok(());
    }
    let mut state = State::load(course);
    let entry = state.lesson(lesson);
    let upto = if all {
        hints.len()
    } else {
        (entry.hints_shown + 1).min(hints.len())
    };
    let already = entry.hints_shown.min(upto);
    entry.hints_shown = entry.hints_shown.max(upto);
    state.save(course)?;
    anstream::println!(
        "{}",
        paint(
            HEAD,
            format!("Lesson {} · {}: hints", lesson.nn(), lesson.meta.title)
        )
    );
    for (i, h) in hints.iter().enumerate().take(upto) {
        let style = if i >= already || all { HEAD } else { DIM };
        anstream::println!(
            "  {} {}",
            paint(style, format!("{}/{}", i + 1, hints.len())),
            h
        );
    }
    if upto < hints.len() {
        anstream::println!("  {}", paint(DIM, format!("{more} again for the next one")));
    } else {
        anstream::println!(
            "  {}",
            paint(
                DIM,
                "That was the last hint. The lesson page explains the idea in full."
            )
        );
    }
    Ok(())
}

/// `reset`: backs the learner's files up, then restores the shipped exercise.
pub fn reset(course: &Course, lesson: &Lesson) -> Result<PathBuf> {
    let stamp = humantime::format_rfc3339_seconds(std::time::SystemTime::now())
        .to_string()
        .replace(':', "-");
    let backup = course
        .state_dir()
        .join("backups")
        .join(format!("{}-{stamp}", lesson.name));
    // Back up everything of the exercise that is not build output (not only the edit files:
    // a learner may have changed a test by mistake and want it back).
    for rel in lock::exercise_files(&lesson.dir)? {
        let to = backup.join(&rel);
        std::fs::create_dir_all(to.parent().expect("inside backup"))?;
        std::fs::copy(lesson.dir.join(&rel), &to)?;
    }
    let lock = lock::read(course)?;
    let entry = lock.as_ref().and_then(|l| l.lessons.get(&lesson.name));
    let rel_dir = course.rel(&lesson.dir);
    // Every file the exercise shipped: protected and editable.
    let mut shipped: Vec<(String, Option<String>)> = Vec::new();
    match entry {
        Some(e) => {
            for (f, h) in e.protected.iter().chain(e.shipped.iter()) {
                shipped.push((f.clone(), Some(h.clone())));
            }
        }
        None => {
            for f in git_ls_files(&course.root, &rel_dir)? {
                shipped.push((f, None));
            }
        }
    }
    let mut restored = Vec::new();
    for (rel, hash) in &shipped {
        let path = format!("{rel_dir}/{rel}");
        let content = shipped_version(&course.root, &path, hash.as_deref())?;
        let dest = lesson.dir.join(rel);
        if std::fs::read(&dest).ok().as_deref() != Some(content.as_slice()) {
            std::fs::create_dir_all(dest.parent().expect("inside exercise"))?;
            std::fs::write(&dest, &content)?;
            restored.push(rel.clone());
        }
    }
    // Files the course did not ship are moved out (they are in the backup).
    let mut removed = Vec::new();
    for rel in lock::exercise_files(&lesson.dir)? {
        if !shipped.iter().any(|(f, _)| f == &rel) {
            std::fs::remove_file(lesson.dir.join(&rel))?;
            removed.push(rel);
        }
    }
    let mut state = State::load(course);
    let entry = state.lesson(lesson);
    entry.passed = None;
    entry.files_hash.clear();
    state.save(course)?;
    anstream::println!(
        "{} your files are backed up in {}",
        paint(GOOD, "saved:"),
        paint(HEAD, course.rel(&backup))
    );
    if restored.is_empty() && removed.is_empty() {
        anstream::println!("Lesson {} was already as shipped.", lesson.nn());
    } else {
        for f in &restored {
            anstream::println!("  restored {}", course.rel(&lesson.dir.join(f)));
        }
        for f in &removed {
            anstream::println!(
                "  removed  {} (not part of the lesson)",
                course.rel(&lesson.dir.join(f))
            );
        }
    }
    anstream::println!(
        "{} {}",
        paint(HEAD, "Next:"),
        paint(CMD, format!("cargo xtask check {}", lesson.nn()))
    );
    Ok(backup)
}

fn git(root: &Path, args: &[&str]) -> Result<Vec<u8>> {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(root)
        .args(args)
        .output()
        .map_err(|e| format!("could not run git ({e}); reset needs the course as a git clone"))?;
    if !out.status.success() {
        return Err(format!(
            "git {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )
        .into());
    }
    Ok(out.stdout)
}

fn git_ls_files(root: &Path, dir: &str) -> Result<Vec<String>> {
    let out = git(root, &["ls-tree", "-r", "--name-only", "HEAD", "--", dir])?;
    Ok(String::from_utf8_lossy(&out)
        .lines()
        .filter_map(|l| l.strip_prefix(&format!("{dir}/")).map(str::to_string))
        .collect())
}

/// The shipped content of `path`: the newest committed version whose hash matches the lock
/// (a learner's own commits are skipped), or HEAD's when the lock does not know the file.
fn shipped_version(root: &Path, path: &str, hash: Option<&str>) -> Result<Vec<u8>> {
    let Some(hash) = hash else {
        return git(root, &["show", &format!("HEAD:{path}")]);
    };
    let log = git(root, &["log", "--format=%H", "-n", "200", "--", path])?;
    for commit in String::from_utf8_lossy(&log).lines() {
        if let Ok(content) = git(root, &["show", &format!("{commit}:{path}")])
            && lock::hash_bytes(&content) == hash
        {
            return Ok(content);
        }
    }
    Err(format!(
        "no committed version of {path} matches the course's lock; ask your instructor \
         (or `git log -- {path}` to find it yourself)"
    )
    .into())
}
