//! The course on disk: where it lives, which lessons it has, and what each lesson's
//! `[package.metadata.workbook]` table says. Lessons are discovered from
//! `exercises/lesson-*/Cargo.toml`; there is no central table to keep in sync.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::Result;

/// A course checkout: the workspace root plus every lesson found under `exercises/`.
#[derive(Debug, Clone)]
pub struct Course {
    /// Absolute path of the course root (the folder holding `exercises/`, `solutions/`, `lessons/`).
    pub root: PathBuf,
    /// Lessons sorted by number.
    pub lessons: Vec<Lesson>,
    /// Lessons whose manifest could not be read: they block only themselves.
    pub broken: Vec<Broken>,
}

/// A lesson folder whose `Cargo.toml` is unusable, and why.
#[derive(Debug, Clone)]
pub struct Broken {
    /// The folder name.
    pub name: String,
    /// What is wrong, naming the file.
    pub error: String,
}

/// The longest `time_limit_secs` a lesson may ask for (an hour per test).
pub const MAX_TIME_LIMIT_SECS: u64 = 3600;

/// One lesson: an exercise crate, its solution files and its book page.
#[derive(Debug, Clone)]
pub struct Lesson {
    /// Folder name, e.g. `lesson-07-channels`.
    pub name: String,
    /// The number in the name (7).
    pub number: u32,
    /// The part after the number (`channels`).
    pub slug: String,
    /// The exercise's package name from its `Cargo.toml`.
    pub package: String,
    /// The exercise's package version (used for the environment of test processes).
    pub version: String,
    /// Absolute path of `exercises/<name>`.
    pub dir: PathBuf,
    /// The `[package.metadata.workbook]` table.
    pub meta: Meta,
}

/// `[package.metadata.workbook]` of an exercise's `Cargo.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Meta {
    /// Page title.
    pub title: String,
    /// Files the learner edits, relative to the exercise folder.
    pub edit: Vec<String>,
    /// Time limit per test (each runs in a process of its own), in seconds.
    #[serde(default = "default_time_limit")]
    pub time_limit_secs: u64,
    /// Tests the exercise fails as shipped, as `<test-target>::<test path>`.
    #[serde(default)]
    pub expected_failures: Vec<String>,
    /// Hints, revealed one at a time: read from the exercise's `hints.md` (see `hints.rs`);
    /// a manifest list is the old place, which `verify` refuses.
    #[serde(default)]
    pub hints: Vec<String>,
}

fn default_time_limit() -> u64 {
    60
}

#[derive(Deserialize)]
struct Manifest {
    package: Option<Package>,
}

#[derive(Deserialize)]
struct Package {
    name: String,
    #[serde(default)]
    version: Option<toml::Value>,
    #[serde(default)]
    metadata: Option<PackageMetadata>,
}

#[derive(Deserialize)]
struct PackageMetadata {
    workbook: Option<Meta>,
}

