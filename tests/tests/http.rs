//! HTTP tests against the real app on a random port, on both stores.

use domain::token::Scope;
use migrations::Backend;
use serde_json::{json, Value};
use tests::{booking_body, count_events, TestApp, BACKENDS};

async fn each_backend<F, Fut>(f: F)
where
    F: Fn(TestApp) -> Fut,
    Fut: std::future::Future<Output = TestApp>,
{
    for backend in BACKENDS {
        let app = TestApp::spawn(backend).await;
        let app = f(app).await;
        app.stop().await;
    }
}

fn is_problem(r: &reqwest::Response) -> bool {
    r.headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        == Some("application/problem+json")
}

#[tokio::test]
async fn health_and_readiness() {
    each_backend(|app| async move {
        let (s, body) = app.get_json("/healthz").await;
        assert_eq!((s, body["status"].as_str()), (200, Some("ok")));
        let (s, body) = app.get_json("/readyz").await;
        assert_eq!(s, 200, "{body}");
        assert_eq!(body["status"], "ready");
        app
    })
    .await;
}

#[tokio::test]
async fn the_salon_settings_are_public() {
    each_backend(|app| async move {
        let (s, body) = app.get_json("/api/v1/salon").await;
        assert_eq!(s, 200, "{body}");
        assert_eq!(body["name"], commands::demo::SALON_NAME);
        assert_eq!(body["time_zone"], "America/New_York");
        assert_eq!(body["currency"], "USD");
        assert_eq!(body["policy"]["slot_step_minutes"], 30);
        assert!(body["policy"]["horizon_days"]
            .as_u64()
            .is_some_and(|d| d > 0));
        app
    })
    .await;
}

#[tokio::test]
async fn catalog_lists_demo_services_and_stylists_with_paging() {
    each_backend(|app| async move {
        let (s, body) = app.get_json("/api/v1/services").await;
        assert_eq!(s, 200);
        assert_eq!(body["count"], 6);
        let first = &body["results"][0];
        for field in [
            "id",
            "name",
            "description",
            "duration_minutes",
            "buffer_before_minutes",
            "buffer_after_minutes",
            "price_cents",
            "deposit_cents",
            "currency",
            "active",
        ] {
            assert!(first.get(field).is_some(), "service lacks {field}: {first}");
        }
        let (_, page) = app.get_json("/api/v1/services?limit=2&offset=2").await;
        assert_eq!(page["results"].as_array().map(Vec::len), Some(2));
        assert_eq!(page["next"], "/api/v1/services?limit=2&offset=4");
        assert_eq!(page["previous"], "/api/v1/services?limit=2&offset=0");
        let (_, last) = app.get_json("/api/v1/services?limit=2&offset=4").await;
        assert_eq!(last["next"], Value::Null);
        let (s, stylists) = app.get_json("/api/v1/stylists").await;
        assert_eq!(s, 200);
        assert_eq!(stylists["count"], 3);
        assert!(stylists["results"][0]["services"]
            .as_array()
            .is_some_and(|a| !a.is_empty()));
        app
    })
    .await;
}

#[tokio::test]
async fn availability_lists_slots_with_the_salon_offset() {
    each_backend(|app| async move {
        let service = app.service_id("Retwist").await;
        let today = chrono::Utc::now().date_naive();
        let (from, to) = (
            today + chrono::Duration::days(1),
            today + chrono::Duration::days(40),
        );
        let (s, body) = app
            .get_json(&format!(
                "/api/v1/availability?service={service}&from={from}&to={to}"
            ))
            .await;
        assert_eq!(s, 200, "{body}");
        assert_eq!(body["time_zone"], "America/New_York");
        let slots = body["slots"].as_array().expect("slots");
        assert!(slots.len() > 50, "{} slots", slots.len());
        for slot in slots {
            let start = chrono::DateTime::parse_from_rfc3339(slot["start"].as_str().unwrap_or(""))
                .expect("RFC 3339");
            let end = chrono::DateTime::parse_from_rfc3339(slot["end"].as_str().unwrap_or(""))
                .expect("RFC 3339");
            let expected = start
                .with_timezone(&chrono_tz::America::New_York)
                .fixed_offset();
            assert_eq!(
                start.offset(),
                expected.offset(),
                "{start} has the wrong offset"
            );
            assert_eq!((end - start).num_minutes(), 90);
            let local = start.naive_local();
            assert!(local.date() >= from && local.date() <= to);
        }
        app
    })
    .await;
}

