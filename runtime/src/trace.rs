//! The execution trace: what every worker did and when, written as a Chrome/Perfetto
//! trace-event JSON file that <https://ui.perfetto.dev> opens.
//!
//! Turn it on with [`Builder::trace`](crate::runtime::Builder::trace) or the environment
//! variable `GORO_TRACE=path` (the builder wins). The run then records, with a timestamp:
//! spawns, each task's runs on a worker (start and stop, and why it stopped: a park with its
//! wait reason, a yield, an exit), unparks (by which task, or by a thread outside the
//! workers), steals (from which worker, how many), `task::blocking` calls, waits for a socket,
//! sysmon's preemption requests, and workers going to sleep and waking. When the run ends
//! (`block_on` returns) the events are written to the file:
//!
//! - one track per worker (`"worker N"`), one for sysmon, one for other threads;
//! - each run of a task is a slice named `G<id>` (and its name, if it has one);
//! - parks, yields, steals, sleeps are instant events or slices on the worker's track;
//! - an arrow (a flow event) goes from each unpark to the run it caused, and from each spawn
//!   to the new task's first run.
//!
//! Recording takes no lock on a worker: each worker appends to its own buffer, and only
//! events from other threads (a foreign waker, sysmon) go through a mutex. Memory is bounded:
//! a buffer holds `CHUNK` events (2 MiB), and a full one goes, as Go's tracer hands full
//! buffers to its reader, to the run's writer thread (`goro-trace`), which appends it to a
//! spill file beside the output (`PATH.spill-N`, one per thread that records) and sends it back
//! empty for reuse. So the file I/O, and the page faults of fresh buffers, stay off the
//! workers: a worker that fills a buffer only sends it and takes an emptied one. Each thread
//! has at most `BUFFERS` buffers (8 MiB); when the writer falls behind, the worker waits for
//! one to come back (nothing is dropped for being late). Only a failed write drops events, as
//! it always did: the buffer that failed is kept in memory and later events of that thread
//! are dropped, counted, and the trace says how many. When the run ends, `finish` stops the
//! writer once it has written everything it was sent, reads the spill files back in order and
//! removes them, and writes the trace.
//!
//! When no run traces, every event site costs one compare of a global flag and a branch that
//! is never taken (about 3 instructions with the register it keeps live: callgrind counts
//! ping-pong at 747.7 instructions per round trip against 727.8 without the hooks; a round
//! trip passes 6 state changes). Folding the check into branches the switch path already takes
//! (`deterministic`) would remove most of it, at the price of hooks outside `TaskState::set`.
//! The task-state events are hooked in one place, `TaskState::set` (`task/state.rs`); the
//! others at the scheduler's steal and idle points, `task::blocking`, the netpoller and sysmon.
//!
//! When a run traces, an event on a worker costs a timestamp, the worker's thread-local (one
//! more for an unpark or a yield, to learn who is running), and a store into the buffer; the
//! event is built in the buffer itself (see `record_in`).
//!
//! Timestamps: the CPU's time-stamp counter on x86_64 (`rdtsc`, cheaper than `clock_gettime`
//! on the machines this was measured on, yet the largest part of an event's cost there: about
//! 26 ns a read in a loop, against 43 ns for `clock_gettime`), scaled to nanoseconds against
//! the monotonic clock read at the start and end of the run; `CLOCK_MONOTONIC` elsewhere.
//!
//! Go counterpart: `runtime/trace` (`trace.Start`, `go tool trace`). Lesson: 16
//! (introspection).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::task::record::Header;
use crate::task::state::{State, TaskState, WaitReason};

/// Whether any run in the process traces now: every event site reads it. A byte, so the check
/// is one compare with memory and a branch.
static ON: AtomicBool = AtomicBool::new(false);
/// How many runs trace now (`ON` is whether this is not zero; both change under this lock).
static TRACING_RUNS: Mutex<usize> = Mutex::new(0);

/// Events a buffer holds before it is handed to the writer (32 bytes each: 2 MiB).
const CHUNK: usize = 1 << 16;
/// Buffers one sink may have at once: the one it fills, the rest with the writer or emptied
/// and waiting to be reused (8 MiB a thread at most).
const BUFFERS: usize = 4;

/// Track of sysmon's events.
const TRACK_SYSMON: u16 = u16::MAX - 1;
/// Track of events from threads outside the workers (foreign wakers, spare threads).
const TRACK_OTHER: u16 = u16::MAX;

/// Whether any run traces: the one branch every event site pays when none does.
#[inline(always)]
pub(crate) fn on() -> bool {
    ON.load(Ordering::Relaxed)
}

/// What happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Kind {
    /// `a` spawned by `b` (0: from outside any task).
    Spawn = 0,
    /// Task `a` starts running.
    Start,
    /// Task `a` parks; `x` is the wait reason.
    Park,
    /// Task `a` yields.
    Yield,
    /// Task `a` is done.
    Exit,
    /// Task `a` is made runnable by task `b` (0: not by a task).
    Unpark,
    /// `n` tasks stolen from worker `a`.
    Steal,
    /// Task `a` enters `task::blocking`.
    BlockingEnter,
    /// Task `a` is back from `task::blocking`.
    BlockingExit,
    /// Task `a` waits for a socket to become readable (`n` = 0) or writable (1).
    IoWait,
    /// Sysmon asks worker `a`'s running task to yield (it ran `n` ms).
    Preempt,
    /// The worker goes to sleep.
    Sleep,
    /// The worker wakes up.
    Wake,
}

