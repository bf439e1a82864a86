//! The search: same answers, and a heartbeat that keeps beating on a one-worker runtime.

use goro::ctx::{self, Context};
use lesson_13_preemption_and_blocking::{Best, collatz_steps, search};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::Duration;

/// The numbers whose chain is longer than every smaller number's, with their chain lengths
/// (OEIS A006877), up to 50 million.
const RECORDS: &[(u64, u32)] = &[
    (1, 0),
    (2, 1),
    (3, 7),
    (6, 8),
    (7, 16),
    (9, 19),
    (18, 20),
    (25, 23),
    (27, 111),
    (54, 112),
    (73, 115),
    (97, 118),
    (129, 121),
    (171, 124),
    (231, 127),
    (313, 130),
    (327, 143),
    (649, 144),
    (703, 170),
    (871, 178),
    (1161, 181),
    (2223, 182),
    (2463, 208),
    (2919, 216),
    (3711, 237),
    (6171, 261),
    (10971, 267),
    (13255, 275),
    (17647, 278),
    (23529, 281),
    (26623, 307),
    (34239, 310),
    (35655, 323),
    (52527, 339),
    (77031, 350),
    (106239, 353),
    (142587, 374),
    (156159, 382),
    (216367, 385),
    (230631, 442),
    (410011, 448),
    (511935, 469),
    (626331, 508),
    (837799, 524),
    (1117065, 527),
    (1501353, 530),
    (1723519, 556),
    (2298025, 559),
    (3064033, 562),
    (3542887, 583),
    (3732423, 596),
    (5649499, 612),
    (6649279, 664),
    (8400511, 685),
    (11200681, 688),
    (14934241, 691),
    (15733191, 704),
    (31466382, 705),
    (36791535, 744),
];

/// What a correct search of `1..=checked` returns.
fn expected(checked: u64) -> Option<Best> {
    if checked > 50_000_000 {
        return None;
    }
    let &(n, steps) = RECORDS.iter().rev().find(|(n, _)| *n <= checked.max(1))?;
    Some(Best { n, steps, checked })
}

fn one_worker() -> goro::Runtime {
    goro::Runtime::builder()
        .workers(1)
        .build()
        .expect("a runtime with one worker")
}

#[test]
fn a_finished_search_finds_the_record() {
    let best = one_worker()
        .block_on(|| search(100_000, &Context::background()))
        .expect("the search panicked");
    assert_eq!(
        best,
        Best {
            n: 77_031,
            steps: 350,
            checked: 100_000
        },
        "search(100_000) must check every number and keep the first with the longest chain"
    );
}

#[test]
fn a_cancelled_search_reports_what_it_checked() {
    let best = one_worker()
        .block_on(|| {
            let (ctx, cancel) = ctx::with_cancel(&Context::background());
            cancel.cancel();
            search(1_000_000, &ctx)
        })
        .expect("the search panicked");
    assert!(
        best.checked < 1_000_000,
        "a search whose context is already cancelled must stop early, got {best:?}"
    );
    assert_eq!(
        Some(best),
        expected(best.checked),
        "the best of 1..={}",
        best.checked
    );
}

/// How many times the heartbeat beats before it cancels the search.
const BEATS: u64 = 5;

// ANCHOR: heartbeat
#[test]
fn the_heartbeat_beats_while_the_search_runs() {
    let gave_up = Arc::new(AtomicBool::new(false));
    let gave_up2 = gave_up.clone();
    let (beats_seen, best) = one_worker()
        .block_on(move || {
            // The search has no end of its own: the heartbeat cancels it after BEATS beats.
            let (outer, give_up) = ctx::with_cancel(&Context::background());
            let (ctx, cancel) = ctx::with_cancel(&outer);
            let beats = Arc::new(AtomicU64::new(0));
            let heartbeat = {
                let beats = beats.clone();
                goro::spawn(move || {
                    for _ in 0..BEATS {
                        beats.fetch_add(1, Ordering::SeqCst);
                        goro::yield_now();
                    }
                    cancel.cancel();
                })
            };
            // Only if the heartbeat never gets the worker: give up after 5 s, so that the
            // test fails with a message instead of hanging.
            let (finished, watch) = mpsc::channel::<()>();
            let watchdog = thread::spawn(move || {
                if let Err(RecvTimeoutError::Timeout) = watch.recv_timeout(Duration::from_secs(5)) {
                    gave_up2.store(true, Ordering::SeqCst);
                    give_up.cancel();
                }
            });

            let best = search(u64::MAX, &ctx);
            let beats_seen = beats.load(Ordering::SeqCst);

            drop(finished);
            watchdog.join().expect("the watchdog thread");
            heartbeat.join().expect("the heartbeat panicked");
            (beats_seen, best)
        })
        .expect("the search panicked");

    assert!(
        !gave_up.load(Ordering::SeqCst),
        "the heartbeat beat {beats_seen} times in 5 s, while the search held the only worker; \
         it needs {BEATS} beats to stop the search. Give the worker away from inside the loop, \
         or more often: each stretch between two checkpoints must take well under a second in \
         a debug build"
    );
    assert_eq!(
        beats_seen, BEATS,
        "the search returned before the heartbeat cancelled it"
    );
    assert!(
        best.checked >= 1_000 * BEATS,
        "the search checked only {} numbers while the heartbeat beat {BEATS} times: it gives \
         the worker away too often (a switch costs about as much as checking a number). \
         Check a chunk of numbers between two yield points",
        best.checked
    );
    match expected(best.checked) {
        Some(want) => assert_eq!(best, want, "the best of 1..={}", best.checked),
        None => assert_eq!(best.steps, collatz_steps(best.n), "{best:?}"),
    }
}
// ANCHOR_END: heartbeat
