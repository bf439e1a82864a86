//! The tokio side of every workload, on tokio's multi-thread runtime (`tokio-mt`: work
//! stealing, one worker per CPU unless `--workers` says otherwise) and on its current-thread
//! runtime (`tokio-ct`: everything on the calling thread). Same sizes, same shape of work and
//! the same result checks as `goro_impl.rs` and the Go twins.
//!
//! What differs, because tokio's natural tools differ:
//! - tasks are futures (stackless): a task is a heap-allocated state machine, not a stack;
//! - tokio has no rendezvous channel: `mpsc::channel(1)` stands in for Go's unbuffered
//!   channel. With one value in flight (ping-pong, the ring's token) it makes the same
//!   hand-offs: the sender goes on to wait for the next value either way;
//! - a wait group is an atomic counter plus a `Notify` (`WaitGroup` below), which is what
//!   Go's `sync.WaitGroup` is: a counter and a semaphore.
//!
//! The workload body runs inside a spawned task, as Go's `main` runs in a goroutine and
//! goro's `block_on` body runs as a task, so spawns go to a worker's own queue rather than
//! through the runtime's injection queue.

use crate::echo::{self, MSG};
use crate::goro_impl::Results;
use crate::measure::{self, Job, check, per_op_ns};
use crate::spec::System;
use crate::threads::RING;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, Semaphore, mpsc};

/// Runs workload `name` on tokio (`job.system` picks the runtime). Returns `false` if there
/// is no tokio version.
pub fn run(name: &str, job: &Job) -> bool {
    let n = job.n;
    let results = match name {
        "spawn" => on_runtime(job, spawn(n)),
        "spawn-plain" => on_runtime(job, spawn_plain(n)),
        "yield" => on_runtime(job, yield_(n)),
        "pingpong" => on_runtime(job, pingpong(n)),
        "thread-ring" => on_runtime(job, thread_ring(n)),
        "skynet" => on_runtime(job, skynet_bench(n)),
        "park" => on_runtime(job, park(n)),
        "select" => on_runtime(job, select(n)),
        "echo-latency" | "echo-throughput" => {
            let metric = if name == "echo-latency" {
                "echo-latency"
            } else {
                "echo-throughput"
            };
            let conns = echo::conns(name, n);
            echo::raise_fd_limit(conns);
            // Only the echo workload turns on tokio's I/O driver; the others run without it.
            run_on(job, true, echo_bench(metric, conns, n))
        }
        _ => return false,
    };
    for (metric, value, unit) in results {
        job.emit(metric, value, unit);
    }
    true
}

fn on_runtime(job: &Job, body: impl Future<Output = Results> + Send + 'static) -> Results {
    run_on(job, false, body)
}

/// Builds the runtime `job.system` names (with its I/O driver if `io`) and runs `body` in a
/// spawned task.
fn run_on(job: &Job, io: bool, body: impl Future<Output = Results> + Send + 'static) -> Results {
    let mut builder = match job.system {
        System::TokioCt => tokio::runtime::Builder::new_current_thread(),
        _ => tokio::runtime::Builder::new_multi_thread(),
    };
    if io {
        builder.enable_io();
    }
    if job.system != System::TokioCt
        && let Some(w) = job.workers
    {
        builder.worker_threads(w);
    }
    let rt = builder
        .build()
        .unwrap_or_else(|e| panic!("cannot start a tokio runtime: {e}"));
    let task = rt.spawn(body);
    rt.block_on(task)
        .unwrap_or_else(|e| panic!("the workload did not finish: {e}"))
}

/// Go's `sync.WaitGroup` in tokio terms: a counter, and a `Notify` for the waiter.
struct WaitGroup {
    count: AtomicU64,
    zero: Notify,
}

impl WaitGroup {
    fn new() -> Self {
        WaitGroup {
            count: AtomicU64::new(0),
            zero: Notify::new(),
        }
    }

    fn add(&self, n: u64) {
        self.count.fetch_add(n, Ordering::Relaxed);
    }

    fn done(&self) {
        if self.count.fetch_sub(1, Ordering::AcqRel) == 1 {
            // Stores a permit if the waiter is not waiting yet; `wait` re-checks the count,
            // so a permit left over from an earlier zero only costs one more look.
            self.zero.notify_one();
        }
    }

    async fn wait(&self) {
        while self.count.load(Ordering::Acquire) != 0 {
            self.zero.notified().await;
        }
    }
}

/// Shared-sum spawn, as in Go: each task adds its number and calls `done`.
async fn spawn(n: u64) -> Results {
    struct Tally {
        wg: WaitGroup,
        sum: AtomicU64,
    }
    // Shared by reference, as goro's version and Go's closures share it.
    let tally: &'static Tally = Box::leak(Box::new(Tally {
        wg: WaitGroup::new(),
        sum: AtomicU64::new(0),
    }));
    let start = Instant::now();
    for i in 0..n {
        tally.wg.add(1);
        // Dropping the JoinHandle detaches the task, as `go f()` does.
        drop(tokio::spawn(async move {
            tally.sum.fetch_add(i, Ordering::Relaxed);
            tally.wg.done();
        }));
    }
    tally.wg.wait().await;
    let elapsed = start.elapsed();
    let sum = tally.sum.load(Ordering::Relaxed);
    check(sum == n * (n - 1) / 2, || format!("spawn sum {sum}"));
    vec![("spawn", per_op_ns(elapsed, n), "ns/task")]
}