/// A date with a year past four digits is no date the API takes (RFC 3339 full-date): a field
/// error, never a 500 from counting days beyond what the calendar can hold.
#[tokio::test]
async fn availability_refuses_dates_beyond_four_digit_years() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let service = app.service_id("Retwist").await;
    for (query, field) in [
        ("from=-262143-01-01", "from"),
        ("from=-262143-01-01&to=-262143-01-02", "from"),
        ("from=%2B262142-12-31", "from"),
        ("from=2027-03-14&to=%2B262143-12-31", "to"),
        ("from=-0001-12-31", "from"),
    ] {
        let (s, body) = app
            .get_json(&format!("/api/v1/availability?service={service}&{query}"))
            .await;
        assert_eq!(s, 422, "{query}: {body}");
        assert_eq!(body["errors"][0]["field"], field, "{query}: {body}");
    }
    app.stop().await;
}

#[tokio::test]
async fn a_booking_is_created_and_its_slot_disappears_at_once() {
    each_backend(|app| async move {
        let service = app.service_id("Retwist").await;
        let stylist = TestApp::stylist_id("Keisha Brown");
        let slot = app.first_slot(&service, &stylist).await;
        let start = slot["start"].as_str().expect("start").to_string();
        // The same query before and after: the second must not be a cached copy of the first.
        let day = &start[..10];
        let before = app.slots(&service, Some(&stylist), day, day).await;
        assert!(before.iter().any(|s| s["start"] == start.as_str()));
        let (s, booking) = app
            .post_booking(
                &booking_body(&service, &stylist, &start, "Ada Lovelace"),
                Some("key-1"),
            )
            .await;
        assert_eq!(s, 201, "{booking}");
        assert_eq!(booking["status"], "confirmed");
        assert_eq!(booking["start"], start.as_str());
        assert_eq!(booking["client"]["phone"], "+12125550142");
        assert_eq!(booking["checkout_url"], Value::Null);
        // Read-your-writes: the slot is gone from availability right after the 201.
        let slots = app.slots(&service, Some(&stylist), day, day).await;
        assert!(
            slots.iter().all(|s| s["start"] != start.as_str()),
            "slot still offered"
        );
        app
    })
    .await;
}

#[tokio::test]
async fn the_same_idempotency_key_returns_the_same_booking_and_appends_nothing() {
    each_backend(|app| async move {
        let service = app.service_id("Loc Repair").await;
        let stylist = TestApp::stylist_id("Malik Johnson");
        let slot = app.first_slot(&service, &stylist).await;
        let body = booking_body(
            &service,
            &stylist,
            slot["start"].as_str().unwrap_or(""),
            "Grace Hopper",
        );
        let (s1, first) = app.post_booking(&body, Some("same-key")).await;
        assert_eq!(s1, 201, "{first}");
        let events_before = count_events(&app).await;
        let (s2, second) = app.post_booking(&body, Some("same-key")).await;
        assert_eq!(s2, 201, "{second}");
        assert_eq!(first["id"], second["id"]);
        assert_eq!(
            count_events(&app).await,
            events_before,
            "a replayed key appended events"
        );
        // The same key with a different request is refused.
        let mut other = body.clone();
        other["notes"] = json!("changed my mind");
        let (s3, problem) = app.post_booking(&other, Some("same-key")).await;
        assert_eq!(s3, 422, "{problem}");
        assert_eq!(problem["type"], "/problems/idempotency-key-reused");
        app
    })
    .await;
}

