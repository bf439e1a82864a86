//! The execution trace (`Builder::trace`): a small program runs with tracing on, and the file
//! it leaves is read back as JSON and checked against the trace-event format (every event has
//! `ph`, `ts`, `pid`, `tid`; a name per worker track; each flow start has its finish) and
//! against what the program did (how many tasks it spawned, parked and woke).

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use goro::chan;
use goro::runtime::Builder;
use goro::sync::WaitGroup;
use serde_json::Value;

/// A trace path of this test's own in the temporary directory.
fn temp_trace(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!(
        "goro-test-trace-{name}-{}.json",
        std::process::id()
    ))
}

fn read_trace(path: &PathBuf) -> Vec<Value> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("no trace at {}: {e}", path.display()));
    let _ = std::fs::remove_file(path);
    let json: Value = serde_json::from_str(&text).expect("the trace is valid JSON");
    assert_eq!(json["otherData"]["generator"], "goro");
    json["traceEvents"]
        .as_array()
        .expect("traceEvents is an array")
        .clone()
}

/// The format's rules that every trace must keep.
fn check_shape(events: &[Value], workers: u64) {
    let mut names = BTreeMap::new();
    let mut last_ts: HashMap<u64, f64> = HashMap::new();
    let mut flows: HashMap<(String, u64), (usize, usize)> = HashMap::new();
    for e in events {
        for key in ["ph", "ts", "pid", "tid"] {
            assert!(e.get(key).is_some(), "event without {key}: {e}");
        }
        let ph = e["ph"].as_str().unwrap();
        let tid = e["tid"].as_u64().expect("tid is a number");
        let ts = e["ts"].as_f64().expect("ts is a number");
        match ph {
            "M" => {
                if e["name"] == "thread_name" {
                    names.insert(tid, e["args"]["name"].as_str().unwrap().to_string());
                }
                continue;
            }
            "X" => assert!(e["dur"].as_f64().unwrap() >= 0.0, "negative duration: {e}"),
            "s" | "f" => {
                let key = (
                    e["cat"].as_str().unwrap().to_string(),
                    e["id"].as_u64().unwrap(),
                );
                let entry = flows.entry(key).or_default();
                if ph == "s" {
                    entry.0 += 1;
                } else {
                    entry.1 += 1;
                    assert_eq!(e["bp"], "e", "a flow finish binds to its enclosing slice");
                }
            }
            "i" => {}
            other => panic!("unexpected phase {other}: {e}"),
        }
        let last = last_ts.entry(tid).or_insert(0.0);
        assert!(ts >= *last, "timestamps go back on track {tid}: {e}");
        *last = ts;
    }
    for w in 0..workers {
        assert_eq!(
            names.get(&w),
            Some(&format!("worker {w}")),
            "worker {w} has no name"
        );
    }
    for (key, (s, f)) in &flows {
        assert_eq!(
            (*s, *f),
            (1, 1),
            "flow {key:?} has {s} starts and {f} finishes"
        );
    }
}

fn count(events: &[Value], pred: impl Fn(&Value) -> bool) -> usize {
    events.iter().filter(|e| pred(e)).count()
}

