//! A worker pool with backpressure: a fixed number of tasks drain a bounded job queue
//! (lesson 11; the route manager of the seeds). Run: `cargo run -p goro --example worker_pool`
//!
//! Go twin:
//! ```go
//! jobs, results := make(chan int, 8), make(chan string, 8)
//! var wg sync.WaitGroup
//! for w := 1; w <= 4; w++ {
//!     wg.Add(1)
//!     go func() { defer wg.Done(); for j := range jobs { results <- work(w, j) } }()
//! }
//! go func() { wg.Wait(); close(results) }()
//! go func() {
//!     for j := 1; j <= 20; j++ {
//!         select { case jobs <- j: default: full++; jobs <- j }
//!     }
//!     close(jobs)
//! }()
//! for r := range results { fmt.Println(r) }
//! ```
//! In goro `results` closes by itself when the last worker drops its `Sender`, so the
//! `wg.Wait(); close(results)` task is not needed; the WaitGroup here only waits for exits.

use goro::chan;
use goro::sync::WaitGroup;
use std::time::Duration;

fn work(worker: usize, job: u32) -> String {
    goro::sleep(Duration::from_millis(5)); // pretend to call a slow service
    format!("worker {worker} did job {job:2} -> {}", job * job)
}

fn main() {
    goro::run(|| {
        let (jobs_tx, jobs) = chan::bounded::<u32>(8); // the queue; full = backpressure
        let (results_tx, results) = chan::bounded::<String>(8);
        let wg = WaitGroup::new();
        for worker in 1..=4 {
            let (jobs, results_tx) = (jobs.clone(), results_tx.clone());
            wg.go(move || {
                for job in jobs {
                    results_tx.send(work(worker, job)).unwrap();
                }
            });
        }
        drop(results_tx);

        goro::spawn(move || {
            let mut full = 0;
            for job in 1..=20 {
                // Try without waiting first: a real server would answer "busy" here.
                if let Err(e) = jobs_tx.try_send(job) {
                    full += 1;
                    jobs_tx.send(e.into_inner()).unwrap();
                }
            }
            println!("the queue was full for {full} of 20 submissions");
        }); // dropping jobs_tx closes the queue: workers' loops end

        let done = results.iter().inspect(|line| println!("{line}")).count();
        wg.wait();
        println!(
            "{done} jobs done by 4 workers; {} tasks left",
            goro::num_goroutines()
        );
    });
}
