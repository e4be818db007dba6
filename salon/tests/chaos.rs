//! Reliability under failure, short versions of `salon bench chaos` (issue 8): a booking load on
//! the real binary while it is killed with SIGKILL (SQLite and PostgreSQL) or cut off from
//! PostgreSQL for a few seconds. Every acknowledged booking is present afterwards in the log, the
//! read model and the read API; no idempotency key booked twice; no slot is double-booked.

use salon::bench::StoreKind;
use salon::bench_chaos::{self, Options, Report, Scenario};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_salon");

fn short() -> Options {
    let mut options = Options::new(BIN);
    options.kills = 3;
    options.outage = Duration::from_secs(5);
    options.clients = 4;
    options.settle = Duration::from_secs(1);
    options.max_gap = Duration::from_millis(800);
    options
}

async fn run(store: StoreKind, scenario: Scenario) -> Report {
    let report = bench_chaos::run_one(store, scenario, &short())
        .await
        .expect("the chaos run went through");
    bench_chaos::print_header();
    bench_chaos::print_row(&report);
    report
}

fn assert_nothing_lost(r: &Report, faults: usize) {
    assert!(r.acknowledged > 0, "nothing was booked: {r:?}");
    assert_eq!(r.recoveries.len(), faults, "every fault recovered from");
    // The faults hit the load: requests failed and were sent again with their key.
    assert!(r.retried > 0, "no request needed a retry: {r:?}");
    assert!(
        r.lost.is_empty(),
        "{} acknowledged bookings lost, e.g. {:?}",
        r.lost.len(),
        &r.lost[..r.lost.len().min(5)]
    );
    assert_eq!(r.present, r.acknowledged);
    assert!(r.api_checked > 0, "the read API was asked");
    assert_eq!(r.duplicates, 0, "an idempotency key booked twice");
    assert_eq!(r.double_booked, 0, "a slot double-booked");
    assert_eq!(r.refused, 0, "unexpected refusals: {:?}", r.first_refusal);
    assert!(r.ok());
}

#[tokio::test]
async fn sqlite_killed_three_times_under_load_loses_nothing() {
    let r = run(StoreKind::Sqlite, Scenario::Kill).await;
    assert_nothing_lost(&r, 3);
}

#[tokio::test]
async fn postgres_killed_three_times_under_load_loses_nothing() {
    let r = run(StoreKind::Postgres, Scenario::Kill).await;
    assert_nothing_lost(&r, 3);
}

#[tokio::test]
async fn postgres_cut_off_for_five_seconds_under_load_loses_nothing() {
    let r = run(StoreKind::Postgres, Scenario::Outage).await;
    assert_nothing_lost(&r, 1);
    assert_eq!(r.unexpected_exits, 0, "the server survives the outage");
}
