//! The supervisor, observed under goro's deterministic mode: the same seed gives the same
//! interleaving, so a report can be a snapshot. goro prints every panic (with a backtrace when
//! RUST_BACKTRACE is set) on stderr as it happens; the tests look only at the `Report`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use goro::chan;
use lesson_10_panics::{
    Fate, Handler, Policy, Report, RouteTable, Update, handler, run_deterministic, supervise,
    worker_name,
};

const NAME: &str = "routes";
const FLAKY_HOP: &str = "192.168.0.99";

/// What one supervised run left behind.
struct Run {
    seed: u64,
    policy: Policy,
    report: Report,
    /// Updates the producer managed to put into the inbox, of `total`.
    delivered: usize,
    total: usize,
    /// Tasks alive after `supervise` returned that were not alive before it was called.
    leaked: usize,
    /// Copies of the handler still held (by worker tasks) when `supervise` returned.
    held: usize,
}

/// Feeds `updates` into a small inbox from a producer task and supervises the workers, which
/// apply them to `table`.
fn run_routes(seed: u64, policy: Policy, updates: Vec<Update>, table: &RouteTable) -> Run {
    let table = table.clone();
    run_with(seed, policy, updates, move || {
        handler(move |update| table.apply(update))
    })
}

/// Feeds `updates` into a small inbox from a producer task and supervises the workers, which
/// run the handler that `make` returns (made inside the runtime).
fn run_with<M>(seed: u64, policy: Policy, updates: Vec<Update>, make: M) -> Run
where
    M: FnOnce() -> Handler + Send + 'static,
{
    let total = updates.len();
    let (report, delivered, leaked, held) = run_deterministic(seed, move || {
        let before = goro::num_goroutines();
        let (tx, inbox) = chan::bounded(2);
        let producer = goro::spawn(move || {
            let mut delivered = 0;
            for update in updates {
                if tx.send(update).is_err() {
                    break;
                }
                delivered += 1;
            }
            delivered
        });
        let apply = make();
        let probe = apply.clone();
        let report = supervise(NAME, policy, inbox, apply);
        let held = probe.copies() - 1;
        let leaked = goro::num_goroutines().saturating_sub(before);
        let delivered = producer.join().expect("the producer does not panic");
        (report, delivered, leaked, held)
    });
    Run {
        seed,
        policy,
        report,
        delivered,
        total,
        leaked,
        held,
    }
}

fn route(id: u32, next_hop: &str) -> Update {
    Update::new(id, &format!("10.0.{id}.0/24"), next_hop)
}

fn poison(id: u32, prefix: &str) -> Update {
    Update::new(id, prefix, "192.168.0.1")
}

/// Checks the report against the table: every update in exactly one outcome, each applied
/// once or never, every crash naming the task that really panicked, restarts and fates by the
/// policy, and every worker joined.
fn check_accounts(run: &Run, ids: &[u32], table: &RouteTable) {
    let (seed, report) = (run.seed, &run.report);
    check_fates(run);
    check_names(run);
    let mut seen = Vec::new();
    seen.extend_from_slice(report.done_ids());
    seen.extend(report.given_up_ids());
    seen.extend(report.unprocessed_ids());
    seen.sort_unstable();
    assert_eq!(
        seen, ids,
        "seed {seed}: every update must end up exactly once in done, given up or unprocessed\n\
         report:\n{report}"
    );
    for &id in ids {
        let applied = table.applied(id);
        let done = report.done_ids().contains(&id);
        assert_eq!(
            applied,
            u32::from(done),
            "seed {seed}: update {id} was applied {applied} time(s) but the report says it \
             was {}done\nreport:\n{report}",
            if done { "" } else { "not " }
        );
    }
    for crash in report.crashes() {
        let attempts = table.attempts(crash.update);
        let n = crash.attempt as usize;
        assert_eq!(
            attempts.get(n - 1),
            Some(&crash.task),
            "seed {seed}: the report says {} panicked on attempt {n} at update {}, but the \
             attempts were made by {attempts:?}; name the task that panicked and count its \
             attempts (1 for a fresh update)",
            crash.task,
            crash.update
        );
        if crash.fate == Fate::Retried {
            assert_eq!(
                attempts.get(n),
                crash.restarted_as.as_ref(),
                "seed {seed}: update {} was to be retried by the replacement {:?}, but the \
                 attempts were made by {attempts:?}",
                crash.update,
                crash.restarted_as
            );
        }
    }
    let panics: usize = ids
        .iter()
        .map(|&id| table.attempts(id).len() - table.applied(id) as usize)
        .sum();
    assert_eq!(
        report.crashes().len(),
        panics,
        "seed {seed}: the handler panicked {panics} times; each panic is one crash in the \
         report\nreport:\n{report}"
    );
    assert_eq!(
        run.delivered, run.total,
        "seed {seed}: the supervisor returned before it had read the whole inbox (the producer \
         could deliver only {} of {} updates); when no worker is left, report what is still in \
         the inbox with `report.unprocessed(id)`",
        run.delivered, run.total
    );
    assert_eq!(
        (run.leaked, run.held),
        (0, 0),
        "seed {seed}: {} task(s) still alive and {} copy(ies) of the handler still held by \
         worker tasks after supervise returned: a worker that has sent its last message may \
         not have finished yet; the supervisor joins every worker (its JoinHandle) before it \
         returns",
        run.leaked,
        run.held
    );
}

