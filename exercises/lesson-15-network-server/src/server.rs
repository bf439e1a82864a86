//! The server: an acceptor, a task per connection, a pool of workers behind a bounded queue,
//! a cleanup ticker, and a graceful shutdown that stops every one of them. YOU EDIT THIS FILE.
//!
//! As shipped it is seed 000's server (the route manager of the study document on Go's
//! execution model; the book's introduction lists the seeds) ported line by line, and its
//! shutdown leaks: it stops the workers (dropping the requests still queued) and nothing else.
//! See the lesson page.

use std::io::{self, Read, Write};
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
    workers: WaitGroup,
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

        let workers = WaitGroup::new();
        for _ in 0..config.workers {
            let (ctx, queued, service) = (ctx.clone(), queued.clone(), service.clone());
            workers.go(move || worker(&ctx, &queued, &service));
        }
        drop(queued);

        // TODO(lesson): nothing ever stops this task, and nothing waits for it.
        let every = config.cleanup_every;
        let cleaner = service.clone();
        goro::spawn(move || {
            for _ in goro::time::tick(every) {
                cleaner.cleanup();
            }
        });

        // TODO(lesson): the acceptor and the connections it starts are on their own too.
        goro::spawn(move || accept_loop(listener, &jobs, &service));

        Ok(Server {
            addr,
            cancel,
            workers,
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
        // TODO(lesson): this stops the workers, and only them, even with requests queued.
        self.cancel.cancel();
        let (all_done, finished) = chan::bounded::<()>(0);
        let workers = self.workers.clone();
        goro::spawn(move || {
            workers.wait();
            drop(all_done);
        });
        goro::select! {
            recv(finished) => Ok(()),
            // TODO(lesson): the seed only says "some goroutines may be leaked". Which?
            recv(goro::time::after(timeout)) => Err(Leaked {
                tasks: 0,
                dump: String::new(),
            }),
        }
    }
    // ANCHOR_END: shutdown
}

/// Takes jobs until `ctx` is cancelled; a panicking update is answered, not fatal.
fn worker(ctx: &Context, queued: &Receiver<Job>, service: &Service) {
    let done = ctx.done();
    loop {
        goro::select! {
            recv(done) => return,
            recv(queued) -> job => {
                let Ok(job) = job else { return };
                let answer = goro::recover(|| service.apply(job.req))
                    .unwrap_or_else(|_| INTERNAL.into());
                let _ = job.reply.send(answer);
            }
        }
    }
}

// ANCHOR: accept
/// A task per connection, forever.
fn accept_loop(listener: TcpListener, jobs: &Sender<Job>, service: &Arc<Service>) {
    while let Ok((conn, _)) = listener.accept() {
        let (jobs, service) = (jobs.clone(), service.clone());
        goro::spawn(move || serve(&conn, &jobs, &service));
    }
}
// ANCHOR_END: accept

// ANCHOR: serve
/// One connection: read a line, answer it, until the client leaves.
fn serve(conn: &TcpStream, jobs: &Sender<Job>, service: &Service) {
    let mut pending = Vec::new();
    let mut chunk = [0u8; 512];
    loop {
        while let Some(end) = pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            let answer = answer(&String::from_utf8_lossy(&line), jobs, service);
            if writeln!(&mut &*conn, "{answer}").is_err() {
                return;
            }
        }
        match (&*conn).read(&mut chunk) {
            Ok(0) | Err(_) => return, // the client left
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