impl Kind {
    const ALL: [Kind; 13] = [
        Kind::Spawn,
        Kind::Start,
        Kind::Park,
        Kind::Yield,
        Kind::Exit,
        Kind::Unpark,
        Kind::Steal,
        Kind::BlockingEnter,
        Kind::BlockingExit,
        Kind::IoWait,
        Kind::Preempt,
        Kind::Sleep,
        Kind::Wake,
    ];
}

/// One recorded event: no pointers, so it is stored as its 32 bytes (`encode`) and a full
/// buffer goes to its spill file as it is.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Event {
    ts: u64,
    a: u64,
    b: u64,
    n: u32,
    track: u16,
    kind: Kind,
    x: u8,
}

const EVENT_BYTES: usize = 32;

/// An event as a buffer holds it (`Event::encode`).
type Encoded = [u8; EVENT_BYTES];

impl Event {
    /// The event's `EVENT_BYTES` bytes: its fields little-endian, in declaration order. What
    /// a buffer holds, so a full one is written to its spill file as it is.
    #[inline(always)]
    fn encode(&self) -> Encoded {
        let mut out = [0; EVENT_BYTES];
        out[0..8].copy_from_slice(&self.ts.to_le_bytes());
        out[8..16].copy_from_slice(&self.a.to_le_bytes());
        out[16..24].copy_from_slice(&self.b.to_le_bytes());
        out[24..28].copy_from_slice(&self.n.to_le_bytes());
        out[28..30].copy_from_slice(&self.track.to_le_bytes());
        out[30] = self.kind as u8;
        out[31] = self.x;
        out
    }

    /// The event `encode` wrote into `b` (its first `EVENT_BYTES` bytes).
    fn decode(b: &[u8]) -> Event {
        let u64_at = |i: usize| u64::from_le_bytes(b[i..i + 8].try_into().expect("8 bytes"));
        Event {
            ts: u64_at(0),
            a: u64_at(8),
            b: u64_at(16),
            n: u32::from_le_bytes(b[24..28].try_into().expect("4 bytes")),
            track: u16::from_le_bytes(b[28..30].try_into().expect("2 bytes")),
            kind: Kind::ALL[b[30] as usize % Kind::ALL.len()],
            x: b[31],
        }
    }
}

/// The monotonic tick count events are stamped with.
#[inline(always)]
fn ticks() -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: `rdtsc` is available on every x86_64 CPU and has no memory effects.
        unsafe { core::arch::x86_64::_rdtsc() }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let mut t = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `t` is a valid timespec to write; CLOCK_MONOTONIC always exists.
        unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut t) };
        t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
    }
}

/// A buffer of events (one per worker, one for other threads), bounded by handing full ones to
/// the run's writer thread.
pub(crate) struct Sink {
    /// The buffer being filled: at most `CHUNK` events, encoded (so the writer writes it as it
    /// is, with no pass over it of its own).
    events: Vec<Encoded>,
    /// Where full buffers of this sink go (shared with the writer).
    spill: Arc<Spill>,
    /// The run's writer thread.
    writer: WriterLink,
    /// Emptied buffers coming back from the writer.
    free: Receiver<Vec<Encoded>>,
    /// Buffers this sink has allocated (at most `BUFFERS`): the one it fills, those in flight
    /// to the writer and those waiting in `free`.
    buffers: usize,
    /// Names of named tasks spawned here.
    names: Vec<(u64, Box<str>)>,
    /// Events dropped here after a spill failed (the writer counts those it drops itself).
    dropped: u64,
}

impl Sink {
    fn new(spill_path: PathBuf, writer: &WriterLink) -> Sink {
        let (back, free) = mpsc::channel();
        Sink {
            events: Vec::with_capacity(1024),
            spill: Arc::new(Spill {
                path: spill_path,
                file: Mutex::new(SpillFile::default()),
                failed: AtomicBool::new(false),
                back,
            }),
            writer: writer.clone(),
            free,
            buffers: 1,
            names: Vec::new(),
            dropped: 0,
        }
    }

    /// Appends an event: one compare with `CHUNK` and `Vec::push` while the buffer has room.
    #[inline(always)]
    fn push(&mut self, e: Event) {
        if self.events.len() == CHUNK {
            self.hand_off();
        }
        self.events.push(e.encode());
    }

