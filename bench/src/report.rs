//! Turning medians into something to read: the terminal table, the Markdown table of the
//! book's appendix, and the SVG chart (`goro-bench plot`), all from the same JSON records,
//! so the page can always be regenerated from a saved run.

use crate::json::Record;
use crate::spec::{self, CPU_SUFFIX, PEAK_RSS_SUFFIX, SKYNET_RSS_RATIO, System, Target};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// One row of the results table.
struct Row {
    metric: String,
    unit: String,
    values: [Option<f64>; 3], // goro, go, threads
    target: Target,
}

impl Row {
    fn get(&self, s: System) -> Option<f64> {
        self.values[System::ALL
            .iter()
            .position(|x| *x == s)
            .expect("known system")]
    }

    fn ratio(&self) -> Option<f64> {
        match (self.get(System::Goro), self.get(System::Go)) {
            (Some(g), Some(go)) if go > 0.0 => Some(g / go),
            _ => None,
        }
    }

    fn verdict(&self) -> &'static str {
        let goro = self.get(System::Goro);
        match self.target {
            Target::None => "",
            Target::RatioToGo(max) => match self.ratio() {
                Some(r) if r <= max => "met",
                Some(_) => "MISSED",
                None if goro.is_some() => "no Go",
                None => "",
            },
            Target::AtMost(max) => match goro {
                Some(v) if v <= max => "met",
                Some(_) => "MISSED",
                None => "",
            },
        }
    }
}

fn index(records: &[Record]) -> BTreeMap<(&str, &str), &Record> {
    records
        .iter()
        .filter(|r| r.workers.is_none())
        .map(|r| ((r.workload.as_str(), r.system.as_str()), r))
        .collect()
}

/// The table rows: per-workload metrics, peak RSS per child, CPU time per child.
struct Tables {
    main: Vec<Row>,
    rss: Vec<Row>,
    cpu: Vec<Row>,
}

