//! The payment service. YOU EDIT THIS FILE.
//!
//! The course's solution: transfers take the two accounts' locks in one global order (by
//! id), and a charge hands the bank a context that is cancelled when the charge gives up.

use std::sync::Arc;
use std::time::Duration;

use goro::chan;
use goro::ctx::{self, Context};
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
        // Every transfer locks the lower id first, whichever way the money goes: two
        // transfers can then never hold one account each while waiting for the other's.
        let (low, high) = (from.min(to), from.max(to));
        let mut low = self.accounts[low].lock();
        let mut high = self.accounts[high].lock();
        let (payer, payee) = if from < to {
            (&mut *low, &mut *high)
        } else {
            (&mut *high, &mut *low)
        };
        // Ask while holding both accounts, so nothing spends the payer's money meanwhile.
        if !self.risk.approve(from, amount) {
            return Err(Refused::Risk);
        }
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
        // The bank call stops waiting when the charge stops waiting: at the timeout, or when
        // this function returns (dropping `_cancel` cancels the context, Go's `defer cancel()`).
        let (ctx, _cancel) = ctx::with_timeout(&Context::background(), CHARGE_TIMEOUT);
        // One slot, so the bank call can always hand its answer over and end.
        let (answer, answered) = chan::bounded(1);
        let bank = self.bank.clone();
        goro::task::Builder::new()
            .name(format!("bank call, card {}", card.0))
            .spawn(move || {
                let _ = answer.send(bank.charge(&ctx, card, amount));
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
