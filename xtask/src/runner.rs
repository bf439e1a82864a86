//! Builds an exercise's tests with cargo, then runs each test binary itself, as a child
//! process with a time limit and an output cap, one test at a time, so that a hang or a crash
//! can be pinned on the test that was running. A broken context switch segfaults or spins;
//! the grader survives both and says which.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::Result;

/// Bytes of output kept from the start of a stream.
const HEAD_CAP: usize = 512 * 1024;
/// Bytes of output kept from the end of a stream once the head is full.
const TAIL_CAP: usize = 64 * 1024;

/// How to build and run.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Show compiler warnings and cargo's own output.
    pub verbose: bool,
    /// `CARGO_TARGET_DIR` for the build (None: cargo's default).
    pub target_dir: Option<PathBuf>,
    /// After a binary times out, run it again without the hung test to learn the others' results.
    pub rerun_after_timeout: bool,
    /// Extra environment for test processes (e.g. `INSTA_UPDATE=always` for `bless`).
    pub test_env: Vec<(String, String)>,
    /// Time limit per test (each runs in a process of its own).
    pub time_limit: Duration,
    /// Run test processes behind the read-only guard (off only for `bless`, which records).
    pub sandbox: bool,
}

/// A test binary cargo built.
#[derive(Debug, Clone)]
pub struct TestTarget {
    /// `lib` for unit tests, else the integration test's file stem.
    pub name: String,
    /// Path of the executable.
    pub exe: PathBuf,
}

/// What cargo's build of the tests produced.
#[derive(Debug, Default)]
pub struct Build {
    /// The build succeeded.
    pub success: bool,
    /// Rendered compiler errors.
    pub errors: Vec<String>,
    /// Rendered compiler warnings from the exercise itself.
    pub warnings: Vec<String>,
    /// What cargo printed on stderr (manifest errors, resolution problems...).
    pub cargo_stderr: String,
    /// Test binaries, in cargo's order.
    pub targets: Vec<TestTarget>,
}

/// How one test ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// It passed.
    Passed,
    /// It failed; the output libtest captured for it.
    Failed(String),
    /// Marked `#[ignore]`.
    Ignored,
    /// The process died while this test ran.
    Crashed(Crash),
    /// Still running at the time limit.
    TimedOut(Duration),
    /// Never ran (its binary was stopped before reaching it).
    NotRun,
    /// The run cannot be trusted: the process's report, its exit status and the course's list
    /// of tests disagree, or the test binary changed after it was built. Counts as failed.
    Invalid(String),
}

impl Outcome {
    /// Counts as a failure for grading.
    pub fn is_failure(&self) -> bool {
        !matches!(self, Outcome::Passed | Outcome::Ignored)
    }
}

/// A process death.
#[derive(Debug, Clone, PartialEq)]
pub struct Crash {
    /// `SIGSEGV`, or `exit code 3` for an unexpected exit.
    pub signal: String,
    /// Signal number, if it was a signal.
    pub signo: Option<i32>,
    /// The last part of the process's stderr (the runtime's own message is usually there).
    pub stderr: String,
}

/// One test's result.
#[derive(Debug, Clone)]
pub struct TestCase {
    /// Test target (`lib` or the integration test's stem).
    pub target: String,
    /// Test path inside the target (`module::test_fn`).
    pub name: String,
    /// How it ended.
    pub outcome: Outcome,
}

impl TestCase {
    /// `<target>::<name>`, the form `expected_failures` uses.
    pub fn id(&self) -> String {
        format!("{}::{}", self.target, self.name)
    }
}

/// Progress events for live output.
pub enum Event<'a> {
    /// A test began.
    Started(&'a str, &'a str),
    /// A test ended.
    Finished(&'a TestCase),
}

/// All results of one lesson run.
#[derive(Debug, Default)]
pub struct Run {
    /// Every test, in order.
    pub cases: Vec<TestCase>,
    /// Per target: everything the binary wrote on stderr (capped).
    pub stderr: BTreeMap<String, String>,
    /// Things the reader should know about how the tests ran.
    pub notes: Vec<String>,
}

impl Run {
    /// Tests that failed (in any way).
    pub fn failures(&self) -> impl Iterator<Item = &TestCase> {
        self.cases.iter().filter(|c| c.outcome.is_failure())
    }
}

/// Variables that change how code is built or how tests judge: a learner's shell (or a
/// submission's instructions) must not decide them. Removed for every cargo and test process.
pub fn judging_var(key: &str) -> bool {
    const EXACT: &[&str] = &[
        "RUSTFLAGS",
        "RUSTDOCFLAGS",
        "RUSTC",
        "RUSTDOC",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "RUSTC_BOOTSTRAP",
        "TRYBUILD",
        "RUST_TEST_THREADS",
        "RUST_TEST_NOCAPTURE",
    ];
    EXACT.contains(&key)
        || key.starts_with("INSTA_")
        || key.starts_with("CARGO_ENCODED_RUSTFLAGS")
        || key.starts_with("CARGO_BUILD_")
        || key.starts_with("CARGO_TARGET_") && key != "CARGO_TARGET_DIR"
        || key.starts_with("CARGO_PROFILE_")
        || key.starts_with("CARGO_UNSTABLE_")
        || key.starts_with("CARGO_PATCH")
        || key.starts_with("__CARGO")
}

/// The judging variables set in this process's environment (for a note saying they are ignored).
pub fn judging_vars_set() -> Vec<String> {
    let mut keys: Vec<String> = std::env::vars_os()
        .map(|(k, _)| k.to_string_lossy().into_owned())
        .filter(|k| judging_var(k) && k != "CARGO_BUILD_JOBS")
        .collect();
    keys.sort();
    keys
}

