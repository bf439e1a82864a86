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
//! a buffer holds `CHUNK` events (2 MiB); a full one is appended to a spill file beside the
//! output (`PATH.spill-N`), read back and removed when the trace is written.
//!
//! When no run traces, every event site costs one compare of a global flag and a branch that
//! is never taken (about 3 instructions with the register it keeps live: callgrind counts
//! ping-pong at 747.7 instructions per round trip against 727.8 without the hooks; a round
//! trip passes 6 state changes). Folding the check into branches the switch path already takes
//! (`deterministic`) would remove most of it, at the price of hooks outside `TaskState::set`. The task-state events are hooked in one place, `TaskState::set`
//! (`task/state.rs`); the others at the scheduler's steal and idle points, `task::blocking`,
//! the netpoller and sysmon.
//!
//! Timestamps: the CPU's time-stamp counter on x86_64 (`rdtsc`, cheaper than
//! `clock_gettime` on the machines this was measured on), scaled to nanoseconds against the
//! monotonic clock read at the start and end of the run; `CLOCK_MONOTONIC` elsewhere.
//!
//! Go counterpart: `runtime/trace` (`trace.Start`, `go tool trace`). Lesson: 16
//! (introspection).

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use crate::task::record::Header;
use crate::task::state::{State, TaskState, WaitReason};

/// Whether any run in the process traces now: every event site reads it. A byte, so the check
/// is one compare with memory and a branch.
static ON: AtomicBool = AtomicBool::new(false);
/// How many runs trace now (`ON` is whether this is not zero; both change under this lock).
static TRACING_RUNS: Mutex<usize> = Mutex::new(0);

/// Events a buffer holds before it is spilled to its file (32 bytes each: 2 MiB).
const CHUNK: usize = 1 << 16;

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

/// One recorded event: 32 bytes, no pointers, so a buffer can be spilled to a file as bytes.
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

impl Event {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.ts.to_le_bytes());
        out.extend_from_slice(&self.a.to_le_bytes());
        out.extend_from_slice(&self.b.to_le_bytes());
        out.extend_from_slice(&self.n.to_le_bytes());
        out.extend_from_slice(&self.track.to_le_bytes());
        out.push(self.kind as u8);
        out.push(self.x);
    }

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

/// A buffer of events (one per worker, one for other threads), bounded by spilling.
pub(crate) struct Sink {
    events: Vec<Event>,
    spill_path: PathBuf,
    spill: Option<BufWriter<File>>,
    /// Names of named tasks spawned here.
    names: Vec<(u64, Box<str>)>,
    /// A spill failed: later events are dropped (counted), and the trace says so.
    dropped: u64,
}

impl Sink {
    fn new(spill_path: PathBuf) -> Sink {
        Sink {
            events: Vec::with_capacity(1024),
            spill_path,
            spill: None,
            names: Vec::new(),
            dropped: 0,
        }
    }

    #[inline]
    fn push(&mut self, e: Event) {
        if self.events.len() == CHUNK {
            self.spill_chunk();
        }
        if self.events.len() < CHUNK {
            self.events.push(e);
        } else {
            self.dropped += 1;
        }
    }

    #[cold]
    fn spill_chunk(&mut self) {
        let res = (|| -> io::Result<()> {
            if self.spill.is_none() {
                self.spill = Some(BufWriter::new(File::create(&self.spill_path)?));
            }
            let mut bytes = Vec::with_capacity(self.events.len() * EVENT_BYTES);
            for e in &self.events {
                e.encode(&mut bytes);
            }
            self.spill.as_mut().expect("just opened").write_all(&bytes)
        })();
        match res {
            Ok(()) => self.events.clear(),
            Err(e) => {
                if self.dropped == 0 {
                    eprintln!(
                        "goro: trace: cannot spill events to {}: {e}; later events of this \
                         thread are dropped (free disk space or trace a shorter run)",
                        self.spill_path.display()
                    );
                }
                // Keep what is in memory; drop what comes next (`push` counts it).
            }
        }
    }

