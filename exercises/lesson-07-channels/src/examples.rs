//! Small Go programs, written with your channel. Given: they work once `channel.rs` does.

use crate::channel::{Receiver, channel};

// ANCHOR: ping_pong
/// Two tasks bat a counter back and forth over two rendezvous channels, `rounds` times.
/// Returns the trace of who hit what.
pub fn ping_pong(rounds: u32) -> Vec<String> {
    let (to_pong, from_ping) = channel::<u32>(0);
    let (to_ping, from_pong) = channel::<u32>(0);
    let pong = goro::spawn(move || {
        let mut trace = Vec::new();
        for ball in from_ping {
            trace.push(format!("pong got {ball}"));
            if to_ping.send(ball + 1).is_err() {
                break;
            }
        }
        trace
    });
    let mut trace = Vec::new();
    let mut ball = 0;
    for _ in 0..rounds {
        let reply = match to_pong.send(ball) {
            Ok(()) => from_pong.recv(),
            Err(_) => None,
        };
        match reply {
            Some(b) => ball = b,
            None => {
                trace.push("ping: pong hung up".to_string());
                break;
            }
        }
        trace.push(format!("ping got {ball}"));
    }
    drop(to_pong); // close: pong's `for` loop ends
    let pong_trace = pong.join().expect("pong panicked");
    trace.extend(pong_trace);
    trace
}
// ANCHOR_END: ping_pong

// ANCHOR: pipeline
/// A three-stage pipeline: generate 1..=n, square each in its own stage, sum at the end.
/// Each stage closes its output (by dropping the sender) when its input runs dry.
pub fn sum_of_squares(n: u64) -> u64 {
    let (numbers_tx, numbers) = channel(0);
    let (squares_tx, squares) = channel(2);
    goro::spawn(move || {
        for i in 1..=n {
            numbers_tx.send(i).expect("squarer hung up");
        }
    }); // numbers_tx dropped: `numbers` closes
    goro::spawn(move || square_all(numbers, &squares_tx));
    squares.into_iter().sum()
}

fn square_all(input: Receiver<u64>, output: &crate::Sender<u64>) {
    for x in input {
        output.send(x * x).expect("summer hung up");
    }
}
// ANCHOR_END: pipeline
