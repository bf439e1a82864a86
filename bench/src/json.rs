//! The one JSON shape the suite speaks: a flat object per line,
//! `{"workload": "...", "system": "goro|threads|go", "value": 12.3, "unit": "ns/op"}`,
//! with an optional `"workers"` number in a `--workers` sweep.
//!
//! Children (Rust and Go) print these lines; the harness parses them, and `--json` prints
//! the medians in the same shape.

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
