//! Handling one payment. YOU EDIT THIS FILE.

use std::time::Duration;

use goro::chan;

use crate::gateway::{Aborted, Gateway, Payment};
use crate::processor::Ledger;

/// How long a handler waits for the gateway before giving up on a payment.
pub const TIMEOUT: Duration = Duration::from_secs(2);

// ANCHOR: handle
/// Charges `payment` through `gateway` and records the outcome in `ledger`.
pub fn handle(payment: Payment, gateway: &Gateway, ledger: &Ledger) {
    let call = gateway.charge(&payment);
    let abort = call.abort_handle();
    // The blocking call runs in a worker of its own; its one result comes back on a channel
    // with room for it, so the worker can always deliver it and end, whether or not anybody
    // is still listening.
    let (result_tx, result) = chan::bounded(1);
    goro::task::Builder::new()
        .name(format!("charge {}", payment.id))
        .spawn(move || {
            let _ = result_tx.send(call.wait());
        })
        .expect("could not start a worker");
    let outcome = goro::select! {
        recv(result) -> msg => msg.expect("the worker always sends its result"),
        recv(goro::time::after(TIMEOUT)) => {
            // Stop waiting, and stop the call too, or its worker waits forever instead of us.
            // The gateway may have answered in the meantime: the worker's result is the truth.
            abort.abort();
            result.recv().expect("the worker always sends its result")
        }
    };
    match outcome {
        Ok(receipt) => ledger.record(&payment, receipt),
        Err(Aborted) => ledger.record(&payment, format_args!("timed out after {TIMEOUT:?}")),
    }
}
// ANCHOR_END: handle
