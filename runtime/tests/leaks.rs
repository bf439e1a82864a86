//! Leak checks (uber-go/goleak's job): `goro::debug::check_leaks` fails a test that leaves
//! goroutines behind, with their dump. The case is seed 002's payment processor: a goroutine
//! per payment that calls an external gateway without a timeout hangs forever when the gateway
//! does; with a context deadline on the call, every goroutine ends.

use std::sync::Arc;
use std::time::Duration;

use goro::chan::{self, Receiver, Sender};
use goro::ctx::{self, Context};
use goro::debug::{LeakCheck, Leaks};
use goro::runtime::Builder;
use goro::sync::Mutex;

/// The external API: answers most charges after 10 ms, and never answers payments whose id is
/// a multiple of 3 (the connection hangs; the gateway keeps it open).
struct Gateway {
    hang: Receiver<u32>,
    _held_open: Sender<u32>,
}

impl Gateway {
    fn new() -> Arc<Gateway> {
        let (tx, rx) = chan::bounded(0);
        Arc::new(Gateway {
            hang: rx,
            _held_open: tx,
        })
    }

    /// A charge with no way to give up (the bug).
    fn charge(&self, id: u32) -> Result<u32, String> {
        if id.is_multiple_of(3) {
            self.hang.recv().map_err(|_| "gateway closed".to_string())
        } else {
            goro::sleep(Duration::from_millis(10));
            Ok(id)
        }
    }

    /// The same charge, abandoned when `ctx` is done (the fix).
    fn charge_ctx(&self, ctx: &Context, id: u32) -> Result<u32, String> {
        let reply = if id.is_multiple_of(3) {
            self.hang.clone()
        } else {
            let (tx, rx) = chan::bounded(1);
            goro::spawn(move || {
                goro::sleep(Duration::from_millis(10));
                let _ = tx.send(id);
            });
            rx
        };
        goro::select! {
            recv(reply) -> r => r.map_err(|_| "gateway closed".to_string()),
            recv(ctx.done()) => Err(format!("payment {id} timed out")),
        }
    }
}

/// Fire-and-forget, as in the seed: one goroutine per payment, no timeout.
fn process_leaky(gateway: &Arc<Gateway>, saved: &Arc<Mutex<Vec<String>>>) {
    for id in 1..=6 {
        let (gw, saved) = (gateway.clone(), saved.clone());
        goro::task::Builder::new()
            .name(format!("payment {id}"))
            .spawn(move || {
                let r = gw.charge(id);
                saved.lock().push(format!("{r:?}"));
            })
            .unwrap();
    }
}

/// The fix: each payment's call carries a 2 s deadline.
fn process_fixed(gateway: &Arc<Gateway>, saved: &Arc<Mutex<Vec<String>>>) {
    for id in 1..=6 {
        let (gw, saved) = (gateway.clone(), saved.clone());
        goro::task::Builder::new()
            .name(format!("payment {id}"))
            .spawn(move || {
                let (ctx, _cancel) =
                    ctx::with_timeout(&Context::background(), Duration::from_secs(2));
                let r = gw.charge_ctx(&ctx, id);
                saved.lock().push(format!("{r:?}"));
            })
            .unwrap();
    }
}

fn check(process: fn(&Arc<Gateway>, &Arc<Mutex<Vec<String>>>)) -> (Result<(), Leaks>, usize) {
    let rt = Builder::new().deterministic(2).build().unwrap();
    rt.block_on(move || {
        let gateway = Gateway::new();
        let saved = Arc::new(Mutex::new(Vec::new()));
        let r = LeakCheck::new().try_run(|| process(&gateway, &saved));
        let n = saved.lock().len();
        (r, n)
    })
    .unwrap()
}

#[test]
fn check_leaks_catches_the_payment_processor_leak() {
    let (result, saved) = check(process_leaky);
    let leaks = result.expect_err("payments 3 and 6 hang forever: the check must fail");
    assert_eq!(saved, 4, "the other four payments were saved");
    assert_eq!(leaks.count, 2, "{leaks}");
    let text = leaks.to_string();
    assert!(text.starts_with("goro: 2 goroutines leaked"), "{text}");
    for id in [3, 6] {
        assert!(
            text.contains(&format!("    name: payment {id}\n")),
            "{text}"
        );
    }
    assert!(!text.contains("name: payment 1\n"), "{text}");
    // Where each one is stuck, in the dump: the gateway's blocking receive in this file.
    assert_eq!(text.matches("[chan receive]:").count(), 2, "{text}");
    assert_eq!(
        text.matches(&format!("blocked at {}:", file!())).count(),
        2,
        "{text}"
    );
}

#[test]
fn check_leaks_passes_once_every_call_has_a_deadline() {
    let (result, saved) = check(process_fixed);
    result.unwrap_or_else(|leaks| panic!("the fixed processor leaked:\n{leaks}"));
    assert_eq!(saved, 6, "every payment ended: four charged, two timed out");
}

#[test]
fn tasks_alive_before_and_allowed_names_are_not_leaks() {
    let rt = Builder::new().deterministic(3).build().unwrap();
    rt.block_on(|| {
        let (_keep, never) = chan::bounded::<()>(0);
        let rx = never.clone();
        goro::spawn(move || {
            let _ = rx.recv();
        });
        LeakCheck::new().allow("pool").run(|| {
            let rx = never.clone();
            goro::task::Builder::new()
                .name("pool")
                .spawn(move || {
                    let _ = rx.recv();
                })
                .unwrap();
        });
        goro::debug::check_leaks(|| {});
    })
    .unwrap();
}

#[test]
#[should_panic(expected = "1 goroutine leaked")]
fn check_leaks_panics_with_the_dump() {
    let rt = Builder::new().deterministic(4).build().unwrap();
    let _ = rt.block_on(|| {
        goro::debug::check_leaks(|| {
            goro::spawn(|| goro::sleep(Duration::from_secs(3600)));
        })
    });
}
