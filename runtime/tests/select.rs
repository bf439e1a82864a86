//! `select!` behaviour: readiness, fairness, default, timeouts, send arms, wakeups.

use goro::chan::{self, RecvError};
use goro::runtime::Builder;
use std::time::Duration;

mod common;
use common::det;

/// Counts which of two always-ready arms 100,000 selects pick (closed channels are always
/// ready, as in Go).
fn pick_counts() -> [u32; 2] {
    let (tx_a, rx_a) = chan::bounded::<()>(0);
    let (tx_b, rx_b) = chan::bounded::<()>(0);
    drop((tx_a, tx_b));
    let mut counts = [0u32; 2];
    for _ in 0..100_000 {
        goro::select! {
            recv(rx_a) => counts[0] += 1,
            recv(rx_b) => counts[1] += 1,
        }
    }
    counts
}

/// Each of two ready arms must win 50 % ± 5 % of 100,000 selects: in a deterministic runtime
/// (seeded random source), a normal one, and on a plain OS thread.
#[test]
fn two_ready_arms_are_chosen_uniformly() {
    let normal = Builder::new().workers(2).build().unwrap();
    for (place, counts) in [
        ("deterministic", det(1, pick_counts)),
        ("2 workers", normal.block_on(pick_counts).unwrap()),
        ("OS thread", pick_counts()),
    ] {
        for c in counts {
            assert!(
                (45_000..=55_000).contains(&c),
                "{place}: arms chosen {counts:?} times out of 100,000"
            );
        }
    }
}

#[test]
fn three_arms_with_values_are_all_chosen() {
    let counts = det(2, || {
        let (txs, rxs): (Vec<_>, Vec<_>) = (0..3).map(|_| chan::unbounded::<u8>()).unzip();
        for tx in &txs {
            for _ in 0..3000 {
                tx.send(0).unwrap();
            }
        }
        let mut counts = [0u32; 3];
        for _ in 0..3000 {
            goro::select! {
                recv(rxs[0]) -> v => { v.unwrap(); counts[0] += 1 }
                recv(rxs[1]) -> v => { v.unwrap(); counts[1] += 1 }
                recv(rxs[2]) -> v => { v.unwrap(); counts[2] += 1 }
            }
        }
        counts
    });
    for c in counts {
        assert!(
            (800..=1200).contains(&c),
            "uneven choice among three ready arms: {counts:?}"
        );
    }
}

#[test]
fn default_runs_when_nothing_is_ready() {
    det(3, || {
        let (tx, rx) = chan::bounded::<u8>(1);
        let first = goro::select! {
            recv(rx) -> v => format!("got {v:?}"),
            default => "nothing".to_string(),
        };
        assert_eq!(first, "nothing");
        tx.send(5).unwrap();
        let second = goro::select! {
            recv(rx) -> v => format!("got {v:?}"),
            default => "nothing".to_string(),
        };
        assert_eq!(second, "got Ok(5)");
    });
}

#[test]
fn non_blocking_send_with_default_is_backpressure() {
    det(4, || {
        let (tx, rx) = chan::bounded::<u32>(1);
        let mut dropped = 0;
        for i in 0..5 {
            goro::select! {
                send(tx, i) -> res => res.unwrap(),
                default => dropped += 1,
            }
        }
        assert_eq!(dropped, 4);
        assert_eq!(rx.recv(), Ok(0));
    });
}

#[test]
fn after_times_out_a_select_on_the_virtual_clock() {
    det(5, || {
        let (_tx, rx) = chan::bounded::<u8>(0);
        let start = goro::time::now();
        let timed_out = goro::select! {
            recv(rx) => false,
            recv(goro::time::after(Duration::from_secs(10))) => true,
        };
        assert!(timed_out);
        let waited = goro::time::now() - start;
        assert!(
            waited >= Duration::from_secs(10) && waited < Duration::from_secs(11),
            "{waited:?}"
        );
    });
}

#[test]
fn a_value_beats_the_timeout() {
    det(6, || {
        let (tx, rx) = chan::bounded::<&str>(0);
        goro::spawn(move || {
            goro::time::sleep(Duration::from_millis(10));
            tx.send("reply").unwrap();
        });
        let got = goro::select! {
            recv(rx) -> v => v.unwrap(),
            recv(goro::time::after(Duration::from_secs(1))) => "timeout",
        };
        assert_eq!(got, "reply");
    });
}

