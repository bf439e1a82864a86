//! Lesson 15: a network server.
//!
//! Seed 000's route manager (seed 000 is the study document on Go's execution model that the
//! course starts from; the book's introduction lists the seeds), served over TCP: a goroutine per connection on goro's netpoller,
//! a bounded pool of workers fed by a buffered queue (a full queue answers `BUSY`), a
//! periodic cleanup task, workers that recover from a panicking update, and a
//! `shutdown(timeout)` that must stop all of it. You edit `src/server.rs`.
//!
//! The rest is given: [`routes`] is the service itself (the line protocol, the route table,
//! and a [`Gate`] that tests use to hold updates in flight); [`Config`] and [`Leaked`] are the
//! types `Server` takes and returns.
//!
//! The protocol, one request per line, one reply line each:
//!
//! ```text
//! ADD <vrf> <prefix> <next-hop>   OK added 1:10.0.0.0/24 via 192.168.1.1
//! DEL <vrf> <prefix>              OK deleted 1:10.0.0.0/24        (or ERR no route ...)
//! GET <vrf> <prefix>              OK 1:10.0.0.0/24 via 192.168.1.1 (or ERR no route ...)
//! anything else                   ERR bad request: ...
//! ```
//!
//! and from the server itself: `BUSY try again later` when the queue is full, `ERR internal
//! error` when an update panicked, `ERR shutting down` for a request read after shutdown began.

use std::fmt;
use std::time::Duration;

pub mod routes;
pub mod server;

pub use routes::{Gate, Request, Service};
pub use server::Server;

/// How big the server is and how often it cleans up.
#[derive(Clone, Debug)]
pub struct Config {
    /// Worker tasks that apply updates (at least 1).
    pub workers: usize,
    /// Requests that may wait in the queue for a worker; one more gets `BUSY`.
    pub queue: usize,
    /// How often the cleanup task calls [`Service::cleanup`].
    pub cleanup_every: Duration,
}

impl Default for Config {
    /// Seed 000's sizes: 4 workers; a queue of 1,000; a cleanup every 30 s.
    fn default() -> Config {
        Config {
            workers: 4,
            queue: 1000,
            cleanup_every: Duration::from_secs(30),
        }
    }
}

/// What [`Server::shutdown`] returns when its timeout passed with some of the server's tasks
/// still alive (Go's seed says only "some goroutines may be leaked"; this says which).
#[derive(Debug)]
pub struct Leaked {
    /// How many of the server's tasks (acceptor, connections, workers, cleanup) were alive.
    pub tasks: usize,
    /// `goro::debug::dump()` at that moment: every live task and what it waits for.
    pub dump: String,
}

impl fmt::Display for Leaked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "shutdown timed out with {} of the server's tasks still alive:\n{}",
            self.tasks, self.dump
        )
    }
}

impl std::error::Error for Leaked {}

/// The reply to a request that arrives while every worker is busy and the queue is full.
pub const BUSY: &str = "BUSY try again later";
/// The reply to a request whose update panicked in a worker.
pub const INTERNAL: &str = "ERR internal error";
/// The reply to a request read after shutdown began.
pub const SHUTTING_DOWN: &str = "ERR shutting down";
