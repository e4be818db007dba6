//! Moving, cancelling and closing bookings over HTTP, on SQLite and PostgreSQL: the client with
//! the signed link from the booking answer, the owner's side with a token; the day's time
//! follows every change in the same commit.

use domain::token::Scope;
use serde_json::{json, Value};
use tests::{booking_body, TestApp, BACKENDS};

fn token_of(booking: &Value) -> String {
    booking["manage_url"]
        .as_str()
        .expect("manage_url")
        .split("token=")
        .nth(1)
        .expect("token")
        .to_string()
}

async fn book(app: &TestApp, service: &str, stylist: &str, start: &str, key: &str) -> Value {
    let (status, booking) = app
        .post_booking(
            &booking_body(service, stylist, start, "Ada Lovelace"),
            Some(key),
        )
        .await;
    assert_eq!(status, 201, "{booking}");
    booking
}

async fn post(app: &TestApp, path: &str, body: Value, bearer: Option<&str>) -> (u16, Value) {
    let mut req = app.http.post(app.url(path)).json(&body);
    if let Some(t) = bearer {
        req = req.bearer_auth(t);
    }
    let r = req.send().await.expect("POST");
    let status = r.status().as_u16();
    assert!(status < 500, "{path} answered {status}");
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_client_moves_a_booking_to_another_free_time_and_the_old_one_frees() {
    for backend in BACKENDS {
        let app = TestApp::spawn(backend).await;
        let service = app.service_id("Loc Repair").await;
        let stylist = TestApp::stylist_id("Keisha Brown");
        let first = app.first_slot(&service, &stylist).await;
        let start = first["start"].as_str().unwrap().to_string();
        let booking = book(&app, &service, &stylist, &start, "move-1").await;
        let id = booking["id"].as_str().unwrap();
        let token = token_of(&booking);

        // Another day, a week later: the same stylist's first free time then.
        let date = &start[..10];
        let later = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").unwrap()
            + chrono::Duration::days(7);
        let slots = app
            .slots(
                &service,
                Some(&stylist),
                &later.to_string(),
                &later.to_string(),
            )
            .await;
        let target = slots[0]["start"].as_str().unwrap().to_string();
        let (status, moved) = post(
            &app,
            &format!("/api/v1/bookings/{id}/reschedule?token={token}"),
            json!({"start": target, "reason": "work trip"}),
            None,
        )
        .await;
        assert_eq!(status, 200, "{moved}");
        assert_eq!(moved["start"], json!(target));
        assert_eq!(moved["status"], "confirmed");
        // The old time is free again, the new one is not.
        let old_day = app.slots(&service, Some(&stylist), date, date).await;
        assert!(
            old_day.iter().any(|s| s["start"] == json!(start)),
            "the old time frees"
        );
        let new_day = app
            .slots(
                &service,
                Some(&stylist),
                &later.to_string(),
                &later.to_string(),
            )
            .await;
        assert!(!new_day.iter().any(|s| s["start"] == json!(target)));

        // Within the same day, half an hour later: over its own old time, which does not
        // stand in the way (the first time of the day, so half an hour later is open).
        let half_hour = (chrono::DateTime::parse_from_rfc3339(&target).unwrap()
            + chrono::Duration::minutes(30))
        .to_rfc3339();
        let (status, again) = post(
            &app,
            &format!("/api/v1/bookings/{id}/reschedule?token={token}"),
            json!({"start": half_hour}),
            None,
        )
        .await;
        assert_eq!(status, 200, "{again}");
        assert_eq!(
            chrono::DateTime::parse_from_rfc3339(again["start"].as_str().unwrap()).unwrap(),
            chrono::DateTime::parse_from_rfc3339(&half_hour).unwrap()
        );

        // Onto someone else's time: 409 with alternatives; nothing changes.
        let other = book(&app, &service, &stylist, &start, "move-2").await;
        let (status, refused) = post(
            &app,
            &format!("/api/v1/bookings/{id}/reschedule?token={token}"),
            json!({"start": other["start"]}),
            None,
        )
        .await;
        assert_eq!(status, 409, "{refused}");
        assert!(refused["type"].as_str().unwrap().ends_with("slot-taken"));
        assert!(refused["alternatives"].is_array());

        // Bad input is a readable field error.
        let (status, bad) = post(
            &app,
            &format!("/api/v1/bookings/{id}/reschedule?token={token}"),
            json!({"start": "next tuesday"}),
            None,
        )
        .await;
        assert_eq!(status, 422);
        assert_eq!(bad["errors"][0]["field"], "start");

        // Someone else's link does not open this booking.
        let (status, _) = post(
            &app,
            &format!("/api/v1/bookings/{id}/cancel?token={}", token_of(&other)),
            json!({}),
            None,
        )
        .await;
        assert_eq!(status, 403);
        let (status, _) = post(
            &app,
            &format!("/api/v1/bookings/{id}/cancel"),
            json!({}),
            None,
        )
        .await;
        assert_eq!(status, 401);
        app.stop().await;
    }
}

#[tokio::test]
async fn the_owner_side_needs_a_write_token_and_cannot_close_a_booking_before_it_starts() {
    for backend in BACKENDS {
        let app = TestApp::spawn(backend).await;
        let service = app.service_id("Loc Repair").await;
        let stylist = TestApp::stylist_id("Keisha Brown");
        let slot = app.first_slot(&service, &stylist).await;
        let booking = book(
            &app,
            &service,
            &stylist,
            slot["start"].as_str().unwrap(),
            "own-1",
        )
        .await;
        let id = booking["id"].as_str().unwrap();
        let read = app.token("reader", Scope::Read).await;
        let write = app.token("front-desk", Scope::Write).await;
        let (status, _) = post(
            &app,
            &format!("/api/v1/bookings/{id}/no-show"),
            json!({}),
            Some(&read),
        )
        .await;
        assert_eq!(status, 403);
        let (status, _) = post(
            &app,
            &format!("/api/v1/bookings/{id}/no-show"),
            json!({}),
            None,
        )
        .await;
        assert_eq!(status, 401);
        let (status, early) = post(
            &app,
            &format!("/api/v1/bookings/{id}/no-show"),
            json!({}),
            Some(&write),
        )
        .await;
        assert_eq!(status, 409, "{early}");
        assert!(early["type"].as_str().unwrap().ends_with("not-started"));
        let (status, early) = post(
            &app,
            &format!("/api/v1/bookings/{id}/complete"),
            json!({}),
            Some(&write),
        )
        .await;
        assert_eq!(status, 409, "{early}");

        // The owner cancels; the event names the token and the reason.
        let r = app
            .http
            .post(app.url(&format!("/api/v1/bookings/{id}/cancel")))
            .bearer_auth(&write)
            .header("X-Reason", "stylist is ill")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        let cancelled: Value = r.json().await.unwrap();
        assert_eq!(cancelled["status"], "cancelled");
        assert_eq!(cancelled["cancelled_by"], "owner");
        let meta: String = sqlx::query_scalar(
            "SELECT CAST(metadata AS TEXT) FROM events WHERE aggregate_id = $1 AND event_type = 'BookingCancelled'",
        )
        .bind(id.to_string())
        .fetch_one(app.server.state.read.pool())
        .await
        .unwrap();
        assert!(
            meta.contains("token:front-desk") && meta.contains("stylist is ill"),
            "{meta}"
        );
        // Cancelling again is refused in words.
        let (status, again) = post(
            &app,
            &format!("/api/v1/bookings/{id}/cancel"),
            json!({}),
            Some(&write),
        )
        .await;
        assert_eq!(status, 409);
        assert!(
            again["detail"].as_str().unwrap().contains("cancelled"),
            "{again}"
        );
        // The client's view says so too.
        let (status, view) = app
            .get_json(&format!(
                "/api/v1/bookings/{id}/manage?token={}",
                token_of(&booking)
            ))
            .await;
        assert_eq!(status, 200);
        assert_eq!(view["can_cancel"], false);
        assert_eq!(view["can_reschedule"], false);
        app.stop().await;
    }
}
