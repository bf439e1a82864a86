//! An echo server with a goroutine per connection, loaded by 10,000 concurrent loopback
//! connections, then shut down gracefully with a context (lessons 13 and 15).
//!
//! Run: `cargo run --release -p goro --example echo_server [-- CONNS ROUNDS]`
//!
//! The process starts the server, then runs itself again as the load client (a child process,
//! `--client ADDR CONNS ROUNDS`, so each side has its own file descriptors: the example raises
//! its soft limit to the hard one). The client opens every connection and echoes one message
//! on each; with all of them open and idle the server measures its own CPU use for a second;
//! then every connection echoes ROUNDS more messages, each checked byte for byte; then the
//! server cancels its context: the accept loop and every connection's task return, and it
//! prints how many tasks are left. `echo_server --serve 127.0.0.1:7000` serves until Ctrl-C
//! (`goro::signal::notify`) and then shuts down the same way; the client can be pointed at it,
//! or at any echo server (a Go twin, say): `echo_server --client 127.0.0.1:7000 10000 10`
//! (it starts the rounds when a line arrives on its standard input, or at its end).
//!
//! Go twin of the server (abridged):
//! ```go
//! ctx, cancel := context.WithCancel(context.Background())
//! go func() { <-ctx.Done(); ln.Close() }()
//! for { c, err := ln.Accept(); if err != nil { break }; wg.Add(1)
//!       go func() { defer wg.Done(); defer c.Close(); io.Copy(c, c) }() }
//! ```

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use goro::chan;
use goro::ctx::{self, Context};
use goro::net::{TcpListener, TcpStream};
use goro::sync::WaitGroup;
use goro::sys::libc;
use goro::task::blocking;

const MSG: usize = 64;

/// Raises the soft limit on open files to the hard limit: each connection is a descriptor.
fn raise_fd_limit() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid, live rlimit struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
    lim.rlim_cur
}