#[tokio::test]
async fn a_taken_slot_answers_409_with_the_nearest_free_slots() {
    each_backend(|app| async move {
        let service = app.service_id("Retwist").await;
        let stylist = TestApp::stylist_id("Amara Diallo");
        let slot = app.first_slot(&service, &stylist).await;
        let start = slot["start"].as_str().unwrap_or("").to_string();
        let (s, _) = app
            .post_booking(&booking_body(&service, &stylist, &start, "First"), None)
            .await;
        assert_eq!(s, 201);
        let (s, problem) = app
            .post_booking(&booking_body(&service, &stylist, &start, "Second"), None)
            .await;
        assert_eq!(s, 409, "{problem}");
        assert_eq!(problem["type"], "/problems/slot-taken");
        let alternatives = problem["alternatives"].as_array().expect("alternatives");
        assert!(!alternatives.is_empty());
        assert!(alternatives
            .iter()
            .all(|a| a["start"] != start.as_str() && a["stylist"] == stylist.as_str()));
        // Each alternative can really be booked.
        let alt = alternatives[0]["start"].as_str().unwrap_or("").to_string();
        let (s, _) = app
            .post_booking(&booking_body(&service, &stylist, &alt, "Third"), None)
            .await;
        assert_eq!(s, 201);
        app
    })
    .await;
}

#[tokio::test]
async fn any_stylist_books_whoever_is_free() {
    each_backend(|app| async move {
        let service = app.service_id("Consultation").await;
        let amara = TestApp::stylist_id("Amara Diallo");
        let slot = app.first_slot(&service, &amara).await;
        let start = slot["start"].as_str().unwrap_or("").to_string();
        let mut body = booking_body(&service, &amara, &start, "A");
        body["stylist"] = json!("any");
        let mut seen = std::collections::HashSet::new();
        // Book the same time repeatedly until nobody is left.
        loop {
            let (s, b) = app.post_booking(&body, None).await;
            if s != 201 {
                assert!(s == 409 || s == 422, "{s} {b}");
                break;
            }
            assert!(
                seen.insert(b["stylist"].as_str().unwrap_or("").to_string()),
                "one stylist booked twice"
            );
        }
        assert!(!seen.is_empty());
        app
    })
    .await;
}

#[tokio::test]
async fn bad_input_gets_a_clear_4xx_never_a_5xx() {
    each_backend(|app| async move {
        let service = app.service_id("Retwist").await;
        let stylist = TestApp::stylist_id("Keisha Brown");
        let url = app.url("/api/v1/bookings");
        let send = |body: String, ct: &'static str| {
            let http = app.http.clone();
            let url = url.clone();
            async move { http.post(url).header("content-type", ct).body(body).send().await.expect("send") }
        };
        let cases: Vec<(String, &str, u16)> = vec![
            ("{not json".into(), "application/json", 400),
            ("[]".into(), "application/json", 422),
            ("{}".into(), "text/plain", 415),
            (json!({"service": "nope"}).to_string(), "application/json", 422),
            (booking_body(&uuid::Uuid::new_v4().to_string(), &stylist, "2027-03-16T10:00:00-04:00", "X").to_string(), "application/json", 422),
            (booking_body(&service, &uuid::Uuid::new_v4().to_string(), "2027-03-16T10:00:00-04:00", "X").to_string(), "application/json", 422),
            (booking_body(&service, &stylist, "2027-02-30T10:00:00-05:00", "X").to_string(), "application/json", 422),
            (booking_body(&service, &stylist, "yesterday", "X").to_string(), "application/json", 422),
            (booking_body(&service, &stylist, "2020-01-01T10:00:00-05:00", "X").to_string(), "application/json", 422),
            (booking_body(&service, &stylist, "2027-03-16T10:00:00-04:00", &"N".repeat(5000)).to_string(), "application/json", 422),
            (json!({"service": service, "stylist": stylist, "start": "2027-03-16T10:00:00-04:00", "client": {"name": "x", "email": "x@example.com", "phone": "1"}}).to_string(), "application/json", 422),
            (json!({"pad": "x".repeat(200_000)}).to_string(), "application/json", 413),
        ];
        for (body, ct, want) in cases {
            let r = send(body.chars().take(80).collect::<String>() + &body.chars().skip(80).collect::<String>(), ct).await;
            let status = r.status().as_u16();
            assert!(is_problem(&r), "not problem+json for status {status}");
            assert_eq!(status, want, "{}", r.text().await.unwrap_or_default());
        }
        for path in [
            "/api/v1/availability?service=nope",
            "/api/v1/availability",
            &format!("/api/v1/availability?service={service}&from=2027-02-30"),
            &format!("/api/v1/availability?service={service}&from=2027-03-10&to=2027-03-01"),
            &format!("/api/v1/availability?service={service}&from=2027-01-01&to=2027-12-31"),
            "/api/v1/services?limit=-1",
            "/api/v1/services?offset=-5",
            "/api/v1/services?limit=abc",
        ] {
            let r = app.get(path).await;
            let status = r.status().as_u16();
            assert!(is_problem(&r), "{path}");
            assert!((400..500).contains(&status), "{path}: {status}");
        }
        let r = app.get(&format!("/api/v1/availability?service={}", uuid::Uuid::new_v4())).await;
        assert_eq!(r.status().as_u16(), 404);
        let r = app.get("/no/such/route").await;
        assert_eq!(r.status().as_u16(), 404);
        assert!(is_problem(&r));
        let r = app.http.delete(app.url("/api/v1/services")).send().await.expect("delete");
        assert_eq!(r.status().as_u16(), 405);
        assert!(is_problem(&r));
        app
    })
    .await;
}

