//! A counting semaphore made of a buffered channel, as Go programs make one:
//! `sem := make(chan struct{}, n)`; `sem <- struct{}{}` to acquire, `<-sem` to release.
//! YOU EDIT THIS FILE.

use goro::chan::{self, Receiver, Sender};

/// At most `permits` holders at once. Clones share the same permits.
#[derive(Clone, Debug)]
pub struct Semaphore {
    /// A send puts a token in the buffer: that is taking a permit. A full buffer (every permit
    /// out) makes the next send wait, which is the whole point.
    take: Sender<()>,
    /// A receive takes a token out again: that is giving a permit back.
    give_back: Receiver<()>,
    permits: usize,
}

/// A permit, held from [`Semaphore::acquire`] until it is dropped. It owns what it needs, so
/// it can move into a task and be given back when that task ends.
#[derive(Debug)]
pub struct Permit {
    give_back: Receiver<()>,
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
        let (take, give_back) = chan::bounded(permits);
        Semaphore {
            take,
            give_back,
            permits,
        }
    }

    /// Takes a permit, waiting (parked, not spinning) while all of them are out.
    pub fn acquire(&self) -> Permit {
        self.take
            .send(())
            .expect("the semaphore keeps a receiver of its own, so its channel never disconnects");
        self.permit()
    }

    /// Takes a permit if one is free right now; `None` instead of waiting.
    pub fn try_acquire(&self) -> Option<Permit> {
        self.take.try_send(()).ok().map(|()| self.permit())
    }

    /// Permits free right now.
    pub fn available(&self) -> usize {
        self.permits - self.give_back.len()
    }

    fn permit(&self) -> Permit {
        Permit {
            give_back: self.give_back.clone(),
        }
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        // Our own token is in the buffer, so this never waits.
        let _ = self.give_back.try_recv();
    }
}
