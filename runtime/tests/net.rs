//! goro::net: sockets that park the task. Loopback only, bounded counts; no test asserts a
//! duration (deadlines are checked by what fails, not by how long it took).

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::Shutdown;
use std::sync::Arc;
use std::time::Duration;

use goro::ctx::{self, Context, CtxError};
use goro::net::{TcpListener, TcpStream, UdpSocket, ctx_error};
use goro::runtime::Builder;
use goro::{chan, spawn};

/// Echoes every byte of one connection back until the peer closes its write half.
fn echo(conn: TcpStream) -> usize {
    let mut conn = conn;
    let mut buf = [0u8; 4096];
    let mut total = 0;
    loop {
        let n = conn.read(&mut buf).expect("server read");
        if n == 0 {
            return total;
        }
        conn.write_all(&buf[..n]).expect("server write");
        total += n;
    }
}

/// Sends `data`, closes the write half, and reads everything back.
fn round_trip(addr: std::net::SocketAddr, data: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_nodelay(true).unwrap();
    s.write_all(data).expect("client write");
    s.shutdown(Shutdown::Write).unwrap();
    let mut back = Vec::new();
    s.read_to_end(&mut back).expect("client read");
    back
}

#[test]
fn one_connection_echoes_every_byte() {
    common::two_workers(|| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = spawn(move || {
            let (conn, peer) = listener.accept().unwrap();
            assert_eq!(peer, conn.peer_addr().unwrap());
            assert_eq!(addr, conn.local_addr().unwrap());
            echo(conn)
        });
        // More than a socket buffer holds, so both sides really wait for each other.
        let data: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
        let back = round_trip(addr, &data);
        assert_eq!(back.len(), data.len());
        assert!(back == data, "the echo differs from what was sent");
        assert_eq!(server.join().unwrap(), data.len());
    });
}

#[test]
fn a_goroutine_per_connection_serves_many_at_once() {
    const CONNS: usize = 200;
    common::two_workers(|| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = spawn(move || {
            let handles: Vec<_> = (0..CONNS)
                .map(|_| {
                    let (conn, _) = listener.accept().unwrap();
                    spawn(move || echo(conn))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap())
                .sum::<usize>()
        });
        // Every client connects and writes before any reads: all 200 are open at once.
        let (go_tx, go_rx) = chan::bounded::<()>(0);
        let clients: Vec<_> = (0..CONNS)
            .map(|i| {
                let go_rx = go_rx.clone();
                spawn(move || {
                    let mut s = TcpStream::connect(addr).unwrap();
                    let msg = format!("hello from client {i}").into_bytes();
                    s.write_all(&msg).unwrap();
                    let _ = go_rx.recv(); // closed when every client is connected
                    s.shutdown(Shutdown::Write).unwrap();
                    let mut back = Vec::new();
                    s.read_to_end(&mut back).unwrap();
                    assert_eq!(back, msg);
                    msg.len()
                })
            })
            .collect();
        drop(go_tx);
        let sent: usize = clients.into_iter().map(|h| h.join().unwrap()).sum();
        assert_eq!(server.join().unwrap(), sent);
    });
}

#[test]
fn a_read_deadline_fails_the_read_with_timed_out() {
    common::two_workers(|| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let client = TcpStream::connect(addr).unwrap();
        let (mut conn, _) = listener.accept().unwrap();
        conn.set_read_deadline(Some(goro::time::now() + Duration::from_millis(20)));
        let mut buf = [0u8; 8];
        let err = conn.read(&mut buf).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TimedOut, "{err}");
        // Past the deadline, even buffered data is not read (Go's rule)...
        (&client).write_all(b"late").unwrap();
        goro::time::sleep(Duration::from_millis(5));
        assert_eq!(conn.read(&mut buf).unwrap_err().kind(), ErrorKind::TimedOut);
        // ...until the deadline is cleared.
        conn.set_read_deadline(None);
        let n = conn.read(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"late");
    });
}

#[test]
fn moving_a_deadline_into_the_past_wakes_a_waiting_read() {
    common::two_workers(|| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let _client = TcpStream::connect(addr).unwrap();
        let (conn, _) = listener.accept().unwrap();
        let conn = Arc::new(conn);
        let reader = {
            let conn = conn.clone();
            spawn(move || {
                let mut buf = [0u8; 8];
                (&*conn).read(&mut buf)
            })
        };
        // Let the reader park, then pull its deadline in.
        while !goro::debug::dump().contains("[IO wait]") {
            goro::yield_now();
        }
        conn.set_read_deadline(Some(goro::time::now()));
        let err = reader.join().unwrap().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TimedOut);
    });
}

#[test]
fn a_task_waiting_on_a_socket_shows_io_wait_in_the_dump() {
    common::two_workers(|| {
        let listener = Arc::new(TcpListener::bind("127.0.0.1:0").unwrap());
        let addr = listener.local_addr().unwrap();
        let l2 = listener.clone();
        let acceptor = goro::task::Builder::new()
            .name("acceptor")
            .spawn(move || l2.accept().map(|_| ()))
            .unwrap();
        let dump = loop {
            let d = goro::debug::dump();
            if d.contains("[IO wait]") {
                break d;
            }
            goro::yield_now();
        };
        assert!(
            dump.contains("[IO wait]:\n    name: acceptor"),
            "the acceptor is listed as waiting on I/O:\n{dump}"
        );
        let _c = TcpStream::connect(addr).unwrap();
        acceptor.join().unwrap().unwrap();
    });
}

