//! The JSON the suite speaks, one flat object per line.
//!
//! - A result ([`Record`]): `{"workload": "...", "system": "goro", "value": 12.3, "unit":
//!   "ns/op"}`, with an optional `"workers"` number in a `--workers` sweep. Children (Rust and
//!   Go) print these; `--json` prints one per metric and system: the median of the runs.
//! - `--json` adds lines with a `"kind"` field (documented in bench/README.md):
//!   `"samples"` ([`Samples`]: every run's value in run order, so the pairs can be rebuilt),
//!   `"ratio"` ([`Ratio`]: the spread of a system's per-run ratio to Go, and goro's verdict),
//!   `"failed"` ([`Failed`]: a system that could not run a workload, and why).

use serde::{Deserialize, Serialize};

/// One measurement.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Record {
    /// Metric name, e.g. `"skynet"` or `"park-memory"`.
    pub workload: String,
    /// `"goro"`, `"go"` or `"threads"`.
    pub system: String,
    /// The number.
    pub value: f64,
    /// Its unit, e.g. `"ns/op"`.
    pub unit: String,
    /// Worker count, only in a `--workers` sweep.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workers: Option<u64>,
}

impl Record {
    /// Serialises the record as one line of JSON (no trailing newline). The value is rounded
    /// to 4 decimals: the runs differ far more than that.
    pub fn to_json(&self) -> String {
        let rounded = Record {
            value: (self.value * 10_000.0).round() / 10_000.0,
            ..self.clone()
        };
        serde_json::to_string(&rounded).expect("a Record always serialises")
    }

    /// Parses one line written by [`Record::to_json`] or by the Go twin.
    pub fn parse(line: &str) -> Result<Record, String> {
        serde_json::from_str(line).map_err(|e| e.to_string())
    }
}

/// Every run's value of one metric on one system, in run order (run i of every system ran
/// in the same round of the interleaved suite, so value i of two systems make a pair).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Samples {
    /// Always `"samples"`.
    pub kind: String,
    /// Metric name, as in [`Record`].
    pub workload: String,
    /// System name, as in [`Record`].
    pub system: String,
    /// Unit of the values.
    pub unit: String,
    /// One value per run that succeeded, in run order.
    pub values: Vec<f64>,
    /// Worker count, only in a `--workers` sweep.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workers: Option<u64>,
}

/// The spread of `system`'s per-run ratio to Go on one metric: run i of the system over run i
/// of Go, for the runs both finished. Written by `--json` for reading; the tables recompute
/// it from the samples.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ratio {
    /// Always `"ratio"`.
    pub kind: String,
    /// Metric name.
    pub workload: String,
    /// The system compared with Go.
    pub system: String,
    /// Smallest per-run ratio.
    pub min: f64,
    /// Median per-run ratio.
    pub median: f64,
    /// Largest per-run ratio.
    pub max: f64,
    /// Number of pairs.
    pub pairs: u64,
    /// goro's verdict on a target, e.g. `"met 5/5"` or `"missed 3/5"` (goro only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<String>,
}

/// A system that could not run a workload: the run that failed and the reason.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Failed {
    /// Always `"failed"`.
    pub kind: String,
    /// Workload name (not a metric: a failed run reports none of its metrics).
    pub workload: String,
    /// System name.
    pub system: String,
    /// 1-based run that failed; the suite does not run it again.
    pub run: u64,
    /// One line: why.
    pub reason: String,
    /// Worker count, only in a `--workers` sweep.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workers: Option<u64>,
}

/// Everything a saved `--json` run holds, sorted by line kind.
#[derive(Clone, Debug, Default)]
pub struct Saved {
    /// Medians (and, in old files, the only lines).
    pub records: Vec<Record>,
    /// Per-run values.
    pub samples: Vec<Samples>,
    /// Failures.
    pub failed: Vec<Failed>,
}

impl Saved {
    /// Sorts one line into its kind. `"ratio"` lines are skipped: they are recomputed.
    pub fn push_line(&mut self, line: &str) -> Result<(), String> {
        let value: serde_json::Value = serde_json::from_str(line).map_err(|e| e.to_string())?;
        match value.get("kind").and_then(|k| k.as_str()) {
            None => self.records.push(Record::parse(line)?),
            Some("samples") => self
                .samples
                .push(serde_json::from_value(value).map_err(|e| e.to_string())?),
            Some("failed") => self
                .failed
                .push(serde_json::from_value(value).map_err(|e| e.to_string())?),
            Some("ratio") => {}
            Some(other) => return Err(format!("unknown line kind {other:?}")),
        }
        Ok(())
    }
}

/// Serialises any of the line types on one line.
pub fn line<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("a result line always serialises")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let r = Record {
            workload: "park-memory".into(),
            system: "goro".into(),
            value: 4321.123456,
            unit: "B/task".into(),
            workers: None,
        };
        let line = r.to_json();
        assert_eq!(
            line,
            r#"{"workload":"park-memory","system":"goro","value":4321.1235,"unit":"B/task"}"#
        );
        let back = Record::parse(&line).unwrap();
        assert_eq!(back.workload, "park-memory");
        assert!((back.value - 4321.1235).abs() < 1e-9);
    }

    #[test]
    fn parses_go_style_output_with_workers() {
        let r = Record::parse(
            r#"{"workload": "skynet", "system": "go", "value": 1.03e3, "unit": "ms", "workers": 4}"#,
        )
        .unwrap();
        assert_eq!(r.system, "go");
        assert_eq!(r.value, 1030.0);
        assert_eq!(r.workers, Some(4));
    }

    #[test]
    fn saved_sorts_lines_by_kind() {
        let mut saved = Saved::default();
        for l in [
            r#"{"workload":"spawn","system":"goro","value":100,"unit":"ns/task"}"#,
            r#"{"kind":"samples","workload":"spawn","system":"goro","unit":"ns/task","values":[90,100,110]}"#,
            r#"{"kind":"ratio","workload":"spawn","system":"goro","min":0.2,"median":0.3,"max":0.4,"pairs":3}"#,
            r#"{"kind":"failed","workload":"park","system":"may","run":1,"reason":"ENOMEM"}"#,
        ] {
            saved.push_line(l).unwrap();
        }
        assert_eq!(saved.records.len(), 1);
        assert_eq!(saved.samples[0].values, [90.0, 100.0, 110.0]);
        assert_eq!(saved.failed[0].reason, "ENOMEM");
        assert!(
            saved
                .push_line(r#"{"kind":"colour","workload":"x"}"#)
                .unwrap_err()
                .contains("colour")
        );
        assert!(
            saved
                .push_line(r#"{"kind":"samples","workload":"x","system":"go","unit":"ms"}"#)
                .unwrap_err()
                .contains("values")
        );
    }

    #[test]
    fn rejects_bad_lines_with_a_reason() {
        assert!(Record::parse("hello").is_err());
        assert!(
            Record::parse(r#"{"workload":"x","system":"go","unit":"ms"}"#)
                .unwrap_err()
                .contains("value")
        );
        assert!(
            Record::parse(r#"{"workload":"x","system":"go","value":"fast","unit":"ms"}"#).is_err()
        );
        assert!(
            Record::parse(r#"{"workload":"x","system":"go","value":1,"unit":"ms","colour":1}"#)
                .unwrap_err()
                .contains("colour")
        );
    }
}
