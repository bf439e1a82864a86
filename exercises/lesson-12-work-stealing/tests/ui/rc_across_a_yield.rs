// An `Rc` counts its owners with a plain integer. Kept alive across a yield, it would travel
// with the task to another thread, while its other owners stay on this one.
use std::rc::Rc;

use lesson_12_work_stealing::migrate::{migratable, yield_now};

fn main() {
    let _task = migratable(async {
        let shared = Rc::new(5);
        yield_now().await;
        println!("{shared}");
    });
}
