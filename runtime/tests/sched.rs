//! Scheduler behaviour: work stealing, tasks staying on their thread, fairness, idle workers.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, ThreadId};
use std::time::{Duration, Instant};

use goro::{Runtime, task};

fn runtime(workers: usize) -> Runtime {
    Runtime::builder().workers(workers).build().unwrap()
}

#[test]
fn an_idle_worker_steals_unstarted_tasks() {
    // A spins (without yielding) until B has run. If nobody stole one of them from the
    // spawning worker, B could never run while A holds that worker.
    let (a_thread, b_thread, steals) = runtime(2)
        .block_on(|| {
            let b_ran = Arc::new(AtomicBool::new(false));
            let seen = b_ran.clone();
            let a = goro::spawn(move || {
                let deadline = Instant::now() + Duration::from_secs(20);
                while !seen.load(Ordering::SeqCst) {
                    assert!(Instant::now() < deadline, "B never ran: nothing was stolen");
                    std::hint::spin_loop();
                }
                thread::current().id()
            });
            let b = goro::spawn(move || {
                b_ran.store(true, Ordering::SeqCst);
                thread::current().id()
            });
            let a = a.join().unwrap();
            let b = b.join().unwrap();
            (a, b, goro::debug::stats().steals)
        })
        .unwrap();
    assert_ne!(a_thread, b_thread);
    assert!(steals >= 1, "stats().steals = {steals}");
}

#[test]
fn started_tasks_never_change_os_thread() {
    let moved = runtime(2)
        .block_on(|| {
            let moved = Arc::new(AtomicUsize::new(0));
            let handles: Vec<_> = (0..200)
                .map(|i| {
                    let moved = moved.clone();
                    goro::spawn(move || {
                        let home = thread::current().id();
                        for round in 0..20 {
                            match (i + round) % 3 {
                                0 => goro::yield_now(),
                                1 => goro::sleep(Duration::from_micros(50)),
                                _ => task::park_timeout(Duration::from_micros(20)),
                            }
                            if thread::current().id() != home {
                                moved.fetch_add(1, Ordering::SeqCst);
                            }
                        }
                    })
                })
                .collect();
            for h in handles {
                h.join().unwrap();
            }
            moved.load(Ordering::SeqCst)
        })
        .unwrap();
    assert_eq!(moved, 0, "tasks resumed on another OS thread");
}

#[test]
fn cross_thread_wakeups_reach_pinned_tasks() {
    // Pairs of tasks wake each other many times; with two workers many wakeups cross threads
    // and must go through the home worker's inbox.
    let rounds = runtime(2)
        .block_on(|| {
            let total = Arc::new(AtomicUsize::new(0));
            let mut handles = Vec::new();
            for _ in 0..8 {
                let turn = Arc::new(AtomicUsize::new(0));
                let slot: Arc<Mutex<Option<goro::Task>>> = Arc::new(Mutex::new(None));
                let (t2, s2, tot) = (turn.clone(), slot.clone(), total.clone());
                let ponger = goro::spawn(move || {
                    for i in 0..200 {
                        while t2.load(Ordering::SeqCst) != 2 * i + 1 {
                            goro::park();
                        }
                        t2.store(2 * i + 2, Ordering::SeqCst);
                        tot.fetch_add(1, Ordering::SeqCst);
                        s2.lock().unwrap().as_ref().unwrap().unpark();
                    }
                });
                let pong_task = ponger.task();
                let pinger = goro::spawn(move || {
                    *slot.lock().unwrap() = Some(goro::current());
                    for i in 0..200 {
                        turn.store(2 * i + 1, Ordering::SeqCst);
                        pong_task.unpark();
                        while turn.load(Ordering::SeqCst) != 2 * i + 2 {
                            goro::park();
                        }
                    }
                });
                handles.push(pinger);
                handles.push(ponger);
            }
            for h in handles {
                h.join().unwrap();
            }
            total.load(Ordering::SeqCst)
        })
        .unwrap();
    assert_eq!(rounds, 8 * 200);
}

#[test]
fn a_full_local_queue_spills_to_the_global_queue() {
    // 256 slots per worker: spawning 3000 tasks in a row overflows several times.
    let sum = runtime(1)
        .block_on(|| {
            let hs: Vec<_> = (0..3000u64).map(|i| goro::spawn(move || i)).collect();
            hs.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
        })
        .unwrap();
    assert_eq!(sum, 3000 * 2999 / 2);
}

