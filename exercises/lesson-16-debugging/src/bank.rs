//! The card network the service charges cards through. Given: do not edit.
//!
//! It stands for an external system, and behaves like one: most calls are answered in
//! 200 ms, some take 5 s, and some are never answered at all, because the connection hangs.
//! Which one depends on the card number's last digit, so tests can choose:
//!
//! | last digit | the bank |
//! | --- | --- |
//! | 3 | declines the card after 200 ms |
//! | 7 | answers after 5 s |
//! | 9 | never answers |
//! | any other | approves after 200 ms |
//!
//! Like every well-behaved client library, [`Bank::charge`] takes a [`Context`] and gives up
//! as soon as it is cancelled. That is the only way to make it stop waiting.

use std::time::{Duration, Instant};

use goro::chan::{self, Receiver};
use goro::ctx::Context;

/// How long the bank takes to answer a normal call.
pub const FAST: Duration = Duration::from_millis(200);
/// How long the bank takes to answer a slow call.
pub const SLOW: Duration = Duration::from_secs(5);

/// A card number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Card(pub u32);

/// Proof that the bank took the money.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Receipt {
    /// The card charged.
    pub card: Card,
    /// The amount charged.
    pub amount: i64,
}

/// Why the bank did not charge the card.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BankError {
    /// The bank declined the card.
    Declined,
    /// The caller's context was cancelled (or its deadline passed) before the bank answered.
    Cancelled,
}

/// The bank's client. Cheap to share: wrap it in an `Arc`.
#[derive(Debug, Default)]
pub struct Bank;

impl Bank {
    /// A client for the bank.
    pub fn new() -> Bank {
        Bank
    }

    /// Charges `amount` to `card`. Waits for the bank's answer, however long that takes,
    /// unless `ctx` is cancelled first: then it returns [`BankError::Cancelled`] at once.
    pub fn charge(&self, ctx: &Context, card: Card, amount: i64) -> Result<Receipt, BankError> {
        let answer: Receiver<Instant> = match card.0 % 10 {
            7 => goro::time::after(SLOW),
            9 => chan::never(), // the connection hangs: no answer, ever
            _ => goro::time::after(FAST),
        };
        goro::select! {
            recv(answer) => {
                if card.0 % 10 == 3 {
                    Err(BankError::Declined)
                } else {
                    Ok(Receipt { card, amount })
                }
            },
            recv(ctx.done()) => Err(BankError::Cancelled),
        }
    }
}
