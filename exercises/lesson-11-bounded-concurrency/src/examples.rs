//! The programs the lesson page shows, run by the tests against a [`Downstream`] that can
//! take 4 calls at once. Given; you do not edit it.

use goro::ctx::Context;

use crate::downstream::{Downstream, Overloaded};
use crate::group::Group;
use crate::semaphore::Semaphore;

// ANCHOR: unbounded
/// One task per request, as `for req := range requests { go handle(req) }` does in Go.
pub fn serve_unbounded(db: &Downstream, requests: u32) -> Vec<Result<u32, Overloaded>> {
    let handles: Vec<_> = (0..requests)
        .map(|request| {
            let db = db.clone();
            goro::spawn(move || db.query(request))
        })
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).collect()
}
// ANCHOR_END: unbounded

// ANCHOR: bounded
/// At most `limit` requests at once: the loop takes a permit *before* it starts a task, so a
/// request that has to wait is a number in a loop, not a parked goroutine with a stack.
pub fn serve_bounded(db: &Downstream, requests: u32, limit: usize) -> Vec<Result<u32, Overloaded>> {
    let sem = Semaphore::new(limit);
    let handles: Vec<_> = (0..requests)
        .map(|request| {
            let permit = sem.acquire(); // waits while `limit` tasks hold one
            let db = db.clone();
            goro::spawn(move || {
                let _permit = permit; // given back when the task ends: Go's `defer`
                db.query(request)
            })
        })
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).collect()
}
// ANCHOR_END: bounded

// ANCHOR: inside
/// The other common shape: every request gets its task at once, and each task waits for a
/// permit. It protects the downstream, but every waiting request is a goroutine.
pub fn serve_acquire_inside(
    db: &Downstream,
    requests: u32,
    limit: usize,
) -> Vec<Result<u32, Overloaded>> {
    let sem = Semaphore::new(limit);
    let handles: Vec<_> = (0..requests)
        .map(|request| {
            let (sem, db) = (sem.clone(), db.clone());
            goro::spawn(move || {
                let _permit = sem.acquire();
                db.query(request)
            })
        })
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).collect()
}
// ANCHOR_END: inside

// ANCHOR: lookup_all
/// Looks up every request with at most `limit` calls in flight; the answers come back in the
/// order of `requests`, or the first failure does and the calls still waiting are skipped.
pub fn lookup_all(db: &Downstream, requests: &[u32], limit: usize) -> Result<Vec<u32>, Overloaded> {
    let (mut group, _ctx) = Group::with_context(&Context::background(), limit);
    for &request in requests {
        let db = db.clone();
        group.spawn(move |ctx| {
            if ctx.is_cancelled() {
                return Err(Overloaded); // a call that failed already decided the answer
            }
            db.query(request)
        });
    }
    group.wait()
}
// ANCHOR_END: lookup_all
