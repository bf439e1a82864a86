//! The `may` side of every workload: may's stackful coroutines with its default
//! configuration (one worker per CPU, workers pinned to CPUs, 32 KiB stacks with an
//! `mprotect`ed guard page each). Same sizes, same shape of work and the same result checks
//! as `goro_impl.rs` and the Go twins.
//!
//! What differs, because may's natural tools differ:
//! - may's `spawn` is `unsafe`: a coroutine may move between OS threads, so a thread-local it
//!   reads can change under it, and a coroutine that overflows its small stack is undefined
//!   behaviour unless the guard page catches it. Every spawn here goes through [`go`], whose
//!   `SAFETY` comment says why these closures are fine;
//! - each stack's guard page is a separate `mprotect`ed mapping, so a process can hold only
//!   about `vm.max_map_count / 2` coroutines (about 32,700 here): `park` and `skynet` at full
//!   size fail, and the suite shows them as failed with the reason;
//! - may's channels are unbounded (no rendezvous channel): with one value in flight
//!   (ping-pong, the ring's token) they make the same hand-offs; in `select` the senders can
//!   run ahead of the selector;
//! - may's `select!` runs each arm in a coroutine of its own (its `cqueue`), per select, and
//!   can complete more than one arm: `select` counts messages, not selects;
//! - the wait group is an atomic counter plus park/unpark of the waiting coroutine, which is
//!   what Go's `sync.WaitGroup` is (may's own `WaitGroup` takes a mutex per task).

use crate::echo::{self, MSG};
use crate::goro_impl::Results;
use crate::measure::{self, Job, check, per_op_ns};
use crate::threads::RING;
use may::coroutine::{self, JoinHandle};
use may::sync::mpsc;
use std::io::{Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

/// Runs workload `name` on may. Returns `false` if there is no may version.
pub fn run(name: &str, job: &Job) -> bool {
    let n = job.n;
    let results = match name {
        "spawn" => on_runtime(job, move || spawn(n)),
        "spawn-plain" => on_runtime(job, move || spawn_plain(n)),
        "yield" => on_runtime(job, move || yield_(n)),
        "pingpong" => on_runtime(job, move || pingpong(n)),
        "thread-ring" => on_runtime(job, move || thread_ring(n)),
        "skynet" => on_runtime(job, move || skynet_bench(n)),
        "park" => on_runtime(job, move || park(n)),
        // Not in the suite (spec.rs says why); `goro-bench run --system may select` runs it.
        "select" => on_runtime(job, move || select(n)),
        "echo-latency" | "echo-throughput" => {
            let metric = if name == "echo-latency" {
                "echo-latency"
            } else {
                "echo-throughput"
            };
            let conns = echo::conns(name, n);
            echo::raise_fd_limit(conns);
            on_runtime(job, move || echo_bench(metric, conns, n))
        }
        _ => return false,
    };
    for (metric, value, unit) in results {
        job.emit(metric, value, unit);
    }
    true
}

/// Runs the body in a coroutine, as Go's `main` runs in a goroutine.
fn on_runtime(job: &Job, body: impl FnOnce() -> Results + Send + 'static) -> Results {
    if let Some(w) = job.workers {
        may::config().set_workers(w);
    }
    go(body).join().expect("the workload panicked")
}

/// Spawns a coroutine, or stops the process with the reason when may reports an error. Past
/// about 32,700 live coroutines may does not report one: its stack allocator (crate
/// `generator`) panics with "failed to alloc sys stack ... Cannot allocate memory" when the
/// guard page's mapping is refused, and the harness quotes that panic.
fn go<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    // SAFETY: may's spawn is unsafe for two reasons, and neither applies to these closures:
    // they use no thread-locals of their own (a coroutine can resume on another OS thread,
    // so a thread-local could change under it), and they need little stack (no recursion
    // deeper than skynet's 7 levels, each its own coroutine; nothing large on the stack), far
    // from may's 32 KiB default.
    match unsafe { coroutine::Builder::new().spawn(f) } {
        Ok(h) => h,
        Err(e) => {
            eprintln!("goro-bench: may could not create a coroutine: {e}");
            std::process::exit(4);
        }
    }
}

/// Go's `sync.WaitGroup` in may terms: a counter, and park/unpark for the one waiter.
struct WaitGroup {
    count: AtomicU64,
    waiter: coroutine::Coroutine,
}

impl WaitGroup {
    /// A wait group whose `wait` is called by the current coroutine.
    fn new() -> Self {
        WaitGroup {
            count: AtomicU64::new(0),
            waiter: coroutine::current(),
        }
    }