/// CPU time (user + system) this process used so far.
fn cpu_time() -> Duration {
    // SAFETY: an all-zero rusage is a valid value for getrusage to overwrite.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage writes into the live struct.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// One connection: echo until the peer closes or the server's context is cancelled.
fn handle(conn: TcpStream, ctx: Context, echoed: Arc<AtomicU64>) {
    let mut buf = [0u8; 4096];
    loop {
        let n = match conn.read_ctx(&ctx, &mut buf) {
            Ok(0) | Err(_) => return, // peer closed, or shutdown
            Ok(n) => n,
        };
        if (&conn).write_all(&buf[..n]).is_err() {
            return;
        }
        echoed.fetch_add(n as u64, Ordering::Relaxed);
    }
}

/// The accept loop: a goroutine per connection, until `ctx` is cancelled.
fn accept_loop(
    listener: TcpListener,
    ctx: &Context,
    echoed: &Arc<AtomicU64>,
    wg: &WaitGroup,
    accepted: &Arc<AtomicUsize>,
) -> goro::JoinHandle<()> {
    let (ctx, echoed, wg, accepted) = (ctx.clone(), echoed.clone(), wg.clone(), accepted.clone());
    goro::spawn(move || {
        while let Ok((conn, _)) = listener.accept_ctx(&ctx) {
            accepted.fetch_add(1, Ordering::Relaxed);
            let (ctx, echoed, wg) = (ctx.clone(), echoed.clone(), wg.clone());
            wg.add(1);
            goro::spawn(move || {
                handle(conn, ctx, echoed);
                wg.done();
            });
        }
    })
}

/// `--serve ADDR`: serve until Ctrl-C (SIGINT) or SIGTERM, then shut down gracefully.
fn serve(addr: &str) {
    raise_fd_limit();
    let addr = addr.to_string();
    goro::run(move || {
        let listener = TcpListener::bind(&addr).expect("bind");
        let sig = goro::signal::notify(&[libc::SIGINT, libc::SIGTERM]).expect("signals");
        println!(
            "server: listening on {}; Ctrl-C stops it",
            listener.local_addr().unwrap()
        );
        let (ctx, cancel) = ctx::with_cancel(&Context::background());
        let (echoed, wg, accepted) = (
            Arc::new(AtomicU64::new(0)),
            WaitGroup::new(),
            Arc::new(AtomicUsize::new(0)),
        );
        let acceptor = accept_loop(listener, &ctx, &echoed, &wg, &accepted);
        let s = sig.recv().unwrap();
        println!(
            "server: signal {s}: shutting down {} goroutines",
            goro::num_goroutines()
        );
        cancel.cancel();
        acceptor.join().unwrap();
        wg.wait();
        println!(
            "server: {} connections served, {} bytes echoed, {} goroutine left",
            accepted.load(Ordering::Relaxed),
            echoed.load(Ordering::Relaxed),
            goro::num_goroutines()
        );
    });
}

fn server(conns: usize, rounds: usize) {
    let limit = raise_fd_limit();
    let rt = goro::Runtime::new();
    rt.block_on(move || {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let addr = listener.local_addr().unwrap();
        println!("server: listening on {addr} (fd limit {limit})");
        let (ctx, cancel) = ctx::with_cancel(&Context::background());
        let echoed = Arc::new(AtomicU64::new(0));
        let wg = WaitGroup::new();
        let accepted = Arc::new(AtomicUsize::new(0));
        let acceptor = accept_loop(listener, &ctx, &echoed, &wg, &accepted);
        // The load client: this program again, as a child process.
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--client", &addr.to_string(), &conns.to_string(), &rounds.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the load client");
        let mut to_client = child.stdin.take().unwrap();
        let (lines_tx, lines) = chan::unbounded::<String>();
        let out = child.stdout.take().unwrap();
        // Reading a pipe blocks: a spare thread does it, the workers keep serving.
        goro::spawn(move || {
            blocking(move || {
                for line in BufReader::new(out).lines().map_while(Result::ok) {
                    println!("  {line}");
                    if lines_tx.send(line).is_err() {
                        break;
                    }
                }
            })
        });
        let wait_for = |prefix: &str| loop {
            match lines.recv() {
                Ok(l) if l.starts_with(prefix) => return,
                Ok(_) => {}
                Err(_) => panic!("the load client exited before {prefix:?}"),
            }
        };
        wait_for("client: connected");
        println!(
            "server: {} connections open and idle, {} goroutines",
            accepted.load(Ordering::Relaxed),
            goro::num_goroutines()
        );
        let (cpu0, t0) = (cpu_time(), Instant::now());
        goro::sleep(Duration::from_secs(1));
        let idle = cpu_time() - cpu0;
        println!(
            "server: idle with every connection open: {:.1} % of one CPU over {:.1} s",
            100.0 * idle.as_secs_f64() / t0.elapsed().as_secs_f64(),
            t0.elapsed().as_secs_f64()
        );
        writeln!(to_client, "go").unwrap();
        wait_for("client: done");
        let live_before = goro::num_goroutines();
        cancel.cancel();
        acceptor.join().unwrap();
        wg.wait();
        println!(
            "server: shut down: {} bytes echoed; goroutines {} -> {} (main and the pipe reader left)",
            echoed.load(Ordering::Relaxed),
            live_before,
            goro::num_goroutines()
        );
        drop(to_client);
        let status = blocking(move || child.wait()).unwrap();
        assert!(status.success(), "the load client failed: {status}");
    })
    .expect("the server run");
}

