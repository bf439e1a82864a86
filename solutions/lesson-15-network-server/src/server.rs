//! The server: an acceptor, a task per connection, a pool of workers behind a bounded queue,
//! a cleanup ticker, and a graceful shutdown that stops every one of them. YOU EDIT THIS FILE.

use std::io::{self, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use goro::chan::{self, Receiver, Sender, TrySendError};
use goro::ctx::{self, CancelFunc, Context};
use goro::net::{TcpListener, TcpStream};
use goro::sync::WaitGroup;

use crate::routes::{Request, Service};
use crate::{BUSY, Config, INTERNAL, Leaked, SHUTTING_DOWN};

/// A request on its way to a worker, with the channel its answer comes back on.
struct Job {
    req: Request,
    reply: Sender<String>,
}

/// The route manager, listening on `127.0.0.1` (a port the kernel picks).
pub struct Server {
    addr: SocketAddr,
    cancel: CancelFunc,
    jobs: Sender<Job>,
    tasks: WaitGroup,
}

// ANCHOR: start
impl Server {
    /// Binds `127.0.0.1:0` and starts the workers, the cleanup task and the acceptor.
    ///
    /// # Errors
    /// If the listener cannot be bound.
    ///
    /// # Panics
    /// If `config.workers` is 0, or when called outside a goro task.
    pub fn start(service: Arc<Service>, config: Config) -> io::Result<Server> {
        // ANCHOR_END: start
        assert!(
            config.workers > 0,
            "Config::workers is 0: nobody would apply updates"
        );
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let (ctx, cancel) = ctx::with_cancel(&Context::background());
        let (jobs, queued) = chan::bounded::<Job>(config.queue);
        let tasks = WaitGroup::new();

        for _ in 0..config.workers {
            let (queued, service) = (queued.clone(), service.clone());
            tasks.go(move || worker(&queued, &service));
        }
        drop(queued);

        {
            let (ctx, service) = (ctx.clone(), service.clone());
            let every = config.cleanup_every;
            tasks.go(move || cleanup(&ctx, &service, every));
        }

        {
            let (jobs, group) = (jobs.clone(), tasks.clone());
            tasks.go(move || accept_loop(listener, &ctx, &jobs, &service, &group));
        }

        Ok(Server {
            addr,
            cancel,
            jobs,
            tasks,
        })
    }

    /// The address clients connect to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    // ANCHOR: shutdown
    /// Stops the server: refuses new connections and new requests at once, lets requests in
    /// flight finish and be answered, then waits up to `timeout` for every task it started.
    ///
    /// # Errors
    /// [`Leaked`] when the timeout passes first: how many of its tasks are still alive, and a
    /// dump that shows where they wait.
    pub fn shutdown(self, timeout: Duration) -> Result<(), Leaked> {
        // 1. The acceptor, idle connections and the cleanup ticker all watch this context.
        self.cancel.cancel();
        // 2. Our sender of the queue. Connection tasks hold the others; when the last one has
        //    answered its request and gone, the queue closes and the workers drain it and end.
        drop(self.jobs);
        // 3. Wait for all of it, but not forever.
        let (all_done, finished) = chan::bounded::<()>(0);
        let tasks = self.tasks.clone();
        goro::spawn(move || {
            tasks.wait();
            drop(all_done);
        });
        goro::select! {
            recv(finished) => Ok(()),
            recv(goro::time::after(timeout)) => Err(Leaked {
                tasks: self.tasks.count(),
                dump: goro::debug::dump(),
            }),
        }
    }
    // ANCHOR_END: shutdown
}

/// Takes jobs until the queue is closed and empty; a panicking update is answered, not fatal.
fn worker(queued: &Receiver<Job>, service: &Service) {
    for job in queued {
        let answer = goro::recover(|| service.apply(job.req)).unwrap_or_else(|_| INTERNAL.into());
        let _ = job.reply.send(answer);
    }
}

// ANCHOR: cleanup
/// Runs the periodic cleanup until `ctx` is cancelled.
fn cleanup(ctx: &Context, service: &Service, every: Duration) {
    let ticks = goro::time::tick(every);
    let done = ctx.done();
    loop {
        goro::select! {
            recv(done) => return,
            recv(ticks) => { service.cleanup(); }
        }
    }
}
// ANCHOR_END: cleanup

// ANCHOR: accept
/// A task per connection, until `ctx` is cancelled; the listener closes when this returns.
fn accept_loop(
    listener: TcpListener,
    ctx: &Context,
    jobs: &Sender<Job>,
    service: &Arc<Service>,
    tasks: &WaitGroup,
) {
    while let Ok((conn, _)) = listener.accept_ctx(ctx) {
        let (ctx, jobs, service) = (ctx.clone(), jobs.clone(), service.clone());
        tasks.go(move || serve(&conn, &ctx, &jobs, &service));
    }
}
// ANCHOR_END: accept

// ANCHOR: serve
/// One connection: read a line, answer it, until the client leaves or `ctx` is cancelled.
fn serve(conn: &TcpStream, ctx: &Context, jobs: &Sender<Job>, service: &Service) {
    let mut pending = Vec::new();
    let mut chunk = [0u8; 512];
    loop {
        while let Some(end) = pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            if ctx.is_cancelled() {
                let _ = writeln!(&mut &*conn, "{SHUTTING_DOWN}");
                return;
            }
            let answer = answer(&String::from_utf8_lossy(&line), jobs, service);
            if writeln!(&mut &*conn, "{answer}").is_err() {
                return;
            }
        }
        match conn.read_ctx(ctx, &mut chunk) {
            Ok(0) | Err(_) => return, // the client left, or shutdown
            Ok(n) => pending.extend_from_slice(&chunk[..n]),
        }
    }
}
// ANCHOR_END: serve

/// Parses a line, queues it for a worker without waiting for room, and waits for its answer.
fn answer(line: &str, jobs: &Sender<Job>, service: &Service) -> String {
    let req = match service.parse(line.trim()) {
        Ok(req) => req,
        Err(bad) => return bad,
    };
    let (reply, answer) = chan::bounded(1);
    match jobs.try_send(Job { req, reply }) {
        Ok(()) => answer.recv().unwrap_or_else(|_| INTERNAL.into()),
        Err(TrySendError::Full(_)) => BUSY.into(),
        Err(TrySendError::Disconnected(_)) => SHUTTING_DOWN.into(),
    }
}
