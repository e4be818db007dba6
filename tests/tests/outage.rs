//! Breaking the database on purpose: every backend connection of the app is killed (as when
//! PostgreSQL restarts). Requests in that moment get 503 problem+json, never a 500 or a panic,
//! and the app recovers by itself: bookings land and read models catch up.

use migrations::Backend;
use sqlx::Connection;
use tests::{booking_body, TestApp};

async fn kill_backends(url: &str) {
    let name = url.rsplit('/').next().unwrap_or("").to_string();
    let mut admin =
        sqlx::PgConnection::connect(&format!("{}/postgres", salon::scratch::postgres_base()))
            .await
            .expect("admin");
    sqlx::query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()")
        .bind(name)
        .execute(&mut admin)
        .await
        .expect("terminate");
    admin.close().await.ok();
}

#[tokio::test]
async fn killed_database_connections_give_503_then_the_app_recovers() {
    let app = TestApp::spawn(Backend::Postgres).await;
    let service = app.service_id("Retwist").await;
    let stylist = TestApp::stylist_id("Amara Diallo");
    let today = chrono::Utc::now().date_naive();
    let slots = app
        .slots(
            &service,
            Some(&stylist),
            &(today + chrono::Duration::days(2)).to_string(),
            &(today + chrono::Duration::days(30)).to_string(),
        )
        .await;
    assert!(slots.len() > 30);
    kill_backends(&app.db.url).await;
    let mut statuses = Vec::new();
    for (i, slot) in slots.iter().take(20).enumerate() {
        let body = booking_body(
            &service,
            &stylist,
            slot["start"].as_str().unwrap_or(""),
            &format!("Outage {i}"),
        );
        let r = app
            .http
            .post(app.url("/api/v1/bookings"))
            .json(&body)
            .send()
            .await
            .expect("post");
        let status = r.status().as_u16();
        if status != 201 {
            let ct = r
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string();
            assert_eq!(ct, "application/problem+json");
        }
        statuses.push(status);
        let r = app.get("/api/v1/services").await;
        statuses.push(r.status().as_u16());
    }
    assert!(
        statuses.iter().all(|s| matches!(*s, 200 | 201 | 409 | 503)),
        "{statuses:?}"
    );
    // Recovered: a booking lands and shows at once in availability.
    let slot = &slots[25];
    let start = slot["start"].as_str().unwrap_or("").to_string();
    let (s, b) = app
        .post_booking(&booking_body(&service, &stylist, &start, "After"), None)
        .await;
    assert_eq!(s, 201, "{b}");
    let day = &start[..10];
    assert!(app
        .slots(&service, Some(&stylist), day, day)
        .await
        .iter()
        .all(|x| x["start"] != start.as_str()));
    let (s, _) = app.get_json("/readyz").await;
    assert_eq!(s, 200);
    app.stop().await;
}