/// The environment that every cargo and test process gets: the variables `cargo run` set for
/// xtask itself are removed, and so is everything that changes how tests are built or judged
/// ([`judging_var`]); snapshots are never written and never forced to pass, trybuild never
/// overwrites.
fn clean_env(cmd: &mut Command) {
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        if key.starts_with("CARGO_PKG_")
            || key.starts_with("CARGO_MANIFEST_")
            || key.starts_with("CARGO_BIN_")
            || key == "CARGO_CRATE_NAME"
            || key == "CARGO_PRIMARY_PACKAGE"
            || (judging_var(&key) && key != "CARGO_BUILD_JOBS")
        {
            cmd.env_remove(key.as_ref());
        }
    }
    cmd.env("INSTA_UPDATE", "no").env("INSTA_FORCE_PASS", "0");
}

/// The cargo to run: the one that started us, else `cargo` on PATH.
pub fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    clean_env(&mut cmd);
    cmd
}

#[derive(Deserialize)]
struct CargoMessage {
    reason: String,
    #[serde(default)]
    manifest_path: Option<PathBuf>,
    #[serde(default)]
    target: Option<CargoTarget>,
    #[serde(default)]
    profile: Option<CargoProfile>,
    #[serde(default)]
    executable: Option<PathBuf>,
    #[serde(default)]
    message: Option<Diagnostic>,
    #[serde(default)]
    success: Option<bool>,
    /// On a `compiler-artifact`: cargo reused it without compiling anything.
    #[serde(default)]
    fresh: Option<bool>,
}

#[derive(Deserialize)]
struct CargoTarget {
    name: String,
    kind: Vec<String>,
}

#[derive(Deserialize)]
struct CargoProfile {
    test: bool,
}

#[derive(Deserialize)]
struct Diagnostic {
    level: String,
    rendered: Option<String>,
}

/// How far a build has got, as `build` reports it to its caller after each crate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    /// Crates cargo has finished with so far, compiled or reused.
    pub crates: usize,
    /// Some crate other than the lesson's own (the runtime, a test library) had to be
    /// compiled: the slow first build, not a rebuild of the learner's edit.
    pub compiling_dependencies: bool,
}

impl Progress {
    /// Counts one `compiler-artifact`: `fresh` when cargo reused it, `ours` when it belongs
    /// to the lesson's own package.
    fn artifact(&mut self, fresh: bool, ours: bool) {
        self.crates += 1;
        self.compiling_dependencies |= !fresh && !ours;
    }
}

/// Builds the tests of the package at `dir` (`cargo test --no-run`).
/// `progress` is called after each crate cargo finishes with.
pub fn build(
    dir: &Path,
    opts: &Options,
    color: bool,
    progress: &mut dyn FnMut(Progress),
) -> Result<Build> {
    let manifest = dir.join("Cargo.toml");
    let mut cmd = cargo();
    // Cargo reads `.cargo/config.toml` from the folders above where it runs: run it in the
    // lesson, whose folders up to the course root `check` and `grade` have vetted.
    cmd.current_dir(dir);
    cmd.args(["test", "--no-run", "--manifest-path"])
        .arg(&manifest)
        .arg("--message-format")
        .arg(if color {
            "json-diagnostic-rendered-ansi"
        } else {
            "json"
        })
        .args(["--color", if color { "always" } else { "never" }]);
    if !opts.verbose {
        cmd.arg("--quiet");
    }
    if let Some(t) = &opts.target_dir {
        cmd.env("CARGO_TARGET_DIR", t);
    }
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("could not start cargo ({e}); is Rust installed (rustup)?"))?;
    let stderr = child.stderr.take().expect("piped");
    let verbose = opts.verbose;
    let err_thread = std::thread::spawn(move || {
        let mut kept = Capped::default();
        for line in BufReader::new(stderr).lines().map_while(|l| l.ok()) {
            if verbose {
                anstream::eprintln!("{line}");
            }
            kept.push(&line);
            kept.push("\n");
        }
        kept.finish()
    });
    let mut out = Build::default();
    let mut so_far = Progress::default();
    let ours = manifest.canonicalize().unwrap_or(manifest.clone());
    let stdout = child.stdout.take().expect("piped");
    for line in BufReader::new(stdout).lines() {
        let line = line?;
        let Ok(msg) = serde_json::from_str::<CargoMessage>(&line) else {
            continue;
        };
        let is_ours = msg
            .manifest_path
            .as_ref()
            .is_some_and(|m| m.canonicalize().unwrap_or(m.clone()) == ours);
        match msg.reason.as_str() {
            "compiler-artifact" => {
                // An artifact without `fresh` (an older cargo) counts as compiled.
                so_far.artifact(msg.fresh.unwrap_or(false), is_ours);
                progress(so_far);
                if let (true, Some(target), Some(profile), Some(exe)) =
                    (is_ours, msg.target, msg.profile, msg.executable)
                    && profile.test
                {
                    let name = if target.kind.iter().any(|k| k == "test") {
                        target.name
                    } else if target.kind.iter().any(|k| k.contains("lib")) {
                        "lib".to_string()
                    } else {
                        // A binary's own unit tests: named apart from an integration test of
                        // the same stem (tests/main_exits.rs next to src/bin/main_exits.rs).
                        format!("{}-{}", target.kind.join("-"), target.name)
                    };
                    out.targets.push(TestTarget { name, exe });
                }
            }
            "compiler-message" => {
                if let Some(d) = msg.message
                    && let Some(rendered) = d.rendered
                {
                    // The library is compiled twice (for its unit tests and for the
                    // integration tests), so each message may arrive twice.
                    if d.level.starts_with("error") {
                        if !out.errors.contains(&rendered) {
                            out.errors.push(rendered);
                        }
                    } else if d.level == "warning" && is_ours && !out.warnings.contains(&rendered) {
                        out.warnings.push(rendered);
                    }
                }
            }
            "build-finished" => out.success = msg.success.unwrap_or(false),
            _ => {}
        }
    }
    let status = child.wait()?;
    out.cargo_stderr = err_thread.join().unwrap_or_default();
    out.success &= status.success();
    // `N warnings emitted` summaries are not useful on their own.
    out.errors.retain(|e| !e.contains("aborting due to"));
    Ok(out)
}