/// Each crash's restart and fate follow the policy: a replacement while the budget lasts; the
/// update given up at `max_attempts` (restarted or not), else retried by the replacement, else
/// unprocessed.
fn check_fates(run: &Run) {
    let (seed, policy, report) = (run.seed, run.policy, &run.report);
    let restarted = report
        .crashes()
        .iter()
        .filter(|c| c.restarted_as.is_some())
        .count();
    assert_eq!(
        restarted,
        report.crashes().len().min(policy.max_restarts),
        "seed {seed}: {} panics with max_restarts {}: each panic gets a replacement worker \
         until the budget is spent, and none after\nreport:\n{report}",
        report.crashes().len(),
        policy.max_restarts
    );
    for c in report.crashes() {
        let expected = if c.attempt >= policy.max_attempts {
            Fate::GivenUp
        } else if c.restarted_as.is_some() {
            Fate::Retried
        } else {
            Fate::Unprocessed
        };
        assert_eq!(
            c.fate,
            expected,
            "seed {seed}: {} panicked on update {} at attempt {} of max_attempts {} and was {}: \
             its fate is {expected:?} (GivenUp once an update has had max_attempts, whether or \
             not a restart is left; otherwise Retried by the replacement, or Unprocessed if \
             there is none)\nreport:\n{report}",
            c.task,
            c.update,
            c.attempt,
            policy.max_attempts,
            if c.restarted_as.is_some() {
                "restarted"
            } else {
                "not restarted"
            }
        );
    }
}

/// The slot of a worker task named `routes/w2` or `routes/w2#3`.
fn slot_of(task: &str) -> usize {
    let rest = task.strip_prefix(&format!("{NAME}/w")).unwrap_or_else(|| {
        panic!("task {task:?} is not a worker name: workers are named with worker_name()")
    });
    let slot = rest.split('#').next().unwrap_or_default();
    slot.parse()
        .unwrap_or_else(|_| panic!("task {task:?} does not name its slot (worker_name())"))
}

/// Restarts are counted per slot: slot 2's workers are `routes/w2`, `routes/w2#1`,
/// `routes/w2#2`, ..., whatever the other slots did.
fn check_names(run: &Run) {
    let (seed, report) = (run.seed, &run.report);
    let mut by_slot: BTreeMap<usize, Vec<_>> = BTreeMap::new();
    for c in report.crashes() {
        by_slot.entry(slot_of(&c.task)).or_default().push(c);
    }
    for (slot, crashes) in by_slot {
        for (n, c) in crashes.iter().enumerate() {
            assert_eq!(
                (&c.task, c.restarted_as.as_ref()),
                (
                    &worker_name(NAME, slot, n),
                    c.restarted_as
                        .as_ref()
                        .and(Some(&worker_name(NAME, slot, n + 1)))
                ),
                "seed {seed}: slot {slot}'s crash number {} should be its worker restarted {n} \
                 time(s), replaced by worker_name({NAME:?}, {slot}, {}): restarts are counted \
                 per slot, not over all workers\nreport:\n{report}",
                n + 1,
                n + 1
            );
        }
    }
}

/// Eight updates, one worker: update 3's next hop fails its first lookup, update 5's prefix
/// is malformed and panics every time.
fn first_night() -> (Vec<Update>, RouteTable) {
    let mut updates: Vec<Update> = (1..=8).map(|id| route(id, "192.168.0.1")).collect();
    updates[2] = route(3, FLAKY_HOP);
    updates[4] = poison(5, "10.0.5.0/33");
    (updates, RouteTable::new().with_flaky_next_hop(FLAKY_HOP))
}

#[test]
fn every_panic_is_reported_with_its_task() {
    let (updates, table) = first_night();
    let policy = Policy {
        workers: 1,
        max_restarts: 3,
        max_attempts: 2,
    };
    let run = run_routes(0, policy, updates, &table);
    let report = &run.report;
    insta::assert_snapshot!(report.to_string());
    check_accounts(&run, &(1..=8).collect::<Vec<_>>(), &table);

    // A payload can be any value (`std::panic::panic_any`): with no text to show, the report
    // says `Box<dyn Any>`, as Rust's own panic message does.
    #[derive(Debug)]
    struct NeighbourDown {
        _hop: &'static str,
    }
    let tripped = Arc::new(AtomicBool::new(false));
    let updates = vec![
        route(1, "192.168.0.1"),
        route(2, FLAKY_HOP),
        route(3, "192.168.0.1"),
    ];
    let run = run_with(0, policy, updates, move || {
        handler(move |update| {
            if update.next_hop == FLAKY_HOP && !tripped.swap(true, Ordering::SeqCst) {
                std::panic::panic_any(NeighbourDown { _hop: FLAKY_HOP });
            }
        })
    });
    let report = &run.report;
    let crashes: Vec<_> = report
        .crashes()
        .iter()
        .map(|c| (c.task.as_str(), c.update, c.message.as_str(), c.fate))
        .collect();
    assert_eq!(
        crashes,
        [("routes/w1", 2, "Box<dyn Any>", Fate::Retried)],
        "update 2's handler panics once with a payload that is not text \
         (panic_any(NeighbourDown {{ .. }})): report it with the message \"Box<dyn Any>\" and \
         retry it\nreport:\n{report}"
    );
    assert_eq!(report.done_ids().len(), 3, "report:\n{report}");
}

