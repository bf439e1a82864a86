//! A stack for a green thread. This is the file you edit: the struct's fields, `Stack::new`,
//! the accessors and `Drop` are yours. Keep the public signatures: the tests use them.
//!
//! Layout, low addresses first (stacks grow down, from `top` toward `bottom`):
//!
//! ```text
//! base                bottom()                                top()
//!  | guard page (1)    | usable pages (len / page)               |
//! ```

use std::io;
use std::ops::Range;
use std::ptr;

use goro::sys::libc;

use crate::page_size;

// ANCHOR: struct
/// One stack: `len` usable bytes above a guard page, in a mapping of its own.
#[derive(Debug)]
pub struct Stack {
    /// Lowest address of the mapping, where the guard page starts.
    base: usize,
    /// Usable bytes above the guard page, a multiple of the page size.
    len: usize,
}
// ANCHOR_END: struct

impl Stack {
    // ANCHOR: new
    /// Reserves a stack of at least `size` usable bytes (rounded up to whole pages) with one
    /// guard page below them. Nothing is committed: the kernel fills in a page the first time it
    /// is touched.
    pub fn new(size: usize) -> io::Result<Stack> {
        let page = page_size();
        if size == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a stack needs at least one usable byte; Stack::new(0) makes no sense",
            ));
        }
        let len = size.checked_next_multiple_of(page).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("stack size {size} is too large"),
            )
        })?;
        let map_len = len + page; // the usable pages, and the guard page below them

        // Reserve only: no MAP_POPULATE, so the kernel commits a page on its first touch.
        // MAP_NORESERVE keeps the reservation out of the overcommit accounting, since most of
        // it will never be touched.
        let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE;
        // SAFETY: an anonymous mapping at an address of the kernel's choosing touches no
        // existing memory.
        let base = unsafe {
            libc::mmap(
                ptr::null_mut(),
                map_len,
                libc::PROT_READ | libc::PROT_WRITE,
                flags,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }

        // The lowest page becomes the guard: no access at all, so the first write past the
        // bottom of the stack faults instead of landing in whatever lies below.
        // SAFETY: `base..base + page` is the start of the mapping created just above.
        if unsafe { libc::mprotect(base, page, libc::PROT_NONE) } != 0 {
            let err = io::Error::last_os_error();
            // SAFETY: the mapping is ours and nothing has used it yet.
            unsafe { libc::munmap(base, map_len) };
            // ENOMEM here usually means the process ran out of memory mappings: every
            // mprotect guard splits its mapping in two, and Linux allows `vm.max_map_count`.
            return Err(io::Error::new(
                err.kind(),
                format!("installing the guard page failed: {err} (see `sysctl vm.max_map_count`)"),
            ));
        }

        Ok(Stack {
            base: base as usize,
            len,
        })
    }
    // ANCHOR_END: new

    /// One past the highest usable byte: where the stack pointer starts.
    pub fn top(&self) -> usize {
        self.bottom() + self.len
    }

    /// The lowest usable byte, just above the guard page.
    pub fn bottom(&self) -> usize {
        self.base + page_size()
    }

    /// Usable bytes, guard page excluded.
    #[allow(clippy::len_without_is_empty)] // a stack is never empty
    pub fn len(&self) -> usize {
        self.len
    }

    /// The guard page's addresses. Any access to them must fault.
    pub fn guard(&self) -> Range<usize> {
        self.base..self.bottom()
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        // SAFETY: `base..base + len + page` is the mapping `new` created, owned by this value
        // alone; whoever ran code on the stack has finished with it before dropping it.
        let rc = unsafe { libc::munmap(self.base as *mut libc::c_void, self.len + page_size()) };
        debug_assert_eq!(
            rc,
            0,
            "munmap of a stack failed: {}",
            io::Error::last_os_error()
        );
    }
}