/// The tests a lesson must have, per test target (`lib` or an integration test's stem), known
/// before anything of the learner's runs: `grade` lists them from the course as shipped.
pub type Expected = BTreeMap<String, Vec<String>>;

/// The order test binaries run in: trybuild's compile-fail cases first (they only compile the
/// learner's code, so they run before any binary that links it has had a chance to run), then
/// the unit tests, then the integration tests by name.
fn run_order(name: &str) -> (bool, bool, String) {
    (name != COMPILE_FAIL, name != "lib", name.to_string())
}

/// The name of the test target that holds trybuild's compile-fail cases (`tests/compile_fail.rs`).
pub const COMPILE_FAIL: &str = "compile_fail";

/// Lists the tests of every binary of a build (`--list`). Only for code the course trusts:
/// a binary that links the learner's code can print any list it likes.
pub fn list_all(
    lesson_dir: &Path,
    package: &str,
    version: &str,
    targets: &[TestTarget],
) -> Result<Expected> {
    let mut expected = Expected::new();
    for target in targets {
        let env = TestEnv {
            dir: lesson_dir,
            package,
            version,
            extra: &[],
        };
        let names = list_tests(&target.exe, &env)?;
        if !names.is_empty() {
            expected.insert(target.name.clone(), names);
        }
    }
    Ok(expected)
}

/// Runs every test of a build, each in a process of its own. `lesson_dir` becomes the working
/// directory and `CARGO_MANIFEST_DIR`, as under `cargo test`. The tests to run come from
/// `expected` when given (`grade`: the course's own list), else from the binaries' `--list`.
pub fn run_tests(
    lesson_dir: &Path,
    package: &str,
    version: &str,
    targets: &[TestTarget],
    expected: Option<&Expected>,
    opts: &Options,
    on_event: &mut dyn FnMut(Event),
) -> Result<Run> {
    let mut run = Run::default();
    let guard = if opts.sandbox {
        crate::sandbox::guard()
    } else {
        &crate::sandbox::Guard::Off
    };
    if let crate::sandbox::Guard::Unavailable(why) = guard {
        run.notes.push(format!(
            "the tests ran without the read-only guard ({why}); test binaries were copied and \
             checked before each run instead"
        ));
    }
    // Private copies of the binaries, outside the target folder, made and hashed right after
    // the build, before any of them runs (or lists its tests): what is checked is what runs.
    let bins = tempfile::Builder::new().prefix("xtask-bins-").tempdir()?;
    let prepared = seal_binaries(targets, bins.path())?;
    crate::confine::become_subreaper();
    let env = TestEnv {
        dir: lesson_dir,
        package,
        version,
        extra: &opts.test_env,
    };
    let mut plan: Vec<(String, Vec<String>)> = match expected {
        Some(e) => e.iter().map(|(t, n)| (t.clone(), n.clone())).collect(),
        None => {
            let mut plan = Vec::new();
            for (t, exe, _) in &prepared {
                let names = list_tests(exe, &env)?;
                if !names.is_empty() {
                    plan.push((t.name.clone(), names));
                }
            }
            plan
        }
    };
    plan.sort_by_key(|(name, _)| run_order(name));
    for (target_name, names) in plan {
        let Some((target, exe, sealed)) = prepared.iter().find(|(t, ..)| t.name == target_name)
        else {
            for name in names {
                let case = TestCase {
                    target: target_name.clone(),
                    name,
                    outcome: Outcome::Invalid(format!(
                        "the course has this test, but the build has no test binary \
                         `{target_name}`: a test that vanishes counts as failed"
                    )),
                };
                on_event(Event::Finished(&case));
                run.cases.push(case);
            }
            continue;
        };
        let (cases, stderr) = run_target(target, exe, sealed, &names, &env, guard, opts, on_event)?;
        run.cases.extend(cases);
        run.stderr.insert(target.name.clone(), stderr);
    }
    if STRAYS.load(std::sync::atomic::Ordering::Relaxed) > 0 {
        run.notes.push(format!(
            "the tests left {} processes running after they ended; the grader killed them",
            STRAYS.swap(0, std::sync::atomic::Ordering::Relaxed)
        ));
    }
    Ok(run)
}

/// Processes that test processes left behind, killed by the grader (for a note).
static STRAYS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Copies every test binary but trybuild's out of the target folder and hashes each, right
/// after the build and before any of them runs. trybuild's compile-fail binary finds its way
/// from its own path, so it stays where it is; it runs first, before any binary that links the
/// learner's code, and its hash is checked before each run like the others'.
fn seal_binaries(targets: &[TestTarget], dir: &Path) -> Result<Vec<(TestTarget, PathBuf, String)>> {
    let mut out = Vec::new();
    for target in targets {
        let exe = if target.name == COMPILE_FAIL {
            target.exe.clone()
        } else {
            let copy = dir.join(&target.name);
            std::fs::copy(&target.exe, &copy)?;
            copy
        };
        let sealed = crate::lock::hash_binary(&exe)?;
        out.push((target.clone(), exe, sealed));
    }
    Ok(out)
}

