// Handlers that share state, accepted in the ways Rust offers.
use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, RefUnwindSafe};
use std::sync::{Arc, Mutex};

use lesson_10_panics::{Update, handler};

fn main() {
    // 1. The hook's type carries the promise: whoever makes one must show it is unwind safe.
    let audit: Box<dyn Fn(&Update) + Send + Sync + RefUnwindSafe> =
        Box::new(|update| println!("{update:?}"));
    let _apply = handler(move |update| audit(update));

    // 2. The caller takes responsibility: this hook only prints, it keeps nothing that a panic
    //    could leave half-done.
    let audit: Box<dyn Fn(&Update) + Send + Sync> = Box::new(|update| println!("{update:?}"));
    let audit = AssertUnwindSafe(audit);
    let _apply = handler(move |update| audit(update));

    // 3. goro's Mutex, like Go's, is not poisoned: after a panic the next locker sees the data
    //    as it was left. Each update here is one `insert`, which happens or does not, so a
    //    panic cannot leave half an update behind: say so.
    let table = AssertUnwindSafe(Arc::new(goro::sync::Mutex::new(BTreeMap::new())));
    let _apply = handler(move |update| {
        let mut routes = table.lock();
        routes.insert(update.prefix.clone(), update.next_hop.clone());
    });

    // 4. std's Mutex is poisoned when a panic drops its guard: the next `lock()` returns an
    //    error instead of quietly handing over half-updated data. The compiler accepts it as is.
    let table = Arc::new(Mutex::new(BTreeMap::new()));
    let _apply = handler(move |update| {
        let mut routes = table.lock().expect("no earlier update panicked halfway");
        routes.insert(update.prefix.clone(), update.next_hop.clone());
    });
}
