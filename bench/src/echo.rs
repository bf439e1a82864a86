//! The shape every system's `echo` workload shares (goro, tokio, may, OS threads, and the Go
//! twin in `bench/go/main.go`, which repeats these rules):
//!
//! 1. A server listens on `127.0.0.1:0` in the same process; its accept loop takes exactly
//!    `conns` connections, runs one task (goroutine, thread) per connection that echoes what it
//!    reads until the peer closes, then waits for them and returns how many bytes they echoed.
//! 2. The client's main task connects `conns` times in a row and makes one round trip on each
//!    connection before the next connect (a warm-up that also keeps the listen backlog short),
//!    then starts a client task per connection that waits at a gate.
//! 3. The clock starts, the gate opens; each client task makes its share of the `n` round
//!    trips ([`rounds`]): it writes [`MSG`] bytes ([`fill`]), reads [`MSG`] bytes back and
//!    checks every byte, then closes its connection. The clock stops when all have finished.
//! 4. The server's byte count must be `(n + conns) * MSG` (the warm-ups included).
//!
//! `echo-latency` is one connection (round trips strictly one after another: the time per
//! round trip is the latency); `echo-throughput` is [`CONNS`] connections at once (time per
//! round trip over all of them: the inverse of the throughput). Lower is better for both, as
//! for every other workload. `TCP_NODELAY` is set on both ends of every connection, as Go
//! sets it by default.

use crate::measure::check;

/// Bytes per message.
pub const MSG: usize = 64;

/// Connections in `echo-throughput`.
pub const CONNS: u64 = 1_000;

/// Connections for workload `name` at size `n`: one for `echo-latency`; [`CONNS`] (or `n`, if
/// smaller) for `echo-throughput`.
pub fn conns(name: &str, n: u64) -> u64 {
    if name == "echo-latency" {
        1
    } else {
        CONNS.min(n)
    }
}

/// Round trips connection `i` of `conns` makes so that all of them make `n` in total.
pub fn rounds(i: u64, conns: u64, n: u64) -> u64 {
    n / conns + u64::from(i < n % conns)
}

/// The message connection `i` sends in round `r` (round 0 is the warm-up).
pub fn fill(msg: &mut [u8; MSG], i: u64, r: u64) {
    for (k, b) in msg.iter_mut().enumerate() {
        *b = (i.wrapping_mul(31) ^ r.wrapping_mul(7)).wrapping_add(k as u64) as u8;
    }
}

/// `Err` names the first byte where `back` differs from the message connection `i` sent in
/// round `r`.
pub fn verify_echo(msg: &[u8; MSG], back: &[u8; MSG], i: u64, r: u64) -> Result<(), String> {
    match msg.iter().zip(back).position(|(a, b)| a != b) {
        None => Ok(()),
        Some(k) => Err(format!(
            "connection {i}, round {r}: byte {k} came back as {:#04x}, sent {:#04x}",
            back[k], msg[k]
        )),
    }
}

/// Stops the process if `back` is not the message connection `i` sent in round `r`.
pub fn check_echo(msg: &[u8; MSG], back: &[u8; MSG], i: u64, r: u64) {
    if let Err(why) = verify_echo(msg, back, i, r) {
        check(false, || why);
    }
}

/// `Err` unless the server echoed every byte exactly once: `n` round trips and one warm-up
/// per connection, [`MSG`] bytes each.
pub fn verify_server_total(echoed: u64, conns: u64, n: u64) -> Result<(), String> {
    let want = (n + conns) * MSG as u64;
    if echoed == want {
        Ok(())
    } else {
        Err(format!("the server echoed {echoed} bytes, expected {want}"))
    }
}

/// Stops the process unless the server echoed every byte exactly once.
pub fn check_server_total(echoed: u64, conns: u64, n: u64) {
    if let Err(why) = verify_server_total(echoed, conns, n) {
        check(false, || why);
    }
}

/// Raises this process's soft limit on open files to its hard limit (each connection is two
/// descriptors here: its client end and its server end), as `runtime/examples/echo_server.rs`
/// does. Go's runtime does the same on its own at start-up.
pub fn raise_fd_limit(conns: u64) {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit read and write a live, valid rlimit struct.
    let ok = unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim) == 0
        }
    };
    let need = 2 * conns + 64;
    if !ok || lim.rlim_cur < need {
        eprintln!(
            "goro-bench: the open-file limit ({}) is below the {need} descriptors {conns} connections need; raise the hard limit (`ulimit -Hn`) or run a smaller size",
            lim.rlim_cur
        );
        std::process::exit(4);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_add_up_to_n() {
        for (conns, n) in [(1, 7), (3, 10), (1000, 200_000), (1000, 1001), (5, 5)] {
            let total: u64 = (0..conns).map(|i| rounds(i, conns, n)).sum();
            assert_eq!(total, n, "{conns} connections, {n} round trips");
        }
    }

    #[test]
    fn messages_differ_between_connections_and_rounds() {
        let (mut a, mut b, mut c) = ([0; MSG], [0; MSG], [0; MSG]);
        fill(&mut a, 1, 1);
        fill(&mut b, 2, 1);
        fill(&mut c, 1, 2);
        assert_ne!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn a_changed_byte_or_a_lost_message_is_caught() {
        let mut msg = [0; MSG];
        fill(&mut msg, 4, 9);
        assert_eq!(verify_echo(&msg, &msg.clone(), 4, 9), Ok(()));
        let mut back = msg;
        back[63] ^= 1;
        let why = verify_echo(&msg, &back, 4, 9).unwrap_err();
        assert!(why.contains("connection 4, round 9: byte 63"), "{why}");
        assert_eq!(verify_server_total(13 * MSG as u64, 3, 10), Ok(()));
        assert!(verify_server_total(12 * MSG as u64, 3, 10).is_err());
    }

    #[test]
    fn latency_uses_one_connection() {
        assert_eq!(conns("echo-latency", 50_000), 1);
        assert_eq!(conns("echo-throughput", 200_000), CONNS);
        assert_eq!(conns("echo-throughput", 10), 10);
    }
}
