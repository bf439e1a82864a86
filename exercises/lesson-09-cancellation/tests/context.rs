//! The context itself: done closes once, err says why, cancellation flows down the tree, and
//! deadlines fire on goro's (virtual) clock.

use std::time::Duration;

use goro::sync::WaitGroup;
use lesson_09_cancellation::{
    Context, CtxError, run_deterministic, settle, with_cancel, with_deadline, with_timeout,
};

/// Whether `ctx.done()` is closed right now (a select with a default arm never waits).
fn is_done(ctx: &Context) -> bool {
    goro::select! {
        recv(ctx.done()) => true,
        default => false,
    }
}

#[test]
fn cancel_closes_done_and_records_why() {
    run_deterministic(0, || {
        let (ctx, cancel) = with_cancel(&Context::background());
        assert_eq!(ctx.err(), None, "a new context is live");
        assert!(!is_done(&ctx), "a live context's done() must not be ready");
        cancel.cancel();
        assert!(is_done(&ctx), "after cancel(), done() must be closed");
        assert_eq!(ctx.err(), Some(CtxError::Canceled), "err() after cancel()");
        cancel.cancel();
        assert_eq!(
            ctx.err(),
            Some(CtxError::Canceled),
            "cancelling twice changes nothing"
        );
        assert!(
            ctx.done().recv().is_err(),
            "done() carries no values; it closes"
        );
    });
}

#[test]
fn cancellation_flows_down_not_up() {
    run_deterministic(0, || {
        let (parent, cancel_parent) = with_cancel(&Context::background());
        let (child, cancel_child) = with_cancel(&parent);
        let (grandchild, _cancel_grandchild) = with_cancel(&child);
        let (sibling, _cancel_sibling) = with_cancel(&parent);

        cancel_child.cancel();
        assert_eq!(child.err(), Some(CtxError::Canceled), "the cancelled child");
        assert_eq!(
            grandchild.err(),
            Some(CtxError::Canceled),
            "cancelling a context cancels every context derived from it"
        );
        assert!(is_done(&grandchild), "and closes their done() channels");
        assert_eq!(
            parent.err(),
            None,
            "a child's cancel must not reach its parent"
        );
        assert_eq!(sibling.err(), None, "nor its siblings");

        cancel_parent.cancel();
        assert_eq!(
            sibling.err(),
            Some(CtxError::Canceled),
            "cancelling the parent reaches every child"
        );
        assert!(is_done(&sibling), "and closes their done() channels");

        let (late, _cancel_late) = with_cancel(&parent);
        assert_eq!(
            late.err(),
            Some(CtxError::Canceled),
            "a context derived from a cancelled one starts out cancelled"
        );
        assert!(is_done(&late), "its done() is closed from the start");
    });
}

#[test]
fn cancel_wakes_every_waiter() {
    let woken = run_deterministic(3, || {
        let (ctx, cancel) = with_cancel(&Context::background());
        let (child, _cancel_child) = with_cancel(&ctx);
        let wg = WaitGroup::new();
        let woken = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        for i in 0..10 {
            let (ctx, wg, woken) = (
                if i % 2 == 0 {
                    ctx.clone()
                } else {
                    child.clone()
                },
                wg.clone(),
                woken.clone(),
            );
            wg.add(1);
            goro::spawn(move || {
                let _ = ctx.done().recv();
                woken.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                wg.done();
            });
        }
        settle();
        cancel.cancel();
        wg.wait();
        woken.load(std::sync::atomic::Ordering::Relaxed)
    });
    assert_eq!(woken, 10, "every task parked on done() must wake");
}

#[test]
fn dropping_the_cancel_func_cancels() {
    run_deterministic(0, || {
        let ctx = {
            let (ctx, _cancel) = with_cancel(&Context::background());
            assert_eq!(ctx.err(), None, "live while its CancelFunc is alive");
            ctx
        }; // `_cancel` dropped here: Rust's `defer cancel()`
        assert_eq!(
            ctx.err(),
            Some(CtxError::Canceled),
            "dropping a CancelFunc must cancel its context"
        );
        let (at_once, _) = with_cancel(&Context::background());
        assert_eq!(
            at_once.err(),
            Some(CtxError::Canceled),
            "`let (ctx, _) = ...` drops the CancelFunc at once, and so cancels at once"
        );
    });
}

