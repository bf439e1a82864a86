//! The netpoller: one epoll instance per runtime run, and the readiness record of each socket.
//!
//! A goro socket is non-blocking underneath. A task whose read, write, accept or connect would
//! block (`EAGAIN`) does not block its worker's thread: it records itself as the waiter of its
//! socket's read or write direction ([`PollDesc`]) and parks with the wait reason `IO wait`.
//! The run's [`Poller`] watches every socket that ever had to wait, edge-triggered: the kernel
//! reports a socket once each time it *becomes* readable or writable, so a socket is
//! registered once, when it first waits, and never re-armed. When epoll reports an event the
//! poller marks the direction ready and wakes exactly the task waiting on it, which retries its
//! operation.
//!
//! Who calls `epoll_wait` (the park driver, `sched/park.rs`, is the only place in the
//! scheduler that knows about the poller):
//!
//! - a worker that runs out of local work polls **without blocking** before it steals, and
//!   every 61st scheduling tick, so readiness is noticed while every worker is busy;
//! - a worker with nothing to do at all sleeps **in `epoll_wait`** instead of on its futex,
//!   with the next timer's deadline as the timeout, so timers and I/O share one sleep. Only
//!   one thread at a time takes that role (`polling`), and only while no other worker runs
//!   tasks (that one polls as it goes, and wakes a sleeper per batch of events rather than
//!   per event); the others sleep on their futex;
//! - sysmon polls without blocking when nobody polled since its last look, 2 ms earlier
//!   (`sched/sysmon.rs`);
//! - a thread that must wake the worker sleeping in `epoll_wait` (new work, shutdown) writes
//!   to an eventfd that the epoll instance watches (Go's `netpollBreak`).
//!
//! The protocol of a direction's slot (`ready`, `waiter`, both behind one small lock):
//!
//! 1. An event sets `ready` and takes the waiter, if any, and wakes it after unlocking.
//! 2. A task that got `EAGAIN` locks the slot: if `ready` is set it clears it and retries at
//!    once (an event came between its attempt and now); otherwise it leaves its parker there
//!    and parks. So an edge that arrives at any moment is never lost.
//! 3. `ready` may be stale (the data it announced was already read): the retry then gets
//!    `EAGAIN` again and waits again. A wakeup may be spurious; waiters re-check.
//! 4. A waiter that leaves without an event (deadline, cancelled context, its task cancelled
//!    at shutdown) takes its parker out of the slot itself: a slot never holds a stale task.
//! 5. Epoll's data word is a slot index and generation into the poller's registration table,
//!    never a pointer: an event for a socket closed meanwhile finds a newer generation (or an
//!    empty slot) and is dropped, so nothing is used after it is freed.
//! 6. Only the thread in the blocking role reads the eventfd: a non-blocking poll that
//!    drained it could leave the blocked thread asleep with its wakeup consumed.
//!
//! Go counterpart: `runtime/netpoll.go` (`pollDesc`, `netpollblock`, `netpollready`) and
//! `runtime/netpoll_epoll.go` (`netpollinit`, `netpollopen`, `netpoll`, `netpollBreak`).
//! Lesson: 15 (network server), and 13 for how the idle worker sleeps.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::task::record::Parker;

/// Epoll's data word for the eventfd (a registration key never has this value).
const BREAK_KEY: u64 = u64::MAX;
/// Events taken from the kernel per `epoll_wait` call.
const EVENTS: usize = 128;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A direction of a socket: what a waiter waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dir {
    /// Readable (or, for a listener, a connection to accept).
    Read,
    /// Writable (or, for a connecting socket, connected).
    Write,
}

#[derive(Default)]
struct Slot {
    /// An event arrived that nobody consumed yet (rule 1).
    ready: bool,
    /// The task (or thread) waiting for this direction.
    waiter: Option<Parker>,
}

/// The readiness record of one socket (Go's `pollDesc`): one slot per direction.
#[derive(Default)]
pub(crate) struct PollDesc {
    read: Mutex<Slot>,
    write: Mutex<Slot>,
}

impl PollDesc {
    fn slot(&self, dir: Dir) -> &Mutex<Slot> {
        match dir {
            Dir::Read => &self.read,
            Dir::Write => &self.write,
        }
    }

    /// An event for `dir` (rule 1).
    fn notify(&self, dir: Dir) {
        let waiter = {
            let mut s = lock(self.slot(dir));
            s.ready = true;
            s.waiter.take()
        };
        if let Some(w) = waiter {
            w.wake();
        }
    }

    /// Rule 2: consumes a pending event (true: retry at once), or leaves `waiter` to be woken
    /// by the next one (false: park).
    pub(crate) fn arm(&self, dir: Dir, waiter: Parker) -> bool {
        let mut s = lock(self.slot(dir));
        if s.ready {
            s.ready = false;
            return true;
        }
        if crate::trace::on()
            && let Parker::Task(t) = &waiter
        {
            crate::trace::record(
                t.shared(),
                crate::trace::Kind::IoWait,
                t.id,
                0,
                dir as u32,
                0,
            );
        }
        s.waiter = Some(waiter);
        false
    }

