//! Signals: [`notify`] delivers signals as channel values (Go's `os/signal`; see
//! `signal/notify.rs`), and, inside the crate, the stack-overflow handler, which turns a fault
//! in a task's guard page into a message that names the task, then aborts.
//!
//! Go checks for room in every function prologue and grows the stack; when a goroutine passes
//! the maximum (1 GB on 64-bit) the runtime dies with `runtime: goroutine stack exceeds
//! 1000000000-byte limit` / `fatal error: stack overflow` (see `newstack` in `runtime/stack.go`;
//! faults in general go through `sigpanic` in `runtime/signal_unix.go`). goro's stacks do not
//! grow past their reservation, so running off the end touches the guard page below the stack
//! (see `stack.rs`) and the kernel sends SIGSEGV. Rust's standard library does the same for OS
//! threads: its handler prints `thread 'x' has overflowed its stack` and aborts. This module does
//! it for tasks. Lessons 02 (guard pages) and 14 (a million tasks) use it.
//!
//! Three rules shape the code:
//! - The handler runs on the thread that faulted, whose stack is exhausted, so it needs an
//!   *alternate signal stack*; `sigaltstack` is per thread, so every worker installs one
//!   ([`install_on_this_thread`]), unless the thread already has one (Rust's `std` gives its
//!   threads one).
//! - A signal handler may only do async-signal-safe work: no allocation, no locks, no
//!   `println!`. It formats into a buffer on its own stack, calls `write(2)` and `abort(3)`.
//! - Faults that are not a task overflow are none of our business: they go to the handler that
//!   was installed before ours (std's, which reports overflows of the thread's own stack), or,
//!   if there was none, the default action is restored and the faulting access repeats, so an
//!   ordinary segfault still kills the process with SIGSEGV and a core dump.

use std::cell::Cell;
use std::mem;
use std::ptr;
use std::sync::{Once, OnceLock};

mod notify;
mod quit;
pub use notify::notify;
pub(crate) use quit::watch_sigquit;

/// What the handler needs to know about the running task. The scheduler keeps one per task
/// and points [`set_current`] at it whenever it switches to the task.
#[derive(Debug)]
pub(crate) struct OverflowInfo {
    /// Task id, as `goro::task::TaskId::as_u64`.
    pub id: u64,
    /// The task's name (UTF-8, not NUL-terminated); null when the task has none.
    pub name_ptr: *const u8,
    pub name_len: usize,
    /// The guard page below the task's stack: `[guard_lo, guard_hi)`.
    pub guard_lo: usize,
    pub guard_hi: usize,
    /// Usable bytes of the task's stack, for the message.
    pub stack_size: usize,
}

/// How far below the guard page a fault still counts as an overflow. Functions compiled by
/// rustc probe frames larger than a page one page at a time, so they hit the guard page itself;
/// code without probes (C, hand-written assembly) can reach a little further with one large
/// frame. Below a pooled stack lies the previous stack of the slab, which is mapped, so only a
/// standalone stack has unmapped space there to fault on.
const SLACK_BELOW_GUARD: usize = 64 * 1024;

/// Size of the alternate signal stack goro allocates for threads that lack one.
const ALT_STACK_SIZE: usize = 64 * 1024;

thread_local! {
    // Const-initialised and without a destructor, so reading it is a plain TLS load: safe in a
    // signal handler and cheap enough to update on every switch.
    static CURRENT: Cell<*const OverflowInfo> = const { Cell::new(ptr::null()) };
    static ALT_STACK: Cell<bool> = const { Cell::new(false) };
    static ALT_STACK_OWNER: AltStackOwner = const { AltStackOwner { map: Cell::new(0) } };
}

/// Records which task is running on this thread (null: none). `info` must stay valid until it
/// is replaced or cleared.
#[inline]
pub(crate) fn set_current(info: *const OverflowInfo) {
    CURRENT.with(|c| c.set(info));
}

/// The SIGSEGV and SIGBUS actions that were installed before ours.
static PREVIOUS: OnceLock<[libc::sigaction; 2]> = OnceLock::new();
static INSTALL: Once = Once::new();

