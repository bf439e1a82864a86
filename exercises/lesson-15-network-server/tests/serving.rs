//! The service as it serves: these pass as shipped, and must keep passing.

mod common;

use std::time::Duration;

use common::{Client, Reply, SOON, eventually};
use lesson_15_network_server::{BUSY, Config, INTERNAL, Server, Service};

fn line(s: &str) -> Reply {
    Reply::Line(s.to_string())
}

fn config(workers: usize, queue: usize) -> Config {
    Config {
        workers,
        queue,
        cleanup_every: Duration::from_secs(3600),
    }
}

#[test]
fn requests_are_answered_on_many_connections() {
    common::run(|| {
        let service = Service::new();
        let server = Server::start(service.clone(), config(4, 64)).expect("start the server");
        let mut clients: Vec<Client> = (0..10).map(|_| Client::connect(server.addr())).collect();
        for (i, c) in clients.iter_mut().enumerate() {
            let k = format!("1:10.0.{i}.0/24");
            assert_eq!(
                c.ask(&format!("ADD 1 10.0.{i}.0/24 192.168.1.{i}")),
                line(&format!("OK added {k} via 192.168.1.{i}"))
            );
        }
        for (i, c) in clients.iter_mut().enumerate() {
            let k = format!("1:10.0.{i}.0/24");
            assert_eq!(
                c.ask(&format!("GET 1 10.0.{i}.0/24")),
                line(&format!("OK {k} via 192.168.1.{i}"))
            );
            if i % 2 == 0 {
                assert_eq!(
                    c.ask(&format!("DEL 1 10.0.{i}.0/24")),
                    line(&format!("OK deleted {k}"))
                );
            }
        }
        assert_eq!(
            clients[0].ask("DEL 1 10.0.0.0/24"),
            line("ERR no route 1:10.0.0.0/24")
        );
        let Reply::Line(bad) = clients[1].ask("HELLO") else {
            panic!("no reply to a bad request")
        };
        assert!(bad.starts_with("ERR bad request"), "{bad}");
        assert_eq!(service.routes().len(), 5);
        let _ = server.shutdown(Duration::from_secs(5));
    });
}

#[test]
fn a_full_queue_answers_busy() {
    common::run(|| {
        let service = Service::new();
        let server = Server::start(service.clone(), config(1, 2)).expect("start the server");
        service.gate().hold();
        let mut clients: Vec<Client> = (0..4).map(|_| Client::connect(server.addr())).collect();
        clients[0].send("ADD 1 10.0.0.0/24 192.168.1.1");
        assert!(eventually(SOON, || service.gate().waiting() == 1));
        clients[1].send("ADD 1 10.0.1.0/24 192.168.1.1");
        clients[2].send("ADD 1 10.0.2.0/24 192.168.1.1");
        assert!(eventually(SOON, || service.received() == 3));
        // One in the worker, two in the queue: the fourth is told to come back later.
        assert_eq!(clients[3].ask("ADD 1 10.0.3.0/24 192.168.1.1"), line(BUSY));
        service.gate().release();
        for (i, c) in clients.iter_mut().take(3).enumerate() {
            assert_eq!(
                c.reply(),
                line(&format!("OK added 1:10.0.{i}.0/24 via 192.168.1.1"))
            );
        }
        let _ = server.shutdown(Duration::from_secs(5));
    });
}

#[test]
fn a_panicking_update_is_answered_and_the_worker_survives() {
    common::run(|| {
        let service = Service::new();
        let server = Server::start(service.clone(), config(1, 4)).expect("start the server");
        let mut c = Client::connect(server.addr());
        assert_eq!(c.ask("ADD 1 10.0.0.0/33 192.168.1.1"), line(INTERNAL));
        assert_eq!(
            c.ask("ADD 1 10.0.0.0/24 192.168.1.1"),
            line("OK added 1:10.0.0.0/24 via 192.168.1.1")
        );
        let _ = server.shutdown(Duration::from_secs(5));
    });
}