    /// Rule 4: the waiter leaves without an event.
    pub(crate) fn disarm(&self, dir: Dir) {
        let w = lock(self.slot(dir)).waiter.take();
        drop(w);
    }

    /// Wakes the waiter of `dir` without marking it ready (its deadline changed, or the socket
    /// is being shut down): it re-checks and waits again or gives up.
    pub(crate) fn nudge(&self, dir: Dir) {
        let w = lock(self.slot(dir)).waiter.take();
        if let Some(w) = w {
            w.wake();
        }
    }
}

/// The registration table: which `PollDesc` an event's data word names (rule 5).
#[derive(Default)]
struct Regs {
    /// (generation, record) per slot.
    slots: Vec<(u32, Option<Arc<PollDesc>>)>,
    free: Vec<u32>,
}

/// One run's epoll instance.
pub(crate) struct Poller {
    epoll: OwnedFd,
    /// Written to break a blocking `epoll_wait` (Go's `netpollBreakWr`).
    wakeup: OwnedFd,
    regs: Mutex<Regs>,
    /// Tasks parked on a socket right now: a run with such tasks is not deadlocked, and only
    /// then is polling worth a system call.
    waiters: AtomicUsize,
    /// A thread is blocked in `epoll_wait` (the blocking role; rule 6).
    polling: AtomicBool,
    /// `epoll_wait` calls so far (wrapping): sysmon polls when this stood still for a tick.
    polls: AtomicUsize,
}

