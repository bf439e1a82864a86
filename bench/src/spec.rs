//! The benchmark catalogue: every workload, how big it is on each system, what it reports,
//! and the bar goro has to clear (DESIGN.md, "Performance").
//!
//! Sizes live here and nowhere else: the harness passes them to the child processes
//! (`goro-bench run ...` and the Go twin), so goro, Go and the OS threads always run the
//! same amount of work, and `--quick` shrinks all of them together.

use std::fmt;

/// Which implementation of a workload runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, clap::ValueEnum)]
pub enum System {
    /// goro tasks.
    Goro,
    /// the Go twins in bench/go/ (needs `go` on PATH).
    Go,
    /// std::thread and std::sync::mpsc.
    Threads,
    /// tokio's multi-thread runtime (work stealing, stackless tasks).
    TokioMt,
    /// tokio's current-thread runtime (all tasks on one thread).
    TokioCt,
    /// may's stackful coroutines, default configuration.
    May,
}

impl System {
    /// All systems in the order the table shows them.
    pub const ALL: [System; 6] = [
        System::Goro,
        System::Go,
        System::TokioMt,
        System::TokioCt,
        System::May,
        System::Threads,
    ];

    /// The name used on the command line and in JSON.
    pub fn name(self) -> &'static str {
        match self {
            System::Goro => "goro",
            System::Go => "go",
            System::Threads => "threads",
            System::TokioMt => "tokio-mt",
            System::TokioCt => "tokio-ct",
            System::May => "may",
        }
    }

    /// Finds a system by its JSON name.
    pub fn from_name(name: &str) -> Option<System> {
        System::ALL.into_iter().find(|s| s.name() == name)
    }

    /// A peer: a runtime other than goro and Go that the suite compares with. A peer that
    /// cannot run a workload (may past ~32,700 coroutines) is a result, not an error.
    pub fn is_peer(self) -> bool {
        matches!(self, System::TokioMt | System::TokioCt | System::May)
    }

    /// Whether a worker count means something to this system (the `--workers` sweep).
    pub fn takes_workers(self) -> bool {
        matches!(
            self,
            System::Goro | System::Go | System::TokioMt | System::May
        )
    }
}

impl fmt::Display for System {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a metric has to reach for goro to pass.
#[derive(Clone, Copy, Debug)]
pub enum Target {
    /// Informational only.
    None,
    /// goro's value must be at most this many times Go's (lower is better).
    RatioToGo(f64),
    /// goro's value must be at most this absolute number (in the metric's unit).
    AtMost(f64),
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::None => f.write_str("-"),
            Target::RatioToGo(r) => write!(f, "<= {r} x Go"),
            Target::AtMost(v) => write!(f, "<= {v}"),
        }
    }
}

/// One number a workload reports. Its `name` is the `"workload"` field of the JSON line.
#[derive(Clone, Copy, Debug)]
pub struct Metric {
    /// JSON `"workload"` value, e.g. `"park-memory"`.
    pub name: &'static str,
    /// JSON `"unit"` value, e.g. `"B/task"`.
    pub unit: &'static str,
    /// The bar for goro.
    pub target: Target,
}

/// Problem sizes for one workload: (full run, `--quick` run) per system; `None` where a system
/// does not take part (a million OS threads do not fit in this machine's `pid_max`).
#[derive(Clone, Copy, Debug)]
pub struct Sizes {
    /// goro, Go, tokio and may run the same size.
    pub tasks: (u64, u64),
    /// OS threads run a smaller size where the full one would take minutes or not fit.
    pub threads: Option<(u64, u64)>,
}

/// A workload of the suite.
#[derive(Clone, Copy, Debug)]
pub struct Workload {
    /// Name on the command line (`--only NAME`, `goro-bench run NAME`).
    pub name: &'static str,
    /// One line for `--help` and the page: what runs and what `n` means.
    pub about: &'static str,
    /// How big.
    pub sizes: Sizes,
    /// Worker count forced for every system (`yield` runs on one worker), if any.
    pub fixed_workers: Option<usize>,
    /// What it reports.
    pub metrics: &'static [Metric],
    /// Whether the `--workers` sweep runs it.
    pub in_sweep: bool,
    /// Systems that have no version of it, besides threads' missing sizes (see each entry).
    pub skip: &'static [System],
}