    fn add(&self, n: u64) {
        self.count.fetch_add(n, Ordering::Relaxed);
    }

    fn done(&self) {
        if self.count.fetch_sub(1, Ordering::AcqRel) == 1 {
            // may's unpark leaves a permit if the waiter is not parked yet.
            self.waiter.unpark();
        }
    }

    fn wait(&self) {
        while self.count.load(Ordering::Acquire) != 0 {
            coroutine::park();
        }
    }
}

fn spawn(n: u64) -> Results {
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
        // Dropping the handle detaches the coroutine, as `go f()` does.
        drop(go(move || {
            tally.sum.fetch_add(i, Ordering::Relaxed);
            tally.wg.done();
        }));
    }
    tally.wg.wait();
    let elapsed = start.elapsed();
    let sum = tally.sum.load(Ordering::Relaxed);
    check(sum == n * (n - 1) / 2, || format!("spawn sum {sum}"));
    vec![("spawn", per_op_ns(elapsed, n), "ns/task")]
}

fn spawn_plain(n: u64) -> Results {
    let wg: &'static WaitGroup = Box::leak(Box::new(WaitGroup::new()));
    let start = Instant::now();
    for _ in 0..n {
        wg.add(1);
        drop(go(move || wg.done()));
    }
    wg.wait();
    // Returning from `wait` is the check: it returns only once every task has run.
    vec![("spawn-plain", per_op_ns(start.elapsed(), n), "ns/task")]
}

fn yield_(n: u64) -> Results {
    let start = Instant::now();
    let a = go(move || (0..n).for_each(|_| coroutine::yield_now()));
    let b = go(move || (0..n).for_each(|_| coroutine::yield_now()));
    a.join().expect("yield coroutine panicked");
    b.join().expect("yield coroutine panicked");
    vec![("yield", per_op_ns(start.elapsed(), 2 * n), "ns/yield")]
}

fn pingpong(n: u64) -> Results {
    let (ping_tx, ping_rx) = mpsc::channel::<u64>();
    let (pong_tx, pong_rx) = mpsc::channel::<u64>();
    let start = Instant::now();
    let echo = go(move || {
        while let Ok(v) = ping_rx.recv() {
            pong_tx.send(v + 1).expect("pinger hung up");
        }
    });
    let mut v = 0;
    for _ in 0..n {
        ping_tx.send(v).expect("echo coroutine hung up");
        v = pong_rx.recv().expect("echo coroutine hung up");
    }
    let elapsed = start.elapsed();
    drop(ping_tx);
    echo.join().expect("echo coroutine panicked");
    check(v == n, || format!("pingpong counted {v}, expected {n}"));
    vec![("pingpong", per_op_ns(elapsed, n), "ns/round-trip")]
}

