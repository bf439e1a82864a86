//! The work: route updates applied to a shared route table. This file is given.
//!
//! Two kinds of update panic when applied, as real code does when an assumption breaks:
//! a malformed prefix (`10.0.5.0/33`) panics every time, and a next hop marked flaky panics on
//! the first attempt at each update and works on the next (a neighbour that was slow to answer).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};

/// A route change: send traffic for `prefix` to `next_hop`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Update {
    /// Identifies the update in reports.
    pub id: u32,
    /// Destination network, `a.b.c.d/len`.
    pub prefix: String,
    /// Address of the router to forward to.
    pub next_hop: String,
}

impl Update {
    /// A route update.
    pub fn new(id: u32, prefix: &str, next_hop: &str) -> Update {
        Update {
            id,
            prefix: prefix.to_owned(),
            next_hop: next_hop.to_owned(),
        }
    }
}

/// A route table shared by every worker. Cloning it gives another handle to the same table.
///
/// It also remembers every attempt at every update (and which task made it), so that tests can
/// count how often each update was tried and applied.
#[derive(Clone, Default)]
pub struct RouteTable {
    inner: Arc<Mutex<Inner>>,
}

#[derive(Default)]
struct Inner {
    routes: BTreeMap<String, String>,
    flaky: BTreeSet<String>,
    attempts: BTreeMap<u32, Vec<String>>,
    applied: BTreeMap<u32, u32>,
}

impl RouteTable {
    /// An empty table.
    pub fn new() -> RouteTable {
        RouteTable::default()
    }

    /// Marks `next_hop` as flaky: the first attempt at each update that uses it panics.
    pub fn with_flaky_next_hop(self, next_hop: &str) -> RouteTable {
        self.lock().flaky.insert(next_hop.to_owned());
        self
    }

    // The table is never locked while a panic can happen, so the lock is never poisoned; the
    // `into_inner` only makes sure a test failure elsewhere cannot hide the table's state.
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    // ANCHOR: apply
    /// Applies `update`, from a goro task. Panics if the prefix is malformed, and on the first
    /// attempt at an update whose next hop is flaky.
    pub fn apply(&self, update: &Update) {
        let task = goro::task::current();
        let attempt = {
            let mut table = self.lock();
            let attempts = table.attempts.entry(update.id).or_default();
            attempts.push(task.name().unwrap_or("(unnamed task)").to_owned());
            attempts.len()
        };
        goro::yield_now(); // the lookup below takes a while; other workers run meanwhile
        let len: u32 = match update.prefix.split_once('/') {
            Some((_, len)) => len.parse().unwrap_or(u32::MAX),
            None => u32::MAX,
        };
        if len > 32 {
            panic!("bad prefix {}: the length must be 0..=32", update.prefix);
        }
        if attempt == 1 && self.lock().flaky.contains(&update.next_hop) {
            panic!("next hop did not answer");
        }
        let mut table = self.lock();
        table
            .routes
            .insert(update.prefix.clone(), update.next_hop.clone());
        *table.applied.entry(update.id).or_default() += 1;
    }
    // ANCHOR_END: apply

    /// The names of the tasks that attempted update `id`, in order.
    pub fn attempts(&self, id: u32) -> Vec<String> {
        self.lock().attempts.get(&id).cloned().unwrap_or_default()
    }

    /// How many times update `id` was applied (it should be once, or zero if it failed).
    pub fn applied(&self, id: u32) -> u32 {
        self.lock().applied.get(&id).copied().unwrap_or(0)
    }

    /// The routes in the table, by prefix.
    pub fn routes(&self) -> BTreeMap<String, String> {
        self.lock().routes.clone()
    }
}