#[test]
fn the_update_in_flight_is_retried_not_lost() {
    let updates = vec![
        route(1, "192.168.0.1"),
        route(2, FLAKY_HOP),
        route(3, "192.168.0.1"),
    ];
    let table = RouteTable::new().with_flaky_next_hop(FLAKY_HOP);
    let policy = Policy {
        workers: 1,
        max_restarts: 1,
        max_attempts: 2,
    };
    let run = run_routes(0, policy, updates, &table);
    let report = &run.report;
    assert_eq!(
        table.attempts(2),
        ["routes/w1", "routes/w1#1"],
        "update 2 panics on its first attempt (by routes/w1); the worker started in its place, \
         named worker_name(\"routes\", 1, 1), must try it again before anything else\n\
         report:\n{report}"
    );
    assert_eq!(table.applied(2), 1, "update 2 must be applied by the retry");
    check_accounts(&run, &[1, 2, 3], &table);
}

#[test]
fn every_update_is_accounted_for_exactly_once() {
    let ids: Vec<u32> = (1..=12).collect();
    for seed in 0..8 {
        let mut updates: Vec<Update> = ids.iter().map(|&id| route(id, "192.168.0.1")).collect();
        for id in [2, 7, 11] {
            updates[id as usize - 1] = route(id, FLAKY_HOP);
        }
        updates[4] = poison(5, "10.0.5.0/40");
        updates[8] = poison(9, "10.0.9.0");
        let table = RouteTable::new().with_flaky_next_hop(FLAKY_HOP);
        let policy = Policy {
            workers: 3,
            max_restarts: 10,
            max_attempts: 2,
        };
        let run = run_routes(seed, policy, updates, &table);
        let report = &run.report;
        check_accounts(&run, &ids, &table);
        assert_eq!(
            report.given_up_ids().into_iter().collect::<BTreeSet<_>>(),
            BTreeSet::from([5, 9]),
            "seed {seed}: updates 5 and 9 panic every time: with max_attempts 2 they are given \
             up after two attempts\nreport:\n{report}"
        );
        let names: BTreeSet<_> = report
            .crashes()
            .iter()
            .filter_map(|c| c.restarted_as.clone())
            .collect();
        assert_eq!(
            names.len(),
            report.crashes().len(),
            "seed {seed}: with restarts to spare, every panicked worker is replaced by a task \
             of its own name\nreport:\n{report}"
        );
    }
}

#[test]
fn the_spent_restart_budget_is_reported() {
    let updates: Vec<Update> = (1..=6)
        .map(|id| match id {
            2 => poison(2, "10.0.2.0/99"),
            _ => route(id, "192.168.0.1"),
        })
        .collect();
    let table = RouteTable::new();
    let policy = Policy {
        workers: 1,
        max_restarts: 1,
        max_attempts: 3,
    };
    let run = run_routes(0, policy, updates.clone(), &table);
    let report = &run.report;
    insta::assert_snapshot!(report.to_string());
    check_accounts(&run, &[1, 2, 3, 4, 5, 6], &table);

    // The same, but the second attempt is the last: update 2 is given up, restart or not.
    let table = RouteTable::new();
    let policy = Policy {
        workers: 1,
        max_restarts: 1,
        max_attempts: 2,
    };
    let run = run_routes(0, policy, updates.clone(), &table);
    let report = &run.report;
    check_accounts(&run, &[1, 2, 3, 4, 5, 6], &table);
    insta::assert_snapshot!("given_up_with_the_budget_spent", report.to_string());

    // Two workers, each update poisoned: the budget runs out while a worker may still be busy.
    for seed in 0..4 {
        let updates: Vec<Update> = (1..=6)
            .map(|id| poison(id, &format!("10.0.{id}.0/{}", 32 + id)))
            .collect();
        let table = RouteTable::new();
        let policy = Policy {
            workers: 2,
            max_restarts: 2,
            max_attempts: 2,
        };
        let run = run_routes(seed, policy, updates, &table);
        let report = &run.report;
        check_accounts(&run, &[1, 2, 3, 4, 5, 6], &table);
        assert_eq!(
            report.crashes().len(),
            4,
            "seed {seed}: two workers and two restarts make four panics before nobody is left\n\
             report:\n{report}"
        );
    }
}
