//! What a submission must not decide: files that change how tests are built or judged (insta's
//! config, cargo config beyond aliases, a build script the lesson did not ship) and learner
//! files that are symbolic links. `check` refuses them with a message naming the file; `grade`
//! never copies them from a submission and refuses a course folder that has them.

use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::Result;

/// insta reads its config from the workspace root; `force_pass` there turns failures into passes.
const INSTA_CONFIGS: &[&str] = &[".config/insta.yaml", "insta.yaml", ".insta.yaml"];

/// Tables a cargo config inside the course may have: they do not change how tests build or judge.
const CARGO_CONFIG_ALLOWED: &[&str] = &["alias", "term"];

/// A file that changes how tests are judged, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// The file, relative to the course root.
    pub file: String,
    /// What it does and what to do about it.
    pub why: String,
}

/// Files in the course (and the lesson's folders between) that would change how the lesson's
/// tests are built or judged. `shipped_build_script`: the lesson ships a `build.rs` of its own.
pub fn judging_files(root: &Path, lesson_dir: &Path, shipped_build_script: bool) -> Vec<Finding> {
    let mut found = Vec::new();
    let rel = |p: &Path| p.strip_prefix(root).unwrap_or(p).display().to_string();
    // Every folder from the lesson up to the course root: cargo reads `.cargo/config.toml` in
    // each (it runs in the lesson's folder), insta reads its config at the workspace root.
    let mut dirs: Vec<PathBuf> = Vec::new();
    let mut d = Some(lesson_dir);
    while let Some(dir) = d {
        dirs.push(dir.to_path_buf());
        if dir == root {
            break;
        }
        d = dir.parent().filter(|p| p.starts_with(root));
    }
    for dir in &dirs {
        for name in INSTA_CONFIGS {
            let p = dir.join(name);
            if p.symlink_metadata().is_ok() {
                found.push(Finding {
                    file: rel(&p),
                    why: "insta's config file: it can make failing snapshots pass \
                          (`force_pass`); delete it"
                        .into(),
                });
            }
        }
        for name in [".cargo/config.toml", ".cargo/config"] {
            let p = dir.join(name);
            if p.symlink_metadata().is_err() {
                continue;
            }
            let keys = match std::fs::read_to_string(&p)
                .ok()
                .and_then(|t| t.parse::<toml::Table>().ok())
            {
                Some(t) => t
                    .keys()
                    .filter(|k| !CARGO_CONFIG_ALLOWED.contains(&k.as_str()))
                    .cloned()
                    .collect::<Vec<_>>(),
                None => vec!["(unreadable)".into()],
            };
            if !keys.is_empty() || p.is_symlink() {
                found.push(Finding {
                    file: rel(&p),
                    why: format!(
                        "cargo config with [{}]: it changes how the tests are built (only \
                         [alias] and [term] are allowed in the course); remove those tables",
                        keys.join("], [")
                    ),
                });
            }
        }
    }
    let build = lesson_dir.join("build.rs");
    if !shipped_build_script && build.symlink_metadata().is_ok() {
        found.push(Finding {
            file: rel(&build),
            why: "a build script the lesson did not ship: it would run at build time and can \
                  change what is built; delete it"
                .into(),
        });
    }
    found
}

/// The judging environment variables that are set, as a note (they are removed for every build
/// and test process).
pub fn env_note() -> Option<String> {
    let vars = crate::runner::judging_vars_set();
    (!vars.is_empty()).then(|| {
        format!(
            "ignoring {} from your environment: it changes how tests are built or judged",
            vars.join(", ")
        )
    })
}

/// Refuses `rel` (a path with `/` inside `base`) when it or a folder on the way is a symbolic
/// link: nothing is read or written through one.
pub fn no_links(base: &Path, rel: &str) -> Result<()> {
    let mut p = base.to_path_buf();
    for part in rel.split('/').filter(|s| !s.is_empty()) {
        p.push(part);
        match p.symlink_metadata() {
            Ok(m) if m.file_type().is_symlink() => {
                let shown = p.strip_prefix(base).unwrap_or(&p).display().to_string();
                return Err(format!(
                    "{shown} is a symbolic link; the grader never reads or writes through a \
                     link. Replace it with a regular file (`rm {shown}` removes the link, not \
                     what it points to)"
                )
                .into());
            }
            _ => {}
        }
    }
    Ok(())
}

/// The largest learner file the grader reads.
pub const MAX_LEARNER_FILE: u64 = 1024 * 1024;

/// Reads `base/rel` if it is a regular file reached without symbolic links, of at most
/// [`MAX_LEARNER_FILE`] bytes. It is opened without blocking (a FIFO would otherwise wait for
/// a writer forever) and checked to be a regular file before anything is read.
pub fn read_regular(base: &Path, rel: &str) -> Result<Vec<u8>> {
    no_links(base, rel)?;
    let path = base.join(rel);
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(&path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(format!(
            "{rel} is not a regular file (a FIFO, a device or a folder?); the grader reads only \
             regular files: replace it with the Rust source file"
        )
        .into());
    }
    if meta.len() > MAX_LEARNER_FILE {
        return Err(format!(
            "{rel} is {} bytes, more than the {} KiB the grader reads from a learner file; no \
             lesson needs a file that big",
            meta.len(),
            MAX_LEARNER_FILE / 1024
        )
        .into());
    }
    let mut bytes = Vec::new();
    // Read one byte past the cap, in case the file grows while it is read.
    file.take(MAX_LEARNER_FILE + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_LEARNER_FILE {
        return Err(format!(
            "{rel} grew past {} KiB while it was read",
            MAX_LEARNER_FILE / 1024
        )
        .into());
    }
    Ok(bytes)
}
