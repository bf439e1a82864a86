//! Turning a run into something to read: the terminal table, the Markdown tables of the
//! book's appendix, and the SVG charts (`goro-bench plot`), all from the same JSON lines, so
//! the page can always be regenerated from a saved run.
//!
//! Verdicts hold still by a rule (issue 13): goro meets a target only if the median of its
//! per-run values (ratios to Go: run i of goro over run i of Go, which ran in the same round)
//! meets it AND at least 4 of every 5 runs do (`needed`). The table prints the count:
//! "met 5/5", "missed 3/5".

use crate::json::{Failed, Ratio, Record, Samples, Saved};
use crate::spec::{self, CPU_SUFFIX, PEAK_RSS_SUFFIX, SKYNET_RSS_RATIO, System, Target};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// How many of `n` runs must meet a target: 4 of 5, rounded up (3 of 3, 8 of 10).
pub fn needed(n: usize) -> usize {
    (4 * n).div_ceil(5)
}

/// Median, smallest and largest of a list of per-run values.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Spread {
    /// Smallest value.
    pub min: f64,
    /// Median.
    pub median: f64,
    /// Largest value.
    pub max: f64,
    /// How many values.
    pub n: usize,
}

impl Spread {
    /// The spread of `values`, or `None` if there are none.
    pub fn of(values: &[f64]) -> Option<Spread> {
        if values.is_empty() {
            return None;
        }
        let mut v = values.to_vec();
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let median = if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        };
        Some(Spread {
            min: v[0],
            median,
            max: v[n - 1],
            n,
        })
    }
}

/// Per-run ratios `a[i] / b[i]`, for the runs both have.
pub fn pair_ratios(a: &[f64], b: &[f64]) -> Vec<f64> {
    a.iter()
        .zip(b)
        .filter(|(_, b)| **b > 0.0)
        .map(|(a, b)| a / b)
        .collect()
}

/// The verdict by the rule: `per_run` are the values the target applies to (ratios to Go for
/// a ratio target, goro's own values for an absolute one). Returns e.g. "met 5/5".
pub fn verdict(max: f64, per_run: &[f64]) -> Option<String> {
    let spread = Spread::of(per_run)?;
    let ok = per_run.iter().filter(|v| **v <= max).count();
    let met = spread.median <= max && ok >= needed(per_run.len());
    Some(format!(
        "{} {ok}/{}",
        if met { "met" } else { "missed" },
        per_run.len()
    ))
}

/// What one system shows in one row.
#[derive(Clone, Debug, PartialEq)]
enum Cell {
    Value(f64),
    Failed(String),
    Absent,
}

/// One row of a results table.
struct Row {
    /// The metric's JSON name (`skynet-peak-rss`).
    key: String,
    /// What the table calls it (`skynet`).
    metric: String,
    unit: String,
    /// One per `System::ALL`.
    cells: Vec<Cell>,
    /// Per-run values per `System::ALL` (empty when the saved run has none).
    runs: Vec<Vec<f64>>,
    target: Target,
}

fn slot(s: System) -> usize {
    System::ALL
        .iter()
        .position(|x| *x == s)
        .expect("known system")
}

impl Row {
    fn get(&self, s: System) -> Option<f64> {
        match self.cells[slot(s)] {
            Cell::Value(v) => Some(v),
            _ => None,
        }
    }

    /// Per-run ratios of `s` to Go.
    fn ratios(&self, s: System) -> Vec<f64> {
        pair_ratios(&self.runs[slot(s)], &self.runs[slot(System::Go)])
    }

    /// The spread of `s`'s per-run ratio to Go; from the medians alone in old saved runs.
    fn spread(&self, s: System) -> Option<Spread> {
        Spread::of(&self.ratios(s)).or_else(|| match (self.get(s), self.get(System::Go)) {
            (Some(v), Some(go)) if go > 0.0 => Some(Spread {
                min: v / go,
                median: v / go,
                max: v / go,
                n: 0,
            }),
            _ => None,
        })
    }

    fn verdict(&self) -> String {
        let goro = self.get(System::Goro);
        match self.target {
            Target::None => String::new(),
            Target::RatioToGo(max) => {
                let ratios = self.ratios(System::Goro);
                if let Some(v) = verdict(max, &ratios) {
                    return v;
                }
                match self.spread(System::Goro) {
                    // A saved run from before per-run samples: medians only.
                    Some(s) if s.median <= max => "met (medians)".into(),
                    Some(_) => "missed (medians)".into(),
                    None if goro.is_some() => "no Go".into(),
                    None => String::new(),
                }
            }
            Target::AtMost(max) => match verdict(max, &self.runs[slot(System::Goro)]) {
                Some(v) => v,
                None => match goro {
                    Some(v) if v <= max => "met (medians)".into(),
                    Some(_) => "missed (medians)".into(),
                    None => String::new(),
                },
            },
        }
    }
}

