//! The protected-file lock, `exercises/workbook.lock`: a SHA-256 of every file an exercise
//! ships except the ones the learner edits (tests, snapshots, `.stderr` files, `Cargo.toml`,
//! the parts of `src/` the lesson provides), plus the shipped state of the learner's files
//! (so `list` can tell "not started" and `reset` can find the shipped version in git).
//! `cargo xtask seal` regenerates it; `check` refuses to pass while it disagrees.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::Result;
use crate::course::{Course, Lesson};

/// File name of the lock, inside `exercises/`.
pub const LOCK_FILE: &str = "workbook.lock";

/// The whole lock file.
#[derive(Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct LockFile {
    /// Format version.
    pub version: u32,
    /// A line for humans who open the file.
    #[serde(default)]
    pub note: String,
    /// Per lesson folder name.
    pub lessons: BTreeMap<String, LessonLock>,
}

/// One lesson's entry.
#[derive(Debug, Default, Clone, Serialize, Deserialize, PartialEq)]
pub struct LessonLock {
    /// Protected file (relative path) -> sha256.
    pub protected: BTreeMap<String, String>,
    /// Learner file (relative path) -> sha256 as shipped.
    pub shipped: BTreeMap<String, String>,
}

/// How a protected file disagrees with the lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// Content differs.
    Changed(String),
    /// Listed in the lock but gone.
    Missing(String),
    /// Present but not in the lock.
    Unexpected(String),
}

impl Problem {
    /// The relative path concerned.
    pub fn path(&self) -> &str {
        match self {
            Problem::Changed(p) | Problem::Missing(p) | Problem::Unexpected(p) => p,
        }
    }
}

/// SHA-256 of a file's contents, with CRLF line ends read as LF (so a Windows checkout agrees).
pub fn hash_bytes(bytes: &[u8]) -> String {
    let mut hasher = Sha256::new();
    let mut start = 0;
    for i in 0..bytes.len() {
        if bytes[i] == b'\r' && bytes.get(i + 1) == Some(&b'\n') {
            hasher.update(&bytes[start..i]);
            start = i + 1;
        }
    }
    hasher.update(&bytes[start..]);
    format!("{:x}", hasher.finalize())
}

/// SHA-256 of a file's exact bytes, streamed: for build output (test binaries, tens of
/// megabytes), where line ends mean nothing.
pub fn hash_binary(path: &Path) -> Result<String> {
    let mut hasher = Sha256::new();
    std::io::copy(&mut std::fs::File::open(path)?, &mut hasher)?;
    Ok(format!("{:x}", hasher.finalize()))
}

/// SHA-256 of a file (see [`hash_bytes`]).
pub fn hash_file(path: &Path) -> Result<String> {
    Ok(hash_bytes(&std::fs::read(path)?))
}

/// Whether a path inside an exercise is build output or a tool's scratch file, never protected.
fn ignored(rel: &str) -> bool {
    let first = rel.split('/').next().unwrap_or("");
    first == "target"
        || first == "wip"
        || first == "Cargo.lock"
        || rel.ends_with(".snap.new")
        || rel.ends_with(".pending-snap")
        || rel.ends_with('~')
        || rel.split('/').any(|part| part.starts_with('.'))
}

/// Every file of an exercise (relative paths with `/`), build output excluded.
pub fn exercise_files(dir: &Path) -> Result<Vec<String>> {
    let mut files = Vec::new();
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let entry = entry?;
        if !entry.file_type().is_file() {
            continue;
        }
        let rel = entry
            .path()
            .strip_prefix(dir)
            .expect("walkdir stays inside its root")
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/");
        if !ignored(&rel) {
            files.push(rel);
        }
    }
    Ok(files)
}

/// Computes a lesson's lock entry from the files on disk.
pub fn compute(lesson: &Lesson) -> Result<LessonLock> {
    let mut entry = LessonLock::default();
    for rel in exercise_files(&lesson.dir)? {
        let hash = hash_file(&lesson.dir.join(&rel))?;
        if lesson.meta.edit.iter().any(|e| e == &rel) {
            entry.shipped.insert(rel, hash);
        } else {
            entry.protected.insert(rel, hash);
        }
    }
    Ok(entry)
}

