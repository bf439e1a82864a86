//! The runtime: start workers, run a main task to completion, shut everything down.
//!
//! [`Runtime::block_on`] is Go's `main` in miniature: it creates the workers (the calling thread
//! becomes worker 0, the others are new OS threads), runs `f` as task 1 named `"main"`, and when
//! that task returns it stops the run, cancels whatever is still alive, joins the threads and
//! hands back `f`'s value. [`crate::run`] does the same with default settings.
//!
//! Go counterpart: `runtime.main`, `schedinit` / `GOMAXPROCS`, and `exit(0)` after `main.main`
//! returns. Lesson: 04 (scheduler).
//!
//! # What happens to tasks still alive when the main task returns
//!
//! In Go, returning from `main` ends the process: other goroutines simply stop existing, their
//! deferred calls never run. goro keeps the "main returning ends the run" rule but cleans up
//! after it, because Rust code relies on destructors (to unlock, flush, return memory):
//!
//! 1. Tasks that never started are dropped: their closure is dropped, never called.
//! 2. Tasks suspended in `park`, `yield_now`, `sleep`, a channel operation or `join` are resumed
//!    one last time in *cancel* mode: the call they are blocked in unwinds (with a private
//!    payload, so nothing is printed), their destructors run, and their stacks go back to the
//!    pool. Each is resumed on its own worker thread, as always.
//! 3. A cancelled task's `JoinHandle::join` returns `Err` with a payload saying so.
//! 4. Tasks spawned while this happens (from a destructor) are dropped without running.
//! 5. Pending timers are dropped without firing; worker threads exit and are joined before
//!    `block_on` returns. Nothing of the run outlives it: repeated runs do not accumulate
//!    threads, stacks or memory.
//!
//! The cancellation cannot be swallowed by mistake. [`crate::recover`] never catches it. Code
//! that catches it anyway (`std::panic::catch_unwind`) and waits again gets it again at every
//! later wait (it is sticky), and can ask [`crate::task::is_cancelled`] to stop on its own.
//!
//! Corner cases: a destructor that parks *while* its task is being cancelled would wait forever,
//! and a loop that keeps catching the cancellation and waiting again would never end; such a
//! task is abandoned instead (after 16 raises in the second case, with a message), its stack
//! deliberately leaked, since its frames may still be linked into a wait list, and its `join`
//! reports the cancellation. Shutdown always finishes.
//!
//! # Deadlock
//!
//! If every worker is idle, every task is parked and no timer is pending, nothing inside the
//! runtime can ever wake a task. `block_on` then cancels everything as above and returns
//! [`RunError::Deadlock`] with a [`crate::debug::dump`] of the parked tasks (Go prints "all
//! goroutines are asleep - deadlock!"). What can still wake a task from outside the workers
//! keeps the run waiting instead: a task waiting on a socket (the kernel), a task waiting on a
//! channel made outside any runtime (a plain thread may hold the other end), a live handle
//! from [`crate::Task::for_thread`] (a plain thread may `unpark` it; the handles tasks hold in
//! their own wait queues do not count), a call inside `task::blocking`.
//! (`select!` over a channel made outside a runtime is not counted yet.)

use std::fmt;
use std::io;
use std::panic::{Location, resume_unwind};
use std::sync::Arc;
use std::thread;

use crate::sched::{self, Config, Shared, Worker};

/// Default usable stack bytes per task. See [`Builder::stack_size`] for the trade-off.
pub const DEFAULT_STACK_SIZE: usize = 64 * 1024;

/// Why [`Runtime::block_on`] could not return the main task's value.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RunError {
    /// Every task was parked with nothing left to wake any of them.
    Deadlock {
        /// A goroutine dump taken when the deadlock was detected.
        dump: String,
    },
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunError::Deadlock { dump } => {
                write!(f, "all goroutines are asleep - deadlock!\n\n{dump}")
            }
        }
    }
}

