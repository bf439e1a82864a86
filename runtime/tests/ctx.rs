//! Contexts: cancellation down the tree, deadlines on the virtual clock, done() in select!.

use goro::chan;
use goro::ctx::{self, Context, CtxError};
use goro::runtime::Builder;
use std::time::Duration;

mod common;
use common::det;

#[test]
fn background_is_never_cancelled() {
    let bg = Context::background();
    assert_eq!(bg.err(), None);
    assert_eq!(bg.deadline(), None);
    assert!(bg.done().try_recv().unwrap_err() == chan::TryRecvError::Empty);
}

#[test]
fn cancel_closes_done_and_sets_err() {
    det(1, || {
        let (c, cancel) = ctx::with_cancel(&Context::background());
        assert_eq!(c.err(), None);
        let waiter = {
            let c = c.clone();
            goro::spawn(move || c.wait())
        };
        goro::yield_now();
        cancel.cancel();
        assert_eq!(waiter.join().unwrap(), CtxError::Canceled);
        assert_eq!(c.err(), Some(CtxError::Canceled));
        assert!(c.done().recv().is_err());
        cancel.cancel(); // idempotent
        assert_eq!(c.err().unwrap().to_string(), "context canceled");
    });
}

#[test]
fn children_are_cancelled_with_their_parent_not_the_reverse() {
    det(2, || {
        let (parent, cancel_parent) = ctx::with_cancel(&Context::background());
        let (child, cancel_child) = ctx::with_cancel(&parent);
        let (grandchild, _cancel_grandchild) = ctx::with_cancel(&child.with_value("k", 1u8));
        let (sibling, _cancel_sibling) = ctx::with_cancel(&parent);
        drop(cancel_child); // dropping a CancelFunc cancels, like `defer cancel()`
        assert_eq!(child.err(), Some(CtxError::Canceled));
        assert_eq!(grandchild.err(), Some(CtxError::Canceled));
        assert_eq!(
            parent.err(),
            None,
            "cancelling a child must not cancel its parent"
        );
        assert_eq!(sibling.err(), None);
        cancel_parent.cancel();
        assert_eq!(sibling.err(), Some(CtxError::Canceled));
    });
}

#[test]
fn child_of_a_cancelled_parent_starts_cancelled() {
    let (parent, cancel) = ctx::with_cancel(&Context::background());
    cancel.cancel();
    let (child, _c) = ctx::with_timeout(&parent, Duration::from_secs(5));
    assert_eq!(child.err(), Some(CtxError::Canceled));
}

#[test]
fn ten_second_timeout_on_the_virtual_clock() {
    det(3, || {
        let start = goro::time::now();
        let (c, _cancel) = ctx::with_timeout(&Context::background(), Duration::from_secs(10));
        assert_eq!(c.deadline(), Some(start + Duration::from_secs(10)));
        assert_eq!(c.wait(), CtxError::DeadlineExceeded);
        let waited = goro::time::now() - start;
        assert!(
            waited >= Duration::from_secs(10) && waited < Duration::from_secs(11),
            "{waited:?}"
        );
        assert_eq!(c.err().unwrap().to_string(), "context deadline exceeded");
    });
}

#[test]
fn deadline_propagates_to_children_and_the_earlier_deadline_wins() {
    det(4, || {
        let start = goro::time::now();
        let (parent, _p) = ctx::with_timeout(&Context::background(), Duration::from_secs(2));
        let (child, _c) = ctx::with_timeout(&parent, Duration::from_secs(60));
        assert_eq!(child.deadline(), parent.deadline());
        let (short, _s) = ctx::with_timeout(&parent, Duration::from_secs(1));
        assert_eq!(short.wait(), CtxError::DeadlineExceeded);
        assert_eq!(parent.err(), None);
        assert_eq!(child.wait(), CtxError::DeadlineExceeded);
        let waited = goro::time::now() - start;
        assert!(waited >= Duration::from_secs(2) && waited < Duration::from_secs(3));
    });
}

