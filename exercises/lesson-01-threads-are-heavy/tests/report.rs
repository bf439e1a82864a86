//! A snapshot of the stable half of the report. This test is alone in its binary on purpose:
//! the C library keeps the stacks of finished threads for reuse, so an earlier measurement in
//! the same process would make the next one look cheaper than a fresh start.

use lesson_01_threads_are_heavy::harness::measure;

#[test]
fn report_summary() {
    let cost = measure(64, 1024 * 1024).expect("spawning 64 threads with 1 MiB stacks works");
    // Only counts and yes/no answers go into the snapshot: byte counts and times differ from
    // machine to machine and run to run.
    insta::assert_snapshot!(cost.summary());
}
