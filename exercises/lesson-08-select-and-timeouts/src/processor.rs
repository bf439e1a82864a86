//! The payment service: one handler task per payment, and a report a minute later. Given.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::gateway::{Gateway, Outcome, Payment};
use crate::payments::handle;

/// Where handlers write what happened to each payment, stamped with goro's clock.
#[derive(Clone)]
pub struct Ledger {
    start: Instant,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Ledger {
    /// An empty ledger whose clock reads zero now.
    pub fn new() -> Ledger {
        Ledger {
            start: goro::time::now(),
            lines: Arc::default(),
        }
    }

    /// Records `what` happened to `payment`.
    pub fn record(&self, payment: &Payment, what: impl fmt::Display) {
        let ms = goro::time::now()
            .saturating_duration_since(self.start)
            .as_millis();
        let line = format!(
            "{ms:>5}ms  payment {} ({} cents): {what}",
            payment.id, payment.cents
        );
        self.lines.lock().unwrap().push(line);
    }

    /// Every line so far, in the order they were written.
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }
}

impl Default for Ledger {
    fn default() -> Ledger {
        Ledger::new()
    }
}

/// What a batch left behind.
#[derive(Debug)]
pub struct Report {
    /// The ledger, in order.
    pub ledger: Vec<String>,
    /// Goroutines still alive a minute after the batch started, main not counted.
    pub leaked: usize,
    /// Those goroutines as a dump shows them: `goroutine N [wait reason] name`.
    pub stuck: Vec<String>,
    /// What the gateway did with each call that was decided, by payment id. A call that is
    /// neither answered nor aborted is still open, and missing here.
    pub gateway: Vec<(u32, Outcome)>,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for line in &self.ledger {
            writeln!(f, "{line}")?;
        }
        let calls: Vec<String> = self
            .gateway
            .iter()
            .map(|(id, outcome)| format!("{id} {outcome:?}"))
            .collect();
        writeln!(f, "gateway calls: {}", calls.join(", "))?;
        write!(f, "goroutines still alive after a minute: {}", self.leaked)?;
        for task in &self.stuck {
            write!(f, "\n    {task}")?;
        }
        Ok(())
    }
}

// ANCHOR: batch
/// Handles every payment in its own task, fire-and-forget, then looks again a minute later.
pub fn process_batch(payments: &[Payment], gateway: &Arc<Gateway>) -> Report {
    let ledger = Ledger::new();
    for &payment in payments {
        let (gateway, ledger) = (Arc::clone(gateway), ledger.clone());
        goro::task::Builder::new()
            .name(format!("payment {}", payment.id))
            .spawn(move || handle(payment, &gateway, &ledger))
            .expect("could not start a handler");
    }
    goro::sleep(Duration::from_secs(60));
    Report {
        ledger: ledger.lines(),
        leaked: goro::num_goroutines() - 1,
        stuck: stuck_goroutines(&goro::debug::dump()),
        gateway: gateway.outcomes(),
    }
}
// ANCHOR_END: batch

/// Every goroutine in a dump except main, one line each: `goroutine 4 [chan receive] payment 2`.
fn stuck_goroutines(dump: &str) -> Vec<String> {
    let mut stuck = Vec::new();
    for block in dump.split("\n\n") {
        let mut lines = block.lines();
        let Some(header) = lines.next() else { continue };
        if header.starts_with("goroutine 1 ") || header.trim().is_empty() {
            continue;
        }
        let header = header.trim_end_matches(':');
        let name = lines
            .find_map(|l| l.trim().strip_prefix("name: "))
            .unwrap_or("(unnamed)");
        stuck.push(format!("{header} {name}"));
    }
    stuck
}
