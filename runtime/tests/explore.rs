//! `goro::check`: the schedule explorer finds interleaving bugs, names the seed, and replays it.
//!
//! Every test uses a fixed base seed, so what it finds (and at which run) is the same each time.
//! These tests set no environment variable: `GORO_EXPLORE_SEED` would make every `explore`
//! below run one seed only. (The environment variables are tested by running this very binary
//! again as a child, in `seed_from_the_environment_replays`.)

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex as StdMutex};

use goro::check::{self, Explorer};
use goro::sync::Mutex;

/// The base seed every test starts from.
const BASE: u64 = 0x5eed_0fc0_ffee;

/// The learner's counter: two tasks read, reach a yield point, and write back, with no lock.
fn racy_counter() {
    let counter = Arc::new(AtomicU64::new(0));
    let tasks: Vec<_> = (0..2)
        .map(|_| {
            let counter = counter.clone();
            goro::spawn(move || {
                let v = counter.load(Ordering::SeqCst);
                goro::task::checkpoint();
                counter.store(v + 1, Ordering::SeqCst);
            })
        })
        .collect();
    for t in tasks {
        t.join().unwrap();
    }
    let n = counter.load(Ordering::SeqCst);
    assert_eq!(n, 2, "lost an update: counter is {n}");
}

/// The same counter with a `goro::sync::Mutex` around the read and the write.
fn locked_counter() {
    let counter = Arc::new(Mutex::new(0u64));
    let tasks: Vec<_> = (0..2)
        .map(|_| {
            let counter = counter.clone();
            goro::spawn(move || {
                let mut c = counter.lock();
                let v = *c;
                goro::task::checkpoint();
                *c = v + 1;
            })
        })
        .collect();
    for t in tasks {
        t.join().unwrap();
    }
    assert_eq!(*counter.lock(), 2);
}

fn panic_text(p: Box<dyn std::any::Any + Send>) -> String {
    match p.downcast::<String>() {
        Ok(s) => *s,
        Err(p) => p
            .downcast_ref::<&str>()
            .map_or_else(|| "non-string payload".into(), |s| (*s).to_owned()),
    }
}

