//! `cargo xtask trace render TRACE.json -o out.svg`: draws a goro execution trace (the
//! trace-event JSON that `GORO_TRACE=path` or `Builder::trace` writes) as an SVG timeline:
//! one lane per worker, each run of a task a coloured span labelled with the task, an arrow
//! from each wakeup (and spawn) to the run it caused, steals and preemption requests as marks,
//! idle time hatched, a time axis in milliseconds and a legend. The book's scheduler pictures
//! are drawn with it from real runs (see `lessons/images/README.md`).

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use serde_json::Value;

use crate::Result;

/// `cargo xtask trace ...`
#[derive(Args, Debug)]
pub struct TraceArgs {
    #[command(subcommand)]
    command: TraceCommand,
}

#[derive(Subcommand, Debug)]
enum TraceCommand {
    /// Draw a trace as an SVG timeline (workers as lanes, tasks as spans, wake arrows).
    Render {
        /// The trace file (JSON written by a run with GORO_TRACE=path).
        trace: PathBuf,
        /// Where to write the SVG.
        #[arg(short, long)]
        out: PathBuf,
        /// Start of the window to draw, in ms from the start of the trace.
        #[arg(long)]
        from: Option<f64>,
        /// End of the window to draw, in ms from the start of the trace.
        #[arg(long, conflicts_with = "window")]
        to: Option<f64>,
        /// Length of the window to draw, in ms from --from (or from the first task run).
        #[arg(long)]
        window: Option<f64>,
        /// Title at the top of the picture (default: the trace's file name).
        #[arg(long)]
        title: Option<String>,
        /// Width of the picture in pixels.
        #[arg(long, default_value_t = 960)]
        width: u32,
    },
}

/// Runs `cargo xtask trace ...`.
pub fn run(args: &TraceArgs) -> Result<()> {
    match &args.command {
        TraceCommand::Render {
            trace,
            out,
            from,
            to,
            window,
            title,
            width,
        } => {
            let text = std::fs::read_to_string(trace).map_err(|e| {
                format!(
                    "cannot read the trace {}: {e}; record one with \
                     `GORO_TRACE={} cargo run --release -p goro --example worker_pool`",
                    trace.display(),
                    trace.display()
                )
            })?;
            let parsed = Trace::parse(&text).map_err(|e| format!("{}: {e}", trace.display()))?;
            let title = title.clone().unwrap_or_else(|| file_name(trace));
            let opts = Options {
                from_ms: *from,
                to_ms: *to,
                window_ms: *window,
                title,
                width: *width,
            };
            let svg = render(&parsed, &opts)?;
            std::fs::write(out, svg).map_err(|e| format!("cannot write {}: {e}", out.display()))?;
            anstream::println!("{} written ({} lanes)", out.display(), parsed.lanes.len());
            Ok(())
        }
    }
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map_or_else(|| p.display().to_string(), |n| n.to_string_lossy().into())
}

/// A run of a task on a lane (times in µs, as in the file).
#[derive(Debug, Clone)]
struct Span {
    lane: u64,
    ts: f64,
    dur: f64,
    label: String,
    goid: u64,
    end: String,
    idle: bool,
}

#[derive(Debug, Clone)]
struct Arrow {
    from: (u64, f64),
    to: (u64, f64),
    spawn: bool,
}

#[derive(Debug, Clone)]
struct Mark {
    lane: u64,
    ts: f64,
    text: String,
}

/// Where a flow starts and ends: (lane, µs), each once seen.
type FlowEnds = (Option<(u64, f64)>, Option<(u64, f64)>);

/// What the picture needs from a trace.
#[derive(Debug, Default)]
struct Trace {
    /// Lane (tid) to its name, in the trace's order.
    lanes: BTreeMap<u64, String>,
    spans: Vec<Span>,
    arrows: Vec<Arrow>,
    marks: Vec<Mark>,
}