impl std::error::Error for RunError {}

/// Configures a [`Runtime`].
#[derive(Debug, Clone)]
#[must_use = "a Builder does nothing until .build() is called"]
pub struct Builder {
    workers: Option<usize>,
    seed: Option<u64>,
    stack_size: usize,
    panic_crashes: bool,
    max_blocking_threads: usize,
    explore: Option<Arc<sched::ExploreRun>>,
    trace: Option<std::path::PathBuf>,
    sigquit_dump: bool,
}

impl Default for Builder {
    fn default() -> Builder {
        Builder {
            workers: None,
            seed: None,
            stack_size: DEFAULT_STACK_SIZE,
            panic_crashes: false,
            max_blocking_threads: crate::task::blocking::DEFAULT_MAX_BLOCKING_THREADS,
            explore: None,
            trace: None,
            sigquit_dump: true,
        }
    }
}

impl Builder {
    /// A builder with the defaults: one worker per available CPU, 64 KiB stacks.
    pub fn new() -> Builder {
        Builder::default()
    }

    /// Number of worker threads (Go's `GOMAXPROCS`). Default: `std::thread::available_parallelism`.
    pub fn workers(mut self, n: usize) -> Builder {
        self.workers = Some(n);
        self
    }

    /// Deterministic mode: one worker, every scheduling choice drawn from a PRNG seeded with
    /// `seed`, task ids in spawn order, and a virtual clock that jumps forward when every task
    /// waits. The same program with the same seed produces the same interleaving and output.
    pub fn deterministic(mut self, seed: u64) -> Builder {
        self.seed = Some(seed);
        self
    }

    /// Default usable stack bytes per task (rounded up to whole pages; a guard page is added
    /// below). Default: [`DEFAULT_STACK_SIZE`], 64 KiB. A task can ask for another size with
    /// `task::Builder::stack_size`.
    ///
    /// A stack is reserved address space: only the pages a task touches cost memory (a parked
    /// task that ran a little uses one 4 KiB page). So why not reserve megabytes, like an OS
    /// thread's 8 MiB? Because of page tables: every 2 MiB of address space in which some page
    /// was touched needs a 4 KiB page-table page, so each touched stack costs about
    /// `stack_size / 512` bytes of page table on top of its pages — 128 B at 64 KiB, 512 B at
    /// 256 KiB, 16 KiB at 8 MiB. With a million tasks that is the difference between 4.2 KB
    /// and 20 KB per task.
    ///
    /// The floor is what a panic needs: with `RUST_BACKTRACE=1` the panic hook captures and
    /// symbolizes a backtrace on the task's own stack, which takes about 20-24 KiB (measured;
    /// a test proves the default survives it). 64 KiB leaves room for ordinary code on top of
    /// that. A task that needs more (deep recursion, large arrays on the stack) overflows into
    /// its guard page, and the runtime reports which task overflowed and aborts: raise the size
    /// for that task or for the runtime.
    pub fn stack_size(mut self, bytes: usize) -> Builder {
        self.stack_size = bytes;
        self
    }

    /// Go's behaviour for unrecovered panics: if any task panics, report it and abort the whole
    /// process. Default `false`: the panic is reported and handed to `JoinHandle::join`.
    pub fn panic_crashes(mut self, yes: bool) -> Builder {
        self.panic_crashes = yes;
        self
    }

    /// Most spare OS threads that [`task::blocking`](crate::task::blocking) calls run on at
    /// once (Go has no cap but its 10,000-thread limit; tokio's default is 512). Calls beyond
    /// it wait for a free thread. Default:
    /// [`DEFAULT_MAX_BLOCKING_THREADS`](crate::task::blocking::DEFAULT_MAX_BLOCKING_THREADS), 64.
    pub fn max_blocking_threads(mut self, n: usize) -> Builder {
        self.max_blocking_threads = n;
        self
    }

