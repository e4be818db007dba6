//! The integrator API's conventions over HTTP, on SQLite and PostgreSQL (issue 6): full CRUD
//! on services, stylists (hours, time off) and bookings; auth (none, wrong, read-only,
//! revoked); DRF paging with its links at the edges; django-filter lookups, search and
//! ordering; ETag / If-Match with 412; the audit trail of every write (actor and X-Reason);
//! the read-only audit and event logs; rate limits.

use domain::token::Scope;
use reqwest::Method;
use serde_json::{json, Value};
use tests::{booking_body, Answer, TestApp, BACKENDS};

fn ids(body: &Value) -> Vec<String> {
    body["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| r["id"].as_str().unwrap_or("").to_string())
        .collect()
}

fn names(body: &Value) -> Vec<String> {
    body["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| r["name"].as_str().unwrap_or("").to_string())
        .collect()
}

async fn get(app: &TestApp, path: &str, token: Option<&str>) -> Answer {
    app.call(Method::GET, path, token, None, &[]).await
}

/// Reads every audit entry the API lists for `aggregate_id`.
async fn audit_of(app: &TestApp, token: &str, aggregate_id: &str) -> Vec<Value> {
    let a = get(
        app,
        &format!("/api/v1/audit?aggregate_id={aggregate_id}&ordering=position"),
        Some(token),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    a.body["results"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn services_are_listed_filtered_created_changed_and_archived() {
    for backend in BACKENDS {
        let app = TestApp::spawn(backend).await;
        let admin = app.token("admin", Scope::Write).await;
        let reader = app.token("reader", Scope::Read).await;

        // Public list: the menu, in menu order, with filters, search and ordering.
        let a = get(&app, "/api/v1/services", None).await;
        assert_eq!(a.body["count"], 6);
        assert_eq!(names(&a.body)[0], "Starter Locs");
        let a = get(
            &app,
            "/api/v1/services?price_cents__gte=9500&ordering=-price_cents",
            None,
        )
        .await;
        assert_eq!(names(&a.body), ["Starter Locs", "Interlocking", "Retwist"]);
        let a = get(&app, "/api/v1/services?search=LOCS", None).await;
        assert_eq!(
            names(&a.body),
            ["Starter Locs", "Loc Repair", "Loc Styling"]
        );
        let a = get(
            &app,
            "/api/v1/services?duration_minutes__in=30,60&ordering=name",
            None,
        )
        .await;
        assert_eq!(
            names(&a.body),
            ["Consultation", "Loc Repair", "Loc Styling"]
        );
        let a = get(
            &app,
            "/api/v1/services?deposit_cents=0&price_cents__lt=1",
            None,
        )
        .await;
        assert_eq!(names(&a.body), ["Consultation"]);
        // Paging: links at both edges and in the middle.
        let a = get(&app, "/api/v1/services?limit=2", None).await;
        assert_eq!(a.body["next"], "/api/v1/services?limit=2&offset=2");
        assert_eq!(a.body["previous"], Value::Null);
        let a = get(
            &app,
            "/api/v1/services?limit=2&offset=4&ordering=name",
            None,
        )
        .await;
        assert_eq!(a.body["next"], Value::Null);
        assert_eq!(
            a.body["previous"],
            "/api/v1/services?ordering=name&limit=2&offset=2"
        );
        assert_eq!(names(&a.body), ["Retwist", "Starter Locs"]);
        let a = get(&app, "/api/v1/services?offset=6", None).await;
        assert_eq!((a.body["count"].as_u64(), ids(&a.body).len()), (Some(6), 0));
        // Bad parameters are named.
        let a = get(
            &app,
            "/api/v1/services?colour=red&ordering=size&price_cents__gte=cheap&limit=0",
            None,
        )
        .await;
        assert_eq!(a.status, 422);
        assert_eq!(a.header("content-type"), "application/problem+json");
        assert_eq!(
            a.error_fields(),
            ["colour", "price_cents__gte", "limit", "ordering"]
        );

        // Writes need a write token.
        let new = json!({"name": "Loc Detox", "duration_minutes": 120, "price_cents": 11000, "deposit_cents": 3000});
        let a = app
            .call(Method::POST, "/api/v1/services", None, Some(&new), &[])
            .await;
        assert_eq!(a.status, 401);
        assert!(a.header("www-authenticate").starts_with("Bearer"));
        let a = app
            .call(
                Method::POST,
                "/api/v1/services",
                Some("salon_wrong"),
                Some(&new),
                &[],
            )
            .await;
        assert_eq!(a.status, 401);
        let a = app
            .call(
                Method::POST,
                "/api/v1/services",
                Some(&reader),
                Some(&new),
                &[],
            )
            .await;
        assert_eq!(a.status, 403);
        // Missing and invalid fields, all at once.
        let a = app
            .call(
                Method::POST,
                "/api/v1/services",
                Some(&admin),
                Some(&json!({"description": "x", "price_cents": -5})),
                &[],
            )
            .await;
        assert_eq!(a.status, 422);
        assert_eq!(
            a.error_fields(),
            ["name", "duration_minutes", "price_cents"]
        );
        let a = app
            .call(
                Method::POST,
                "/api/v1/services",
                Some(&admin),
                Some(&json!({"name": "X", "duration_minutes": 7, "price_cents": 100})),
                &[],
            )
            .await;
        assert_eq!(
            (a.status, a.error_fields()),
            (422, vec!["duration_minutes".to_string()])
        );

        // Create: 201, Location, ETag.
        let a = app
            .call(
                Method::POST,
                "/api/v1/services",
                Some(&admin),
                Some(&new),
                &[("X-Reason", "new menu item")],
            )
            .await;
        assert_eq!(a.status, 201, "{}", a.body);
        let id = a.body["id"].as_str().expect("id").to_string();
        assert_eq!(a.header("location"), format!("/api/v1/services/{id}"));
        assert_eq!(a.header("etag"), "\"1\"");
        assert_eq!(a.body["currency"], "USD");
        assert_eq!(a.body["active"], true);
        let path = format!("/api/v1/services/{id}");
        let a = get(&app, &path, None).await;
        assert_eq!((a.status, a.header("etag")), (200, "\"1\""));
        assert_eq!(a.body["deposit_cents"], 3000);

        // Change with If-Match: once at the version read, then refused as stale.
        let change = json!({"price_cents": 12000});
        let a = app
            .call(
                Method::PATCH,
                &path,
                Some(&admin),
                Some(&change),
                &[("If-Match", "\"1\""), ("X-Reason", "prices up")],
            )
            .await;
        assert_eq!((a.status, a.header("etag")), (200, "\"2\""), "{}", a.body);
        assert_eq!(a.body["price_cents"], 12000);
        assert_eq!(a.body["name"], "Loc Detox");
        let a = app
            .call(
                Method::PATCH,
                &path,
                Some(&admin),
                Some(&json!({"name": "Detox"})),
                &[("If-Match", "\"1\"")],
            )
            .await;
        assert_eq!(a.status, 412);
        assert_eq!(a.header("content-type"), "application/problem+json");
        assert_eq!(get(&app, &path, None).await.body["name"], "Loc Detox");
        // A weak tag never matches; `*` always does.
        let a = app
            .call(
                Method::PATCH,
                &path,
                Some(&admin),
                Some(&json!({"name": "Detox"})),
                &[("If-Match", "W/\"2\"")],
            )
            .await;
        assert_eq!(a.status, 412);
        let a = app
            .call(
                Method::PATCH,
                &path,
                Some(&admin),
                Some(&json!({"description": "Clarifying soak."})),
                &[("If-Match", "*")],
            )
            .await;
        assert_eq!((a.status, a.header("etag")), (200, "\"3\""));
        // Rules are checked against the current service: a deposit above the price.
        let a = app
            .call(
                Method::PATCH,
                &path,
                Some(&admin),
                Some(&json!({"deposit_cents": 20000})),
                &[],
            )
            .await;
        assert_eq!(
            (a.status, a.error_fields()),
            (422, vec!["deposit_cents".to_string()])
        );
        let a = app
            .call(
                Method::PATCH,
                &path,
                Some(&admin),
                Some(&json!({"colour": "red"})),
                &[],
            )
            .await;
        assert_eq!(a.status, 422);
        let a = app
            .call(
                Method::PATCH,
                &path,
                Some(&reader),
                Some(&json!({"name": "Y"})),
                &[],
            )
            .await;
        assert_eq!(a.status, 403);
        // Two changes to different fields at the same time both land.
        let (before, after) = (
            json!({"buffer_before_minutes": 5}),
            json!({"buffer_after_minutes": 20}),
        );
        let (x, y) = tokio::join!(
            app.call(Method::PATCH, &path, Some(&admin), Some(&before), &[]),
            app.call(Method::PATCH, &path, Some(&admin), Some(&after), &[]),
        );
        assert_eq!((x.status, y.status), (200, 200));
        let a = get(&app, &path, None).await;
        assert_eq!(
            (
                a.body["buffer_before_minutes"].as_i64(),
                a.body["buffer_after_minutes"].as_i64()
            ),
            (Some(5), Some(20))
        );
        assert_eq!(a.header("etag"), "\"5\"");

        // Delete archives: off the menu, still readable, back with active: true.
        let a = app
            .call(
                Method::DELETE,
                &path,
                Some(&admin),
                None,
                &[("If-Match", "\"4\"")],
            )
            .await;
        assert_eq!(a.status, 412);
        let a = app
            .call(
                Method::DELETE,
                &path,
                Some(&admin),
                None,
                &[("If-Match", "\"5\""), ("X-Reason", "seasonal")],
            )
            .await;
        assert_eq!((a.status, a.header("etag")), (204, "\"6\""));
        assert_eq!(get(&app, "/api/v1/services", None).await.body["count"], 6);
        let a = get(&app, "/api/v1/services?active=false", None).await;
        assert_eq!(ids(&a.body), std::slice::from_ref(&id));
        assert_eq!(
            get(&app, "/api/v1/services?active=all", None).await.body["count"],
            7
        );
        assert_eq!(
            get(&app, "/api/v1/services?active=maybe", None)
                .await
                .status,
            422
        );
        assert_eq!(get(&app, &path, None).await.body["active"], false);
        let a = app
            .call(Method::DELETE, &path, Some(&admin), None, &[])
            .await;
        assert_eq!(a.status, 204, "archiving again changes nothing");
        let a = app
            .call(
                Method::PATCH,
                &path,
                Some(&admin),
                Some(&json!({"active": true})),
                &[],
            )
            .await;
        assert_eq!((a.status, a.body["active"].as_bool()), (200, Some(true)));
        // Unknown and malformed ids.
        let a = app
            .call(
                Method::PATCH,
                "/api/v1/services/7d1c0a52-1d8e-4b1e-9a55-0c2f6f8e9b10",
                Some(&admin),
                Some(&change),
                &[],
            )
            .await;
        assert_eq!(a.status, 404);
        let a = app
            .call(
                Method::DELETE,
                "/api/v1/services/nope",
                Some(&admin),
                None,
                &[],
            )
            .await;
        assert_eq!(a.status, 404);

        // The audit trail names the token and the reasons.
        let trail = audit_of(&app, &admin, &id).await;
        let types: Vec<&str> = trail
            .iter()
            .map(|e| e["event_type"].as_str().unwrap_or(""))
            .collect();
        assert_eq!(
            types,
            [
                "ServiceCreated",
                "ServiceUpdated",
                "ServiceUpdated",
                "ServiceUpdated",
                "ServiceUpdated",
                "ServiceArchived",
                "ServiceRestored"
            ]
        );
        assert!(trail
            .iter()
            .all(|e| e["actor"] == "token:admin" && e["source"] == "api"));
        assert_eq!(trail[0]["reason"], "new menu item");
        assert_eq!(trail[1]["reason"], "prices up");
        assert_eq!(trail[5]["reason"], "seasonal");

        // A revoked token is refused.
        let tokens = get(&app, "/api/v1/tokens?search=admin", Some(&admin)).await;
        let admin_id = tokens.body["results"][0]["id"]
            .as_str()
            .expect("token id")
            .to_string();
        let other = app.token("other", Scope::Write).await;
        let a = app
            .call(
                Method::DELETE,
                &format!("/api/v1/tokens/{admin_id}"),
                Some(&other),
                None,
                &[],
            )
            .await;
        assert_eq!(a.status, 204);
        let a = app
            .call(
                Method::PATCH,
                &path,
                Some(&admin),
                Some(&json!({"name": "Z"})),
                &[],
            )
            .await;
        assert_eq!(a.status, 401);
        app.stop().await;
    }
}

#[tokio::test]
async fn stylists_are_created_with_hours_changed_given_time_off_and_archived() {
    for backend in BACKENDS {
        let app = TestApp::spawn(backend).await;
        let admin = app.token("admin", Scope::Write).await;
        let retwist = app.service_id("Retwist").await;
        let repair = app.service_id("Loc Repair").await;

        let a = get(
            &app,
            &format!("/api/v1/stylists?service={repair}&ordering=-name"),
            None,
        )
        .await;
        assert_eq!(
            names(&a.body),
            ["Malik Johnson", "Keisha Brown", "Amara Diallo"]
        );
        let starter = app.service_id("Starter Locs").await;
        let a = get(
            &app,
            &format!("/api/v1/stylists?service__in={starter},{retwist}&search=BRIDAL"),
            None,
        )
        .await;
        assert_eq!(names(&a.body), ["Keisha Brown"]);
        assert_eq!(
            get(&app, "/api/v1/stylists?service=nope%25", None)
                .await
                .status,
            422
        );

        // A stylist with services and a week, in one commit.
        let hours = json!({"mon": {"open": "09:00", "close": "17:00", "breaks": [{"start": "12:00", "end": "12:30"}]},
                           "tue": {"open": "09:00", "close": "17:00"}, "wed": {"open": "09:00", "close": "17:00"},
                           "thu": {"open": "09:00", "close": "17:00"}, "fri": {"open": "09:00", "close": "17:00"},
                           "sat": {"open": "09:00", "close": "17:00"}, "sun": {"open": "09:00", "close": "17:00"}});
        let new = json!({"name": "Nia Okafor", "bio": "Retwists.", "services": [retwist], "hours": hours});
        let bad = json!({"name": "", "services": ["7d1c0a52-1d8e-4b1e-9a55-0c2f6f8e9b10", "x"],
                         "hours": {"mon": {"open": "09:00", "close": "17:00", "breaks": [{"start": "08:00", "end": "09:30"}]}}});
        let a = app
            .call(
                Method::POST,
                "/api/v1/stylists",
                Some(&admin),
                Some(&bad),
                &[],
            )
            .await;
        assert_eq!(a.status, 422);
        assert_eq!(a.error_fields(), ["services[0]", "services[1]", "hours"]);
        let a = app
            .call(
                Method::POST,
                "/api/v1/stylists",
                Some(&admin),
                Some(&new),
                &[],
            )
            .await;
        assert_eq!((a.status, a.header("etag")), (201, "\"2\""), "{}", a.body);
        let id = a.body["id"].as_str().expect("id").to_string();
        assert_eq!(a.body["hours"]["mon"]["breaks"][0]["start"], "12:00");
        assert_eq!(a.body["services"], json!([retwist]));
        let path = format!("/api/v1/stylists/{id}");

        // Bookable at once: the new stylist has free Retwist slots.
        let from = (chrono::Utc::now().date_naive() + chrono::Duration::days(3)).to_string();
        let slots = app.slots(&retwist, Some(&id), &from, &from).await;
        assert!(!slots.is_empty());

        // Time off over that day: no slot; removed: the slots are back.
        let day_after = (chrono::Utc::now().date_naive() + chrono::Duration::days(4)).to_string();
        let off = json!({"start": from, "end": day_after, "reason": "Course"});
        let a = app
            .call(
                Method::POST,
                &format!("{path}/time-off"),
                Some(&admin),
                Some(&off),
                &[("If-Match", "\"2\"")],
            )
            .await;
        assert_eq!((a.status, a.header("etag")), (201, "\"3\""), "{}", a.body);
        let location = a.header("location").to_string();
        assert!(location.starts_with(&format!("{path}/time-off/")));
        assert_eq!(a.body["time_off"][0]["reason"], "Course");
        assert!(app
            .slots(&retwist, Some(&id), &from, &from)
            .await
            .is_empty());
        let a = app
            .call(
                Method::POST,
                &format!("{path}/time-off"),
                Some(&admin),
                Some(&off),
                &[],
            )
            .await;
        assert_eq!(a.status, 409, "overlapping time off");
        let a = app
            .call(
                Method::POST,
                &format!("{path}/time-off"),
                Some(&admin),
                Some(&json!({"start": day_after, "end": from})),
                &[],
            )
            .await;
        assert_eq!((a.status, a.error_fields()), (422, vec!["end".to_string()]));
        let a = app
            .call(
                Method::POST,
                &format!("{path}/time-off"),
                Some(&admin),
                Some(&json!({"start": "tomorrow"})),
                &[],
            )
            .await;
        assert_eq!(a.error_fields(), ["start", "end"]);
        let a = app
            .call(Method::DELETE, &location, Some(&admin), None, &[])
            .await;
        assert_eq!((a.status, a.header("etag")), (204, "\"4\""));
        assert_eq!(
            app.slots(&retwist, Some(&id), &from, &from).await.len(),
            slots.len()
        );
        let a = app
            .call(Method::DELETE, &location, Some(&admin), None, &[])
            .await;
        assert_eq!(a.status, 404);

        // A change: a day off and another service; stale If-Match refused.
        let change = json!({"hours": {"tue": {"open": "10:00", "close": "14:00"}}, "services": [retwist, repair], "bio": "Retwists and repairs."});
        let a = app
            .call(
                Method::PATCH,
                &path,
                Some(&admin),
                Some(&change),
                &[("If-Match", "\"2\"")],
            )
            .await;
        assert_eq!(a.status, 412);
        let a = app
            .call(
                Method::PATCH,
                &path,
                Some(&admin),
                Some(&change),
                &[("If-Match", "\"4\"")],
            )
            .await;
        assert_eq!((a.status, a.header("etag")), (200, "\"7\""), "{}", a.body);
        assert_eq!(
            a.body["hours"],
            json!({"tue": {"open": "10:00", "close": "14:00", "breaks": []}})
        );
        assert_eq!(a.body["bio"], "Retwists and repairs.");
        let a = app
            .call(
                Method::PATCH,
                &path,
                Some(&admin),
                Some(&json!({"hours": {"fri": {"open": "18:00", "close": "09:00"}}})),
                &[],
            )
            .await;
        assert_eq!(
            (a.status, a.error_fields()),
            (422, vec!["hours".to_string()])
        );
        let a = app
            .call(
                Method::PATCH,
                &path,
                Some(&admin),
                Some(&json!({"hours": {"fri": {"open": "9am", "close": "17:00"}}})),
                &[],
            )
            .await;
        assert_eq!(a.status, 422);

        // Archived: not listed, not bookable, still readable.
        let a = app
            .call(Method::DELETE, &path, Some(&admin), None, &[])
            .await;
        assert_eq!(a.status, 204);
        assert_eq!(get(&app, "/api/v1/stylists", None).await.body["count"], 3);
        assert_eq!(
            get(&app, "/api/v1/stylists?active=false", None).await.body["count"],
            1
        );
        assert_eq!(get(&app, &path, None).await.body["active"], false);
        let trail = audit_of(&app, &admin, &id).await;
        assert!(trail.iter().all(|e| e["actor"] == "token:admin"));
        assert_eq!(trail.len(), 8, "{trail:?}");
        app.stop().await;
    }
}

/// Books `n` appointments with the demo stylists, each a different client.
async fn book_some(app: &TestApp, n: usize) -> Vec<Value> {
    let service = app.service_id("Loc Repair").await;
    let today = chrono::Utc::now().date_naive();
    let from = (today + chrono::Duration::days(2)).to_string();
    let to = (today + chrono::Duration::days(20)).to_string();
    let slots = app.slots(&service, None, &from, &to).await;
    let mut booked = Vec::new();
    // Spread over the range: every seventh slot.
    for (i, slot) in slots.iter().step_by(7).take(n).enumerate() {
        let mut body = booking_body(
            &service,
            slot["stylist"].as_str().expect("stylist"),
            slot["start"].as_str().expect("start"),
            &format!("Client {i}"),
        );
        body["client"]["email"] = json!(format!("client{i}@example.com"));
        let (status, b) = app.post_booking(&body, None).await;
        assert_eq!(status, 201, "{b}");
        booked.push(b);
    }
    assert_eq!(booked.len(), n);
    booked
}

#[tokio::test]
async fn bookings_are_listed_filtered_changed_and_cancelled() {
    for backend in BACKENDS {
        let app = TestApp::spawn(backend).await;
        let admin = app.token("admin", Scope::Write).await;
        let reader = app.token("reader", Scope::Read).await;
        let booked = book_some(&app, 6).await;

        assert_eq!(get(&app, "/api/v1/bookings", None).await.status, 401);
        let a = get(&app, "/api/v1/bookings", Some(&reader)).await;
        assert_eq!((a.status, a.body["count"].as_u64()), (200, Some(6)));
        // By start time by default; the newest first when asked.
        let by_start: Vec<String> = booked
            .iter()
            .map(|b| b["id"].as_str().unwrap_or("").to_string())
            .collect();
        assert_eq!(ids(&a.body), by_start);
        let a = get(&app, "/api/v1/bookings?ordering=-start", Some(&reader)).await;
        let mut reversed = by_start.clone();
        reversed.reverse();
        assert_eq!(ids(&a.body), reversed);
        // Paging: every page from either end matches the whole list.
        for limit in [1, 4, 5] {
            let mut seen = Vec::new();
            let mut offset = 0;
            while offset < 6 {
                let a = get(
                    &app,
                    &format!("/api/v1/bookings?limit={limit}&offset={offset}"),
                    Some(&reader),
                )
                .await;
                assert_eq!(a.body["count"], 6);
                assert_eq!(
                    a.body["next"].is_null(),
                    offset + limit >= 6,
                    "limit {limit} offset {offset}"
                );
                assert_eq!(a.body["previous"].is_null(), offset == 0);
                seen.extend(ids(&a.body));
                offset += limit;
            }
            assert_eq!(seen, by_start, "limit {limit}");
        }
        // Filters.
        let first = &booked[0];
        let stylist = first["stylist"].as_str().expect("stylist");
        let a = get(
            &app,
            &format!("/api/v1/bookings?stylist={stylist}"),
            Some(&reader),
        )
        .await;
        let expected: Vec<String> = booked
            .iter()
            .filter(|b| b["stylist"] == stylist)
            .map(|b| b["id"].as_str().unwrap_or("").to_string())
            .collect();
        assert_eq!(ids(&a.body), expected);
        let a = get(&app, "/api/v1/bookings?search=CLIENT%203", Some(&reader)).await;
        assert_eq!(ids(&a.body), [by_start[3].clone()]);
        let a = get(
            &app,
            "/api/v1/bookings?client_email=client4@example.com",
            Some(&reader),
        )
        .await;
        assert_eq!(ids(&a.body), [by_start[4].clone()]);
        let day = &booked[2]["start"].as_str().expect("start")[..10];
        let a = get(
            &app,
            &format!("/api/v1/bookings?start__gte={day}"),
            Some(&reader),
        )
        .await;
        let later: Vec<String> = booked
            .iter()
            .filter(|b| &b["start"].as_str().unwrap_or("")[..10] >= day)
            .map(|b| b["id"].as_str().unwrap_or("").to_string())
            .collect();
        assert_eq!(ids(&a.body), later);
        let a = get(
            &app,
            &format!("/api/v1/bookings?start={day}"),
            Some(&reader),
        )
        .await;
        assert!(ids(&a.body).contains(&by_start[2]));
        let start = booked[2]["start"]
            .as_str()
            .expect("start")
            .replace('+', "%2B");
        let a = get(
            &app,
            &format!("/api/v1/bookings?start__lt={start}"),
            Some(&reader),
        )
        .await;
        assert_eq!(ids(&a.body), by_start[..2].to_vec());
        let a = get(&app, "/api/v1/bookings?status__in=confirmed,held&deposit_status=none&price_cents__gte=7500&created__gte=2020-01-01", Some(&reader)).await;
        assert_eq!(a.body["count"], 6);
        let a = get(
            &app,
            "/api/v1/bookings?status=maybe&start__gte=soon",
            Some(&reader),
        )
        .await;
        assert_eq!(
            (a.status, a.error_fields()),
            (422, vec!["status".to_string(), "start__gte".to_string()])
        );

        // PATCH: notes, with If-Match; stale refused; a move to another free time.
        let id = by_start[1].clone();
        let path = format!("/api/v1/bookings/{id}");
        let a = get(&app, &path, Some(&reader)).await;
        let etag = a.header("etag").to_string();
        assert!(etag.starts_with('"'), "{etag}");
        let a = app
            .call(
                Method::PATCH,
                &path,
                Some(&reader),
                Some(&json!({"notes": "x"})),
                &[],
            )
            .await;
        assert_eq!(a.status, 403);
        let a = app
            .call(
                Method::PATCH,
                &path,
                Some(&admin),
                Some(&json!({"notes": "Prefers a quiet chair"})),
                &[("If-Match", &etag), ("X-Reason", "client asked")],
            )
            .await;
        assert_eq!(a.status, 200, "{}", a.body);
        assert_eq!(a.body["notes"], "Prefers a quiet chair");
        let newer = a.header("etag").to_string();
        assert_ne!(newer, etag);
        let a = app
            .call(
                Method::PATCH,
                &path,
                Some(&admin),
                Some(&json!({"notes": null})),
                &[("If-Match", &etag)],
            )
            .await;
        assert_eq!(a.status, 412);
        let a = app
            .call(
                Method::PATCH,
                &path,
                Some(&admin),
                Some(&json!({})),
                &[("If-Match", &etag)],
            )
            .await;
        assert_eq!(a.status, 412, "an empty change still checks If-Match");
        let a = app
            .call(
                Method::PATCH,
                &path,
                Some(&admin),
                Some(&json!({"notes": null})),
                &[("If-Match", &newer)],
            )
            .await;
        assert_eq!((a.status, a.body["notes"].is_null()), (200, true));
        let service = app.service_id("Loc Repair").await;
        let free = app
            .first_slot(&service, booked[1]["stylist"].as_str().expect("stylist"))
            .await;
        let a = app
            .call(
                Method::PATCH,
                &path,
                Some(&admin),
                Some(&json!({"start": free["start"]})),
                &[],
            )
            .await;
        assert_eq!(a.status, 200, "{}", a.body);
        assert_eq!(a.body["start"], free["start"]);
        let taken = booked[0]["start"].clone();
        let a = app
            .call(
                Method::PATCH,
                &path,
                Some(&admin),
                Some(&json!({"start": "noon"})),
                &[],
            )
            .await;
        assert_eq!(
            (a.status, a.error_fields()),
            (422, vec!["start".to_string()])
        );
        if booked[0]["stylist"] == booked[1]["stylist"] {
            let a = app
                .call(
                    Method::PATCH,
                    &path,
                    Some(&admin),
                    Some(&json!({"start": taken})),
                    &[],
                )
                .await;
            assert_eq!(a.status, 409);
        }
        let a = app
            .call(
                Method::PATCH,
                &path,
                Some(&admin),
                Some(&json!({"status": "cancelled"})),
                &[],
            )
            .await;
        assert_eq!(a.status, 422, "status changes have their own actions");

        // DELETE cancels; the booking stays in the history.
        let a = app
            .call(
                Method::DELETE,
                &path,
                Some(&admin),
                None,
                &[("If-Match", "\"1\""), ("X-Reason", "double booked")],
            )
            .await;
        assert_eq!(a.status, 412);
        let a = app
            .call(
                Method::DELETE,
                &path,
                Some(&admin),
                None,
                &[("X-Reason", "double booked")],
            )
            .await;
        assert_eq!(a.status, 204);
        let a = get(&app, &path, Some(&reader)).await;
        assert_eq!(
            (a.body["status"].as_str(), a.body["cancelled_by"].as_str()),
            (Some("cancelled"), Some("owner"))
        );
        assert_eq!(
            app.call(Method::DELETE, &path, Some(&admin), None, &[])
                .await
                .status,
            409
        );
        assert_eq!(
            app.call(
                Method::DELETE,
                "/api/v1/bookings/7d1c0a52-1d8e-4b1e-9a55-0c2f6f8e9b10",
                Some(&admin),
                None,
                &[]
            )
            .await
            .status,
            404
        );
        let a = get(&app, "/api/v1/bookings?status=cancelled", Some(&reader)).await;
        assert_eq!(ids(&a.body), std::slice::from_ref(&id));
        let trail = audit_of(&app, &admin, &id).await;
        let by_token: Vec<(&str, &str)> = trail
            .iter()
            .filter(|e| e["actor"] == "token:admin")
            .map(|e| {
                (
                    e["event_type"].as_str().unwrap_or(""),
                    e["reason"].as_str().unwrap_or(""),
                )
            })
            .collect();
        assert_eq!(
            by_token,
            [
                ("BookingNotesChanged", "client asked"),
                ("BookingNotesChanged", ""),
                ("BookingRescheduled", ""),
                ("BookingCancelled", "double booked")
            ]
        );
        app.stop().await;
    }
}

#[tokio::test]
async fn the_audit_and_event_logs_are_listed_with_filters() {
    for backend in BACKENDS {
        let app = TestApp::spawn(backend).await;
        let reader = app.token("reader", Scope::Read).await;
        let admin = app.token("admin", Scope::Write).await;
        let new = json!({"name": "Loc Detox", "duration_minutes": 120, "price_cents": 11000});
        let created = app
            .call(
                Method::POST,
                "/api/v1/services",
                Some(&admin),
                Some(&new),
                &[("X-Reason", "spring menu")],
            )
            .await;
        let id = created.body["id"].as_str().expect("id").to_string();

        assert_eq!(get(&app, "/api/v1/events", None).await.status, 401);
        assert_eq!(get(&app, "/api/v1/audit", None).await.status, 401);
        // The log in order; filters by type, actor, aggregate, time and position.
        let all = get(&app, "/api/v1/events?limit=1000", Some(&reader)).await;
        let count = all.body["count"].as_u64().expect("count");
        let positions: Vec<i64> = all.body["results"]
            .as_array()
            .expect("results")
            .iter()
            .map(|e| e["position"].as_i64().unwrap_or(0))
            .collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]));
        let a = get(&app, "/api/v1/events?type=ServiceCreated", Some(&reader)).await;
        assert_eq!(a.body["count"], 7);
        let a = get(&app, "/api/v1/events?actor=token:admin", Some(&reader)).await;
        assert_eq!(a.body["count"], 1);
        let e = &a.body["results"][0];
        assert_eq!(
            (e["aggregate_id"].as_str(), e["event_type"].as_str()),
            (Some(id.as_str()), Some("ServiceCreated"))
        );
        assert_eq!(e["metadata"]["reason"], "spring menu");
        assert_eq!(
            e["payload"]["ServiceCreated"]["details"]["name"],
            "Loc Detox"
        );
        let a = get(
            &app,
            &format!("/api/v1/events?aggregate_type=Service&aggregate_id={id}&source=api"),
            Some(&reader),
        )
        .await;
        assert_eq!(a.body["count"], 1);
        let today = chrono::Utc::now().date_naive();
        let a = get(
            &app,
            &format!(
                "/api/v1/events?recorded__gte={}",
                today - chrono::Duration::days(1)
            ),
            Some(&reader),
        )
        .await;
        assert_eq!(a.body["count"].as_u64(), Some(count));
        let a = get(
            &app,
            &format!(
                "/api/v1/events?recorded__gte={}",
                today + chrono::Duration::days(2)
            ),
            Some(&reader),
        )
        .await;
        assert_eq!(a.body["count"], 0);
        let last = positions[positions.len() - 2];
        let a = get(
            &app,
            &format!("/api/v1/events?position__gt={last}"),
            Some(&reader),
        )
        .await;
        assert_eq!(a.body["count"], 1);
        let a = get(&app, "/api/v1/events?colour=red", Some(&reader)).await;
        assert_eq!(
            (a.status, a.error_fields()),
            (422, vec!["colour".to_string()])
        );

        // The audit log: newest first, in words; filters and search. (Its projection may be a
        // moment behind the log.)
        let mut a = get(&app, "/api/v1/audit?limit=1", Some(&reader)).await;
        for _ in 0..100 {
            if a.body["count"].as_u64() == Some(count) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            a = get(&app, "/api/v1/audit?limit=1", Some(&reader)).await;
        }
        assert_eq!(a.body["count"].as_u64(), Some(count));
        assert_eq!(a.body["results"][0]["event_type"], "ServiceCreated");
        assert!(a.body["results"][0]["summary"]
            .as_str()
            .unwrap_or("")
            .contains("Loc Detox"));
        let a = get(&app, "/api/v1/audit?search=SPRING%20MENU&actor__in=token:admin,owner&source=api&type__in=ServiceCreated", Some(&reader)).await;
        assert_eq!(a.body["count"], 1);
        // Pages read from either end agree with the whole list, both ways round.
        for ordering in ["position", "-position"] {
            let whole = get(
                &app,
                &format!("/api/v1/audit?limit=1000&ordering={ordering}"),
                Some(&reader),
            )
            .await;
            let whole: Vec<i64> = whole.body["results"]
                .as_array()
                .expect("results")
                .iter()
                .map(|e| e["position"].as_i64().unwrap_or(0))
                .collect();
            let mut paged = Vec::new();
            let mut offset = 0;
            while (offset as u64) < count {
                let a = get(
                    &app,
                    &format!("/api/v1/audit?limit=7&offset={offset}&ordering={ordering}"),
                    Some(&reader),
                )
                .await;
                paged.extend(
                    a.body["results"]
                        .as_array()
                        .expect("results")
                        .iter()
                        .map(|e| e["position"].as_i64().unwrap_or(0)),
                );
                offset += 7;
            }
            assert_eq!(paged, whole, "{ordering}");
        }
        app.stop().await;
    }
}

#[tokio::test]
async fn bookings_per_address_and_calls_per_token_are_rate_limited() {
    let db = tests::ScratchDb::new(migrations::Backend::Sqlite).await;
    let app = TestApp::spawn_with(db, |c| {
        c.booking_rate = api::limit::Rate::new(60, 2);
        c.token_rate = api::limit::Rate::new(60, 3);
    })
    .await;
    let bad = json!({"service": "nope"});
    for _ in 0..2 {
        let a = app
            .call(Method::POST, "/api/v1/bookings", None, Some(&bad), &[])
            .await;
        assert_eq!(a.status, 422);
    }
    let a = app
        .call(Method::POST, "/api/v1/bookings", None, Some(&bad), &[])
        .await;
    assert_eq!(a.status, 429);
    assert_eq!(a.header("content-type"), "application/problem+json");
    assert_eq!(a.header("retry-after"), "1");
    assert!(a.body["detail"]
        .as_str()
        .unwrap_or("")
        .contains("bookings from this address"));
    // Reading is not limited by the booking limit.
    assert_eq!(get(&app, "/api/v1/services", None).await.status, 200);

    let token = app.token("busy", Scope::Read).await;
    let other = app.token("calm", Scope::Read).await;
    for _ in 0..3 {
        assert_eq!(
            get(&app, "/api/v1/bookings", Some(&token)).await.status,
            200
        );
    }
    let a = get(&app, "/api/v1/bookings", Some(&token)).await;
    assert_eq!(a.status, 429);
    assert!(a.header("retry-after").parse::<u32>().is_ok_and(|s| s >= 1));
    // Another token has its own allowance.
    assert_eq!(
        get(&app, "/api/v1/bookings", Some(&other)).await.status,
        200
    );
    // A second later one more call is allowed again.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(
        get(&app, "/api/v1/bookings", Some(&token)).await.status,
        200
    );
    app.stop().await;
}

#[tokio::test]
async fn calendar_sources_and_webhooks_send_etags_and_honour_if_match() {
    for backend in BACKENDS {
        let app = TestApp::spawn(backend).await;
        let admin = app.token("admin", Scope::Write).await;
        let stylist = TestApp::stylist_id("Amara Diallo");
        let source = json!({"kind": "caldav", "stylist": stylist, "url": "http://127.0.0.1:9/cal/", "name": "Amara's"});
        let a = app
            .call(
                Method::POST,
                "/api/v1/calendar-sources",
                Some(&admin),
                Some(&source),
                &[],
            )
            .await;
        assert_eq!(a.status, 201, "{}", a.body);
        let path = format!(
            "/api/v1/calendar-sources/{}",
            a.body["id"].as_str().expect("id")
        );
        // The first sync runs in the background and records its outcome on the source (a
        // new version): wait for it, so the version read below is not moved by it.
        let mut a = get(&app, &path, Some(&admin)).await;
        for _ in 0..200 {
            if a.body["status"] != "pending" {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
            a = get(&app, &path, Some(&admin)).await;
        }
        assert_eq!(a.body["status"], "failing", "{}", a.body);
        let etag = a.header("etag").to_string();
        let change = json!({"name": "Amara (iCloud)"});
        let a = app
            .call(
                Method::PATCH,
                &path,
                Some(&admin),
                Some(&change),
                &[("If-Match", &etag)],
            )
            .await;
        assert_eq!(a.status, 200, "{}", a.body);
        assert_ne!(a.header("etag"), etag);
        let change = json!({"sync_minutes": 10});
        let a = app
            .call(
                Method::PATCH,
                &path,
                Some(&admin),
                Some(&change),
                &[("If-Match", &etag)],
            )
            .await;
        assert_eq!(a.status, 412);
        assert_eq!(get(&app, &path, Some(&admin)).await.body["sync_minutes"], 5);

        let hook = json!({"url": "http://127.0.0.1:9/hook", "events": ["BookingConfirmed"]});
        let a = app
            .call(
                Method::POST,
                "/api/v1/webhooks",
                Some(&admin),
                Some(&hook),
                &[],
            )
            .await;
        assert_eq!(a.status, 201, "{}", a.body);
        let path = format!("/api/v1/webhooks/{}", a.body["id"].as_str().expect("id"));
        let etag = get(&app, &path, Some(&admin))
            .await
            .header("etag")
            .to_string();
        let a = app
            .call(
                Method::PATCH,
                &path,
                Some(&admin),
                Some(&json!({"description": "CRM"})),
                &[("If-Match", &etag)],
            )
            .await;
        assert_eq!(a.status, 200, "{}", a.body);
        assert_ne!(a.header("etag"), etag);
        let a = app
            .call(
                Method::PATCH,
                &path,
                Some(&admin),
                Some(&json!({"active": false})),
                &[("If-Match", &etag)],
            )
            .await;
        assert_eq!(a.status, 412);
        assert_eq!(get(&app, &path, Some(&admin)).await.body["active"], true);
        app.stop().await;
    }
}

#[tokio::test]
async fn errors_are_problem_json_for_every_status() {
    let app = TestApp::spawn(migrations::Backend::Sqlite).await;
    let admin = app.token("admin", Scope::Write).await;
    let problem = |a: &Answer, status: u16| {
        assert_eq!(a.status, status, "{}", a.body);
        assert_eq!(a.header("content-type"), "application/problem+json");
        assert_eq!(a.body["status"], status);
        assert!(a.body["title"].is_string() && a.body["detail"].is_string());
    };
    problem(&get(&app, "/api/v1/nothing-here", None).await, 404);
    problem(
        &app.call(Method::PUT, "/api/v1/services", Some(&admin), None, &[])
            .await,
        405,
    );
    problem(
        &app.call(
            Method::GET,
            "/api/v1/services",
            None,
            None,
            &[("Accept", "text/html")],
        )
        .await,
        406,
    );
    let a = app
        .call(
            Method::GET,
            "/api/v1/services",
            None,
            None,
            &[("Accept", "text/html, application/json;q=0.8")],
        )
        .await;
    assert_eq!(a.status, 200);
    let big = json!({"name": "x".repeat(70_000), "duration_minutes": 30, "price_cents": 1});
    problem(
        &app.call(
            Method::POST,
            "/api/v1/services",
            Some(&admin),
            Some(&big),
            &[],
        )
        .await,
        413,
    );
    let r = app
        .http
        .post(app.url("/api/v1/services"))
        .bearer_auth(&admin)
        .header("content-type", "text/plain")
        .body("name=x")
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status().as_u16(), 415);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    problem(
        &app.call(
            Method::GET,
            "/api/v1/services?limit=1&limit=2",
            None,
            None,
            &[],
        )
        .await,
        400,
    );
    problem(
        &app.call(Method::GET, "/api/v1/services?limit=lots", None, None, &[])
            .await,
        422,
    );
    app.stop().await;
}