    /// The buffer is full: hands it to the writer and goes on in an empty one (a returned
    /// buffer, a new one while this sink has fewer than `BUFFERS`, else waits for one: the
    /// writer is behind). Once a spill failed, empties the buffer instead (counted in
    /// `dropped`); with no writer to take it, the buffer is kept as if its write had failed.
    /// Leaves `events` empty either way.
    #[cold]
    #[inline(never)]
    fn hand_off(&mut self) {
        if self.spill.failed.load(Ordering::Acquire) {
            self.dropped += self.events.len() as u64;
            self.events.clear();
            return;
        }
        let full = std::mem::take(&mut self.events);
        match self
            .writer
            .tx
            .send(ToWriter::Full(self.spill.clone(), full))
        {
            Ok(()) => self.events = self.empty_buffer(),
            Err(mpsc::SendError(msg)) => {
                // No writer: it could not start, or the run's trace is already written.
                let ToWriter::Full(_, mut full) = msg else {
                    unreachable!("only full buffers are sent from a sink")
                };
                // As when a write fails: this buffer stays in memory, what comes next is
                // dropped.
                lock(&self.spill.file).kept.append(&mut full);
                self.spill.fail(&io::Error::other(
                    "the trace's writer thread is not running",
                ));
                self.events = full;
            }
        }
    }

    /// An empty buffer with room for `CHUNK` events.
    fn empty_buffer(&mut self) -> Vec<Encoded> {
        if let Ok(v) = self.free.try_recv() {
            return v;
        }
        if self.buffers < BUFFERS {
            self.buffers += 1;
            return Vec::with_capacity(CHUNK);
        }
        // Backpressure: the writer holds every other buffer; wait for it to empty one.
        while self.writer.alive.load(Ordering::Acquire) {
            if let Ok(v) = self.free.recv_timeout(Duration::from_millis(10)) {
                return v;
            }
        }
        // The writer died (a bug; its thread reported the panic): go on in a new buffer, and
        // the next hand-off finds no writer and keeps that buffer in memory.
        self.free
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(CHUNK))
    }

    /// Every event of this sink, spilled ones first. Only once the writer has stopped.
    fn drain(mut self) -> io::Result<Drained> {
        let spilled = std::mem::take(&mut *lock(&self.spill.file));
        let mut all = Vec::new();
        if let Some(file) = spilled.file {
            drop(file);
            let mut bytes = Vec::new();
            File::open(&self.spill.path)?.read_to_end(&mut bytes)?;
            let _ = std::fs::remove_file(&self.spill.path);
            all.extend(bytes.chunks_exact(EVENT_BYTES).map(Event::decode));
        }
        // The buffer whose write failed; then nothing after it (the old rule: keep what is in
        // memory, drop what comes next).
        all.extend(spilled.kept.iter().map(|b| Event::decode(b)));
        let mut dropped = self.dropped + spilled.dropped;
        if self.spill.failed.load(Ordering::Acquire) {
            dropped += self.events.len() as u64;
        } else {
            all.extend(self.events.iter().map(|b| Event::decode(b)));
        }
        Ok((all, std::mem::take(&mut self.names), dropped))
    }
}

/// A sink's spill file, shared by the sink (which hands it buffers) and the writer thread
/// (which alone writes it, until it stops; then `Sink::drain` reads it).
struct Spill {
    path: PathBuf,
    file: Mutex<SpillFile>,
    /// A write failed: the writer keeps the buffer it could not write and drops the ones after
    /// it, and the sink drops what it records from then on (both counted).
    failed: AtomicBool,
    /// Where the writer sends emptied buffers back (the sink's `free`).
    back: Sender<Vec<Encoded>>,
}

/// The writer's side of a spill file.
#[derive(Default)]
struct SpillFile {
    /// The file, once the first buffer is written.
    file: Option<File>,
    /// The buffer whose write failed (its events stay in memory, as the first ones).
    kept: Vec<Encoded>,
    /// Events of buffers that arrived after a failed write.
    dropped: u64,
}

impl Spill {
    /// Appends `events` to the file (on the writer thread).
    fn write(&self, events: &[Encoded]) {
        let mut f = lock(&self.file);
        if self.failed.load(Ordering::Acquire) {
            f.dropped += events.len() as u64;
            return;
        }
        let bytes = events.as_flattened();
        let res = match &mut f.file {
            Some(file) => file.write_all(bytes),
            None => File::create(&self.path).and_then(|mut file| {
                let res = file.write_all(bytes);
                f.file = Some(file);
                res
            }),
        };
        if let Err(e) = res {
            f.kept.extend_from_slice(events);
            drop(f);
            self.fail(&e);
        }
    }

    /// Marks the spill failed and says so (once).
    fn fail(&self, e: &io::Error) {
        if !self.failed.swap(true, Ordering::AcqRel) {
            eprintln!(
                "goro: trace: cannot spill events to {}: {e}; later events of this thread are \
                 dropped (free disk space or trace a shorter run)",
                self.path.display()
            );
        }
    }
}

/// A message to the writer thread.
enum ToWriter {
    /// A full buffer, to append to its sink's spill file and send back empty.
    Full(Arc<Spill>, Vec<Encoded>),
    /// The run is over: every buffer sent before this one is written.
    Stop,
}

/// What a sink holds of the run's writer thread.
#[derive(Clone)]
struct WriterLink {
    tx: Sender<ToWriter>,
    /// False once the writer's loop has ended (stopped, or died), so no sink waits for it.
    alive: Arc<AtomicBool>,
}