/// Go's plain shape: `wg.Add(1); go func() { wg.Done() }()`, then `wg.Wait()`.
async fn spawn_plain(n: u64) -> Results {
    let wg: &'static WaitGroup = Box::leak(Box::new(WaitGroup::new()));
    let start = Instant::now();
    for _ in 0..n {
        wg.add(1);
        drop(tokio::spawn(async move { wg.done() }));
    }
    wg.wait().await;
    // Returning from `wait` is the check: it returns only once every task has run.
    vec![("spawn-plain", per_op_ns(start.elapsed(), n), "ns/task")]
}

async fn yield_(n: u64) -> Results {
    let start = Instant::now();
    let task = move || async move {
        for _ in 0..n {
            tokio::task::yield_now().await;
        }
    };
    let a = tokio::spawn(task());
    let b = tokio::spawn(task());
    a.await.expect("yield task panicked");
    b.await.expect("yield task panicked");
    vec![("yield", per_op_ns(start.elapsed(), 2 * n), "ns/yield")]
}

async fn pingpong(n: u64) -> Results {
    let (ping_tx, mut ping_rx) = mpsc::channel::<u64>(1);
    let (pong_tx, mut pong_rx) = mpsc::channel::<u64>(1);
    let start = Instant::now();
    let echo = tokio::spawn(async move {
        while let Some(v) = ping_rx.recv().await {
            pong_tx.send(v + 1).await.expect("pinger hung up");
        }
    });
    let mut v = 0;
    for _ in 0..n {
        ping_tx.send(v).await.expect("echo task hung up");
        v = pong_rx.recv().await.expect("echo task hung up");
    }
    let elapsed = start.elapsed();
    drop(ping_tx);
    echo.await.expect("echo task panicked");
    check(v == n, || format!("pingpong counted {v}, expected {n}"));
    vec![("pingpong", per_op_ns(elapsed, n), "ns/round-trip")]
}

async fn thread_ring(hops: u64) -> Results {
    let (mut senders, receivers): (Vec<_>, Vec<_>) =
        (0..RING).map(|_| mpsc::channel::<u64>(1)).unzip();
    // Task i receives on channel i and sends on channel i+1.
    senders.rotate_left(1);
    let first = senders[RING as usize - 1].clone();
    let (done_tx, mut done_rx) = mpsc::channel::<u64>(1);
    let start = Instant::now();
    let mut handles = Vec::with_capacity(RING as usize);
    for (i, (mut rx, tx)) in receivers.into_iter().zip(senders).enumerate() {
        let done = done_tx.clone();
        handles.push(tokio::spawn(async move {
            while let Some(token) = rx.recv().await {
                if token == 0 {
                    let _ = done.send(i as u64 + 1).await;
                    return;
                }
                if tx.send(token - 1).await.is_err() {
                    return;
                }
            }
        }));
    }
    first.send(hops).await.expect("ring task 1 hung up");
    drop(first);
    let winner = done_rx.recv().await.expect("no ring task finished");
    let elapsed = start.elapsed();
    // The winner returned and dropped its channels: the rest of the ring unwinds in turn.
    for h in handles {
        h.await.expect("ring task panicked");
    }
    check(winner == hops % RING + 1, || {
        format!("thread-ring winner {winner}, expected {}", hops % RING + 1)
    });
    vec![("thread-ring", per_op_ns(elapsed, hops), "ns/hop")]
}

/// One skynet node. A recursive `async fn` needs its future boxed: its type would contain
/// itself otherwise (stackless tasks pay for recursion with allocations, stackful ones with
/// stack).
fn skynet(num: u64, size: u64) -> Pin<Box<dyn Future<Output = u64> + Send>> {
    Box::pin(async move {
        if size == 1 {
            return num;
        }
        let div = size / 10;
        let children: [tokio::task::JoinHandle<u64>; 10] =
            std::array::from_fn(|i| tokio::spawn(skynet(num + i as u64 * div, div)));
        let mut sum = 0;
        for c in children {
            sum += c.await.expect("a skynet task panicked");
        }
        sum
    })
}

async fn skynet_bench(leaves: u64) -> Results {
    let start = Instant::now();
    let sum = tokio::spawn(skynet(0, leaves))
        .await
        .expect("skynet root panicked");
    let elapsed = start.elapsed();
    check(sum == leaves * (leaves - 1) / 2, || {
        format!("skynet sum {sum}")
    });
    vec![("skynet", elapsed.as_secs_f64() * 1e3, "ms")]
}

