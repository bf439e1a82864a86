//! Thieves' patience: a burst of work its owner gets through quickly is not stolen, because
//! a stolen task is pinned to the thief for life. In a test binary of its own, so no other
//! test competes for the CPU while it measures where tasks ran.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::thread::{self, ThreadId};

use goro::Runtime;

fn runtime(workers: usize) -> Runtime {
    Runtime::builder().workers(workers).build().unwrap()
}

#[test]
fn a_burst_of_chained_tasks_stays_on_one_worker() {
    // A chain of 100 tasks, each waiting for a token from the one before it. The spawning
    // worker starts them all well within the thieves' patience, so an idle worker that
    // measures it leaves the chain alone and every hand-off stays on one thread. Measured in a
    // debug build on a busy 2-CPU machine, five runs of 8 rounds each: with the patience set to
    // zero 0, 6, 0, 4 and 1 rounds stayed whole; with 3 ms, 8 every time. A round still splits
    // if the OS stops the spawning thread for milliseconds, hence 6 of 8.
    let clean_rounds = runtime(2)
        .block_on(|| {
            (0..8)
                .filter(|_| {
                    let threads = Arc::new(Mutex::new(HashSet::<ThreadId>::new()));
                    let (first_tx, mut rx) = goro::chan::bounded::<u32>(0);
                    let mut hs = Vec::new();
                    for _ in 0..100 {
                        let (tx, next_rx) = goro::chan::bounded::<u32>(0);
                        let threads = threads.clone();
                        let my_rx = std::mem::replace(&mut rx, next_rx);
                        hs.push(goro::spawn(move || {
                            let token = my_rx.recv().unwrap();
                            threads.lock().unwrap().insert(thread::current().id());
                            tx.send(token + 1).unwrap();
                        }));
                    }
                    first_tx.send(0).unwrap();
                    assert_eq!(rx.recv().unwrap(), 100);
                    for h in hs {
                        h.join().unwrap();
                    }
                    let n = threads.lock().unwrap().len();
                    n == 1
                })
                .count()
        })
        .unwrap();
    assert!(
        clean_rounds >= 6,
        "only {clean_rounds} of 8 rounds stayed on one thread"
    );
}