/// The writer thread's loop: writes each full buffer to its spill file and hands it back
/// emptied, until told to stop.
fn write_spills(rx: Receiver<ToWriter>, alive: Arc<AtomicBool>) {
    /// Says the loop has ended however it ends, a panic included.
    struct Ended(Arc<AtomicBool>);
    impl Drop for Ended {
        fn drop(&mut self) {
            self.0.store(false, Ordering::Release);
        }
    }
    let _ended = Ended(alive);
    while let Ok(ToWriter::Full(spill, mut events)) = rx.recv() {
        spill.write(&events);
        events.clear();
        // The sink may be gone (drained after a failure): then the buffer is just freed.
        let _ = spill.back.send(events);
    }
}

/// Starts a writer thread ("goro-trace"). Without one (the system refused a thread) the link
/// leads nowhere: the first spill says so, and each thread's trace keeps what fits in memory.
fn start_writer() -> (WriterLink, Option<JoinHandle<()>>) {
    let (tx, rx) = mpsc::channel();
    let alive = Arc::new(AtomicBool::new(true));
    let link = WriterLink {
        tx,
        alive: alive.clone(),
    };
    let thread = std::thread::Builder::new()
        .name("goro-trace".into())
        .spawn(move || write_spills(rx, alive))
        .map_err(|e| eprintln!("goro: trace: cannot start the trace's writer thread: {e}"))
        .ok();
    if thread.is_none() {
        link.alive.store(false, Ordering::Release);
    }
    (link, thread)
}

/// Stops a writer once it has written every buffer sent to it before, and waits for it.
fn stop_writer(link: &WriterLink, thread: JoinHandle<()>) {
    let _ = link.tx.send(ToWriter::Stop);
    // A panic of the writer was reported by its thread; `drain` reads what it wrote.
    let _ = thread.join();
}

/// What a sink held: its events, the names of tasks spawned on it, how many it dropped.
type Drained = (Vec<Event>, Vec<(u64, Box<str>)>, u64);

/// What a run's sinks held together: their events, the names of named tasks, the drops.
type Collected = (Vec<Event>, HashMap<u64, Box<str>>, u64);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A run's trace: where it goes, the buffers workers handed in, and the writer thread that
/// spills full buffers.
pub(crate) struct Tracer {
    path: PathBuf,
    start_ticks: u64,
    start: Instant,
    other: Mutex<Sink>,
    done: Mutex<Vec<Sink>>,
    /// What each sink gets to reach the writer.
    writer: WriterLink,
    /// The writer thread, until it is stopped (`stop_writer`).
    writer_thread: Mutex<Option<JoinHandle<()>>>,
}

impl Tracer {
    /// Starts tracing a run into `path` (counted in `TRACING_RUNS` until dropped), with its
    /// writer thread.
    pub(crate) fn new(path: PathBuf) -> Tracer {
        let mut runs = lock(&TRACING_RUNS);
        *runs += 1;
        ON.store(true, Ordering::SeqCst);
        drop(runs);
        let (writer, writer_thread) = start_writer();
        let other = Sink::new(spill_path(&path, "other"), &writer);
        Tracer {
            path,
            start_ticks: ticks(),
            start: Instant::now(),
            other: Mutex::new(other),
            done: Mutex::new(Vec::new()),
            writer,
            writer_thread: Mutex::new(writer_thread),
        }
    }

    /// A worker's buffer, handed to it when it starts.
    pub(crate) fn sink_for_worker(&self, index: usize) -> Sink {
        Sink::new(spill_path(&self.path, &index.to_string()), &self.writer)
    }

    /// A worker hands its buffer back when it leaves the run.
    pub(crate) fn hand_in(&self, sink: Sink) {
        lock(&self.done).push(sink);
    }

    /// Records an event from a thread that is not one of the run's workers.
    pub(crate) fn record_other(&self, mut e: Event) {
        if e.track != TRACK_SYSMON {
            e.track = TRACK_OTHER;
        }
        lock(&self.other).push(e);
    }

    /// Stops the writer thread once it has written every buffer sent to it, and waits for it.
    /// Buffers sent later find no writer (their events are dropped, counted).
    fn stop_writer(&self) {
        if let Some(t) = lock(&self.writer_thread).take() {
            stop_writer(&self.writer, t);
        }
    }

    /// Every sink's events, names and drop count (the run is over: every worker handed its
    /// buffer in), once the writer has written what it was sent.
    fn collect(&self) -> io::Result<Collected> {
        self.stop_writer();
        let mut events = Vec::new();
        let mut names = HashMap::new();
        let mut dropped = 0;
        let mut sinks = std::mem::take(&mut *lock(&self.done));
        sinks.push(std::mem::replace(
            &mut *lock(&self.other),
            Sink::new(PathBuf::new(), &self.writer),
        ));
        for s in sinks {
            let (ev, nm, d) = s.drain()?;
            events.extend(ev);
            names.extend(nm);
            dropped += d;
        }
        Ok((events, names, dropped))
    }

