//! The OS-thread baselines: the same workloads written with `std::thread` and
//! `std::sync::mpsc`, so the table shows what goro saves over the obvious Rust program.
//!
//! Sizes are smaller than goro's (see `spec`): a million threads do not fit under this
//! machine's `pid_max`, and ten million thread switches take minutes. Results are per
//! operation, so the sizes still compare.

use crate::echo::{self, MSG};
use crate::measure::{self, Job, check, per_op_ns};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::sync_channel;
use std::sync::{Arc, RwLock};
use std::thread;
use std::time::Instant;

/// Runs workload `name` on OS threads. Returns `false` if there is no thread version.
pub fn run(name: &str, job: &Job) -> bool {
    match name {
        "spawn" => spawn(job),
        "yield" => yield_(job),
        "pingpong" => pingpong(job),
        "thread-ring" => thread_ring(job),
        "park" => park(job),
        "echo-latency" => echo_bench(job, "echo-latency"),
        "echo-throughput" => echo_bench(job, "echo-throughput"),
        _ => return false,
    }
    true
}

fn spawn(job: &Job) {
    let n = job.n;
    let start = Instant::now();
    let handles: Vec<_> = (0..n).map(|i| thread::spawn(move || i)).collect();
    let mut sum = 0;
    for h in handles {
        sum += h.join().expect("a spawned thread panicked");
    }
    let elapsed = start.elapsed();
    check(sum == n * (n - 1) / 2, || format!("spawn sum {sum}"));
    job.emit("spawn", per_op_ns(elapsed, n), "ns/task");
}

