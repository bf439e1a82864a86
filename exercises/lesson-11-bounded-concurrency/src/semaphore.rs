//! A counting semaphore made of a buffered channel, as Go programs make one:
//! `sem := make(chan struct{}, n)`; `sem <- struct{}{}` to acquire, `<-sem` to release.
//! YOU EDIT THIS FILE.

// TODO(lesson): as shipped, this "semaphore" only remembers a number. `acquire` never waits
// and a `Permit` gives nothing back, so every caller gets in at once. Build it from a
// `goro::chan` channel whose buffer has one slot per permit (see the lesson page): the
// struct fields, `new`, the three methods, and what a `Permit` holds and does when dropped.
// Keep the public signatures: the tests and src/examples.rs use them.

/// At most `permits` holders at once. Clones share the same permits.
#[derive(Clone, Debug)]
pub struct Semaphore {
    permits: usize,
}

/// A permit, held from [`Semaphore::acquire`] until it is dropped. It owns what it needs, so
/// it can move into a task and be given back when that task ends.
#[derive(Debug)]
pub struct Permit {
    _private: (),
}

impl Semaphore {
    /// A semaphore with `permits` permits.
    ///
    /// # Panics
    /// If `permits` is 0: nobody could ever acquire.
    pub fn new(permits: usize) -> Semaphore {
        assert!(
            permits > 0,
            "Semaphore::new(0): with no permits every acquire would wait forever; ask for at least 1"
        );
        Semaphore { permits }
    }

    /// Takes a permit, waiting (parked, not spinning) while all of them are out.
    pub fn acquire(&self) -> Permit {
        Permit { _private: () }
    }

    /// Takes a permit if one is free right now; `None` instead of waiting.
    pub fn try_acquire(&self) -> Option<Permit> {
        Some(Permit { _private: () })
    }

    /// Permits free right now.
    pub fn available(&self) -> usize {
        self.permits
    }
}