struct TestEnv<'a> {
    dir: &'a Path,
    package: &'a str,
    version: &'a str,
    extra: &'a [(String, String)],
}

impl TestEnv<'_> {
    fn command(&self, exe: &Path) -> Command {
        let mut cmd = Command::new(exe);
        self.apply(&mut cmd);
        cmd
    }

    fn apply(&self, cmd: &mut Command) {
        clean_env(cmd);
        cmd.current_dir(self.dir)
            .env("CARGO_MANIFEST_DIR", self.dir)
            .env("CARGO_MANIFEST_PATH", self.dir.join("Cargo.toml"))
            .env("CARGO_PKG_NAME", self.package)
            .env("CARGO_CRATE_NAME", self.package.replace('-', "_"))
            .env("CARGO_PKG_VERSION", self.version)
            .env(
                "CARGO",
                std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()),
            )
            // Tools inside tests (insta, trybuild) print plain text we can read.
            .env("TERM", "dumb")
            .env("NO_COLOR", "1")
            .env_remove("CLICOLOR_FORCE");
        for (k, v) in self.extra {
            cmd.env(k, v);
        }
    }
}

fn list_tests(exe: &Path, env: &TestEnv) -> Result<Vec<String>> {
    let mut cmd = env.command(exe);
    cmd.args(["--list", "--format", "terse"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("could not start {}: {e}", exe.display()))?;
    let mut stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let out_thread = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stdout.read_to_end(&mut buf);
        buf
    });
    let err_thread = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stderr.read_to_end(&mut buf);
        buf
    });
    // Listing runs no test, but a broken static initialiser could still hang it.
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if Instant::now() >= deadline {
            kill_group(&mut child);
            return Err(format!("{} --list did not finish within 60 s", exe.display()).into());
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let out = std::process::Output {
        status,
        stdout: out_thread.join().unwrap_or_default(),
        stderr: err_thread.join().unwrap_or_default(),
    };
    if !out.status.success() {
        return Err(format!(
            "{} --list failed ({}): {}",
            exe.display(),
            describe_status(out.status),
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.strip_suffix(": test"))
        .map(str::to_string)
        .collect())
}

/// Runs the tests of one binary, one process per test.
#[allow(clippy::too_many_arguments)]
fn run_target(
    target: &TestTarget,
    exe: &Path,
    sealed: &str,
    names: &[String],
    env: &TestEnv,
    guard: &crate::sandbox::Guard,
    opts: &Options,
    on_event: &mut dyn FnMut(Event),
) -> Result<(Vec<TestCase>, String)> {
    let mut cases = Vec::new();
    let mut stderr_all = String::new();
    let mut stopped: Option<Outcome> = None;
    for test in names {
        if stopped.is_none() && crate::lock::hash_binary(exe)? != sealed {
            stopped = Some(Outcome::Invalid(format!(
                "the test binary changed after it was built (something wrote to {}): \
                 nothing it reports can be trusted",
                exe.display()
            )));
        }
        if let Some(outcome) = &stopped {
            let case = TestCase {
                target: target.name.clone(),
                name: test.clone(),
                outcome: outcome.clone(),
            };
            on_event(Event::Finished(&case));
            cases.push(case);
            continue;
        }
        on_event(Event::Started(&target.name, test));
        let single = run_single(exe, &target.name, test, env, guard, opts, false)?;
        if !single.stderr.is_empty() {
            if !stderr_all.is_empty() {
                stderr_all.push('\n');
            }
            stderr_all.push_str(&single.stderr);
        }
        let mut outcome = single.outcome;
        if let Outcome::Failed(out) = &mut outcome
            && out.trim().is_empty()
        {
            // A panic on a thread libtest does not capture (a goro worker's) went to stderr.
            *out = tail(&single.stderr, 40);
        }
        if let Outcome::Crashed(crash) = &mut outcome {
            // libtest captured what the test printed (a panic message, say) and the crash
            // lost it: run the test again, uncaptured, to hear its last words.
            if let Ok(again) = run_single(exe, &target.name, test, env, guard, opts, true) {
                let words = tail(&again.stdout_and_stderr, 60);
                if !words.trim().is_empty() {
                    crash.stderr = words;
                }
            }
        }
        if matches!(outcome, Outcome::TimedOut(_)) && !opts.rerun_after_timeout {
            stopped = Some(Outcome::NotRun);
        }
        let case = TestCase {
            target: target.name.clone(),
            name: test.clone(),
            outcome,
        };
        on_event(Event::Finished(&case));
        cases.push(case);
    }
    Ok((cases, stderr_all))
}

/// One test process's results, judged.
struct Single {
    outcome: Outcome,
    stderr: String,
    /// Both streams in arrival order, without libtest's own lines (for `--nocapture` runs).
    stdout_and_stderr: String,
}

/// Runs one test in a process of its own and judges it. The verdict comes from libtest's
/// report in a file of its own (`--logfile`), never from what the process printed, and it must
/// agree with the exit status: a pass is `ok NAME` for this test alone and exit status 0.
fn run_single(
    exe: &Path,
    target: &str,
    test: &str,
    env: &TestEnv,
    guard: &crate::sandbox::Guard,
    opts: &Options,
    nocapture: bool,
) -> Result<Single> {
    let private = tempfile::Builder::new().prefix("xtask-test-").tempdir()?;
    let log = private.path().join("results");
    // The test's temporary folder is not next to the report: TMPDIR does not lead to it.
    let scratch = tempfile::Builder::new().prefix("xtask-tmp-").tempdir()?;
    let tmp = scratch.path().to_path_buf();
    // libtest opens the log itself; it must exist for Landlock to grant writing it.
    std::fs::write(&log, "")?;
    let mut writable = vec![tmp.clone(), PathBuf::from("/dev")];
    let mut files = vec![log.clone()];
    if target == COMPILE_FAIL {
        // trybuild builds the cases with cargo, in the target folder.
        writable.extend(crate::sandbox::build_dirs(exe));
        files.clear();
        writable.push(private.path().to_path_buf());
    }
    let mut cmd = match guard {
        crate::sandbox::Guard::Landlock => crate::sandbox::command(&writable, &files, exe),
        _ => Command::new(exe),
    };
    env.apply(&mut cmd);
    if target == COMPILE_FAIL
        && let Some(t) = crate::sandbox::target_of(exe)
    {
        cmd.env("CARGO_TARGET_DIR", t);
    }
    cmd.env("TMPDIR", &tmp)
        .args(["--exact", test, "--test-threads=1", "--color", "never"])
        .arg("--logfile")
        .arg(&log);
    if nocapture {
        cmd.arg("--nocapture");
    }
    if opts.sandbox {
        crate::confine::drop_root_powers(&mut cmd);
    }
    let keep = crate::confine::children();
    let pass = run_once(cmd, opts.time_limit, target, &mut |_| {});
    // Whatever the test started and left behind (a double fork, a new session) was re-parented
    // to us, the subreaper: it ends with the test.
    let strays = crate::confine::reap_strays(&keep);
    STRAYS.fetch_add(strays, std::sync::atomic::Ordering::Relaxed);
    let pass = pass?;
    let report = std::fs::read_to_string(&log).unwrap_or_default();
    let outcome = judge(test, &report, &pass, opts.time_limit);
    Ok(Single {
        outcome,
        stderr: pass.stderr,
        stdout_and_stderr: pass.stdout_and_stderr,
    })
}

/// The verdict on one test process: libtest's own report (`report`, the `--logfile` lines),
/// the exit status and the test that was asked for must agree.
fn judge(test: &str, report: &str, pass: &Pass, limit: Duration) -> Outcome {
    if pass.timed_out {
        return Outcome::TimedOut(limit);
    }
    if let Some(signo) = pass.status.signal() {
        return Outcome::Crashed(Crash {
            signal: signal_name(signo),
            signo: Some(signo),
            stderr: tail(&pass.stderr, 60),
        });
    }
    let mut entries = Vec::new();
    for line in report.lines().filter(|l| !l.trim().is_empty()) {
        let (word, name) = line.split_once(' ').unwrap_or((line, ""));
        entries.push((word, name));
    }
    if let Some((_, other)) = entries.iter().find(|(_, name)| *name != test) {
        return Outcome::Invalid(format!(
            "the test process reported a result for `{other}`, a test it was not asked to run"
        ));
    }
    let code = pass.status.code();
    match entries.as_slice() {
        [] => match code {
            Some(0) => Outcome::Invalid(
                "the test process exited with status 0 before the test harness reported a \
                 result (does the code call std::process::exit?)"
                    .to_string(),
            ),
            _ => Outcome::Crashed(Crash {
                signal: describe_status(pass.status),
                signo: None,
                stderr: tail(&pass.stderr, 60),
            }),
        },
        [(word, _)] => match (*word, code) {
            ("ok" | "ignored", Some(0)) => {
                let claimed = if *word == "ok" {
                    Outcome::Passed
                } else {
                    Outcome::Ignored
                };
                if pass.seen.confirms(test, &claimed) {
                    claimed
                } else {
                    Outcome::Invalid(format!(
                        "the test process ended before libtest reported the run: its report \
                         file says `{word}`, but its output lacks libtest's `running 1 test`, \
                         `test {test} ... {word}` and `test result: ok.` summary as the last \
                         line (does the code end the process itself?)"
                    ))
                }
            }
            ("failed", Some(101)) => Outcome::Failed(pass.failure.clone()),
            ("failed", _) => Outcome::Failed(pass.failure.clone()),
            (word, _) => Outcome::Invalid(format!(
                "the test harness reported `{word}` but the process ended with {}",
                describe_status(pass.status)
            )),
        },
        _ => Outcome::Invalid(format!(
            "the test harness reported {} results for one test",
            entries.len()
        )),
    }
}

enum Chunk {
    Out(Vec<u8>),
    Err(Vec<u8>),
    Closed,
}

fn spawn_reader(mut r: impl Read + Send + 'static, tx: mpsc::Sender<Chunk>, is_err: bool) {
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            match r.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let data = buf[..n].to_vec();
                    let msg = if is_err {
                        Chunk::Err(data)
                    } else {
                        Chunk::Out(data)
                    };
                    if tx.send(msg).is_err() {
                        break;
                    }
                }
            }
        }
        let _ = tx.send(Chunk::Closed);
    });
}