#[test]
fn cancel_before_the_deadline_reports_canceled_and_stops_the_timer() {
    det(5, || {
        let start = goro::time::now();
        let (c, cancel) = ctx::with_timeout(&Context::background(), Duration::from_secs(3600));
        cancel.cancel();
        assert_eq!(c.err(), Some(CtxError::Canceled));
        // The hour-long timer was cancelled: sleeping a second does not jump to it.
        goro::time::sleep(Duration::from_secs(1));
        assert!(goro::time::now() - start < Duration::from_secs(2));
    });
}

#[test]
fn done_in_select_stops_a_worker() {
    let processed = det(6, || {
        let (c, cancel) = ctx::with_cancel(&Context::background());
        let (jobs_tx, jobs) = chan::bounded::<u32>(0);
        let worker = goro::spawn(move || {
            let mut processed = 0;
            loop {
                goro::select! {
                    recv(c.done()) => return (processed, c.err()),
                    recv(jobs) -> j => { j.unwrap(); processed += 1 }
                }
            }
        });
        for j in 0..5 {
            jobs_tx.send(j).unwrap();
        }
        cancel.cancel();
        worker.join().unwrap()
    });
    assert_eq!(processed, (5, Some(CtxError::Canceled)));
}

/// The payment-processor leak of lesson 09, fixed: the slow call is abandoned after the
/// timeout and the waiting task does not leak.
#[test]
fn timeout_bounds_a_slow_call() {
    det(7, || {
        let (c, _cancel) = ctx::with_timeout(&Context::background(), Duration::from_millis(100));
        let (res_tx, res) = chan::bounded::<&str>(1);
        goro::spawn(move || {
            goro::time::sleep(Duration::from_secs(30)); // the hung external API
            let _ = res_tx.try_send("charged");
        });
        let outcome = goro::select! {
            recv(res) -> r => r.unwrap(),
            recv(c.done()) => "timed out",
        };
        assert_eq!(outcome, "timed out");
        assert_eq!(c.err(), Some(CtxError::DeadlineExceeded));
    });
}

#[test]
fn values_are_found_up_the_tree() {
    let root = Context::background().with_value("request-id", 42u64);
    let (child, _c) = ctx::with_cancel(&root);
    let leaf = child.with_value("user", "ana".to_string());
    assert_eq!(leaf.value::<u64>("request-id"), Some(&42));
    assert_eq!(
        leaf.value::<String>("user").map(String::as_str),
        Some("ana")
    );
    assert_eq!(leaf.value::<u32>("request-id"), None, "wrong type");
    assert_eq!(root.value::<String>("user"), None, "values do not flow up");
}

#[test]
fn timeouts_work_outside_a_runtime() {
    let (c, _cancel) = ctx::with_timeout(&Context::background(), Duration::from_millis(20));
    assert_eq!(c.wait(), CtxError::DeadlineExceeded);
}

/// Many tasks derive, wait on and cancel contexts while the root is cancelled concurrently:
/// every waiter wakes, and nothing deadlocks between a parent's and a child's locks.
#[test]
fn concurrent_derivation_and_cancellation() {
    let rt = Builder::new().workers(2).build().unwrap();
    let woken = rt
        .block_on(|| {
            let (root, cancel_root) = ctx::with_cancel(&Context::background());
            let handles: Vec<_> = (0..200)
                .map(|i| {
                    let root = root.clone();
                    goro::spawn(move || {
                        let (mid, _cancel_mid) = ctx::with_cancel(&root);
                        let (leaf, cancel_leaf) =
                            ctx::with_timeout(&mid, Duration::from_secs(3600));
                        if i % 3 == 0 {
                            drop(cancel_leaf); // some leaves go early, on their own
                            assert_eq!(leaf.wait(), CtxError::Canceled);
                            return 1;
                        }
                        goro::yield_now();
                        let err = leaf.wait();
                        drop(cancel_leaf);
                        assert_eq!(err, CtxError::Canceled);
                        1
                    })
                })
                .collect();
            goro::yield_now();
            cancel_root.cancel();
            handles.into_iter().map(|h| h.join().unwrap()).sum::<u32>()
        })
        .unwrap();
    assert_eq!(woken, 200);
}
