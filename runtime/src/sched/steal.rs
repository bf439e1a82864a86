//! Stealing, and why thieves are patient.
//!
//! An idle worker takes half of another worker's ring ([`Worker::steal`]), or work from the
//! global queue. But Go's idle Ps steal at once, because a goroutine that lands on the wrong P
//! can move again later. Here a task is pinned to the worker it first runs on, so a steal is a
//! lifelong placement: a chain of tasks that hand work to each other (a pipeline, a ring of
//! channels) that gets split across two threads pays a cross-thread wakeup on every hand-off,
//! forever. So **thieves are patient**: a thief first asks whether the owner needs help. It
//! measures how fast the owner takes tasks from its queue (`queue::Progress`) and steals only
//! if, at that rate, the owner would need longer than [`STEAL_PATIENCE`] to get through what
//! is queued (its ring plus its overflow in the global queue). A burst the owner is working
//! through stays with it and its warm caches; an owner that is stuck in one long task, or is
//! handed work faster than it runs it, gets help as in Go. An owner counts as stuck once it
//! took nothing for two measuring windows in a row (`queue::Progress`): one idle window is
//! often the owner still spawning the burst it will work through next (with one, a thread-ring
//! run split in about one of six on a quiet machine, when its 503 spawns took longer than a
//! window; with two, none of sixteen). Likewise one slow window after fast ones is not yet a
//! slow owner: the rate a thief judges by falls by at most half per window (`queue::DECAY`).
//! Thread-ring's token makes its first 256 hops through `runnext`, from one parked task to the
//! next, while the 247 tasks spawned last wait in the ring: for that moment the owner takes
//! almost nothing from its ring, and judged by that one window, the ring split in 3 of 20
//! traced runs (`GORO_TRACE`, `--n 20000`); with the decay, in none of 20. While it waits,
//! the thief sleeps with a timeout ([`Worker::wait_patiently`]) rather than spinning. Linux's
//! load balancer has a similar rule of thumb: it counts a thread that ran within the last half
//! millisecond as cache-hot and prefers to leave it where it is (`sched_migration_cost`, 0.5
//! ms by default, under `/sys/kernel/debug/sched/` since Linux 5.13), though it still moves
//! one when balancing keeps failing.
//!
//! **A network server is spread at once.** Patience protects tasks that hand work to each
//! other; the tasks of a server (a task per connection, spawned by an accept loop) are each
//! driven by the kernel, and once started they can never move. Judged by patience, a
//! connection's task is never ripe (the accept loop spawns one at a time and its worker starts
//! each within microseconds), so every connection would end up on the worker of the accept
//! loop and the other threads would idle: `echo-throughput` ran all 2,000 of its tasks on one
//! of two workers and was 1.2x slower than Go, whose goroutines migrate. So once a run uses
//! the network, a thief that is home to fewer live tasks than its victim (by more than
//! `SPREAD_SLACK`) takes from it without waiting, which evens out the workers' tasks as
//! they start, as Go's idle Ps do by stealing at once.
//!
//! Rules:
//!
//! 1. A thief takes only from a ring that is *ripe* (`Shared::ripe`); an unripe one lowers
//!    the time it waits before it looks again.
//! 2. Work that came from outside the runtime (global queue with `NO_OWNER`), a worker's own
//!    ring and its own overflow need no patience.
//! 3. A patient thief sets `patient` and `sleeping` before its last look; whoever queues work
//!    that needs no patience wakes every patient worker (`Shared::push_global`, with a SeqCst
//!    fence on both sides).
//! 4. In a run that uses the network (a task ever waited on a socket), a victim home to more
//!    than `SPREAD_SLACK` more live tasks (`registry.rs`) than its thief is ripe at once.
//! 5. A spawner waiting behind its ring (spawn's back-pressure, `worker.rs`) counts as more
//!    queued tasks: it will go on spawning as soon as it runs, and the 256 tasks in sight would
//!    never look like more than its worker can do alone. A spawner that stepped back `r` times
//!    in a row counts as `4 (r - 1)` rings more (at most 12). Without it, launching a million
//!    tasks that each start and park ran on one of two workers, 1.5x slower than when the
//!    burst spilled into a growing, stealable backlog (with it, 1.1x); counting twelve rings
//!    from the first step back split the thread-ring's 503 tasks in 7 runs of 8 (it steps back
//!    once). A burst of tasks that finish at once still stays on its warm worker: at its rate,
//!    twelve rings are a tenth of the patience.
//!
//! Go counterpart: `stealWork`, `runqsteal`, `runqgrab` in `runtime/proc.go` (which steal at
//! once). Lesson: 12 (work stealing).

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::queue::{NO_OWNER, Verdict};
use super::shared::Shared;
use super::worker::Worker;
use crate::task::record::TaskRef;