/// libtest's suffix after the name of a `#[should_panic]` test.
const SHOULD_PANIC: &str = " - should panic";

/// Parses libtest's pretty output as it arrives.
#[derive(Default)]
struct LibtestParser {
    line: String,
    started: Option<String>,
    announced: bool,
    results: Vec<(String, Outcome)>,
    /// `running N tests` lines.
    running: Vec<String>,
    /// The last line of libtest's own (`running`, `test NAME ... RESULT`, `test result:`).
    last: Option<String>,
    failures: HashMap<String, String>,
    section: Option<String>,
    saw_summary: bool,
}

impl LibtestParser {
    /// Feeds text; returns the name of a test that just started, if any.
    fn feed(&mut self, text: &str) -> Option<String> {
        let mut started = None;
        for ch in text.chars() {
            if ch == '\n' {
                let line = std::mem::take(&mut self.line);
                self.finish_line(&line);
            } else {
                self.line.push(ch);
            }
        }
        if !self.announced
            && let Some(name) = self
                .line
                .strip_prefix("test ")
                .and_then(|l| l.strip_suffix(" ... "))
        {
            let name = name.trim_end_matches(SHOULD_PANIC);
            self.started = Some(name.to_string());
            self.announced = true;
            started = Some(name.to_string());
        }
        started
    }

