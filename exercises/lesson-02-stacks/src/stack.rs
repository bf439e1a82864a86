//! A stack for a green thread. This is the file you edit: the struct's fields, `Stack::new`,
//! the accessors and `Drop` are yours. Keep the public signatures: the tests use them.
//!
//! Layout, low addresses first (stacks grow down, from `top` toward `bottom`):
//!
//! ```text
//! guard().start       bottom()                                top()
//!  | guard page (1)    | usable pages (len() / page)              |
//! ```
//!
//! The version below is what most of us would write first: a buffer on the heap. It runs, and a
//! shallow function would even work on it, but it is wrong four ways over. Read the lesson page,
//! then replace it with a stack of its own mapping.

use std::io;
use std::ops::Range;

// ANCHOR: struct
/// One stack: at least the requested number of usable bytes, whole pages, with one guard page
/// right below them that faults on any access.
#[derive(Debug)]
pub struct Stack {
    // TODO(lesson): what must a stack remember to give its memory back to the kernel?
    memory: Box<[u8]>,
}
// ANCHOR_END: struct

impl Stack {
    // ANCHOR: new
    /// Reserves a stack of at least `size` usable bytes (rounded up to whole pages) with one
    /// guard page below them. Nothing is committed: the kernel fills in a page the first time it
    /// is touched. `size == 0` is an `InvalidInput` error.
    pub fn new(size: usize) -> io::Result<Stack> {
        // TODO(lesson): heap memory is committed the moment it is zeroed, sits wherever the
        // allocator likes (not on page boundaries), and has no guard below it.
        Ok(Stack {
            memory: vec![0u8; size].into_boxed_slice(),
        })
    }
    // ANCHOR_END: new

    // ANCHOR: accessors
    /// One past the highest usable byte: where the stack pointer starts. Page aligned.
    pub fn top(&self) -> usize {
        self.bottom() + self.len()
    }

    /// The lowest usable byte, just above the guard page.
    pub fn bottom(&self) -> usize {
        self.memory.as_ptr() as usize
    }

    /// Usable bytes, guard page excluded: a multiple of the page size.
    #[allow(clippy::len_without_is_empty)] // a stack is never empty
    pub fn len(&self) -> usize {
        self.memory.len()
    }

    /// The guard page's addresses, right below `bottom()`. Any access to them must fault.
    pub fn guard(&self) -> Range<usize> {
        // TODO(lesson): there is no guard yet.
        self.bottom()..self.bottom()
    }
    // ANCHOR_END: accessors
}

// TODO(lesson): a stack that owns a mapping must give all of it back (guard page included)
// when it is dropped. A `Box` frees itself; a mapping does not.
