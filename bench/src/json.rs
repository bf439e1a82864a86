//! The one JSON shape the suite speaks: a flat object per line,
//! `{"workload": "...", "system": "goro|threads|go", "value": 12.3, "unit": "ns/op"}`,
//! with an optional `"workers"` number in a `--workers` sweep.
//!
//! Children (Rust and Go) print these lines; the harness parses them, and `--json` prints
//! the medians in the same shape. The format is this small on purpose, so a hand-written
//! reader is enough and the crate needs no JSON library.

use std::fmt::Write as _;

/// One measurement.
#[derive(Clone, Debug, PartialEq)]
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
    pub workers: Option<u64>,
}

impl Record {
    /// Serialises the record as one line of JSON (no trailing newline).
    pub fn to_json(&self) -> String {
        let mut out = String::from("{\"workload\": ");
        push_str(&mut out, &self.workload);
        out.push_str(", \"system\": ");
        push_str(&mut out, &self.system);
        // JSON has no NaN or infinity; a measurement never produces them, but be safe.
        let value = if self.value.is_finite() {
            self.value
        } else {
            0.0
        };
        let _ = write!(out, ", \"value\": {}", round(value));
        out.push_str(", \"unit\": ");
        push_str(&mut out, &self.unit);
        if let Some(w) = self.workers {
            let _ = write!(out, ", \"workers\": {w}");
        }
        out.push('}');
        out
    }

    /// Parses one line written by [`Record::to_json`] or by the Go twin.
    pub fn parse(line: &str) -> Result<Record, String> {
        let fields = parse_object(line)?;
        let mut workload = None;
        let mut system = None;
        let mut value = None;
        let mut unit = None;
        let mut workers = None;
        for (key, val) in fields {
            match (key.as_str(), val) {
                ("workload", Value::Str(s)) => workload = Some(s),
                ("system", Value::Str(s)) => system = Some(s),
                ("unit", Value::Str(s)) => unit = Some(s),
                ("value", Value::Num(n)) => value = Some(n),
                ("workers", Value::Num(n)) if n >= 0.0 && n.fract() == 0.0 => {
                    workers = Some(n as u64)
                }
                (k, v) => return Err(format!("unexpected field {k:?} = {v:?}")),
            }
        }
        let missing = |what: &str| format!("missing field \"{what}\"");
        Ok(Record {
            workload: workload.ok_or_else(|| missing("workload"))?,
            system: system.ok_or_else(|| missing("system"))?,
            value: value.ok_or_else(|| missing("value"))?,
            unit: unit.ok_or_else(|| missing("unit"))?,
            workers,
        })
    }
}

/// Rounds to at most 4 decimals so the output stays readable; integers print without `.0`.
fn round(v: f64) -> String {
    let r = (v * 10_000.0).round() / 10_000.0;
    if r.fract() == 0.0 && r.abs() < 1e15 {
        format!("{}", r as i64)
    } else {
        format!("{r}")
    }
}

fn push_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[derive(Debug)]
enum Value {
    Str(String),
    Num(f64),
}

fn parse_object(line: &str) -> Result<Vec<(String, Value)>, String> {
    let mut p = Parser {
        s: line.trim().as_bytes(),
        i: 0,
    };
    p.expect(b'{')?;
    let mut fields = Vec::new();
    p.ws();
    if p.peek() == Some(b'}') {
        p.i += 1;
    } else {
        loop {
            p.ws();
            let key = p.string()?;
            p.ws();
            p.expect(b':')?;
            p.ws();
            let val = match p.peek() {
                Some(b'"') => Value::Str(p.string()?),
                _ => Value::Num(p.number()?),
            };
            fields.push((key, val));
            p.ws();
            match p.next() {
                Some(b',') => continue,
                Some(b'}') => break,
                _ => return Err(format!("expected ',' or '}}' at byte {}", p.i)),
            }
        }
    }
    p.ws();
    if p.i != p.s.len() {
        return Err(format!("trailing text after the object at byte {}", p.i));
    }
    Ok(fields)
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }
    fn next(&mut self) -> Option<u8> {
        let c = self.peek();
        self.i += 1;
        c
    }
    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\r' | b'\n')) {
            self.i += 1;
        }
    }
    fn expect(&mut self, c: u8) -> Result<(), String> {
        if self.next() == Some(c) {
            Ok(())
        } else {
            Err(format!("expected '{}' at byte {}", c as char, self.i - 1))
        }
    }
    fn string(&mut self) -> Result<String, String> {
        self.expect(b'"')?;
        let mut out = Vec::new();
        loop {
            match self.next() {
                None => return Err("unterminated string".into()),
                Some(b'"') => break,
                Some(b'\\') => match self.next() {
                    Some(b'"') => out.push(b'"'),
                    Some(b'\\') => out.push(b'\\'),
                    Some(b'/') => out.push(b'/'),
                    Some(b'n') => out.push(b'\n'),
                    Some(b't') => out.push(b'\t'),
                    other => {
                        return Err(format!(
                            "unsupported escape '\\{}' in a string",
                            other.map(|c| c as char).unwrap_or(' ')
                        ));
                    }
                },
                Some(c) => out.push(c),
            }
        }
        String::from_utf8(out).map_err(|_| "string is not UTF-8".to_string())
    }
    fn number(&mut self) -> Result<f64, String> {
        let start = self.i;
        while matches!(
            self.peek(),
            Some(b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E')
        ) {
            self.i += 1;
        }
        let text = std::str::from_utf8(&self.s[start..self.i]).unwrap_or("");
        text.parse::<f64>()
            .map_err(|_| format!("expected a number at byte {start}, found {text:?}"))
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
            r#"{"workload": "park-memory", "system": "goro", "value": 4321.1235, "unit": "B/task"}"#
        );
        let back = Record::parse(&line).unwrap();
        assert_eq!(back.workload, "park-memory");
        assert!((back.value - 4321.1235).abs() < 1e-9);
    }

    #[test]
    fn parses_go_style_output_with_workers() {
        let r = Record::parse(
            r#"{"workload":"skynet","system":"go","value":1.03e3,"unit":"ms","workers":4}"#,
        )
        .unwrap();
        assert_eq!(r.system, "go");
        assert_eq!(r.value, 1030.0);
        assert_eq!(r.workers, Some(4));
    }

    #[test]
    fn rejects_bad_lines_with_a_reason() {
        assert!(Record::parse("hello").unwrap_err().contains("expected '{'"));
        assert!(
            Record::parse(r#"{"workload":"x","system":"go","unit":"ms"}"#)
                .unwrap_err()
                .contains("value")
        );
        assert!(
            Record::parse(r#"{"workload":"x","system":"go","value":"fast","unit":"ms"}"#).is_err()
        );
        assert!(Record::parse(r#"{"workload":"x"} extra"#).is_err());
    }

    #[test]
    fn escapes_strings() {
        let r = Record {
            workload: "a\"b".into(),
            system: "go".into(),
            value: 1.0,
            unit: "ms".into(),
            workers: Some(2),
        };
        let back = Record::parse(&r.to_json()).unwrap();
        assert_eq!(back, r);
    }
}
