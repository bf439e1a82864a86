//! Channel behaviour, observed under goro's deterministic mode. Times are goro's virtual
//! clock: a 10 ms sleep takes no real time and always reads exactly 10 ms.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use goro::runtime::RunError;
use lesson_07_channels::examples::{ping_pong, sum_of_squares};
use lesson_07_channels::{SendError, channel, run_deterministic, try_run_deterministic};

/// A log shared by the tasks of one test, stamped with milliseconds of virtual time.
#[derive(Clone)]
struct Log {
    start: Instant,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Log {
    fn new() -> Log {
        Log {
            start: goro::time::now(),
            lines: Arc::default(),
        }
    }
    fn say(&self, what: String) {
        let ms = goro::time::now()
            .saturating_duration_since(self.start)
            .as_millis();
        self.lines
            .lock()
            .unwrap()
            .push(format!("{ms:>3}ms  {what}"));
    }
    /// The log, with lines stamped with the same millisecond sorted: which of them is logged
    /// first depends on scheduling details that differ between correct solutions. (The stamps
    /// are right-aligned, so sorting whole lines sorts by time first.)
    fn text(&self) -> String {
        let mut lines = self.lines.lock().unwrap().clone();
        lines.sort();
        lines.join("\n")
    }
}

const TICK: Duration = Duration::from_millis(10);

/// A producer sends 0..count as fast as the channel lets it; main receives one value every
/// 10 ms. The log shows when each send returned.
fn slow_consumer(seed: u64, capacity: usize, count: u32) -> String {
    run_deterministic(seed, move || {
        let log = Log::new();
        let (tx, rx) = channel::<u32>(capacity);
        let producer = {
            let log = log.clone();
            goro::spawn(move || {
                for i in 0..count {
                    tx.send(i).expect("the receiver is still there");
                    log.say(format!("producer: sent {i}"));
                }
            })
        };
        for _ in 0..count {
            goro::sleep(TICK);
            let value = rx
                .recv()
                .expect("channel closed before every value arrived");
            log.say(format!("main:     received {value}"));
        }
        producer.join().unwrap();
        log.text()
    })
}

#[test]
fn rendezvous_waits_for_the_receiver() {
    // Unbuffered: each send returns only once main has taken the value (at 10, 20, 30 ms).
    insta::assert_snapshot!(slow_consumer(0, 0, 3));
}

#[test]
fn buffered_send_waits_only_when_full() {
    // Capacity 2: the first two sends return at once, then one per receive.
    insta::assert_snapshot!(slow_consumer(0, 2, 5));
}

#[test]
fn range_ends_when_the_channel_closes() {
    for seed in 0..8 {
        let got = run_deterministic(seed, || {
            let (tx, rx) = channel(1);
            goro::spawn(move || {
                for i in 0..5 {
                    goro::sleep(TICK); // a slow producer: the buffer is often empty
                    tx.send(i).unwrap();
                }
                // tx dropped here: the channel closes
            });
            rx.into_iter().collect::<Vec<u32>>()
        });
        assert_eq!(
            got,
            [0, 1, 2, 3, 4],
            "seed {seed}: `for v in rx` must wait for values and stop only after close"
        );
    }
    // Close with values still buffered: receivers drain them first.
    let drained = run_deterministic(0, || {
        let (tx, rx) = channel(3);
        for i in 0..3 {
            tx.send(i).unwrap();
        }
        tx.close();
        (rx.iter().collect::<Vec<u32>>(), rx.recv())
    });
    assert_eq!(
        drained,
        (vec![0, 1, 2], None),
        "close must not drop buffered values"
    );
}

#[test]
fn close_wakes_every_receiver() {
    let text = run_deterministic(3, || {
        let log = Log::new();
        let (tx, rx) = channel::<u32>(0);
        let receivers: Vec<_> = (1..=3)
            .map(|n| {
                let (rx, log) = (rx.clone(), log.clone());
                goro::spawn(move || {
                    let got = rx.recv();
                    log.say(format!("receiver {n}: {got:?}"));
                })
            })
            .collect();
        goro::sleep(TICK);
        log.say("main:       close".to_string());
        tx.close();
        for r in receivers {
            r.join().unwrap();
        }
        log.text()
    });
    insta::assert_snapshot!(text);
}

#[test]
fn send_on_a_closed_channel_fails() {
    let result = run_deterministic(0, || {
        let (tx, _rx) = channel::<u32>(4);
        tx.close();
        tx.send(7)
    });
    assert_eq!(
        result,
        Err(SendError(7)),
        "a send after close must fail and return the value"
    );
    // And a sender parked on a full channel is woken by close, with its value back.
    let result = run_deterministic(0, || {
        let (tx, rx) = channel::<u32>(1);
        tx.send(1).unwrap();
        let closer = goro::spawn(move || {
            goro::sleep(TICK);
            drop(rx);
        });
        let tx2 = tx.clone();
        let blocked = goro::spawn(move || tx2.send(2));
        goro::sleep(TICK / 2);
        tx.close();
        closer.join().unwrap();
        blocked.join().unwrap()
    });
    assert_eq!(
        result,
        Err(SendError(2)),
        "close must wake a sender waiting for room"
    );
}

#[test]
fn close_gives_waiting_rendezvous_senders_their_values_back() {
    // On a rendezvous channel a send is only done once a receiver has the value. Close the
    // channel while two senders wait (one whose value sits in the hand-off, one waiting for
    // room) and nobody has received: both sends did not happen, so both must wake up and get
    // their value back, and a receive after that finds the channel closed and empty.
    for seed in 0..4 {
        let (first, second, after) = run_deterministic(seed, || {
            let (tx, rx) = channel::<String>(0);
            let senders: Vec<_> = ["order 7", "order 8"]
                .into_iter()
                .map(|order| {
                    let tx = tx.clone();
                    goro::spawn(move || tx.send(order.to_string()))
                })
                .collect();
            goro::sleep(TICK); // both senders are waiting by now: nobody receives
            tx.close();
            let mut results = senders.into_iter().map(|s| s.join().unwrap());
            let first = results.next().unwrap();
            let second = results.next().unwrap();
            (first, second, rx.recv())
        });
        assert_eq!(
            first,
            Err(SendError("order 7".to_string())),
            "seed {seed}: a rendezvous send that nobody received must fail on close and return its value"
        );
        assert_eq!(
            second,
            Err(SendError("order 8".to_string())),
            "seed {seed}: a rendezvous send that nobody received must fail on close and return its value"
        );
        assert_eq!(
            after, None,
            "seed {seed}: a value handed back to its sender must not also be received"
        );
    }
}

#[test]
fn every_value_arrives_once_and_in_order() {
    const SENDERS: u32 = 3;
    const PER_SENDER: u32 = 40;
    for (seed, capacity) in (0..12).zip([0, 1, 4].into_iter().cycle()) {
        let received = run_deterministic(seed, move || {
            let (tx, rx) = channel::<u32>(capacity);
            for s in 0..SENDERS {
                let tx = tx.clone();
                goro::spawn(move || {
                    for i in 0..PER_SENDER {
                        tx.send(s * 1000 + i).unwrap();
                        if i % 7 == 0 {
                            goro::yield_now();
                        }
                    }
                });
            }
            drop(tx);
            let receivers: Vec<_> = (0..2)
                .map(|_| {
                    let rx = rx.clone();
                    goro::spawn(move || rx.iter().collect::<Vec<u32>>())
                })
                .collect();
            drop(rx);
            receivers
                .into_iter()
                .map(|r| r.join().unwrap())
                .collect::<Vec<_>>()
        });
        for (r, got) in received.iter().enumerate() {
            for s in 0..SENDERS {
                let from_s: Vec<u32> = got.iter().copied().filter(|v| v / 1000 == s).collect();
                assert!(
                    from_s.windows(2).all(|w| w[0] < w[1]),
                    "seed {seed}, capacity {capacity}: receiver {r} saw sender {s}'s values out of order: {from_s:?}"
                );
            }
        }
        let mut all: Vec<u32> = received.concat();
        all.sort_unstable();
        let expected: Vec<u32> = (0..SENDERS)
            .flat_map(|s| (0..PER_SENDER).map(move |i| s * 1000 + i))
            .collect();
        assert_eq!(
            all, expected,
            "seed {seed}, capacity {capacity}: every value must be received exactly once"
        );
    }
}

#[test]
fn a_receiver_nobody_sends_to_is_a_deadlock() {
    // The sender is alive (so the channel is open) but nobody will ever send: the receiver
    // must park, and goro must report the deadlock, naming what main waits for.
    let outcome = try_run_deterministic(0, || {
        let (tx, rx) = channel::<u32>(0);
        let value = rx.recv();
        drop(tx);
        value
    });
    match outcome {
        Err(RunError::Deadlock { dump }) => assert!(
            dump.contains("[chan receive]"),
            "the dump must show main parked in a channel receive:\n{dump}"
        ),
        Ok(value) => panic!("recv returned {value:?} from an open, empty channel: it must wait"),
        Err(other) => panic!("expected a deadlock, got: {other}"),
    }
}

#[test]
fn ping_pong_takes_turns() {
    let trace = run_deterministic(0, || ping_pong(3));
    insta::assert_snapshot!(trace.join("\n"));
}

#[test]
fn pipeline_sums_the_squares() {
    for seed in 0..4 {
        assert_eq!(
            run_deterministic(seed, || sum_of_squares(10)),
            385,
            "seed {seed}"
        );
    }
}
