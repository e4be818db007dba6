//! N clients race for one slot: exactly one wins, all others get 409, on both stores; and the
//! availability read model never holds overlapping reservations afterwards.

use futures::future::join_all;
use migrations::Backend;
use sqlx::Row;
use tests::{booking_body, TestApp, BACKENDS};

async fn race_for_one_slot(backend: Backend, n: usize) {
    let app = TestApp::spawn(backend).await;
    let service = app.service_id("Retwist").await;
    let stylist = TestApp::stylist_id("Amara Diallo");
    let slot = app.first_slot(&service, &stylist).await;
    let start = slot["start"].as_str().unwrap_or("").to_string();
    let requests = (0..n).map(|i| {
        let body = booking_body(&service, &stylist, &start, &format!("Client {i}"));
        let app = &app;
        async move { app.post_booking(&body, Some(&format!("race-{i}"))).await }
    });
    let results = join_all(requests).await;
    let created = results.iter().filter(|(s, _)| *s == 201).count();
    let conflicts = results.iter().filter(|(s, _)| *s == 409).count();
    let others: Vec<_> = results
        .iter()
        .filter(|(s, _)| *s != 201 && *s != 409)
        .collect();
    assert_eq!(
        created, 1,
        "{backend:?} n={n}: {created} winners; others {others:?}"
    );
    assert_eq!(conflicts, n - 1, "{backend:?} n={n}: {others:?}");
    assert_no_overlaps(&app).await;
    app.stop().await;
}

/// Every pair of reservations of one stylist in the read model is disjoint.
async fn assert_no_overlaps(app: &TestApp) {
    let rows = sqlx::query(
        "SELECT stylist, start_epoch, end_epoch FROM rm_reservations ORDER BY stylist, start_epoch",
    )
    .fetch_all(app.server.state.read.pool())
    .await
    .expect("reservations");
    let mut last: Option<(String, i64)> = None;
    for r in &rows {
        let stylist: String = r.try_get(0).expect("stylist");
        let start: i64 = r.try_get(1).expect("start");
        let end: i64 = r.try_get(2).expect("end");
        if let Some((s, prev_end)) = &last {
            if *s == stylist {
                assert!(start >= *prev_end, "overlapping reservations for {stylist}");
            }
        }
        last = Some((stylist, end));
    }
    assert!(!rows.is_empty());
}

#[tokio::test]
async fn sixteen_clients_race_for_one_slot_on_sqlite() {
    race_for_one_slot(Backend::Sqlite, 16).await;
}

#[tokio::test]
async fn sixty_four_clients_race_for_one_slot_on_sqlite() {
    race_for_one_slot(Backend::Sqlite, 64).await;
}

#[tokio::test]
async fn sixteen_clients_race_for_one_slot_on_postgres() {
    race_for_one_slot(Backend::Postgres, 16).await;
}

#[tokio::test]
async fn sixty_four_clients_race_for_one_slot_on_postgres() {
    race_for_one_slot(Backend::Postgres, 64).await;
}

/// Clients booking different slots of the same stylist's day at once all succeed: losing the
/// append race on the day means deciding again, not failing.
#[tokio::test]
async fn concurrent_bookings_of_different_slots_on_one_day_all_land() {
    for backend in BACKENDS {
        let app = TestApp::spawn(backend).await;
        let service = app.service_id("Consultation").await;
        let stylist = TestApp::stylist_id("Amara Diallo");
        let first = app.first_slot(&service, &stylist).await;
        let day = first["start"].as_str().unwrap_or("")[..10].to_string();
        let slots = app.slots(&service, Some(&stylist), &day, &day).await;
        assert!(slots.len() >= 8, "{} slots", slots.len());
        let requests = slots.iter().enumerate().map(|(i, s)| {
            let body = booking_body(
                &service,
                &stylist,
                s["start"].as_str().unwrap_or(""),
                &format!("C{i}"),
            );
            let app = &app;
            async move { app.post_booking(&body, None).await }
        });
        let results = join_all(requests).await;
        for (status, body) in &results {
            assert_eq!(*status, 201, "{backend:?}: {body}");
        }
        assert!(app
            .slots(&service, Some(&stylist), &day, &day)
            .await
            .is_empty());
        assert_no_overlaps(&app).await;
        app.stop().await;
    }
}