#[test]
fn accept_ctx_ends_when_the_context_is_cancelled() {
    common::two_workers(|| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let (c, cancel) = ctx::with_cancel(&Context::background());
        let server = spawn(move || {
            let mut served = 0;
            loop {
                match listener.accept_ctx(&c) {
                    Ok(_) => served += 1,
                    Err(e) => return (served, ctx_error(&e)),
                }
            }
        });
        while !goro::debug::dump().contains("[IO wait]") {
            goro::yield_now();
        }
        cancel.cancel();
        assert_eq!(server.join().unwrap(), (0, Some(CtxError::Canceled)));
    });
}

#[test]
fn read_ctx_ends_at_the_context_deadline() {
    common::two_workers(|| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let _client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (conn, _) = listener.accept().unwrap();
        let (c, _cancel) = ctx::with_timeout(&Context::background(), Duration::from_millis(10));
        let err = conn.read_ctx(&c, &mut [0u8; 4]).unwrap_err();
        assert_eq!(ctx_error(&err), Some(CtxError::DeadlineExceeded));
        assert_eq!(err.kind(), ErrorKind::TimedOut);
    });
}

#[test]
fn connecting_to_a_closed_port_fails_with_connection_refused() {
    common::two_workers(|| {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap()
        };
        let err = TcpStream::connect(port).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionRefused, "{err}");
    });
}

#[test]
fn udp_datagrams_go_both_ways() {
    common::two_workers(|| {
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").unwrap();
        let b_addr = b.local_addr().unwrap();
        let server = spawn(move || {
            let mut buf = [0u8; 64];
            for _ in 0..10 {
                let (n, from) = b.recv_from(&mut buf).unwrap();
                b.send_to(&buf[..n], from).unwrap();
            }
        });
        a.connect(b_addr).unwrap();
        for i in 0..10u8 {
            a.send(&[i; 3]).unwrap();
            let mut buf = [0u8; 64];
            let n = a.recv(&mut buf).unwrap();
            assert_eq!(&buf[..n], &[i; 3]);
        }
        server.join().unwrap();
    });
}

#[test]
fn waiting_on_a_socket_is_not_a_deadlock() {
    // Every task waits, no timer is pending, and the only thing that can wake anybody is the
    // kernel: a plain thread connects after the runtime went idle.
    let rt = Builder::new().workers(2).build().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let peer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.write_all(b"hi").unwrap();
    });
    let got = rt
        .block_on(move || {
            let (mut conn, _) = listener.accept().unwrap();
            let mut buf = Vec::new();
            conn.read_to_end(&mut buf).unwrap();
            buf
        })
        .expect("an I/O wait is not a deadlock");
    assert_eq!(got, b"hi");
    peer.join().unwrap();
}

#[test]
fn deterministic_mode_waits_for_real_io_instead_of_jumping_the_clock() {
    for seed in 0..3 {
        let got = common::det(seed, || {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            let server = spawn(move || echo(listener.accept().unwrap().0));
            // A timer pending far in the (virtual) future must not fire while I/O is pending.
            let (c, _cancel) = ctx::with_timeout(&Context::background(), Duration::from_secs(3600));
            let back = round_trip(addr, b"deterministic");
            assert!(c.err().is_none(), "the virtual clock jumped past real I/O");
            server.join().unwrap();
            back
        });
        assert_eq!(got, b"deterministic");
    }
}

#[test]
fn outside_a_runtime_sockets_block_the_thread_like_std() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let t = std::thread::spawn(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(b"plain").unwrap();
    });
    let (mut conn, _) = listener.accept().unwrap();
    let mut buf = Vec::new();
    conn.read_to_end(&mut buf).unwrap();
    assert_eq!(buf, b"plain");
    t.join().unwrap();
    conn.set_read_deadline(Some(std::time::Instant::now()));
    assert_eq!(
        conn.read(&mut [0u8; 1]).unwrap_err().kind(),
        ErrorKind::TimedOut
    );
}

#[test]
fn lookup_host_resolves_on_a_spare_thread() {
    let addrs = common::two_workers(|| goro::net::lookup_host("localhost:80").unwrap());
    assert!(
        addrs.iter().all(|a| a.ip().is_loopback() && a.port() == 80),
        "{addrs:?}"
    );
    let literal = goro::net::lookup_host("127.0.0.1:9").unwrap();
    assert_eq!(literal, vec!["127.0.0.1:9".parse().unwrap()]);
}

#[test]
fn a_socket_wait_is_noticed_while_the_other_worker_is_stuck_in_a_task() {
    // An idle worker sleeps on its futex, not in `epoll_wait`, while another worker runs
    // tasks: that one polls when it runs out of work. Here it never does (the main task
    // computes without a yield point), so sysmon must poll for it, or the reader below would
    // sleep forever and the main task would give up.
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Instant;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let peer = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        std::thread::sleep(Duration::from_millis(50));
        s.write_all(b"x").unwrap();
        // Open until the reader has its byte (it closes its end when done).
        let mut rest = Vec::new();
        s.read_to_end(&mut rest).unwrap();
    });
    let woke = common::two_workers(move || {
        let done = Arc::new(AtomicBool::new(false));
        let flag = done.clone();
        let reader = spawn(move || {
            let mut s = TcpStream::connect(addr).unwrap();
            let mut b = [0u8; 1];
            s.read_exact(&mut b).unwrap();
            flag.store(true, Ordering::SeqCst);
            b[0]
        });
        // A hog: no yield point until the reader got its byte (or 10 s passed).
        let give_up = Instant::now() + Duration::from_secs(10);
        while !done.load(Ordering::SeqCst) && Instant::now() < give_up {
            std::hint::spin_loop();
        }
        let woke = done.load(Ordering::SeqCst);
        assert_eq!(reader.join().unwrap(), b'x');
        woke
    });
    assert!(
        woke,
        "the reader was not woken while the main task held its worker"
    );
    peer.join().unwrap();
}