#[test]
fn parked_select_is_woken_by_any_arm_and_leaves_the_others() {
    for seed in 0..16 {
        det(seed, move || {
            let (tx_a, rx_a) = chan::bounded::<u32>(0);
            let (tx_b, rx_b) = chan::bounded::<u32>(0);
            let which = seed % 2;
            let h = goro::spawn(move || {
                goro::select! {
                    recv(rx_a) -> v => ("a", v.unwrap(), rx_a, rx_b),
                    recv(rx_b) -> v => ("b", v.unwrap(), rx_a, rx_b),
                }
            });
            goro::yield_now(); // the select parks on both
            if which == 0 {
                tx_a.send(1).unwrap();
            } else {
                tx_b.send(2).unwrap();
            }
            let (arm, v, rx_a, rx_b) = h.join().unwrap();
            assert_eq!((arm, v), if which == 0 { ("a", 1) } else { ("b", 2) });
            // The losing arm's wait node is gone: a try_send on it finds no receiver.
            let loser = if which == 0 { &tx_b } else { &tx_a };
            assert!(loser.try_send(3).unwrap_err().is_full());
            drop((rx_a, rx_b));
        });
    }
}

#[test]
fn send_arm_delivers_to_a_parked_receiver() {
    det(7, || {
        let (tx, rx) = chan::bounded::<String>(0);
        let h = goro::spawn(move || rx.recv());
        goro::yield_now();
        let (_never_tx, never_rx) = chan::bounded::<u8>(0);
        goro::select! {
            send(tx, "hello".to_string()) -> res => res.unwrap(),
            recv(never_rx) => unreachable!(),
        }
        assert_eq!(h.join().unwrap().unwrap(), "hello");
    });
}

#[test]
fn parked_send_arm_completes_when_a_receiver_arrives() {
    det(8, || {
        let (tx, rx) = chan::bounded::<u32>(0);
        let h = goro::spawn(move || {
            goro::select! {
                send(tx, 99) -> res => res.is_ok(),
                recv(goro::time::after(Duration::from_secs(60))) => false,
            }
        });
        goro::time::sleep(Duration::from_secs(1));
        assert_eq!(rx.recv(), Ok(99));
        assert!(h.join().unwrap());
    });
}

#[test]
fn send_arm_on_a_channel_without_receivers_returns_the_value() {
    det(9, || {
        let (tx, rx) = chan::bounded::<Vec<u8>>(0);
        drop(rx);
        let back = goro::select! {
            send(tx, vec![1, 2, 3]) -> res => res.unwrap_err().into_inner(),
        };
        assert_eq!(back, vec![1, 2, 3]);
    });
}

#[test]
fn closed_channel_arm_reports_disconnection() {
    det(10, || {
        let (tx, rx) = chan::bounded::<u8>(0);
        drop(tx);
        let r = goro::select! { recv(rx) -> v => v };
        assert_eq!(r, Err(RecvError));
    });
}

#[test]
fn closing_wakes_a_parked_select() {
    det(11, || {
        let (tx, rx) = chan::bounded::<u8>(0);
        let (_keep, other) = chan::bounded::<u8>(0);
        let h = goro::spawn(move || {
            goro::select! {
                recv(rx) -> v => v.is_err(),
                recv(other) => false,
            }
        });
        goro::yield_now();
        drop(tx);
        assert!(h.join().unwrap());
    });
}

#[test]
fn the_same_channel_in_two_arms() {
    det(12, || {
        let (tx, rx) = chan::bounded::<u8>(0);
        let h = goro::spawn(move || {
            goro::select! {
                recv(rx) -> v => v.unwrap(),
                recv(rx) -> v => v.unwrap() + 100,
            }
        });
        goro::yield_now();
        tx.send(1).unwrap();
        let got = h.join().unwrap();
        assert!(got == 1 || got == 101);
    });
}

#[test]
fn select_in_a_loop_with_break_and_continue() {
    let sum = det(13, || {
        let (tx, rx) = chan::bounded::<u32>(4);
        goro::spawn(move || {
            for i in 1..=10 {
                tx.send(i).unwrap();
            }
        });
        let mut sum = 0;
        loop {
            goro::select! {
                recv(rx) -> v => match v {
                    Ok(v) if v % 2 == 0 => continue,
                    Ok(v) => sum += v,
                    Err(_) => break,
                },
            }
        }
        sum
    });
    assert_eq!(sum, 1 + 3 + 5 + 7 + 9);
}