fn client(addr: SocketAddr, conns: usize, rounds: usize) {
    let limit = raise_fd_limit();
    if (limit as usize) < conns + 64 {
        eprintln!("client: the fd limit {limit} is below {conns} connections; lower CONNS");
        std::process::exit(2);
    }
    let rt = goro::Runtime::new();
    rt.block_on(move || {
        let t0 = Instant::now();
        // Connect in waves: the listen backlog is finite.
        let (slots_tx, slots) = chan::bounded::<()>(256);
        let (go_tx, go) = chan::bounded::<()>(0);
        let ready = WaitGroup::new();
        let tasks: Vec<_> = (0..conns)
            .map(|i| {
                let (slots_tx, slots, go, ready) =
                    (slots_tx.clone(), slots.clone(), go.clone(), ready.clone());
                ready.add(1);
                goro::spawn(move || {
                    slots_tx.send(()).unwrap();
                    let mut s = TcpStream::connect(addr).expect("connect");
                    s.set_nodelay(true).unwrap();
                    let mut msg = [0u8; MSG];
                    let mut back = [0u8; MSG];
                    let mut round = |r: usize, s: &mut TcpStream| {
                        for (k, b) in msg.iter_mut().enumerate() {
                            *b = (i + r * 7 + k) as u8;
                        }
                        s.write_all(&msg).expect("write");
                        s.read_exact(&mut back).expect("read");
                        assert_eq!(msg, back, "connection {i} round {r}: echo differs");
                    };
                    round(0, &mut s);
                    let _ = slots.recv();
                    ready.done();
                    let _ = go.recv(); // closed when the server says go
                    for r in 1..=rounds {
                        round(r, &mut s);
                    }
                    s
                })
            })
            .collect();
        drop(slots_tx);
        ready.wait();
        println!(
            "client: connected {conns} connections in {:.2} s",
            t0.elapsed().as_secs_f64()
        );
        let stdin = goro::spawn(|| {
            blocking(|| {
                let mut line = String::new();
                std::io::stdin().read_line(&mut line).map(|_| line)
            })
        });
        stdin.join().unwrap().expect("read stdin");
        let t1 = Instant::now();
        drop(go_tx);
        let streams: Vec<TcpStream> = tasks.into_iter().map(|t| t.join().unwrap()).collect();
        let secs = t1.elapsed().as_secs_f64();
        let trips = conns * rounds;
        println!(
            "client: {trips} round trips of {MSG} B on {conns} connections in {secs:.2} s \
             ({:.0} round trips/s), every byte checked",
            trips as f64 / secs
        );
        println!("client: done; waiting for the server to close its ends");
        // The server shuts down with every connection still open: each read sees EOF.
        let closed = Arc::new(AtomicUsize::new(0));
        let readers: Vec<_> = streams
            .into_iter()
            .map(|s| {
                let closed = closed.clone();
                goro::spawn(move || {
                    let mut s = s;
                    if let Ok(0) = s.read(&mut [0u8; 1]) {
                        closed.fetch_add(1, Ordering::Relaxed);
                    }
                    let _ = s.shutdown(Shutdown::Both);
                })
            })
            .collect();
        for r in readers {
            r.join().unwrap();
        }
        println!(
            "client: the server closed {} of {conns} connections",
            closed.load(Ordering::Relaxed)
        );
    })
    .expect("the client run");
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let num = |i: usize, default: usize| -> usize {
        args.get(i).map_or(default, |s| {
            s.parse().unwrap_or_else(|_| {
                eprintln!("expected a number, got {s:?}; usage: echo_server [CONNS ROUNDS]");
                std::process::exit(2)
            })
        })
    };
    if args.first().map(String::as_str) == Some("--serve") {
        serve(args.get(1).map_or("127.0.0.1:7000", String::as_str));
    } else if args.first().map(String::as_str) == Some("--client") {
        let addr = args.get(1).and_then(|a| a.parse().ok()).unwrap_or_else(|| {
            eprintln!("usage: echo_server --client ADDR [CONNS ROUNDS], e.g. 127.0.0.1:7000");
            std::process::exit(2)
        });
        client(addr, num(2, 10_000), num(3, 10));
    } else {
        server(num(0, 10_000), num(1, 10));
    }
}
