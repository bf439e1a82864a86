// A locked `std::sync::Mutex` must be unlocked by the thread that locked it. Held across a
// yield, the guard would be dropped on whichever thread resumed the task.
use std::sync::Mutex;

use lesson_12_work_stealing::migrate::{migratable, yield_now};

static TOTAL: Mutex<u64> = Mutex::new(0);

fn main() {
    let _task = migratable(async {
        let mut total = TOTAL.lock().unwrap();
        yield_now().await;
        *total += 1;
    });
}