/// Installs the overflow handler for the process (once) and an alternate signal stack for the
/// calling thread (once per thread; freed when the thread exits). Call on every thread that runs
/// tasks, before it runs the first one.
pub(crate) fn install_on_this_thread() {
    INSTALL.call_once(install_handlers);
    if ALT_STACK.with(|c| c.replace(true)) {
        return;
    }
    // SAFETY: sigaltstack with a null new stack only reads the current setting into `old`.
    let mut old: libc::stack_t = unsafe { mem::zeroed() };
    // SAFETY: `old` is a valid, writable stack_t.
    let rc = unsafe { libc::sigaltstack(ptr::null(), &mut old) };
    if rc == 0 && old.ss_flags & libc::SS_DISABLE == 0 {
        // std (or the program) already gave this thread one, sized for the kernel's signal
        // frame; our handler needs under 1 KiB more. Replacing it would make std's cleanup at
        // thread exit disable ours and leak both, so keep it.
        return;
    }
    let page = crate::stack::page_size();
    let size = ALT_STACK_SIZE.max(min_alt_stack()).div_ceil(page) * page;
    let Ok(map) = crate::stack::reserve(size + page) else {
        return; // no memory for it: an overflow then dies as a plain SIGSEGV, as before
    };
    if crate::stack::install_guard(map, page).is_err() {
        // SAFETY: just mapped, unknown to anyone else.
        unsafe { crate::stack::unreserve(map, size + page) };
        return;
    }
    let new = libc::stack_t {
        ss_sp: (map + page) as *mut libc::c_void,
        ss_flags: 0,
        ss_size: size,
    };
    // SAFETY: `new` describes memory we own until the thread exits (see AltStackOwner::drop).
    if unsafe { libc::sigaltstack(&new, ptr::null_mut()) } == 0 {
        ALT_STACK_OWNER.with(|o| o.map.set(map));
    } else {
        // SAFETY: the kernel refused the stack, so nothing refers to the mapping.
        unsafe { crate::stack::unreserve(map, size + page) };
    }
}

/// The alternate stack size the kernel asks for (its signal frame grows with the CPU's vector
/// state, e.g. AVX-512 or AMX), doubled for the handlers' own frames.
fn min_alt_stack() -> usize {
    // SAFETY: getauxval has no preconditions; it returns 0 for unknown keys.
    let min = unsafe { libc::getauxval(libc::AT_MINSIGSTKSZ) } as usize;
    min.max(libc::SIGSTKSZ) * 2
}

/// Frees the alternate signal stack goro allocated for a thread when the thread exits.
struct AltStackOwner {
    map: Cell<usize>,
}

impl Drop for AltStackOwner {
    fn drop(&mut self) {
        let map = self.map.get();
        if map == 0 {
            return;
        }
        let page = crate::stack::page_size();
        let size = ALT_STACK_SIZE.max(min_alt_stack()).div_ceil(page) * page;
        // SAFETY: reading the current setting only.
        let mut cur: libc::stack_t = unsafe { mem::zeroed() };
        // SAFETY: `cur` is valid and writable.
        unsafe { libc::sigaltstack(ptr::null(), &mut cur) };
        if cur.ss_sp as usize != map + page {
            return; // someone replaced it; leak rather than free memory that may be in use
        }
        let off = libc::stack_t {
            ss_sp: ptr::null_mut(),
            ss_flags: libc::SS_DISABLE,
            ss_size: 0,
        };
        // SAFETY: disabling the alternate stack; we are not running on it (this is a TLS
        // destructor on the thread's normal stack).
        if unsafe { libc::sigaltstack(&off, ptr::null_mut()) } == 0 {
            // SAFETY: the kernel no longer refers to it and nothing else knows of it.
            unsafe { crate::stack::unreserve(map, size + page) };
        }
    }
}

/// Saves the current SIGSEGV and SIGBUS actions, then installs ours. Saving comes first so
/// that a fault arriving the moment ours is in place already finds the action to forward to.
fn install_handlers() {
    let previous = SIGNALS.map(|signal| {
        // SAFETY: an all-zero sigaction is a valid value (SIG_DFL, empty mask).
        let mut old: libc::sigaction = unsafe { mem::zeroed() };
        // SAFETY: reading the current action into a valid struct.
        unsafe { libc::sigaction(signal, ptr::null(), &mut old) };
        old
    });
    if PREVIOUS.set(previous).is_err() {
        return; // cannot happen: only INSTALL's single run sets it
    }
    for signal in SIGNALS {
        // SAFETY: zeroed is valid (see above); the fields we need are set below.
        let mut action: libc::sigaction = unsafe { mem::zeroed() };
        action.sa_sigaction = handler as *const () as usize;
        action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
        // SAFETY: `action.sa_mask` is a valid sigset_t to initialise.
        unsafe { libc::sigemptyset(&mut action.sa_mask) };
        // SAFETY: installing a handler that is async-signal-safe (see `handler`); the previous
        // action was saved above so faults that are not ours reach it.
        unsafe { libc::sigaction(signal, &action, ptr::null_mut()) };
    }
}

const SIGNALS: [libc::c_int; 2] = [libc::SIGSEGV, libc::SIGBUS];

extern "C" fn handler(signal: libc::c_int, info: *mut libc::siginfo_t, context: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo_t for SA_SIGINFO handlers of fault signals.
    let addr = unsafe { (*info).si_addr() } as usize;
    let current = CURRENT.with(|c| c.get());
    if !current.is_null() {
        // SAFETY: set_current's caller keeps the info alive while it is current.
        let task = unsafe { &*current };
        if addr < task.guard_hi && addr >= task.guard_lo.saturating_sub(SLACK_BELOW_GUARD) {
            report_overflow(task);
        }
    }
    forward(signal, info, context);
}

