//! Lesson 02: stacks.
//!
//! A goroutine needs a stack of its own. This crate builds one by hand: address space reserved
//! with `mmap`, committed by the kernel one page at a time as it is touched, and a guard page at
//! the bottom so that running off the end crashes instead of corrupting memory.
//!
//! The learner writes the `Stack` type in `src/stack.rs`. Everything here is given: the page size,
//! and `resident_pages`, which asks the kernel (`mincore`) which pages are really in RAM.

use std::io;

use goro::sys::libc;

pub mod stack;

pub use stack::Stack;

/// The size of a memory page in bytes (4096 on x86-64 Linux).
pub fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions; _SC_PAGESIZE is always supported on Linux.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(page).expect("the page size is a positive number")
}

// ANCHOR: resident_pages
/// Asks the kernel which pages of `lo..hi` are resident (backed by physical memory right now).
/// Returns one `bool` per page, lowest address first. `lo` must be page aligned and the whole
/// range mapped.
pub fn resident_pages(lo: usize, hi: usize) -> io::Result<Vec<bool>> {
    let page = page_size();
    if !lo.is_multiple_of(page) || hi < lo {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("resident_pages needs a page-aligned range, got {lo:#x}..{hi:#x}"),
        ));
    }
    let pages = (hi - lo).div_ceil(page);
    let mut flags = vec![0u8; pages];
    // SAFETY: `flags` has one byte per page of the range, as mincore requires; mincore only
    // reads the page tables and fails with ENOMEM (instead of faulting) if part of the range is
    // not mapped.
    let rc = unsafe { libc::mincore(lo as *mut libc::c_void, hi - lo, flags.as_mut_ptr()) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    // Bit 0 of each byte says "resident"; the other bits are reserved.
    Ok(flags.iter().map(|f| f & 1 == 1).collect())
}
// ANCHOR_END: resident_pages

/// Draws which usable pages of `stack` are resident, lowest address first: `#` for a page in
/// RAM, `.` for a page that is only reserved. The guard page is not drawn.
pub fn residency_map(stack: &Stack) -> io::Result<String> {
    let pages = resident_pages(stack.bottom(), stack.top())?;
    Ok(pages.iter().map(|&r| if r { '#' } else { '.' }).collect())
}

/// Writes one byte at each of `addrs`, like a function whose locals live there would.
///
/// # Safety
///
/// Every address must be writable memory that nothing else is using, such as the usable range
/// of a [`Stack`] no code is running on.
pub unsafe fn poke(addrs: impl IntoIterator<Item = usize>) {
    for addr in addrs {
        // SAFETY: the caller promises the address is writable and unused.
        unsafe { std::ptr::write_volatile(addr as *mut u8, 0xA5) };
    }
}
