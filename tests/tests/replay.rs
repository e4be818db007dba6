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
