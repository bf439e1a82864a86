//! sysmon: a monitor thread per run that notices a worker stuck in one task.
//!
//! goro's scheduling is cooperative: a task leaves its worker only at a yield point (a channel
//! operation that waits, `yield_now`, `sleep`, a socket that would block, `checkpoint`). A task
//! that computes for a second without reaching one holds its worker for that second. Go's
//! `sysmon` watches for this, and so does goro's. Every few milliseconds it looks at each
//! worker's **heartbeat**, a counter the worker's loop bumps when it enters a task and when it
//! comes back (odd: inside a task). Tasks hand the worker to each other directly, but every
//! 61st switch (and whenever a timer is due) goes back through the loop (`switch.rs`, rule 6),
//! so a heartbeat that stays odd and unchanged for [`HOG`] means one task, or a handful of
//! very long ones, has held the worker all that time. Then sysmon:
//!
//! 1. **moves the worker's movable work**: it wakes an idle worker, which steals from the
//!    stuck worker's ring (unstarted and migratable tasks; thieves find a stuck owner ripe,
//!    `steal.rs`) and takes the global queue. Started pinned tasks cannot move (see "Sound by
//!    default" in `task`): they wait for the hog;
//! 2. **marks the hog** so [`crate::debug::dump`] says "running for 2.3 s without yielding";
//! 3. **asks for preemption**: it sets the worker's `preempt` flag, which
//!    [`crate::task::checkpoint`] honours by yielding. A tight loop that calls `checkpoint()`
//!    now and then is preemptible at the cost of one thread-local read and one load per call.
//!    The other yield points honour it too: a channel send or receive, a `select!`, a `Mutex`
//!    lock or unlock, `WaitGroup::done`, each of which already costs one load of a
//!    process-wide word (`POINT_WATCH`, shared with the schedule explorer) that is non-zero
//!    only while a request is pending; the request is withdrawn once the hog lets go;
//! 4. **fires overdue timers** while no worker is idle to do it, as Go's sysmon does: their
//!    tasks become runnable (elsewhere, if they may move);
//! 5. **polls the network** (without blocking) if nobody did since its last look: an idle
//!    worker sleeps on its futex while another runs tasks, counting on that one to poll
//!    (`idle.rs`, rule 5), and a hog does not, nor does a worker that gets through a queue
//!    of long tasks without running out of work. This one is checked at every look while a
//!    worker is busy, hog or not (Go's sysmon polls when nobody did for 10 ms).
//!
//! Why not preempt for real, as Go 1.14 does? Go sends the thread a signal and, in the
//! handler, switches the goroutine out at an *asynchronous safe point*: its compiler records
//! for every instruction which registers hold pointers, so the garbage collector and the
//! scheduler can stop a goroutine anywhere. Rust code has no such points. A task interrupted
//! at an arbitrary instruction may hold a `std::sync::Mutex` (another task on the same thread
//! then deadlocks on it), be inside the allocator (not reentrant), or have a thread-local's
//! address in a register (wrong once it resumes elsewhere). Switching it out from a signal
//! handler would be unsound, so goro's preemption is cooperative, and sysmon makes the hog
//! visible instead of invisible. Lesson 13 teaches this trade-off.
//!
//! Rules:
//!
//! 1. Only the worker writes its heartbeat; sysmon only reads it (and writes `preempt` and
//!    `hog_since`).
//! 2. sysmon never touches a task or a queue directly: it wakes workers, sets flags, fires
//!    timers and polls the network (whose callbacks and events wake tasks the way any foreign
//!    thread does).
//! 3. It samples every [`TICK`] while some worker is busy, and every [`IDLE_TICK`] while all
//!    sleep (an idle server costs a wakeup every 20 ms, about nothing); it is joined when the
//!    run ends. Deterministic runs have no sysmon (one worker, virtual time).
//!
//! Go counterpart: `sysmon`, `retake`, `preemptone` in `runtime/proc.go`; asynchronous
//! preemption in `runtime/preempt.go`. Lesson: 13 (preemption and blocking).

use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use super::shared::{Shared, lock};

/// A worker that has not come back to its loop for this long is stuck in a task.
pub(crate) const HOG: Duration = Duration::from_millis(10);
/// How often sysmon looks while some worker is busy.
const TICK: Duration = Duration::from_millis(2);
/// How often it looks while every worker sleeps.
const IDLE_TICK: Duration = Duration::from_millis(20);