impl Course {
    /// Loads the course at `root`, reading every lesson's metadata.
    pub fn load(root: &Path) -> Result<Course> {
        let root = root
            .canonicalize()
            .map_err(|e| format!("course root {} is not readable: {e}", root.display()))?;
        let exercises = root.join("exercises");
        if !exercises.is_dir() {
            return Err(format!(
                "{} has no exercises/ folder: is this the course root? (pass --root DIR or set XTASK_ROOT)",
                root.display()
            )
            .into());
        }
        let mut lessons = Vec::new();
        let mut broken = Vec::new();
        for entry in std::fs::read_dir(&exercises)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if !name.starts_with("lesson-") || !entry.path().join("Cargo.toml").is_file() {
                continue;
            }
            match Lesson::load(&entry.path(), &name) {
                Ok(lesson) => lessons.push(lesson),
                Err(e) => broken.push(Broken {
                    name,
                    error: e.to_string(),
                }),
            }
        }
        broken.sort_by(|a, b| a.name.cmp(&b.name));
        lessons.sort_by(|a, b| a.number.cmp(&b.number).then(a.name.cmp(&b.name)));
        for pair in lessons.windows(2) {
            if pair[0].number == pair[1].number {
                return Err(format!(
                    "two lessons share number {:02}: {} and {}; rename one of them",
                    pair[0].number, pair[0].name, pair[1].name
                )
                .into());
            }
        }
        Ok(Course {
            root,
            lessons,
            broken,
        })
    }

    /// Finds a lesson by `lesson-07`, `07`, `7`, `channels`, `lesson-07-channels` or package name.
    pub fn find(&self, query: &str) -> Result<&Lesson> {
        let q = query.trim().trim_end_matches('/');
        let q = q.rsplit('/').next().unwrap_or(q).to_ascii_lowercase();
        let number = q
            .strip_prefix("lesson-")
            .unwrap_or(&q)
            .split('-')
            .next()
            .and_then(|n| n.parse::<u32>().ok());
        let found = self.lessons.iter().find(|l| {
            l.name == q
                || l.package == q
                || l.slug == q
                || (number.is_some() && number == Some(l.number) && {
                    // `07` / `lesson-07` / `7`, or `lesson-07-channels` spelled in full.
                    let rest = q.strip_prefix("lesson-").unwrap_or(&q);
                    rest.chars().all(|c| c.is_ascii_digit()) || l.name == q
                })
        });
        if let Some(lesson) = found {
            return Ok(lesson);
        }
        if let Some(b) = self.broken.iter().find(|b| {
            let rest = b.name.strip_prefix("lesson-").unwrap_or(&b.name);
            let (num, slug) = rest.split_once('-').unwrap_or((rest, ""));
            b.name == q || slug == q || (number.is_some() && num.parse::<u32>().ok() == number)
        }) {
            return Err(format!("lesson {} cannot be used: {}", b.name, b.error).into());
        }
        Err(self.unknown_lesson(query).into())
    }

    fn unknown_lesson(&self, query: &str) -> String {
        let mut msg = format!("there is no lesson `{query}`.");
        if self.lessons.is_empty() {
            msg.push_str(" This course has no lessons yet (exercises/lesson-NN-slug/ folders).");
            return msg;
        }
        let closest = self
            .lessons
            .iter()
            .flat_map(|l| {
                [&l.name, &l.slug]
                    .into_iter()
                    .map(move |cand| (strsim::jaro_winkler(&query.to_ascii_lowercase(), cand), l))
            })
            .max_by(|a, b| a.0.total_cmp(&b.0));
        if let Some((score, lesson)) = closest
            && score > 0.7
        {
            let _ = write!(msg, " Did you mean `{}`?", lesson.name);
        }
        msg.push_str("\nThe lessons are:");
        for l in &self.lessons {
            let _ = write!(msg, "\n  {:02}  {:<32} {}", l.number, l.name, l.meta.title);
        }
        msg.push_str(
            "\nName one by number (`07`), by name (`lesson-07`) or by topic (`channels`).",
        );
        msg
    }

    /// `path` relative to the course root, for messages.
    pub fn rel(&self, path: &Path) -> String {
        path.strip_prefix(&self.root)
            .unwrap_or(path)
            .display()
            .to_string()
    }

    /// Where per-learner state lives (`.workbook/`, ignored by git).
    pub fn state_dir(&self) -> PathBuf {
        self.root.join(".workbook")
    }

    /// Scratch space under the target folder.
    pub fn scratch_dir(&self) -> PathBuf {
        self.root.join("target").join("workbook")
    }
}

impl Lesson {
    fn load(dir: &Path, name: &str) -> Result<Lesson> {
        let manifest_path = dir.join("Cargo.toml");
        let text = std::fs::read_to_string(&manifest_path)?;
        let shown = format!("exercises/{name}/Cargo.toml");
        let manifest: Manifest =
            toml::from_str(&text).map_err(|e| format!("{shown} is not valid: {e}"))?;
        let package = manifest
            .package
            .ok_or_else(|| format!("{shown} has no [package] table"))?;
        let mut meta = package.metadata.and_then(|m| m.workbook).ok_or_else(|| {
            format!(
                "{shown} has no [package.metadata.workbook] table (title, edit, \
                     expected_failures, time_limit_secs); see README.md, \"How a lesson is \
                     described\", or scaffold one with `cargo xtask new`"
            )
        })?;
        let rest = name.strip_prefix("lesson-").unwrap_or(name);
        let (num, slug) = rest.split_once('-').unwrap_or((rest, ""));
        let number = num.parse::<u32>().map_err(|_| {
            format!("exercises/{name}: a lesson folder must be named lesson-NN-slug (NN a number)")
        })?;
        if slug.is_empty() {
            return Err(
                format!("exercises/{name}: the folder name needs a slug: lesson-NN-slug").into(),
            );
        }
        if meta.edit.is_empty() {
            return Err(
                format!("{shown}: `edit` must name at least one file the learner edits").into(),
            );
        }
        if meta.time_limit_secs == 0 || meta.time_limit_secs > MAX_TIME_LIMIT_SECS {
            return Err(format!(
                "{shown}: `time_limit_secs = {}` is out of range: give the seconds one test \
                 may run, from 1 to {MAX_TIME_LIMIT_SECS}",
                meta.time_limit_secs
            )
            .into());
        }
        for file in &meta.edit {
            if Path::new(file).is_absolute() || file.contains("..") || file.contains('\\') {
                return Err(format!(
                    "{shown}: edit entry `{file}` must be a path inside the exercise folder"
                )
                .into());
            }
            if !file.ends_with(".rs") || file == "build.rs" || file.starts_with("tests/") {
                return Err(format!(
                    "{shown}: edit entry `{file}` must be a Rust source file of the crate \
                     (not a test, a build script or a config file: those judge the lesson)"
                )
                .into());
            }
        }
        if let Some(hints) = crate::hints::read(dir)? {
            if !meta.hints.is_empty() {
                return Err(format!(
                    "{shown} has `hints` and exercises/{name}/{} too: keep them in {0} only",
                    crate::hints::FILE
                )
                .into());
            }
            meta.hints = hints;
        }
        let version = match package.version {
            Some(toml::Value::String(v)) => v,
            _ => "0.1.0".to_string(),
        };
        Ok(Lesson {
            name: name.to_string(),
            number,
            slug: slug.to_string(),
            package: package.name,
            version,
            dir: dir.to_path_buf(),
            meta,
        })
    }

