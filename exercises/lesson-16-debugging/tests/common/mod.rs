//! What the tests share: the accounts, the scenario with two transfers in opposite
//! directions, and helpers that pick the entries that matter out of a goroutine dump.
//!
//! Every wait is on goro's virtual clock (the runtimes are deterministic): "60 s" costs
//! nothing, and no test asserts how long anything took.

#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use goro::chan;
use goro::runtime::{Builder, Runtime};
use lesson_16_debugging::Service;

pub const ALICE: usize = 0;
pub const BOB: usize = 1;
pub const CAROL: usize = 2;
pub const DAVE: usize = 3;

/// How long (virtual) the two transfers get: each needs a fraction of a second.
pub const TRANSFER_LIMIT: Duration = Duration::from_secs(60);

/// A deterministic runtime: one worker, scheduling choices from `seed`, a virtual clock.
pub fn runtime(seed: u64) -> Runtime {
    Builder::new()
        .deterministic(seed)
        .build()
        .expect("a deterministic runtime")
}

/// Four accounts with 500 each.
pub fn open() -> Arc<Service> {
    Service::open(&[("alice", 500), ("bob", 500), ("carol", 500), ("dave", 500)])
}

// ANCHOR: scenario
/// Alice pays Bob 30 while Bob pays Alice 20, and Carol keeps paying Dave 1 a second. Both
/// transfers must finish within [`TRANSFER_LIMIT`]; if they do not, this panics with the
/// entries of the stuck tasks from `goro::debug::dump()` (and prints the whole dump).
pub fn opposite_transfers() {
    let service = open();
    // The rest of the service, which has nothing to do with Alice and Bob.
    let paid = Arc::new(AtomicUsize::new(0));
    let (s, p) = (service.clone(), paid.clone());
    goro::task::Builder::new()
        .name("carol pays dave")
        .spawn(move || {
            while s.transfer(CAROL, DAVE, 1).is_ok() {
                p.fetch_add(1, Ordering::SeqCst);
                goro::sleep(Duration::from_secs(1));
            }
        })
        .expect("spawn");
    // The two transfers that meet.
    let (done, finished) = chan::bounded::<&'static str>(2);
    for (name, from, to, amount) in [
        ("alice pays bob", ALICE, BOB, 30),
        ("bob pays alice", BOB, ALICE, 20),
    ] {
        let (s, done) = (service.clone(), done.clone());
        goro::task::Builder::new()
            .name(name)
            .spawn(move || {
                s.transfer(from, to, amount)
                    .unwrap_or_else(|e| panic!("{name}: refused ({e:?})"));
                let _ = done.send(name);
            })
            .expect("spawn");
    }
    drop(done);
    let limit = goro::time::after(TRANSFER_LIMIT);
    let mut names = vec!["alice pays bob", "bob pays alice"];
    while !names.is_empty() {
        goro::select! {
            recv(finished) -> name => {
                let name = name.expect("a transfer task ended without saying so");
                names.retain(|n| *n != name);
            },
            recv(limit) => stuck(&names, paid.load(Ordering::SeqCst)),
        }
    }
    // ANCHOR_END: scenario
    assert_eq!(
        (service.balance(ALICE), service.balance(BOB)),
        (490, 510),
        "alice paid bob 30 and bob paid alice 20"
    );
}

/// The failure of [`opposite_transfers`]: which transfers are stuck, where, and that the rest
/// of the service went on meanwhile.
fn stuck(names: &[&str], others: usize) -> ! {
    let dump = goro::debug::dump();
    eprintln!("the whole dump:\n\n{dump}\n");
    let entries: Vec<&str> = names.iter().filter_map(|n| entry_named(&dump, n)).collect();
    panic!(
        "{} did not finish within {} s (virtual), while the rest of the service went on: carol \
         paid dave {others} times meanwhile. The runtime reports no deadlock, because not every \
         task is asleep (this test's main task waits on a timer, carol's on her next second): \
         a partial deadlock. The stuck tasks, from goro::debug::dump():\n\n{}\n",
        names.join(" and "),
        TRANSFER_LIMIT.as_secs(),
        entries.join("\n\n"),
    )
}

/// The dump entry (`goroutine N [...]:` and its lines) of the task named `name`.
pub fn entry_named<'a>(dump: &'a str, name: &str) -> Option<&'a str> {
    let line = format!("    name: {name}\n");
    dump.split("\n\n")
        .find(|e| e.contains(&line) || e.ends_with(line.trim_end()))
        .map(str::trim_end)
}

/// Summarizes a leak report: how many tasks leaked, then one entry for each line they are
/// blocked at, with how many wait there.
pub fn by_blocked_line(dump: &str) -> String {
    let mut groups: Vec<(String, usize, &str)> = Vec::new();
    for entry in dump.split("\n\n").filter(|e| e.starts_with("goroutine ")) {
        let at = entry
            .lines()
            .find_map(|l| l.trim().strip_prefix("blocked at "))
            .unwrap_or("(not blocked)")
            .to_string();
        match groups.iter_mut().find(|g| g.0 == at) {
            Some(g) => g.1 += 1,
            None => groups.push((at, 1, entry.trim_end())),
        }
    }
    groups
        .iter()
        .map(|(at, n, entry)| format!("{n} blocked at {at}, the first of them:\n\n{entry}"))
        .collect::<Vec<_>>()
        .join("\n\n")
}
