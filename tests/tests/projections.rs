//! Projections fed from the log: no event skipped or applied twice under concurrent writers
//! (the PostgreSQL late-commit trap of ARCHITECTURE §3), and rebuilding read models from
//! position 0 gives the same rows.

use futures::future::join_all;
use migrations::Backend;
use projections::runner;
use projections::{Projection, ReadDb};
use rand::Rng;
use sqlx::Row;
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tests::{booking_body, ScratchDb, TestApp, BACKENDS};

const WRITERS: usize = 16;
const EVENTS_PER_WRITER: usize = 60;

/// One writer: appends events in transactions that stay open a random while after their row
/// took its position, so positions commit out of order (the trap).
async fn slow_writer(url: String, backend: Backend, writer: usize) {
    let store = commands::Store::connect(&url).await.expect("store");
    for i in 0..EVENTS_PER_WRITER {
        let delay = Duration::from_micros(rand::thread_rng().gen_range(0..8_000));
        let payload = serde_json::json!({"Tested": {"writer": writer, "i": i}}).to_string();
        let meta = r#"{"actor":"system","source":"job","recorded_at":"2027-01-01T00:00:00Z"}"#;
        match (&store, backend) {
            (commands::Store::Postgres(pg), _) => {
                let mut tx = pg.pool().begin().await.expect("begin");
                sqlx::query(
                    "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata) \
                     VALUES ('Load', $1, $2, 'Tested', '1', $3::jsonb, $4::jsonb)",
                )
                .bind(format!("w{writer}"))
                .bind((i + 1) as i64)
                .bind(&payload)
                .bind(meta)
                .execute(&mut *tx)
                .await
                .expect("insert");
                tokio::time::sleep(delay).await;
                tx.commit().await.expect("commit");
            }
            (commands::Store::Sqlite(_), _) => {
                let e = cqrs_es::persist::SerializedEvent {
                    aggregate_id: format!("w{writer}"),
                    sequence: i + 1,
                    aggregate_type: "Load".into(),
                    event_type: "Tested".into(),
                    event_version: "1".into(),
                    payload: serde_json::from_str(&payload).expect("json"),
                    metadata: serde_json::from_str(meta).expect("json"),
                };
                store.append(&[e]).await.expect("append");
                tokio::time::sleep(delay).await;
            }
        }
    }
    store.close().await;
}

