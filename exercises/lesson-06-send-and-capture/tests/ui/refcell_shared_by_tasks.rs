// `Arc` makes the owner count atomic, but `RefCell` checks borrows with a plain counter:
// two tasks calling borrow_mut at once could both succeed.
use std::cell::RefCell;
use std::sync::Arc;

use lesson_06_send_and_capture::go;

fn main() {
    let tally = Arc::new(RefCell::new(0));
    let for_task = Arc::clone(&tally);
    go("bump", move || *for_task.borrow_mut() += 1);
    *tally.borrow_mut() += 1;
}
