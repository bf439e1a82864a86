//! A scripted payment gateway: it answers each charge after a delay, or never. Given.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use goro::chan::{self, Receiver, Sender};

/// A payment to charge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Payment {
    /// Identifies the payment in the ledger.
    pub id: u32,
    /// Amount in cents.
    pub cents: u64,
}

/// The gateway's answer to a charge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Receipt {
    /// Which payment this answers.
    pub payment: u32,
    /// Whether the card was charged.
    pub approved: bool,
}

impl fmt::Display for Receipt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.approved {
            "approved"
        } else {
            "declined"
        })
    }
}

/// How the gateway will answer a given payment.
#[derive(Clone, Copy, Debug)]
pub enum Reply {
    /// Approve after this long.
    Approve(Duration),
    /// Decline after this long.
    Decline(Duration),
    /// Never answer: the connection hangs, as remote services sometimes do.
    Hang,
}

/// A remote payment API, simulated: each charge gets its own reply channel.
pub struct Gateway {
    script: HashMap<u32, Reply>,
    /// Reply channels of requests that hang. Held, never used: the reply never comes, and the
    /// channel never closes either (the gateway still "has the connection open").
    hung: Mutex<Vec<Sender<Receipt>>>,
}

impl Gateway {
    /// A gateway that answers payment `id` as `script` says; unlisted payments are approved
    /// after 50 ms.
    pub fn scripted(script: impl IntoIterator<Item = (u32, Reply)>) -> Arc<Gateway> {
        Arc::new(Gateway {
            script: script.into_iter().collect(),
            hung: Mutex::new(Vec::new()),
        })
    }

    // ANCHOR: charge
    /// Sends a charge request; the answer arrives on the returned channel, some day.
    pub fn charge(&self, payment: &Payment) -> Receiver<Receipt> {
        // A buffer of one: the answer can always be delivered, even if nobody reads it any
        // more, so the gateway's side never blocks on a caller that gave up.
        let (tx, rx) = chan::bounded(1);
        let id = payment.id;
        match self.script.get(&id).copied() {
            None => answer_later(tx, id, Duration::from_millis(50), true),
            Some(Reply::Approve(delay)) => answer_later(tx, id, delay, true),
            Some(Reply::Decline(delay)) => answer_later(tx, id, delay, false),
            Some(Reply::Hang) => self.hung.lock().unwrap().push(tx),
        }
        rx
    }
    // ANCHOR_END: charge
}

/// The gateway's side of one request: wait `delay`, then answer.
fn answer_later(tx: Sender<Receipt>, payment: u32, delay: Duration, approved: bool) {
    goro::task::Builder::new()
        .name(format!("gateway reply {payment}"))
        .spawn(move || {
            goro::sleep(delay);
            // Err if the caller dropped its end: nobody is listening any more, and that is fine.
            let _ = tx.send(Receipt { payment, approved });
        })
        .expect("could not start a gateway task");
}
