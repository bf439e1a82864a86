//! The goro side of every workload. Each function mirrors its Go twin in `bench/go/main.go`
//! (same sizes, same shape of work, same result check) and its OS-thread version in
//! `threads.rs`. Timing starts inside the runtime, after it is up, as Go's clock starts
//! after its runtime is up.

use crate::echo::{self, MSG};
use crate::goro_chan;
use crate::measure::{self, Job, check, per_op_ns};
use std::io::{Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

/// Runs workload `name` on goro. Returns `false` if there is no goro version.
pub fn run(name: &str, job: &Job) -> bool {
    let n = job.n;
    match name {
        "spawn" => on_runtime(job, move || spawn(n)),
        "spawn-plain" => on_runtime(job, move || spawn_plain(n)),
        "yield" => on_runtime(job, move || yield_(n)),
        "pingpong" => on_runtime(job, move || goro_chan::pingpong(n)),
        "thread-ring" => on_runtime(job, move || goro_chan::thread_ring(n)),

        "skynet" => on_runtime(job, move || skynet_bench(n)),
        "park" => on_runtime(job, move || park(n)),
        "select" => on_runtime(job, move || goro_chan::select(n)),
        "trace" => trace_overhead(job),
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
    }
    true
}

/// Results a workload hands back out of the runtime, printed after it shut down.
pub(crate) type Results = Vec<(&'static str, f64, &'static str)>;

fn on_runtime(job: &Job, f: impl FnOnce() -> Results + Send + 'static) {
    let mut builder = goro::Runtime::builder();
    if let Some(w) = job.workers {
        builder = builder.workers(w);
    }
    let rt = builder
        .build()
        .unwrap_or_else(|e| panic!("cannot start a goro runtime: {e}"));
    let results = rt
        .block_on(f)
        .unwrap_or_else(|e| panic!("the workload did not finish: {e}"));
    for (metric, value, unit) in results {
        job.emit(metric, value, unit);
    }
}

/// What recording an execution trace costs: pingpong untraced, then traced into a file in the
/// temporary directory; the difference in time over the number of events the trace recorded
/// (the trace file says how many). Writing the file happens after the timed loop.
fn trace_overhead(job: &Job) {
    let n = job.n;
    let build = |trace: Option<&std::path::Path>| {
        let mut b = goro::Runtime::builder();
        if let Some(w) = job.workers {
            b = b.workers(w);
        }
        if let Some(p) = trace {
            b = b.trace(p);
        }
        b.build()
            .unwrap_or_else(|e| panic!("cannot start a goro runtime: {e}"))
    };
    let time = |rt: goro::Runtime| {
        rt.block_on(move || goro_chan::pingpong(n))
            .unwrap_or_else(|e| panic!("the workload did not finish: {e}"))[0]
            .1
    };
    let path = std::env::temp_dir().join(format!("goro-bench-trace-{}.json", std::process::id()));
    let plain = time(build(None));
    let traced = time(build(Some(&path)));
    // The count is in the header, at the start of the file: read only that (parsing the
    // whole trace would measure serde_json's memory, not goro's).
    let mut head = [0u8; 512];
    let got = std::fs::File::open(&path)
        .and_then(|mut f| std::io::Read::read(&mut f, &mut head))
        .unwrap_or_else(|e| panic!("the traced run wrote no trace at {}: {e}", path.display()));
    let _ = std::fs::remove_file(&path);
    let head = String::from_utf8_lossy(&head[..got]);
    let events: u64 = head
        .split_once("\"events\":")
        .and_then(|(_, rest)| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|digits| digits.parse().ok())
        .unwrap_or_else(|| panic!("the trace's header has no \"events\" count: {head}"));
    check(events > 0, || "the traced run recorded no events".into());
    // Per-round-trip times, times n: whole-loop nanoseconds.
    let ns = ((traced - plain) * n as f64 / events as f64).max(0.0);
    job.emit("trace", ns, "ns/event");
}

/// Like the Go twin: a `WaitGroup` counts the tasks and each adds its number to a shared sum,
/// so no task's result outlives it (a `JoinHandle` per task would keep a million finished task
/// records alive until joined, which Go's version does not do).
fn spawn(n: u64) -> Results {
    struct Tally {
        wg: goro::sync::WaitGroup,
        sum: AtomicU64,
    }
    // Shared by reference, as the Go closures share `wg` and `sum`: an `Arc` clone per task
    // would add a third cache line that both CPUs write for every task (its count). The one
    // allocation lives until the process exits, right after this run.
    let tally: &'static Tally = Box::leak(Box::new(Tally {
        wg: goro::sync::WaitGroup::new(),
        sum: AtomicU64::new(0),
    }));
    let start = Instant::now();
    for i in 0..n {
        tally.wg.add(1);
        // Dropping the handle detaches the task, as `go f()` does.
        drop(goro::spawn(move || {
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

/// Go's plain shape: `wg.Add(1); go func() { wg.Done() }()`, then `wg.Wait()`. Returning
/// from `wait` is the check: it returns only once every task has run.
fn spawn_plain(n: u64) -> Results {
    let wg: &'static goro::sync::WaitGroup = Box::leak(Box::new(goro::sync::WaitGroup::new()));
    let start = Instant::now();
    for _ in 0..n {
        wg.add(1);
        drop(goro::spawn(move || wg.done()));
    }
    wg.wait();
    vec![("spawn-plain", per_op_ns(start.elapsed(), n), "ns/task")]
}

fn yield_(n: u64) -> Results {
    let start = Instant::now();
    let a = goro::spawn(move || (0..n).for_each(|_| goro::yield_now()));
    let b = goro::spawn(move || (0..n).for_each(|_| goro::yield_now()));
    a.join().expect("yield task panicked");
    b.join().expect("yield task panicked");
    vec![("yield", per_op_ns(start.elapsed(), 2 * n), "ns/yield")]
}

// ANCHOR: skynet
/// One skynet node: a leaf returns its number; an inner node spawns 10 children and sums
/// what they return. `join` plays the part of the channel in the Go version.
fn skynet(num: u64, size: u64) -> u64 {
    if size == 1 {
        return num;
    }
    let div = size / 10;
    let children: [goro::JoinHandle<u64>; 10] =
        std::array::from_fn(|i| goro::spawn(move || skynet(num + i as u64 * div, div)));
    children
        .into_iter()
        .map(|c| c.join().expect("a skynet task panicked"))
        .sum()
}

fn skynet_bench(leaves: u64) -> Results {
    let start = Instant::now();
    let sum = goro::spawn(move || skynet(0, leaves))
        .join()
        .expect("skynet root panicked");
    let elapsed = start.elapsed();
    check(sum == leaves * (leaves - 1) / 2, || {
        format!("skynet sum {sum}")
    });
    vec![("skynet", elapsed.as_secs_f64() * 1e3, "ms")]
}
// ANCHOR_END: skynet

fn park(n: u64) -> Results {
    let parked = Arc::new(AtomicU64::new(0));
    let released = Arc::new(AtomicBool::new(false));
    let before = measure::memory_bytes();
    let start = Instant::now();
    let handles: Vec<_> = (0..n)
        .map(|_| {
            let parked = parked.clone();
            let released = released.clone();
            goro::spawn(move || {
                parked.fetch_add(1, Ordering::SeqCst);
                while !released.load(Ordering::SeqCst) {
                    goro::park();
                }
            })
        })
        .collect();
    while parked.load(Ordering::SeqCst) < n {
        goro::yield_now();
    }
    let launch = start.elapsed();
    let after = measure::memory_bytes();
    released.store(true, Ordering::SeqCst);
    for h in &handles {
        h.task().unpark();
    }
    for h in handles {
        h.join().expect("parked task panicked");
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

// ANCHOR: echo
/// One server connection: echo what arrives until the peer closes; returns the bytes echoed.
fn echo_serve(conn: goro::net::TcpStream) -> u64 {
    conn.set_nodelay(true).expect("set TCP_NODELAY");
    let mut buf = [0u8; 4096];
    let mut echoed = 0;
    loop {
        match (&conn).read(&mut buf).expect("server read") {
            0 => return echoed,
            got => {
                (&conn).write_all(&buf[..got]).expect("server write");
                echoed += got as u64;
            }
        }
    }
}

/// One round trip on connection `i`: send round `r`'s message, read it back, check it.
fn echo_round(s: &mut goro::net::TcpStream, i: u64, r: u64) {
    let (mut msg, mut back) = ([0u8; MSG], [0u8; MSG]);
    echo::fill(&mut msg, i, r);
    s.write_all(&msg).expect("client write");
    s.read_exact(&mut back).expect("client read");
    echo::check_echo(&msg, &back, i, r);
}

/// The echo workload (`echo.rs` describes the shape): a task per connection on each side.
fn echo_bench(metric: &'static str, conns: u64, n: u64) -> Results {
    let listener = goro::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("listener address");
    let server = goro::spawn(move || {
        let handlers: Vec<_> = (0..conns)
            .map(|_| {
                let (conn, _) = listener.accept().expect("accept");
                goro::spawn(move || echo_serve(conn))
            })
            .collect();
        handlers
            .into_iter()
            .map(|h| h.join().expect("a server task panicked"))
            .sum::<u64>()
    });
    let (open, gate) = goro::chan::bounded::<()>(0);
    let clients: Vec<_> = (0..conns)
        .map(|i| {
            let mut s = goro::net::TcpStream::connect(addr).expect("connect");
            s.set_nodelay(true).expect("set TCP_NODELAY");
            echo_round(&mut s, i, 0);
            let gate = gate.clone();
            goro::spawn(move || {
                let _ = gate.recv(); // an error once `open` is dropped: the start
                for r in 1..=echo::rounds(i, conns, n) {
                    echo_round(&mut s, i, r);
                }
            })
        })
        .collect();
    let start = Instant::now();
    drop(open);
    for c in clients {
        c.join().expect("a client task panicked");
    }
    let elapsed = start.elapsed();
    echo::check_server_total(server.join().expect("the server panicked"), conns, n);
    vec![(metric, per_op_ns(elapsed, n), "ns/round-trip")]
}
// ANCHOR_END: echo