#[test]
fn a_ping_pong_pair_cannot_starve_other_tasks() {
    // Two tasks hand the worker to each other through `runnext` forever; a third task that
    // is merely runnable must still get its turn (every 61st tick skips runnext).
    runtime(1)
        .block_on(|| {
            let stop = Arc::new(AtomicBool::new(false));
            let slot: Arc<Mutex<Option<goro::Task>>> = Arc::new(Mutex::new(None));
            let (stop_a, slot_a) = (stop.clone(), slot.clone());
            let b = goro::spawn({
                let stop = stop.clone();
                move || {
                    while !stop.load(Ordering::SeqCst) {
                        goro::park();
                        if let Some(a) = slot.lock().unwrap().as_ref() {
                            a.unpark();
                        }
                    }
                }
            });
            let b_task = b.task();
            let a = goro::spawn(move || {
                *slot_a.lock().unwrap() = Some(goro::current());
                while !stop_a.load(Ordering::SeqCst) {
                    b_task.unpark();
                    goro::park();
                }
                b_task.unpark();
            });
            let stopper = goro::spawn(move || stop.store(true, Ordering::SeqCst));
            stopper.join().unwrap();
            a.join().unwrap();
            b.join().unwrap();
        })
        .unwrap();
}

#[test]
fn tasks_spread_over_all_workers() {
    let threads = runtime(2)
        .block_on(|| {
            let seen = Arc::new(Mutex::new(HashSet::<ThreadId>::new()));
            let hs: Vec<_> = (0..64)
                .map(|_| {
                    let seen = seen.clone();
                    goro::spawn(move || {
                        seen.lock().unwrap().insert(thread::current().id());
                        // Busy for a moment, so the other worker has time to steal.
                        let until = Instant::now() + Duration::from_millis(2);
                        while Instant::now() < until {
                            std::hint::spin_loop();
                        }
                    })
                })
                .collect();
            for h in hs {
                h.join().unwrap();
            }
            let guard = seen.lock().unwrap();
            guard.len()
        })
        .unwrap();
    assert_eq!(threads, 2);
}

fn process_cpu_time() -> Duration {
    let mut usage = std::mem::MaybeUninit::<goro::sys::libc::rusage>::zeroed();
    // SAFETY: getrusage writes a rusage struct into the pointer we pass.
    let rc =
        unsafe { goro::sys::libc::getrusage(goro::sys::libc::RUSAGE_THREAD, usage.as_mut_ptr()) };
    assert_eq!(rc, 0);
    // SAFETY: initialised by the successful call.
    let u = unsafe { usage.assume_init() };
    Duration::from_micros((u.ru_utime.tv_sec * 1_000_000 + u.ru_utime.tv_usec) as u64)
        + Duration::from_micros((u.ru_stime.tv_sec * 1_000_000 + u.ru_stime.tv_usec) as u64)
}

#[test]
fn idle_workers_sleep_instead_of_spinning() {
    // The main task sleeps; both workers have nothing to do. Measure the CPU the worker
    // threads burn meanwhile: parked threads burn none.
    let (cpu_main_thread, cpu_other) = runtime(2)
        .block_on(|| {
            let other = goro::spawn(|| {
                let before = process_cpu_time();
                goro::sleep(Duration::from_millis(300));
                process_cpu_time() - before
            });
            let before = process_cpu_time();
            goro::sleep(Duration::from_millis(300));
            (process_cpu_time() - before, other.join().unwrap())
        })
        .unwrap();
    // A spinning worker would use the whole 300 ms.
    assert!(
        cpu_main_thread < Duration::from_millis(100),
        "{cpu_main_thread:?}"
    );
    assert!(cpu_other < Duration::from_millis(100), "{cpu_other:?}");
}

