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
    let deadline = goro::time::after(TIMEOUT);
    goro::select! {
        recv(reply) -> msg => match msg {
            Ok(receipt) => ledger.record(&payment, receipt),
            Err(_) => ledger.record(&payment, "gateway hung up"),
        },
        recv(deadline) => ledger.record(&payment, format_args!("timed out after {TIMEOUT:?}")),
    }
}
// ANCHOR_END: handle