    /// Writes the trace file (the run is over: every worker handed its buffer in). Reports a
    /// failure on stderr: a trace must not turn a good run into a failed one.
    pub(crate) fn finish(&self, workers: usize) {
        let end_ticks = ticks();
        let elapsed_ns = self.start.elapsed().as_nanos() as f64;
        let span = end_ticks.saturating_sub(self.start_ticks).max(1) as f64;
        let ns_per_tick = if cfg!(target_arch = "x86_64") {
            elapsed_ns / span
        } else {
            1.0
        };
        let res = (|| -> io::Result<usize> {
            let (mut events, names, dropped) = self.collect()?;
            let mut f = BufWriter::new(File::create(&self.path)?);
            render(
                &mut f,
                &mut events,
                &names,
                workers,
                dropped,
                self.start_ticks,
                ns_per_tick,
            )?;
            f.flush()?;
            Ok(events.len())
        })();
        if let Err(e) = res {
            eprintln!(
                "goro: cannot write the execution trace to {}: {e} (check that its directory \
                 exists and is writable, or set GORO_TRACE to another path)",
                self.path.display()
            );
        }
    }
}

impl Drop for Tracer {
    fn drop(&mut self) {
        // A run that ended without `finish` (a worker panicked) still stops its writer.
        self.stop_writer();
        let mut runs = lock(&TRACING_RUNS);
        *runs -= 1;
        ON.store(*runs != 0, Ordering::SeqCst);
    }
}

fn spill_path(path: &Path, what: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(format!(".spill-{what}"));
    PathBuf::from(s)
}

// ---- recording ----------------------------------------------------------------------------

/// Records `kind` with arguments on the calling thread's buffer: its worker's if it is a
/// worker of `shared`'s run, else the run's shared buffer for other threads. Only called after
/// `on()` said yes.
#[cold]
#[inline(never)]
pub(crate) fn record(shared: &crate::sched::Shared, kind: Kind, a: u64, b: u64, n: u32, x: u8) {
    if let Some(tracer) = shared.tracer() {
        record_in(shared, tracer, kind, a, b, n, x);
    }
}

/// `record` once the run's tracer is known: inlined into the hooks that found it themselves.
#[inline(always)]
fn record_in(
    shared: &crate::sched::Shared,
    tracer: &Tracer,
    kind: Kind,
    a: u64,
    b: u64,
    n: u32,
    x: u8,
) {
    let ts = ticks();
    if let Some(w) = crate::sched::current_worker() {
        // SAFETY: the worker outlives every call made on its thread while it is installed.
        let w = unsafe { &*w };
        if std::ptr::eq(&**w.shared(), shared)
            && let Some(sink) = w.trace_sink()
        {
            // The event is built here, in the buffer, not before the call above: built across
            // a call it would be stored to the stack field by field and then read back whole,
            // which stalls the read (the stores cannot be forwarded to it).
            if let Some(s) = sink.borrow_mut().as_mut() {
                s.push(Event {
                    ts,
                    a,
                    b,
                    n,
                    track: w.index() as u16,
                    kind,
                    x,
                });
            }
            return;
        }
    }
    tracer.record_other(Event {
        ts,
        a,
        b,
        n,
        track: TRACK_OTHER,
        kind,
        x,
    });
}

/// Records an event of sysmon (on its own track).
#[cold]
pub(crate) fn record_sysmon(shared: &crate::sched::Shared, kind: Kind, a: u64, b: u64, n: u32) {
    if let Some(tracer) = shared.tracer() {
        tracer.record_other(Event {
            ts: ticks(),
            a,
            b,
            n,
            track: TRACK_SYSMON,
            kind,
            x: 0,
        });
    }
}

/// Records a spawn (and the new task's name, if it has one).
#[cold]
#[inline(never)]
pub(crate) fn spawned(h: &Header) {
    let shared = h.shared();
    record(shared, Kind::Spawn, h.id, h.parent, 0, 0);
    if let Some(name) = &h.name
        && let Some(w) = crate::sched::current_worker()
    {
        // SAFETY: the worker outlives every call made on its thread while it is installed.
        let w = unsafe { &*w };
        if std::ptr::eq(&**w.shared(), shared)
            && let Some(sink) = w.trace_sink()
            && let Some(s) = sink.borrow_mut().as_mut()
        {
            s.names.push((h.id, name.clone()));
            return;
        }
        if let Some(t) = shared.tracer() {
            lock(&t.other).names.push((h.id, name.clone()));
        }
    }
}