/// A thief steals from a worker that would need longer than this to get through its queue
/// (see "Thieves are patient" above). Starting 503 fresh tasks (the thread-ring benchmark,
/// spawned in one burst) takes a worker 1.3 ms on a quiet 2-CPU virtual machine and up to 2.5 ms
/// on a busy one, most of it first-touch page faults on new stacks; with 2 ms that ring was
/// still split in one run of twelve (judged at 206 tasks per ms with 439 queued).
pub(crate) const STEAL_PATIENCE: Duration = Duration::from_millis(3);

/// Most rings of work a spawner waiting behind its ring stands for (rule 5). Twelve rings are
/// more than `STEAL_PATIENCE` of work at the rate its worker takes tasks once a task costs
/// about a microsecond to get through (starting a task that parks: a stack and its first page
/// faults), and a tenth of it for a task that only adds to a sum.
const SPAWNER_ROUNDS_MAX: usize = 12;

/// The backlog thieves count for a spawner that stepped back `rounds` times in a row (rule 5):
/// four rings for each ring it filled before this one, up to `SPAWNER_ROUNDS_MAX`: a burst that
/// keeps going is soon judged as the long one it is. (The first step back counts nothing
/// extra: a burst of a ring or two, like the thread-ring's 503 tasks, is judged by what is in
/// sight, as before back-pressure.)
pub(super) fn spawner_backlog(rounds: usize) -> usize {
    ((rounds - 1) * 4).min(SPAWNER_ROUNDS_MAX) * super::queue::CAPACITY as usize
}

/// How many more live tasks a victim may be home to than its thief before the thief spreads
/// them, in a run that uses the network (rule 4): a small margin, so that two workers with
/// about as many tasks leave each other's spawns alone.
const SPREAD_SLACK: usize = 4;

impl Shared {
    /// Microseconds since the run started, on the clock thieves share (wraps after 71 minutes;
    /// only differences are used).
    fn now_us(&self) -> u32 {
        self.epoch.elapsed().as_micros() as u32
    }

    /// Whether there is work worker `index` could take now: the global queue, a stealable
    /// ring that is ripe (or its own), or its own inbox. (Another worker's inbox is that
    /// worker's business: whoever filled it woke it. A ring that is not ripe yet has a patient
    /// thief watching it, or is left to its owner.)
    pub(super) fn work_for(&self, index: usize) -> bool {
        if self.workers[index].inbox_len.load(Ordering::SeqCst) > 0 {
            return true;
        }
        let mut wait = None;
        self.global_takeable(index, &mut wait)
            || self
                .workers
                .iter()
                .enumerate()
                .any(|(i, w)| !w.ring.is_empty() && (i == index || self.ripe(index, i, &mut wait)))
    }