/// Reads the lock (an empty one if the file does not exist).
pub fn read(course: &Course) -> Result<Option<LockFile>> {
    let path = course.root.join("exercises").join(LOCK_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(Some(serde_json::from_str(&text).map_err(|e| {
            format!(
                "exercises/{LOCK_FILE} is damaged ({e}); restore it with `git checkout -- exercises/{LOCK_FILE}`"
            )
        })?)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Writes a fresh lock for every lesson; returns the lesson names whose entry changed.
pub fn seal(course: &Course) -> Result<Vec<String>> {
    let old = read(course)?.unwrap_or_default();
    let mut new = LockFile {
        version: 1,
        note: NOTE.to_string(),
        lessons: BTreeMap::new(),
    };
    for lesson in &course.lessons {
        new.lessons.insert(lesson.name.clone(), compute(lesson)?);
    }
    let mut changed: Vec<String> = new
        .lessons
        .iter()
        .filter(|(name, entry)| old.lessons.get(*name) != Some(entry))
        .map(|(name, _)| name.clone())
        .collect();
    changed.extend(
        old.lessons
            .keys()
            .filter(|k| !new.lessons.contains_key(*k))
            .cloned(),
    );
    write(course, &new)?;
    Ok(changed)
}

/// Writes the lock file.
pub fn write(course: &Course, lock: &LockFile) -> Result<()> {
    let mut lock_text = serde_json::to_string_pretty(lock)? + "\n";
    if lock.note.is_empty() {
        let mut with_note = serde_json::to_value(lock)?;
        with_note["note"] = NOTE.into();
        lock_text = serde_json::to_string_pretty(&with_note)? + "\n";
    }
    std::fs::write(course.root.join("exercises").join(LOCK_FILE), lock_text)?;
    Ok(())
}

const NOTE: &str =
    "Checksums of the files each exercise ships. Regenerate with `cargo xtask seal`.";

/// Compares a lesson's protected files with its lock entry.
/// `Ok(None)` means the lock has no entry for this lesson.
pub fn check(course: &Course, lesson: &Lesson) -> Result<Option<Vec<Problem>>> {
    let Some(lock) = read(course)? else {
        return Ok(None);
    };
    let Some(entry) = lock.lessons.get(&lesson.name) else {
        return Ok(None);
    };
    Ok(Some(diff(entry, &compute(lesson)?)))
}

/// Differences in the protected files between `locked` and `now`.
pub fn diff(locked: &LessonLock, now: &LessonLock) -> Vec<Problem> {
    let mut problems = Vec::new();
    for (path, hash) in &locked.protected {
        match now.protected.get(path) {
            None => problems.push(Problem::Missing(path.clone())),
            Some(h) if h != hash => problems.push(Problem::Changed(path.clone())),
            Some(_) => {}
        }
    }
    for path in now.protected.keys() {
        if !locked.protected.contains_key(path) {
            problems.push(Problem::Unexpected(path.clone()));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crlf_and_lf_hash_alike() {
        assert_eq!(hash_bytes(b"a\r\nb\r\n"), hash_bytes(b"a\nb\n"));
        assert_ne!(hash_bytes(b"a\rb"), hash_bytes(b"ab"));
        assert_ne!(hash_bytes(b"a\nb"), hash_bytes(b"a\nc"));
    }

    #[test]
    fn binaries_hash_their_exact_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        // Larger than one read, so the pieces must add up to the whole.
        let mut bytes: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        bytes.extend_from_slice(b"\r\n");
        std::fs::write(&a, &bytes).unwrap();
        assert_eq!(
            hash_binary(&a).unwrap(),
            format!("{:x}", Sha256::digest(&bytes))
        );
        // A CR LF in a binary is two bytes like any other: not the same file as a lone LF.
        bytes.remove(bytes.len() - 2);
        std::fs::write(&b, &bytes).unwrap();
        assert_ne!(hash_binary(&a).unwrap(), hash_binary(&b).unwrap());
    }

    #[test]
    fn diff_names_each_kind_of_problem() {
        let mut locked = LessonLock::default();
        locked.protected.insert("tests/a.rs".into(), "1".into());
        locked.protected.insert("tests/b.rs".into(), "2".into());
        let mut now = LessonLock::default();
        now.protected.insert("tests/a.rs".into(), "9".into());
        now.protected.insert("tests/c.rs".into(), "3".into());
        assert_eq!(
            diff(&locked, &now),
            vec![
                Problem::Changed("tests/a.rs".into()),
                Problem::Missing("tests/b.rs".into()),
                Problem::Unexpected("tests/c.rs".into()),
            ]
        );
    }

    #[test]
    fn build_output_is_never_protected() {
        assert!(ignored("target/debug/x"));
        assert!(ignored("tests/snapshots/a.snap.new"));
        assert!(ignored(".hidden/file"));
        assert!(!ignored("tests/snapshots/a.snap"));
        assert!(!ignored("Cargo.toml"));
    }
}
