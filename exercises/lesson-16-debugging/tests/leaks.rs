//! Charges that time out must not leave tasks behind. The bank answers some calls late and
//! some never (see `src/bank.rs`); the service's answer to those is "timed out", and after
//! that nothing of the call may still be alive.

mod common;

use std::time::Duration;

use goro::debug::LeakCheck;
use lesson_16_debugging::{Card, ChargeError, Service};

/// Charges cards 4001, 4002, ... into Alice's account, one every 10 s (virtual), and returns
/// how many timed out.
fn charges(service: &Service, cards: std::ops::RangeInclusive<u32>) -> usize {
    let mut timed_out = 0;
    for n in cards {
        if service.charge(common::ALICE, Card(4000 + n), 10) == Err(ChargeError::TimedOut) {
            timed_out += 1;
        }
        goro::sleep(Duration::from_secs(10));
    }
    timed_out
}

// ANCHOR: leak_check
#[test]
fn charges_leave_no_task_behind() {
    let checked = common::runtime(1)
        .block_on(|| {
            let service = common::open(); // the risk task starts here, before the check
            LeakCheck::new().try_run(|| charges(&service, 1..=60))
        })
        .unwrap();
    match checked {
        Ok(timed_out) => assert_eq!(timed_out, 12, "cards ending in 7 or 9 time out"),
        Err(leaks) => panic!(
            "{} tasks were still alive after 60 charges (10 minutes, virtual) had been answered, \
             and stayed alive while the check waited for them. By where they wait:\n\n{}\n\n\
             The whole report:\n\n{leaks}",
            leaks.count,
            common::by_blocked_line(&leaks.dump)
        ),
    }
}
// ANCHOR_END: leak_check

#[test]
fn the_task_count_stays_flat() {
    let counts = common::runtime(2)
        .block_on(|| {
            let service = common::open();
            let mut counts = vec![goro::num_goroutines()];
            for batch in 0..3 {
                charges(&service, batch * 20 + 1..=batch * 20 + 20);
                counts.push(goro::num_goroutines());
            }
            counts
        })
        .unwrap();
    assert!(
        counts.iter().all(|&c| c == counts[0]),
        "goro::num_goroutines() before any charge, then after every 20 charges: {counts:?}. It \
         should stay at {} (the test's main task and the risk task): it grows with every charge \
         whose bank call never ends. tests/leaks.rs's other test shows where they wait.",
        counts[0]
    );
}