    fn finish_line(&mut self, line: &str) {
        if let Some(rest) = line.strip_prefix("test ")
            && let Some((name, result)) = rest.split_once(" ... ")
            && self.section.is_none()
        {
            let outcome = match result.trim() {
                "ok" => Some(Outcome::Passed),
                "FAILED" => Some(Outcome::Failed(String::new())),
                r if r.starts_with("ignored") => Some(Outcome::Ignored),
                _ => None,
            };
            if let Some(outcome) = outcome {
                self.last = Some(line.to_string());
                let name = name.trim_end_matches(SHOULD_PANIC);
                self.results.push((name.to_string(), outcome));
                self.started = None;
                self.announced = false;
                return;
            }
        }
        if line.starts_with("running ") && (line.ends_with(" test") || line.ends_with(" tests")) {
            self.running.push(line.to_string());
            self.last = Some(line.to_string());
            return;
        }
        if line.starts_with("test result: ") {
            self.last = Some(line.to_string());
            self.saw_summary = true;
            self.section = None;
            return;
        }
        if let Some(name) = line
            .strip_prefix("---- ")
            .and_then(|l| l.strip_suffix(" stdout ----"))
        {
            self.section = Some(name.to_string());
            self.failures.entry(name.to_string()).or_default();
            return;
        }
        if line == "failures:" {
            self.section = None;
            return;
        }
        if let Some(section) = &self.section {
            let buf = self.failures.entry(section.clone()).or_default();
            if buf.len() < HEAD_CAP {
                buf.push_str(line);
                buf.push('\n');
            }
        }
    }

    #[cfg(test)]
    fn into_results(mut self) -> Vec<(String, Outcome)> {
        for (name, outcome) in &mut self.results {
            if let Outcome::Failed(out) = outcome {
                *out = self.failures.remove(name).unwrap_or_default();
            }
        }
        self.results
    }
}

/// What one test process did.
struct Pass {
    status: ExitStatus,
    timed_out: bool,
    /// The failure section libtest printed (the panic message, a snapshot diff), if any. Text
    /// the test could have printed itself: used to explain a failure, never to judge.
    failure: String,
    stderr: String,
    /// Both streams in arrival order, without libtest's own lines (for `--nocapture` runs).
    stdout_and_stderr: String,
    /// What libtest printed about the run on stdout.
    seen: Seen,
}

/// libtest's own account of a one-test run on its stdout: a run that ended before libtest
/// reported it (an exit from the test's code) lacks it, whatever the report file says.
#[derive(Debug, Default, Clone)]
struct Seen {
    running: Vec<String>,
    results: Vec<(String, Outcome)>,
    last: Option<String>,
}

impl Seen {
    /// Whether stdout shows exactly this run: `running 1 test`, `test NAME ... ok` (or
    /// ignored) and the matching summary as libtest's last line.
    fn confirms(&self, test: &str, outcome: &Outcome) -> bool {
        let summary = match outcome {
            Outcome::Passed => "test result: ok. 1 passed; 0 failed; 0 ignored;",
            Outcome::Ignored => "test result: ok. 0 passed; 0 failed; 1 ignored;",
            _ => return false,
        };
        let same = |o: &Outcome| std::mem::discriminant(o) == std::mem::discriminant(outcome);
        self.running == ["running 1 test"]
            && matches!(self.results.as_slice(), [(name, o)] if name == test && same(o))
            && self.last.as_deref().is_some_and(|l| l.starts_with(summary))
    }
}

