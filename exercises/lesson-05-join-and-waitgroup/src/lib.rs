//! Lesson 05: join and WaitGroup.
//!
//! A kitchen cooks every order in its own task. Main has to wait for the cooks before it says
//! service is over: first with `JoinHandle::join` (in [`kitchen`]), then with a [`WaitGroup`] you
//! build on goro's park/unpark (in [`waitgroup`]), used by the dinner rush in [`rush`].
//!
//! You edit `src/kitchen.rs` and `src/waitgroup.rs`; the rest is given.

pub mod kitchen;
pub mod log;
pub mod rush;
pub mod waitgroup;

pub use kitchen::{Order, serve};
pub use log::Log;
pub use rush::dinner_rush;
pub use waitgroup::WaitGroup;

/// Today's orders: a dish and how long it takes to cook, in milliseconds of goro's clock.
pub const ORDERS: [Order; 3] = [
    Order {
        dish: "soup",
        millis: 30,
    },
    Order {
        dish: "bread",
        millis: 10,
    },
    Order {
        dish: "tea",
        millis: 20,
    },
];

/// Runs `f` as the main task of a deterministic goro runtime: same seed, same interleaving,
/// and a virtual clock, so a 30 ms sleep takes no real time and logs exactly "30ms".
pub fn run_deterministic<F, T>(seed: u64, f: F) -> T
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let runtime = goro::Runtime::builder()
        .deterministic(seed)
        .build()
        .expect("could not start a goro runtime");
    match runtime.block_on(f) {
        Ok(value) => value,
        Err(error) => panic!("{error}"),
    }
}