/// Turns a libc return value into an `io::Result`.
fn cvt(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

impl Poller {
    /// Creates the epoll instance and its eventfd.
    pub(crate) fn new() -> io::Result<Poller> {
        // SAFETY: plain system calls; each returned descriptor is checked and then owned by
        // exactly one `OwnedFd`.
        let (epoll, wakeup) = unsafe {
            let ep = OwnedFd::from_raw_fd(cvt(libc::epoll_create1(libc::EPOLL_CLOEXEC))?);
            let ev = OwnedFd::from_raw_fd(cvt(libc::eventfd(
                0,
                libc::EFD_CLOEXEC | libc::EFD_NONBLOCK,
            ))?);
            (ep, ev)
        };
        let mut event = libc::epoll_event {
            // Level-triggered: the blocking poller sees it until it reads it (rule 6).
            events: libc::EPOLLIN as u32,
            u64: BREAK_KEY,
        };
        // SAFETY: both descriptors are open; `event` is a valid epoll_event.
        cvt(unsafe {
            libc::epoll_ctl(
                epoll.as_raw_fd(),
                libc::EPOLL_CTL_ADD,
                wakeup.as_raw_fd(),
                &mut event,
            )
        })?;
        Ok(Poller {
            epoll,
            wakeup,
            regs: Mutex::new(Regs::default()),
            waiters: AtomicUsize::new(0),
            polling: AtomicBool::new(false),
            polls: AtomicUsize::new(0),
        })
    }

    /// Watches `fd` for both directions, edge-triggered, reporting to `desc`; returns the key
    /// to deregister it with.
    pub(crate) fn register(&self, fd: RawFd, desc: &Arc<PollDesc>) -> io::Result<u64> {
        let key = {
            let mut regs = lock(&self.regs);
            let i = match regs.free.pop() {
                Some(i) => i,
                None => {
                    regs.slots.push((0, None));
                    (regs.slots.len() - 1) as u32
                }
            };
            let slot = &mut regs.slots[i as usize];
            slot.0 = slot.0.wrapping_add(1);
            slot.1 = Some(desc.clone());
            u64::from(i) | u64::from(slot.0) << 32
        };
        let mut event = libc::epoll_event {
            events: (libc::EPOLLIN | libc::EPOLLOUT | libc::EPOLLRDHUP | libc::EPOLLET) as u32,
            u64: key,
        };
        // SAFETY: `fd` is an open socket owned by the caller; `event` is valid.
        let r = cvt(unsafe {
            libc::epoll_ctl(self.epoll.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut event)
        });
        if let Err(e) = r {
            self.forget(key);
            return Err(e);
        }
        Ok(key)
    }

    /// Stops watching `fd` (registered under `key`). Call before the descriptor is closed.
    pub(crate) fn deregister(&self, fd: RawFd, key: u64) {
        // SAFETY: `fd` is still open (the caller closes it afterwards); a null event is
        // allowed for EPOLL_CTL_DEL since Linux 2.6.9.
        unsafe {
            libc::epoll_ctl(
                self.epoll.as_raw_fd(),
                libc::EPOLL_CTL_DEL,
                fd,
                std::ptr::null_mut(),
            )
        };
        self.forget(key);
    }

    fn forget(&self, key: u64) {
        let mut regs = lock(&self.regs);
        let i = (key & 0xffff_ffff) as u32;
        if let Some(slot) = regs.slots.get_mut(i as usize)
            && slot.0 == (key >> 32) as u32
            && slot.1.take().is_some()
        {
            regs.free.push(i);
        }
    }

    /// Whether some task waits on a socket of this run.
    #[inline]
    pub(crate) fn has_waiters(&self) -> bool {
        self.waiters.load(Ordering::SeqCst) != 0
    }

    /// Counts a task that starts waiting on a socket...
    pub(crate) fn add_waiter(&self) {
        self.waiters.fetch_add(1, Ordering::SeqCst);
    }

    /// ...and one that stops.
    pub(crate) fn remove_waiter(&self) {
        self.waiters.fetch_sub(1, Ordering::SeqCst);
    }

    /// Takes the blocking role if nobody holds it (rule 6); pair with
    /// [`end_blocking`](Poller::end_blocking).
    pub(crate) fn try_begin_blocking(&self) -> bool {
        !self.polling.load(Ordering::Relaxed)
            && self
                .polling
                .compare_exchange(false, true, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
    }

    /// Gives the blocking role back.
    pub(crate) fn end_blocking(&self) {
        self.polling.store(false, Ordering::Release);
    }

    /// Whether a non-blocking poll is worth a system call: somebody waits on a socket and no
    /// thread is blocked in `epoll_wait` already (it would see the events first).
    #[inline]
    pub(crate) fn worth_polling(&self) -> bool {
        self.has_waiters() && !self.polling.load(Ordering::Relaxed)
    }

    /// How many times this poller has called `epoll_wait` (wrapping: only its changes mean
    /// anything).
    #[inline]
    pub(crate) fn polls(&self) -> usize {
        self.polls.load(Ordering::Relaxed)
    }

    /// Breaks a blocking `epoll_wait` (Go's `netpollBreak`).
    pub(crate) fn interrupt(&self) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a live u64 to our eventfd. An error (the counter is
        // full) means a wakeup is pending anyway.
        unsafe {
            libc::write(
                self.wakeup.as_raw_fd(),
                (&one as *const u64).cast(),
                std::mem::size_of::<u64>(),
            )
        };
    }

    /// Waits up to `timeout` (`None`: until an event; zero: not at all) for events and wakes
    /// the tasks they are for; returns how many directions became ready. `blocking` says the
    /// caller holds the blocking role and may consume the eventfd (rule 6).
    pub(crate) fn poll(&self, timeout: Option<Duration>, blocking: bool) -> usize {
        let ms: libc::c_int = match timeout {
            None => -1,
            // Round up: waking a little early would only make the caller sleep again.
            Some(d) => d
                .as_nanos()
                .div_ceil(1_000_000)
                .min(libc::c_int::MAX as u128) as libc::c_int,
        };
        self.polls.fetch_add(1, Ordering::Relaxed);
        let mut events = [libc::epoll_event { events: 0, u64: 0 }; EVENTS];
        // SAFETY: `events` has room for EVENTS entries; the epoll descriptor is open.
        let n = unsafe {
            libc::epoll_wait(
                self.epoll.as_raw_fd(),
                events.as_mut_ptr(),
                EVENTS as libc::c_int,
                ms,
            )
        };
        if n <= 0 {
            // 0: timed out; -1: EINTR (a signal) or nothing we can act on: callers re-check.
            return 0;
        }
        let mut ready: Vec<(Arc<PollDesc>, bool, bool)> = Vec::with_capacity(n as usize);
        {
            let regs = lock(&self.regs);
            for ev in &events[..n as usize] {
                let key = ev.u64;
                if key == BREAK_KEY {
                    if blocking {
                        self.drain_wakeup();
                    }
                    continue;
                }
                let flags = ev.events as libc::c_int;
                let err = flags & (libc::EPOLLERR | libc::EPOLLHUP) != 0;
                let r = err || flags & (libc::EPOLLIN | libc::EPOLLRDHUP) != 0;
                let w = err || flags & libc::EPOLLOUT != 0;
                // Rule 5: an event for a slot reused since is dropped.
                if let Some((generation, Some(desc))) = regs.slots.get((key & 0xffff_ffff) as usize)
                    && *generation == (key >> 32) as u32
                {
                    ready.push((desc.clone(), r, w));
                }
            }
        }
        let mut woken = 0;
        for (desc, r, w) in ready {
            if r {
                desc.notify(Dir::Read);
                woken += 1;
            }
            if w {
                desc.notify(Dir::Write);
                woken += 1;
            }
        }
        woken
    }

    fn drain_wakeup(&self) {
        let mut buf: u64 = 0;
        // SAFETY: reads 8 bytes into a live u64 from our non-blocking eventfd.
        unsafe {
            libc::read(
                self.wakeup.as_raw_fd(),
                (&mut buf as *mut u64).cast(),
                std::mem::size_of::<u64>(),
            )
        };
    }
}
