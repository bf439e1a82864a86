//! What the tests share: a line-protocol client on real loopback sockets, and a bounded wait.
//!
//! Every wait here has a limit generous enough for a loaded machine (the tests assert what
//! happened, never how long it took).

#![allow(dead_code)]

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::Duration;

use goro::net::TcpStream;

/// How long a client waits for a reply before calling it lost.
pub const REPLY_WITHIN: Duration = Duration::from_secs(20);
/// How long the tests wait for something that should happen at once.
pub const SOON: Duration = Duration::from_secs(10);
/// The timeout given to `shutdown` when nothing is stuck: far more than it needs.
pub const PATIENT: Duration = Duration::from_secs(30);

/// What a client got back for a request.
#[derive(Debug, PartialEq, Eq)]
pub enum Reply {
    /// A reply line (without its newline).
    Line(String),
    /// The server closed the connection (end of file, or a reset) without a reply.
    Closed,
    /// Nothing came back within [`REPLY_WITHIN`].
    Nothing,
}

/// One connection to the server.
pub struct Client {
    conn: TcpStream,
    pending: Vec<u8>,
}

impl Client {
    /// Connects, or panics saying so.
    pub fn connect(addr: SocketAddr) -> Client {
        let conn = TcpStream::connect(addr)
            .unwrap_or_else(|e| panic!("could not connect to the server at {addr}: {e}"));
        Client {
            conn,
            pending: Vec::new(),
        }
    }

    /// Connects if the server accepts connections.
    pub fn try_connect(addr: SocketAddr) -> io::Result<Client> {
        Ok(Client {
            conn: TcpStream::connect(addr)?,
            pending: Vec::new(),
        })
    }

    /// Sends one request line. A connection the server already closed may fail: that is
    /// ignored here, and shows in the reply.
    pub fn send(&self, line: &str) {
        let _ = writeln!(&mut &self.conn, "{line}");
    }

    /// The next reply line.
    pub fn reply(&mut self) -> Reply {
        self.conn
            .set_read_deadline(Some(goro::time::now() + REPLY_WITHIN));
        let mut chunk = [0u8; 256];
        loop {
            if let Some(end) = self.pending.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.pending.drain(..=end).collect();
                return Reply::Line(String::from_utf8_lossy(&line).trim_end().to_string());
            }
            match (&self.conn).read(&mut chunk) {
                Ok(0) => return Reply::Closed,
                Ok(n) => self.pending.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::TimedOut => return Reply::Nothing,
                Err(_) => return Reply::Closed, // reset by the server
            }
        }
    }

    /// Sends `line` and returns the reply.
    pub fn ask(&mut self, line: &str) -> Reply {
        self.send(line);
        self.reply()
    }
}

/// Checks `cond` every couple of milliseconds until it holds (true) or `within` has passed
/// (false).
pub fn eventually(within: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = goro::time::now() + within;
    loop {
        if cond() {
            return true;
        }
        if goro::time::now() >= deadline {
            return false;
        }
        goro::sleep(Duration::from_millis(2));
    }
}

/// Whether `addr` refuses connections: a connection fails, or it is closed without a reply
/// to a request (a connection the kernel queued just before the listener closed).
pub fn refuses(addr: SocketAddr) -> bool {
    match Client::try_connect(addr) {
        Err(_) => true,
        Ok(mut c) => !matches!(c.ask("GET 9 192.0.2.0/24"), Reply::Line(_)),
    }
}

/// Runs `test` as the main task of a goro run (real worker threads, real clock: the sockets
/// are real) and re-raises its failure on the test's own thread, so that the test harness
/// reports the message.
pub fn run(test: impl FnOnce() + Send + 'static) {
    let outcome = goro::run(|| goro::recover(test).map_err(|p| p.message().to_string()));
    if let Err(message) = outcome {
        panic!("{message}");
    }
}