#[test]
fn lost_update_is_found_and_replays() {
    let failure = Explorer::new()
        .runs(300)
        .seed(BASE)
        .run(racy_counter)
        .expect_err("some schedule loses an update");
    assert!(
        failure.message().contains("lost an update: counter is 1"),
        "{failure}"
    );
    // The report: seed, message, and the replay line naming this test.
    let text = failure.to_string();
    eprintln!("found: {}", text.lines().next().unwrap());
    let seed_hex = format!("{:#018x}", failure.seed());
    assert!(text.contains(&seed_hex), "{text}");
    assert!(
        text.contains(&format!(
            "replay: GORO_EXPLORE_SEED={seed_hex} cargo test lost_update_is_found_and_replays -- --exact"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!("goro::check::replay({seed_hex}, body)")),
        "{text}"
    );

    // `explore` panics with the same report.
    let explored = catch_unwind(|| {
        check::explore(300, racy_counter);
    });
    // (`explore` starts from the default seed, not BASE: it finds its own failing seed.)
    let explored = panic_text(explored.expect_err("explore panics on the lost update"));
    assert!(explored.contains("lost an update"), "{explored}");
    assert!(
        explored.contains("replay: GORO_EXPLORE_SEED=0x"),
        "{explored}"
    );

    // Replaying the seed fails the same way, with the same message.
    let replayed = catch_unwind(|| check::replay(failure.seed(), racy_counter));
    let replayed = panic_text(replayed.expect_err("the seed replays the failure"));
    let expected = text.replacen(
        &format!("schedule {} of 300", failure_run(&text)),
        "schedule 1 of 1",
        1,
    );
    assert_eq!(replayed, expected);
    assert!(replayed.contains(failure.message()), "{replayed}");
}

/// The run number in a report's first line ("schedule N of M").
fn failure_run(text: &str) -> u32 {
    let rest = text.split("schedule ").nth(1).expect("a run number");
    rest.split(' ').next().unwrap().parse().unwrap()
}

#[test]
fn the_mutex_fixes_it() {
    let report = Explorer::new()
        .runs(300)
        .seed(BASE)
        .run(locked_counter)
        .unwrap_or_else(|f| panic!("{f}"));
    eprintln!("locked counter: {report}");
    assert_eq!(report.runs(), 300);
    // The explorer really tried several interleavings.
    assert!(report.distinct_schedules() > 1, "{report}");
    // And `explore` returns normally.
    check::explore(100, locked_counter);
}

/// Three tasks each log their id at every step; returns the log.
fn logged_run(seed: u64) -> Vec<u64> {
    let log = Arc::new(StdMutex::new(Vec::new()));
    let sink = log.clone();
    check::replay(seed, move || {
        let (tx, rx) = goro::chan::bounded::<u64>(2);
        let tasks: Vec<_> = (0..3)
            .map(|_| {
                let tx = tx.clone();
                let sink = sink.clone();
                goro::spawn(move || {
                    let me = goro::current().id().as_u64();
                    for step in 0..4 {
                        sink.lock().unwrap().push(me * 10 + step);
                        tx.send(me).unwrap();
                    }
                })
            })
            .collect();
        drop(tx);
        while let Ok(who) = rx.recv() {
            sink.lock().unwrap().push(100 + who);
        }
        for t in tasks {
            t.join().unwrap();
        }
    });
    // The body (and its clone of the log) is gone once `replay` returns.
    Arc::try_unwrap(log).unwrap().into_inner().unwrap()
}

#[test]
fn same_seed_same_events() {
    let seeds: Vec<u64> = (0..8u64).map(|i| BASE.wrapping_mul(i + 1) | 3).collect();
    let runs: Vec<Vec<u64>> = seeds.iter().map(|&s| logged_run(s)).collect();
    for (s, first) in seeds.iter().zip(&runs) {
        assert_eq!(first.len(), 3 * 4 * 2, "every event logged");
        assert_eq!(
            &logged_run(*s),
            first,
            "seed {s:#x} replays event for event"
        );
    }
    // The seeds are not all the same schedule: the comparison above could fail.
    let mut distinct = runs.clone();
    distinct.sort();
    distinct.dedup();
    assert!(
        distinct.len() > 1,
        "eight seeds gave a single order: {runs:?}"
    );
}

/// Two tasks take two locks in opposite orders.
fn lock_order_inversion() {
    let a = Arc::new(Mutex::new(()));
    let b = Arc::new(Mutex::new(()));
    let (a1, b1) = (a.clone(), b.clone());
    let t1 = goro::spawn(move || {
        let _a = a1.lock();
        let _b = b1.lock();
    });
    let t2 = goro::spawn(move || {
        let _b = b.lock();
        let _a = a.lock();
    });
    t1.join().unwrap();
    t2.join().unwrap();
}

#[test]
fn lock_order_inversion_is_a_deadlock() {
    let failure = Explorer::new()
        .runs(500)
        .seed(BASE)
        .run(lock_order_inversion)
        .expect_err("some schedule deadlocks");
    let text = failure.to_string();
    eprintln!("found: {}", text.lines().next().unwrap());
    assert!(
        failure
            .message()
            .contains("all goroutines are asleep - deadlock!"),
        "{text}"
    );
    // The dump shows the two tasks waiting on a mutex.
    assert!(failure.message().matches("Mutex").count() >= 2, "{text}");
    // And the deadlock replays.
    let replayed = catch_unwind(AssertUnwindSafe(|| {
        check::replay(failure.seed(), lock_order_inversion)
    }));
    let replayed = panic_text(replayed.expect_err("the seed replays the deadlock"));
    // The same tasks, states and places. Not the dump's `stack: N KiB touched` lines: how much
    // of a stack is resident depends on which pooled stack a task got and how deep the tasks
    // that used it before went, not on the schedule.
    let without_stack_lines = |s: &str| -> String {
        s.lines()
            .filter(|l| !l.trim_start().starts_with("stack: "))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert!(
        without_stack_lines(&replayed).contains(&without_stack_lines(failure.message())),
        "the replay said:\n{replayed}\nthe failing run said:\n{}",
        failure.message()
    );
}

#[test]
fn a_correct_body_passes_every_schedule() {
    let report = check::explore(200, || {
        let wg = goro::sync::WaitGroup::new();
        let (tx, rx) = goro::chan::bounded::<u64>(0);
        let sum = Arc::new(Mutex::new(0u64));
        for i in 0..3 {
            wg.add(1);
            let (wg, tx, sum) = (wg.clone(), tx.clone(), sum.clone());
            goro::spawn(move || {
                tx.send(i).unwrap();
                *sum.lock() += i;
                wg.done();
            });
        }
        drop(tx);
        let got: u64 = (0..3).map(|_| rx.recv().unwrap()).sum();
        wg.wait();
        assert_eq!(got, 3);
        assert_eq!(*sum.lock(), 3);
    });
    eprintln!("correct body: {report}");
    assert_eq!(report.runs(), 200);
    assert!(report.distinct_schedules() > 1, "{report}");
}

/// A task that waits for a flag by spinning on `checkpoint()`: under plain PCT at depth 1 (no
/// change points), a schedule that ranks the spinner above the setter would spin forever.
#[test]
fn a_spin_wait_ends_under_every_schedule() {
    let report = Explorer::new()
        .runs(30)
        .depth(1)
        .seed(BASE)
        .run(|| {
            let flag = Arc::new(AtomicU64::new(0));
            let setter = flag.clone();
            goro::spawn(move || setter.store(1, Ordering::SeqCst));
            while flag.load(Ordering::SeqCst) == 0 {
                goro::task::checkpoint();
            }
        })
        .unwrap_or_else(|f| panic!("{f}"));
    assert_eq!(report.runs(), 30);
    // Some schedules ran the spinner first and needed the starvation guard.
    assert!(report.max_steps() >= 1000, "{report}");
}

#[test]
fn a_panic_in_a_spawned_task_fails_even_if_joined() {
    let failure = Explorer::new()
        .runs(5)
        .seed(BASE)
        .run(|| {
            let t = goro::task::Builder::new()
                .name("worker")
                .spawn(|| panic!("boom"))
                .unwrap();
            assert!(t.join().is_err());
        })
        .expect_err("an unrecovered panic fails the schedule");
    assert!(
        failure.message().contains("\"worker\" panicked") && failure.message().contains("boom"),
        "{failure}"
    );
    // A recovered panic does not.
    Explorer::new()
        .runs(5)
        .seed(BASE)
        .run(|| {
            assert!(goro::recover(|| panic!("expected")).is_err());
        })
        .unwrap_or_else(|f| panic!("{f}"));
}

#[test]
fn bad_settings_are_named() {
    let e = catch_unwind(|| Explorer::new().depth(0));
    assert!(panic_text(e.unwrap_err()).contains("depth(0) is out of range"));
    let e = catch_unwind(|| Explorer::new().runs(0));
    assert!(panic_text(e.unwrap_err()).contains("runs(0)"));
    let e = catch_unwind(|| goro::run(|| check::replay(1, || {})));
    assert!(panic_text(e.unwrap_err()).contains("called from inside a goro task"));
}

/// The replay line works: this binary, run again with `GORO_EXPLORE_SEED`, runs only that seed.
#[test]
fn seed_from_the_environment_replays() {
    if std::env::var("GORO_EXPLORE_CHILD").is_ok() {
        return;
    }
    let failure = Explorer::new()
        .runs(300)
        .seed(BASE)
        .run(racy_counter)
        .expect_err("some schedule loses an update");
    let exe = std::env::current_exe().unwrap();
    let out = std::process::Command::new(exe)
        .args(["env_child", "--exact", "--nocapture"])
        .env("GORO_EXPLORE_SEED", format!("{:#x}", failure.seed()))
        .env("GORO_EXPLORE_CHILD", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!(
            "child: seed {:#018x} failed with the same message: true",
            failure.seed()
        )),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["env_child", "--exact", "--nocapture"])
        .env("GORO_EXPLORE_SEED", "0xnope")
        .env("GORO_EXPLORE_CHILD", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("is not a seed"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // GORO_EXPLORE_RUNS overrides the count in the code.
    for (runs, expected) in [
        ("3", "child: passed 3 schedules"),
        ("0", "is not a number of runs"),
    ] {
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["env_child", "--exact", "--nocapture"])
            .env_remove("GORO_EXPLORE_SEED")
            .env("GORO_EXPLORE_RUNS", runs)
            .env("GORO_EXPLORE_CHILD", "1")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains(expected),
            "{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Run only as the child of `seed_from_the_environment_replays`.
#[test]
fn env_child() {
    if std::env::var("GORO_EXPLORE_CHILD").is_err() {
        return;
    }
    let Ok(expected) = std::env::var("GORO_EXPLORE_SEED") else {
        let r = catch_unwind(|| Explorer::new().runs(1000).run(locked_counter));
        match r {
            Ok(Ok(report)) => println!("child: passed {report}"),
            Ok(Err(f)) => println!("child: {f}"),
            Err(p) => println!("child: {}", panic_text(p)),
        }
        return;
    };
    let r = catch_unwind(|| Explorer::new().runs(1000).run(racy_counter));
    match r {
        Ok(Err(f)) => println!(
            "child: seed {:#018x} failed with the same message: {} (expected {expected})",
            f.seed(),
            f.message().contains("lost an update: counter is 1")
        ),
        Ok(Ok(report)) => println!("child: passed {report}"),
        Err(p) => println!("child: {}", panic_text(p)),
    }
}
