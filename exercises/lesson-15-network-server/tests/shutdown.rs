//! Graceful shutdown: what `Server::shutdown` promises. These fail as shipped.

mod common;

use std::time::Duration;

use common::{Client, PATIENT, Reply, SOON, eventually, refuses};
use lesson_15_network_server::{Config, Server, Service};

/// How long `shutdown` may wait when a handler is stuck for good.
const STUCK_TIMEOUT: Duration = Duration::from_millis(500);

fn config(workers: usize, queue: usize, cleanup_every: Duration) -> Config {
    Config {
        workers,
        queue,
        cleanup_every,
    }
}

/// Waits until only `baseline` tasks are alive; panics with the dump otherwise.
fn expect_no_task_left(baseline: usize) {
    if !eventually(SOON, || goro::num_goroutines() == baseline) {
        panic!(
            "shutdown returned Ok, but {} tasks are still alive besides the test's {baseline}: \
             each of them should have ended (the acceptor, every connection, every worker, the \
             cleanup ticker), and shutdown should wait for all of them. They wait here:\n{}",
            goro::num_goroutines() - baseline,
            goro::debug::dump()
        );
    }
}

#[test]
fn no_task_is_left_after_shutdown() {
    common::run(|| {
        let baseline = goro::num_goroutines();
        let service = Service::new();
        let server = Server::start(service.clone(), config(4, 16, Duration::from_millis(5)))
            .expect("start the server");
        // Five connections that ask once, then sit idle.
        let mut idle: Vec<Client> = (0..5).map(|_| Client::connect(server.addr())).collect();
        for c in &mut idle {
            assert!(matches!(c.ask("GET 1 10.0.0.0/24"), Reply::Line(_)));
        }
        assert!(
            eventually(SOON, || service.cleanups() >= 2),
            "the cleanup task should call service.cleanup() every cleanup_every"
        );
        server.shutdown(PATIENT).unwrap_or_else(|leaked| {
            panic!("shutdown with nothing in flight should succeed; {leaked}")
        });
        expect_no_task_left(baseline);
        for c in &mut idle {
            assert_eq!(
                c.reply(),
                Reply::Closed,
                "an idle connection should be closed by shutdown"
            );
        }
    });
}

#[test]
fn a_connection_after_shutdown_is_refused() {
    common::run(|| {
        let service = Service::new();
        let server = Server::start(service, config(2, 8, Duration::from_secs(3600)))
            .expect("start the server");
        let addr = server.addr();
        let mut c = Client::connect(addr);
        assert!(matches!(c.ask("GET 1 10.0.0.0/24"), Reply::Line(_)));
        drop(c);
        server.shutdown(PATIENT).unwrap_or_else(|leaked| {
            panic!("shutdown with nothing in flight should succeed; {leaked}")
        });
        assert!(
            refuses(addr),
            "after shutdown returned, a new connection to {addr} was accepted and its request \
             answered: the acceptor is still running (and the listener open). It should stop \
             when the server's context is cancelled, closing the listener before shutdown returns"
        );
    });
}

#[test]
fn in_flight_requests_finish_and_new_ones_are_refused() {
    common::run(|| {
        let baseline = goro::num_goroutines();
        let service = Service::new();
        let server = Server::start(service.clone(), config(2, 16, Duration::from_millis(5)))
            .expect("start the server");
        let addr = server.addr();
        let mut idle: Vec<Client> = (0..3).map(|_| Client::connect(addr)).collect();
        for c in &mut idle {
            assert!(matches!(c.ask("GET 1 10.0.0.0/24"), Reply::Line(_)));
        }
        // Ten updates in flight: two held in the workers, eight in the queue.
        service.gate().hold();
        let mut busy: Vec<Client> = (0..10).map(|_| Client::connect(addr)).collect();
        for (i, c) in busy.iter().enumerate() {
            c.send(&format!("ADD 1 10.0.{i}.0/24 192.168.1.{i}"));
        }
        assert!(
            eventually(SOON, || service.received() == 3 + 10
                && service.gate().waiting() == 2),
            "the ten updates did not all reach the server (received {}, {} in workers)",
            service.received() - 3,
            service.gate().waiting()
        );

        let shutdown = goro::spawn(move || server.shutdown(PATIENT));
        // New connections are refused while the updates are still held.
        assert!(
            eventually(SOON, || Client::try_connect(addr).is_err()),
            "shutdown began but {addr} still accepts connections: the acceptor must stop (and \
             drop the listener) when the server's context is cancelled, without waiting for \
             requests in flight"
        );
        // So is a request on a connection that was idle.
        let late = idle[0].ask("ADD 1 10.9.9.0/24 192.168.1.9");
        assert!(
            !matches!(&late, Reply::Line(l) if l.starts_with("OK")),
            "a request sent after shutdown began was applied: {late:?}"
        );

        service.gate().release();
        for (i, c) in busy.iter_mut().enumerate() {
            assert_eq!(
                c.reply(),
                Reply::Line(format!("OK added 1:10.0.{i}.0/24 via 192.168.1.{i}")),
                "update {i} was in flight when shutdown began: it should be applied and answered"
            );
        }
        shutdown
            .join()
            .expect("shutdown panicked")
            .unwrap_or_else(|leaked| panic!("every request was answered, yet {leaked}"));
        let routes = service.routes();
        assert_eq!(
            routes.len(),
            10,
            "the ten updates, and not the late one: {routes:?}"
        );
        expect_no_task_left(baseline);
        for c in &mut idle[1..] {
            assert_eq!(
                c.reply(),
                Reply::Closed,
                "an idle connection should be closed"
            );
        }
    });
}

#[test]
fn a_stuck_handler_is_reported() {
    common::run(|| {
        let service = Service::new();
        // One worker: when it is stuck, the queue has nobody else to wait on it.
        let server = Server::start(service.clone(), config(1, 16, Duration::from_millis(5)))
            .expect("start the server");
        let addr = server.addr();
        let mut idle: Vec<Client> = (0..2).map(|_| Client::connect(addr)).collect();
        for c in &mut idle {
            assert!(matches!(c.ask("GET 1 10.0.0.0/24"), Reply::Line(_)));
        }
        // One update stuck for good in a worker (the gate is never released).
        service.gate().hold();
        let stuck = Client::connect(addr);
        stuck.send("ADD 1 10.0.0.0/24 192.168.1.1");
        assert!(eventually(SOON, || service.gate().waiting() == 1));

        let leaked = match server.shutdown(STUCK_TIMEOUT) {
            Ok(()) => panic!(
                "shutdown returned Ok while an update was stuck in a worker: it should wait for \
                 every task it started, and give up with Leaked after the timeout"
            ),
            Err(leaked) => leaked,
        };
        assert_eq!(
            leaked.tasks, 2,
            "Leaked.tasks should count the server's tasks still alive when the timeout passed: \
             exactly the stuck worker and the connection waiting for its answer (everything \
             else should have ended by then). Dump:\n{}",
            leaked.dump
        );
        assert!(
            leaked.dump.contains("[chan receive"),
            "Leaked.dump should be goro::debug::dump() taken at the timeout, showing where the \
             stuck tasks wait; it was:\n{}",
            leaked.dump
        );
        assert!(refuses(addr), "the listener should be closed even so");
        for c in &mut idle {
            assert_eq!(
                c.reply(),
                Reply::Closed,
                "an idle connection should be closed"
            );
        }
        service.gate().release();
    });
}
