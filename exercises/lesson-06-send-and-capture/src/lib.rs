//! Lesson 06: Send and capture.
//!
//! [`go`] starts a named task, like Go's `go` statement, and [`scope`] starts tasks that may
//! borrow from their caller, like `std::thread::scope`. Their signatures are here and are
//! given; what they accept and how they run is decided in `src/go.rs`, which you edit: which
//! closures are a [`Task`], and how a [`Scope`] keeps its promise. The programs in
//! [`patterns`] show what to write instead of Go's capture bugs.

pub mod go;
pub mod patterns;

use std::marker::PhantomData;

use goro::task::JoinHandle;

// ANCHOR: task
/// Something that can run as a task of its own: [`go`] starts any value of a type that
/// implements it. `src/go.rs` decides which closures those are.
pub trait Task {
    /// Starts `self` in a new task called `name`.
    ///
    /// # Panics
    /// If the runtime cannot allocate a stack for the task.
    fn start(self, name: &str) -> JoinHandle<()>;
}

/// Starts `f` in a new task called `name` and returns its handle: Go's `go f()`.
///
/// # Panics
/// If the runtime cannot allocate a stack for the task.
pub fn go<F: Task>(name: &str, f: F) -> JoinHandle<()> {
    f.start(name)
}
// ANCHOR_END: task

// ANCHOR: scope
/// Tasks started with [`Scope::go`] may borrow anything that outlives the call to [`scope`]
/// (`'env`): `scope` returns only after every one of them has finished.
pub struct Scope<'scope, 'env: 'scope> {
    state: go::ScopeState,
    /// `'scope` is exactly the lifetime of one `scope` call: invariant, so that it can be
    /// neither shortened nor stretched.
    scope: PhantomData<&'scope mut &'scope ()>,
    /// The caller's data that scoped tasks may borrow.
    env: PhantomData<&'env mut &'env ()>,
}

/// Runs `f` with a [`Scope`] and returns what `f` returns, once every task started in the
/// scope has finished. If `f` or any of those tasks panicked, `scope` panics too, after all
/// of them have finished.
pub fn scope<'env, F, R>(f: F) -> R
where
    F: for<'scope> FnOnce(&'scope Scope<'scope, 'env>) -> R,
{
    go::run_scope(f)
}

impl<'scope, 'env> Scope<'scope, 'env> {
    /// Starts `f` in a new task called `name`. `f` may borrow from the caller of [`scope`]:
    /// the scope waits for the task before it returns.
    ///
    /// # Panics
    /// If the runtime cannot allocate a stack for the task.
    pub fn go<F>(&'scope self, name: &str, f: F)
    where
        F: FnOnce() + Send + 'scope,
    {
        go::start_scoped(self, name, f);
    }
}
// ANCHOR_END: scope

impl Scope<'_, '_> {
    /// A scope around `state`; only `go::run_scope` makes one.
    fn new(state: go::ScopeState) -> Self {
        Scope {
            state,
            scope: PhantomData,
            env: PhantomData,
        }
    }

    /// The state `src/go.rs` keeps for this scope.
    fn state(&self) -> &go::ScopeState {
        &self.state
    }
}

/// Runs `f` as the main task of a deterministic goro runtime: same seed, same interleaving.
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
