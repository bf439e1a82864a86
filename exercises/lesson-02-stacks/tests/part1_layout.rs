//! The shape of a stack: sizes, the order of the parts, and the error for a nonsense size.

use lesson_02_stacks::{Stack, page_size};

#[test]
fn size_rounds_up_to_whole_pages() {
    let page = page_size();
    let stack = Stack::new(10_000).expect("a 10,000-byte stack");
    assert_eq!(
        stack.len(),
        10_000usize.next_multiple_of(page),
        "len() is the usable size rounded up to whole pages"
    );
    assert_eq!(
        stack.top() - stack.bottom(),
        stack.len(),
        "bottom()..top() is the usable range"
    );
    assert_eq!(stack.bottom() % page, 0, "bottom() must be page aligned");
    assert_eq!(
        stack.top() % 16,
        0,
        "the stack pointer must start 16-byte aligned"
    );
}

#[test]
fn the_guard_page_sits_right_below_the_stack() {
    let stack = Stack::new(64 * 1024).expect("a 64 KiB stack");
    let guard = stack.guard();
    assert_eq!(
        guard.end,
        stack.bottom(),
        "the guard must touch the lowest usable byte"
    );
    assert_eq!(guard.len(), page_size(), "one guard page");
}

#[test]
fn zero_is_not_a_stack_size() {
    let err = Stack::new(0).expect_err("Stack::new(0) must fail");
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput, "{err}");
}
