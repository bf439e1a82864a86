//! The learner's progress, in `.workbook/state.json` (ignored by git): the result of the last
//! check of each lesson together with a hash of the learner's files at that moment (a result
//! is only believed while the files still hash the same), and how many hints were shown.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::Result;
use crate::course::{Course, Lesson};
use crate::lock;

/// Everything remembered about a learner.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct State {
    /// Per lesson folder name.
    #[serde(default)]
    pub lessons: BTreeMap<String, LessonState>,
}

/// One lesson's memory.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct LessonState {
    /// Result of the last check: passed?
    #[serde(default)]
    pub passed: Option<bool>,
    /// Hash of the learner's files when that check ran.
    #[serde(default)]
    pub files_hash: String,
    /// Number of hints revealed.
    #[serde(default)]
    pub hints_shown: usize,
}

/// What `list` shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Last check passed, files unchanged since.
    Passed,
    /// Last check failed, files unchanged since.
    Failing,
    /// Files edited since the last check (or never checked, but edited).
    Edited,
    /// Never checked, files as shipped.
    NotStarted,
}

impl State {
    fn path(course: &Course) -> std::path::PathBuf {
        course.state_dir().join("state.json")
    }

    /// Loads the state; a missing or unreadable file is a fresh start.
    pub fn load(course: &Course) -> State {
        std::fs::read_to_string(Self::path(course))
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default()
    }

    /// Saves the state.
    pub fn save(&self, course: &Course) -> Result<()> {
        std::fs::create_dir_all(course.state_dir())?;
        let tmp = Self::path(course).with_extension("json.tmp");
        std::fs::write(&tmp, serde_json::to_string_pretty(self)?)?;
        std::fs::rename(tmp, Self::path(course))?;
        Ok(())
    }

    /// The entry of a lesson (default if none).
    pub fn lesson(&mut self, lesson: &Lesson) -> &mut LessonState {
        self.lessons.entry(lesson.name.clone()).or_default()
    }

    /// Records a check result.
    pub fn record(&mut self, lesson: &Lesson, passed: bool) {
        let hash = files_hash(lesson);
        let entry = self.lesson(lesson);
        entry.passed = Some(passed);
        entry.files_hash = hash;
    }

    /// The lesson's status now.
    pub fn status(&self, course: &Course, lesson: &Lesson) -> Status {
        let now = files_hash(lesson);
        if let Some(entry) = self.lessons.get(&lesson.name)
            && let Some(passed) = entry.passed
        {
            if entry.files_hash == now {
                return if passed {
                    Status::Passed
                } else {
                    Status::Failing
                };
            }
            return Status::Edited;
        }
        if as_shipped(course, lesson) {
            Status::NotStarted
        } else {
            Status::Edited
        }
    }
}

/// A hash over the learner's files (names and contents).
pub fn files_hash(lesson: &Lesson) -> String {
    let mut all = Vec::new();
    for (file, path) in lesson.meta.edit.iter().zip(lesson.edit_paths()) {
        all.extend_from_slice(file.as_bytes());
        all.push(0);
        all.extend_from_slice(lock::hash_file(&path).unwrap_or_default().as_bytes());
        all.push(0);
    }
    lock::hash_bytes(&all)
}

/// Whether the learner's files are exactly as shipped (per the lock; unknown counts as shipped).
fn as_shipped(course: &Course, lesson: &Lesson) -> bool {
    let Ok(Some(lock)) = lock::read(course) else {
        return true;
    };
    let Some(entry) = lock.lessons.get(&lesson.name) else {
        return true;
    };
    lesson.meta.edit.iter().all(|f| {
        let now = lock::hash_file(&lesson.dir.join(f)).ok();
        entry.shipped.get(f) == now.as_ref()
    })
}
