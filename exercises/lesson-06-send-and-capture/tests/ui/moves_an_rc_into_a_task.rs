// An `Rc` counts owners without atomics. With one clone in main and one in a task that may
// run on another thread, both could change the count at once.
use std::rc::Rc;

use lesson_06_send_and_capture::go;

fn main() {
    let menu = Rc::new(vec!["soup", "tea"]);
    let for_task = Rc::clone(&menu);
    go("reader", move || println!("{}", for_task.len()));
    println!("{}", menu.len());
}