    /// Exploring mode (`crate::check`): with `deterministic`, picks by PCT priorities.
    pub(crate) fn explore(mut self, run: Arc<sched::ExploreRun>) -> Builder {
        self.explore = Some(run);
        self
    }

    /// Records an execution trace of each run (`block_on`) and writes it to `path` when the run
    /// ends, as Chrome/Perfetto trace-event JSON (open it at <https://ui.perfetto.dev>, or draw
    /// it with `cargo xtask trace render`): one track per worker, each run of a task as a
    /// slice, parks with their wait reason, steals, sleeps, and an arrow from each wakeup to
    /// the run it caused. Without this call the environment variable `GORO_TRACE=path` turns
    /// the trace on. Go's `runtime/trace`. Recording costs tens of nanoseconds per event;
    /// a run that does not trace pays one branch per event site.
    pub fn trace(mut self, path: impl Into<std::path::PathBuf>) -> Builder {
        self.trace = Some(path.into());
        self
    }

    /// Whether `SIGQUIT` (Ctrl-\\) prints the goroutine dump of every task and exits with status
    /// 2, as Go does (`SIGQUIT: quit`, then [`debug::dump`](crate::debug::dump)'s text). On by
    /// default while a run is alive; `false` leaves `SIGQUIT` to its default action (the
    /// process dies of the signal). A program that listens for `SIGQUIT` itself with
    /// [`signal::notify`](crate::signal::notify) gets the signal instead of the dump.
    pub fn sigquit_dump(mut self, yes: bool) -> Builder {
        self.sigquit_dump = yes;
        self
    }

    /// Validates the settings and creates the runtime.
    pub fn build(self) -> io::Result<Runtime> {
        let workers = match (self.seed, self.workers) {
            (Some(_), Some(n)) if n != 1 => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!(
                        "deterministic mode runs exactly one worker, but workers({n}) was \
                         requested; drop the .workers() call or use .workers(1)"
                    ),
                ));
            }
            (Some(_), _) => 1,
            (None, Some(0)) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "workers(0): a runtime needs at least one worker thread; use workers(1) or more",
                ));
            }
            (None, Some(n)) => n,
            (None, None) => thread::available_parallelism().map_or(1, |n| n.get()),
        };
        if self.max_blocking_threads == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "max_blocking_threads(0): task::blocking needs at least one spare thread; use 1 or more",
            ));
        }
        if self.stack_size == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "stack_size(0): tasks need a stack; use at least 16 KiB (16 * 1024)",
            ));
        }
        Ok(Runtime {
            sigquit_dump: self.sigquit_dump,
            config: Config {
                workers,
                stack_size: self.stack_size,
                panic_crashes: self.panic_crashes,
                seed: self.seed,
                max_blocking_threads: self.max_blocking_threads,
                explore: self.explore,
                trace: self.trace,
            },
        })
    }
}

/// A goroutine runtime configuration; each [`block_on`](Runtime::block_on) is one run.
///
/// See the [module docs](self) for what happens to tasks still alive when the main task returns.
#[derive(Debug, Clone)]
pub struct Runtime {
    config: Config,
    sigquit_dump: bool,
}

impl Default for Runtime {
    fn default() -> Runtime {
        Runtime::new()
    }
}

impl Runtime {
    /// A runtime with the default settings.
    pub fn new() -> Runtime {
        Builder::new()
            .build()
            .expect("the default runtime settings are valid")
    }

    /// A builder to configure workers, deterministic mode, stack size and panic behaviour.
    pub fn builder() -> Builder {
        Builder::new()
    }

