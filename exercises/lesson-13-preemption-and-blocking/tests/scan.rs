//! The scan: same summaries, one buffer, and 1,000 tasks that keep running while a read blocks.

use lesson_13_preemption_and_blocking::{Disk, LocalDisk, Summary, scan_files, summarize};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, ThreadId};
use std::time::{Duration, Instant};

/// Three files in a fresh folder under the temporary directory, the largest first.
fn files(test: &str) -> (PathBuf, Vec<PathBuf>, Vec<Summary>) {
    let dir = std::env::temp_dir().join(format!("lesson13-{test}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a folder under $TMPDIR");
    let contents = [
        "alive\n".repeat(5_000),
        "a shorter file\nof two lines\n".to_string(),
        "no newline at the end".to_string(),
    ];
    let mut paths = Vec::new();
    let mut want = Vec::new();
    for (i, c) in contents.iter().enumerate() {
        let path = dir.join(format!("file-{i}.txt"));
        std::fs::write(&path, c).expect("writing a test file");
        paths.push(path);
        want.push(summarize(c.as_bytes()));
    }
    (dir, paths, want)
}

/// What the disk saw of one read.
#[derive(Debug)]
struct Read {
    thread: ThreadId,
    capacity: usize,
    progress_while_blocked: u64,
}

/// A disk whose every read blocks its thread until the other tasks have made `wait_for`
/// steps of progress (or 3 s have passed, to fail instead of hanging), then reads the file.
struct SlowDisk {
    progress: Arc<AtomicU64>,
    wait_for: u64,
    stalled: AtomicBool,
    reads: Mutex<Vec<Read>>,
}

impl Disk for SlowDisk {
    fn read_into(&self, path: &Path, buf: &mut Vec<u8>) -> io::Result<()> {
        let capacity = buf.capacity();
        let start = self.progress.load(Ordering::SeqCst);
        let give_up = Instant::now() + Duration::from_secs(3);
        while self.progress.load(Ordering::SeqCst) < start + self.wait_for {
            if self.stalled.load(Ordering::SeqCst) || Instant::now() > give_up {
                self.stalled.store(true, Ordering::SeqCst);
                break;
            }
            thread::sleep(Duration::from_micros(200));
        }
        let progress_while_blocked = self.progress.load(Ordering::SeqCst) - start;
        LocalDisk.read_into(path, buf)?;
        self.reads.lock().unwrap().push(Read {
            thread: thread::current().id(),
            capacity,
            progress_while_blocked,
        });
        Ok(())
    }
}

fn one_worker() -> goro::Runtime {
    goro::Runtime::builder()
        .workers(1)
        .build()
        .expect("a runtime with one worker")
}

#[test]
fn every_file_is_summarised_in_order() {
    let (dir, paths, want) = files("summaries");
    let got = one_worker()
        .block_on(move || scan_files(&(Arc::new(LocalDisk) as Arc<dyn Disk>), &paths))
        .expect("the scan panicked")
        .expect("the scan failed");
    let _ = std::fs::remove_dir_all(dir);
    assert_eq!(got, want);
}

#[test]
fn a_missing_file_is_an_error() {
    let (dir, mut paths, _) = files("missing");
    paths.insert(1, dir.join("not-there.txt"));
    let got = one_worker()
        .block_on(move || scan_files(&(Arc::new(LocalDisk) as Arc<dyn Disk>), &paths))
        .expect("the scan panicked");
    let _ = std::fs::remove_dir_all(dir);
    let err = got.expect_err("a file that does not exist must be an error");
    assert_eq!(err.kind(), io::ErrorKind::NotFound, "{err}");
}

#[test]
fn the_files_are_read_into_one_buffer() {
    let (dir, paths, want) = files("buffer");
    let disk = Arc::new(SlowDisk {
        progress: Arc::new(AtomicU64::new(0)),
        wait_for: 0,
        stalled: AtomicBool::new(false),
        reads: Mutex::new(Vec::new()),
    });
    let d: Arc<dyn Disk> = disk.clone();
    let got = one_worker()
        .block_on(move || scan_files(&d, &paths))
        .expect("the scan panicked")
        .expect("the scan failed");
    let _ = std::fs::remove_dir_all(dir);
    assert_eq!(got, want);
    let reads = disk.reads.lock().unwrap();
    for (i, r) in reads.iter().enumerate().skip(1) {
        assert!(
            r.capacity >= want[0].bytes,
            "read {i} got a buffer of capacity {} after the first file ({} bytes) was read: \
             pass the same buffer to every read, so that it is allocated once",
            r.capacity,
            want[0].bytes
        );
    }
}

/// How many tasks keep working while the files are read.
const OTHERS: usize = 1_000;

// ANCHOR: slow_read
#[test]
fn a_slow_read_does_not_stall_the_worker() {
    let (dir, paths, want) = files("slow");
    let progress = Arc::new(AtomicU64::new(0));
    // Each read returns only once the other tasks have taken 1,000 more steps.
    let disk = Arc::new(SlowDisk {
        progress: progress.clone(),
        wait_for: OTHERS as u64,
        stalled: AtomicBool::new(false),
        reads: Mutex::new(Vec::new()),
    });
    let d: Arc<dyn Disk> = disk.clone();
    let (worker, got) = one_worker()
        .block_on(move || {
            let done = Arc::new(AtomicBool::new(false));
            let others: Vec<_> = (0..OTHERS)
                .map(|_| {
                    let (done, progress) = (done.clone(), progress.clone());
                    goro::spawn(move || {
                        while !done.load(Ordering::SeqCst) {
                            progress.fetch_add(1, Ordering::SeqCst);
                            goro::yield_now();
                        }
                    })
                })
                .collect();

            let got = scan_files(&d, &paths);

            done.store(true, Ordering::SeqCst);
            for t in others {
                t.join().expect("a task that counts does not panic");
            }
            (thread::current().id(), got)
        })
        .expect("the scan panicked");
    let _ = std::fs::remove_dir_all(dir);

    let reads = disk.reads.lock().unwrap();
    assert!(
        !disk.stalled.load(Ordering::SeqCst),
        "a read waited 3 s for the other tasks to make progress, and they made none: the read \
         blocked the only worker's thread ({reads:?})"
    );
    assert_eq!(got.expect("the scan failed"), want);
    for r in reads.iter() {
        assert_ne!(r.thread, worker, "a read ran on the worker's own thread");
        assert!(
            r.progress_while_blocked >= OTHERS as u64,
            "the disk answered before the other tasks moved on: {r:?}"
        );
    }
}
// ANCHOR_END: slow_read
