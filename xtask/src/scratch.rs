//! Scratch copies of an exercise under `target/workbook/`: a stand-alone crate (its own empty
//! `[workspace]`, path dependencies made absolute, workspace inheritance resolved, the course's
//! `Cargo.lock` copied) so that the very same tests can run against the shipped exercise or
//! with the solution laid over it. All copies share one target folder, so the runtime and the
//! test dependencies compile once.

use std::path::{Path, PathBuf};

use toml::{Table, Value};

use crate::Result;
use crate::course::{Course, Lesson};
use crate::lock;

/// The target folder shared by every scratch copy.
pub fn target_dir(course: &Course) -> PathBuf {
    std::env::var_os("XTASK_SCRATCH_TARGET")
        .map(PathBuf::from)
        .unwrap_or_else(|| course.scratch_dir().join("target"))
}

/// Holds `target/workbook/.lock` for as long as it lives: two `verify`, `bless` or `grade` runs
/// in one checkout would otherwise delete each other's scratch copies mid-build.
pub struct ScratchLock {
    _file: std::fs::File,
}

/// Takes the scratch lock of the checkout at `root`, waiting (and saying so) if it is held.
pub fn lock(root: &Path) -> Result<ScratchLock> {
    let dir = root.join("target").join("workbook");
    std::fs::create_dir_all(&dir)?;
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join(".lock"))?;
    if file.try_lock().is_err() {
        eprintln!(
            "waiting for another verify, bless or grade in this checkout to finish ({})…",
            dir.join(".lock").display()
        );
        file.lock()?;
    }
    Ok(ScratchLock { _file: file })
}

/// Makes `dest` a stand-alone copy of the lesson's exercise; with `solution`, the solution's
/// files are laid over the learner's files.
pub fn prepare(course: &Course, lesson: &Lesson, dest: &Path, solution: bool) -> Result<()> {
    if dest.exists() {
        std::fs::remove_dir_all(dest)?;
    }
    std::fs::create_dir_all(dest)?;
    for rel in lock::exercise_files(&lesson.dir)? {
        let to = dest.join(&rel);
        std::fs::create_dir_all(to.parent().expect("inside dest"))?;
        std::fs::copy(lesson.dir.join(&rel), to)?;
    }
    let manifest = std::fs::read_to_string(lesson.dir.join("Cargo.toml"))?;
    std::fs::write(
        dest.join("Cargo.toml"),
        standalone_manifest(&manifest, &lesson.dir, &course.root)?,
    )?;
    let lockfile = course.root.join("Cargo.lock");
    if lockfile.is_file() {
        std::fs::copy(lockfile, dest.join("Cargo.lock"))?;
    }
    if solution {
        let sol = lesson.solution_dir(course);
        for file in &lesson.meta.edit {
            let from = sol.join(file);
            if !from.is_file() {
                return Err(format!(
                    "{} is missing: a solution has every file listed in `edit`",
                    course.rel(&from)
                )
                .into());
            }
            std::fs::copy(from, dest.join(file))?;
        }
    }
    Ok(())
}

/// Rewrites an exercise manifest so it builds outside the course workspace.
pub fn standalone_manifest(text: &str, exercise_dir: &Path, root: &Path) -> Result<String> {
    let mut doc: Table = text.parse()?;
    let root_manifest: Table = std::fs::read_to_string(root.join("Cargo.toml"))
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or_default();
    let ws = root_manifest
        .get("workspace")
        .and_then(Value::as_table)
        .cloned()
        .unwrap_or_default();
    let ws_package = ws.get("package").and_then(Value::as_table);
    if let Some(pkg) = doc.get_mut("package").and_then(Value::as_table_mut) {
        for (key, value) in pkg.iter_mut() {
            if inherits(value)
                && let Some(v) = ws_package.and_then(|p| p.get(key.as_str()))
            {
                *value = v.clone();
            }
        }
    }
    let ws_deps = ws.get("dependencies").and_then(Value::as_table);
    for section in ["dependencies", "dev-dependencies", "build-dependencies"] {
        let Some(deps) = doc.get_mut(section).and_then(Value::as_table_mut) else {
            continue;
        };
        for (name, dep) in deps.iter_mut() {
            if inherits(dep) {
                let base = ws_deps.and_then(|d| d.get(name.as_str())).cloned();
                let mut merged = match base {
                    Some(Value::String(v)) => {
                        let mut t = Table::new();
                        t.insert("version".into(), Value::String(v));
                        t
                    }
                    Some(Value::Table(t)) => t,
                    _ => {
                        return Err(format!(
                            "dependency `{name}` says workspace = true but the root Cargo.toml has no [workspace.dependencies] entry for it"
                        )
                        .into());
                    }
                };
                absolutize(&mut merged, root);
                if let Value::Table(own) = dep {
                    for (k, v) in own.iter() {
                        if k != "workspace" {
                            merged.insert(k.clone(), v.clone());
                        }
                    }
                }
                *dep = Value::Table(merged);
            } else if let Value::Table(t) = dep {
                absolutize(t, exercise_dir);
            }
        }
    }
    if let Some(lints) = doc.get("lints")
        && inherits(lints)
    {
        match ws.get("lints") {
            Some(l) => {
                doc.insert("lints".into(), l.clone());
            }
            None => {
                doc.remove("lints");
            }
        }
    }
    doc.insert("workspace".into(), Value::Table(Table::new()));
    Ok(toml::to_string(&doc)?)
}

fn inherits(v: &Value) -> bool {
    v.as_table()
        .and_then(|t| t.get("workspace"))
        .and_then(Value::as_bool)
        == Some(true)
}

fn absolutize(dep: &mut Table, base: &Path) {
    if let Some(Value::String(p)) = dep.get("path") {
        let abs = base.join(p);
        let abs = abs.canonicalize().unwrap_or(abs);
        dep.insert(
            "path".into(),
            Value::String(abs.to_string_lossy().into_owned()),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_becomes_standalone() {
        let root = tempfile::tempdir().unwrap();
        std::fs::write(
            root.path().join("Cargo.toml"),
            "[workspace]\nmembers=[]\n[workspace.package]\nedition = \"2024\"\n[workspace.dependencies]\ninsta = \"1\"\n[workspace.lints.rust]\nunsafe_code = \"deny\"\n",
        )
        .unwrap();
        let ex = root.path().join("exercises/lesson-01-x");
        std::fs::create_dir_all(&ex).unwrap();
        let text = "[package]\nname = \"l\"\nversion = \"0.1.0\"\nedition.workspace = true\n\
                    [dependencies]\ngoro = { path = \"../../runtime\" }\n\
                    [dev-dependencies]\ninsta = { workspace = true, features = [\"json\"] }\n\
                    [lints]\nworkspace = true\n";
        let out: Table = standalone_manifest(text, &ex, root.path())
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(out["package"]["edition"].as_str(), Some("2024"));
        let goro = out["dependencies"]["goro"]["path"].as_str().unwrap();
        assert!(
            Path::new(goro).is_absolute() && goro.ends_with("runtime"),
            "{goro}"
        );
        assert_eq!(
            out["dev-dependencies"]["insta"]["version"].as_str(),
            Some("1")
        );
        assert!(out["dev-dependencies"]["insta"]["features"].is_array());
        assert!(out["lints"]["rust"]["unsafe_code"].is_str());
        assert!(out["workspace"].is_table());
    }
}
