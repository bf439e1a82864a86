//! 100,000 tasks parked at the same time: far past the ~32,700 stacks that `mprotect` guard
//! pages allow under the default `vm.max_map_count`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use goro::{Runtime, task};

#[test]
fn a_hundred_thousand_tasks_park_at_once() {
    const N: usize = 100_000;
    let (parked_at_peak, woke, guard) = Runtime::builder()
        .workers(2)
        .stack_size(32 * 1024)
        .build()
        .unwrap()
        .block_on(|| {
            let go = Arc::new(AtomicBool::new(false));
            let parked = Arc::new(AtomicUsize::new(0));
            let woke = Arc::new(AtomicUsize::new(0));
            let handles: Vec<_> = (0..N)
                .map(|_| {
                    let (go, parked, woke) = (go.clone(), parked.clone(), woke.clone());
                    goro::spawn(move || {
                        parked.fetch_add(1, Ordering::SeqCst);
                        while !go.load(Ordering::SeqCst) {
                            task::park();
                        }
                        woke.fetch_add(1, Ordering::SeqCst);
                    })
                })
                .collect();
            while parked.load(Ordering::SeqCst) < N {
                goro::yield_now();
            }
            let at_peak = goro::num_goroutines();
            let stats = goro::debug::stats();
            assert!(stats.stacks_live >= N, "{stats}");
            go.store(true, Ordering::SeqCst);
            for h in &handles {
                h.task().unpark();
            }
            for h in handles {
                h.join().unwrap();
            }
            (at_peak, woke.load(Ordering::SeqCst), stats.guard)
        })
        .unwrap();
    assert_eq!(parked_at_peak, N + 1);
    assert_eq!(woke, N);
    // Each stack has its guard page; with MADV_GUARD_INSTALL that costs no mapping.
    println!("guard pages: {guard}");
}
