//! The risk service: one task that approves or refuses each transfer before money moves.
//! Given: do not edit.
//!
//! [`Risk::approve`] sends the question to the risk task and waits for its answer: a channel
//! round trip, so the asking task parks while it waits, and other tasks run meanwhile.

use goro::chan::{self, Sender};

use crate::AccountId;

/// The largest transfer the risk service approves.
pub const RISK_LIMIT: i64 = 1000;

/// One question to the risk task, with the channel its answer goes back on.
struct Question {
    amount: i64,
    answer: Sender<bool>,
}

/// A handle to the risk task. The task ends when the last handle is dropped.
#[derive(Debug, Clone)]
pub struct Risk {
    questions: Sender<Question>,
}

impl std::fmt::Debug for Question {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Question({})", self.amount)
    }
}

impl Risk {
    /// Starts the risk task, named `risk`. Call it from a goro task.
    ///
    /// # Panics
    /// If the task cannot be spawned.
    pub fn start() -> Risk {
        let (questions, asked) = chan::bounded::<Question>(0);
        goro::task::Builder::new()
            .name("risk")
            .spawn(move || {
                for q in asked {
                    let _ = q.answer.send(q.amount <= RISK_LIMIT);
                }
            })
            .expect("spawn the risk task");
        Risk { questions }
    }

    /// Asks whether `account` may pay `amount`, and waits for the answer.
    pub fn approve(&self, account: AccountId, amount: i64) -> bool {
        let _ = account; // the real service looks at the account's history; ours only at the amount
        let (answer, rx) = chan::bounded(1);
        if self.questions.send(Question { amount, answer }).is_err() {
            return false;
        }
        rx.recv().unwrap_or(false)
    }
}
