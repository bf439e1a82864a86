//! Signals as channels: `goro::signal::notify` (Go's `signal.Notify`).

use std::time::Duration;

use goro::sys::libc;

#[test]
fn a_task_waiting_for_a_signal_is_not_deadlocked_and_receives_it() {
    let rt = goro::Runtime::builder().workers(2).build().unwrap();
    let got = rt
        .block_on(|| {
            let c = goro::signal::notify(&[libc::SIGUSR1]).unwrap();
            // The signal comes from outside the runtime, after every task waits.
            let t = std::thread::spawn(|| {
                std::thread::sleep(Duration::from_millis(30));
                // SAFETY: sends SIGUSR1 to this process, whose handler `notify` installed.
                unsafe { libc::kill(libc::getpid(), libc::SIGUSR1) };
            });
            let sig = c.recv().unwrap();
            t.join().unwrap();
            sig
        })
        .expect("waiting for a signal is not a deadlock");
    assert_eq!(got, libc::SIGUSR1);
}

#[test]
fn uncatchable_signals_are_refused_with_a_clear_error() {
    let err = goro::signal::notify(&[libc::SIGKILL]).unwrap_err();
    assert!(err.to_string().contains("cannot be caught"), "{err}");
}