impl Workload {
    /// Problem size `n` for `system`, or `None` if the system does not run this workload.
    pub fn size(&self, system: System, quick: bool) -> Option<u64> {
        let pick = |(full, q): (u64, u64)| if quick { q } else { full };
        if self.skip.contains(&system) {
            return None;
        }
        match system {
            System::Goro | System::Go | System::TokioMt | System::TokioCt | System::May => {
                Some(pick(self.sizes.tasks))
            }
            System::Threads => self.sizes.threads.map(pick),
        }
    }
}

/// Every workload, in the order the table lists them.
pub const WORKLOADS: &[Workload] = &[
    Workload {
        name: "spawn",
        about: "spawn n tasks that each add their number to a shared sum, then wait for all of them",
        sizes: Sizes {
            tasks: (1_000_000, 200_000),
            threads: Some((20_000, 5_000)),
        },
        fixed_workers: None,
        metrics: &[Metric {
            name: "spawn",
            unit: "ns/task",
            target: Target::RatioToGo(0.3),
        }],
        in_sweep: true,
        skip: &[],
    },
    Workload {
        name: "spawn-plain",
        about: "Go's plain shape: spawn n tasks that only mark a wait group done, then wait",
        sizes: Sizes {
            tasks: (1_000_000, 200_000),
            threads: None,
        },
        fixed_workers: None,
        metrics: &[Metric {
            name: "spawn-plain",
            unit: "ns/task",
            target: Target::RatioToGo(0.3),
        }],
        in_sweep: true,
        skip: &[],
    },
    Workload {
        name: "yield",
        about: "two tasks on one worker (one CPU) yield to each other n times each",
        sizes: Sizes {
            tasks: (5_000_000, 1_000_000),
            threads: Some((500_000, 100_000)),
        },
        fixed_workers: Some(1),
        metrics: &[Metric {
            name: "yield",
            unit: "ns/yield",
            target: Target::RatioToGo(0.25),
        }],
        in_sweep: false,
        skip: &[],
    },
    Workload {
        name: "pingpong",
        about: "two tasks bounce a value over two rendezvous channels n times",
        sizes: Sizes {
            tasks: (1_000_000, 200_000),
            threads: Some((100_000, 20_000)),
        },
        fixed_workers: None,
        metrics: &[Metric {
            name: "pingpong",
            unit: "ns/round-trip",
            target: Target::RatioToGo(0.25),
        }],
        in_sweep: false,
        skip: &[],
    },
    Workload {
        name: "thread-ring",
        about: "503 tasks in a ring of rendezvous channels pass a token n hops",
        sizes: Sizes {
            tasks: (10_000_000, 1_000_000),
            threads: Some((200_000, 50_000)),
        },
        fixed_workers: None,
        metrics: &[Metric {
            name: "thread-ring",
            unit: "ns/hop",
            target: Target::RatioToGo(0.35),
        }],
        in_sweep: false,
        skip: &[],
    },
    Workload {
        name: "skynet",
        about: "a tree of tasks, 10 children each, n leaves; each node sums its children",
        sizes: Sizes {
            tasks: (1_000_000, 100_000),
            threads: None,
        },
        fixed_workers: None,
        metrics: &[Metric {
            name: "skynet",
            unit: "ms",
            target: Target::RatioToGo(0.4),
        }],
        in_sweep: true,
        skip: &[],
    },
    Workload {
        name: "park",
        about: "launch n tasks that each park until released: launch time and memory per parked task",
        sizes: Sizes {
            tasks: (1_000_000, 100_000),
            threads: Some((10_000, 2_000)),
        },
        fixed_workers: None,
        metrics: &[
            Metric {
                name: "park-launch",
                unit: "ns/task",
                target: Target::RatioToGo(1.0),
            },
            Metric {
                name: "park-memory",
                unit: "B/task",
                target: Target::AtMost(4600.0),
            },
        ],
        in_sweep: false,
        skip: &[],
    },
    Workload {
        name: "select",
        about: "one task selects over two channels fed by two senders, n messages in all",
        sizes: Sizes {
            tasks: (1_000_000, 200_000),
            threads: None,
        },
        fixed_workers: None,
        metrics: &[Metric {
            name: "select",
            unit: "ns/op",
            target: Target::None,
        }],
        in_sweep: false,
        // may's `select!` (a coroutine per arm, per select) stopped making progress after a
        // few hundred selects over two channels here: it never finished 2,000 messages.
        skip: &[System::May],
    },
    Workload {
        name: "echo-latency",
        about: "a loopback TCP echo server and one client connection in one process: n round trips of 64 B, one at a time",
        sizes: Sizes {
            tasks: (50_000, 10_000),
            threads: Some((50_000, 10_000)),
        },
        fixed_workers: None,
        metrics: &[Metric {
            name: "echo-latency",
            unit: "ns/round-trip",
            target: Target::RatioToGo(1.0),
        }],
        in_sweep: false,
        skip: &[],
    },
    Workload {
        name: "echo-throughput",
        about: "the echo server with 1,000 client connections at once, n round trips of 64 B in all (time per round trip = 1 / throughput)",
        sizes: Sizes {
            tasks: (200_000, 50_000),
            threads: Some((200_000, 50_000)),
        },
        fixed_workers: None,
        metrics: &[Metric {
            name: "echo-throughput",
            unit: "ns/round-trip",
            target: Target::RatioToGo(1.0),
        }],
        in_sweep: false,
        skip: &[],
    },
    Workload {
        name: "trace",
        about: "the cost of goro's execution trace: pingpong on one worker, untraced then traced (Builder::trace); (time traced - time untraced) / events recorded",
        sizes: Sizes {
            tasks: (500_000, 100_000),
            threads: None,
        },
        fixed_workers: Some(1),
        metrics: &[Metric {
            name: "trace",
            unit: "ns/event",
            target: Target::AtMost(50.0),
        }],
        in_sweep: false,
        // goro's own trace: no other system has it.
        skip: &[
            System::Go,
            System::TokioMt,
            System::TokioCt,
            System::May,
            System::Threads,
        ],
    },
];