#[test]
fn same_seed_same_choices() {
    let run = |seed| {
        det(seed, || {
            let (a_tx, a) = chan::bounded::<()>(0);
            let (b_tx, b) = chan::bounded::<()>(0);
            drop((a_tx, b_tx));
            (0..64)
                .map(|_| goro::select! { recv(a) => 'a', recv(b) => 'b' })
                .collect::<String>()
        })
    };
    assert_eq!(run(42), run(42));
}

#[test]
fn many_tasks_selecting_on_shared_channels() {
    let total = Builder::new()
        .workers(2)
        .build()
        .unwrap()
        .block_on(|| {
            let (jobs_tx, jobs) = chan::bounded::<u64>(0);
            let (quit_tx, quit) = chan::bounded::<()>(0);
            let (res_tx, res) = chan::unbounded::<u64>();
            let workers: Vec<_> = (0..8)
                .map(|_| {
                    let (jobs, quit, res_tx) = (jobs.clone(), quit.clone(), res_tx.clone());
                    goro::spawn(move || {
                        loop {
                            goro::select! {
                                recv(jobs) -> j => res_tx.send(j.unwrap()).unwrap(),
                                recv(quit) => return,
                            }
                        }
                    })
                })
                .collect();
            drop(res_tx);
            for j in 1..=2000 {
                jobs_tx.send(j).unwrap();
            }
            drop(quit_tx);
            for w in workers {
                w.join().unwrap();
            }
            res.try_iter().sum::<u64>()
        })
        .unwrap();
    assert_eq!(total, 2000 * 2001 / 2);
}

#[test]
fn select_works_on_a_plain_os_thread() {
    let (tx, rx) = chan::bounded::<u8>(0);
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(5));
        tx.send(1).unwrap();
    });
    let got = goro::select! {
        recv(rx) -> v => v.unwrap(),
        recv(goro::time::after(Duration::from_secs(30))) => 0,
    };
    assert_eq!(got, 1);
    t.join().unwrap();
}

/// A select parked at shutdown leaves every channel it waited on.
#[test]
fn select_parked_at_shutdown_leaves_all_queues() {
    let (a_tx, a) = chan::bounded::<u8>(0);
    let (b_tx, b) = chan::bounded::<u8>(0);
    let (a2, b2) = (a.clone(), b.clone());
    let rt = Builder::new().workers(2).build().unwrap();
    rt.block_on(move || {
        for _ in 0..10 {
            let (a, b) = (a2.clone(), b2.clone());
            goro::spawn(move || {
                goro::select! {
                    recv(a) => {},
                    recv(b) => {},
                }
            });
        }
        goro::sleep(Duration::from_millis(20));
    })
    .unwrap();
    assert!(a_tx.try_send(1).unwrap_err().is_full());
    assert!(b_tx.try_send(1).unwrap_err().is_full());
    drop((a, b));
}

/// Selects meeting selects: tasks of group A offer on `ab` while listening on `ba`, group B the
/// reverse, so a parked select's node is often claimed by another select (the CAS race on the
/// shared selector word). Every value must arrive exactly once.
fn crossing_selects(tasks_per_side: u64, quota: u64) -> Vec<u64> {
    let (ab_tx, ab_rx) = chan::bounded::<u64>(0);
    let (ba_tx, ba_rx) = chan::bounded::<u64>(0);
    let (stop_tx, stop) = chan::bounded::<()>(0);
    let (got_tx, got) = chan::unbounded::<u64>();
    let mut handles = Vec::new();
    for side in 0..2u64 {
        for t in 0..tasks_per_side {
            let (out, inp) = if side == 0 {
                (ab_tx.clone(), ba_rx.clone())
            } else {
                (ba_tx.clone(), ab_rx.clone())
            };
            let (stop, got_tx) = (stop.clone(), got_tx.clone());
            let base = (side * tasks_per_side + t) * quota;
            handles.push(goro::spawn(move || {
                let mut sent = 0;
                while sent < quota {
                    goro::select! {
                        send(out, base + sent) -> r => { r.unwrap(); sent += 1 }
                        recv(inp) -> v => got_tx.send(v.unwrap()).unwrap(),
                    }
                }
                // Quota done: keep receiving so the others can finish theirs.
                loop {
                    goro::select! {
                        recv(inp) -> v => got_tx.send(v.unwrap()).unwrap(),
                        recv(stop) => return,
                    }
                }
            }));
        }
    }
    let total = 2 * tasks_per_side * quota;
    let mut all: Vec<u64> = got.iter().take(total as usize).collect();
    drop(stop_tx);
    for h in handles {
        h.join().unwrap();
    }
    all.sort_unstable();
    all
}