/// Many concurrent writers; a reader following the log with the real reader and a projection
/// (the audit log, whose primary key is the position) running alongside. The reader must see
/// every event exactly once, and so must the projection.
#[tokio::test]
async fn concurrent_writers_every_event_is_read_exactly_once() {
    for backend in BACKENDS {
        let db = ScratchDb::new(backend).await;
        let store = salon::app::open_store(&db.url).await.expect("store");
        let read = ReadDb::connect(&db.url).await.expect("read");
        let done = Arc::new(AtomicBool::new(false));

        let reader = {
            let read = read.clone();
            let done = done.clone();
            tokio::spawn(async move {
                let mut at = migrations::LogPosition::START;
                let mut seen = Vec::new();
                let mut deadline: Option<std::time::Instant> = None;
                loop {
                    let finished = done.load(Ordering::SeqCst);
                    let batch = projections::log::read_after(&read, at, 100)
                        .await
                        .expect("read");
                    for e in &batch {
                        seen.push(e.at.position);
                        at = e.at;
                    }
                    if batch.is_empty() {
                        // Once the writers are done, read until every event has shown up: on
                        // PostgreSQL a transaction anywhere in the cluster (another test's)
                        // holds back what the reader may see, so "done" is not "visible".
                        if finished {
                            let give_up = *deadline.get_or_insert_with(|| {
                                std::time::Instant::now() + Duration::from_secs(30)
                            });
                            if seen.len() >= WRITERS * EVENTS_PER_WRITER
                                || std::time::Instant::now() > give_up
                            {
                                break;
                            }
                        }
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                }
                seen
            })
        };
        let projector = {
            let read = read.clone();
            let done = done.clone();
            tokio::spawn(async move {
                while !done.load(Ordering::SeqCst) {
                    runner::catch_up(&read, Projection::Audit)
                        .await
                        .expect("audit projection");
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
            })
        };
        join_all((0..WRITERS).map(|w| slow_writer(db.url.clone(), backend, w))).await;
        // Let every transaction finish, then stop the followers after a last pass.
        tokio::time::sleep(Duration::from_millis(200)).await;
        done.store(true, Ordering::SeqCst);
        let seen = reader.await.expect("reader");
        projector.await.expect("projector");
        runner::catch_up(&read, Projection::Audit)
            .await
            .expect("final catch-up");

        let all: Vec<i64> = sqlx::query("SELECT position FROM events ORDER BY position")
            .fetch_all(read.pool())
            .await
            .expect("positions")
            .iter()
            .map(|r| r.try_get::<i64, _>(0).expect("position"))
            .collect();
        assert_eq!(all.len(), WRITERS * EVENTS_PER_WRITER);
        let unique: HashSet<i64> = seen.iter().copied().collect();
        assert_eq!(
            unique.len(),
            seen.len(),
            "{backend:?}: an event was read twice"
        );
        assert_eq!(
            unique,
            all.iter().copied().collect::<HashSet<_>>(),
            "{backend:?}: the reader skipped events"
        );
        let audited: Vec<i64> = sqlx::query("SELECT position FROM rm_audit_log ORDER BY position")
            .fetch_all(read.pool())
            .await
            .expect("audit")
            .iter()
            .map(|r| r.try_get::<i64, _>(0).expect("position"))
            .collect();
        assert_eq!(
            audited, all,
            "{backend:?}: the projection missed or repeated events"
        );
        read.close().await;
        store.close().await;
        db.drop_db().await;
    }
}

async fn dump_all(read: &ReadDb) -> Vec<(String, Vec<Vec<String>>)> {
    let mut out = Vec::new();
    for p in Projection::ALL {
        for table in p.tables() {
            out.push((
                table.to_string(),
                projections::queries::dump_table(read, table)
                    .await
                    .expect("dump"),
            ));
        }
    }
    out
}

/// Book a few appointments, then drop every read model and restart: the rebuilt rows equal the
/// live ones. Also `salon replay`'s path (reset + catch up) on a running store.
#[tokio::test]
async fn dropping_every_read_model_and_restarting_rebuilds_the_same_rows() {
    for backend in BACKENDS {
        let app = TestApp::spawn(backend).await;
        let service = app.service_id("Retwist").await;
        for (i, name) in ["Amara Diallo", "Keisha Brown", "Malik Johnson"]
            .iter()
            .enumerate()
        {
            let stylist = TestApp::stylist_id(name);
            let slot = app.first_slot(&service, &stylist).await;
            let (s, b) = app
                .post_booking(
                    &booking_body(
                        &service,
                        &stylist,
                        slot["start"].as_str().unwrap_or(""),
                        &format!("R{i}"),
                    ),
                    None,
                )
                .await;
            assert_eq!(s, 201, "{b}");
        }
        app.token("replay", domain::token::Scope::Write).await;
        let read = app.server.state.read.clone();
        for p in Projection::ALL {
            runner::catch_up(&read, p).await.expect("catch up");
        }
        let live = dump_all(&read).await;
        assert!(live
            .iter()
            .any(|(t, rows)| t == "rm_bookings" && rows.len() == 3));

        // Replay in place: reset and catch up each projection.
        for p in Projection::ALL {
            runner::reset(&read, p).await.expect("reset");
            runner::catch_up(&read, p).await.expect("rebuild");
        }
        assert_eq!(dump_all(&read).await, live, "{backend:?}: replay differs");

        // Drop every read model's rows, restart the server, let it rebuild by itself.
        let url = app.db.url.clone();
        let TestApp { server, db, .. } = app;
        server.shutdown().await.expect("shutdown");
        let read = ReadDb::connect(&url).await.expect("read");
        for p in Projection::ALL {
            runner::reset(&read, p).await.expect("reset");
        }
        assert!(dump_all(&read)
            .await
            .iter()
            .all(|(_, rows)| rows.is_empty()));
        let app = TestApp::spawn_on(db).await;
        let head = projections::log::head(&read).await.expect("head");
        let which = Projection::ALL;
        assert!(
            app.server
                .state
                .projections
                .wait_for(&which, head, Duration::from_secs(10))
                .await,
            "rebuild did not finish"
        );
        assert_eq!(
            dump_all(&read).await,
            live,
            "{backend:?}: rebuilt rows differ"
        );
        read.close().await;
        app.stop().await;
    }
}

/// Another process (a CLI command) appends and catches one projection up while the server runs:
/// the server's other projections still reach the head.
#[tokio::test]
async fn a_projection_caught_up_by_another_process_does_not_hold_the_others_back() {
    for backend in BACKENDS {
        let app = TestApp::spawn(backend).await;
        app.wait_for_catalog().await;
        let store = salon::app::open_store(&app.db.url).await.expect("store");
        salon::bench_replay::generate(&store, 3)
            .await
            .expect("append a booking from outside");
        store.close().await;
        let read = ReadDb::connect(&app.db.url).await.expect("read");
        runner::catch_up(&read, Projection::Clients)
            .await
            .expect("catch one projection up");
        let head = projections::log::head(&read).await.expect("head");
        assert!(
            app.server
                .state
                .projections
                .wait_for(&Projection::ALL, head, Duration::from_secs(10))
                .await,
            "{backend:?}: the server's projections stopped short of {head:?}: {:?}",
            app.server.state.projections.checkpoints()
        );
        read.close().await;
        app.stop().await;
    }
}
