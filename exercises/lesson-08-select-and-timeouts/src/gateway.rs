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

/// A remote payment API, simulated: a charge is a blocking call that may never return.
pub struct Gateway {
    script: HashMap<u32, Reply>,
    /// What became of each call, in the order it was decided.
    outcomes: Arc<Mutex<Vec<(u32, Outcome)>>>,
}

/// What became of one call, as the gateway saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The gateway answered (and, if it approved, charged the card).
    Answered,
    /// The caller aborted the call before the gateway answered: nothing was charged.
    Aborted,
}

/// The error of a call that was aborted before the gateway answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Aborted;

impl fmt::Display for Aborted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("aborted")
    }
}

impl Gateway {
    /// A gateway that answers payment `id` as `script` says; unlisted payments are approved
    /// after 50 ms.
    pub fn scripted(script: impl IntoIterator<Item = (u32, Reply)>) -> Arc<Gateway> {
        Arc::new(Gateway {
            script: script.into_iter().collect(),
            outcomes: Arc::default(),
        })
    }

    // ANCHOR: charge
    /// Starts a charge. Nothing waits yet: [`Call::wait`] blocks until the gateway answers,
    /// and [`Call::abort_handle`] gives a way to give up on the call from another task.
    pub fn charge(&self, payment: &Payment) -> Call {
        let (wake, woken) = chan::bounded(1);
        let call = Call {
            shared: Arc::new(Shared {
                payment: payment.id,
                outcomes: Arc::clone(&self.outcomes),
                state: Mutex::new(State::Pending),
                wake,
            }),
            woken,
        };
        let answer = match self.script.get(&payment.id).copied() {
            None => Some((Duration::from_millis(50), true)),
            Some(Reply::Approve(delay)) => Some((delay, true)),
            Some(Reply::Decline(delay)) => Some((delay, false)),
            Some(Reply::Hang) => None, // the connection stays open, and silent
        };
        if let Some((delay, approved)) = answer {
            let shared = Arc::clone(&call.shared);
            goro::task::Builder::new()
                .name(format!("gateway {}", payment.id))
                .spawn(move || {
                    goro::sleep(delay);
                    let receipt = Receipt {
                        payment: shared.payment,
                        approved,
                    };
                    shared.decide(State::Answered(receipt));
                })
                .expect("could not start a gateway task");
        }
        call
    }
    // ANCHOR_END: charge

    /// What became of every call so far, sorted by payment id.
    pub fn outcomes(&self) -> Vec<(u32, Outcome)> {
        let mut outcomes = self.outcomes.lock().unwrap().clone();
        outcomes.sort_unstable_by_key(|&(id, _)| id);
        outcomes
    }
}

// ANCHOR: call
/// One charge in flight. `wait` is a blocking call, like a request on a socket: it cannot be
/// put in a `select!`, and it returns only when the gateway answers or the call is aborted.
pub struct Call {
    shared: Arc<Shared>,
    woken: Receiver<()>,
}

/// Gives up on a [`Call`] from any task: [`Call::wait`] then returns `Err(Aborted)`, unless the
/// gateway answered first. Cheap to clone.
#[derive(Clone)]
pub struct Abort {
    shared: Arc<Shared>,
}

impl Call {
    /// Blocks until the gateway answers (`Ok`) or the call is aborted (`Err(Aborted)`): whichever
    /// happened first, and it is final. If the gateway never answers and nobody aborts, this
    /// never returns.
    pub fn wait(self) -> Result<Receipt, Aborted> {
        loop {
            match *self.shared.state.lock().unwrap() {
                State::Answered(ref receipt) => return Ok(receipt.clone()),
                State::Aborted => return Err(Aborted),
                State::Pending => {}
            }
            // Park until somebody decides; `self.shared` keeps a Sender, so this never fails.
            let _ = self.woken.recv();
        }
    }

    /// A handle that aborts this call.
    pub fn abort_handle(&self) -> Abort {
        Abort {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl Abort {
    /// Aborts the call if the gateway has not answered yet (then nothing is charged);
    /// does nothing if it has.
    pub fn abort(&self) {
        self.shared.decide(State::Aborted);
    }
}
// ANCHOR_END: call

/// The state of one call, shared by the caller, its abort handles and the gateway's side.
struct Shared {
    payment: u32,
    /// The gateway's record of outcomes.
    outcomes: Arc<Mutex<Vec<(u32, Outcome)>>>,
    state: Mutex<State>,
    /// One wake-up for `wait`, sent when the state is decided.
    wake: Sender<()>,
}

enum State {
    Pending,
    Answered(Receipt),
    Aborted,
}

impl Shared {
    /// The first decision wins: an answer after an abort is dropped (nothing charged), an abort
    /// after an answer does nothing.
    fn decide(&self, decision: State) {
        let mut state = self.state.lock().unwrap();
        if !matches!(*state, State::Pending) {
            return;
        }
        let outcome = match decision {
            State::Aborted => Outcome::Aborted,
            _ => Outcome::Answered,
        };
        *state = decision;
        drop(state);
        self.outcomes.lock().unwrap().push((self.payment, outcome));
        let _ = self.wake.try_send(());
    }
}