/// The running monitor of one run; [`Sysmon::stop`] ends and joins it.
pub(crate) struct Sysmon {
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Sysmon {
    /// Starts the monitor thread for `shared` (none for a deterministic run).
    pub(crate) fn start(shared: &Arc<Shared>) -> Sysmon {
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let thread = if shared.is_deterministic() {
            None
        } else {
            let (shared, stop) = (shared.clone(), stop.clone());
            thread::Builder::new()
                .name("goro-sysmon".into())
                .spawn(move || monitor(&shared, &stop))
                .ok()
        };
        Sysmon { stop, thread }
    }

    /// Stops the monitor and waits for its thread.
    pub(crate) fn stop(mut self) {
        *lock(&self.stop.0) = true;
        self.stop.1.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// What sysmon saw of one worker last time.
#[derive(Clone, Copy)]
struct Seen {
    beat: u64,
    since: Instant,
}

fn monitor(shared: &Shared, stop: &(Mutex<bool>, Condvar)) {
    let mut seen: Vec<Seen> = shared
        .workers
        .iter()
        .map(|w| Seen {
            beat: w.heartbeat.load(Ordering::Relaxed),
            since: Instant::now(),
        })
        .collect();
    let mut polls_seen = shared.io.polls();
    let mut stopped = lock(&stop.0);
    while !*stopped {
        let now = Instant::now();
        shared.tick_coarse_clock();
        let mut busy = 0;
        let mut hogs = 0;
        for (i, (w, s)) in shared.workers.iter().zip(seen.iter_mut()).enumerate() {
            let beat = w.heartbeat.load(Ordering::Relaxed);
            if beat != s.beat {
                *s = Seen { beat, since: now };
                w.hog_since_ns.store(0, Ordering::Relaxed);
                // The hog (if any) gave the worker up by itself: withdraw the request.
                w.take_preempt();
            }
            if beat & 1 == 1 {
                busy += 1;
                if now.duration_since(s.since) >= HOG {
                    // Steps 2 and 3: mark it, ask it to yield at its next checkpoint.
                    let at = s.since.saturating_duration_since(shared.epoch).as_nanos() as u64;
                    w.hog_since_ns.store(at.max(1), Ordering::Relaxed);
                    w.request_preempt();
                    hogs += 1;
                    if crate::trace::on() {
                        let ran = now.duration_since(s.since).as_millis() as u32;
                        crate::trace::record_sysmon(
                            shared,
                            crate::trace::Kind::Preempt,
                            i as u64,
                            0,
                            ran,
                        );
                    }
                }
            }
        }
        if hogs > 0 {
            // Step 1: somebody idle takes the movable work (stealing finds a stuck owner
            // ripe); nothing to do if every worker is busy or there is no such work.
            shared.wake_idle_worker();
        }
        // Step 5: an idle worker sleeps on its futex while another runs tasks (`idle.rs`, rule
        // 5), counting on that one to poll. A hog does not, nor does a worker that gets
        // through long tasks without running out: poll for them if nobody did since the last
        // look. (Nothing to do while a thread sleeps in `epoll_wait`: `poll_now` skips it.)
        let polls = shared.io.polls();
        if polls == polls_seen && busy > 0 {
            shared.io.poll_now();
        }
        polls_seen = shared.io.polls();
        if busy == shared.workers.len() && shared.timers.due() {
            // Step 4: every worker computes; fire what is overdue from here.
            shared.timers.fire_due(shared.timers.now());
        }
        let tick = if busy == 0 { IDLE_TICK } else { TICK };
        stopped = stop
            .1
            .wait_timeout(stopped, tick)
            .unwrap_or_else(|e| e.into_inner())
            .0;
    }
    // Requests nobody took: withdraw them, so other runs' points stop looking.
    for w in shared.workers.iter() {
        w.take_preempt();
    }
}

impl Shared {
    /// For the dump: each worker sysmon found stuck, and since when.
    pub(crate) fn hogs(&self) -> Vec<(usize, Duration)> {
        let now = self.epoch.elapsed();
        self.workers
            .iter()
            .enumerate()
            .filter_map(|(i, w)| {
                let at = w.hog_since_ns.load(Ordering::Relaxed);
                (at != 0).then(|| (i, now.saturating_sub(Duration::from_nanos(at))))
            })
            .collect()
    }
}

/// Whether sysmon asked the calling worker's task to yield; clears the request.
#[inline]
pub(crate) fn take_preempt_request() -> bool {
    match super::current_worker() {
        Some(w) => {
            // SAFETY: the worker outlives every call made on its thread while it is installed.
            unsafe { &*w }.me().take_preempt()
        }
        None => false,
    }
}