#[tokio::test]
async fn reading_a_booking_needs_a_valid_token() {
    each_backend(|app| async move {
        let service = app.service_id("Loc Styling").await;
        let stylist = TestApp::stylist_id("Keisha Brown");
        let slot = app.first_slot(&service, &stylist).await;
        let (_, booking) = app
            .post_booking(
                &booking_body(
                    &service,
                    &stylist,
                    slot["start"].as_str().unwrap_or(""),
                    "Token Test",
                ),
                None,
            )
            .await;
        let path = format!("/api/v1/bookings/{}", booking["id"].as_str().unwrap_or(""));
        let r = app.get(&path).await;
        assert_eq!(r.status().as_u16(), 401);
        assert!(r.headers().get("www-authenticate").is_some());
        let r = app
            .http
            .get(app.url(&path))
            .bearer_auth("salon_wrong")
            .send()
            .await
            .expect("get");
        assert_eq!(r.status().as_u16(), 401);
        let token = app.token("integration", Scope::Read).await;
        let r = app
            .http
            .get(app.url(&path))
            .bearer_auth(&token)
            .send()
            .await
            .expect("get");
        assert_eq!(r.status().as_u16(), 200);
        let fetched: Value = r.json().await.expect("json");
        assert_eq!(fetched["id"], booking["id"]);
        assert_eq!(fetched["start"], booking["start"]);
        assert_eq!(fetched["status"], "confirmed");
        let r = app
            .http
            .get(app.url(&format!("/api/v1/bookings/{}", uuid::Uuid::new_v4())))
            .bearer_auth(&token)
            .send()
            .await
            .expect("get");
        assert_eq!(r.status().as_u16(), 404);
        let r = app
            .http
            .get(app.url("/api/v1/bookings/not-a-uuid"))
            .bearer_auth(&token)
            .send()
            .await
            .expect("get");
        assert_eq!(r.status().as_u16(), 404);
        app
    })
    .await;
}