fn run_once(
    mut cmd: Command,
    limit: Duration,
    _target: &str,
    _on_event: &mut dyn FnMut(Event),
) -> Result<Pass> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Own process group, so a timeout also stops whatever the test started (trybuild runs cargo).
        .process_group(0);
    let mut child = cmd.spawn().map_err(|e| {
        let root = if crate::confine::is_root() {
            " (as root, the grader first drops the test's capabilities, which needs \
             CAP_SETPCAP: grade as an unprivileged user)"
        } else {
            ""
        };
        format!("could not start the test process: {e}{root}")
    })?;
    let (tx, rx) = mpsc::channel();
    spawn_reader(child.stdout.take().expect("piped"), tx.clone(), false);
    spawn_reader(child.stderr.take().expect("piped"), tx, true);
    let deadline = Instant::now() + limit;
    let mut parser = LibtestParser::default();
    let mut stderr = Capped::default();
    let mut open = 2;
    let mut status: Option<ExitStatus> = None;
    let mut timed_out = false;
    let mut drain_until: Option<Instant> = None;
    let mut pending = Vec::new();
    let mut both = Capped::default();
    let mut handle =
        |chunk: Chunk, parser: &mut LibtestParser, stderr: &mut Capped, open: &mut i32| {
            match chunk {
                Chunk::Out(data) => {
                    both.push(&String::from_utf8_lossy(&data));
                    pending.extend_from_slice(&data);
                    // Only decode whole UTF-8 sequences.
                    let valid = match std::str::from_utf8(&pending) {
                        Ok(_) => pending.len(),
                        Err(e) if e.error_len().is_none() => e.valid_up_to(),
                        Err(_) => pending.len(),
                    };
                    let text = String::from_utf8_lossy(&pending[..valid]).into_owned();
                    pending.drain(..valid);
                    parser.feed(&text);
                }
                Chunk::Err(data) => {
                    let text = String::from_utf8_lossy(&data);
                    both.push(&text);
                    stderr.push(&text);
                }
                Chunk::Closed => *open -= 1,
            }
        };
    loop {
        if open > 0 {
            match rx.recv_timeout(Duration::from_millis(50)) {
                Ok(chunk) => handle(chunk, &mut parser, &mut stderr, &mut open),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => open = 0,
            }
        } else {
            // Both pipes closed but the process lives on: keep the time limit running.
            std::thread::sleep(Duration::from_millis(20));
        }
        if status.is_none() {
            status = child.try_wait()?;
            if status.is_none() && Instant::now() >= deadline {
                timed_out = true;
                kill_group(&mut child);
                status = Some(child.wait()?);
            }
            if status.is_some() && drain_until.is_none() {
                // Give the readers a moment to deliver the last bytes; a grandchild that
                // escaped the process group must not keep us waiting.
                drain_until = Some(Instant::now() + Duration::from_secs(2));
            }
        }
        if status.is_some() && (open <= 0 || drain_until.is_some_and(|d| Instant::now() >= d)) {
            break;
        }
    }
    let status = status.expect("the loop ends only once the process has ended");
    let stderr = stderr.finish();
    let stdout_and_stderr = both
        .finish()
        .lines()
        .map(
            |l| match l.strip_prefix("test ").and_then(|r| r.split_once(" ... ")) {
                Some((_, rest)) => rest,
                None => l,
            },
        )
        .filter(|l| !(l.starts_with("running ") || l.trim().is_empty()))
        .collect::<Vec<_>>()
        .join("\n");
    parser.feed("\n");
    let seen = Seen {
        running: std::mem::take(&mut parser.running),
        results: std::mem::take(&mut parser.results),
        last: parser.last.take(),
    };
    let failure = parser.failures.into_values().next().unwrap_or_default();
    Ok(Pass {
        status,
        timed_out,
        failure,
        stderr,
        stdout_and_stderr,
        seen,
    })
}

fn kill_group(child: &mut std::process::Child) {
    let pid = child.id() as libc::pid_t;
    // SAFETY: kill(2) has no memory-safety preconditions; `-pid` names the process group we
    // created for this child with `process_group(0)`, so only its processes are signalled.
    unsafe {
        libc::kill(-pid, libc::SIGKILL);
    }
    let _ = child.kill();
}

/// `SIGSEGV (segmentation fault)`-style name of a signal.
pub fn signal_name(signo: i32) -> String {
    let name = match signo {
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGBUS => "SIGBUS",
        libc::SIGABRT => "SIGABRT",
        libc::SIGILL => "SIGILL",
        libc::SIGTRAP => "SIGTRAP",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGTERM => "SIGTERM",
        libc::SIGINT => "SIGINT",
        _ => return format!("signal {signo}"),
    };
    name.to_string()
}

fn describe_status(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit code {code}"),
        (None, Some(sig)) => signal_name(sig),
        _ => "an unknown status".to_string(),
    }
}

/// The last `n` lines of `text`.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// A string that keeps its first `HEAD_CAP` and last `TAIL_CAP` bytes.
#[derive(Default)]
struct Capped {
    head: String,
    tail: String,
    dropped: usize,
}

impl Capped {
    fn push(&mut self, s: &str) {
        if self.head.len() + s.len() <= HEAD_CAP && self.tail.is_empty() {
            self.head.push_str(s);
            return;
        }
        self.tail.push_str(s);
        if self.tail.len() > 2 * TAIL_CAP {
            let mut cut = self.tail.len() - TAIL_CAP;
            while !self.tail.is_char_boundary(cut) {
                cut += 1;
            }
            self.dropped += cut;
            self.tail.drain(..cut);
        }
    }