fn thread_ring(hops: u64) -> Results {
    let (mut senders, receivers): (Vec<_>, Vec<_>) =
        (0..RING).map(|_| mpsc::channel::<u64>()).unzip();
    // Coroutine i receives on channel i and sends on channel i+1.
    senders.rotate_left(1);
    let first = senders[RING as usize - 1].clone();
    let (done_tx, done_rx) = mpsc::channel::<u64>();
    let start = Instant::now();
    let mut handles = Vec::with_capacity(RING as usize);
    for (i, (rx, tx)) in receivers.into_iter().zip(senders).enumerate() {
        let done = done_tx.clone();
        handles.push(go(move || {
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
    first.send(hops).expect("ring coroutine 1 hung up");
    drop(first);
    let winner = done_rx.recv().expect("no ring coroutine finished");
    let elapsed = start.elapsed();
    // The winner returned and dropped its channels: the rest of the ring unwinds in turn.
    for h in handles {
        h.join().expect("ring coroutine panicked");
    }
    check(winner == hops % RING + 1, || {
        format!("thread-ring winner {winner}, expected {}", hops % RING + 1)
    });
    vec![("thread-ring", per_op_ns(elapsed, hops), "ns/hop")]
}

fn skynet(num: u64, size: u64) -> u64 {
    if size == 1 {
        return num;
    }
    let div = size / 10;
    let children: [JoinHandle<u64>; 10] =
        std::array::from_fn(|i| go(move || skynet(num + i as u64 * div, div)));
    children
        .into_iter()
        .map(|c| c.join().expect("a skynet coroutine panicked"))
        .sum()
}

fn skynet_bench(leaves: u64) -> Results {
    let start = Instant::now();
    let sum = go(move || skynet(0, leaves))
        .join()
        .expect("skynet root panicked");
    let elapsed = start.elapsed();
    check(sum == leaves * (leaves - 1) / 2, || {
        format!("skynet sum {sum}")
    });
    vec![("skynet", elapsed.as_secs_f64() * 1e3, "ms")]
}

fn park(n: u64) -> Results {
    let parked = Arc::new(AtomicU64::new(0));
    let released = Arc::new(AtomicBool::new(false));
    let before = measure::memory_bytes();
    let start = Instant::now();
    let handles: Vec<_> = (0..n)
        .map(|_| {
            let parked = parked.clone();
            let released = released.clone();
            go(move || {
                parked.fetch_add(1, Ordering::SeqCst);
                while !released.load(Ordering::SeqCst) {
                    coroutine::park();
                }
            })
        })
        .collect();
    while parked.load(Ordering::SeqCst) < n {
        coroutine::yield_now();
    }
    let launch = start.elapsed();
    let after = measure::memory_bytes();
    released.store(true, Ordering::SeqCst);
    for h in &handles {
        h.coroutine().unpark();
    }
    for h in handles {
        h.join().expect("parked coroutine panicked");
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

fn select(n: u64) -> Results {
    let (a_tx, a_rx) = mpsc::channel::<u64>();
    let (b_tx, b_rx) = mpsc::channel::<u64>();
    let half = n / 2;
    // As in goro's version: keep a sender of each so a finished sender does not close its arm.
    let keep_open = (a_tx.clone(), b_tx.clone());
    let start = Instant::now();
    let fa = go(move || (0..half).for_each(|_| a_tx.send(1).expect("selector left")));
    let fb = go(move || (half..n).for_each(|_| b_tx.send(2).expect("selector left")));
    // a sends 1s and b sends 2s, so the sums count the messages. may's select runs both arms
    // as coroutines and can complete both in one select (each arm's body runs once its
    // receive returns), so the loop counts messages rather than selects.
    let (mut from_a, mut from_b) = (0, 0);
    while from_a + from_b / 2 < n {
        may::select!(
            v = a_rx.recv() => from_a += v.expect("sender a left early"),
            v = b_rx.recv() => from_b += v.expect("sender b left early")
        );
    }
    let elapsed = start.elapsed();
    drop(keep_open);
    fa.join().expect("sender a panicked");
    fb.join().expect("sender b panicked");
    check(from_a == half && from_b == 2 * (n - half), || {
        format!("select got {from_a} from a and {} from b", from_b / 2)
    });
    vec![("select", per_op_ns(elapsed, n), "ns/op")]
}

/// One server connection: echo what arrives until the peer closes; returns the bytes echoed.
fn echo_serve(mut conn: may::net::TcpStream) -> u64 {
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

fn echo_round(s: &mut may::net::TcpStream, i: u64, r: u64) {
    let (mut msg, mut back) = ([0u8; MSG], [0u8; MSG]);
    echo::fill(&mut msg, i, r);
    s.write_all(&msg).expect("client write");
    s.read_exact(&mut back).expect("client read");
    echo::check_echo(&msg, &back, i, r);
}

/// The echo workload (`echo.rs` describes the shape) with a coroutine per connection on each
/// side, on may's own `net` types. The gate is may's `SyncFlag`.
fn echo_bench(metric: &'static str, conns: u64, n: u64) -> Results {
    let listener = may::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("listener address");
    let server = go(move || {
        let handlers: Vec<_> = (0..conns)
            .map(|_| {
                let (conn, _) = listener.accept().expect("accept");
                go(move || echo_serve(conn))
            })
            .collect();
        handlers
            .into_iter()
            .map(|h| h.join().expect("a server coroutine panicked"))
            .sum::<u64>()
    });
    let gate = Arc::new(may::sync::SyncFlag::new());
    let clients: Vec<_> = (0..conns)
        .map(|i| {
            let mut s = may::net::TcpStream::connect(addr).expect("connect");
            s.set_nodelay(true).expect("set TCP_NODELAY");
            echo_round(&mut s, i, 0);
            let gate = gate.clone();
            go(move || {
                gate.wait();
                for r in 1..=echo::rounds(i, conns, n) {
                    echo_round(&mut s, i, r);
                }
            })
        })
        .collect();
    let start = Instant::now();
    gate.fire();
    for c in clients {
        c.join().expect("a client coroutine panicked");
    }
    let elapsed = start.elapsed();
    echo::check_server_total(server.join().expect("the server panicked"), conns, n);
    vec![(metric, per_op_ns(elapsed, n), "ns/round-trip")]
}