impl Trace {
    fn parse(text: &str) -> Result<Trace> {
        let json: Value = serde_json::from_str(text)
            .map_err(|e| format!("not JSON ({e}); is this a goro trace file?"))?;
        if json["otherData"]["generator"] != "goro" {
            return Err(
                "not a goro trace (its otherData.generator is not \"goro\"); record \
                        one with GORO_TRACE=trace.json or Runtime::builder().trace(path)"
                    .into(),
            );
        }
        let events = json["traceEvents"]
            .as_array()
            .ok_or("the trace has no traceEvents array: the file is cut short or not a trace")?;
        let mut t = Trace::default();
        let mut flows: HashMap<(String, u64), FlowEnds> = HashMap::new();
        for e in events {
            let tid = e["tid"].as_u64().unwrap_or(0);
            let ts = e["ts"].as_f64().unwrap_or(0.0);
            let name = e["name"].as_str().unwrap_or("");
            let cat = e["cat"].as_str().unwrap_or("");
            match e["ph"].as_str().unwrap_or("") {
                "M" if name == "thread_name" => {
                    let n = e["args"]["name"].as_str().unwrap_or("?").to_string();
                    t.lanes.insert(tid, n);
                }
                "X" if cat == "task" || cat == "idle" => t.spans.push(Span {
                    lane: tid,
                    ts,
                    dur: e["dur"].as_f64().unwrap_or(0.0),
                    label: name.to_string(),
                    goid: e["args"]["goid"].as_u64().unwrap_or(0),
                    end: e["args"]["end"].as_str().unwrap_or("").to_string(),
                    idle: cat == "idle",
                }),
                "s" | "f" => {
                    let id = e["id"].as_u64().unwrap_or(0);
                    let slot = flows.entry((cat.to_string(), id)).or_default();
                    if e["ph"] == "s" {
                        slot.0 = Some((tid, ts));
                    } else {
                        slot.1 = Some((tid, ts));
                    }
                }
                "i" if cat == "steal" || cat == "preempt" || cat == "syscall" => {
                    t.marks.push(Mark {
                        lane: tid,
                        ts,
                        text: name.to_string(),
                    })
                }
                _ => {}
            }
        }
        let mut flows: Vec<_> = flows.into_iter().collect();
        flows.sort_by(|a, b| a.0.cmp(&b.0));
        for ((cat, _), (s, f)) in flows {
            if let (Some(from), Some(to)) = (s, f) {
                t.arrows.push(Arrow {
                    from,
                    to,
                    spawn: cat == "spawn",
                });
            }
        }
        // Only lanes something happened on, and every worker lane.
        let used: std::collections::HashSet<u64> = t
            .spans
            .iter()
            .map(|s| s.lane)
            .chain(t.marks.iter().map(|m| m.lane))
            .chain(t.arrows.iter().flat_map(|a| [a.from.0, a.to.0]))
            .collect();
        t.lanes
            .retain(|tid, name| name.starts_with("worker ") || used.contains(tid));
        if t.lanes.is_empty() {
            return Err("the trace names no worker (no thread_name metadata events)".into());
        }
        Ok(t)
    }
}

struct Options {
    from_ms: Option<f64>,
    to_ms: Option<f64>,
    window_ms: Option<f64>,
    title: String,
    width: u32,
}

const PALETTE: [&str; 12] = [
    "#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7",
    "#9c755f", "#86bc86", "#d37295", "#a0cbe8",
];

fn colour(goid: u64) -> &'static str {
    PALETTE[(goid as usize) % PALETTE.len()]
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A round step for about `n` ticks over `span` ms.
fn tick_step(span: f64, n: f64) -> f64 {
    let raw = (span / n).max(1e-9);
    let mag = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag)
}

