//! The route manager's work, without any of its concurrency. This file is given.
//!
//! [`Service::parse`] turns a request line into a [`Request`] (and counts it: tests use the
//! count to know a request has reached the server), [`Service::apply`] applies one to the
//! route table and says what to answer, [`Service::cleanup`] is the periodic job. A prefix
//! with a length over 32 (`10.0.0.0/33`) makes `apply` panic, as code does when an
//! assumption breaks (lesson 10); the server must survive it.
//!
//! [`Gate`] lets a test hold every update in flight: while it is held, `apply` waits in it
//! (parked on a channel receive, as a handler stuck on a slow dependency would be).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use goro::chan::{self, Receiver, Sender};

/// One parsed request line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    /// `ADD <vrf> <prefix> <next-hop>`: route `prefix` in `vrf` via `next_hop`.
    Add {
        /// The routing table (VRF) the route belongs to.
        vrf: u32,
        /// Destination network, `a.b.c.d/len`.
        prefix: String,
        /// Address to forward to.
        next_hop: String,
    },
    /// `DEL <vrf> <prefix>`: remove the route.
    Del {
        /// The routing table.
        vrf: u32,
        /// Destination network.
        prefix: String,
    },
    /// `GET <vrf> <prefix>`: look the route up.
    Get {
        /// The routing table.
        vrf: u32,
        /// Destination network.
        prefix: String,
    },
}

/// The route manager's state, shared by every task of the server (`Arc<Service>`).
#[derive(Default)]
pub struct Service {
    routes: Mutex<BTreeMap<String, String>>,
    received: AtomicUsize,
    applied: AtomicUsize,
    cleanups: AtomicUsize,
    gate: Gate,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Service {
    /// An empty route table, its gate open.
    pub fn new() -> Arc<Service> {
        Arc::new(Service::default())
    }

    /// Parses one request line (without its newline) and counts it as received.
    ///
    /// # Errors
    /// The reply for a line that is not a request (`ERR bad request: ...`).
    pub fn parse(&self, line: &str) -> Result<Request, String> {
        self.received.fetch_add(1, Ordering::SeqCst);
        let words: Vec<&str> = line.split_whitespace().collect();
        let vrf = |w: &str| {
            w.parse::<u32>()
                .map_err(|_| format!("ERR bad request: vrf `{w}` is not a number"))
        };
        match words.as_slice() {
            ["ADD", v, prefix, next_hop] => Ok(Request::Add {
                vrf: vrf(v)?,
                prefix: prefix.to_string(),
                next_hop: next_hop.to_string(),
            }),
            ["DEL", v, prefix] => Ok(Request::Del {
                vrf: vrf(v)?,
                prefix: prefix.to_string(),
            }),
            ["GET", v, prefix] => Ok(Request::Get {
                vrf: vrf(v)?,
                prefix: prefix.to_string(),
            }),
            _ => Err(format!(
                "ERR bad request: `{line}` (expected ADD vrf prefix next-hop, DEL vrf prefix or \
                 GET vrf prefix)"
            )),
        }
    }

    /// Applies `req` and returns the reply line (without its newline). Waits while the
    /// [`Gate`] is held.
    ///
    /// # Panics
    /// On a prefix length over 32: a malformed route that got past validation.
    pub fn apply(&self, req: Request) -> String {
        self.gate.pass();
        let key = |vrf: u32, prefix: &str| {
            let len: u32 = prefix
                .rsplit_once('/')
                .and_then(|(_, l)| l.parse().ok())
                .unwrap_or(32);
            assert!(len <= 32, "prefix length {len} > 32 in {prefix}");
            format!("{vrf}:{prefix}")
        };
        let reply = match req {
            Request::Add {
                vrf,
                prefix,
                next_hop,
            } => {
                let k = key(vrf, &prefix);
                let reply = format!("OK added {k} via {next_hop}");
                lock(&self.routes).insert(k, next_hop);
                reply
            }
            Request::Del { vrf, prefix } => {
                let k = key(vrf, &prefix);
                match lock(&self.routes).remove(&k) {
                    Some(_) => format!("OK deleted {k}"),
                    None => format!("ERR no route {k}"),
                }
            }
            Request::Get { vrf, prefix } => {
                let k = key(vrf, &prefix);
                match lock(&self.routes).get(&k) {
                    Some(nh) => format!("OK {k} via {nh}"),
                    None => format!("ERR no route {k}"),
                }
            }
        };
        self.applied.fetch_add(1, Ordering::SeqCst);
        reply
    }

    /// The periodic job (seed 000's `cleanup`: it looks at the table). Counts its runs.
    pub fn cleanup(&self) -> usize {
        let n = lock(&self.routes).len();
        self.cleanups.fetch_add(1, Ordering::SeqCst);
        n
    }

    /// Request lines parsed so far (bad ones included).
    pub fn received(&self) -> usize {
        self.received.load(Ordering::SeqCst)
    }

    /// Requests applied without panicking so far.
    pub fn applied(&self) -> usize {
        self.applied.load(Ordering::SeqCst)
    }

    /// How often [`cleanup`](Service::cleanup) ran.
    pub fn cleanups(&self) -> usize {
        self.cleanups.load(Ordering::SeqCst)
    }

    /// A copy of the route table: `"vrf:prefix"` to next hop.
    pub fn routes(&self) -> BTreeMap<String, String> {
        lock(&self.routes).clone()
    }

    /// The gate every update passes.
    pub fn gate(&self) -> &Gate {
        &self.gate
    }
}

/// Holds updates in [`Service::apply`] until released: a slow dependency, under the test's
/// control.
#[derive(Default)]
pub struct Gate {
    held: Mutex<Option<(Sender<()>, Receiver<()>)>>,
    waiting: AtomicUsize,
}

impl Gate {
    /// From now on, every update waits in the gate until [`release`](Gate::release).
    pub fn hold(&self) {
        let mut held = lock(&self.held);
        if held.is_none() {
            *held = Some(chan::bounded(0));
        }
    }

    /// Lets every waiting update (and every later one) through.
    pub fn release(&self) {
        // Dropping the only Sender closes the channel: every receiver wakes.
        lock(&self.held).take();
    }

    /// How many updates are waiting in the gate right now.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::SeqCst)
    }

    fn pass(&self) {
        let rx = lock(&self.held).as_ref().map(|(_, rx)| rx.clone());
        if let Some(rx) = rx {
            self.waiting.fetch_add(1, Ordering::SeqCst);
            struct Left<'a>(&'a AtomicUsize);
            impl Drop for Left<'_> {
                fn drop(&mut self) {
                    self.0.fetch_sub(1, Ordering::SeqCst);
                }
            }
            let _left = Left(&self.waiting);
            let _ = rx.recv(); // closed by release()
        }
    }
}