fn report_overflow(task: &OverflowInfo) -> ! {
    let mut buf = Buf::new();
    buf.push(b"goro: goroutine ");
    buf.push_u64(task.id);
    if !task.name_ptr.is_null() {
        // SAFETY: the scheduler guarantees the name outlives the task's turn on the CPU.
        let name = unsafe { std::slice::from_raw_parts(task.name_ptr, task.name_len) };
        buf.push(b" \"");
        buf.push(name);
        buf.push(b"\"");
    }
    buf.push(b" has overflowed its stack (stack size ");
    if task.stack_size.is_multiple_of(1024) {
        buf.push_u64(task.stack_size as u64 / 1024);
        buf.push(b" KiB)\n");
    } else {
        buf.push_u64(task.stack_size as u64);
        buf.push(b" bytes)\n");
    }
    buf.push(b"goro: fatal error: stack overflow; give the task more with ");
    buf.push(b"goro::task::Builder::stack_size (or every task, runtime::Builder::stack_size), ");
    buf.push(b"or move large locals to the heap; aborting\n");
    buf.write_stderr();
    // SAFETY: abort is async-signal-safe and never returns.
    unsafe { libc::abort() }
}

/// Hands a fault that is not a task overflow to whoever handled it before us.
fn forward(signal: libc::c_int, info: *mut libc::siginfo_t, context: *mut libc::c_void) {
    let index = if signal == libc::SIGSEGV { 0 } else { 1 };
    let previous = PREVIOUS.get().map(|p| p[index]);
    match previous {
        Some(prev) if prev.sa_sigaction != libc::SIG_DFL && prev.sa_sigaction != libc::SIG_IGN => {
            if prev.sa_flags & libc::SA_SIGINFO != 0 {
                // SAFETY: the previous handler was registered as a three-argument handler.
                let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                    unsafe { mem::transmute(prev.sa_sigaction) };
                f(signal, info, context);
            } else {
                // SAFETY: the previous handler was registered as a one-argument handler.
                let f: extern "C" fn(libc::c_int) = unsafe { mem::transmute(prev.sa_sigaction) };
                f(signal);
            }
        }
        _ => {
            // No handler before ours: restore the default action. Returning re-executes the
            // faulting instruction, which now kills the process with this signal.
            // SAFETY: zeroed is a valid sigaction with SIG_DFL as handler.
            let mut dfl: libc::sigaction = unsafe { mem::zeroed() };
            dfl.sa_sigaction = libc::SIG_DFL;
            // SAFETY: sigaction is async-signal-safe.
            unsafe { libc::sigaction(signal, &dfl, ptr::null_mut()) };
            // A signal sent with kill(2) rather than raised by a fault would not repeat: send it
            // again (it stays blocked, hence pending, until this handler returns).
            // SAFETY: `info` is valid (see `handler`); raise is async-signal-safe.
            if unsafe { (*info).si_code } <= 0 {
                // SAFETY: as above.
                unsafe { libc::raise(signal) };
            }
        }
    }
}

/// A fixed buffer for building the message without allocating.
struct Buf {
    bytes: [u8; 512],
    len: usize,
}

impl Buf {
    fn new() -> Buf {
        Buf {
            bytes: [0; 512],
            len: 0,
        }
    }

    fn push(&mut self, s: &[u8]) {
        let n = s.len().min(self.bytes.len() - self.len);
        self.bytes[self.len..self.len + n].copy_from_slice(&s[..n]);
        self.len += n;
    }