/// The table rows: per-workload metrics, peak RSS per child, CPU time per child.
struct Tables {
    main: Vec<Row>,
    rss: Vec<Row>,
    cpu: Vec<Row>,
    /// Systems with anything to show, in `System::ALL` order.
    systems: Vec<System>,
}

fn rows(saved: &Saved) -> Tables {
    let medians: BTreeMap<(&str, &str), f64> = saved
        .records
        .iter()
        .filter(|r| r.workers.is_none())
        .map(|r| ((r.workload.as_str(), r.system.as_str()), r.value))
        .collect();
    let samples: BTreeMap<(&str, &str), &Samples> = saved
        .samples
        .iter()
        .filter(|s| s.workers.is_none())
        .map(|s| ((s.workload.as_str(), s.system.as_str()), s))
        .collect();
    let failed: BTreeMap<(&str, &str), &Failed> = saved
        .failed
        .iter()
        .filter(|f| f.workers.is_none())
        .map(|f| ((f.workload.as_str(), f.system.as_str()), f))
        .collect();
    // A failure marks every metric of its workload, unless earlier runs left a median.
    let row = |workload: &str, metric: &str, label: &str, unit: &str, target: Target| {
        let cells: Vec<Cell> = System::ALL
            .iter()
            .map(|s| match medians.get(&(metric, s.name())) {
                Some(v) => Cell::Value(*v),
                None => match failed.get(&(workload, s.name())) {
                    Some(f) => Cell::Failed(f.reason.clone()),
                    None => Cell::Absent,
                },
            })
            .collect();
        let runs = System::ALL
            .iter()
            .map(|s| {
                samples
                    .get(&(metric, s.name()))
                    .map_or_else(Vec::new, |x| x.values.clone())
            })
            .collect();
        let any = cells.iter().any(|c| matches!(c, Cell::Value(_)));
        any.then(|| Row {
            key: metric.to_string(),
            metric: label.to_string(),
            unit: unit.to_string(),
            cells,
            runs,
            target,
        })
    };
    let mut t = Tables {
        main: Vec::new(),
        rss: Vec::new(),
        cpu: Vec::new(),
        systems: Vec::new(),
    };
    for w in spec::WORKLOADS {
        for m in w.metrics {
            t.main.extend(row(w.name, m.name, m.name, m.unit, m.target));
        }
        let rss_target = if w.name == "skynet" {
            Target::RatioToGo(SKYNET_RSS_RATIO)
        } else {
            Target::None
        };
        let name = format!("{}-{PEAK_RSS_SUFFIX}", w.name);
        t.rss
            .extend(row(w.name, &name, w.name, spec::PEAK_RSS_UNIT, rss_target));
        let name = format!("{}-{CPU_SUFFIX}", w.name);
        t.cpu
            .extend(row(w.name, &name, w.name, spec::CPU_UNIT, Target::None));
    }
    t.systems = System::ALL
        .into_iter()
        .filter(|&s| {
            t.main
                .iter()
                .any(|r| !matches!(r.cells[slot(s)], Cell::Absent))
        })
        .collect();
    t
}

/// Whether a record is one of the per-child extras (peak RSS, CPU time).
fn is_per_child(r: &Record) -> bool {
    r.workload.ends_with(PEAK_RSS_SUFFIX) || r.workload.ends_with(CPU_SUFFIX)
}

/// Formats a number with sensible precision: `12,345`, `123.4`, `1.23`.
pub fn num(v: f64) -> String {
    if !v.is_finite() {
        return "-".into();
    }
    if v.abs() >= 1000.0 {
        let s = format!("{:.0}", v);
        let (sign, digits) = s.split_at(if s.starts_with('-') { 1 } else { 0 });
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        format!("{sign}{out}")
    } else if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

fn opt(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_string(), num)
}

fn cell_text(c: &Cell) -> String {
    match c {
        Cell::Value(v) => num(*v),
        Cell::Failed(_) => "failed".into(),
        Cell::Absent => "-".into(),
    }
}

fn ratio_text(r: Option<f64>) -> String {
    r.map_or_else(|| "-".to_string(), |r| format!("{r:.2}x"))
}

fn spread_text(s: Option<Spread>) -> String {
    match s {
        Some(s) if s.n > 1 => format!("{:.2}-{:.2}", s.min, s.max),
        _ => "-".into(),
    }
}

fn target_text(t: Target) -> String {
    match t {
        Target::None => "-".into(),
        Target::RatioToGo(r) => format!("<= {r}x Go"),
        Target::AtMost(v) => format!("<= {}", num(v)),
    }
}

/// Column headers of a system.
fn head_name(s: System) -> &'static str {
    match s {
        System::Go => "Go",
        System::Threads => "threads",
        other => other.name(),
    }
}

