//! Handling one payment. YOU EDIT THIS FILE.

use std::time::Duration;

use crate::gateway::{Gateway, Payment};
use crate::processor::Ledger;

/// How long a handler waits for the gateway before giving up on a payment.
pub const TIMEOUT: Duration = Duration::from_secs(2);

// ANCHOR: handle
/// Charges `payment` through `gateway` and records the outcome in `ledger`.
pub fn handle(payment: Payment, gateway: &Gateway, ledger: &Ledger) {
    let reply = gateway.charge(&payment);
    // TODO(lesson): the gateway may never answer, and then this handler waits forever: a
    // leaked goroutine per hung request. Wait for the reply OR for TIMEOUT to pass, whichever
    // comes first, and record "timed out after 2s" when the time runs out.
    match reply.recv() {
        Ok(receipt) => ledger.record(&payment, receipt),
        Err(_) => ledger.record(&payment, "gateway hung up"),
    }
}
// ANCHOR_END: handle