/// The hook in `TaskState::set`: a task's lifecycle state changes to `s`.
#[cold]
#[inline(never)]
pub(crate) fn state_changed(st: &TaskState, s: State) {
    // Every `TaskState` of a running program is the `st` field of a task's `Header` (the bare
    // ones in `state.rs`'s unit tests never run with a trace on: no run exists there).
    let off = std::mem::offset_of!(Header, st);
    // SAFETY: `st` is the `st` field of a live `Header` (above), so stepping back by the
    // field's offset gives that header, alive for as long as `st` is borrowed.
    let h = unsafe { &*(st as *const TaskState).byte_sub(off).cast::<Header>() };
    let shared = h.shared();
    let Some(tracer) = shared.tracer() else {
        return;
    };
    let (kind, b, x) = match s {
        State::Running => (Kind::Start, 0, 0),
        State::Waiting(r) => (Kind::Park, 0, r.as_u8()),
        State::Dead => (Kind::Exit, 0, 0),
        State::Runnable => {
            // Only here is the running task needed (a thread-local read): a yield or an unpark.
            let me = crate::sched::current_task_ptr();
            // SAFETY: a non-null pointer is the header of the task running on this thread.
            let me_id = if me.is_null() { 0 } else { unsafe { (*me).id } };
            if me_id == h.id {
                (Kind::Yield, 0, 0)
            } else {
                (Kind::Unpark, me_id, 0)
            }
        }
    };
    record_in(shared, tracer, kind, h.id, b, 0, x);
}

// ---- writing ------------------------------------------------------------------------------