    /// Whether worker `thief` may take from another worker, `victim` (rule 1): at the rate
    /// thieves have seen it take tasks, the victim would need longer than `STEAL_PATIENCE` to
    /// get through its ring and its overflow in the global queue, or the run serves the
    /// network and the victim is home to more tasks than the thief (rule 4). If not, lowers
    /// `wait` to when to look again.
    pub(super) fn ripe(&self, thief: usize, victim: usize, wait: &mut Option<Duration>) -> bool {
        if self.spread(thief, victim) {
            return true;
        }
        let ring = &self.workers[victim].ring;
        let mut queued = ring.len();
        if self.global.owner() == victim {
            queued += self.global.len();
        }
        queued += self.workers[victim].spawner_backlog.load(Ordering::Relaxed);
        let patience = STEAL_PATIENCE.as_micros() as u32;
        let queued = queued.min(u32::MAX as usize) as u32;
        match ring
            .progress
            .judge(self.now_us(), ring.taken(), queued, patience)
        {
            Verdict::Steal => true,
            Verdict::Wait(us) => {
                let left = Duration::from_micros(u64::from(us));
                *wait = Some(wait.map_or(left, |w| w.min(left)));
                false
            }
        }
    }

    /// Rule 4: whether the run uses the network (a task of it ever waited on a socket) and
    /// `victim` is home to more than `SPREAD_SLACK` more live tasks than `thief`.
    fn spread(&self, thief: usize, victim: usize) -> bool {
        if self.io.poller().is_none() {
            return false;
        }
        let homed = |w: usize| self.workers[w].registry.with(|s| s.len);
        homed(victim) > homed(thief) + SPREAD_SLACK
    }

    /// Whether worker `index` may take from the global queue now: it holds work, and that work
    /// is the worker's own overflow, came from outside, or belongs to a worker that is ripe
    /// (rule 2).
    pub(super) fn global_takeable(&self, index: usize, wait: &mut Option<Duration>) -> bool {
        if self.global.len() == 0 {
            return false;
        }
        let owner = self.global.owner();
        owner == index || owner == NO_OWNER || self.ripe(index, owner, wait)
    }

    /// Whether any queue holds work (deadlock check).
    pub(super) fn any_shared_work(&self) -> bool {
        self.global.len() > 0
            || self
                .workers
                .iter()
                .any(|w| w.inbox_len.load(Ordering::SeqCst) > 0 || !w.ring.is_empty())
    }
}

impl Worker {
    /// Takes half of another worker's ring, if one has a ripe backlog; lowers `wait` to when
    /// the youngest unripe one will be.
    pub(super) fn steal(&self, wait: &mut Option<Duration>) -> Option<TaskRef> {
        let n = self.shared.workers.len();
        if n < 2 {
            return None;
        }
        let start = self.rand() as usize % n;
        for k in 0..n {
            let v = (start + k) % n;
            let victim = &self.shared.workers[v].ring;
            if v == self.index || victim.is_empty() || !self.shared.ripe(self.index, v, wait) {
                continue;
            }
            if let Some((t, count)) = self.me().ring.steal_from(victim) {
                self.me().steals.fetch_add(count as u64, Ordering::Relaxed);
                self.trace(crate::trace::Kind::Steal, v as u64, count as u32);
                return Some(t);
            }
        }
        None
    }

    /// Sleeps until another worker's backlog is ripe (`d`), a timer is due, or something wakes
    /// it: its inbox, work from outside the runtime, shutdown (rule 3).
    pub(super) fn wait_patiently(&self, d: Duration) {
        let me = self.me();
        me.sleeping.store(true, Ordering::SeqCst);
        me.patient.store(true, Ordering::SeqCst);
        let d = match self.shared.timers.next_deadline() {
            Some(t) => d.min(t.saturating_duration_since(Instant::now())),
            None => d,
        };
        let woken = me.inbox_len.load(Ordering::SeqCst) > 0
            || self.shared.is_shutting_down()
            || self.shared.global.owner() == NO_OWNER && self.shared.global.len() > 0;
        if !woken && !d.is_zero() {
            self.trace(crate::trace::Kind::Sleep, 0, 0);
            me.park.sleep(Some(d));
            self.trace(crate::trace::Kind::Wake, 0, 0);
        }
        me.patient.store(false, Ordering::SeqCst);
        me.sleeping.store(false, Ordering::SeqCst);
    }
}