fn rows(records: &[Record]) -> Tables {
    let idx = index(records);
    let values = |metric: &str| System::ALL.map(|s| idx.get(&(metric, s.name())).map(|r| r.value));
    let mut main = Vec::new();
    let mut rss = Vec::new();
    let mut cpu = Vec::new();
    for w in spec::WORKLOADS {
        for m in w.metrics {
            let v = values(m.name);
            if v.iter().any(Option::is_some) {
                main.push(Row {
                    metric: m.name.to_string(),
                    unit: m.unit.to_string(),
                    values: v,
                    target: m.target,
                });
            }
        }
        let name = format!("{}-{PEAK_RSS_SUFFIX}", w.name);
        let v = values(&name);
        if v.iter().any(Option::is_some) {
            rss.push(Row {
                metric: w.name.to_string(),
                unit: spec::PEAK_RSS_UNIT.to_string(),
                values: v,
                target: if w.name == "skynet" {
                    Target::RatioToGo(SKYNET_RSS_RATIO)
                } else {
                    Target::None
                },
            });
        }
        let v = values(&format!("{}-{CPU_SUFFIX}", w.name));
        if v.iter().any(Option::is_some) {
            cpu.push(Row {
                metric: w.name.to_string(),
                unit: spec::CPU_UNIT.to_string(),
                values: v,
                target: Target::None,
            });
        }
    }
    Tables { main, rss, cpu }
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

fn ratio_text(r: Option<f64>) -> String {
    r.map_or_else(|| "-".to_string(), |r| format!("{r:.2}x"))
}

fn target_text(t: Target) -> String {
    match t {
        Target::None => "-".into(),
        Target::RatioToGo(r) => format!("<= {r}x Go"),
        Target::AtMost(v) => format!("<= {}", num(v)),
    }
}

fn render_text(out: &mut String, head: [&str; 8], rows: Vec<[String; 8]>) {
    let mut width = head.map(str::len);
    for r in &rows {
        for (w, c) in width.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |out: &mut String, cells: [&str; 8]| {
        for (i, (c, w)) in cells.iter().zip(width).enumerate() {
            if i < 2 {
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
    let rule = width.map(|w| "-".repeat(w));
    line(out, rule.each_ref().map(String::as_str));
    for r in &rows {
        line(out, r.each_ref().map(String::as_str));
    }
}

fn cells(r: &Row) -> [String; 8] {
    [
        r.metric.clone(),
        r.unit.clone(),
        opt(r.get(System::Goro)),
        opt(r.get(System::Go)),
        opt(r.get(System::Threads)),
        ratio_text(r.ratio()),
        target_text(r.target),
        r.verdict().to_string(),
    ]
}

/// The terminal table: medians, goro/Go, target and verdict; then peak RSS per workload.
pub fn text_table(header: &str, records: &[Record]) -> String {
    let Tables { main, rss, cpu } = rows(records);
    let mut out = format!("{header}\n\n");
    render_text(
        &mut out,
        [
            "workload", "unit", "goro", "Go", "threads", "goro/Go", "target", "",
        ],
        main.iter().map(cells).collect(),
    );
    out.push_str("\npeak RSS of the child process (ru_maxrss), MiB\n\n");
    render_text(
        &mut out,
        [
            "workload", "unit", "goro", "Go", "threads", "goro/Go", "target", "",
        ],
        rss.iter().map(cells).collect(),
    );
    out.push_str(
        "\nCPU time of the child process (user + system, whole process), ms: steadier than wall time on a busy machine\n\n",
    );
    render_text(
        &mut out,
        [
            "workload", "unit", "goro", "Go", "threads", "goro/Go", "target", "",
        ],
        cpu.iter().map(cells).collect(),
    );
    out
}

/// The same two tables in Markdown, for the book's appendix.
pub fn markdown_table(records: &[Record]) -> String {
    let Tables { main, rss, cpu } = rows(records);
    let mut out = String::new();
    let mut table = |title: &str, rows: &[Row]| {
        let _ = writeln!(
            out,
            "| {title} | unit | goro | Go | OS threads | goro / Go | target | |\n| --- | --- | ---: | ---: | ---: | ---: | --- | --- |"
        );
        for r in rows {
            let c = cells(r);
            let verdict = match c[7].as_str() {
                "MISSED" => "**missed**".to_string(),
                v => v.to_string(),
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {} |",
                c[0],
                c[1],
                c[2],
                c[3],
                c[4],
                c[5],
                c[6].replace("<=", "≤"),
                verdict
            );
        }
        out.push('\n');
    };
    table("workload", &main);
    table("peak RSS", &rss);
    table("CPU time", &cpu);
    out
}

/// The sweep table: one row per workload and worker count.
pub fn sweep_table(header: &str, records: &[Record]) -> String {
    let mut by: BTreeMap<(String, u64), [Option<f64>; 2]> = BTreeMap::new();
    let mut units: BTreeMap<String, String> = BTreeMap::new();
    for r in records.iter().filter(|r| !is_per_child(r)) {
        let Some(w) = r.workers else { continue };
        let slot = match r.system.as_str() {
            "goro" => 0,
            "go" => 1,
            _ => continue,
        };
        by.entry((r.workload.clone(), w)).or_default()[slot] = Some(r.value);
        units.insert(r.workload.clone(), r.unit.clone());
    }
    let mut rows = Vec::new();
    let mut base: BTreeMap<String, [Option<f64>; 2]> = BTreeMap::new();
    for ((metric, w), v) in &by {
        let b = base.entry(metric.clone()).or_insert(*v);
        let speedup = |i: usize| match (b[i], v[i]) {
            (Some(b), Some(x)) if x > 0.0 => format!("{:.2}x", b / x),
            _ => "-".into(),
        };
        rows.push([
            metric.clone(),
            units[metric].clone(),
            w.to_string(),
            opt(v[0]),
            opt(v[1]),
            ratio_text(match (v[0], v[1]) {
                (Some(g), Some(go)) if go > 0.0 => Some(g / go),
                _ => None,
            }),
            speedup(0),
            speedup(1),
        ]);
    }
    let mut out = format!("{header}\n\n");
    render_text(
        &mut out,
        [
            "workload",
            "unit",
            "workers",
            "goro",
            "Go",
            "goro/Go",
            "goro speedup",
            "Go speedup",
        ],
        rows,
    );
    out
}

const W: f64 = 760.0;
const LEFT: f64 = 150.0;
const RIGHT: f64 = 60.0;
const ROW: f64 = 34.0;
const TOP: f64 = 58.0;

/// An SVG chart of goro/Go and threads/Go per metric on a log scale, with Go at 1 and
/// goro's target marked. Lower is better.
pub fn svg_ratios(records: &[Record], title: &str) -> String {
    let main = rows(records).main;
    let rows: Vec<&Row> = main
        .iter()
        .filter(|r| r.get(System::Go).is_some_and(|g| g > 0.0))
        .collect();
    let ratios: Vec<f64> = rows
        .iter()
        .flat_map(|r| {
            let go = r.get(System::Go).unwrap_or(1.0);
            [r.get(System::Goro), r.get(System::Threads)]
                .into_iter()
                .flatten()
                .map(move |v| v / go)
        })
        .filter(|v| *v > 0.0)
        .collect();
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
    let h = TOP + ROW * rows.len() as f64 + 60.0;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{h}" viewBox="0 0 {W} {h}" font-family="sans-serif" font-size="12">"##
    );
    let _ = writeln!(s, r##"<rect width="100%" height="100%" fill="white"/>"##);
    let _ = writeln!(
        s,
        r##"<text x="{}" y="22" font-size="15" font-weight="bold">{}</text>"##,
        LEFT,
        escape(title)
    );
    let _ = writeln!(
        s,
        r##"<text x="{LEFT}" y="40" fill="#555">time or bytes relative to Go (log scale; left of the Go line is faster or smaller)</text>"##
    );
    let bottom = TOP + ROW * rows.len() as f64;
    // Grid: one line per power of ten.
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
        let y = TOP + ROW * i as f64;
        let go = r.get(System::Go).unwrap_or(1.0);
        let _ = writeln!(
            s,
            r##"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
            LEFT - 8.0,
            y + ROW / 2.0 + 4.0,
            escape(&r.metric)
        );
        let bars = [
            (r.get(System::Goro), "#2a7ab9", 5.0, "goro"),
            (r.get(System::Threads), "#c0504d", 18.0, "threads"),
        ];
        for (v, color, dy, who) in bars {
            let Some(v) = v.filter(|v| *v > 0.0) else {
                continue;
            };
            let ratio = v / go;
            let (x0, x1) = (x(10f64.powf(lo)), x(ratio));
            let _ = writeln!(
                s,
                r##"<rect x="{x0:.1}" y="{:.1}" width="{:.1}" height="11" fill="{color}"><title>{who}: {} {} ({ratio:.2}x Go)</title></rect>"##,
                y + dy,
                (x1 - x0).max(1.0),
                num(v),
                escape(&r.unit)
            );
            let _ = writeln!(
                s,
                r##"<text x="{:.1}" y="{:.1}" font-size="10" fill="#333" stroke="white" stroke-width="3" paint-order="stroke">{ratio:.2}x</text>"##,
                x1 + 4.0,
                y + dy + 9.5
            );
        }
        // An absolute target (bytes per task) is drawn where it falls relative to Go.
        let target = match r.target {
            Target::RatioToGo(t) => Some((t, format!("{t}x Go"))),
            Target::AtMost(v) => Some((v / go, format!("{} {}", num(v), r.unit))),
            Target::None => None,
        };
        if let Some((t, label)) = target {
            let tx = x(t);
            let _ = writeln!(
                s,
                r##"<line x1="{tx:.1}" y1="{:.1}" x2="{tx:.1}" y2="{:.1}" stroke="#e69f00" stroke-width="3"><title>goro target: {label}</title></line>"##,
                y + 2.0,
                y + 19.0
            );
        }
    }
    let ly = bottom + 36.0;
    let legend = [
        ("#2a7ab9", "goro"),
        ("#c0504d", "OS threads"),
        ("#e69f00", "goro's target"),
    ];
    for (i, (color, label)) in legend.iter().enumerate() {
        let lx = LEFT + 150.0 * i as f64;
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
                .entry(if r.system == "goro" { "goro" } else { "Go" })
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
            let color = if *sys == "goro" { "#2a7ab9" } else { "#555" };
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

    #[test]
    fn verdicts_follow_the_targets() {
        let records = vec![
            rec("spawn", "goro", 100.0, "ns/task"),
            rec("spawn", "go", 686.0, "ns/task"),
            rec("yield", "goro", 50.0, "ns/yield"),
            rec("yield", "go", 100.0, "ns/yield"),
            rec("park-memory", "goro", 5000.0, "B/task"),
        ];
        let main = rows(&records).main;
        let v: Vec<_> = main
            .iter()
            .map(|r| (r.metric.as_str(), r.verdict()))
            .collect();
        assert_eq!(
            v,
            [
                ("spawn", "met"),
                ("yield", "MISSED"),
                ("park-memory", "MISSED")
            ]
        );
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
    fn svg_has_a_bar_per_value() {
        let records = vec![
            rec("spawn", "goro", 100.0, "ns/task"),
            rec("spawn", "go", 686.0, "ns/task"),
            rec("spawn", "threads", 43500.0, "ns/task"),
        ];
        let svg = svg_ratios(&records, "t");
        assert!(svg.starts_with("<svg"));
        assert_eq!(svg.matches("<rect x=").count(), 2 + 3); // 2 bars + 3 legend swatches
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
    }

    #[test]
    fn markdown_marks_misses() {
        let records = vec![
            rec("skynet", "goro", 900.0, "ms"),
            rec("skynet", "go", 1000.0, "ms"),
        ];
        let md = markdown_table(&records);
        assert!(md.contains("| skynet | ms | 900 | 1,000 | - | 0.90x | ≤ 0.4x Go | **missed** |"));
    }
}