fn render_text(out: &mut String, head: &[String], rows: &[Vec<String>], left: usize) {
    let mut width: Vec<usize> = head.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (w, c) in width.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |out: &mut String, cells: &[String]| {
        for (i, (c, w)) in cells.iter().zip(&width).enumerate() {
            let w = *w;
            if i < left {
                let _ = write!(out, "{c:<w$}  ");
            } else {
                let _ = write!(out, "{c:>w$}  ");
            }
        }
        let trimmed = out.trim_end().len();
        out.truncate(trimmed);
        out.push('\n');
    };
    line(out, head);
    let rule: Vec<String> = width.iter().map(|w| "-".repeat(*w)).collect();
    line(out, &rule);
    for r in rows {
        line(out, r);
    }
}

/// Header and cells of a table: the metric, each system's median, goro/Go (median of the
/// per-run ratios and their range), target, verdict.
fn table(title: &str, rows: &[Row], systems: &[System]) -> (Vec<String>, Vec<Vec<String>>) {
    let mut h = vec![title.to_string(), "unit".into()];
    h.extend(systems.iter().map(|s| head_name(*s).to_string()));
    h.extend(["goro/Go".into(), "range".into(), "target".into(), "".into()]);
    let body = rows
        .iter()
        .map(|r| {
            let mut c = vec![r.metric.clone(), r.unit.clone()];
            c.extend(systems.iter().map(|s| cell_text(&r.cells[slot(*s)])));
            let spread = r.spread(System::Goro);
            c.push(ratio_text(spread.map(|s| s.median)));
            c.push(spread_text(spread));
            c.push(target_text(r.target));
            c.push(r.verdict());
            c
        })
        .collect();
    (h, body)
}

/// Notes under a table: every failure with its reason.
fn failure_notes(saved: &Saved) -> Vec<String> {
    saved
        .failed
        .iter()
        .map(|f| {
            format!(
                "{} on {}{}: failed in run {}: {}",
                f.workload,
                f.system,
                f.workers
                    .map_or(String::new(), |w| format!(" with {w} workers")),
                f.run,
                f.reason
            )
        })
        .collect()
}

/// The terminal table: medians, goro/Go with its spread, target and verdict; then peak RSS
/// and CPU time per workload; then the failures.
pub fn text_table(header: &str, saved: &Saved) -> String {
    let t = rows(saved);
    let mut out = format!("{header}\n\n");
    let (h, b) = table("workload", &t.main, &t.systems);
    render_text(&mut out, &h, &b, 2);
    out.push_str(
        "\ngoro/Go is the median of the per-run ratios (run i of goro over run i of Go, same round); range is their min-max. A target is met when the median and at least 4 of 5 runs meet it.\n",
    );
    out.push_str("\neach system relative to Go: median of the per-run ratios (min-max)\n\n");
    let (h, b) = peer_table(&t);
    render_text(&mut out, &h, &b, 1);
    out.push_str("\npeak RSS of the child process (ru_maxrss), MiB\n\n");
    let (h, b) = table("workload", &t.rss, &t.systems);
    render_text(&mut out, &h, &b, 2);
    out.push_str(
        "\nCPU time of the child process (user + system, whole process), ms: steadier than wall time on a busy machine\n\n",
    );
    let (h, b) = table("workload", &t.cpu, &t.systems);
    render_text(&mut out, &h, &b, 2);
    for note in failure_notes(saved) {
        let _ = write!(out, "\nfailed: {note}");
    }
    if !saved.failed.is_empty() {
        out.push('\n');
    }
    out
}

/// Every system's ratio to Go on every metric, with its spread.
fn peer_table(t: &Tables) -> (Vec<String>, Vec<Vec<String>>) {
    let others: Vec<System> = t
        .systems
        .iter()
        .copied()
        .filter(|s| *s != System::Go)
        .collect();
    let mut h = vec!["workload".to_string()];
    h.extend(others.iter().map(|s| format!("{} / Go", head_name(*s))));
    let body = t
        .main
        .iter()
        .map(|r| {
            let mut c = vec![r.metric.clone()];
            c.extend(
                others
                    .iter()
                    .map(|s| match (&r.cells[slot(*s)], r.spread(*s)) {
                        (Cell::Failed(_), _) => "failed".into(),
                        (_, Some(sp)) if sp.n > 1 => {
                            format!("{:.2}x ({:.2}-{:.2})", sp.median, sp.min, sp.max)
                        }
                        (_, Some(sp)) => format!("{:.2}x", sp.median),
                        (_, None) => "-".into(),
                    }),
            );
            c
        })
        .collect();
    (h, body)
}