/// On one worker, N tasks each mark a wait group and block on an empty channel: with one worker
/// and no preemption each parks before main runs again. Main then sends to each (waking it),
/// and joins them all.
#[test]
fn a_traced_run_records_what_the_program_did() {
    const N: usize = 8;
    let path = temp_trace("counts");
    Builder::new()
        .workers(1)
        .trace(&path)
        .build()
        .unwrap()
        .block_on(|| {
            let wg = WaitGroup::new();
            let mut txs = Vec::new();
            let mut handles = Vec::new();
            for i in 0..N {
                let (tx, rx) = chan::bounded::<usize>(1);
                txs.push(tx);
                wg.add(1);
                let wg = wg.clone();
                handles.push(
                    goro::task::Builder::new()
                        .name(format!("child \"{i}\""))
                        .spawn(move || {
                            wg.done();
                            rx.recv().unwrap()
                        })
                        .unwrap(),
                );
            }
            wg.wait();
            for (i, tx) in txs.iter().enumerate() {
                tx.send(i).unwrap();
            }
            let sum: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
            assert_eq!(sum, N * (N - 1) / 2);
        })
        .unwrap();
    let events = read_trace(&path);
    check_shape(&events, 1);
    let instant = |cat: &'static str, prefix: &'static str| {
        move |e: &Value| {
            e["ph"] == "i" && e["cat"] == cat && e["name"].as_str().unwrap().starts_with(prefix)
        }
    };
    assert_eq!(
        count(&events, instant("spawn", "spawn")),
        N + 1,
        "main and N children"
    );
    assert_eq!(count(&events, instant("state", "exit")), N + 1);
    let children_parked = count(&events, |e| {
        e["ph"] == "i"
            && e["name"]
                .as_str()
                .unwrap()
                .starts_with("park: chan receive G")
    });
    assert_eq!(children_parked, N, "each child parked once on its channel");
    let woken_by_main = count(&events, |e| {
        e["ph"] == "i" && e["cat"] == "wake" && e["args"]["by"] == 1 && e["args"]["goid"] != 1
    });
    assert_eq!(woken_by_main, N, "main woke each child once");
    // Every park is undone by exactly one wakeup in a run where every task finishes.
    let parks = count(&events, |e| {
        e["ph"] == "i" && e["name"].as_str().unwrap().starts_with("park: ")
    });
    let wakes = count(&events, |e| e["ph"] == "i" && e["cat"] == "wake");
    assert_eq!(parks, wakes);
    // Task names are escaped and shown on their runs.
    assert!(
        events
            .iter()
            .any(|e| e["ph"] == "X" && e["name"] == "G2 child \"0\""),
        "a named task's runs carry its name"
    );
    // Each wakeup's arrow ends at the run it caused.
    let finishes = count(&events, |e| e["ph"] == "f" && e["cat"] == "wake");
    assert_eq!(finishes, wakes);
}

/// Several workers, work to steal, a blocking call and sleeps: the shape holds on every track,
/// and each worker that ran something has its slices on its own named track.
#[test]
fn a_busy_run_on_several_workers_keeps_the_format() {
    let path = temp_trace("busy");
    Builder::new()
        .workers(3)
        .trace(&path)
        .build()
        .unwrap()
        .block_on(|| {
            let handles: Vec<_> = (0..200u64)
                .map(|i| {
                    goro::spawn(move || {
                        let mut x = i;
                        for _ in 0..200 {
                            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
                        }
                        goro::yield_now();
                        x
                    })
                })
                .collect();
            let b = goro::task::blocking(|| 5);
            goro::sleep(std::time::Duration::from_millis(2));
            let sum: u64 = handles.into_iter().map(|h| h.join().unwrap() & 1).sum();
            sum as usize + b
        })
        .unwrap();
    let events = read_trace(&path);
    check_shape(&events, 3);
    assert_eq!(
        count(&events, |e| e["ph"] == "i" && e["cat"] == "spawn"),
        201
    );
    assert_eq!(
        count(&events, |e| e["ph"] == "i" && e["name"] == "blocking call"),
        1
    );
    assert!(count(&events, |e| e["ph"] == "X" && e["cat"] == "task") >= 201);
}

/// `GORO_TRACE` turns the trace on without the builder (checked in a child process, so the
/// variable does not leak into the other tests).
#[test]
fn the_environment_variable_turns_the_trace_on() {
    if std::env::var_os("GORO_TRACE_TEST_CHILD").is_some() {
        goro::run(|| goro::spawn(|| 1).join().unwrap());
        return;
    }
    let path = temp_trace("env");
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "the_environment_variable_turns_the_trace_on",
            "--nocapture",
        ])
        .env("GORO_TRACE_TEST_CHILD", "1")
        .env("GORO_TRACE", &path)
        .status()
        .unwrap();
    assert!(status.success());
    let events = read_trace(&path);
    check_shape(&events, 1);
    assert_eq!(count(&events, |e| e["ph"] == "i" && e["cat"] == "spawn"), 2);
}