#[tokio::test]
async fn every_event_carries_audit_metadata_and_a_position() {
    each_backend(|app| async move {
        let service = app.service_id("Retwist").await;
        let stylist = TestApp::stylist_id("Malik Johnson");
        let slot = app.first_slot(&service, &stylist).await;
        let r = app
            .http
            .post(app.url("/api/v1/bookings"))
            .header("x-request-id", "req-audit-1")
            .json(&booking_body(
                &service,
                &stylist,
                slot["start"].as_str().unwrap_or(""),
                "Audit",
            ))
            .send()
            .await
            .expect("post");
        assert_eq!(r.status().as_u16(), 201);
        assert_eq!(
            r.headers()
                .get("x-request-id")
                .and_then(|v| v.to_str().ok()),
            Some("req-audit-1")
        );
        let events = tests::events_eventually(&app.server.state.read, 16).await;
        let mut last = 0;
        for e in &events {
            assert!(e.at.position > last || app.db.backend == Backend::Postgres);
            last = e.at.position;
            let m = &e.metadata;
            assert!(
                m["actor"].is_string() && m["source"].is_string() && m["recorded_at"].is_string(),
                "{m}"
            );
        }
        let booked: Vec<_> = events
            .iter()
            .filter(|e| e.metadata["request_id"] == "req-audit-1")
            .collect();
        assert_eq!(
            booked
                .iter()
                .map(|e| e.event_type.as_str())
                .collect::<Vec<_>>(),
            ["SlotReserved", "BookingRequested", "BookingConfirmed"]
        );
        assert!(booked.iter().all(|e| e.metadata["actor"] == "client"
            && e.metadata["source"] == "api"
            && e.metadata["correlation_id"] == "req-audit-1"));
        app
    })
    .await;
}

#[tokio::test]
async fn booking_site_is_served_beside_the_api() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    for (path, ty) in [
        ("/", "text/html; charset=utf-8"),
        ("/app.js", "text/javascript; charset=utf-8"),
        ("/styles.css", "text/css; charset=utf-8"),
        ("/sw.js", "text/javascript; charset=utf-8"),
    ] {
        let r = app.get(path).await;
        assert_eq!(r.status().as_u16(), 200, "{path}");
        assert_eq!(r.headers()["content-type"], ty, "{path}");
        assert_eq!(r.headers()["cache-control"], "no-cache", "{path}");
        let etag = r.headers()["etag"].clone();
        let again = app
            .http
            .get(app.url(path))
            .header("if-none-match", etag)
            .send()
            .await
            .expect("revalidate");
        assert_eq!(again.status().as_u16(), 304, "{path}");
    }
    let html = app.get("/").await.text().await.expect("body");
    assert!(html.contains(r#"src="/app.js""#));
    // Paths that are neither a file of the site nor an API route still get problem+json.
    for path in ["/nope.js", "/api/v1/nope", "/app.js/x"] {
        let r = app.get(path).await;
        assert_eq!(r.status().as_u16(), 404, "{path}");
        assert!(is_problem(&r), "{path}");
    }
    app.stop().await;
}

#[tokio::test]
async fn availability_is_gzipped_for_clients_that_accept_it_and_identical_once_unpacked() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let service = app.service_id("Retwist").await;
    let today = chrono::Utc::now().date_naive();
    let path = format!(
        "/api/v1/availability?service={service}&from={}&to={}",
        today + chrono::Duration::days(1),
        today + chrono::Duration::days(14)
    );
    let plain = app.get(&path).await;
    assert!(plain.headers().get("content-encoding").is_none());
    let plain: Value = plain.json().await.expect("json");
    for _ in 0..2 {
        let r = app
            .http
            .get(app.url(&path))
            .header("Accept-Encoding", "br;q=1, gzip;q=0.8")
            .send()
            .await
            .expect("GET");
        assert_eq!(r.status().as_u16(), 200);
        assert_eq!(r.headers()["content-encoding"], "gzip");
        assert_eq!(r.headers()["vary"], "accept-encoding");
        let packed = r.bytes().await.expect("body");
        let mut text = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&packed[..]), &mut text)
            .expect("valid gzip");
        let unpacked: Value = serde_json::from_str(&text).expect("json");
        assert_eq!(unpacked, plain);
        assert!(packed.len() * 4 < text.len(), "it is worth compressing");
    }
    let refused = app
        .http
        .get(app.url(&path))
        .header("Accept-Encoding", "gzip;q=0, identity")
        .send()
        .await
        .expect("GET");
    assert!(refused.headers().get("content-encoding").is_none());
    app.stop().await;
}