    fn push_u64(&mut self, mut v: u64) {
        let mut digits = [0u8; 20];
        let mut i = digits.len();
        loop {
            i -= 1;
            digits[i] = b'0' + (v % 10) as u8;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        self.push(&digits[i..]);
    }

    fn write_stderr(&self) {
        let mut done = 0;
        while done < self.len {
            // SAFETY: write(2) is async-signal-safe; the slice is valid for its length.
            let n = unsafe {
                libc::write(
                    libc::STDERR_FILENO,
                    self.bytes[done..].as_ptr().cast(),
                    self.len - done,
                )
            };
            if n <= 0 {
                break;
            }
            done += n as usize;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    #[test]
    fn message_formatting_without_allocation() {
        let mut buf = Buf::new();
        buf.push(b"id ");
        buf.push_u64(0);
        buf.push(b" ");
        buf.push_u64(u64::MAX);
        assert_eq!(&buf.bytes[..buf.len], b"id 0 18446744073709551615");
        let long = [b'x'; 600];
        buf.push(&long);
        assert_eq!(buf.len, 512, "the buffer truncates instead of overflowing");
    }

    fn alt_stack() -> libc::stack_t {
        // SAFETY: zeroed stack_t is valid; sigaltstack only writes into it.
        let mut cur: libc::stack_t = unsafe { mem::zeroed() };
        // SAFETY: reading the current setting into a valid struct.
        assert_eq!(unsafe { libc::sigaltstack(ptr::null(), &mut cur) }, 0);
        cur
    }

    #[test]
    fn every_thread_gets_an_alternate_stack_once() {
        std::thread::spawn(|| {
            install_on_this_thread();
            let first = alt_stack();
            assert_eq!(first.ss_flags & libc::SS_DISABLE, 0, "no alternate stack");
            assert!(first.ss_size >= libc::MINSIGSTKSZ);
            install_on_this_thread();
            assert_eq!(alt_stack().ss_sp, first.ss_sp, "a second call changed it");
        })
        .join()
        .unwrap();
        // A thread without one (std gives its threads one, so take it away first) gets goro's.
        std::thread::spawn(|| {
            let off = libc::stack_t {
                ss_sp: ptr::null_mut(),
                ss_flags: libc::SS_DISABLE,
                ss_size: 0,
            };
            // SAFETY: disabling this thread's alternate stack; no signal handler is running.
            assert_eq!(unsafe { libc::sigaltstack(&off, ptr::null_mut()) }, 0);
            install_on_this_thread();
            let ours = alt_stack();
            assert_eq!(ours.ss_flags & libc::SS_DISABLE, 0, "no alternate stack");
            assert!(ours.ss_size >= ALT_STACK_SIZE);
            assert_eq!(
                ALT_STACK_OWNER.with(|o| o.map.get()) + crate::stack::page_size(),
                ours.ss_sp as usize
            );
        })
        .join()
        .unwrap();
    }

    const CHILD: &str = "GORO_SIGNAL_TEST_CHILD";

    /// Runs the named test of this binary in a child process with CHILD set.
    fn run_child(test: &str, mode: &str) -> std::process::Output {
        Command::new(std::env::current_exe().unwrap())
            .args([test, "--exact", "--nocapture", "--test-threads=1"])
            .env(CHILD, mode)
            .output()
            .expect("re-running the test binary")
    }

    fn signal_of(output: &std::process::Output) -> Option<i32> {
        use std::os::unix::process::ExitStatusExt;
        output.status.signal()
    }

    /// Child part: fault in a stack's guard page with the handler installed and that stack
    /// registered as the current task's.
    #[test]
    fn guard_fault_is_reported_as_overflow() {
        match std::env::var(CHILD).as_deref() {
            Ok("overflow") => {
                let stack = crate::stack::Stack::new(64 * 1024).unwrap();
                let name = "deep";
                let info = OverflowInfo {
                    id: 7,
                    name_ptr: name.as_ptr(),
                    name_len: name.len(),
                    guard_lo: stack.guard().start,
                    guard_hi: stack.guard().end,
                    stack_size: stack.len(),
                };
                install_on_this_thread();
                set_current(&info);
                // SAFETY: deliberately touches the guard page to trigger the handler.
                unsafe { ptr::write_volatile((stack.guard().start + 8) as *mut u8, 1) };
                unreachable!("the guard page did not fault");
            }
            Ok("other") => {
                let stack = crate::stack::Stack::new(64 * 1024).unwrap();
                let info = OverflowInfo {
                    id: 3,
                    name_ptr: ptr::null(),
                    name_len: 0,
                    guard_lo: stack.guard().start,
                    guard_hi: stack.guard().end,
                    stack_size: stack.len(),
                };
                install_on_this_thread();
                set_current(&info);
                // A fault far away from the task's guard: an ordinary segfault.
                // SAFETY: deliberately faults (address 16 is never mapped).
                unsafe { ptr::write_volatile(16 as *mut u8, 1) };
                unreachable!("writing to address 16 did not fault");
            }
            Ok(_) => {}
            Err(_) => {
                let out = run_child(
                    "signal::tests::guard_fault_is_reported_as_overflow",
                    "overflow",
                );
                let stderr = String::from_utf8_lossy(&out.stderr);
                assert_eq!(signal_of(&out), Some(libc::SIGABRT), "stderr: {stderr}");
                assert!(
                    stderr.contains(
                        "goro: goroutine 7 \"deep\" has overflowed its stack (stack size 64 KiB)"
                    ),
                    "stderr: {stderr}"
                );

                let out = run_child(
                    "signal::tests::guard_fault_is_reported_as_overflow",
                    "other",
                );
                let stderr = String::from_utf8_lossy(&out.stderr);
                assert_eq!(signal_of(&out), Some(libc::SIGSEGV), "stderr: {stderr}");
                assert!(!stderr.contains("overflowed"), "stderr: {stderr}");
            }
        }
    }
}