/// Suffix of the extra metric the harness records for every child process.
pub const PEAK_RSS_SUFFIX: &str = "peak-rss";

/// Unit of the peak-RSS metric.
pub const PEAK_RSS_UNIT: &str = "MiB";

/// Suffix of the CPU-time metric the harness records for every child process: user plus
/// system time of the whole process. On a shared machine it is steadier than wall time.
pub const CPU_SUFFIX: &str = "cpu";

/// Unit of the CPU-time metric.
pub const CPU_UNIT: &str = "ms";

/// The bar for skynet's peak RSS: at most Go's.
pub const SKYNET_RSS_RATIO: f64 = 1.0;

/// Finds a workload by its command-line name.
pub fn find(name: &str) -> Option<&'static Workload> {
    WORKLOADS.iter().find(|w| w.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_findable() {
        for w in WORKLOADS {
            assert_eq!(find(w.name).map(|f| f.name), Some(w.name));
            assert_eq!(WORKLOADS.iter().filter(|x| x.name == w.name).count(), 1);
        }
        assert!(find("nope").is_none());
    }

    #[test]
    fn system_names_round_trip_and_match_the_command_line() {
        use clap::ValueEnum;
        for s in System::ALL {
            assert_eq!(System::from_name(s.name()), Some(s));
            let arg = s.to_possible_value().unwrap();
            assert_eq!(arg.get_name(), s.name());
        }
        assert_eq!(System::from_name("java"), None);
    }

    #[test]
    fn quick_is_never_bigger_than_full() {
        for w in WORKLOADS {
            for sys in System::ALL {
                if let (Some(full), Some(quick)) = (w.size(sys, false), w.size(sys, true)) {
                    assert!(quick <= full, "{} on {sys}", w.name);
                }
            }
        }
    }

    #[test]
    fn skynet_sizes_are_powers_of_ten() {
        let w = find("skynet").unwrap();
        for quick in [false, true] {
            let mut n = w.size(System::Goro, quick).unwrap();
            while n.is_multiple_of(10) {
                n /= 10;
            }
            assert_eq!(n, 1);
        }
    }
}