    fn finish(self) -> String {
        if self.dropped == 0 {
            return self.head + &self.tail;
        }
        format!(
            "{}\n[… {} bytes of output left out …]\n{}",
            self.head, self.dropped, self.tail
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_progress_tells_a_first_build_from_a_rebuild() {
        let artifact = |fresh: Option<bool>, ours: bool| {
            let json = format!(
                r#"{{"reason":"compiler-artifact","manifest_path":"/x/Cargo.toml"{}}}"#,
                fresh
                    .map(|f| format!(r#","fresh":{f}"#))
                    .unwrap_or_default()
            );
            let msg: CargoMessage = serde_json::from_str(&json).expect("a cargo message");
            (msg.fresh.unwrap_or(false), ours)
        };
        // Nothing to compile: every artifact is fresh.
        let mut p = Progress::default();
        for (fresh, ours) in [artifact(Some(true), false), artifact(Some(true), true)] {
            p.artifact(fresh, ours);
        }
        assert_eq!(p.crates, 2);
        assert!(!p.compiling_dependencies, "{p:?}");
        // The learner's edit: only the lesson's crate compiles.
        let mut p = Progress::default();
        for (fresh, ours) in [artifact(Some(true), false), artifact(Some(false), true)] {
            p.artifact(fresh, ours);
        }
        assert!(!p.compiling_dependencies, "{p:?}");
        // The first build: the runtime compiles (an old cargo without `fresh` counts too).
        for a in [artifact(Some(false), false), artifact(None, false)] {
            let mut p = Progress::default();
            p.artifact(a.0, a.1);
            assert!(p.compiling_dependencies, "{p:?}");
        }
    }

    #[test]
    fn parser_reads_results_and_failure_sections() {
        let mut p = LibtestParser::default();
        assert_eq!(
            p.feed("\nrunning 2 tests\ntest a::one ... "),
            Some("a::one".into())
        );
        assert_eq!(p.feed("ok\ntest b - should panic ... "), Some("b".into()));
        p.feed(
            "FAILED\n\nfailures:\n\n---- b stdout ----\nthread 'b' panicked at x.rs:1:1:\nboom\n\n",
        );
        p.feed("\nfailures:\n    b\n\ntest result: FAILED. 1 passed; 1 failed\n");
        assert!(p.saw_summary);
        let r = p.into_results();
        assert_eq!(r[0], ("a::one".to_string(), Outcome::Passed));
        match &r[1].1 {
            Outcome::Failed(out) => assert!(out.contains("boom"), "{out}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn parser_remembers_the_test_that_was_running() {
        let mut p = LibtestParser::default();
        p.feed("running 2 tests\ntest a ... ok\ntest hangs ... ");
        assert_eq!(p.started.as_deref(), Some("hangs"));
    }

    fn pass(code: i32) -> Pass {
        pass_printing(
            code,
            "running 1 test\ntest t ... ok\n\ntest result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 3 filtered out; finished in 0.00s\n\n",
        )
    }

    /// A process that exited with `code` after printing `stdout`.
    fn pass_printing(code: i32, stdout: &str) -> Pass {
        let mut p = LibtestParser::default();
        p.feed(stdout);
        Pass {
            status: ExitStatus::from_raw(code << 8),
            timed_out: false,
            failure: "boom".into(),
            stderr: String::new(),
            stdout_and_stderr: String::new(),
            seen: Seen {
                running: p.running,
                results: p.results,
                last: p.last,
            },
        }
    }

    #[test]
    fn a_pass_also_needs_libtest_to_have_reported_the_run_on_stdout() {
        let limit = Duration::from_secs(1);
        let invalid = |o: Outcome| match o {
            Outcome::Invalid(why) => {
                assert!(why.contains("ended before libtest reported"), "{why}")
            }
            other => panic!("{other:?}"),
        };
        // The report file forged and the process ended at once: nothing on stdout.
        invalid(judge("t", "ok t\n", &pass_printing(0, ""), limit));
        // Started, then ended before the summary.
        invalid(judge(
            "t",
            "ok t\n",
            &pass_printing(0, "running 1 test\ntest t ... ok\n"),
            limit,
        ));
        // The summary is not the last thing libtest said.
        invalid(judge(
            "t",
            "ok t\n",
            &pass_printing(
                0,
                "running 1 test\ntest t ... ok\ntest result: ok. 1 passed; 0 failed; 0 ignored; 0 measured\ntest u ... ok\n",
            ),
            limit,
        ));
        // Another test's lines.
        invalid(judge(
            "t",
            "ok t\n",
            &pass_printing(
                0,
                "running 1 test\ntest u ... ok\ntest result: ok. 1 passed; 0 failed; 0 ignored; 0 measured\n",
            ),
            limit,
        ));
        let ignored = pass_printing(
            0,
            "running 1 test\ntest t ... ignored\n\ntest result: ok. 0 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out\n",
        );
        assert_eq!(judge("t", "ignored t\n", &ignored, limit), Outcome::Ignored);
        invalid(judge("t", "ignored t\n", &pass(0), limit));
    }

    #[test]
    fn a_verdict_needs_the_report_and_the_exit_status_to_agree() {
        let limit = Duration::from_secs(1);
        assert_eq!(judge("t", "ok t\n", &pass(0), limit), Outcome::Passed);
        assert_eq!(
            judge("t", "failed t\n", &pass(101), limit),
            Outcome::Failed("boom".into())
        );
        let invalid = |o: Outcome, needle: &str| match o {
            Outcome::Invalid(why) => assert!(why.contains(needle), "{why}"),
            other => panic!("{other:?}"),
        };
        // Ended before the harness reported, with status 0.
        invalid(
            judge("t", "", &pass(0), limit),
            "before the test harness reported",
        );
        // A report about a test it was not asked to run.
        invalid(judge("t", "ok t\nok u\n", &pass(0), limit), "`u`");
        // A pass that the exit status contradicts.
        invalid(judge("t", "ok t\n", &pass(3), limit), "exit code 3");
        // Two reports for one test.
        invalid(judge("t", "ok t\nok t\n", &pass(0), limit), "2 results");
        // No report and a failing status: the process died.
        assert!(matches!(
            judge("t", "", &pass(3), limit),
            Outcome::Crashed(_)
        ));
    }

    #[test]
    fn capped_keeps_head_and_tail() {
        let mut c = Capped::default();
        for _ in 0..(HEAD_CAP / 10 + 3 * TAIL_CAP / 10) {
            c.push("0123456789");
        }
        c.push("THE END");
        let s = c.finish();
        assert!(s.len() < HEAD_CAP + 3 * TAIL_CAP);
        assert!(s.ends_with("THE END"));
        assert!(s.contains("bytes of output left out"));
    }
}