/// The `"ratio"` lines of `--json`: every system's per-run ratio to Go on every metric, with
/// goro's verdict where the metric has a target.
pub fn ratio_lines(saved: &Saved) -> Vec<Ratio> {
    let t = rows(saved);
    let mut out = Vec::new();
    for r in t.main.iter().chain(&t.rss).chain(&t.cpu) {
        for s in System::ALL.into_iter().filter(|s| *s != System::Go) {
            let ratios = r.ratios(s);
            let Some(sp) = Spread::of(&ratios) else {
                continue;
            };
            let verdict =
                (s == System::Goro && !matches!(r.target, Target::None)).then(|| r.verdict());
            out.push(Ratio {
                kind: "ratio".into(),
                workload: r.key.clone(),
                system: s.name().into(),
                min: (sp.min * 1e4).round() / 1e4,
                median: (sp.median * 1e4).round() / 1e4,
                max: (sp.max * 1e4).round() / 1e4,
                pairs: sp.n as u64,
                verdict,
            });
        }
    }
    out
}

/// The tables in Markdown, for the book's appendix.
pub fn markdown_table(saved: &Saved) -> String {
    let t = rows(saved);
    let mut out = String::new();
    let md = |out: &mut String, h: Vec<String>, b: Vec<Vec<String>>, left: usize| {
        let _ = writeln!(out, "| {} |", h.join(" | "));
        let aligns: Vec<&str> = (0..h.len())
            .map(|i| if i < left { "---" } else { "---:" })
            .collect();
        let _ = writeln!(out, "| {} |", aligns.join(" | "));
        for r in b {
            let r: Vec<String> = r
                .into_iter()
                .map(|c| {
                    let c = c.replace("<=", "≤");
                    if c.starts_with("missed") {
                        format!("**{c}**")
                    } else {
                        c
                    }
                })
                .collect();
            let _ = writeln!(out, "| {} |", r.join(" | "));
        }
        out.push('\n');
    };
    let (h, b) = table("workload", &t.main, &t.systems);
    md(&mut out, h, b, 2);
    let (h, b) = peer_table(&t);
    md(&mut out, h, b, 1);
    let (h, b) = table("peak RSS", &t.rss, &t.systems);
    md(&mut out, h, b, 2);
    let (h, b) = table("CPU time", &t.cpu, &t.systems);
    md(&mut out, h, b, 2);
    for note in failure_notes(saved) {
        let _ = writeln!(out, "- failed: {note}");
    }
    out
}

/// The sweep table: one row per workload and worker count, every system that took part, and
/// each system's speedup over its own time at the smallest worker count.
pub fn sweep_table(header: &str, records: &[Record]) -> String {
    let n = System::ALL.len();
    let mut by: BTreeMap<(String, u64), Vec<Option<f64>>> = BTreeMap::new();
    let mut units: BTreeMap<String, String> = BTreeMap::new();
    let mut present = vec![false; n];
    for r in records.iter().filter(|r| !is_per_child(r)) {
        let (Some(w), Some(sys)) = (r.workers, System::from_name(&r.system)) else {
            continue;
        };
        by.entry((r.workload.clone(), w))
            .or_insert_with(|| vec![None; n])[slot(sys)] = Some(r.value);
        present[slot(sys)] = true;
        units.insert(r.workload.clone(), r.unit.clone());
    }
    let systems: Vec<System> = System::ALL
        .into_iter()
        .filter(|s| present[slot(*s)])
        .collect();
    let mut rows = Vec::new();
    let mut base: BTreeMap<String, Vec<Option<f64>>> = BTreeMap::new();
    for ((metric, w), v) in &by {
        let b = base.entry(metric.clone()).or_insert_with(|| v.clone());
        let mut row = vec![metric.clone(), units[metric].clone(), w.to_string()];
        row.extend(systems.iter().map(|s| opt(v[slot(*s)])));
        let (g, go) = (v[slot(System::Goro)], v[slot(System::Go)]);
        row.push(ratio_text(match (g, go) {
            (Some(g), Some(go)) if go > 0.0 => Some(g / go),
            _ => None,
        }));
        row.extend(systems.iter().map(|s| match (b[slot(*s)], v[slot(*s)]) {
            (Some(b), Some(x)) if x > 0.0 => format!("{:.2}x", b / x),
            _ => "-".into(),
        }));
        rows.push(row);
    }
    let mut out = format!("{header}\n\n");
    let mut head: Vec<String> = ["workload", "unit", "workers"].map(String::from).to_vec();
    head.extend(systems.iter().map(|s| head_name(*s).to_string()));
    head.push("goro/Go".into());
    head.extend(systems.iter().map(|s| format!("{} speedup", head_name(*s))));
    render_text(&mut out, &head, &rows, 2);
    out
}

const W: f64 = 760.0;
const LEFT: f64 = 150.0;
const RIGHT: f64 = 60.0;
const BAR: f64 = 9.0;
const TOP: f64 = 58.0;

