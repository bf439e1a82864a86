//! Lazy commit, proved with `mincore`: a stack costs RAM only where it has been touched.

use lesson_02_stacks::{Stack, page_size, poke, residency_map, resident_pages};

const PAGES: usize = 16;
const MINCORE: &str = "mincore on a live stack's usable range (bottom() must be page aligned)";

fn resident_count(stack: &Stack) -> usize {
    let pages = resident_pages(stack.bottom(), stack.top())
        .expect("mincore on a live stack's usable range (bottom() must be page aligned)");
    pages.into_iter().filter(|&r| r).count()
}

#[test]
fn a_new_stack_commits_nothing() {
    let stack = Stack::new(PAGES * page_size()).expect("a 16-page stack");
    assert_eq!(
        resident_count(&stack),
        0,
        "a stack nobody has touched should be reserved address space only, with no page in RAM"
    );
}

#[test]
fn touching_commits_only_the_touched_pages() {
    let page = page_size();
    let stack = Stack::new(PAGES * page).expect("a 16-page stack");
    // A stack grows down: the first frames live just below `top`.
    // SAFETY: these addresses are in the usable range of a stack nothing runs on.
    unsafe {
        poke([
            stack.top() - 8,
            stack.top() - page - 8,
            stack.top() - 2 * page - 8,
        ])
    };
    assert_eq!(
        resident_count(&stack),
        3,
        "three pages touched, three pages committed"
    );
}

#[test]
fn residency_picture() {
    let page = page_size();
    let stack = Stack::new(PAGES * page).expect("a 16-page stack");
    let fresh = residency_map(&stack).expect(MINCORE);
    // SAFETY: the top byte of a stack nothing runs on.
    unsafe { poke([stack.top() - 1]) };
    let one = residency_map(&stack).expect(MINCORE);
    // SAFETY: four more pages from the top of the same stack.
    unsafe { poke((1..5).map(|i| stack.top() - i * page - 1)) };
    let five = residency_map(&stack).expect(MINCORE);
    let picture = format!(
        "low address -> high address, # = resident\n\
         new stack:            {fresh}\n\
         after the first call: {one}\n\
         five pages deep:      {five}"
    );
    insta::assert_snapshot!(picture);
}
