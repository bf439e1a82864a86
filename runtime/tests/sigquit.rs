//! `SIGQUIT` prints the dump of every task and exits with status 2, as Go does; the builder's
//! `sigquit_dump(false)` leaves the signal its default action. Each case runs in a child
//! process (this test binary again, filtered to one test), which the parent signals once the
//! child says its tasks are waiting.

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use goro::chan;
use goro::runtime::Builder;
use goro::sys::libc;

/// Child side: two named tasks wait on channels and `main` waits in a long blocking call (a
/// waker from outside, so the run is not a deadlock); a third task says "ready" once they are
/// all waiting.
fn child(dump: bool) {
    Builder::new()
        .workers(2)
        .sigquit_dump(dump)
        .build()
        .unwrap()
        .block_on(|| {
            let mut keep = Vec::new();
            for name in ["waiter-a", "waiter-b"] {
                let (tx, rx) = chan::bounded::<()>(0);
                keep.push(tx);
                goro::task::Builder::new()
                    .name(name)
                    .spawn(move || {
                        let _ = rx.recv();
                    })
                    .unwrap();
            }
            // Says "ready" once both waiters wait and main is in its blocking call.
            goro::spawn(|| {
                loop {
                    let d = goro::debug::dump();
                    if d.matches("[chan receive").count() == 2 && d.contains("goroutine 1 [syscall")
                    {
                        break;
                    }
                    goro::yield_now();
                }
                println!("\nchild ready");
            });
            goro::task::blocking(|| std::thread::sleep(Duration::from_secs(60)));
            drop(keep);
        })
        .unwrap();
}

/// Parent side: starts the child running `test`, waits for "ready", sends SIGQUIT, and returns
/// its exit status and stderr. A child that does not exit within 60 s is killed.
fn signal_child(test: &str) -> (std::process::ExitStatus, String) {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env("GORO_SIGQUIT_CHILD", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: setrlimit and signal are async-signal-safe. The first only stops the child from
    // writing a core file when SIGQUIT kills it; the second gives the child SIGQUIT's default
    // action whatever this process inherited (a shell ignores SIGQUIT for the commands it runs
    // in the background, and an ignored signal stays ignored across exec).
    unsafe {
        cmd.pre_exec(|| {
            let zero = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            libc::setrlimit(libc::RLIMIT_CORE, &zero);
            libc::signal(libc::SIGQUIT, libc::SIG_DFL);
            Ok(())
        });
    }
    let mut child = cmd.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let ready = lines.any(|l| l.map(|l| l.trim() == "child ready").unwrap_or(false));
    assert!(ready, "the child never said it was ready");
    // SAFETY: sends a signal to our own child process.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGQUIT) };
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("the child did not exit after SIGQUIT");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    (status, err)
}

#[test]
fn sigquit_prints_every_task_and_exits_with_status_2() {
    if std::env::var_os("GORO_SIGQUIT_CHILD").is_some() {
        return child(true);
    }
    let (status, err) = signal_child("sigquit_prints_every_task_and_exits_with_status_2");
    assert_eq!(status.code(), Some(2), "exit status; stderr:\n{err}");
    assert!(err.starts_with("SIGQUIT: quit\n"), "stderr:\n{err}");
    for name in ["waiter-a", "waiter-b"] {
        assert!(
            err.contains(&format!("name: {name}")),
            "{name} missing:\n{err}"
        );
    }
    assert_eq!(err.matches("[chan receive").count(), 2, "stderr:\n{err}");
    assert!(err.contains("goroutine 1 [syscall"), "main's wait:\n{err}");
}

#[test]
fn sigquit_dump_false_leaves_the_default_action() {
    if std::env::var_os("GORO_SIGQUIT_CHILD").is_some() {
        return child(false);
    }
    let (status, err) = signal_child("sigquit_dump_false_leaves_the_default_action");
    assert_eq!(status.signal(), Some(libc::SIGQUIT), "stderr:\n{err}");
    assert!(!err.contains("SIGQUIT: quit"), "stderr:\n{err}");
}
