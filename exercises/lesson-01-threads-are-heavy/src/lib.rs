//! Lesson 01: threads are heavy.
//!
//! Everything here measures plain OS threads (`std::thread`), the thing goroutines were invented
//! to avoid. The learner edits `src/harness.rs` (when to take the measurement) and
//! `src/bin/main_exits.rs` (what happens to threads when `main` returns). The rest of this crate
//! is given: reading the kernel's memory counters, a census of live threads, a report.

use std::fmt;
use std::hint::black_box;
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

pub mod harness;

/// How many bytes of its stack each measured thread writes to: a thread that does real work
/// touches some of its stack, and only touched pages cost physical memory.
pub const STACK_TOUCH: usize = 16 * 1024;

// ANCHOR: meminfo
/// Two numbers the kernel keeps for our process, read from `/proc/self/status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemInfo {
    /// `VmSize`: address space reserved (mapped), in bytes, whether or not it was ever touched.
    pub reserved: usize,
    /// `VmRSS`: physical memory actually in use (resident), in bytes.
    pub committed: usize,
}

impl MemInfo {
    /// Reads the counters now.
    pub fn read() -> io::Result<MemInfo> {
        let status = std::fs::read_to_string("/proc/self/status")?;
        let field =
            |name: &str| -> io::Result<usize> {
                status
                .lines()
                .find_map(|line| line.strip_prefix(name))
                .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse::<usize>().ok())
                .map(|kib| kib * 1024)
                .ok_or_else(|| {
                    io::Error::other(format!(
                        "/proc/self/status has no readable `{name}` line; this lesson needs Linux"
                    ))
                })
            };
        Ok(MemInfo {
            reserved: field("VmSize:")?,
            committed: field("VmRSS:")?,
        })
    }
}
// ANCHOR_END: meminfo

/// Counts threads as they start and finish, so a report can say how many were alive at the
/// moment it was measured.
#[derive(Debug, Default)]
pub struct Census {
    started: AtomicUsize,
    finished: AtomicUsize,
}

impl Census {
    /// A new, empty census.
    pub fn new() -> Census {
        Census::default()
    }

    /// Call first thing in a thread; the thread counts as alive until the guard is dropped.
    pub fn enter(&self) -> Alive<'_> {
        self.started.fetch_add(1, Ordering::SeqCst);
        Alive { census: self }
    }

    /// Threads that have entered and not yet left.
    pub fn alive(&self) -> usize {
        // Read `finished` first: a thread that leaves between the two loads is then counted as
        // alive, never as less than dead.
        let finished = self.finished.load(Ordering::SeqCst);
        self.started.load(Ordering::SeqCst) - finished
    }

    /// Threads that have left.
    pub fn finished(&self) -> usize {
        self.finished.load(Ordering::SeqCst)
    }
}

/// Proof that a thread is counted as alive by a [`Census`]; dropping it counts the thread as
/// finished.
#[derive(Debug)]
pub struct Alive<'a> {
    census: &'a Census,
}

impl Drop for Alive<'_> {
    fn drop(&mut self) {
        self.census.finished.fetch_add(1, Ordering::SeqCst);
    }
}

/// Writes `bytes` bytes on the current thread's stack, the way a function with big locals
/// would, so that those stack pages become resident.
#[inline(never)]
pub fn touch_stack(bytes: usize) {
    const CHUNK: usize = 4096;
    #[inline(never)]
    fn recurse(left: usize) -> u8 {
        let page = black_box([left as u8; CHUNK]);
        if left <= CHUNK {
            page[0]
        } else {
            page[CHUNK - 1].wrapping_add(recurse(left - CHUNK))
        }
    }
    black_box(recurse(bytes));
}

// ANCHOR: thread_cost
/// What [`harness::measure`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadCost {
    /// Threads spawned.
    pub threads: usize,
    /// The stack size each thread asked for.
    pub stack_size: usize,
    /// Threads alive at the moment memory was read. Only these are in the numbers below.
    pub alive_at_measurement: usize,
    /// Threads that had finished when `measure` returned.
    pub finished: usize,
    /// Growth of `VmSize` between "before spawning" and "the measurement".
    pub reserved: usize,
    /// Growth of `VmRSS` over the same interval.
    pub committed: usize,
    /// Wall-clock time spent in the spawn loop.
    pub spawn_time: Duration,
}
// ANCHOR_END: thread_cost

impl ThreadCost {
    /// The parts of the report that do not depend on the machine or the moment: the counts,
    /// and on which side of a line the memory numbers fall. Safe to snapshot.
    pub fn summary(&self) -> String {
        let yes_no = |b: bool| if b { "yes" } else { "no" };
        let alive = self.alive_at_measurement.max(1);
        let reserved_each = self.reserved / alive;
        let committed_each = self.committed / alive;
        format!(
            "threads spawned:                     {}\n\
             alive when measured:                 {}\n\
             finished when measure returned:      {}\n\
             reserved per thread >= stack size:   {}\n\
             committed per thread < 1/8 of stack: {}\n",
            self.threads,
            self.alive_at_measurement,
            self.finished,
            yes_no(self.alive_at_measurement > 0 && reserved_each >= self.stack_size),
            yes_no(self.alive_at_measurement > 0 && committed_each < self.stack_size / 8),
        )
    }
}

impl fmt::Display for ThreadCost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let alive = self.alive_at_measurement.max(1);
        writeln!(
            f,
            "{} threads, {} KiB stack each",
            self.threads,
            self.stack_size / 1024
        )?;
        writeln!(f, "alive when measured: {}", self.alive_at_measurement)?;
        writeln!(f, "finished when measure returned: {}", self.finished)?;
        writeln!(
            f,
            "reserved per live thread:  {:>8} KiB",
            self.reserved / alive / 1024
        )?;
        writeln!(
            f,
            "committed per live thread: {:>8} KiB",
            self.committed / alive / 1024
        )?;
        write!(
            f,
            "spawn: {:.1} µs per thread",
            self.spawn_time.as_secs_f64() * 1e6 / self.threads.max(1) as f64
        )
    }
}

// ANCHOR: ping_pong
/// Passes a token back and forth between two OS threads `rounds` times and returns the mean
/// time of one round trip. Each hop wakes a sleeping thread: a trip through the kernel's
/// scheduler, twice per round.
pub fn ping_pong(rounds: u32) -> Duration {
    let (to_pong, pong_rx) = mpsc::channel::<u32>();
    let (to_ping, ping_rx) = mpsc::channel::<u32>();
    let pong = thread::spawn(move || {
        for n in pong_rx {
            if to_ping.send(n + 1).is_err() {
                break;
            }
        }
    });
    let start = Instant::now();
    let mut n = 0;
    for _ in 0..rounds {
        to_pong.send(n).expect("the pong thread is alive");
        n = ping_rx.recv().expect("the pong thread answers");
    }
    let elapsed = start.elapsed();
    drop(to_pong);
    pong.join().expect("the pong thread does not panic");
    elapsed / rounds.max(1)
}
// ANCHOR_END: ping_pong

/// Spawns and joins `n` threads, one after the other, and returns the mean time for one.
pub fn spawn_join(n: u32) -> Duration {
    let start = Instant::now();
    for i in 0..n {
        thread::spawn(move || black_box(i))
            .join()
            .expect("an empty thread does not panic");
    }
    start.elapsed() / n.max(1)
}
