//! A service behind ours (a database, a payment API) that can take only so many calls at
//! once; past that it answers "overloaded" at once, as a connection pool or a rate limiter
//! does. Given; you do not edit it.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The downstream's answer when more calls arrive than it has room for (HTTP's 503).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Overloaded;

impl fmt::Display for Overloaded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("503 overloaded")
    }
}

impl std::error::Error for Overloaded {}

/// A shared handle to the simulated service; clones talk to the same one.
#[derive(Clone, Debug)]
pub struct Downstream {
    capacity: usize,
    state: Arc<Mutex<State>>,
}

#[derive(Debug, Default)]
struct State {
    in_flight: usize,
    busiest: usize,
    answered: usize,
    rejected: usize,
    peak_goroutines: usize,
}

impl Downstream {
    /// A service that can work on `capacity` calls at once.
    pub fn new(capacity: usize) -> Downstream {
        Downstream {
            capacity,
            state: Arc::default(),
        }
    }

    /// How long the service takes to answer `request`: 10, 20 or 30 ms of goro's clock.
    pub fn cost(request: u32) -> Duration {
        Duration::from_millis(10 * (1 + u64::from(request % 3)))
    }

    /// Answers `request` with `request * 10` after [`Downstream::cost`], or with
    /// [`Overloaded`] at once if `capacity` calls are already in progress.
    ///
    /// # Errors
    /// [`Overloaded`] when the call finds the service full.
    pub fn query(&self, request: u32) -> Result<u32, Overloaded> {
        let goroutines = goro::num_goroutines();
        {
            let mut s = self.state.lock().unwrap();
            s.peak_goroutines = s.peak_goroutines.max(goroutines);
            if s.in_flight == self.capacity {
                s.rejected += 1;
                return Err(Overloaded);
            }
            s.in_flight += 1;
            s.busiest = s.busiest.max(s.in_flight);
        }
        goro::sleep(Downstream::cost(request));
        let mut s = self.state.lock().unwrap();
        s.in_flight -= 1;
        s.answered += 1;
        Ok(request * 10)
    }

    /// What the service saw, as one line: calls answered and rejected, the most calls it
    /// worked on at once, and the most goroutines alive in the program when a call came in.
    pub fn report(&self) -> String {
        let s = self.state.lock().unwrap();
        format!(
            "answered {}, rejected {}; busiest {} of {}; at most {} goroutines",
            s.answered, s.rejected, s.busiest, self.capacity, s.peak_goroutines
        )
    }
}
