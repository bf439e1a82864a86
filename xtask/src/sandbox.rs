//! The read-only guard around test processes. A test process runs the learner's code on the
//! grader's machine, so it is started through `xtask __sandbox`, which asks Linux's Landlock
//! (through the `landlock` crate) to make every file and folder read-only to it and its
//! children except a private temporary folder, `/dev` and the file libtest writes its report
//! to; then it `exec`s the test binary. trybuild's compile-fail binary may also write the
//! target folder and cargo's caches (it builds the cases). Where the kernel has no Landlock,
//! the runner falls back on private copies of the test binaries, checked before each run.
//! Where the kernel has Landlock's scopes (Linux 6.12), a test process also cannot signal a
//! process outside its own sandbox (the grader, another test) or reach its abstract sockets.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use landlock::{
    ABI, AccessFs, PathBeneath, PathFd, Ruleset, RulesetAttr, RulesetCreatedAttr, RulesetStatus,
    Scope,
};

use crate::Result;

/// How test processes are guarded in this run.
#[derive(Debug, Clone, PartialEq)]
pub enum Guard {
    /// Landlock: the file system is read-only to test processes.
    Landlock,
    /// This kernel cannot do it (the reason).
    Unavailable(String),
    /// Not asked for (`bless` records snapshots in place).
    Off,
}

/// The newest Landlock ABI this grader knows; older kernels get what they support.
const ABI_WANTED: ABI = ABI::V5;

/// Set to `1` to run without Landlock even where the kernel has it (tests of the fallback).
pub const DISABLE_VAR: &str = "XTASK_NO_LANDLOCK";

/// Whether this machine can guard test processes (probed once, in a child process).
pub fn guard() -> &'static Guard {
    static GUARD: OnceLock<Guard> = OnceLock::new();
    GUARD.get_or_init(|| {
        if std::env::var_os(DISABLE_VAR).is_some_and(|v| v == "1") {
            return Guard::Unavailable(format!("{DISABLE_VAR}=1"));
        }
        let exe = match std::env::current_exe() {
            Ok(e) => e,
            Err(e) => return Guard::Unavailable(format!("cannot find the grader's binary: {e}")),
        };
        match Command::new(exe).args(["__sandbox", "--probe"]).output() {
            Ok(out) if out.status.success() => Guard::Landlock,
            Ok(out) => Guard::Unavailable(
                String::from_utf8_lossy(&out.stderr)
                    .trim()
                    .trim_start_matches("error: ")
                    .to_string(),
            ),
            Err(e) => Guard::Unavailable(format!("cannot start the grader's binary: {e}")),
        }
    })
}

/// A command that runs `exe` behind the guard, with write access to `dirs` (and below) and
/// to the existing `files` only.
pub fn command(dirs: &[PathBuf], files: &[PathBuf], exe: &Path) -> Command {
    let me = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("cargo-xtask"));
    let mut cmd = Command::new(me);
    cmd.arg("__sandbox");
    for d in dirs {
        cmd.arg("--write").arg(d);
    }
    for f in files {
        cmd.arg("--write-file").arg(f);
    }
    cmd.arg("--").arg(exe);
    cmd
}

/// The target folder a test binary was built in (`<target>/<profile>/deps/<name>-<hash>`).
pub fn target_of(exe: &Path) -> Option<PathBuf> {
    let deps = exe.parent()?;
    (deps.file_name()? == "deps").then(|| deps.parent()?.parent().map(Path::to_path_buf))?
}

/// What trybuild's compile-fail binary may write besides its temporary folder: the target
/// folder it builds in, and cargo's and rustup's caches.
pub fn build_dirs(exe: &Path) -> Vec<PathBuf> {
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| home.as_ref().map(|h| h.join(".cargo")));
    let rustup_home = std::env::var_os("RUSTUP_HOME")
        .map(PathBuf::from)
        .or_else(|| home.as_ref().map(|h| h.join(".rustup")));
    [target_of(exe), cargo_home, rustup_home]
        .into_iter()
        .flatten()
        .filter(|p| p.is_dir())
        .collect()
}

fn restrict(dirs: &[PathBuf], files: &[PathBuf]) -> Result<RulesetStatus> {
    let write = AccessFs::from_write(ABI_WANTED);
    let file_write = AccessFs::from_file(ABI_WANTED) & write;
    // Scopes (Linux 6.12, ABI 6; ignored by older kernels): no signals to processes outside
    // the test's own (the grader, other tests), no connecting to abstract UNIX sockets
    // made outside it.
    let mut ruleset = Ruleset::default()
        .handle_access(write)?
        .scope(Scope::Signal | Scope::AbstractUnixSocket)?
        .create()?;
    for d in dirs {
        let fd = PathFd::new(d).map_err(|e| format!("{}: {e}", d.display()))?;
        ruleset = ruleset.add_rule(PathBeneath::new(fd, write))?;
    }
    for f in files {
        let fd = PathFd::new(f).map_err(|e| format!("{}: {e}", f.display()))?;
        ruleset = ruleset.add_rule(PathBeneath::new(fd, file_write))?;
    }
    Ok(ruleset.restrict_self()?.ruleset)
}

/// `xtask __sandbox [--probe] [--write DIR]... [--write-file FILE]... -- PROGRAM ARGS...`:
/// restricts itself, then becomes PROGRAM. With `--probe`: restricts itself and says whether
/// the kernel enforced it (exit 0) or not (exit 1).
pub fn main(args: &[String]) -> Result<bool> {
    let mut dirs = Vec::new();
    let mut files = Vec::new();
    let mut probe = false;
    let mut rest = args.iter();
    let mut program = Vec::new();
    while let Some(a) = rest.next() {
        match a.as_str() {
            "--probe" => probe = true,
            "--write" => dirs.push(PathBuf::from(rest.next().ok_or("--write needs a folder")?)),
            "--write-file" => files.push(PathBuf::from(
                rest.next().ok_or("--write-file needs a file")?,
            )),
            "--" => {
                program = rest.by_ref().cloned().collect();
                break;
            }
            other => return Err(format!("__sandbox: unknown argument `{other}`").into()),
        }
    }
    let status = restrict(&dirs, &files).map_err(|e| format!("Landlock: {e}"))?;
    if status == RulesetStatus::NotEnforced {
        return Err(
            "this kernel does not enforce Landlock (Linux 5.13 or newer with \
                    Landlock enabled in the `lsm=` boot setting)"
                .into(),
        );
    }
    if probe {
        return Ok(true);
    }
    let (exe, args) = program
        .split_first()
        .ok_or("__sandbox: no program after --")?;
    let err = std::os::unix::process::CommandExt::exec(Command::new(exe).args(args));
    Err(format!("could not start {exe}: {err}").into())
}
