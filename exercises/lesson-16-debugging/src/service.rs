//! The payment service. YOU EDIT THIS FILE.
//!
//! As shipped, every payment it finishes is right, and two kinds of payment it never
//! finishes cleanly: see the lesson page, and let the tests' dumps show you where.

use std::sync::Arc;
use std::time::Duration;

use goro::chan;
use goro::ctx::Context;
use goro::sync::Mutex;

use crate::{AccountId, Bank, BankError, Card, ChargeError, Receipt, Refused, Risk};

/// How long a charge waits for the bank before it answers [`ChargeError::TimedOut`].
pub const CHARGE_TIMEOUT: Duration = Duration::from_secs(2);

/// One account's money.
#[derive(Debug)]
struct Account {
    balance: i64,
}

/// The payment service: accounts, the risk service, and a client for the bank.
#[derive(Debug)]
pub struct Service {
    names: Vec<String>,
    accounts: Vec<Mutex<Account>>,
    risk: Risk,
    bank: Arc<Bank>,
}

impl Service {
    /// Opens the accounts (a name and an opening balance each; an account's id is its index)
    /// and starts the risk service. Call it from a goro task.
    pub fn open(accounts: &[(&str, i64)]) -> Arc<Service> {
        Arc::new(Service {
            names: accounts.iter().map(|(n, _)| n.to_string()).collect(),
            accounts: accounts
                .iter()
                .map(|&(_, balance)| Mutex::new(Account { balance }))
                .collect(),
            risk: Risk::start(),
            bank: Arc::new(Bank::new()),
        })
    }

    /// The account's name.
    pub fn name(&self, account: AccountId) -> &str {
        &self.names[account]
    }

    /// The account's balance now.
    pub fn balance(&self, account: AccountId) -> i64 {
        self.accounts[account].lock().balance
    }

    // ANCHOR: transfer
    /// Moves `amount` from `from` to `to`, if the risk service approves and `from` has the
    /// money. Both balances change together or not at all.
    pub fn transfer(&self, from: AccountId, to: AccountId, amount: i64) -> Result<(), Refused> {
        if from == to {
            return Err(Refused::SameAccount);
        }
        let mut payer = self.accounts[from].lock();
        // Ask while holding the payer's account, so nothing spends its money meanwhile.
        if !self.risk.approve(from, amount) {
            return Err(Refused::Risk);
        }
        let mut payee = self.accounts[to].lock();
        if payer.balance < amount {
            return Err(Refused::Funds);
        }
        payer.balance -= amount;
        payee.balance += amount;
        Ok(())
    }
    // ANCHOR_END: transfer

    // ANCHOR: charge
    /// Charges `amount` to `card` through the bank and credits it to `account`, or answers
    /// [`ChargeError::TimedOut`] if the bank has not answered within [`CHARGE_TIMEOUT`].
    pub fn charge(
        &self,
        account: AccountId,
        card: Card,
        amount: i64,
    ) -> Result<Receipt, ChargeError> {
        // One slot, so the bank call can always hand its answer over and end.
        let (answer, answered) = chan::bounded(1);
        let bank = self.bank.clone();
        goro::task::Builder::new()
            .name(format!("bank call, card {}", card.0))
            .spawn(move || {
                let _ = answer.send(bank.charge(&Context::background(), card, amount));
            })
            .expect("spawn the bank call");
        let result = goro::select! {
            recv(answered) -> r => r.unwrap_or(Err(BankError::Cancelled)),
            recv(goro::time::after(CHARGE_TIMEOUT)) => Err(BankError::Cancelled),
        };
        match result {
            Ok(receipt) => {
                self.accounts[account].lock().balance += amount;
                Ok(receipt)
            }
            Err(BankError::Declined) => Err(ChargeError::Declined),
            Err(BankError::Cancelled) => Err(ChargeError::TimedOut),
        }
    }
    // ANCHOR_END: charge
}