/// Colour of a system's bars.
fn colour(s: System) -> &'static str {
    match s {
        System::Goro => "#2a7ab9",
        System::TokioMt => "#3b9a5a",
        System::TokioCt => "#9bc99f",
        System::May => "#8e6bb5",
        System::Threads => "#c0504d",
        System::Go => "#000",
    }
}

/// An SVG chart of every system's ratio to Go per metric on a log scale, Go at 1, the bar at
/// the median of the per-run ratios and a whisker over their range, goro's target marked.
/// Lower is better. A system that failed a workload is written in its row.
pub fn svg_ratios(saved: &Saved, title: &str) -> String {
    let t = rows(saved);
    let systems: Vec<System> = t
        .systems
        .iter()
        .copied()
        .filter(|s| *s != System::Go)
        .collect();
    let rows: Vec<&Row> = t
        .main
        .iter()
        .filter(|r| r.get(System::Go).is_some_and(|g| g > 0.0))
        .collect();
    let row_h = BAR * systems.len() as f64 + 12.0;
    let mut ratios: Vec<f64> = Vec::new();
    for r in &rows {
        for s in &systems {
            if let Some(sp) = r.spread(*s) {
                ratios.extend([sp.min, sp.max]);
            }
        }
        if let Target::RatioToGo(v) = r.target {
            ratios.push(v);
        }
    }
    let ratios: Vec<f64> = ratios.into_iter().filter(|v| *v > 0.0).collect();
    let lo = ratios
        .iter()
        .copied()
        .fold(1.0_f64, f64::min)
        .log10()
        .floor()
        .min(-1.0);
    let hi = ratios
        .iter()
        .copied()
        .fold(1.0_f64, f64::max)
        .log10()
        .ceil()
        .max(1.0);
    let plot_w = W - LEFT - RIGHT;
    let x = |v: f64| LEFT + (v.log10() - lo) / (hi - lo) * plot_w;
    let bottom = TOP + row_h * rows.len() as f64;
    let h = bottom + 40.0 + 18.0 * (systems.len() as f64 / 4.0).ceil();
    let mut s = String::new();
    let _ = writeln!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{h}" viewBox="0 0 {W} {h}" font-family="sans-serif" font-size="12">"##
    );
    let _ = writeln!(s, r##"<rect width="100%" height="100%" fill="white"/>"##);
    let _ = writeln!(
        s,
        r##"<text x="20" y="22" font-size="15" font-weight="bold">{}</text>"##,
        escape(title)
    );
    let _ = writeln!(
        s,
        r##"<text x="20" y="40" fill="#555">time or bytes relative to Go, log scale: bar at the median run, whisker over all runs; left of Go is better</text>"##
    );
    let mut e = lo as i32;
    while e as f64 <= hi {
        let v = 10f64.powi(e);
        let gx = x(v);
        let label = if e >= 0 {
            format!("{}x", 10u64.pow(e as u32))
        } else {
            format!("{}x", v)
        };
        let _ = writeln!(
            s,
            r##"<line x1="{gx:.1}" y1="{TOP}" x2="{gx:.1}" y2="{bottom}" stroke="{}" stroke-width="{}"/>"##,
            if e == 0 { "#000" } else { "#ddd" },
            if e == 0 { 1.5 } else { 1.0 }
        );
        let _ = writeln!(
            s,
            r##"<text x="{gx:.1}" y="{:.1}" text-anchor="middle" fill="#333">{label}</text>"##,
            bottom + 16.0
        );
        e += 1;
    }
    let _ = writeln!(
        s,
        r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" font-weight="bold">Go</text>"##,
        x(1.0),
        TOP - 4.0
    );
    for (i, r) in rows.iter().enumerate() {
        let y = TOP + row_h * i as f64 + 6.0;
        let _ = writeln!(
            s,
            r##"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
            LEFT - 8.0,
            y + row_h / 2.0,
            escape(&r.metric)
        );
        for (j, sys) in systems.iter().enumerate() {
            let by = y + BAR * j as f64;
            let who = head_name(*sys);
            if let Cell::Failed(why) = &r.cells[slot(*sys)] {
                let _ = writeln!(
                    s,
                    r##"<text x="{:.1}" y="{:.1}" font-size="9" fill="{}"><title>{}</title>{who}: failed</text>"##,
                    x(10f64.powf(lo)) + 4.0,
                    by + BAR - 1.5,
                    colour(*sys),
                    escape(why)
                );
                continue;
            }
            let Some(sp) = r.spread(*sys).filter(|sp| sp.median > 0.0) else {
                continue;
            };
            let (x0, x1) = (x(10f64.powf(lo)), x(sp.median));
            let _ = writeln!(
                s,
                r##"<rect x="{x0:.1}" y="{by:.1}" width="{:.1}" height="{:.1}" fill="{}"><title>{who}: {:.2}x Go (runs {:.2}-{:.2})</title></rect>"##,
                (x1 - x0).max(1.0),
                BAR - 2.0,
                colour(*sys),
                sp.median,
                sp.min,
                sp.max
            );
            if sp.n > 1 && sp.min > 0.0 {
                let _ = writeln!(
                    s,
                    r##"<line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#333" stroke-width="1"/>"##,
                    x(sp.min),
                    by + (BAR - 2.0) / 2.0,
                    x(sp.max),
                    by + (BAR - 2.0) / 2.0
                );
            }
            let _ = writeln!(
                s,
                r##"<text x="{:.1}" y="{:.1}" font-size="8" fill="#333" stroke="white" stroke-width="3" paint-order="stroke">{:.2}x</text>"##,
                x(sp.max.max(sp.median)) + 3.0,
                by + BAR - 2.0,
                sp.median
            );
        }
        let target = match r.target {
            Target::RatioToGo(t) => Some((t, format!("{t}x Go"))),
            Target::AtMost(v) => r
                .get(System::Go)
                .map(|go| (v / go, format!("{} {}", num(v), r.unit))),
            Target::None => None,
        };
        if let Some((t, label)) = target {
            let tx = x(t);
            let _ = writeln!(
                s,
                r##"<line x1="{tx:.1}" y1="{:.1}" x2="{tx:.1}" y2="{:.1}" stroke="#e69f00" stroke-width="3"><title>goro target: {label}</title></line>"##,
                y - 2.0,
                y + BAR
            );
        }
    }
    let mut legend: Vec<(&str, &str)> = systems
        .iter()
        .map(|s| (colour(*s), head_name(*s)))
        .collect();
    legend.push(("#e69f00", "goro's target"));
    for (i, (color, label)) in legend.iter().enumerate() {
        let lx = LEFT + 150.0 * (i % 4) as f64;
        let ly = bottom + 36.0 + 18.0 * (i / 4) as f64;
        let _ = writeln!(
            s,
            r##"<rect x="{lx}" y="{:.1}" width="14" height="10" fill="{color}"/><text x="{:.1}" y="{:.1}">{label}</text>"##,
            ly - 9.0,
            lx + 20.0,
            ly
        );
    }
    s.push_str("</svg>\n");
    s
}

