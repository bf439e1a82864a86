//! Deadlock reports: when every task waits on something nothing can wake, `block_on` returns
//! `RunError::Deadlock` with a Go-style goroutine dump instead of hanging.

use goro::chan;
use goro::runtime::{Builder, RunError};
use goro::sync::{Mutex, WaitGroup};
use std::sync::Arc;

/// Runs `f` on a deterministic runtime and returns the deadlock dump it must end in.
fn deadlock_dump(seed: u64, f: impl FnOnce() + Send + 'static) -> String {
    let rt = Builder::new()
        .deterministic(seed)
        .build()
        .expect("deterministic runtime");
    match rt.block_on(f) {
        Err(RunError::Deadlock { dump }) => normalize(&dump),
        Ok(()) => panic!("expected a deadlock, but the program finished"),
        Err(other) => panic!("expected a deadlock, got {other}"),
    }
}

/// Keeps the dump stable when this file is edited: locations keep the file name but lose
/// line and column; the stack a task touched (pages, which vary with the build) is redacted.
fn normalize(dump: &str) -> String {
    dump.lines()
        .map(|line| {
            if let Some((head, _)) = line.split_once(" touched of ") {
                let (indent, _) = head.split_once("stack: ").unwrap_or((head, ""));
                let size = line.rsplit(" of ").next().unwrap_or("");
                return format!("{indent}stack: <touched> of {size}");
            }
            match line.rsplit_once(" at ") {
                Some((head, location)) if location.contains(".rs:") => {
                    let file = location.split(':').next().unwrap_or(location);
                    let file = file.rsplit('/').next().unwrap_or(file);
                    format!("{head} at {file}:<line>")
                }
                _ => line.to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn every_wait_reason_shows_in_the_dump() {
    let dump = deadlock_dump(1, || {
        let (_keep_tx, never_sent) = chan::bounded::<u8>(0);
        let (nobody_reads, _keep_rx) = chan::bounded::<u8>(0);
        let lock = Arc::new(Mutex::new(()));
        let wg = WaitGroup::new();
        wg.add(1);

        let rx = never_sent.clone();
        goro::task::Builder::new()
            .name("consumer")
            .spawn(move || {
                let _ = rx.recv();
            })
            .unwrap();
        goro::task::Builder::new()
            .name("producer")
            .spawn(move || {
                let _ = nobody_reads.send(1);
            })
            .unwrap();
        let rx = never_sent.clone();
        goro::task::Builder::new()
            .name("selector")
            .spawn(move || {
                goro::select! {
                    recv(rx) => {},
                    recv(chan::never::<()>()) => {},
                }
            })
            .unwrap();
        let l = lock.clone();
        goro::task::Builder::new()
            .name("locker")
            .spawn(move || drop(l.lock()))
            .unwrap();
        let w = wg.clone();
        goro::spawn(move || w.wait());
        let rw = Arc::new(goro::sync::RwLock::new(0));
        let r = rw.clone();
        goro::spawn(move || *r.write() += 1);
        let (c, _cancel) = goro::ctx::with_cancel(&goro::ctx::Context::background());
        goro::spawn(move || c.wait());
        let _read = rw.read();

        let _held = lock.lock();
        for _ in 0..5 {
            goro::yield_now(); // let every task reach its wait
        }
        let _ = never_sent.recv(); // main waits too: nothing can run any more
    });
    insta::assert_snapshot!(dump, @r"
    goroutine 1 [chan receive]:
        name: main
        blocked at deadlock.rs:<line>
        stack: <touched> of 64 KiB
        created at deadlock.rs:<line>

    goroutine 2 [chan receive]:
        name: consumer
        blocked at deadlock.rs:<line>
        stack: <touched> of 64 KiB
        created by goroutine 1 at deadlock.rs:<line>

    goroutine 3 [chan send]:
        name: producer
        blocked at deadlock.rs:<line>
        stack: <touched> of 64 KiB
        created by goroutine 1 at deadlock.rs:<line>

    goroutine 4 [select]:
        name: selector
        blocked at deadlock.rs:<line>
        stack: <touched> of 64 KiB
        created by goroutine 1 at deadlock.rs:<line>

    goroutine 5 [sync.Mutex.Lock]:
        name: locker
        blocked at deadlock.rs:<line>
        stack: <touched> of 64 KiB
        created by goroutine 1 at deadlock.rs:<line>

    goroutine 6 [sync.WaitGroup.Wait]:
        blocked at deadlock.rs:<line>
        stack: <touched> of 64 KiB
        created by goroutine 1 at deadlock.rs:<line>

    goroutine 7 [sync.RWMutex.Lock]:
        blocked at deadlock.rs:<line>
        stack: <touched> of 64 KiB
        created by goroutine 1 at deadlock.rs:<line>

    goroutine 8 [context]:
        blocked at deadlock.rs:<line>
        stack: <touched> of 64 KiB
        created by goroutine 1 at deadlock.rs:<line>
    ");
}

#[test]
fn a_pending_timer_is_not_a_deadlock() {
    let rt = Builder::new().deterministic(2).build().unwrap();
    let res = rt.block_on(|| {
        let (_tx, rx) = chan::bounded::<u8>(0);
        goro::select! {
            recv(rx) => false,
            recv(goro::time::after(std::time::Duration::from_secs(5))) => true,
        }
    });
    assert!(res.expect("the timer fires, so this is no deadlock"));
}

#[test]
fn deadlock_report_reads_like_go() {
    let rt = Builder::new().deterministic(3).build().unwrap();
    let err = rt
        .block_on(|| {
            let wg = WaitGroup::new();
            wg.add(1); // nobody will ever call done()
            wg.wait();
        })
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with("all goroutines are asleep - deadlock!"),
        "{text}"
    );
    assert!(
        text.contains("goroutine 1 [sync.WaitGroup.Wait]:"),
        "{text}"
    );
}