#[test]
fn migratable_tasks_run_to_completion() {
    let total = runtime(2)
        .block_on(|| {
            let hs: Vec<_> = (0..100u64)
                .map(|i| {
                    // SAFETY: the task holds nothing thread-bound across its yields and parks.
                    let b = unsafe { task::Builder::new().migratable() };
                    b.spawn(move || {
                        let mut acc = 0;
                        for k in 0..20 {
                            acc += i * k;
                            if k % 2 == 0 {
                                goro::yield_now();
                            } else {
                                task::park_timeout(Duration::from_micros(10));
                            }
                        }
                        acc
                    })
                    .unwrap()
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
        })
        .unwrap();
    assert_eq!(total, (0..100u64).sum::<u64>() * (0..20u64).sum::<u64>());
}

#[test]
fn a_sleep_wakes_on_time_among_tasks_that_never_yield() {
    // 200 tasks each compute for 2 ms without yielding; a task sleeping 10 ms among them must
    // wake while most of them are still to come (counted in finished tasks, not in time). The
    // earliest timer is checked at every scheduling point, as Go's `checkTimers` does in
    // `schedule`; checking it only every 61st tick would let about 61 tasks per worker finish
    // first, and a worker that never runs dry would not look sooner.
    const TASKS: usize = 200;
    const COMPUTE: Duration = Duration::from_millis(2);
    let (at_sleep, at_wake) = runtime(2)
        .block_on(|| {
            let done = Arc::new(AtomicUsize::new(0));
            let seen = done.clone();
            let sleeper = goro::spawn(move || {
                let at_sleep = seen.load(Ordering::SeqCst);
                goro::sleep(Duration::from_millis(10));
                (at_sleep, seen.load(Ordering::SeqCst))
            });
            let workers: Vec<_> = (0..TASKS)
                .map(|_| {
                    let done = done.clone();
                    goro::spawn(move || {
                        let start = Instant::now();
                        while start.elapsed() < COMPUTE {
                            std::hint::spin_loop();
                        }
                        done.fetch_add(1, Ordering::SeqCst);
                    })
                })
                .collect();
            let counts = sleeper.join().unwrap();
            for w in workers {
                w.join().unwrap();
            }
            counts
        })
        .unwrap();
    // About 5 tasks per worker fit in 10 ms; a quarter of them is ample slack for a busy
    // machine (a descheduled worker's task finishes at once when it comes back, since it
    // measures wall time, so the count stays low).
    let finished_meanwhile = at_wake - at_sleep;
    assert!(
        finished_meanwhile < TASKS / 4,
        "the 10 ms sleep woke after {finished_meanwhile} of {TASKS} 2 ms tasks had finished \
         (at {at_sleep} when it went to sleep, {at_wake} when it woke)"
    );
}

/// `num_goroutines` counts a task that another worker is starting at that very moment: it is
/// never below the number of tasks alive (it read 200,000 with 200,001 alive when a task was
/// neither "not started" nor "registered" for a moment).
#[test]
fn num_goroutines_never_undercounts_while_tasks_start() {
    const N: usize = 8_000;
    let lowest = runtime(2)
        .block_on(|| {
            let gate = Arc::new(AtomicBool::new(false));
            let parked = Arc::new(AtomicUsize::new(0));
            let handles: Vec<_> = (0..N)
                .map(|_| {
                    let (gate, parked) = (gate.clone(), parked.clone());
                    task::Builder::new()
                        .stack_size(16 * 1024)
                        .spawn(move || {
                            parked.fetch_add(1, Ordering::SeqCst);
                            while !gate.load(Ordering::SeqCst) {
                                task::park();
                            }
                        })
                        .unwrap()
                })
                .collect();
            // The other worker steals and starts them while this one counts, without yielding.
            let mut lowest = usize::MAX;
            let deadline = Instant::now() + Duration::from_secs(30);
            while parked.load(Ordering::SeqCst) < N / 2 && Instant::now() < deadline {
                lowest = lowest.min(goro::num_goroutines());
            }
            while parked.load(Ordering::SeqCst) < N {
                goro::yield_now();
            }
            gate.store(true, Ordering::SeqCst);
            for h in &handles {
                h.task().unpark();
            }
            for h in handles {
                h.join().unwrap();
            }
            lowest
        })
        .unwrap();
    assert!(
        lowest > N,
        "num_goroutines read {lowest} with {} alive",
        N + 1
    );
}

#[test]
fn a_spawner_that_fills_its_ring_steps_back_until_its_tasks_have_run() {
    // One worker and a loop of 10,000 spawns. If the spawner never stepped back, nothing could
    // run before the loop ends (no other worker), and all 10,000 would be queued at its end.
    // With spawn's back-pressure the worker runs what the spawner queued each time its ring
    // (256 tasks) is full, so the backlog never grows past one ring.
    let (max_backlog, ran_before_end) = runtime(1)
        .block_on(|| {
            let ran = Arc::new(AtomicUsize::new(0));
            let mut max_backlog = 0;
            for spawned in 1..=10_000 {
                let ran2 = ran.clone();
                drop(goro::spawn(move || {
                    ran2.fetch_add(1, Ordering::SeqCst);
                }));
                max_backlog = max_backlog.max(spawned - ran.load(Ordering::SeqCst));
            }
            (max_backlog, ran.load(Ordering::SeqCst))
        })
        .unwrap();
    assert!(
        max_backlog <= 257,
        "{max_backlog} tasks were queued at once: the spawner did not step back"
    );
    assert!(ran_before_end >= 10_000 - 257, "only {ran_before_end} ran");
}

#[test]
fn spawners_that_step_back_inside_each_other_all_finish() {
    // A spawner whose ring is full steps back; one of the tasks it queued fills the ring again
    // and steps back too, while the first still waits: both, and all their tasks, must finish.
    let total = runtime(1)
        .block_on(|| {
            let count = Arc::new(AtomicUsize::new(0));
            let wg = goro::sync::WaitGroup::new();
            for _ in 0..300 {
                let (count, wg2) = (count.clone(), wg.clone());
                wg.add(1);
                drop(goro::spawn(move || {
                    for _ in 0..300 {
                        let (count, wg3) = (count.clone(), wg2.clone());
                        wg2.add(1);
                        drop(goro::spawn(move || {
                            count.fetch_add(1, Ordering::SeqCst);
                            wg3.done();
                        }));
                    }
                    count.fetch_add(1, Ordering::SeqCst);
                    wg2.done();
                }));
            }
            wg.wait();
            count.load(Ordering::SeqCst)
        })
        .unwrap();
    assert_eq!(total, 300 + 300 * 300);
}