/// Appends `s` as a JSON string (quoted, escaped).
pub(crate) fn json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Microseconds (the format's unit) with nanosecond precision.
fn us(ns: u64) -> String {
    format!("{}.{:03}", ns / 1000, ns % 1000)
}

fn track_name(track: u16) -> String {
    match track {
        TRACK_SYSMON => "sysmon".into(),
        TRACK_OTHER => "other threads".into(),
        w => format!("worker {w}"),
    }
}

fn task_label(id: u64, names: &HashMap<u64, Box<str>>) -> String {
    match names.get(&id) {
        Some(n) => format!("G{id} {n}"),
        None => format!("G{id}"),
    }
}

/// A task's run waiting to be written: track, task, from, to, why it ended.
type Held = (u16, u64, u64, u64, String);

/// One output event: its time (for sorting) and its JSON text.
type Out = Vec<(u64, String)>;

/// The start of an event's JSON object: `{"name":…,"cat":…`.
fn event_head(name: &str, cat: &str) -> String {
    let mut ev = String::from("{\"name\":");
    json_str(&mut ev, name);
    ev.push_str(",\"cat\":");
    json_str(&mut ev, cat);
    ev
}

fn slice(out: &mut Out, track: u16, name: &str, cat: &str, from: u64, to: u64, args: &str) {
    let mut ev = event_head(name, cat);
    let _ = write!(
        ev,
        ",\"ph\":\"X\",\"ts\":{},\"dur\":{},\"pid\":1,\"tid\":{track},\"args\":{{{args}}}}}",
        us(from),
        us(to.saturating_sub(from))
    );
    out.push((from, ev));
}

fn instant(out: &mut Out, track: u16, at: u64, name: &str, cat: &str, args: &str) {
    let mut ev = event_head(name, cat);
    let _ = write!(
        ev,
        ",\"ph\":\"i\",\"s\":\"t\",\"ts\":{},\"pid\":1,\"tid\":{track},\"args\":{{{args}}}}}",
        us(at)
    );
    out.push((at, ev));
}

/// A flow event: "s" at the waker, "f" at the wakee, bound to the slice that encloses it
/// (`"bp":"e"`), which is the wakee's run starting at that instant.
fn flow(ph: char, id: u64, cat: &str, track: u16, at: u64) -> (u64, String) {
    let bp = if ph == 'f' { ",\"bp\":\"e\"" } else { "" };
    (
        at,
        format!(
            "{{\"name\":\"{cat}\",\"cat\":\"{cat}\",\"ph\":\"{ph}\",\"id\":{id},\"ts\":{},\"pid\":1,\"tid\":{track}{bp}}}",
            us(at)
        ),
    )
}

/// Builds the trace-event JSON (the "JSON Object Format": `{"traceEvents": [...]}`), events
/// sorted by time.
fn render(
    w: &mut impl Write,
    events: &mut [Event],
    names: &HashMap<u64, Box<str>>,
    workers: usize,
    dropped: u64,
    start_ticks: u64,
    ns_per_tick: f64,
) -> io::Result<()> {
    let ns = |t: u64| (t.saturating_sub(start_ticks) as f64 * ns_per_tick) as u64;
    // Stable: events of one track come from one thread, already in order.
    events.sort_by_key(|e| ns(e.ts));
    let mut out: Out = Vec::with_capacity(events.len() * 2 + 16);
    let mut meta = vec![
        "{\"name\":\"process_name\",\"ph\":\"M\",\"ts\":0,\"pid\":1,\"tid\":0,\"args\":{\"name\":\"goro\"}}"
            .to_string(),
    ];
    let mut tracks: Vec<u16> = (0..workers as u16).collect();
    for e in events.iter() {
        if !tracks.contains(&e.track) {
            tracks.push(e.track);
        }
    }
    for &t in &tracks {
        let mut ev = format!(
            "{{\"name\":\"thread_name\",\"ph\":\"M\",\"ts\":0,\"pid\":1,\"tid\":{t},\"args\":{{\"name\":"
        );
        json_str(&mut ev, &track_name(t));
        ev.push_str("}}");
        meta.push(ev);
        meta.push(format!(
            "{{\"name\":\"thread_sort_index\",\"ph\":\"M\",\"ts\":0,\"pid\":1,\"tid\":{t},\"args\":{{\"sort_index\":{t}}}}}"
        ));
    }
    // The run open on each track: (task, since). Flow starts waiting for the wakee's next run.
    let mut open: HashMap<u16, (u64, u64)> = HashMap::new();
    let mut pending_flow: HashMap<u64, (u64, &'static str, (u64, String))> = HashMap::new();
    let mut next_flow = 1u64;
    let mut sleeping: HashMap<u16, u64> = HashMap::new();
    let end_ns = events.last().map_or(0, |e| ns(e.ts));
    let write_run = |out: &mut Out, (track, task, from, to, why): Held| {
        let mut args = format!("\"goid\":{task},\"end\":");
        json_str(&mut args, &why);
        slice(
            out,
            track,
            &task_label(task, names),
            "task",
            from,
            to,
            &args,
        );
    };
    // The last run closed on each track is held back one event: a finished task is retired
    // just after the next one starts (`sched::switch`), and its exit then names why it ended.
    let mut held: HashMap<u16, Held> = HashMap::new();
    let run = |held: &mut HashMap<u16, Held>,
               out: &mut Out,
               track: u16,
               task: u64,
               from: u64,
               to: u64,
               why: &str| {
        if let Some(prev) = held.insert(track, (track, task, from, to, why.to_string())) {
            write_run(out, prev);
        }
    };
    for e in events.iter() {
        let t = ns(e.ts);
        let track = e.track;
        let running_here = open.get(&track).map(|&(task, _)| task);
        match e.kind {
            Kind::Start => {
                if let Some((task, from)) = open.remove(&track) {
                    run(&mut held, &mut out, track, task, from, t, "switched");
                }
                if let Some(from) = sleeping.remove(&track) {
                    slice(&mut out, track, "idle", "idle", from, t, "");
                }
                open.insert(track, (e.a, t));
                if let Some((id, cat, start)) = pending_flow.remove(&e.a) {
                    out.push(start);
                    out.push(flow('f', id, cat, track, t));
                }
            }
            Kind::Park | Kind::Yield | Kind::Exit => {
                let why = match e.kind {
                    Kind::Park => format!(
                        "park: {}",
                        WaitReason::ALL
                            .get(e.x as usize)
                            .map_or("?".to_string(), |r| r.to_string())
                    ),
                    Kind::Yield => "yield".to_string(),
                    _ => "exit".to_string(),
                };
                if running_here == Some(e.a) {
                    let (task, from) = open.remove(&track).expect("checked");
                    run(&mut held, &mut out, track, task, from, t, &why);
                } else if e.kind == Kind::Exit
                    && let Some(h) = held.get_mut(&track)
                    && h.1 == e.a
                    && h.4 == "switched"
                {
                    h.4 = why.clone();
                }
                let args = format!("\"goid\":{}", e.a);
                let name = format!("{why} {}", task_label(e.a, names));
                instant(&mut out, track, t, &name, "state", &args);
            }
            Kind::Unpark | Kind::Spawn => {
                let (cat, verb) = if e.kind == Kind::Unpark {
                    ("wake", "unpark")
                } else {
                    ("spawn", "spawn")
                };
                let id = next_flow;
                next_flow += 1;
                let what = format!("{verb} {}", task_label(e.a, names));
                let args = format!("\"goid\":{},\"by\":{}", e.a, e.b);
                if running_here.is_none() {
                    // No run on this track (a loop, a timer, another thread): a zero-length
                    // slice for the arrow to start from.
                    slice(&mut out, track, &what, "waker", t, t, &args);
                }
                instant(&mut out, track, t, &what, cat, &args);
                // Written only when the wakee runs, so every "s" has its "f".
                pending_flow.insert(e.a, (id, cat, flow('s', id, cat, track, t)));
            }
            Kind::Steal => {
                let args = format!("\"from_worker\":{},\"count\":{}", e.a, e.n);
                let name = format!("steal {} from worker {}", e.n, e.a);
                instant(&mut out, track, t, &name, "steal", &args);
            }
            Kind::BlockingEnter | Kind::BlockingExit => {
                let name = if e.kind == Kind::BlockingEnter {
                    "blocking call"
                } else {
                    "blocking call returned"
                };
                let args = format!("\"goid\":{}", e.a);
                instant(&mut out, track, t, name, "syscall", &args);
            }
            Kind::IoWait => {
                let dir = if e.n == 0 { "read" } else { "write" };
                let args = format!("\"goid\":{},\"dir\":\"{dir}\"", e.a);
                let name = format!("IO wait ({dir}) {}", task_label(e.a, names));
                instant(&mut out, track, t, &name, "io", &args);
            }
            Kind::Preempt => {
                let args = format!("\"worker\":{},\"ran_ms\":{}", e.a, e.n);
                let name = format!("preempt request: worker {} (ran {} ms)", e.a, e.n);
                instant(&mut out, track, t, &name, "preempt", &args);
            }
            Kind::Sleep => {
                sleeping.insert(track, t);
            }
            Kind::Wake => {
                if let Some(from) = sleeping.remove(&track) {
                    slice(&mut out, track, "idle", "idle", from, t, "");
                }
            }
        }
    }
    // Runs still open when the trace ends (tasks cancelled at shutdown), and sleeps.
    for (track, (task, from)) in open {
        run(&mut held, &mut out, track, task, from, end_ns, "run ended");
    }
    for (_, h) in held.drain() {
        write_run(&mut out, h);
    }
    for (track, from) in sleeping {
        slice(&mut out, track, "idle", "idle", from, end_ns, "");
    }
    out.sort_by_key(|(t, _)| *t);
    // The header first (readers such as the bench's look for "events" there), then each
    // event, streamed: the text of the whole trace is never held in memory at once.
    writeln!(
        w,
        "{{\"displayTimeUnit\":\"ns\",\"otherData\":{{\"generator\":\"goro\",\"workers\":{workers},\"events\":{},\"dropped_events\":{dropped}}},\"traceEvents\":[",
        events.len()
    )?;
    let mut first = true;
    for ev in meta.iter().chain(out.iter().map(|(_, s)| s)) {
        if !first {
            w.write_all(b",\n")?;
        }
        first = false;
        w.write_all(ev.as_bytes())?;
    }
    w.write_all(b"\n]}\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sink of its own with the given spill path, and a writer for it.
    fn sink_with_writer(spill: PathBuf) -> (Sink, WriterLink, Option<JoinHandle<()>>) {
        let (link, thread) = start_writer();
        (Sink::new(spill, &link), link, thread)
    }

    fn event(i: u64) -> Event {
        Event {
            ts: i,
            a: i,
            b: 0,
            n: 0,
            track: 0,
            kind: Kind::Start,
            x: 0,
        }
    }

    fn temp_spill(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!(
            "goro-unit-trace-{name}-{}.spill-0",
            std::process::id()
        ))
    }

    #[test]
    fn spilled_events_come_back_in_order_from_reused_buffers() {
        let path = temp_spill("order");
        let (mut sink, link, thread) = sink_with_writer(path.clone());
        sink.names.push((7, "seven".into()));
        // More full buffers than a sink may have: it must wait for emptied ones and reuse them.
        let n = (BUFFERS * 2 + 1) * CHUNK + 123;
        for i in 0..n as u64 {
            sink.push(event(i));
        }
        assert!(sink.buffers <= BUFFERS, "{} buffers", sink.buffers);
        stop_writer(&link, thread.expect("a writer thread"));
        let (events, names, dropped) = sink.drain().expect("the spill reads back");
        assert_eq!(dropped, 0);
        assert_eq!(events.len(), n);
        assert!(events.iter().enumerate().all(|(i, e)| e.a == i as u64));
        assert_eq!(names, vec![(7, "seven".into())]);
        assert!(!path.exists(), "the spill file is removed once read");
    }

    #[test]
    fn a_failed_spill_keeps_the_first_buffer_and_counts_the_rest() {
        let path = std::env::temp_dir()
            .join(format!("goro-no-such-dir-{}", std::process::id()))
            .join("t.json.spill-0");
        let (mut sink, link, thread) = sink_with_writer(path);
        let n = 3 * CHUNK + 10;
        for i in 0..n as u64 {
            sink.push(event(i));
        }
        stop_writer(&link, thread.expect("a writer thread"));
        let (events, _, dropped) = sink.drain().expect("nothing to read back");
        assert_eq!(events.len(), CHUNK);
        assert!(events.iter().enumerate().all(|(i, e)| e.a == i as u64));
        assert_eq!(dropped, (n - CHUNK) as u64);
    }

    #[test]
    fn with_the_writer_stopped_a_full_buffer_stays_in_memory() {
        let path = temp_spill("stopped");
        let (mut sink, link, thread) = sink_with_writer(path.clone());
        stop_writer(&link, thread.expect("a writer thread"));
        for i in 0..(CHUNK + 5) as u64 {
            sink.push(event(i));
        }
        let (events, _, dropped) = sink.drain().expect("nothing to read back");
        assert_eq!(events.len(), CHUNK);
        assert!(events.iter().enumerate().all(|(i, e)| e.a == i as u64));
        assert_eq!(dropped, 5);
        assert!(!path.exists());
    }

    #[test]
    fn json_strings_are_escaped() {
        let mut s = String::new();
        json_str(&mut s, "a\"b\\c\nd\u{1}é");
        assert_eq!(s, "\"a\\\"b\\\\c\\nd\\u0001é\"");
    }

    #[test]
    fn events_round_trip_through_their_bytes() {
        let e = Event {
            ts: 1 << 40,
            a: 7,
            b: u64::MAX,
            n: 3,
            track: TRACK_SYSMON,
            kind: Kind::Steal,
            x: 9,
        };
        let v = e.encode();
        assert_eq!(
            v[..8],
            (1u64 << 40).to_le_bytes(),
            "the timestamp comes first"
        );
        let d = Event::decode(&v);
        assert_eq!(
            (d.ts, d.a, d.b, d.n, d.track, d.kind, d.x),
            (e.ts, e.a, e.b, e.n, e.track, e.kind, e.x)
        );
    }
}
