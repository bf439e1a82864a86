//! The goroutine dump reads like Go's: for each task its wait reason in Go's words, how long it
//! has waited (`[chan receive, 5 minutes]`), the caller's line where it blocked, the stack it
//! touched, and who created it where. Run under deterministic mode, so the virtual clock makes
//! "5 minutes" instant and exact.

use std::time::Duration;

use goro::chan;
use goro::runtime::Builder;

/// Replaces what varies between builds: the pages of stack a task touched.
fn redact(dump: &str) -> String {
    dump.lines()
        .map(|line| match line.split_once("stack: ") {
            Some((indent, rest)) if rest.contains(" touched of ") => {
                let size = rest.rsplit(" of ").next().unwrap_or("");
                format!("{indent}stack: <touched> of {size}")
            }
            _ => line.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The location the caller's next line will have, with the column of a call at `col`.
macro_rules! here {
    ($offset:expr, $col:expr) => {
        format!("{}:{}:{}", file!(), line!() + $offset, $col)
    };
}

#[test]
fn a_leaked_task_and_a_deadlocked_pair_read_like_go() {
    let rt = Builder::new().deterministic(7).build().unwrap();
    let (dump, lines) = rt
        .block_on(|| {
            let mut lines = Vec::new();
            // A leak: nobody will ever send on `never`, yet its sender stays alive.
            let (keep, never) = chan::bounded::<u8>(0);
            lines.push(here!(4, 18)); // created
            lines.push(here!(4, 35)); // blocked
            goro::task::Builder::new()
                .name("leaked")
                .spawn(move || {
                    let _ = never.recv();
                })
                .unwrap();
            // A deadlocked pair: each waits to hear from the other first.
            let (to_a, from_b) = chan::bounded::<u8>(0);
            let (to_b, from_a) = chan::bounded::<u8>(0);
            lines.push(here!(4, 18)); // created
            lines.push(here!(4, 31)); // blocked
            goro::task::Builder::new()
                .name("ping")
                .spawn(move || {
                    if from_b.recv().is_ok() {
                        let _ = to_b.send(1);
                    }
                })
                .unwrap();
            lines.push(here!(2, 13)); // created
            lines.push(here!(2, 27)); // blocked
            goro::spawn(move || {
                if from_a.recv().is_ok() {
                    let _ = to_a.send(2);
                }
            });
            goro::sleep(Duration::from_secs(5 * 60)); // virtual: instant
            let dump = goro::debug::dump();
            drop(keep);
            (dump, lines)
        })
        .unwrap();
    let expected = format!(
        "\
goroutine 1 [running]:
    name: main
    stack: <touched> of 64 KiB
    created at {main}

goroutine 2 [chan receive, 5 minutes]:
    name: leaked
    blocked at {}
    stack: <touched> of 64 KiB
    created by goroutine 1 at {}

goroutine 3 [chan receive, 5 minutes]:
    name: ping
    blocked at {}
    stack: <touched> of 64 KiB
    created by goroutine 1 at {}

goroutine 4 [chan receive, 5 minutes]:
    blocked at {}
    stack: <touched> of 64 KiB
    created by goroutine 1 at {}",
        lines[1],
        lines[0],
        lines[3],
        lines[2],
        lines[5],
        lines[4],
        main = main_location(),
    );
    assert_eq!(redact(&dump), expected, "the dump was:\n{dump}");
}

/// Where `block_on` was called in the test above (its main task's spawn location).
fn main_location() -> String {
    // The only `.block_on(` call of this file; found by text so the test survives edits.
    let src = include_str!("dump.rs");
    let (before, _) = src.split_once("\n        .block_on(").unwrap();
    format!("{}:{}:10", file!(), before.lines().count() + 1)
}

#[test]
fn waits_under_a_minute_show_no_minutes_and_each_reason_has_gos_words() {
    let rt = Builder::new().deterministic(1).build().unwrap();
    let dump = rt
        .block_on(|| {
            let lock = std::sync::Arc::new(goro::sync::RwLock::new(()));
            let w = lock.write();
            let l = lock.clone();
            goro::spawn(move || drop(l.read()));
            goro::spawn(|| goro::select! {});
            goro::spawn(|| goro::sleep(Duration::from_secs(3600)));
            goro::sleep(Duration::from_secs(59));
            let dump = goro::debug::dump();
            drop(w);
            dump
        })
        .unwrap();
    assert!(dump.contains("goroutine 2 [sync.RWMutex.RLock]:"), "{dump}");
    assert!(dump.contains("goroutine 3 [select (no cases)]:"), "{dump}");
    assert!(dump.contains("goroutine 4 [sleep]:"), "{dump}");
    assert!(!dump.contains("minutes"), "{dump}");
}

/// Touches `kib` KiB of the task's stack (a frame that big, written to the end).
#[inline(never)]
fn use_stack(kib: usize) -> u8 {
    let mut buf = [0u8; 48 * 1024];
    let n = kib * 1024;
    for b in buf[..n].iter_mut().step_by(512) {
        *b = 1;
    }
    std::hint::black_box(&mut buf);
    buf[..n].iter().fold(0u8, |a, &b| a.wrapping_add(b))
}

#[test]
fn stats_and_dump_report_the_stack_each_task_touched() {
    let rt = Builder::new()
        .deterministic(5)
        .stack_size(256 * 1024)
        .build()
        .unwrap();
    let (stats, dump) = rt
        .block_on(|| {
            let (_keep, never) = chan::bounded::<()>(0);
            let rx = never.clone();
            goro::task::Builder::new()
                .name("deep")
                .spawn(move || {
                    std::hint::black_box(use_stack(44));
                    let _ = rx.recv();
                })
                .unwrap();
            goro::sleep(Duration::from_secs(1));
            (goro::debug::stats(), goro::debug::dump())
        })
        .unwrap();
    assert!(
        stats.stack_touched_max >= 44 * 1024,
        "a task wrote 44 KiB of its stack:\n{stats}"
    );
    assert!(
        stats.stack_touched_bytes >= stats.stack_touched_max,
        "{stats}"
    );
    assert_eq!(stats.stack_reserved_bytes, 2 * 256 * 1024, "{stats}");
    let deep = dump
        .split("\n\n")
        .find(|b| b.contains("name: deep"))
        .expect("the deep task is in the dump");
    let kib: usize = deep
        .split("stack: ")
        .nth(1)
        .and_then(|l| l.split(" KiB touched of 256 KiB").next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no stack line:\n{deep}"));
    assert!((44..256).contains(&kib), "{deep}");
}
