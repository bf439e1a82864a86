//! What `harness::measure` must get right, checked without looking at any timing.

use lesson_01_threads_are_heavy::harness::measure;

const THREADS: usize = 32;
const STACK: usize = 256 * 1024;

#[test]
fn every_thread_is_alive_when_measured() {
    let cost = measure(THREADS, STACK).expect("spawning 32 small threads works");
    assert_eq!(
        cost.alive_at_measurement, THREADS,
        "memory was read while {} of {THREADS} threads were alive; a thread that has not \
         started or has already returned is not in the numbers",
        cost.alive_at_measurement
    );
}

#[test]
fn every_thread_finishes_before_measure_returns() {
    let cost = measure(THREADS, STACK).expect("spawning 32 small threads works");
    assert_eq!(
        cost.finished, THREADS,
        "measure returned while only {} of {THREADS} threads had finished: join them",
        cost.finished
    );
}
