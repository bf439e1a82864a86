//! Signals as channels (Go's `os/signal.Notify`): [`notify`] returns a receiver that gets the
//! number of each listed signal the process receives, so a server's `main` waits for Ctrl-C
//! the way Go's does:
//!
//! ```text
//! // Go                                        // goro
//! c := make(chan os.Signal, 1)                 let c = goro::signal::notify(&[SIGINT, SIGTERM])?;
//! signal.Notify(c, os.Interrupt, SIGTERM)
//! <-c                                          c.recv().unwrap();
//! cancel()                                     cancel.cancel();
//! ```
//!
//! How: a signal handler may only do async-signal-safe work (no locks, no allocation), so the
//! handler writes the signal's number into a pipe (`write(2)` is safe there: the self-pipe
//! trick) and returns. A helper thread reads the pipe and sends the number to every receiver
//! that asked for that signal, without ever waiting (`try_send`: like Go, a receiver that
//! lags behind loses signals, never the sender its time). The helper is a plain thread, so a
//! task waiting on the receiver counts as waiting for a waker outside the runtime: the run is
//! not deadlocked while it waits (`sched/idle.rs`, rule 6).
//!
//! Rules:
//!
//! 1. The handler only reads a static descriptor and calls `write(2)`, saving and restoring
//!    `errno`.
//! 2. A signal handled once stays handled for the life of the process (Go's `Notify` too,
//!    until `Reset`): it no longer has its default action (killing the process for SIGINT).
//! 3. A receiver that was dropped is forgotten the next time its signal arrives.
//!
//! Go counterpart: `os/signal` (`Notify`, `signal_recv` in `runtime/sigqueue.go`). Lesson: 15
//! (network server: graceful shutdown on Ctrl-C).

use std::io;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Mutex, OnceLock};

use crate::chan::{self, Receiver, Sender};

/// Write end of the self-pipe (-1 until the first `notify`).
static PIPE_W: AtomicI32 = AtomicI32::new(-1);

struct Sub {
    signals: Vec<i32>,
    tx: Sender<i32>,
}

static SUBS: Mutex<Vec<Sub>> = Mutex::new(Vec::new());
static HANDLED: Mutex<Vec<i32>> = Mutex::new(Vec::new());
static STARTED: OnceLock<io::Result<()>> = OnceLock::new();

extern "C" fn on_signal(sig: libc::c_int) {
    // SAFETY: async-signal-safe only (rule 1): errno is saved and restored around write(2),
    // which gets a live one-byte buffer and a descriptor that stays open for the process's
    // life.
    unsafe {
        let errno = *libc::__errno_location();
        let fd = PIPE_W.load(Ordering::Relaxed);
        if fd >= 0 {
            let b = sig as u8;
            libc::write(fd, (&b as *const u8).cast(), 1);
        }
        *libc::__errno_location() = errno;
    }
}

/// Creates the pipe and starts the helper thread, once per process.
fn start() -> io::Result<()> {
    STARTED
        .get_or_init(|| {
            let mut fds = [0 as libc::c_int; 2];
            // SAFETY: pipe2 writes two descriptors into the live array.
            if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } < 0 {
                return Err(io::Error::last_os_error());
            }
            let (r, w) = (fds[0], fds[1]);
            // A full pipe must not block the handler: drop the signal instead.
            // SAFETY: fcntl on a descriptor we just created.
            unsafe { libc::fcntl(w, libc::F_SETFL, libc::O_NONBLOCK) };
            PIPE_W.store(w, Ordering::Relaxed);
            std::thread::Builder::new()
                .name("goro-signal".into())
                .spawn(move || forward(r))
                .map(|_| ())
        })
        .as_ref()
        .map(|_| ())
        .map_err(|e| io::Error::new(e.kind(), e.to_string()))
}

/// How many live receivers listen for `sig`.
pub(super) fn listeners(sig: i32) -> usize {
    let subs = SUBS.lock().unwrap_or_else(|e| e.into_inner());
    subs.iter()
        .filter(|s| !s.tx.is_disconnected() && s.signals.contains(&sig))
        .count()
}

/// The helper thread: pipe -> receivers.
fn forward(r: libc::c_int) {
    loop {
        let mut b = 0u8;
        // SAFETY: reads one byte into a live u8 from our pipe.
        let n = unsafe { libc::read(r, (&mut b as *mut u8).cast(), 1) };
        if n <= 0 {
            if n < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return;
        }
        let sig = i32::from(b);
        let mut subs = SUBS.lock().unwrap_or_else(|e| e.into_inner());
        // Rule 3: forget receivers that are gone.
        subs.retain(|s| !s.tx.is_disconnected());
        for s in subs.iter().filter(|s| s.signals.contains(&sig)) {
            let _ = s.tx.try_send(sig);
        }
    }
}

/// Delivers the listed signals (`libc::SIGINT`, `libc::SIGTERM`, ...) to the returned
/// receiver, as Go's `signal.Notify` does; a task can `recv` it or `select!` over it. Each
/// receiver buffers one pending signal; more arriving before it is received are dropped.
/// Fails for signals that cannot be caught (SIGKILL, SIGSTOP) or are not signals.
///
/// ```
/// use goro::sys::libc;
/// let got = goro::run(|| {
///     let c = goro::signal::notify(&[libc::SIGUSR2]).unwrap();
///     // SAFETY: sends a signal to this very process.
///     unsafe { libc::kill(libc::getpid(), libc::SIGUSR2) };
///     c.recv().unwrap()
/// });
/// assert_eq!(got, libc::SIGUSR2);
/// ```
pub fn notify(signals: &[i32]) -> io::Result<Receiver<i32>> {
    for &s in signals {
        if !(1..=64).contains(&s) || s == libc::SIGKILL || s == libc::SIGSTOP {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "signal {s} cannot be caught; pass signals such as libc::SIGINT or libc::SIGTERM"
                ),
            ));
        }
    }
    start()?;
    {
        let mut handled = HANDLED.lock().unwrap_or_else(|e| e.into_inner());
        for &s in signals {
            if handled.contains(&s) {
                continue;
            }
            // SAFETY: installs `on_signal`, which is async-signal-safe (rule 1), with an empty
            // mask; `sa` is fully initialised before the call.
            let r = unsafe {
                let mut sa: libc::sigaction = std::mem::zeroed();
                sa.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as usize;
                sa.sa_flags = libc::SA_RESTART;
                libc::sigemptyset(&mut sa.sa_mask);
                libc::sigaction(s, &sa, std::ptr::null_mut())
            };
            if r < 0 {
                return Err(io::Error::last_os_error());
            }
            handled.push(s);
        }
    }
    // Made "outside": its sender lives on the helper thread (see the module docs).
    let (tx, rx) = chan::bounded_outside(1);
    SUBS.lock().unwrap_or_else(|e| e.into_inner()).push(Sub {
        signals: signals.to_vec(),
        tx,
    });
    Ok(rx)
}
