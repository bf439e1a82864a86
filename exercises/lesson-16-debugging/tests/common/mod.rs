//! What the tests share: the accounts, the scenario with two transfers in opposite
//! directions, and helpers that pick the entries that matter out of a goroutine dump.
//!
//! Every wait is on goro's virtual clock (the runtimes are deterministic): "60 s" costs
//! nothing, and no test asserts how long anything took.

#![allow(dead_code)]

use std::panic::{AssertUnwindSafe, catch_unwind};
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
/// entries of the stuck tasks from `goro::debug::dump()`, then the rest of the dump.
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
    assert_eq!(
        (service.balance(ALICE), service.balance(BOB)),
        (490, 510),
        "alice paid bob 30 and bob paid alice 20"
    );
}
// ANCHOR_END: scenario

/// The failure of [`opposite_transfers`]: which transfers are stuck, where, and that the rest
/// of the service went on meanwhile.
fn stuck(names: &[&str], others: usize) -> ! {
    let dump = goro::debug::dump();
    let (stuck, rest): (Vec<&str>, Vec<&str>) = dump
        .split("\n\n")
        .map(str::trim_end)
        .filter(|e| !e.is_empty())
        .partition(|e| {
            names
                .iter()
                .any(|n| e.contains(&format!("    name: {n}\n")))
        });
    panic!(
        "{} did not finish within {} s (virtual), while the rest of the service went on: carol \
         paid dave {others} times meanwhile. The runtime reports no deadlock, because not every \
         task is asleep (this test's main task waits on a timer, and carol keeps paying): \
         a partial deadlock. The stuck tasks, from goro::debug::dump():\n\n{}\n\nThe rest of \
         the dump, the tasks that are not stuck:\n\n{}\n",
        names.join(" and "),
        TRANSFER_LIMIT.as_secs(),
        stuck.join("\n\n"),
        rest.join("\n\n"),
    )
}

/// Runs [`opposite_transfers`] on the schedule of `seed`; its panic message if it fails.
pub fn on_seed(seed: u64) -> Result<(), String> {
    let run = catch_unwind(AssertUnwindSafe(|| {
        runtime(seed).block_on(opposite_transfers)
    }));
    match run {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(payload) => Err(payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "the scenario panicked".to_string())),
    }
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
