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
    for b in &course.broken {
        anstream::println!("  {}  {}: {}", paint(BAD, "✗ broken"), b.name, b.error);
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

/// Refuses to touch an exercise that holds a symbolic link (outside `target/`): reset and
/// restore never read or write through one.
fn refuse_links(course: &Course, lesson: &Lesson) -> Result<()> {
    crate::guard::no_links(&course.root, &format!("exercises/{}", lesson.name))?;
    let mut links = Vec::new();
    for entry in walkdir::WalkDir::new(&lesson.dir)
        .into_iter()
        .filter_entry(|e| !(e.depth() == 1 && e.file_name() == "target"))
    {
        let entry = entry?;
        if entry.path_is_symlink() {
            links.push(course.rel(entry.path()));
        }
    }
    if links.is_empty() {
        return Ok(());
    }
    Err(format!(
        "{} {} a symbolic link; nothing is read or written through a link, so nothing was \
         changed. Remove {} (`rm` removes the link, not what it points to), then run this \
         command again",
        links.join(", "),
        if links.len() == 1 { "is" } else { "are" },
        if links.len() == 1 { "it" } else { "them" },
    )
    .into())
}

/// Where the backups of lessons live.
fn backups_dir(course: &Course) -> PathBuf {
    course.state_dir().join("backups")
}

/// Copies every file of the exercise (not build output) into a new backup folder, whose name
/// never collides with an earlier one; returns it.
pub fn backup(course: &Course, lesson: &Lesson) -> Result<PathBuf> {
    let dir = backups_dir(course);
    std::fs::create_dir_all(&dir)?;
    let stamp = humantime::format_rfc3339_micros(std::time::SystemTime::now())
        .to_string()
        .replace(':', "-");
    let mut n = 0;
    let backup = loop {
        let name = match n {
            0 => format!("{}-{stamp}", lesson.name),
            n => format!("{}-{stamp}-{n}", lesson.name),
        };
        let path = dir.join(name);
        match std::fs::create_dir(&path) {
            Ok(()) => break path,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => n += 1,
            Err(e) => return Err(format!("cannot create {}: {e}", course.rel(&path)).into()),
        }
    };
    // Everything of the exercise that is not build output (not only the edit files: a learner
    // may have changed a test by mistake and want it back).
    for rel in lock::exercise_files(&lesson.dir)? {
        let to = backup.join(&rel);
        std::fs::create_dir_all(to.parent().expect("inside backup"))?;
        std::fs::copy(lesson.dir.join(&rel), &to)?;
    }
    Ok(backup)
}

/// The backups of one lesson, oldest first.
pub fn backups_of(course: &Course, lesson: &Lesson) -> Result<Vec<PathBuf>> {
    let dir = backups_dir(course);
    let mut found = Vec::new();
    let prefix = format!("{}-", lesson.name);
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for entry in entries {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with(&prefix) && entry.file_type()?.is_dir() {
                found.push(entry.path());
            }
        }
    }
    found.sort();
    Ok(found)
}

/// `reset --list`: the backups of one lesson or of all, with how to bring one back.
pub fn list_backups(course: &Course, lesson: Option<&Lesson>) -> Result<()> {
    let lessons: Vec<&Lesson> = match lesson {
        Some(l) => vec![l],
        None => course.lessons.iter().collect(),
    };
    let mut any = false;
    for l in lessons {
        let backups = backups_of(course, l)?;
        if backups.is_empty() {
            continue;
        }
        any = true;
        anstream::println!(
            "{}",
            paint(HEAD, format!("Lesson {} · {}", l.nn(), l.meta.title))
        );
        for b in &backups {
            let files = lock::exercise_files(b)?.len();
            anstream::println!(
                "  {}  ({files} file{})",
                course.rel(b),
                if files == 1 { "" } else { "s" }
            );
        }
        let newest = backups.last().expect("not empty");
        anstream::println!(
            "  {} {}",
            paint(DIM, "bring one back with"),
            paint(
                CMD,
                format!(
                    "cargo xtask restore {} {}",
                    l.nn(),
                    newest.file_name().unwrap_or_default().to_string_lossy()
                )
            )
        );
    }
    if !any {
        anstream::println!(
            "No backups yet: `cargo xtask reset` makes one before it changes anything."
        );
    }
    Ok(())
}

/// `restore LESSON [BACKUP]`: backs up the lesson's files as they are now, then copies a
/// backup (the newest when none is named) back into the exercise.
pub fn restore(course: &Course, lesson: &Lesson, which: Option<&str>) -> Result<PathBuf> {
    refuse_links(course, lesson)?;
    let backups = backups_of(course, lesson)?;
    let chosen = match which {
        None => backups.last().cloned().ok_or_else(|| {
            format!(
                "lesson {} has no backups in {} (`cargo xtask reset --list` shows them all)",
                lesson.nn(),
                course.rel(&backups_dir(course))
            )
        })?,
        Some(name) => {
            let name = name.trim_end_matches('/');
            let name = name.rsplit('/').next().unwrap_or(name);
            backups
                .iter()
                .find(|b| b.file_name().is_some_and(|n| n == name))
                .cloned()
                .ok_or_else(|| {
                    format!(
                        "there is no backup `{name}` of lesson {}; `cargo xtask reset --list {}` \
                         shows its backups",
                        lesson.nn(),
                        lesson.nn()
                    )
                })?
        }
    };
    let files = lock::exercise_files(&chosen)?;
    for rel in &files {
        let rel_in_course = format!("{}/{rel}", course.rel(&chosen));
        crate::guard::no_links(&course.root, &rel_in_course)?;
    }
    let saved = backup(course, lesson)?;
    anstream::println!(
        "{} your files as they were are backed up in {}",
        paint(GOOD, "saved:"),
        paint(HEAD, course.rel(&saved))
    );
    for rel in &files {
        let dest = lesson.dir.join(rel);
        std::fs::create_dir_all(dest.parent().expect("inside exercise"))?;
        std::fs::copy(chosen.join(rel), &dest)?;
        anstream::println!("  restored {}", course.rel(&dest));
    }
    let mut state = State::load(course);
    let entry = state.lesson(lesson);
    entry.passed = None;
    entry.files_hash.clear();
    state.save(course)?;
    anstream::println!(
        "{} {}",
        paint(HEAD, "Next:"),
        paint(CMD, format!("cargo xtask check {}", lesson.nn()))
    );
    Ok(saved)
}

/// `reset`: backs the learner's files up, then restores the shipped exercise.
pub fn reset(course: &Course, lesson: &Lesson) -> Result<PathBuf> {
    refuse_links(course, lesson)?;
    let backup = backup(course, lesson)?;
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
        "{} your files are backed up in {} (`cargo xtask restore {}` brings them back)",
        paint(GOOD, "saved:"),
        paint(HEAD, course.rel(&backup)),
        lesson.nn()
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
