//! The dinner rush: cooks put plates on the pass, and main waits for all of them with a
//! [`WaitGroup`]. This file is given; it works once your `WaitGroup` does.

use std::sync::{Arc, Mutex};

use crate::kitchen::{Order, cook};
use crate::log::Log;
use crate::waitgroup::WaitGroup;

// ANCHOR: rush
/// Cooks every order in its own task and waits for all of them with a `WaitGroup`.
/// Returns the plates in the order they reached the pass.
pub fn dinner_rush(orders: &[Order], log: &Log) -> Vec<&'static str> {
    let pass = Arc::new(Mutex::new(Vec::new()));
    let wg = WaitGroup::new();
    for (n, &order) in orders.iter().enumerate() {
        wg.add(1);
        let (wg, pass, log) = (wg.clone(), Arc::clone(&pass), log.clone());
        goro::spawn(move || {
            let plate = cook(n + 1, order, &log);
            pass.lock().unwrap().push(plate);
            wg.done();
        });
    }
    wg.wait();
    let plates = pass.lock().unwrap().clone();
    log.say("main", format_args!("{} plates on the pass", plates.len()));
    plates
}
// ANCHOR_END: rush
