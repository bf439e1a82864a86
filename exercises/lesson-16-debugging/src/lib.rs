//! Lesson 16: a payment service with two bugs that no error message points at.
//!
//! The service moves money between accounts ([`Service::transfer`]) and charges cards through
//! an external [`Bank`] ([`Service::charge`]). Every payment it finishes is right. Some it
//! never finishes: two transfers can get stuck on each other while everything else carries on
//! (a partial deadlock), and some charges leave a task behind that nothing will ever end (a
//! slow leak). Find both from what `goro::debug::dump()` and `goro::debug::check_leaks` print,
//! and fix them in `src/service.rs`.

pub mod bank;
pub mod risk;
mod service;

pub use bank::{Bank, BankError, Card, Receipt};
pub use risk::{RISK_LIMIT, Risk};
pub use service::{CHARGE_TIMEOUT, Service};

/// An account's index in the list given to [`Service::open`].
pub type AccountId = usize;

/// Why a transfer did not happen. A refused transfer moves no money.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The payer and the payee are the same account.
    SameAccount,
    /// The risk service said no (see [`RISK_LIMIT`]).
    Risk,
    /// The payer's balance is smaller than the amount.
    Funds,
}

/// Why a charge did not happen. A failed charge moves no money.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChargeError {
    /// The bank declined the card.
    Declined,
    /// The bank did not answer within [`CHARGE_TIMEOUT`].
    TimedOut,
}
