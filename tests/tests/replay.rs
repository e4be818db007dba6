//! Replaying read models while the server serves, on SQLite and PostgreSQL: after a mixed
//! workload a rebuild into shadow tables equals the live tables row for row; a tampered live
//! row is reported, table and row; a rebuild swapped in while clients keep booking repairs the
//! tampered row and loses none of the bookings made meanwhile.

use domain::token::Scope;
use projections::replay::{self, TableDiff};
use projections::Projection;
use serde_json::{json, Value};
use tests::{booking_body, TestApp, BACKENDS};

/// Books `n` appointments (one per stylist and slot), cancels the first; returns the ids.
async fn workload(app: &TestApp, write: &str, tag: &str, n: usize) -> Vec<String> {
    let service = app.service_id("Retwist").await;
    let stylists = ["Amara Diallo", "Keisha Brown", "Malik Johnson"];
    let mut ids = Vec::new();
    for i in 0..n {
        let stylist = TestApp::stylist_id(stylists[i % stylists.len()]);
        let slot = app.first_slot(&service, &stylist).await;
        let (s, b) = app
            .post_booking(
                &booking_body(
                    &service,
                    &stylist,
                    slot["start"].as_str().unwrap_or(""),
                    &format!("{tag} Client {i}"),
                ),
                Some(&format!("{tag}-{i}")),
            )
            .await;
        assert_eq!(s, 201, "{b}");
        ids.push(b["id"].as_str().expect("id").to_string());
    }
    let r = app
        .call(
            reqwest::Method::POST,
            &format!("/api/v1/bookings/{}/cancel", ids[0]),
            Some(write),
            None,
            &[("X-Reason", "replay test")],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    ids
}

fn differing(diffs: &[TableDiff]) -> Vec<&TableDiff> {
    diffs.iter().filter(|d| !d.same()).collect()
}

#[tokio::test]
async fn a_rebuild_equals_the_live_read_models_and_swaps_in_while_serving() {
    for backend in BACKENDS {
        let app = TestApp::spawn(backend).await;
        let write = app.token("replay", Scope::Write).await;
        let ids = workload(&app, &write, "Before", 4).await;
        let r = app
            .call(
                reqwest::Method::POST,
                "/api/v1/services",
                Some(&write),
                Some(&json!({"name": "Loc Detox", "duration_minutes": 120, "price_cents": 11000, "deposit_cents": 3000})),
                &[],
            )
            .await;
        assert!(r.status < 300, "{}", r.body);
        let read = app.server.state.read.clone();

        // Replay equals live after the mixed workload, every table of every projection.
        let (at, diffs) = replay::verify(&read, &Projection::ALL)
            .await
            .expect("verify");
        assert!(at.position > 0);
        assert_eq!(
            diffs.len(),
            Projection::ALL
                .iter()
                .map(|p| p.tables().len())
                .sum::<usize>()
        );
        assert!(differing(&diffs).is_empty(), "{backend:?}: {diffs:#?}");
        let bookings = diffs.iter().find(|d| d.table == "rm_bookings").unwrap();
        assert_eq!(bookings.live_rows, 4);

        // A tampered live row is found and shown.
        sqlx::query("UPDATE rm_bookings SET client_name = 'Tampered' WHERE id = $1")
            .bind(ids[1].clone())
            .execute(read.pool())
            .await
            .expect("tamper");
        let (_, diffs) = replay::verify(&read, &[Projection::Bookings])
            .await
            .expect("verify");
        let bad = differing(&diffs);
        assert_eq!(bad.len(), 1, "{diffs:#?}");
        assert_eq!(bad[0].table, "rm_bookings");
        assert_eq!((bad[0].only_live, bad[0].only_rebuilt), (1, 1));
        assert!(bad[0].live_samples[0].contains(&"Tampered".to_string()));
        assert!(bad[0].rebuilt_samples[0].contains(&"Before Client 1".to_string()));

        // Rebuild and swap while clients keep booking.
        let booking = {
            let app_url = app.url("");
            let service = app.service_id("Retwist").await;
            tokio::spawn(async move {
                let http = reqwest::Client::new();
                let mut made = Vec::new();
                let stylist = TestApp::stylist_id("Keisha Brown");
                let today = chrono::Utc::now().date_naive();
                let from = today + chrono::Duration::days(2);
                let to = today + chrono::Duration::days(30);
                for i in 0..6 {
                    let slots: Value = http
                        .get(format!(
                            "{app_url}/api/v1/availability?service={service}&stylist={stylist}&from={from}&to={to}"
                        ))
                        .send()
                        .await
                        .expect("slots")
                        .json()
                        .await
                        .expect("slots json");
                    let start = slots["slots"][0]["start"]
                        .as_str()
                        .unwrap_or("")
                        .to_string();
                    let r = http
                        .post(format!("{app_url}/api/v1/bookings"))
                        .header("Idempotency-Key", format!("during-{i}"))
                        .json(&booking_body(
                            &service,
                            &stylist,
                            &start,
                            &format!("During Client {i}"),
                        ))
                        .send()
                        .await
                        .expect("book");
                    let status = r.status().as_u16();
                    let body: Value = r.json().await.unwrap_or(Value::Null);
                    assert_eq!(status, 201, "{body}");
                    made.push(body["id"].as_str().expect("id").to_string());
                }
                made
            })
        };
        let done = replay::rebuild(&read, &Projection::ALL)
            .await
            .expect("rebuild");
        assert!(done.events > 0);
        eprintln!(
            "{backend:?}: swap {:?} prepare {:?}",
            done.swap, done.prepare
        );
        let during = booking.await.expect("booking task");
        assert_eq!(during.len(), 6);

        // Everything booked meanwhile is served, and the tampered row is repaired.
        for id in ids.iter().chain(&during) {
            let r = app
                .call(
                    reqwest::Method::GET,
                    &format!("/api/v1/bookings/{id}"),
                    Some(&write),
                    None,
                    &[],
                )
                .await;
            assert_eq!(r.status, 200, "{backend:?}: booking {id}: {}", r.body);
        }
        let name: String = sqlx::query_scalar("SELECT client_name FROM rm_bookings WHERE id = $1")
            .bind(ids[1].clone())
            .fetch_one(read.pool())
            .await
            .expect("row");
        assert_eq!(name, "Before Client 1");
        let (_, diffs) = replay::verify(&read, &Projection::ALL)
            .await
            .expect("verify");
        assert!(differing(&diffs).is_empty(), "{backend:?}: {diffs:#?}");
        let bookings = diffs.iter().find(|d| d.table == "rm_bookings").unwrap();
        assert_eq!(bookings.live_rows, 10);
        // The server's own projections go on after the swap.
        let more = workload(&app, &write, "After", 2).await;
        let r = app
            .call(
                reqwest::Method::GET,
                &format!("/api/v1/bookings/{}", more[1]),
                Some(&write),
                None,
                &[],
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        app.stop().await;
    }
}

#[tokio::test]
async fn one_replay_at_a_time_on_postgres() {
    let app = TestApp::spawn(migrations::Backend::Postgres).await;
    let read = app.server.state.read.clone();
    let first = replay::Shadow::open(&read, &[Projection::Audit])
        .await
        .expect("first");
    let second = replay::Shadow::open(&read, &[Projection::Audit]).await;
    assert!(matches!(second, Err(replay::ReplayError::Busy)));
    first.close().await;
    let third = replay::Shadow::open(&read, &[Projection::Audit])
        .await
        .expect("free again");
    third.close().await;
    app.stop().await;
}

/// The live read-model tables as the database describes them: columns, keys, indexes and
/// (on PostgreSQL) whether they are logged.
async fn live_schema(read: &projections::ReadDb) -> Vec<String> {
    let sql = match read.backend() {
        migrations::Backend::Postgres => {
            "SELECT c.relname::text || ' ' || c.relpersistence::text || ' ' || \
             (SELECT string_agg(a.attname::text || ':' || format_type(a.atttypid, a.atttypmod) || ':' \
               || a.attnotnull::text || ':' || coalesce(pg_get_expr(d.adbin, d.adrelid), ''), \
               ', ' ORDER BY a.attnum) \
              FROM pg_attribute a LEFT JOIN pg_attrdef d \
              ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
              WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped) || ' | ' || \
             coalesce((SELECT string_agg(x.conname::text || ' ' || pg_get_constraintdef(x.oid), '; ' \
               ORDER BY x.conname) FROM pg_constraint x WHERE x.conrelid = c.oid), '') || ' | ' || \
             coalesce((SELECT string_agg(pg_get_indexdef(i.indexrelid), '; ' \
               ORDER BY pg_get_indexdef(i.indexrelid)) FROM pg_index i \
               WHERE i.indrelid = c.oid), '') AS d \
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = current_schema() AND c.relkind = 'r' AND c.relname LIKE 'rm\\_%' \
             ORDER BY c.relname"
        }
        migrations::Backend::Sqlite => {
            "SELECT type || ' ' || name || ' ' || coalesce(sql, '') AS d FROM sqlite_master \
             WHERE tbl_name LIKE 'rm\\_%' ESCAPE '\\' ORDER BY type, name"
        }
    };
    sqlx::query_scalar::<_, String>(sql)
        .fetch_all(read.pool())
        .await
        .expect("schema")
}

/// Opens a transaction that reads `rm_bookings` (holding a lock on it) and ends it after
/// `for_ms` in the background.
async fn hold(read: &projections::ReadDb, for_ms: u64) -> tokio::task::JoinHandle<()> {
    let mut reader = read.pool().begin().await.expect("reader");
    sqlx::query("SELECT count(*) FROM rm_bookings")
        .execute(&mut *reader)
        .await
        .expect("read");
    tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(for_ms)).await;
        reader.commit().await.expect("reader done");
    })
}