fn yield_(job: &Job) {
    let n = job.n;
    let cpu = measure::first_allowed_cpu();
    let go = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let go = go.clone();
            thread::spawn(move || {
                measure::pin_current_thread_to(cpu);
                go.fetch_add(1, Ordering::SeqCst);
                // Both threads start yielding once both are pinned.
                while go.load(Ordering::SeqCst) < 2 {
                    thread::yield_now();
                }
                for _ in 0..n {
                    thread::yield_now();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("yield thread panicked");
    }
    let elapsed = start.elapsed();
    job.emit("yield", per_op_ns(elapsed, 2 * n), "ns/yield");
}

fn pingpong(job: &Job) {
    let n = job.n;
    let (ping_tx, ping_rx) = sync_channel::<u64>(0);
    let (pong_tx, pong_rx) = sync_channel::<u64>(0);
    let start = Instant::now();
    let echo = thread::spawn(move || {
        while let Ok(v) = ping_rx.recv() {
            pong_tx.send(v + 1).expect("pinger hung up");
        }
    });
    let mut v = 0;
    for _ in 0..n {
        ping_tx.send(v).expect("echo thread hung up");
        v = pong_rx.recv().expect("echo thread hung up");
    }
    let elapsed = start.elapsed();
    drop(ping_tx);
    echo.join().expect("echo thread panicked");
    check(v == n, || format!("pingpong counted {v}, expected {n}"));
    job.emit("pingpong", per_op_ns(elapsed, n), "ns/round-trip");
}

/// Ring size of the thread-ring benchmark (the Computer Language Benchmarks Game's number).
pub const RING: u64 = 503;

fn thread_ring(job: &Job) {
    let hops = job.n;
    let mut senders = Vec::new();
    let mut receivers = Vec::new();
    for _ in 0..RING {
        let (tx, rx) = sync_channel::<u64>(0);
        senders.push(tx);
        receivers.push(rx);
    }
    // Thread i receives on channel i and sends to channel i+1. The one that receives
    // token 0 reports its position and the ring shuts down.
    senders.rotate_left(1);
    let (done_tx, done_rx) = sync_channel::<u64>(1);
    let first = senders[RING as usize - 1].clone();
    let start = Instant::now();
    let mut handles = Vec::new();
    for (i, (rx, tx)) in receivers.into_iter().zip(senders).enumerate() {
        let done = done_tx.clone();
        handles.push(thread::spawn(move || {
            while let Ok(token) = rx.recv() {
                if token == 0 {
                    let _ = done.send(i as u64 + 1);
                    return;
                }
                if tx.send(token - 1).is_err() {
                    return;
                }
            }
        }));
    }
    first.send(hops).expect("ring thread 1 hung up");
    drop(first);
    let winner = done_rx.recv().expect("no ring thread finished");
    let elapsed = start.elapsed();
    // Dropping the winner's receiver cascades: every sender errors, every thread returns.
    for h in handles {
        h.join().expect("ring thread panicked");
    }
    check(winner == hops % RING + 1, || {
        format!("thread-ring winner {winner}, expected {}", hops % RING + 1)
    });
    job.emit("thread-ring", per_op_ns(elapsed, hops), "ns/hop");
}

fn park(job: &Job) {
    let n = job.n;
    let parked = Arc::new(AtomicU64::new(0));
    let released = Arc::new(AtomicBool::new(false));
    let before = measure::memory_bytes();
    let start = Instant::now();
    let handles: Vec<_> = (0..n)
        .map(|_| {
            let parked = parked.clone();
            let released = released.clone();
            thread::spawn(move || {
                parked.fetch_add(1, Ordering::SeqCst);
                while !released.load(Ordering::SeqCst) {
                    thread::park();
                }
            })
        })
        .collect();
    while parked.load(Ordering::SeqCst) < n {
        thread::yield_now();
    }
    let launch = start.elapsed();
    let after = measure::memory_bytes();
    released.store(true, Ordering::SeqCst);
    for h in &handles {
        h.thread().unpark();
    }
    for h in handles {
        h.join().expect("parked thread panicked");
    }
    job.emit("park-launch", per_op_ns(launch, n), "ns/task");
    job.emit(
        "park-memory",
        after.saturating_sub(before) as f64 / n as f64,
        "B/task",
    );
}

/// One server connection: echo what arrives until the peer closes; returns the bytes echoed.
fn echo_serve(mut conn: TcpStream) -> u64 {
    conn.set_nodelay(true).expect("set TCP_NODELAY");
    let mut buf = [0u8; 4096];
    let mut echoed = 0;
    loop {
        match conn.read(&mut buf).expect("server read") {
            0 => return echoed,
            got => {
                conn.write_all(&buf[..got]).expect("server write");
                echoed += got as u64;
            }
        }
    }
}

fn echo_round(s: &mut TcpStream, i: u64, r: u64) {
    let (mut msg, mut back) = ([0u8; MSG], [0u8; MSG]);
    echo::fill(&mut msg, i, r);
    s.write_all(&msg).expect("client write");
    s.read_exact(&mut back).expect("client read");
    echo::check_echo(&msg, &back, i, r);
}

/// The echo workload (`echo.rs` describes the shape) with a thread per connection on each
/// side. The gate is a write lock the main thread holds; each client thread takes it to read.
fn echo_bench(job: &Job, metric: &'static str) {
    let n = job.n;
    let conns = echo::conns(metric, n);
    echo::raise_fd_limit(conns);
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("listener address");
    let server = thread::spawn(move || {
        let handlers: Vec<_> = (0..conns)
            .map(|_| {
                let (conn, _) = listener.accept().expect("accept");
                thread::spawn(move || echo_serve(conn))
            })
            .collect();
        handlers
            .into_iter()
            .map(|h| h.join().expect("a server thread panicked"))
            .sum::<u64>()
    });
    let gate = Arc::new(RwLock::new(()));
    let closed = gate.write().expect("gate lock");
    let clients: Vec<_> = (0..conns)
        .map(|i| {
            let mut s = TcpStream::connect(addr).expect("connect");
            s.set_nodelay(true).expect("set TCP_NODELAY");
            echo_round(&mut s, i, 0);
            let gate = gate.clone();
            thread::spawn(move || {
                drop(gate.read().expect("gate lock"));
                for r in 1..=echo::rounds(i, conns, n) {
                    echo_round(&mut s, i, r);
                }
            })
        })
        .collect();
    let start = Instant::now();
    drop(closed);
    for c in clients {
        c.join().expect("a client thread panicked");
    }
    let elapsed = start.elapsed();
    echo::check_server_total(server.join().expect("the server panicked"), conns, n);
    job.emit(metric, per_op_ns(elapsed, n), "ns/round-trip");
}