#[test]
fn timeout_fires_on_the_virtual_clock() {
    let (waited, err, deadline) = run_deterministic(1, || {
        let start = goro::time::now();
        let (ctx, _cancel) = with_timeout(&Context::background(), Duration::from_secs(2));
        let deadline = ctx.deadline().map(|d| d - start);
        assert_eq!(ctx.err(), None, "the deadline has not passed yet");
        let _ = ctx.done().recv();
        (goro::time::now() - start, ctx.err(), deadline)
    });
    assert_eq!(
        deadline,
        Some(Duration::from_secs(2)),
        "deadline() = now + timeout"
    );
    assert_eq!(
        waited,
        Duration::from_secs(2),
        "done() must close at the deadline"
    );
    assert_eq!(
        err,
        Some(CtxError::DeadlineExceeded),
        "err() after the deadline"
    );
}

#[test]
fn the_earlier_deadline_wins() {
    run_deterministic(2, || {
        let start = goro::time::now();
        let (parent, _p) = with_timeout(&Context::background(), Duration::from_secs(1));
        let (lazy, _l) = with_timeout(&parent, Duration::from_secs(5));
        let (eager, _e) = with_timeout(&parent, Duration::from_millis(300));
        let (plain, _c) = with_cancel(&parent);
        assert_eq!(
            lazy.deadline(),
            parent.deadline(),
            "a child cannot outlive its parent's deadline"
        );
        assert_eq!(
            plain.deadline(),
            parent.deadline(),
            "with_cancel keeps the parent's deadline"
        );
        assert_eq!(
            eager.deadline(),
            Some(start + Duration::from_millis(300)),
            "an earlier deadline of its own"
        );

        let _ = eager.done().recv();
        assert_eq!(
            goro::time::now() - start,
            Duration::from_millis(300),
            "the 300 ms child's done() closes at 300 ms"
        );
        assert_eq!(
            eager.err(),
            Some(CtxError::DeadlineExceeded),
            "err() after its deadline"
        );
        assert_eq!(
            parent.err(),
            None,
            "a child's deadline does not reach its parent"
        );

        let _ = lazy.done().recv();
        assert_eq!(
            goro::time::now() - start,
            Duration::from_secs(1),
            "the 5 s child of a 1 s parent ends at 1 s"
        );
        assert_eq!(
            lazy.err(),
            Some(CtxError::DeadlineExceeded),
            "the parent's deadline"
        );
        assert_eq!(
            plain.err(),
            Some(CtxError::DeadlineExceeded),
            "a with_cancel child of a parent whose deadline passed"
        );
    });
}

#[test]
fn deadline_in_the_past_is_exceeded_at_once() {
    run_deterministic(0, || {
        let (ctx, _cancel) = with_deadline(&Context::background(), goro::time::now());
        assert_eq!(
            ctx.err(),
            Some(CtxError::DeadlineExceeded),
            "a deadline that has already passed is exceeded at once"
        );
        assert!(is_done(&ctx), "and its done() is closed");
    });
}

#[test]
fn early_cancel_beats_the_deadline_and_leaves_nothing_behind() {
    let (err, left) = run_deterministic(4, || {
        let baseline = goro::num_goroutines();
        let (ctx, cancel) = with_timeout(&Context::background(), Duration::from_secs(10));
        goro::sleep(Duration::from_millis(100));
        cancel.cancel();
        settle();
        (ctx.err(), goro::num_goroutines() - baseline)
    });
    assert_eq!(
        err,
        Some(CtxError::Canceled),
        "cancelled before its deadline: Canceled"
    );
    assert_eq!(
        left, 0,
        "whatever waits for the deadline must stop when the context is cancelled first"
    );
}

/// Every task of a request holds a clone of its context: it must be able to cross to a task.
#[test]
fn a_context_can_cross_to_a_task() {
    fn crosses_tasks<T: Send + Sync + 'static>() {}
    crosses_tasks::<Context>();
    crosses_tasks::<lesson_09_cancellation::CancelFunc>();
}
