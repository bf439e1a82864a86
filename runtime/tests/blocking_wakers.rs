//! Deadlock detection with wakers outside the runtime: a plain OS thread that will send on a
//! channel or unpark a task keeps the run waiting instead of failing with "all goroutines are
//! asleep"; a run that nothing outside can wake still reports its deadlock.

use std::time::Duration;

use goro::chan;
use goro::runtime::{Builder, RunError};

fn runtimes() -> Vec<Builder> {
    vec![Builder::new().workers(2), Builder::new().deterministic(3)]
}

#[test]
fn a_receive_whose_sender_is_a_plain_thread_is_not_a_deadlock() {
    for b in runtimes() {
        let (tx, rx) = chan::bounded::<u32>(0);
        let sender = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(30));
            tx.send(42).unwrap();
        });
        let got = b.build().unwrap().block_on(move || rx.recv());
        assert_eq!(got, Ok(Ok(42)));
        sender.join().unwrap();
    }
}

#[test]
fn a_send_whose_receiver_is_a_plain_thread_is_not_a_deadlock() {
    for b in runtimes() {
        let (tx, rx) = chan::bounded::<u32>(0);
        let receiver = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(30));
            rx.recv().unwrap()
        });
        b.build()
            .unwrap()
            .block_on(move || tx.send(7).unwrap())
            .unwrap();
        assert_eq!(receiver.join().unwrap(), 7);
    }
}

#[test]
fn an_unpark_from_a_plain_thread_is_waited_for() {
    for b in runtimes() {
        let woken = b
            .build()
            .unwrap()
            .block_on(|| {
                let me = goro::current().for_thread();
                let (tx, rx) = std::sync::mpsc::channel();
                let t = std::thread::spawn(move || {
                    std::thread::sleep(Duration::from_millis(30));
                    tx.send(()).unwrap();
                    me.unpark();
                });
                while rx.try_recv().is_err() {
                    goro::park();
                }
                t.join().unwrap();
                true
            })
            .unwrap();
        assert!(woken);
    }
}

#[test]
fn a_channel_made_inside_the_run_still_deadlocks() {
    for b in runtimes() {
        let err = b
            .build()
            .unwrap()
            .block_on(|| {
                let (_tx, rx) = chan::bounded::<u8>(0);
                let _ = rx.recv();
            })
            .unwrap_err();
        let RunError::Deadlock { dump } = err else {
            panic!("expected a deadlock")
        };
        assert!(dump.contains("[chan receive]"), "{dump}");
    }
}

#[test]
fn once_the_plain_thread_lets_go_the_deadlock_is_reported() {
    // The outside sender is dropped on the plain thread without sending: the receive then
    // fails (channel closed), it is not a hang.
    for b in runtimes() {
        let (tx, rx) = chan::bounded::<u8>(0);
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            drop(tx);
        });
        let got = b.build().unwrap().block_on(move || rx.recv()).unwrap();
        assert!(got.is_err());
        t.join().unwrap();
    }
}

#[test]
fn a_handle_held_by_a_task_does_not_hide_a_deadlock() {
    // A wait queue built on park/unpark (lessons 05 and 07) holds handles of waiting tasks:
    // that is no reason to wait for a waker that can never come.
    for b in runtimes() {
        let err = b
            .build()
            .unwrap()
            .block_on(|| {
                let waiting = [goro::current()];
                goro::park();
                drop(waiting);
            })
            .unwrap_err();
        assert!(matches!(err, RunError::Deadlock { .. }), "{err:?}");
    }
}
