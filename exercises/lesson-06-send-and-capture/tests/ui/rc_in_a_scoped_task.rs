// Borrowing is allowed in a scope; crossing threads with an `Rc` still is not.
use std::rc::Rc;

use lesson_06_send_and_capture::scope;

fn main() {
    let menu = Rc::new(vec!["soup", "tea"]);
    scope(|s| {
        let for_task = Rc::clone(&menu);
        s.go("reader", move || println!("{}", for_task.len()));
    });
}
