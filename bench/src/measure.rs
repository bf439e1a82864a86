//! Small measuring tools shared by the goro and OS-thread workloads: resident memory (with page tables),
//! CPU pinning, and printing a result line.

use crate::json::Record;
use crate::spec::System;
use std::time::Duration;

/// What a child process was asked to run.
#[derive(Clone, Copy, Debug)]
pub struct Job {
    /// Which implementation.
    pub system: System,
    /// Problem size (meaning depends on the workload, see `spec`).
    pub n: u64,
    /// Worker threads for goro (and `GOMAXPROCS` for Go); `None` = the runtime's default.
    pub workers: Option<usize>,
    /// Whether this run is part of a `--workers` sweep (adds `"workers"` to the output).
    pub sweep: bool,
}

impl Job {
    /// Prints one result line on stdout, where the harness reads it.
    pub fn emit(&self, metric: &str, value: f64, unit: &str) {
        let record = Record {
            workload: metric.to_string(),
            system: self.system.name().to_string(),
            value,
            unit: unit.to_string(),
            workers: if self.sweep {
                self.workers.map(|w| w as u64)
            } else {
                None
            },
        };
        println!("{}", record.to_json());
    }
}

/// Nanoseconds per operation.
pub fn per_op_ns(elapsed: Duration, ops: u64) -> f64 {
    elapsed.as_nanos() as f64 / ops.max(1) as f64
}

/// Memory this process holds right now, in bytes: resident pages (`VmRSS`) plus the page
/// tables that map them (`VmPTE`), from `/proc/self/status`. Page tables count because a
/// million stacks spread over a large address range need many of them, and `VmRSS` alone
/// would hide that cost.
pub fn memory_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status")
        .expect("reading /proc/self/status (goro-bench needs Linux /proc)");
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|kb| kb.parse::<u64>().ok())
            .unwrap_or_else(|| panic!("/proc/self/status has no {name} line"))
            * 1024
    };
    field("VmRSS:") + field("VmPTE:")
}

/// Pins the calling OS thread to one CPU, so two threads that yield to each other really
/// share a core, as two goroutines on `GOMAXPROCS=1` do.
pub fn pin_current_thread_to(cpu: usize) {
    // SAFETY: cpu_set_t is a plain bit array; all-zero is a valid (empty) set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a valid cpu_set_t and `cpu` is below CPU_SETSIZE on any machine we run.
    unsafe { libc::CPU_SET(cpu, &mut set) };
    // SAFETY: pid 0 means the calling thread; `set` outlives the call and its size is passed.
    let rc = unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) };
    if rc != 0 {
        eprintln!(
            "goro-bench: could not pin a thread to CPU {cpu}: {} (the yield numbers for threads may be off)",
            std::io::Error::last_os_error()
        );
    }
}

/// The first CPU this process may run on (the one `yield` pins its threads to).
pub fn first_allowed_cpu() -> usize {
    // SAFETY: all-zero is a valid empty cpu_set_t.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: pid 0 = this thread; `set` is writable and its size is passed.
    let rc =
        unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) };
    if rc == 0 {
        let allowed = |c: usize| {
            // SAFETY: CPU_ISSET only reads the set, and `c` is below CPU_SETSIZE.
            unsafe { libc::CPU_ISSET(c, &set) }
        };
        if let Some(cpu) = (0..libc::CPU_SETSIZE as usize).find(|&c| allowed(c)) {
            return cpu;
        }
    }
    0
}

/// Stops the process with a message when a workload computed a wrong answer: a benchmark
/// that returns the wrong result measures nothing.
pub fn check(ok: bool, what: impl FnOnce() -> String) {
    if !ok {
        eprintln!("goro-bench: wrong result: {}", what());
        std::process::exit(3);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_grows_when_pages_are_touched() {
        let before = memory_bytes();
        let mut v = vec![0u8; 64 << 20];
        for i in (0..v.len()).step_by(4096) {
            v[i] = 1;
        }
        std::hint::black_box(&v);
        assert!(memory_bytes() >= before + (32 << 20));
    }

    #[test]
    fn per_op_divides() {
        assert_eq!(per_op_ns(Duration::from_micros(1), 10), 100.0);
        assert_eq!(per_op_ns(Duration::from_micros(1), 0), 1000.0);
    }
}
