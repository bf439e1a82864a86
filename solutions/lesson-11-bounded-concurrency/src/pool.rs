//! A worker pool: a fixed number of tasks take jobs from one bounded queue (a channel).
//! Go's shape: `jobs := make(chan Job, queue)`; `for i := 0; i < workers; i++ { go func() {
//! for j := range jobs { handle(j) } }() }`. YOU EDIT THIS FILE.

use std::sync::Arc;

use goro::JoinHandle;
use goro::chan::{self, Sender};

use crate::Busy;

/// `workers` tasks, started once, that run `handle` on every job submitted.
#[derive(Debug)]
pub struct Pool<J> {
    jobs: Sender<J>,
    workers: Vec<JoinHandle<()>>,
}

impl<J: Send + 'static> Pool<J> {
    /// Starts `workers` worker tasks sharing a queue with room for `queue` jobs (0: a job is
    /// handed straight to a free worker).
    ///
    /// # Panics
    /// If `workers` is 0: jobs would wait forever.
    pub fn new<F>(workers: usize, queue: usize, handle: F) -> Pool<J>
    where
        F: Fn(J) + Send + Sync + 'static,
    {
        assert!(
            workers > 0,
            "Pool::new with 0 workers: nobody would ever take a job; ask for at least 1"
        );
        let (jobs, queued) = chan::bounded::<J>(queue);
        let handle = Arc::new(handle);
        let workers = (0..workers)
            .map(|_| {
                let (queued, handle) = (queued.clone(), Arc::clone(&handle));
                goro::spawn(move || {
                    for job in queued {
                        handle(job);
                    }
                })
            })
            .collect();
        Pool { jobs, workers }
    }

    /// Queues `job`, waiting while the queue is full: a producer faster than the workers is
    /// slowed to their pace (backpressure).
    pub fn submit(&self, job: J) {
        if self.jobs.send(job).is_err() {
            panic!("every worker of the pool has died (a job panicked); no one can take jobs");
        }
    }

    /// Queues `job` if there is room right now; otherwise hands it back in [`Busy`].
    ///
    /// # Errors
    /// [`Busy`] with the job when the queue is full (or no worker is left).
    pub fn try_submit(&self, job: J) -> Result<(), Busy<J>> {
        self.jobs.try_send(job).map_err(|e| Busy(e.into_inner()))
    }

    /// Closes the queue, lets the workers finish every job already queued, and waits for them.
    ///
    /// # Panics
    /// Re-raises a panic of a job, once every worker has stopped.
    pub fn shutdown(self) {
        drop(self.jobs); // the last Sender: the queue closes and each worker's loop ends
        let mut panic = None;
        for worker in self.workers {
            if let Err(payload) = worker.join() {
                panic.get_or_insert(payload);
            }
        }
        if let Some(payload) = panic {
            std::panic::resume_unwind(payload);
        }
    }
}