#[test]
fn crossing_selects_conserve_values_two_workers() {
    let all = Builder::new()
        .workers(2)
        .build()
        .unwrap()
        .block_on(|| crossing_selects(6, 300))
        .unwrap();
    assert_eq!(all, (0..2 * 6 * 300).collect::<Vec<u64>>());
}

#[test]
fn crossing_selects_conserve_values_many_seeds() {
    for seed in 0..24 {
        let all = det(seed, || crossing_selects(3, 40));
        assert_eq!(all, (0..2 * 3 * 40).collect::<Vec<u64>>(), "seed {seed}");
    }
}

/// A *blocking* select with two arms on the same channel: the value a sender hands over goes to
/// either arm, at random (Go permutes the cases; goro used to always wake the first arm).
#[test]
fn a_blocking_select_picks_among_arms_on_one_channel_at_random() {
    let wins = common::det(11, || {
        let mut wins = [0u32; 2];
        for i in 0..200u32 {
            let (tx, rx) = chan::bounded::<u32>(0);
            // Runs only once the select below has parked (one worker).
            goro::spawn(move || tx.send(i).unwrap());
            let arm = goro::select! {
                recv(rx) -> v => { assert_eq!(v, Ok(i)); 0 },
                recv(rx) -> v => { assert_eq!(v, Ok(i)); 1 },
            };
            wins[arm] += 1;
        }
        wins
    });
    assert!(wins[0] > 0 && wins[1] > 0, "always the same arm: {wins:?}");
}

/// An `Option` of an endpoint switches an arm off when it is `None` (Go's nil channel).
#[test]
fn a_none_endpoint_switches_its_arm_off() {
    common::det(12, || {
        let (tx, rx) = chan::bounded::<u32>(1);
        let off: Option<chan::Receiver<u32>> = None;
        tx.send(5).unwrap();
        // The `None` arm is never ready, even when its sibling is not either.
        for _ in 0..50 {
            let got = goro::select! {
                recv(off) => unreachable!("a None arm fired"),
                default => "idle",
            };
            assert_eq!(got, "idle");
        }
        let on = Some(&rx);
        let got = goro::select! {
            recv(off) => unreachable!("a None arm fired"),
            recv(on) -> v => v.unwrap(),
        };
        assert_eq!(got, 5);
        let no_tx: Option<chan::Sender<u32>> = None;
        let sent = goro::select! {
            send(no_tx, 1) => unreachable!("a None send arm fired"),
            send(Some(&tx), 2) -> r => r.is_ok(),
        };
        assert!(sent);
        assert_eq!(rx.recv(), Ok(2));
        // Every arm off and a timeout: only the timeout can fire.
        let got = goro::select! {
            recv(off) => "off",
            recv(goro::time::after(Duration::from_millis(5))) => "timeout",
        };
        assert_eq!(got, "timeout");
    });
}

/// `Select` waits on a list of channels whose length is known only at run time.
#[test]
fn a_dynamic_select_over_a_runtime_list() {
    use goro::select::{Select, Selected};
    common::det(13, || {
        let n = 3 + goro::num_goroutines() % 2 + 4; // not a constant
        let chans: Vec<_> = (0..n).map(|_| chan::bounded::<usize>(0)).collect();
        // Nothing ready: try_select is the default arm.
        let mut sel = Select::new();
        for (_, rx) in &chans {
            sel.recv(rx);
        }
        assert_eq!(sel.try_select(), None);
        // Blocking: the sender on channel 5 wakes it.
        let tx5 = chans[5].0.clone();
        goro::spawn(move || tx5.send(55).unwrap());
        let mut sel = Select::new();
        for (_, rx) in &chans {
            sel.recv(rx);
        }
        assert_eq!(sel.select(), Selected::Received(5, Ok(55)));
        // Sends and switched-off operations mix in.
        let (btx, brx) = chan::bounded::<usize>(1);
        let none: Option<&chan::Receiver<usize>> = None;
        let mut sel = Select::new();
        let off = sel.recv(&none);
        let send = sel.send(&btx, 9);
        let got = sel.select();
        assert_ne!(got.index(), off);
        assert_eq!(got, Selected::Sent(send, Ok(())));
        assert_eq!(brx.recv(), Ok(9));
    });
}