    /// Runs `f` as the main task (id 1, name `"main"`) and returns its value once it returns.
    ///
    /// Tasks still alive at that point are cancelled (see the [module docs](self)). If `f`
    /// panics, the panic is reported like any task's and then resumed on the caller's thread,
    /// like `std::thread::scope` does. Returns [`RunError::Deadlock`] if every task ends up
    /// parked with nothing to wake them.
    ///
    /// Panics if called from inside a goro task (spawn a task instead), or if the worker threads
    /// or the main task's stack cannot be created.
    #[track_caller]
    pub fn block_on<F, T>(&self, f: F) -> Result<T, RunError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let location = Location::caller();
        assert!(
            !sched::in_runtime(),
            "Runtime::block_on called from inside a goro runtime; use goro::spawn to start more \
             tasks instead of nesting runtimes"
        );
        crate::panic::install_hook();
        crate::signal::install_on_this_thread();
        let mut config = self.config.clone();
        if config.trace.is_none() {
            config.trace = std::env::var_os("GORO_TRACE")
                .filter(|p| !p.is_empty())
                .map(Into::into);
        }
        let shared = Arc::new(Shared::new(config));
        let _quit_watch = self
            .sigquit_dump
            .then(|| crate::signal::watch_sigquit(&shared));
        let worker0 = Worker::new(shared.clone(), 0);
        worker0.enter();
        let main = sched::new_task(
            &worker0,
            sched::TaskOptions {
                id: Some(1),
                name: Some("main".into()),
                stack_size: None,
                migratable: false,
                is_main: true,
                location,
            },
            f,
        );
        let main = match main {
            Ok(m) => m,
            Err(e) => {
                worker0.leave();
                shared.clear();
                panic!("goro: cannot reserve a stack for the main task: {e}");
            }
        };
        worker0.submit_new(main.clone());

        let mut threads = Vec::new();
        for i in 1..self.config.workers {
            let worker_shared = shared.clone();
            let spawned = thread::Builder::new()
                .name(format!("goro-worker-{i}"))
                .spawn(move || {
                    crate::signal::install_on_this_thread();
                    let w = Worker::new(worker_shared, i);
                    w.enter();
                    w.run();
                    w.leave();
                });
            match spawned {
                Ok(h) => threads.push(h),
                Err(e) => {
                    shared.begin_shutdown();
                    worker0.run();
                    for t in threads {
                        let _ = t.join();
                    }
                    worker0.final_sweep();
                    worker0.leave();
                    shared.clear();
                    panic!("goro: cannot start worker thread {i}: {e}");
                }
            }
        }
        let sysmon = sched::Sysmon::start(&shared);
        worker0.run();
        sysmon.stop();
        for t in threads {
            if let Err(p) = t.join() {
                worker0.leave();
                shared.clear();
                resume_unwind(p);
            }
        }
        worker0.final_sweep();
        worker0.leave();
        shared.blocking.shutdown();
        if let Some(t) = shared.tracer() {
            t.finish(self.config.workers);
        }
        let deadlock = shared.take_deadlock();
        shared.clear();
        // Give the run's stacks back: the other workers' caches went back to the global pool
        // when their threads exited; this thread's cache and the pool's surplus go now.
        crate::stack::trim();
        // A big run leaves the allocator holding the freed task records (a million tasks are a
        // few hundred MB). glibc keeps freed heap memory for reuse; hand it back to the kernel.
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        if shared.tasks_spawned() > 10_000 {
            // SAFETY: malloc_trim only releases free memory of the allocator's own arenas.
            unsafe { libc::malloc_trim(0) };
        }
        // SAFETY: the main task's closure returns `T`, and nobody else holds its outcome.
        let result =
            unsafe { main.take_output::<T>() }.expect("the main task finished or was cancelled");
        drop(main);
        drop(worker0);
        drop(shared);
        if let Some(dump) = deadlock {
            return Err(RunError::Deadlock { dump });
        }
        match result {
            Ok(v) => Ok(v),
            Err(p) => resume_unwind(p),
        }
    }
}

/// Whether the caller is running inside a goro runtime (a task or a timer callback).
pub fn in_runtime() -> bool {
    sched::in_runtime()
}
