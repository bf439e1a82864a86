//! Models of the park token (`task/state.rs`): `take_token`, `finish_park`, `claim_for_wake`,
//! `claim_parked` and `kill`, the words every wait in goro goes through.

use std::sync::atomic::Ordering;

use ::loom::sync::atomic::AtomicBool;
use ::loom::thread;
use std::sync::Arc;

use super::{Sched, check, expect_model_failure, task};
use crate::loom::mutation;
use crate::task::state::State;

/// One task waits for `wakers` conditions (a flag each), parking until all are set; each waker
/// sets its flag and unparks the task.
///
/// Checks rule 3 and rule 4 of the park token: **no lost wakeup** (a token that arrives
/// between the task's decision to park and the worker's `finish_park` makes the task run
/// again; otherwise loom finds the task parked forever, a deadlock), and **no double run**
/// (a park is claimed and queued by one waker at most, and never while the task is not
/// parked: [`Sched`] asserts both).
fn flags_model(wakers: usize) {
    let sched = Arc::new(Sched::new());
    let t = task(1);
    let flags: Arc<Vec<AtomicBool>> =
        Arc::new((0..wakers).map(|_| AtomicBool::new(false)).collect());
    let handles: Vec<_> = (0..wakers)
        .map(|i| {
            let (sched, t, flags) = (sched.clone(), t.clone(), flags.clone());
            thread::spawn(move || {
                flags[i].store(true, Ordering::Release);
                sched.unpark(&t);
            })
        })
        .collect();
    while !flags.iter().all(|f| f.load(Ordering::Acquire)) {
        sched.park(&t);
    }
    for h in handles {
        h.join().unwrap();
    }
    sched.assert_idle();
}

#[test]
fn loom_park_token_one_waker_never_loses_the_wakeup() {
    check("park token, 1 waker", 3, || flags_model(1));
}

#[test]
fn loom_park_token_two_wakers_queue_the_task_once() {
    check("park token, 2 wakers", 3, || flags_model(2));
}

/// The model must fail when the protocol is broken: with the mutation switched on,
/// `finish_park` parks the task although a token arrived (`crate::loom::mutation`), and loom
/// must find the interleaving where that token was the task's only wakeup (a deadlock). The
/// same model passes with the mutation off (`loom_park_token_one_waker_never_loses_the_wakeup`).
/// (Loom's "deadlock" panic message, printed while this test runs, is the expected catch.)
#[test]
fn loom_park_token_model_catches_a_finish_park_that_drops_the_token() {
    expect_model_failure(
        || {
            mutation::with_finish_park_ignoring_token(|| {
                check("park token, mutated", 3, || flags_model(1));
            })
        },
        "deadlock",
        "loom passed a finish_park that loses a token",
    );
}

/// A parked task, a waker and the shutdown canceller race to claim it.
///
/// Checks rule 4: **exactly one claim wins** (`claim_for_wake` or `claim_parked`), so the task
/// is queued or cancelled, never both and never neither.
#[test]
fn loom_park_token_a_parked_task_is_claimed_exactly_once() {
    check("park token, claim race", 3, || {
        let t = task(1);
        assert!(!t.st.take_token());
        assert!(t.st.finish_park(), "no token: the park holds");
        let t2 = t.clone();
        let waker = thread::spawn(move || t2.st.claim_for_wake());
        let cancelled = t.st.claim_parked();
        let woken = waker.join().unwrap();
        assert!(woken ^ cancelled, "woken: {woken}, cancelled: {cancelled}");
    });
}

/// A finishing task is killed while a waker unparks it.
///
/// Checks rule 5: **`DEAD` is final**: the unpark never claims the task (a running task is not
/// parked, and a dead one never is), and the task ends dead whichever came first.
#[test]
fn loom_park_token_a_dead_task_stays_dead() {
    check("park token, kill", 3, || {
        let t = task(1);
        let t2 = t.clone();
        let waker = thread::spawn(move || t2.st.claim_for_wake());
        t.st.kill();
        assert!(
            !waker.join().unwrap(),
            "a task that was never parked was claimed"
        );
        assert!(!t.st.claim_for_wake());
        assert_eq!(t.st.get(), State::Dead);
    });
}
