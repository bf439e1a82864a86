// The same bound from the other end: a task that sends `Rc`s hands them to whichever task
// receives, possibly on another thread.
use std::rc::Rc;

use lesson_07_channels::channel;

/// Starts a task, with the same bounds as `goro::spawn`.
fn start_task<F: FnOnce() + Send + 'static>(f: F) {
    goro::spawn(f);
}

fn main() {
    let (tx, rx) = channel::<Rc<u32>>(1);
    start_task(move || {
        let _ = tx.send(Rc::new(7));
    });
    drop(rx);
}
