// An `Rc` counts its owners with a plain (non-atomic) integer. If a receiver could carry
// `Rc`s into another task, two tasks on two threads could update one count at once.
use std::rc::Rc;

use lesson_07_channels::channel;

/// Starts a task, with the same bounds as `goro::spawn`.
fn start_task<F: FnOnce() + Send + 'static>(f: F) {
    goro::spawn(f);
}

fn main() {
    let (tx, rx) = channel::<Rc<String>>(1);
    let keep = Rc::new(String::from("order 66"));
    tx.send(Rc::clone(&keep)).unwrap();
    start_task(move || {
        let _ = rx.recv();
    });
}