/// An SVG chart of a `--workers` sweep: time against worker count for goro and Go, one
/// panel per workload, both axes logarithmic (perfect scaling is a straight line down).
pub fn svg_sweep(records: &[Record], title: &str) -> String {
    // panel title -> system -> (workers, value) points
    type Points = Vec<(u64, f64)>;
    let mut series: BTreeMap<String, BTreeMap<&str, Points>> = BTreeMap::new();
    for r in records.iter().filter(|r| !is_per_child(r)) {
        if let Some(w) = r.workers.filter(|&w| w > 0)
            && r.value > 0.0
        {
            series
                .entry(format!("{} ({})", r.workload, r.unit))
                .or_default()
                .entry(if r.system == "go" {
                    "Go"
                } else {
                    r.system.as_str()
                })
                .or_default()
                .push((w, r.value));
        }
    }
    let panel_w = 340.0;
    let panel_h = 220.0;
    let (pad_l, pad_t) = (60.0, 70.0);
    let width = pad_l + series.len().max(1) as f64 * (panel_w + 50.0);
    let height = pad_t + panel_h + 70.0;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">"##
    );
    let _ = writeln!(s, r##"<rect width="100%" height="100%" fill="white"/>"##);
    let _ = writeln!(
        s,
        r##"<text x="{pad_l}" y="22" font-size="15" font-weight="bold">{}</text>"##,
        escape(title)
    );
    for (p, (name, systems)) in series.iter().enumerate() {
        let x0 = pad_l + p as f64 * (panel_w + 50.0);
        let all: Vec<(u64, f64)> = systems.values().flatten().copied().collect();
        let wmax = all.iter().map(|p| p.0).max().unwrap_or(1).max(2) as f64;
        let vmin = all.iter().map(|p| p.1).fold(f64::MAX, f64::min);
        let vmax = all.iter().map(|p| p.1).fold(0.0, f64::max);
        let (lo, hi) = (
            vmin.log10().floor(),
            vmax.log10().ceil().max(vmin.log10().floor() + 1.0),
        );
        let px = |w: f64| x0 + w.log2() / wmax.log2() * panel_w;
        let py = |v: f64| pad_t + panel_h - (v.log10() - lo) / (hi - lo) * panel_h;
        let _ = writeln!(
            s,
            r##"<text x="{x0}" y="{:.1}" font-weight="bold">{}</text>"##,
            pad_t - 14.0,
            escape(name)
        );
        let _ = writeln!(
            s,
            r##"<rect x="{x0}" y="{pad_t}" width="{panel_w}" height="{panel_h}" fill="none" stroke="#999"/>"##
        );
        let mut w = 1.0;
        while w <= wmax {
            let _ = writeln!(
                s,
                r##"<text x="{:.1}" y="{:.1}" text-anchor="middle">{w}</text>"##,
                px(w),
                pad_t + panel_h + 16.0
            );
            w *= 2.0;
        }
        let _ = writeln!(
            s,
            r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" fill="#555">workers</text>"##,
            x0 + panel_w / 2.0,
            pad_t + panel_h + 34.0
        );
        let mut e = lo;
        while e <= hi {
            let _ = writeln!(
                s,
                r##"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
                x0 - 6.0,
                py(10f64.powf(e)) + 4.0,
                num(10f64.powf(e))
            );
            e += 1.0;
        }
        for (sys, points) in systems {
            let mut points = points.clone();
            points.sort_by_key(|p| p.0);
            let color = System::from_name(sys).map_or("#555", colour);
            let path: Vec<String> = points
                .iter()
                .map(|&(w, v)| format!("{:.1},{:.1}", px(w as f64), py(v)))
                .collect();
            let _ = writeln!(
                s,
                r##"<polyline points="{}" fill="none" stroke="{color}" stroke-width="2"/>"##,
                path.join(" ")
            );
            for &(w, v) in &points {
                let _ = writeln!(
                    s,
                    r##"<circle cx="{:.1}" cy="{:.1}" r="3.5" fill="{color}"><title>{sys}, {w} workers: {}</title></circle>"##,
                    px(w as f64),
                    py(v),
                    num(v)
                );
            }
            if let Some(&(w, v)) = points.last() {
                let _ = writeln!(
                    s,
                    r##"<text x="{:.1}" y="{:.1}" fill="{color}">{sys}</text>"##,
                    px(w as f64) + 6.0,
                    py(v) + 4.0
                );
            }
        }
    }
    s.push_str("</svg>\n");
    s
}

