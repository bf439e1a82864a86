//! Handling one payment. YOU EDIT THIS FILE.

use std::time::Duration;

use crate::gateway::{Aborted, Gateway, Payment};
use crate::processor::Ledger;

/// How long a handler waits for the gateway before giving up on a payment.
pub const TIMEOUT: Duration = Duration::from_secs(2);

// ANCHOR: handle
/// Charges `payment` through `gateway` and records the outcome in `ledger`.
pub fn handle(payment: Payment, gateway: &Gateway, ledger: &Ledger) {
    let call = gateway.charge(&payment);
    // TODO(lesson): `wait` returns when the gateway answers, and the gateway may never answer:
    // then this handler waits forever, a leaked goroutine per hung request. Give up after
    // TIMEOUT and record "timed out after 2s", and make sure that nothing you start for it
    // outlives the payment, and that the ledger says what the gateway really did.
    match call.wait() {
        Ok(receipt) => ledger.record(&payment, receipt),
        Err(Aborted) => ledger.record(&payment, "aborted"),
    }
}
// ANCHOR_END: handle
