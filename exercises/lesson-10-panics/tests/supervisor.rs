//! The supervisor, observed under goro's deterministic mode: the same seed gives the same
//! interleaving, so a report can be a snapshot. goro prints every panic (with a backtrace when
//! RUST_BACKTRACE is set) on stderr as it happens; the tests look only at the `Report`.

use std::collections::BTreeSet;

use goro::chan;
use lesson_10_panics::{
    Fate, Policy, Report, RouteTable, Update, handler, run_deterministic, supervise,
};

const NAME: &str = "routes";
const FLAKY_HOP: &str = "192.168.0.99";

/// What one supervised run left behind.
struct Run {
    seed: u64,
    report: Report,
    /// Updates the producer managed to put into the inbox, of `total`.
    delivered: usize,
    total: usize,
    /// Tasks alive after `supervise` returned that were not alive before it was called.
    leaked: usize,
}

/// Feeds `updates` into a small inbox from a producer task and supervises the workers.
fn run_routes(seed: u64, policy: Policy, updates: Vec<Update>, table: &RouteTable) -> Run {
    let table = table.clone();
    let total = updates.len();
    let (report, delivered, leaked) = run_deterministic(seed, move || {
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
        let apply = handler(move |update| table.apply(update));
        let report = supervise(NAME, policy, inbox, apply);
        let delivered = producer.join().expect("the producer does not panic");
        (report, delivered, goro::num_goroutines().saturating_sub(before))
    });
    Run {
        seed,
        report,
        delivered,
        total,
        leaked,
    }
}

fn route(id: u32, next_hop: &str) -> Update {
    Update::new(id, &format!("10.0.{id}.0/24"), next_hop)
}

fn poison(id: u32, prefix: &str) -> Update {
    Update::new(id, prefix, "192.168.0.1")
}

/// Checks the report against the table: every update in exactly one outcome, each applied
/// once or never, and every crash naming the task that really panicked.
fn check_accounts(run: &Run, ids: &[u32], table: &RouteTable) {
    let (seed, report) = (run.seed, &run.report);
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
        run.leaked, 0,
        "seed {seed}: {} worker task(s) still alive after supervise returned; join them",
        run.leaked
    );
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
    assert_eq!(
        table.applied(2),
        1,
        "update 2 must be applied by the retry"
    );
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