fn render(t: &Trace, o: &Options) -> Result<String> {
    let runs: Vec<&Span> = t.spans.iter().filter(|s| !s.idle).collect();
    if runs.is_empty() {
        return Err("the trace has no task runs to draw (was the run empty?)".into());
    }
    let first = runs.iter().map(|s| s.ts).fold(f64::INFINITY, f64::min);
    let last = runs.iter().map(|s| s.ts + s.dur).fold(0.0, f64::max);
    // Window, in µs of the file.
    let from = o.from_ms.map_or(first, |ms| ms * 1000.0);
    let to = match (o.to_ms, o.window_ms) {
        (Some(ms), _) => ms * 1000.0,
        (None, Some(w)) => from + w * 1000.0,
        (None, None) => last,
    };
    if to <= from {
        return Err(format!(
            "the window is empty: it ends ({:.3} ms) before it starts ({:.3} ms); the trace's \
             task runs span {:.3}..{:.3} ms",
            to / 1000.0,
            from / 1000.0,
            first / 1000.0,
            last / 1000.0
        )
        .into());
    }
    let lanes: Vec<(u64, &String)> = t.lanes.iter().map(|(k, v)| (*k, v)).collect();
    let lane_of: HashMap<u64, usize> = lanes.iter().enumerate().map(|(i, l)| (l.0, i)).collect();
    let width = o.width.max(300) as f64;
    let (left, right, top, lane_h, gap) = (92.0, 16.0, 44.0, 30.0, 10.0);
    let plot_w = width - left - right;
    let x = |ts: f64| left + (ts - from) / (to - from) * plot_w;
    let lane_y = |i: usize| top + i as f64 * (lane_h + gap);
    let axis_y = lane_y(lanes.len()) + 4.0;
    // Legend: tasks seen in the window, in id order, at most 12.
    let mut tasks: BTreeMap<u64, String> = BTreeMap::new();
    for s in &runs {
        if s.ts + s.dur >= from && s.ts <= to {
            tasks.entry(s.goid).or_insert_with(|| s.label.clone());
        }
    }
    // Legend columns: as many as the longest label lets fit (about 6.2 px a character at
    // 11 px; 31 characters is the longest fixed item).
    let longest = tasks
        .values()
        .map(|l| l.chars().count())
        .chain([31])
        .max()
        .unwrap_or(31) as f64;
    let legend_col_w = longest * 6.2 + 34.0;
    let legend_cols = ((plot_w / legend_col_w).floor() as usize).clamp(1, 4);
    let legend_rows = (tasks.len().min(12) + 4).div_ceil(legend_cols);
    let height = axis_y + 40.0 + legend_rows as f64 * 18.0 + 10.0;
    // The title shrinks to fit the width (about 0.6 em a character).
    let title_size = (width - left - 8.0) / (o.title.chars().count().max(1) as f64 * 0.6);
    let title_size = title_size.clamp(9.0, 15.0);
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">"#
    );
    svg.push_str(
        r##"<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#222"/></marker><marker id="arrow-spawn" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#888"/></marker><pattern id="idle" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="#f4f4f4"/><line x1="0" y1="0" x2="0" y2="6" stroke="#ccc" stroke-width="2"/></pattern><clipPath id="plot"><rect x="92" y="0" width=""##,
    );
    let _ = writeln!(svg, "{plot_w}\" height=\"{height}\"/></clipPath></defs>");
    let _ = writeln!(
        svg,
        r#"<rect width="{width}" height="{height}" fill="white"/><text x="{left}" y="22" font-size="{title_size:.1}" font-weight="bold">{}</text>"#,
        esc(&o.title)
    );
    for (i, (_, name)) in lanes.iter().enumerate() {
        let y = lane_y(i);
        let _ = writeln!(
            svg,
            r##"<g class="lane"><rect x="{left}" y="{y}" width="{plot_w}" height="{lane_h}" fill="#fafafa" stroke="#ddd"/><text x="{}" y="{}" text-anchor="end">{}</text></g>"##,
            left - 8.0,
            y + lane_h / 2.0 + 4.0,
            esc(name)
        );
    }
    svg.push_str("<g clip-path=\"url(#plot)\">\n");
    for s in &t.spans {
        let Some(&li) = lane_of.get(&s.lane) else {
            continue;
        };
        if s.ts + s.dur < from || s.ts > to {
            continue;
        }
        let (x0, x1) = (x(s.ts.max(from)), x((s.ts + s.dur).min(to)));
        let w = (x1 - x0).max(1.0);
        let y = lane_y(li) + 3.0;
        let h = lane_h - 6.0;
        if s.idle {
            let _ = writeln!(
                svg,
                r#"<rect class="idle" x="{x0:.2}" y="{y}" width="{w:.2}" height="{h}" fill="url(#idle)"><title>idle (asleep)</title></rect>"#
            );
            continue;
        }
        let _ = write!(
            svg,
            r##"<rect class="span" x="{x0:.2}" y="{y}" width="{w:.2}" height="{h}" fill="{}" stroke="#333" stroke-width="0.5"><title>{} on {}: {:.1} µs, then {}</title></rect>"##,
            colour(s.goid),
            esc(&s.label),
            esc(lanes[li].1),
            s.dur,
            esc(&s.end)
        );
        let short = s.label.split(' ').next().unwrap_or("");
        if w > short.len() as f64 * 6.5 + 4.0 {
            let _ = write!(
                svg,
                r#"<text x="{:.2}" y="{}" text-anchor="middle" fill="white">{}</text>"#,
                x0 + w / 2.0,
                y + h / 2.0 + 4.0,
                esc(short)
            );
        }
        svg.push('\n');
    }
    for m in &t.marks {
        let Some(&li) = lane_of.get(&m.lane) else {
            continue;
        };
        if m.ts < from || m.ts > to {
            continue;
        }
        let (mx, my) = (x(m.ts), lane_y(li));
        let _ = writeln!(
            svg,
            r##"<path class="mark" d="M{:.2},{:.2} l-5,-8 h10 z" fill="#c00"><title>{}</title></path>"##,
            mx,
            my + 1.0,
            esc(&m.text)
        );
    }
    for a in &t.arrows {
        let (Some(&l0), Some(&l1)) = (lane_of.get(&a.from.0), lane_of.get(&a.to.0)) else {
            continue;
        };
        if a.to.1 < from || a.from.1 > to {
            continue;
        }
        let (x0, x1) = (x(a.from.1), x(a.to.1));
        let (y0, y1) = (lane_y(l0) + lane_h / 2.0, lane_y(l1) + lane_h / 2.0);
        // Same lane: a little arc over the lane, so it does not hide the spans.
        let path = if l0 == l1 {
            let lift = lane_h / 2.0 + 6.0;
            format!(
                "M{x0:.2},{:.2} C{x0:.2},{:.2} {x1:.2},{:.2} {x1:.2},{:.2}",
                y0 - lane_h / 2.0 + 3.0,
                y0 - lift,
                y1 - lift,
                y1 - lane_h / 2.0 + 3.0
            )
        } else {
            format!("M{x0:.2},{y0:.2} L{x1:.2},{y1:.2}")
        };
        let (class, stroke, marker, dash) = if a.spawn {
            (
                "arrow spawn",
                "#888",
                "arrow-spawn",
                " stroke-dasharray=\"3,2\"",
            )
        } else {
            ("arrow wake", "#222", "arrow", "")
        };
        let _ = writeln!(
            svg,
            r#"<path class="{class}" d="{path}" fill="none" stroke="{stroke}" stroke-width="1"{dash} marker-end="url(#{marker})"/>"#
        );
    }
    svg.push_str("</g>\n");
    // Time axis, in ms from the start of the trace.
    let span_ms = (to - from) / 1000.0;
    let step = tick_step(span_ms, 8.0);
    let _ = writeln!(
        svg,
        r##"<line x1="{left}" y1="{axis_y}" x2="{}" y2="{axis_y}" stroke="#333"/>"##,
        left + plot_w
    );
    let mut tick = (from / 1000.0 / step).ceil() * step;
    let decimals = if step >= 1.0 {
        0
    } else {
        (-step.log10().floor()) as usize
    };
    while tick <= to / 1000.0 + 1e-9 {
        let tx = x(tick * 1000.0);
        let _ = writeln!(
            svg,
            r##"<line x1="{tx:.2}" y1="{axis_y}" x2="{tx:.2}" y2="{}" stroke="#333"/><text x="{tx:.2}" y="{}" text-anchor="middle">{tick:.decimals$}</text>"##,
            axis_y + 4.0,
            axis_y + 16.0
        );
        tick += step;
    }
    let _ = writeln!(
        svg,
        r#"<text x="{}" y="{}" text-anchor="end">ms</text>"#,
        left + plot_w,
        axis_y + 30.0
    );
    // Legend.
    let mut items: Vec<String> = Vec::new();
    for (goid, label) in tasks.iter().take(12) {
        items.push(format!(
            r##"<rect width="12" height="10" fill="{}" stroke="#333" stroke-width="0.5"/><text x="16" y="9">{}</text>"##,
            colour(*goid),
            esc(label)
        ));
    }
    items.push(r##"<path d="M0,5 h18" stroke="#222" marker-end="url(#arrow)"/><text x="24" y="9">wakeup (unpark)</text>"##.into());
    items.push(r##"<path d="M0,5 h18" stroke="#888" stroke-dasharray="3,2" marker-end="url(#arrow-spawn)"/><text x="24" y="9">spawn → first run</text>"##.into());
    items.push(r##"<rect width="12" height="10" fill="url(#idle)" stroke="#ccc"/><text x="16" y="9">idle (worker asleep)</text>"##.into());
    items.push(r##"<path d="M6,10 l-5,-8 h10 z" fill="#c00"/><text x="16" y="9">steal / preempt / blocking call</text>"##.into());
    let (col_w, cols) = (legend_col_w, legend_cols);
    let legend_y = axis_y + 40.0;
    for (i, item) in items.iter().enumerate() {
        let lx = left + (i % cols) as f64 * col_w;
        let ly = legend_y + (i / cols) as f64 * 18.0;
        let _ = writeln!(
            svg,
            r#"<g class="legend" transform="translate({lx:.1},{ly:.1})">{item}</g>"#
        );
    }
    svg.push_str("</svg>\n");
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURE: &str = r#"{"otherData":{"generator":"goro","workers":2},"traceEvents":[
{"name":"thread_name","ph":"M","ts":0,"pid":1,"tid":0,"args":{"name":"worker 0"}},
{"name":"thread_name","ph":"M","ts":0,"pid":1,"tid":1,"args":{"name":"worker 1"}},
{"name":"G1 main","cat":"task","ph":"X","ts":10,"dur":40,"pid":1,"tid":0,"args":{"goid":1,"end":"park: chan receive"}},
{"name":"wake","cat":"wake","ph":"s","id":1,"ts":30,"pid":1,"tid":0},
{"name":"G2","cat":"task","ph":"X","ts":60,"dur":30,"pid":1,"tid":1,"args":{"goid":2,"end":"exit"}},
{"name":"wake","cat":"wake","ph":"f","id":1,"ts":60,"pid":1,"tid":1,"bp":"e"},
{"name":"steal 1 from worker 0","cat":"steal","ph":"i","s":"t","ts":58,"pid":1,"tid":1,"args":{}},
{"name":"idle","cat":"idle","ph":"X","ts":0,"dur":58,"pid":1,"tid":1,"args":{}}
]}"#;

    #[test]
    fn a_trace_becomes_lanes_spans_and_arrows() {
        let t = Trace::parse(FIXTURE).unwrap();
        let o = Options {
            from_ms: None,
            to_ms: None,
            window_ms: None,
            title: "fixture <1>".into(),
            width: 800,
        };
        let svg = render(&t, &o).unwrap();
        assert_eq!(svg.matches("<g class=\"lane\">").count(), 2);
        assert!(svg.contains(">worker 0</text>") && svg.contains(">worker 1</text>"));
        assert_eq!(svg.matches("class=\"span\"").count(), 2);
        assert_eq!(svg.matches("class=\"arrow wake\"").count(), 1);
        assert_eq!(svg.matches("class=\"mark\"").count(), 1);
        assert_eq!(svg.matches("class=\"idle\"").count(), 1);
        assert!(svg.contains("fixture &lt;1&gt;"), "the title is escaped");
        assert!(svg.contains(">ms</text>"), "a time axis");
        assert!(
            svg.contains(">G1 main</text>"),
            "the legend names the tasks"
        );
    }

    #[test]
    fn a_window_crops_what_is_drawn() {
        let t = Trace::parse(FIXTURE).unwrap();
        let o = Options {
            from_ms: Some(0.055),
            to_ms: Some(0.1),
            window_ms: None,
            title: "w".into(),
            width: 800,
        };
        let svg = render(&t, &o).unwrap();
        assert_eq!(
            svg.matches("class=\"span\"").count(),
            1,
            "only G2 is in the window"
        );
        let o = Options {
            from_ms: Some(0.1),
            to_ms: Some(0.05),
            ..o
        };
        let err = render(&t, &o).unwrap_err().to_string();
        assert!(err.contains("window is empty"), "{err}");
    }

    #[test]
    fn other_files_are_refused_with_a_reason() {
        let err = Trace::parse("{\"traceEvents\":[]}")
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a goro trace"), "{err}");
        let err = Trace::parse("<svg/>").unwrap_err().to_string();
        assert!(err.contains("not JSON"), "{err}");
        let args = TraceArgs {
            command: TraceCommand::Render {
                trace: PathBuf::from("/nonexistent/goro-trace.json"),
                out: std::env::temp_dir().join("goro-never-written.svg"),
                from: None,
                to: None,
                window: None,
                title: None,
                width: 800,
            },
        };
        let err = run(&args).unwrap_err().to_string();
        assert!(
            err.contains("cannot read the trace /nonexistent/goro-trace.json"),
            "{err}"
        );
        assert!(
            err.contains("GORO_TRACE="),
            "the error says how to get a trace: {err}"
        );
    }
}
