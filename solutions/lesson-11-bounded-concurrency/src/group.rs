//! Go's `errgroup` with a limit (`g, ctx := errgroup.WithContext(ctx); g.SetLimit(n)`): start
//! tasks, at most `limit` at once; the first error cancels the group's context; `wait` gives
//! the results in the order the tasks were started, or that first error. YOU EDIT THIS FILE.

use std::panic;
use std::sync::{Arc, Mutex};

use goro::JoinHandle;
use goro::ctx::{self, CancelFunc, Context};

use crate::semaphore::Semaphore;

/// A group of tasks that return `Result<T, E>`, at most `limit` running at once.
#[derive(Debug)]
pub struct Group<T, E> {
    ctx: Context,
    cancel: Arc<CancelFunc>,
    limit: Semaphore,
    first_error: Arc<Mutex<Option<E>>>,
    tasks: Vec<JoinHandle<Option<T>>>,
}

impl<T: Send + 'static, E: Send + 'static> Group<T, E> {
    /// A group whose tasks run at most `limit` at once, and the context they get: a child of
    /// `parent`, cancelled when a task fails or when [`Group::wait`] returns.
    ///
    /// # Panics
    /// If `limit` is 0: no task could ever start.
    pub fn with_context(parent: &Context, limit: usize) -> (Group<T, E>, Context) {
        assert!(
            limit > 0,
            "Group::with_context with limit 0: no task could ever start; ask for at least 1"
        );
        let (ctx, cancel) = ctx::with_cancel(parent);
        let group = Group {
            ctx: ctx.clone(),
            cancel: Arc::new(cancel),
            limit: Semaphore::new(limit),
            first_error: Arc::default(),
            tasks: Vec::new(),
        };
        (group, ctx)
    }

    // ANCHOR: spawn
    /// Starts `task` with the group's context, after waiting while `limit` tasks are running:
    /// a caller that submits faster than the tasks finish is held back here (backpressure).
    pub fn spawn<F>(&mut self, task: F)
    where
        F: FnOnce(Context) -> Result<T, E> + Send + 'static,
        // ANCHOR_END: spawn
    {
        let permit = self.limit.acquire();
        let ctx = self.ctx.clone();
        let first_error = Arc::clone(&self.first_error);
        let cancel = Arc::clone(&self.cancel);
        self.tasks.push(goro::spawn(move || {
            let _permit = permit;
            match task(ctx) {
                Ok(value) => Some(value),
                Err(error) => {
                    let mut first = first_error.lock().unwrap();
                    if first.is_none() {
                        *first = Some(error);
                        cancel.cancel();
                    }
                    None
                }
            }
        }));
    }

    /// Waits for every task, then cancels the context. Returns the results in the order the
    /// tasks were spawned, or the first error (first in time, not in spawn order).
    ///
    /// # Errors
    /// The first error a task returned.
    ///
    /// # Panics
    /// Re-raises a task's panic, once every task has ended.
    pub fn wait(self) -> Result<Vec<T>, E> {
        let mut results = Vec::with_capacity(self.tasks.len());
        let mut panicked = None;
        for task in self.tasks {
            match task.join() {
                Ok(result) => results.push(result),
                Err(payload) => {
                    panicked.get_or_insert(payload);
                }
            }
        }
        self.cancel.cancel();
        if let Some(payload) = panicked {
            panic::resume_unwind(payload);
        }
        if let Some(error) = self.first_error.lock().unwrap().take() {
            return Err(error);
        }
        Ok(results
            .into_iter()
            .map(|r| r.expect("with no error recorded, every task returned Ok"))
            .collect())
    }
}