    /// `07`.
    pub fn nn(&self) -> String {
        format!("{:02}", self.number)
    }

    /// The solution folder `solutions/<name>`.
    pub fn solution_dir(&self, course: &Course) -> PathBuf {
        course.root.join("solutions").join(&self.name)
    }

    /// The book page `lessons/<name>.md`.
    pub fn page(&self, course: &Course) -> PathBuf {
        course
            .root
            .join("lessons")
            .join(format!("{}.md", self.name))
    }

    /// The learner's files, absolute.
    pub fn edit_paths(&self) -> Vec<PathBuf> {
        self.meta.edit.iter().map(|f| self.dir.join(f)).collect()
    }

    /// The files a learner edits, joined for a sentence.
    pub fn edit_list(&self, course: &Course) -> String {
        match self.meta.edit.as_slice() {
            [one] => course.rel(&self.dir.join(one)),
            many => format!("{} in {}/", many.join(", "), course.rel(&self.dir)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn course() -> (tempfile::TempDir, Course) {
        let dir = tempfile::tempdir().unwrap();
        for (name, title) in [
            ("lesson-07-channels", "Channels"),
            ("lesson-08-select-and-timeouts", "Select"),
        ] {
            let d = dir.path().join("exercises").join(name);
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(
                d.join("Cargo.toml"),
                format!(
                    "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\n\
                     [package.metadata.workbook]\ntitle = \"{title}\"\nedit = [\"src/lib.rs\"]\n"
                ),
            )
            .unwrap();
        }
        let c = Course::load(dir.path()).unwrap();
        (dir, c)
    }

    #[test]
    fn lessons_are_found_by_number_name_slug_and_path() {
        let (_d, c) = course();
        for q in [
            "07",
            "7",
            "lesson-07",
            "lesson-07-channels",
            "channels",
            "exercises/lesson-07-channels/",
        ] {
            assert_eq!(c.find(q).unwrap().name, "lesson-07-channels", "{q}");
        }
        assert_eq!(c.find("select-and-timeouts").unwrap().number, 8);
        assert_eq!(c.lessons[0].meta.time_limit_secs, 60, "default time limit");
    }

    #[test]
    fn an_unknown_lesson_names_the_closest_one() {
        let (_d, c) = course();
        let err = c.find("chanels").unwrap_err().to_string();
        assert!(err.contains("Did you mean `lesson-07-channels`?"), "{err}");
        assert!(err.contains("08  lesson-08-select-and-timeouts"), "{err}");
        let err = c.find("17").unwrap_err().to_string();
        assert!(
            err.contains("no lesson `17`") && !err.contains("Did you mean"),
            "{err}"
        );
    }

    #[test]
    fn a_lesson_without_metadata_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("exercises/lesson-01-x");
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("Cargo.toml"), "[package]\nname = \"x\"\n").unwrap();
        // A broken manifest blocks only its own lesson.
        let course = Course::load(dir.path()).unwrap();
        assert!(course.lessons.is_empty());
        let err = course.find("01").unwrap_err().to_string();
        assert!(
            err.contains("exercises/lesson-01-x/Cargo.toml has no [package.metadata.workbook]"),
            "{err}"
        );
    }
}