fn escape(t: &str) -> String {
    t.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(w: &str, s: &str, v: f64, u: &str) -> Record {
        Record {
            workload: w.into(),
            system: s.into(),
            value: v,
            unit: u.into(),
            workers: None,
        }
    }

    fn saved(records: Vec<Record>) -> Saved {
        Saved {
            records,
            ..Saved::default()
        }
    }

    /// A saved run with per-run values: medians computed from them.
    fn with_runs(runs: &[(&str, &str, &[f64], &str)]) -> Saved {
        let mut out = Saved::default();
        for (w, s, values, u) in runs {
            let sp = Spread::of(values).unwrap();
            out.records.push(rec(w, s, sp.median, u));
            out.samples.push(Samples {
                kind: "samples".into(),
                workload: w.to_string(),
                system: s.to_string(),
                unit: u.to_string(),
                values: values.to_vec(),
                workers: None,
            });
        }
        out
    }

    #[test]
    fn the_rule_needs_the_median_and_four_of_five() {
        assert_eq!(needed(5), 4);
        assert_eq!(needed(3), 3);
        assert_eq!(needed(10), 8);
        assert_eq!(
            verdict(0.3, &[0.2, 0.25, 0.29, 0.31, 0.1]).unwrap(),
            "met 4/5"
        );
        assert_eq!(
            verdict(0.3, &[0.2, 0.25, 0.35, 0.31, 0.1]).unwrap(),
            "missed 3/5"
        );
        assert_eq!(verdict(0.3, &[0.2; 5]).unwrap(), "met 5/5");
        assert_eq!(verdict(0.3, &[0.2, 0.2, 0.4]).unwrap(), "missed 2/3");
        assert!(verdict(0.3, &[]).is_none());
    }

    #[test]
    fn verdicts_pair_runs_of_the_same_round() {
        // goro's median (100) over Go's median (400) is 0.25, but run by run goro is over
        // 0.3x Go twice: the pairs decide.
        let s = with_runs(&[
            (
                "spawn",
                "goro",
                &[100.0, 100.0, 100.0, 130.0, 95.0],
                "ns/task",
            ),
            (
                "spawn",
                "go",
                &[400.0, 420.0, 300.0, 400.0, 900.0],
                "ns/task",
            ),
            ("park-memory", "goro", &[4000.0, 4500.0, 4700.0], "B/task"),
        ]);
        let main = rows(&s).main;
        let v: Vec<_> = main
            .iter()
            .map(|r| (r.metric.as_str(), r.verdict()))
            .collect();
        assert_eq!(
            v,
            [
                ("spawn", "missed 3/5".into()),
                ("park-memory", "missed 2/3".into())
            ]
        );
        let sp = main[0].spread(System::Goro).unwrap();
        assert_eq!((sp.min, sp.max, sp.n), (95.0 / 900.0, 100.0 / 300.0, 5));
        assert!((sp.median - 100.0 / 400.0).abs() < 1e-12);
        let lines = ratio_lines(&s);
        assert_eq!(lines[0].verdict.as_deref(), Some("missed 3/5"));
        assert_eq!(lines[0].pairs, 5);
    }

    #[test]
    fn old_runs_without_samples_get_verdicts_from_medians() {
        let records = vec![
            rec("spawn", "goro", 100.0, "ns/task"),
            rec("spawn", "go", 686.0, "ns/task"),
            rec("yield", "goro", 50.0, "ns/yield"),
            rec("yield", "go", 100.0, "ns/yield"),
            rec("park-memory", "goro", 5000.0, "B/task"),
        ];
        let main = rows(&saved(records)).main;
        let v: Vec<_> = main
            .iter()
            .map(|r| (r.metric.as_str(), r.verdict()))
            .collect();
        assert_eq!(
            v,
            [
                ("spawn", "met (medians)".to_string()),
                ("yield", "missed (medians)".to_string()),
                ("park-memory", "missed (medians)".to_string())
            ]
        );
    }

    #[test]
    fn a_failed_peer_shows_its_reason() {
        let mut s = with_runs(&[
            ("skynet", "goro", &[300.0, 310.0], "ms"),
            ("skynet", "go", &[1000.0, 1100.0], "ms"),
        ]);
        s.failed.push(Failed {
            kind: "failed".into(),
            workload: "skynet".into(),
            system: "may".into(),
            run: 1,
            reason: "exited with status 4: may could not create a coroutine".into(),
            workers: None,
        });
        let text = text_table("h", &s);
        assert!(text.contains("failed"), "{text}");
        assert!(
            text.contains("skynet on may: failed in run 1: exited with status 4"),
            "{text}"
        );
        let md = markdown_table(&s);
        assert!(md.contains("| may |"), "{md}");
        let svg = svg_ratios(&s, "t");
        assert!(svg.contains("may: failed"), "{svg}");
    }

    #[test]
    fn numbers_read_well() {
        assert_eq!(num(43500.2), "43,500");
        assert_eq!(num(1234567.0), "1,234,567");
        assert_eq!(num(473.0), "473");
        assert_eq!(num(12.34), "12.3");
        assert_eq!(num(1.234), "1.23");
    }

    #[test]
    fn svg_has_a_bar_per_value_and_a_whisker_per_spread() {
        let s = with_runs(&[
            ("spawn", "goro", &[100.0, 110.0, 90.0], "ns/task"),
            ("spawn", "go", &[686.0, 700.0, 650.0], "ns/task"),
            ("spawn", "threads", &[43500.0, 43000.0, 44000.0], "ns/task"),
            ("spawn", "tokio-mt", &[500.0, 520.0, 480.0], "ns/task"),
        ]);
        let svg = svg_ratios(&s, "t");
        assert!(svg.starts_with("<svg"));
        // 3 bars + 4 legend swatches (3 systems and the target)
        assert_eq!(svg.matches("<rect x=").count(), 3 + 4);
        assert_eq!(
            svg.matches(r##"stroke="#333" stroke-width="1""##).count(),
            3
        );
        assert!(svg.contains("0.15x"));
    }

    #[test]
    fn sweep_svg_draws_one_line_per_system() {
        let mut records = Vec::new();
        for (w, goro, go) in [(1, 800.0, 1290.0), (2, 420.0, 700.0), (4, 230.0, 400.0)] {
            for (sys, v) in [("goro", goro), ("go", go)] {
                let mut r = rec("skynet", sys, v, "ms");
                r.workers = Some(w);
                records.push(r);
            }
        }
        let svg = svg_sweep(&records, "scaling");
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert_eq!(svg.matches("<circle").count(), 6);
        let table = sweep_table("h", &records);
        assert!(table.contains("1.90x"), "{table}"); // goro: 800 / 420
        assert!(!table.contains("tokio-mt"), "{table}");
        for (w, v) in [(1, 1000.0), (2, 400.0)] {
            let mut r = rec("skynet", "tokio-mt", v, "ms");
            r.workers = Some(w);
            records.push(r);
        }
        let table = sweep_table("h", &records);
        assert!(table.contains("tokio-mt speedup"), "{table}");
        assert!(table.contains("2.50x"), "{table}"); // tokio-mt: 1000 / 400
    }

    #[test]
    fn markdown_marks_misses() {
        let records = vec![
            rec("skynet", "goro", 900.0, "ms"),
            rec("skynet", "go", 1000.0, "ms"),
        ];
        let md = markdown_table(&saved(records));
        assert!(
            md.contains(
                "| skynet | ms | 900 | 1,000 | 0.90x | - | ≤ 0.4x Go | **missed (medians)** |"
            ),
            "{md}"
        );
    }
}