    /// Every event of this sink, spilled ones first.
    fn drain(mut self) -> io::Result<Drained> {
        let mut all = Vec::new();
        if let Some(w) = self.spill.take() {
            drop(w.into_inner().map_err(|e| e.into_error())?);
            let mut bytes = Vec::new();
            File::open(&self.spill_path)?.read_to_end(&mut bytes)?;
            let _ = std::fs::remove_file(&self.spill_path);
            all.extend(bytes.chunks_exact(EVENT_BYTES).map(Event::decode));
        }
        all.append(&mut self.events);
        Ok((all, std::mem::take(&mut self.names), self.dropped))
    }
}

/// What a sink held: its events, the names of tasks spawned on it, how many it dropped.
type Drained = (Vec<Event>, Vec<(u64, Box<str>)>, u64);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A run's trace: where it goes, and the buffers workers handed in.
pub(crate) struct Tracer {
    path: PathBuf,
    start_ticks: u64,
    start: Instant,
    other: Mutex<Sink>,
    done: Mutex<Vec<Sink>>,
}

impl Tracer {
    /// Starts tracing a run into `path` (counted in `TRACING_RUNS` until dropped).
    pub(crate) fn new(path: PathBuf) -> Tracer {
        let mut runs = lock(&TRACING_RUNS);
        *runs += 1;
        ON.store(true, Ordering::SeqCst);
        drop(runs);
        let other = Sink::new(spill_path(&path, "other"));
        Tracer {
            path,
            start_ticks: ticks(),
            start: Instant::now(),
            other: Mutex::new(other),
            done: Mutex::new(Vec::new()),
        }
    }

    /// A worker's buffer, handed to it when it starts.
    pub(crate) fn sink_for_worker(&self, index: usize) -> Sink {
        Sink::new(spill_path(&self.path, &index.to_string()))
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
            let mut events = Vec::new();
            let mut names = HashMap::new();
            let mut dropped = 0;
            let mut sinks = std::mem::take(&mut *lock(&self.done));
            sinks.push(std::mem::replace(
                &mut *lock(&self.other),
                Sink::new(PathBuf::new()),
            ));
            for s in sinks {
                let (ev, nm, d) = s.drain()?;
                events.extend(ev);
                names.extend(nm);
                dropped += d;
            }
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
    let Some(tracer) = shared.tracer() else {
        return;
    };
    let mut e = Event {
        ts: ticks(),
        a,
        b,
        n,
        track: TRACK_OTHER,
        kind,
        x,
    };
    if let Some(w) = crate::sched::current_worker() {
        // SAFETY: the worker outlives every call made on its thread while it is installed.
        let w = unsafe { &*w };
        if std::ptr::eq(&**w.shared(), shared)
            && let Some(sink) = w.trace_sink()
        {
            e.track = w.index() as u16;
            record_on(sink, e);
            return;
        }
    }
    tracer.record_other(e);
}

#[inline]
fn record_on(sink: &RefCell<Option<Sink>>, e: Event) {
    if let Some(s) = sink.borrow_mut().as_mut() {
        s.push(e);
    }
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
    if shared.tracer().is_none() {
        return;
    }
    let me = crate::sched::current_task_ptr();
    // SAFETY: a non-null pointer is the header of the task running on this thread.
    let me_id = if me.is_null() { 0 } else { unsafe { (*me).id } };
    match s {
        State::Running => record(shared, Kind::Start, h.id, 0, 0, 0),
        State::Waiting(r) => record(shared, Kind::Park, h.id, 0, 0, r.as_u8()),
        State::Dead => record(shared, Kind::Exit, h.id, 0, 0, 0),
        State::Runnable if me_id == h.id => record(shared, Kind::Yield, h.id, 0, 0, 0),
        State::Runnable => record(shared, Kind::Unpark, h.id, me_id, 0, 0),
    }
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
        let mut v = Vec::new();
        e.encode(&mut v);
        assert_eq!(v.len(), EVENT_BYTES);
        let d = Event::decode(&v);
        assert_eq!(
            (d.ts, d.a, d.b, d.n, d.track, d.kind, d.x),
            (e.ts, e.a, e.b, e.n, e.track, e.kind, e.x)
        );
    }
}
