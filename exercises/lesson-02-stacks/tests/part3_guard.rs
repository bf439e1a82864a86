//! The guard page, proved by crashing on purpose. A crash would take the whole test binary down,
//! so each test re-runs this binary as a child process that does the dangerous thing, and the
//! parent reads how the child ended.
//!
//! The child first checks that there is a guard page to test (one page, mapped), exiting with
//! [`NO_GUARD`] or [`GUARD_NOT_MAPPED`] if not. Then it installs a SIGSEGV/SIGBUS handler that
//! looks at the faulting address and exits with [`IN_GUARD`] if it lies inside the guard page,
//! or [`OUTSIDE_GUARD`] if not.

use std::hint::black_box;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use goro::sys::context::stack::Stack as ContextStack;
use goro::sys::context::{Context, Transfer};
use goro::sys::libc;
use lesson_02_stacks::{Stack, page_size, resident_pages};

const CHILD_ENV: &str = "LESSON_02_GUARD_CHILD";
const IN_GUARD: i32 = 42;
const OUTSIDE_GUARD: i32 = 43;
const NO_FAULT: i32 = 44;
const NO_GUARD: i32 = 45;
const GUARD_NOT_MAPPED: i32 = 46;

static GUARD_LO: AtomicUsize = AtomicUsize::new(0);
static GUARD_HI: AtomicUsize = AtomicUsize::new(0);

extern "C" fn on_fault(_signal: libc::c_int, info: *mut libc::siginfo_t, _ctx: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo_t to an SA_SIGINFO handler; for SIGSEGV and
    // SIGBUS `si_addr` is the faulting address.
    let addr = unsafe { (*info).si_addr() } as usize;
    let guard = GUARD_LO.load(Ordering::Relaxed)..GUARD_HI.load(Ordering::Relaxed);
    let code = if guard.contains(&addr) {
        IN_GUARD
    } else {
        OUTSIDE_GUARD
    };
    // SAFETY: _exit is async-signal-safe and ends the process at once.
    unsafe { libc::_exit(code) };
}

/// In the child: make sure there is a guard page to test, remember where it is, and catch the
/// fault on an alternate stack (the faulting stack may have no room left for the handler).
fn arm_fault_handler(stack: &Stack) {
    let guard = stack.guard();
    if guard.len() != page_size() || !guard.start.is_multiple_of(page_size()) {
        std::process::exit(NO_GUARD);
    }
    // mincore fails (ENOMEM) on a range that is not mapped; a PROT_NONE page is mapped.
    if resident_pages(guard.start, guard.end).is_err() {
        std::process::exit(GUARD_NOT_MAPPED);
    }
    GUARD_LO.store(stack.guard().start, Ordering::Relaxed);
    GUARD_HI.store(stack.guard().end, Ordering::Relaxed);
    let alt = Box::leak(vec![0u8; 64 * 1024].into_boxed_slice());
    let alt_stack = libc::stack_t {
        ss_sp: alt.as_mut_ptr().cast(),
        ss_flags: 0,
        ss_size: alt.len(),
    };
    // SAFETY: `alt` is leaked, so it outlives the thread; a zeroed sigaction is a valid start,
    // and the handler has the SA_SIGINFO signature.
    unsafe {
        assert_eq!(libc::sigaltstack(&alt_stack, std::ptr::null_mut()), 0);
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_fault as *const () as usize;
        action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
        libc::sigemptyset(&mut action.sa_mask);
        assert_eq!(
            libc::sigaction(libc::SIGSEGV, &action, std::ptr::null_mut()),
            0
        );
        assert_eq!(
            libc::sigaction(libc::SIGBUS, &action, std::ptr::null_mut()),
            0
        );
    }
}

/// In the parent: runs `test` again in a child process and returns how the child ended.
fn run_child(test: &str) -> (Option<i32>, String) {
    let output = Command::new(std::env::current_exe().expect("the test binary's path"))
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, "1")
        .output()
        .expect("re-running the test binary as a child");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    (output.status.code(), stderr)
}

fn explain(code: Option<i32>, stderr: &str) -> String {
    match code {
        Some(NO_GUARD) => "there is no guard page to test yet: `guard()` must be exactly one \
                           page, page aligned, right below `bottom()` (part1_layout checks the \
                           layout; make it pass first)"
            .to_string(),
        Some(GUARD_NOT_MAPPED) => "the page `guard()` returns is not mapped at all: the guard \
                                   must be part of the stack's own mapping (an unmapped hole \
                                   could be filled by the next `mmap` anywhere in the process)"
            .to_string(),
        Some(OUTSIDE_GUARD) => "the child faulted, but not inside `guard()`: it went through the \
                                guard page without a fault and crashed somewhere else, so the \
                                page `guard()` returns is still accessible"
            .to_string(),
        Some(NO_FAULT) => "the child ran into the guard page and nothing stopped it: the page is \
                           readable and writable"
            .to_string(),
        other => format!("the child ended unexpectedly ({other:?}); its stderr:\n{stderr}"),
    }
}

#[test]
fn writing_into_the_guard_page_faults() {
    if std::env::var_os(CHILD_ENV).is_some() {
        let stack = Stack::new(64 * 1024).expect("a 64 KiB stack");
        arm_fault_handler(&stack);
        // SAFETY: none, on purpose: this is the write the guard page exists to stop. It runs in
        // a child process that the parent expects to die.
        unsafe { std::ptr::write_volatile((stack.bottom() - 1) as *mut u8, 1) };
        std::process::exit(NO_FAULT);
    }
    let (code, stderr) = run_child("writing_into_the_guard_page_faults");
    assert_eq!(code, Some(IN_GUARD), "{}", explain(code, &stderr));
}

// ANCHOR: recursion
/// A function with a 16 KiB frame, four pages: far larger than the one guard page.
#[inline(never)]
fn big_frames(depth: usize) -> usize {
    let mut frame = [0u8; 16 * 1024];
    black_box(&mut frame);
    if depth == 0 {
        0
    } else {
        big_frames(depth - 1) + frame[depth % frame.len()] as usize
    }
}

/// Runs on the exercise's stack: recurses 1 MiB deep into a 64 KiB stack.
extern "C" fn overflow_entry(t: Transfer) -> ! {
    let sum = big_frames(64);
    // Only reached if nothing stopped the recursion.
    // SAFETY: `t.context` is the suspended test thread, which is waiting for us.
    unsafe { t.context.resume(sum) };
    unreachable!("the test thread never resumes a finished stack");
}
// ANCHOR_END: recursion

#[test]
fn deep_recursion_stops_at_the_guard_page() {
    if std::env::var_os(CHILD_ENV).is_some() {
        let stack = Stack::new(64 * 1024).expect("a 64 KiB stack");
        arm_fault_handler(&stack);
        // SAFETY: `top..bottom` is the usable range of a stack that outlives the context, and
        // nothing else runs on it.
        let on_stack = unsafe {
            let ctx_stack = ContextStack::new(stack.top() as *mut _, stack.bottom() as *mut _);
            Context::new(&ctx_stack, overflow_entry)
        };
        // SAFETY: a fresh context starts at `overflow_entry`; it only comes back if the
        // recursion finished without faulting.
        unsafe { on_stack.resume(0) };
        std::process::exit(NO_FAULT);
    }
    let (code, stderr) = run_child("deep_recursion_stops_at_the_guard_page");
    assert_eq!(code, Some(IN_GUARD), "{}", explain(code, &stderr));
}
