//! A log shared by every task of the kitchen, stamped with goro's clock.

use std::fmt::Display;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// A shared, timestamped log. Cloning it gives another handle to the same lines.
#[derive(Clone)]
pub struct Log {
    start: Instant,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Log {
    /// Starts an empty log; its clock reads zero now.
    pub fn new() -> Log {
        Log {
            start: goro::time::now(),
            lines: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// Appends `"<ms since start>ms  <who>: <what>"`.
    pub fn say(&self, who: &str, what: impl Display) {
        let elapsed = goro::time::now().saturating_duration_since(self.start);
        let line = format!("{:>4}ms  {who}: {what}", elapsed.as_millis());
        self.lines.lock().unwrap().push(line);
    }

    /// Every line so far, in the order they were written.
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }
}

impl Default for Log {
    fn default() -> Log {
        Log::new()
    }
}
