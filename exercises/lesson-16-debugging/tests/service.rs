//! What the service answers, for a mix of payments that run at once: the fixes must not
//! change any of it (a timed-out charge still times out and moves no money; a refused
//! transfer moves none either).

mod common;

use std::fmt::Write;

use common::{ALICE, BOB, CAROL, DAVE};
use lesson_16_debugging::Card;

#[test]
fn every_payment_gets_its_answer() {
    let report = common::runtime(5)
        .block_on(|| {
            let service = common::open();
            // (what, handle): every payment runs in a task of its own, all at once.
            let mut payments = Vec::new();
            for n in 1..=10u32 {
                let s = service.clone();
                let what = format!("charge card {} for 10 into carol", 4000 + n);
                payments.push((
                    what,
                    goro::spawn(move || format!("{:?}", s.charge(CAROL, Card(4000 + n), 10))),
                ));
            }
            for (from, to, amount) in [
                (ALICE, BOB, 30),
                (ALICE, BOB, 40),
                (DAVE, BOB, 1500),
                (BOB, CAROL, 0),
                (DAVE, ALICE, 900),
                (ALICE, ALICE, 5),
            ] {
                let s = service.clone();
                let what = format!("transfer {amount} from {} to {}", s.name(from), s.name(to));
                payments.push((
                    what,
                    goro::spawn(move || format!("{:?}", s.transfer(from, to, amount))),
                ));
            }
            let mut report = String::new();
            for (what, handle) in payments {
                let answer = handle.join().expect("a payment task panicked");
                writeln!(report, "{what}: {answer}").unwrap();
            }
            for account in [ALICE, BOB, CAROL, DAVE] {
                writeln!(
                    report,
                    "{}: {}",
                    service.name(account),
                    service.balance(account)
                )
                .unwrap();
            }
            report
        })
        .unwrap();
    insta::assert_snapshot!(report);
}