/// Each task waits on a semaphore with no permits; closing it releases them all, as Go's
/// `close(release)` does.
async fn park(n: u64) -> Results {
    let parked = Arc::new(AtomicU64::new(0));
    let release = Arc::new(Semaphore::new(0));
    let before = measure::memory_bytes();
    let start = Instant::now();
    let handles: Vec<_> = (0..n)
        .map(|_| {
            let parked = parked.clone();
            let release = release.clone();
            tokio::spawn(async move {
                parked.fetch_add(1, Ordering::SeqCst);
                // An error once the semaphore is closed: that is the release.
                let _ = release.acquire().await;
            })
        })
        .collect();
    while parked.load(Ordering::SeqCst) < n {
        tokio::task::yield_now().await;
    }
    let launch = start.elapsed();
    let after = measure::memory_bytes();
    release.close();
    for h in handles {
        h.await.expect("parked task panicked");
    }
    vec![
        ("park-launch", per_op_ns(launch, n), "ns/task"),
        (
            "park-memory",
            after.saturating_sub(before) as f64 / n as f64,
            "B/task",
        ),
    ]
}

async fn select(n: u64) -> Results {
    let (a_tx, mut a_rx) = mpsc::channel::<u64>(1);
    let (b_tx, mut b_rx) = mpsc::channel::<u64>(1);
    let half = n / 2;
    // As in goro's version: keep a sender of each so a finished sender does not close its arm.
    let keep_open = (a_tx.clone(), b_tx.clone());
    let start = Instant::now();
    let fa = tokio::spawn(async move {
        for _ in 0..half {
            a_tx.send(1).await.expect("selector left");
        }
    });
    let fb = tokio::spawn(async move {
        for _ in half..n {
            b_tx.send(2).await.expect("selector left");
        }
    });
    let (mut from_a, mut from_b) = (0, 0);
    for _ in 0..n {
        // `recv` is cancel-safe: the arm that loses leaves its value in the channel.
        tokio::select! {
            v = a_rx.recv() => from_a += v.expect("sender a left early"),
            v = b_rx.recv() => from_b += v.expect("sender b left early"),
        }
    }
    let elapsed = start.elapsed();
    drop(keep_open);
    fa.await.expect("sender a panicked");
    fb.await.expect("sender b panicked");
    check(from_a == half && from_b == 2 * (n - half), || {
        format!("select got {from_a} from a and {} from b", from_b / 2)
    });
    vec![("select", per_op_ns(elapsed, n), "ns/op")]
}

/// One server connection: echo what arrives until the peer closes; returns the bytes echoed.
async fn echo_serve(mut conn: TcpStream) -> u64 {
    conn.set_nodelay(true).expect("set TCP_NODELAY");
    let mut buf = [0u8; 4096];
    let mut echoed = 0;
    loop {
        match conn.read(&mut buf).await.expect("server read") {
            0 => return echoed,
            got => {
                conn.write_all(&buf[..got]).await.expect("server write");
                echoed += got as u64;
            }
        }
    }
}

async fn echo_round(s: &mut TcpStream, i: u64, r: u64) {
    let (mut msg, mut back) = ([0u8; MSG], [0u8; MSG]);
    echo::fill(&mut msg, i, r);
    s.write_all(&msg).await.expect("client write");
    s.read_exact(&mut back).await.expect("client read");
    echo::check_echo(&msg, &back, i, r);
}

/// The echo workload (`echo.rs` describes the shape) with a task per connection on each
/// side. The gate is a semaphore with no permits; closing it opens the gate.
async fn echo_bench(metric: &'static str, conns: u64, n: u64) -> Results {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("listener address");
    let server = tokio::spawn(async move {
        let mut handlers = Vec::with_capacity(conns as usize);
        for _ in 0..conns {
            let (conn, _) = listener.accept().await.expect("accept");
            handlers.push(tokio::spawn(echo_serve(conn)));
        }
        let mut echoed = 0;
        for h in handlers {
            echoed += h.await.expect("a server task panicked");
        }
        echoed
    });
    let gate = Arc::new(Semaphore::new(0));
    let mut clients = Vec::with_capacity(conns as usize);
    for i in 0..conns {
        let mut s = TcpStream::connect(addr).await.expect("connect");
        s.set_nodelay(true).expect("set TCP_NODELAY");
        echo_round(&mut s, i, 0).await;
        let gate = gate.clone();
        clients.push(tokio::spawn(async move {
            let _ = gate.acquire().await; // an error once the gate is closed: the start
            for r in 1..=echo::rounds(i, conns, n) {
                echo_round(&mut s, i, r).await;
            }
        }));
    }
    let start = Instant::now();
    gate.close();
    for c in clients {
        c.await.expect("a client task panicked");
    }
    let elapsed = start.elapsed();
    echo::check_server_total(server.await.expect("the server panicked"), conns, n);
    vec![(metric, per_op_ns(elapsed, n), "ns/round-trip")]
}
