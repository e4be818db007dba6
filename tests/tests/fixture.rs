//! The frozen log of the first release (`tests/fixtures/log-v1.ndjson`, made by
//! `tests/fixtures/make-log-v1.sh` with commit d91245e and never regenerated) loads into every
//! later version, on SQLite and PostgreSQL: every aggregate still decides from its old events,
//! every read model rebuilds from them, a rebuild gives the same rows, and today's commands work
//! on yesterday's bookings.

use cqrs_es::persist::SerializedEvent;
use migrations::Backend;
use projections::Projection;
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;
use tests::{ScratchDb, TestApp, BACKENDS};

const LOG_V1: &str = include_str!("../fixtures/log-v1.ndjson");

fn fixture() -> Vec<Value> {
    LOG_V1
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("one event per line"))
        .collect()
}

/// A fresh store holding the frozen log (and nothing else), served by today's app.
async fn app_on_fixture(backend: Backend) -> TestApp {
    let db = ScratchDb::new(backend).await;
    let store = salon::app::open_store(&db.url).await.expect("store");
    let events: Vec<SerializedEvent> = fixture()
        .into_iter()
        .map(|e| SerializedEvent {
            aggregate_id: e["aggregate_id"].as_str().unwrap().to_string(),
            sequence: e["sequence"].as_u64().unwrap() as usize,
            aggregate_type: e["aggregate_type"].as_str().unwrap().to_string(),
            event_type: e["event_type"].as_str().unwrap().to_string(),
            event_version: e["event_version"].as_str().unwrap().to_string(),
            payload: e["payload"].clone(),
            metadata: e["metadata"].clone(),
        })
        .collect();
    store.append(&events).await.expect("load the frozen log");
    store.close().await;
    TestApp::spawn_on(db).await
}

async fn caught_up(app: &TestApp) {
    let head = projections::log::head(&app.server.state.read)
        .await
        .expect("head");
    assert!(
        app.server
            .state
            .projections
            .wait_for(&Projection::ALL, head, Duration::from_secs(20))
            .await,
        "the read models never caught up with the frozen log"
    );
}

#[tokio::test]
async fn the_first_releases_log_loads_rebuilds_and_takes_new_commands() {
    let events = fixture();
    assert!(events.len() >= 20, "the fixture holds a mixed workload");
    let mut aggregates: BTreeMap<(String, String), usize> = BTreeMap::new();
    for e in &events {
        *aggregates
            .entry((
                e["aggregate_type"].as_str().unwrap().to_string(),
                e["aggregate_id"].as_str().unwrap().to_string(),
            ))
            .or_default() += 1;
    }
    for backend in BACKENDS {
        let app = app_on_fixture(backend).await;
        let bus = &app.server.state.bus;
        // Every aggregate still decides from its old events.
        for ((kind, id), count) in &aggregates {
            let version = match kind.as_str() {
                "Salon" => bus
                    .load_fresh::<domain::salon::Salon>(id)
                    .await
                    .map(|l| l.version),
                "Service" => bus
                    .load_fresh::<domain::service::Service>(id)
                    .await
                    .map(|l| l.version),
                "Stylist" => bus
                    .load_fresh::<domain::stylist::Stylist>(id)
                    .await
                    .map(|l| l.version),
                "StylistDay" => bus
                    .load_fresh::<domain::stylist_day::StylistDay>(id)
                    .await
                    .map(|l| l.version),
                "Booking" => bus
                    .load_fresh::<domain::booking::Booking>(id)
                    .await
                    .map(|l| l.version),
                "ApiToken" => bus
                    .load_fresh::<domain::token::ApiToken>(id)
                    .await
                    .map(|l| l.version),
                "CalendarSource" => bus
                    .load_fresh::<domain::calendar_source::CalendarSource>(id)
                    .await
                    .map(|l| l.version),
                other => {
                    panic!("the fixture has an aggregate type this test does not know: {other}")
                }
            }
            .unwrap_or_else(|e| panic!("{kind} {id} does not load: {e}"));
            assert_eq!(version, *count, "{kind} {id}");
        }
        caught_up(&app).await;

        // The read models show the old bookings.
        let token = app
            .token("fixture-check", domain::token::Scope::Write)
            .await;
        let bookings: Vec<&str> = events
            .iter()
            .filter(|e| e["event_type"] == "BookingRequested")
            .map(|e| e["aggregate_id"].as_str().unwrap())
            .collect();
        assert_eq!(bookings.len(), 3);
        for id in &bookings {
            let r = app
                .http
                .get(app.url(&format!("/api/v1/bookings/{id}")))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), 200);
            let b: Value = r.json().await.unwrap();
            assert_eq!(b["status"], "confirmed", "{b}");
        }
        let audited: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM rm_audit_log")
            .fetch_one(app.server.state.read.pool())
            .await
            .unwrap();
        assert!(audited as usize >= events.len());

        // Rebuilt from position 0, every read model has the same rows.
        let read = &app.server.state.read;
        let mut before = BTreeMap::new();
        for p in Projection::ALL {
            for t in p.tables() {
                before.insert(*t, projections::queries::dump_table(read, t).await.unwrap());
            }
        }
        for p in Projection::ALL {
            projections::runner::reset(read, p).await.unwrap();
            projections::runner::catch_up(read, p).await.unwrap();
        }
        for (table, rows) in &before {
            let after = projections::queries::dump_table(read, table).await.unwrap();
            assert_eq!(&after, rows, "{table} differs after a rebuild");
        }

        // Today's commands on yesterday's booking: the owner cancels it, its time frees.
        let first = domain::ids::BookingId::parse(bookings[0]).unwrap();
        let meta = domain::metadata::EventMetadata::new("owner", domain::metadata::Source::Panel);
        let changed = bus
            .cancel_booking(
                first,
                domain::booking::Party::Owner,
                None,
                chrono::Utc::now(),
                &meta,
            )
            .await
            .expect("cancel an old booking");
        assert_eq!(
            changed.booking.status,
            domain::booking::BookingStatus::Cancelled
        );
        app.stop().await;
    }
}