/// On PostgreSQL the swap renames the rebuilt tables into place: afterwards the live tables
/// must be exactly what the migrations made (logged, every key and index under its name), with
/// nothing left of the shadows or the replaced tables; on SQLite it copies rows and must leave
/// the schema alone too. A reader holding a live table past the rename's lock timeout makes
/// the swap copy instead, and the rebuild still lands.
#[tokio::test]
async fn a_swap_leaves_the_live_tables_as_the_migrations_made_them() {
    for backend in BACKENDS {
        let app = TestApp::spawn(backend).await;
        let write = app.token("swap", Scope::Write).await;
        let ids = workload(&app, &write, "Swap", 3).await;
        let read = app.server.state.read.clone();
        let before = live_schema(&read).await;
        assert!(
            before.iter().any(|t| t.contains("rm_bookings_start")),
            "{before:#?}"
        );
        let count = |read: projections::ReadDb| async move {
            sqlx::query_scalar::<_, i64>("SELECT count(*) FROM rm_bookings")
                .fetch_one(read.pool())
                .await
                .expect("count")
        };
        let bookings = count(read.clone()).await;
        assert!(bookings >= 3);

        let done = replay::rebuild(&read, &Projection::ALL)
            .await
            .expect("rebuild");
        assert!(done.position.position > 0);
        assert_eq!(live_schema(&read).await, before, "{backend:?}");
        assert_eq!(count(read.clone()).await, bookings);
        let r = app
            .call(
                reqwest::Method::GET,
                &format!("/api/v1/bookings/{}", ids[1]),
                Some(&write),
                None,
                &[],
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);

        if backend == migrations::Backend::Postgres {
            let left: i64 =
                sqlx::query_scalar("SELECT count(*) FROM pg_namespace WHERE nspname IN ($1, $2)")
                    .bind(replay::SHADOW_SCHEMA)
                    .bind(replay::REPLACED_SCHEMA)
                    .fetch_one(read.pool())
                    .await
                    .expect("schemas");
            assert_eq!(left, 0, "shadow or replaced tables left behind");

            // A reader in a transaction on a live table: the rename waits for it, attempt
            // after attempt, and goes ahead once it is done.
            let held = std::time::Instant::now();
            let reader = hold(&read, 1_000).await;
            let done = replay::rebuild(&read, &Projection::ALL)
                .await
                .expect("rebuild while a reader holds a table");
            assert!(
                held.elapsed() >= std::time::Duration::from_millis(1_000),
                "{done:?}: did the rename not wait for the reader?"
            );
            reader.await.expect("reader");
            assert!(done.renamed, "{done:?}");
            assert_eq!(live_schema(&read).await, before);
            assert_eq!(count(read.clone()).await, bookings);

            // A reader that outlasts every attempt: the swap copies the rows instead.
            let reader = hold(&read, 15_000).await;
            let done = replay::rebuild(&read, &Projection::ALL)
                .await
                .expect("rebuild while a reader keeps holding a table");
            assert!(!done.renamed, "{done:?}");
            assert_eq!(live_schema(&read).await, before);
            assert_eq!(count(read.clone()).await, bookings);
            reader.abort();
        } else {
            assert!(!done.renamed);
        }
        app.stop().await;
    }
}
