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
    /// Time limit per test binary.
    pub time_limit: Duration,
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
}

impl Run {
    /// Tests that failed (in any way).
    pub fn failures(&self) -> impl Iterator<Item = &TestCase> {
        self.cases.iter().filter(|c| c.outcome.is_failure())
    }
}

/// The environment that every cargo and test process gets: the variables `cargo run` set for
/// xtask itself are removed, snapshots are never written, trybuild never overwrites.
fn clean_env(cmd: &mut Command) {
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        if key.starts_with("CARGO_PKG_")
            || key.starts_with("CARGO_MANIFEST_")
            || key.starts_with("CARGO_BIN_")
            || key == "CARGO_CRATE_NAME"
            || key == "CARGO_PRIMARY_PACKAGE"
            || key.starts_with("INSTA_")
            || key == "TRYBUILD"
        {
            cmd.env_remove(key.as_ref());
        }
    }
    cmd.env("INSTA_UPDATE", "no");
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

/// Builds the tests of the package at `dir` (`cargo test --no-run`).
/// `progress` is called with the number of crates compiled so far.
pub fn build(
    dir: &Path,
    opts: &Options,
    color: bool,
    progress: &mut dyn FnMut(usize),
) -> Result<Build> {
    let manifest = dir.join("Cargo.toml");
    let mut cmd = cargo();
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
    let mut compiled = 0;
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
                compiled += 1;
                progress(compiled);
                if let (true, Some(target), Some(profile), Some(exe)) =
                    (is_ours, msg.target, msg.profile, msg.executable)
                    && profile.test
                {
                    let name = if target.kind.iter().any(|k| k == "test") {
                        target.name
                    } else if target.kind.iter().any(|k| k.contains("lib")) {
                        "lib".to_string()
                    } else {
                        target.name
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

/// Runs every test binary of a build. `lesson_dir` becomes the working directory and
/// `CARGO_MANIFEST_DIR`, as under `cargo test`.
pub fn run_tests(
    lesson_dir: &Path,
    package: &str,
    version: &str,
    targets: &[TestTarget],
    opts: &Options,
    on_event: &mut dyn FnMut(Event),
) -> Result<Run> {
    let mut run = Run::default();
    // Unit tests first, then the integration tests by name, compile-fail cases last: the
    // first failure shown should be about behaviour before it is about types.
    let mut targets: Vec<&TestTarget> = targets.iter().collect();
    targets.sort_by_key(|t| (t.name != "lib", t.name == "compile_fail", t.name.clone()));
    for target in targets {
        let env = TestEnv {
            dir: lesson_dir,
            package,
            version,
            extra: &opts.test_env,
        };
        let names = list_tests(&target.exe, &env)?;
        if names.is_empty() {
            continue;
        }
        let (cases, stderr) = run_target(target, &names, &env, opts, on_event)?;
        run.cases.extend(cases);
        run.stderr.insert(target.name.clone(), stderr);
    }
    Ok(run)
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
        clean_env(&mut cmd);
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
        cmd
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

/// Runs one binary to completion, re-running it past tests that crashed it.
fn run_target(
    target: &TestTarget,
    names: &[String],
    env: &TestEnv,
    opts: &Options,
    on_event: &mut dyn FnMut(Event),
) -> Result<(Vec<TestCase>, String)> {
    let mut results: HashMap<String, Outcome> = HashMap::new();
    let mut stderr_all = String::new();
    loop {
        let mut cmd = env.command(&target.exe);
        cmd.args(["--test-threads=1", "--color", "never"]);
        if !results.is_empty() {
            cmd.arg("--exact");
            for done in results.keys() {
                cmd.args(["--skip", done]);
            }
        }
        let pass = run_once(cmd, opts.time_limit, &target.name, on_event)?;
        if !stderr_all.is_empty() && !pass.stderr.is_empty() {
            stderr_all.push_str("\n(re-run after the crash)\n");
        }
        stderr_all.push_str(&pass.stderr);
        for (name, outcome) in pass.results {
            let case = TestCase {
                target: target.name.clone(),
                name: name.clone(),
                outcome,
            };
            on_event(Event::Finished(&case));
            results.insert(name, case.outcome);
        }
        let stop = match pass.interrupted {
            None => true,
            Some(Interruption { test, outcome }) => {
                let timed_out = matches!(outcome, Outcome::TimedOut(_));
                let progressed = test.is_some();
                // A binary that dies before its first test (a crash in a static initialiser,
                // say) is charged to the first test that has no result.
                let test =
                    test.or_else(|| names.iter().find(|n| !results.contains_key(*n)).cloned());
                if let Some(test) = test {
                    let mut outcome = outcome;
                    if let Outcome::Crashed(crash) = &mut outcome {
                        // libtest captured what the test printed (a panic message, say) and the
                        // crash lost it: run the test alone, uncaptured, to hear its last words.
                        let mut cmd = env.command(&target.exe);
                        cmd.args([
                            "--test-threads=1",
                            "--color",
                            "never",
                            "--nocapture",
                            "--exact",
                        ])
                        .arg(&test);
                        if let Ok(again) = run_once(cmd, opts.time_limit, &target.name, &mut |_| {})
                        {
                            let words = tail(&again.stdout_and_stderr, 60);
                            if !words.trim().is_empty() {
                                crash.stderr = words;
                            }
                        }
                    }
                    let case = TestCase {
                        target: target.name.clone(),
                        name: test.clone(),
                        outcome,
                    };
                    on_event(Event::Finished(&case));
                    results.insert(test, case.outcome);
                }
                !progressed || (timed_out && !opts.rerun_after_timeout)
            }
        };
        if stop || results.len() >= names.len() {
            break;
        }
    }
    let cases = names
        .iter()
        .map(|name| {
            let outcome = results.remove(name).unwrap_or(Outcome::NotRun);
            if outcome == Outcome::NotRun {
                on_event(Event::Finished(&TestCase {
                    target: target.name.clone(),
                    name: name.clone(),
                    outcome: Outcome::NotRun,
                }));
            }
            TestCase {
                target: target.name.clone(),
                name: name.clone(),
                outcome,
            }
        })
        .collect();
    Ok((cases, stderr_all))
}

struct Interruption {
    /// The test that was running (None: before any test started).
    test: Option<String>,
    outcome: Outcome,
}

struct Pass {
    results: Vec<(String, Outcome)>,
    interrupted: Option<Interruption>,
    stderr: String,
    /// Both streams in arrival order, without libtest's own lines (for `--nocapture` runs).
    stdout_and_stderr: String,
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
                let name = name.trim_end_matches(SHOULD_PANIC);
                self.results.push((name.to_string(), outcome));
                self.started = None;
                self.announced = false;
                return;
            }
        }
        if line.starts_with("test result: ") {
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

    fn into_results(mut self) -> Vec<(String, Outcome)> {
        for (name, outcome) in &mut self.results {
            if let Outcome::Failed(out) = outcome {
                *out = self.failures.remove(name).unwrap_or_default();
            }
        }
        self.results
    }
}

fn run_once(
    mut cmd: Command,
    limit: Duration,
    target: &str,
    on_event: &mut dyn FnMut(Event),
) -> Result<Pass> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Own process group, so a timeout also stops whatever the test started (trybuild runs cargo).
        .process_group(0);
    let mut child = cmd.spawn()?;
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
    let mut handle = |chunk: Chunk,
                      parser: &mut LibtestParser,
                      stderr: &mut Capped,
                      open: &mut i32,
                      on_event: &mut dyn FnMut(Event)| {
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
                if let Some(name) = parser.feed(&text) {
                    on_event(Event::Started(target, &name));
                }
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
                Ok(chunk) => handle(chunk, &mut parser, &mut stderr, &mut open, on_event),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => open = 0,
            }
        } else {
            // Both pipes closed but the process lives on: keep the time limit running.
            std::thread::sleep(Duration::from_millis(50));
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
    let running = parser.started.clone();
    let saw_summary = parser.saw_summary;
    let results = parser.into_results();
    let interrupted = if timed_out {
        Some(Interruption {
            test: running,
            outcome: Outcome::TimedOut(limit),
        })
    } else if let Some(signo) = status.signal() {
        Some(Interruption {
            test: running,
            outcome: Outcome::Crashed(Crash {
                signal: signal_name(signo),
                signo: Some(signo),
                stderr: tail(&stderr, 60),
            }),
        })
    } else if !saw_summary && !status.success() {
        Some(Interruption {
            test: running,
            outcome: Outcome::Crashed(Crash {
                signal: describe_status(status),
                signo: None,
                stderr: tail(&stderr, 60),
            }),
        })
    } else {
        None
    };
    Ok(Pass {
        results,
        interrupted,
        stderr,
        stdout_and_stderr,
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
