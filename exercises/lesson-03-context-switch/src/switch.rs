//! A bare context switch, back and forth between two stacks, with nothing else around it.
//! Read it before writing `src/generator.rs`: every call you need is here.

use std::io;

use goro::stack::Stack;
use goro::sys::context::{self, Context, Transfer};

// ANCHOR: context_new
/// Prepares a context that, the first time it is resumed, calls `entry` on `stack`.
///
/// # Safety
///
/// `stack` must outlive every resume of the returned context, and nothing else may run on it.
pub unsafe fn context_on(stack: &Stack, entry: context::ContextFn) -> Context {
    // SAFETY: `top..bottom` is the usable range of a live stack (the caller keeps it alive);
    // this descriptor only tells `Context::new` where that range is.
    unsafe {
        let range = context::stack::Stack::new(stack.top() as *mut _, stack.bottom() as *mut _);
        Context::new(&range, entry)
    }
}
// ANCHOR_END: context_new

// ANCHOR: ping_pong
/// Switches from this thread's stack to a second stack and back, `rounds` times, and returns who
/// ran when.
pub fn ping_pong(rounds: usize) -> io::Result<Vec<String>> {
    let stack = Stack::new(64 * 1024)?;
    let mut log: Vec<String> = Vec::new();
    // SAFETY: `stack` lives until the end of this function, after the last resume.
    let mut pong = unsafe { context_on(&stack, pong_entry) };
    // The first resume passes the log's address; `pong_entry` receives it in `t.data`.
    let mut data = &mut log as *mut Vec<String> as usize;
    for round in 0..rounds {
        log.push(format!("ping: round {round}, switching to pong"));
        // Save our registers, load pong's, run pong until it resumes us. What comes back is
        // pong's context *as it is now* (suspended inside its loop) and the number it sent.
        // SAFETY: `pong` is a live context on `stack`.
        let t = unsafe { pong.resume(data) };
        pong = t.context;
        log.push(format!("ping: back, pong sent {}", t.data));
        data = round + 1;
    }
    // `pong` is suspended forever inside its loop; its frames own nothing that needs dropping,
    // so freeing its stack here loses nothing.
    Ok(log)
}

extern "C" fn pong_entry(t: Transfer) -> ! {
    let log = t.data as *mut Vec<String>;
    let mut ping = t.context; // how to get back to whoever resumed us
    let mut sent = 100;
    loop {
        // SAFETY: `ping_pong` is suspended while we run, so nothing else touches the log.
        unsafe { (*log).push(format!("pong: running on its own stack, sending {sent}")) };
        // SAFETY: `ping` is the live context of the suspended `ping_pong`.
        let t = unsafe { ping.resume(sent) };
        ping = t.context; // ping_pong's registers as of its latest resume
        sent = 100 + t.data;
    }
}
// ANCHOR_END: ping_pong
