//! Channel operations and `select!` (ready or parked) do not allocate: the wait nodes live on the parked
//! tasks' stacks. Counted with a global allocator; this file holds a single test so no other
//! test's allocations are counted.

use goro::chan;
use goro::runtime::Builder;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

struct Counting;

thread_local! {
    /// Allocations made by this thread (the test harness's own threads are not counted).
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

fn count() {
    // `try_with`: the slot may already be gone while a thread exits.
    let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
}

fn allocations() -> usize {
    ALLOCATIONS.with(Cell::get)
}

// SAFETY: forwards to the system allocator unchanged; only counts calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn steady_state_channel_operations_do_not_allocate() {
    let rt = Builder::new().deterministic(1).build().unwrap();
    let counted = rt
        .block_on(|| {
            let (ping_tx, ping_rx) = chan::bounded::<u64>(0);
            let (pong_tx, pong_rx) = chan::bounded::<u64>(0);
            let (buf_tx, buf_rx) = chan::bounded::<u64>(4);
            let (closed_tx, closed) = chan::bounded::<u64>(0);
            drop(closed_tx);
            let quiet = chan::never::<u64>();
            let echo = goro::spawn(move || {
                for v in ping_rx.iter() {
                    pong_tx.send(v + 1).unwrap();
                }
            });
            let round = |i: u64| {
                // Rendezvous: both sides park and wake each other.
                ping_tx.send(i).unwrap();
                assert_eq!(pong_rx.recv(), Ok(i + 1));
                // A select that parks on two channels until the echo answers.
                ping_tx.send(i).unwrap();
                let answer = goro::select! {
                    recv(pong_rx) -> v => v.unwrap(),
                    recv(quiet) -> v => v.unwrap(),
                };
                assert_eq!(answer, i + 1);
                // Buffered, and a ready select with two arms.
                buf_tx.send(i).unwrap();
                let got = goro::select! {
                    recv(buf_rx) -> v => v.unwrap(),
                    recv(closed) -> v => { assert!(v.is_err()); buf_rx.recv().unwrap() }
                };
                assert_eq!(got, i);
            };
            for i in 0..100 {
                round(i); // warm up: queues and caches reach their working size
            }
            let before = allocations();
            for i in 0..1000 {
                round(i);
            }
            let counted = allocations() - before;
            drop(ping_tx);
            echo.join().unwrap();
            counted
        })
        .unwrap();
    assert_eq!(
        counted, 0,
        "1000 rounds of channel operations allocated {counted} times"
    );
}
