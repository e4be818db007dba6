//! Reviews over HTTP, on SQLite and PostgreSQL (issues 6 and 7): the client's signed-link path
//! after a completed visit (bad link, not completed, one review per booking), the public list
//! (approved only, no contact details), entering, moderating with ETag/If-Match and archiving
//! with a token, every filter, ordering and paging edge, auth, and the audit trail.

use domain::booking::BookingCommand;
use domain::ids::BookingId;
use domain::metadata::{EventMetadata, Source};
use domain::token::Scope;
use reqwest::Method;
use serde_json::{json, Value};
use tests::{TestApp, BACKENDS};

async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
    headers: &[(&str, &str)],
) -> (u16, Value, reqwest::header::HeaderMap) {
    let mut req = app.http.request(method, app.url(path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.expect("request");
    let status = r.status().as_u16();
    assert!(status < 500, "{path}: {status}");
    let headers = r.headers().clone();
    (status, r.json().await.unwrap_or(Value::Null), headers)
}

async fn get(app: &TestApp, path: &str, token: Option<&str>) -> Value {
    let (status, body, _) = call(app, Method::GET, path, token, None, &[]).await;
    assert_eq!(status, 200, "{path}: {body}");
    body
}

fn ratings(list: &Value) -> Vec<i64> {
    list["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["rating"].as_i64().unwrap())
        .collect()
}

/// Books `n` visits with `stylist` on distinct days; `completed` of them are then completed as
/// if their time had come.
async fn visits(
    app: &TestApp,
    stylist: &str,
    n: usize,
    completed: usize,
) -> Vec<(BookingId, Value)> {
    let service = app.service_id("Retwist").await;
    let today = chrono::Utc::now().date_naive();
    let from = (today + chrono::Duration::days(2)).to_string();
    let to = (today + chrono::Duration::days(40)).to_string();
    let mut days: Vec<String> = Vec::new();
    let mut out = Vec::new();
    for slot in app.slots(&service, Some(stylist), &from, &to).await {
        let day = slot["start"].as_str().unwrap()[..10].to_string();
        if days.contains(&day) {
            continue;
        }
        days.push(day);
        let body = json!({
            "service": service, "stylist": stylist, "start": slot["start"],
            "client": {"name": "Ada Lovelace", "email": "ada@example.com", "phone": "(212) 555-0142"},
        });
        let (status, booking) = app.post_booking(&body, None).await;
        assert_eq!(status, 201, "{booking}");
        let id = BookingId::parse(booking["id"].as_str().unwrap()).unwrap();
        if out.len() < completed {
            let start = chrono::DateTime::parse_from_rfc3339(booking["start"].as_str().unwrap())
                .unwrap()
                .with_timezone(&chrono::Utc);
            let meta = EventMetadata::new("owner", Source::Panel);
            app.server
                .state
                .bus
                .change_booking(
                    id,
                    BookingCommand::Complete {
                        now: start + chrono::Duration::hours(2),
                    },
                    &meta,
                )
                .await
                .expect("complete");
        }
        out.push((id, booking));
        if out.len() == n {
            break;
        }
    }
    assert_eq!(out.len(), n);
    out
}

async fn metadata_of(app: &TestApp, aggregate: &str, event_type: &str) -> String {
    sqlx::query_scalar(
        "SELECT CAST(metadata AS TEXT) FROM events WHERE aggregate_id = $1 AND event_type = $2",
    )
    .bind(aggregate.to_string())
    .bind(event_type.to_string())
    .fetch_one(app.server.state.read.pool())
    .await
    .unwrap()
}

#[tokio::test]
async fn a_client_reviews_a_completed_visit_once_through_the_signed_link() {
    for backend in BACKENDS {
        let app = TestApp::spawn(backend).await;
        let stylist = TestApp::stylist_id("Amara Diallo");
        let booked = visits(&app, &stylist, 2, 1).await;
        let (done, done_booking) = &booked[0];
        let (open, open_booking) = &booked[1];
        let links = &app.server.state.links;
        let review =
            json!({"rating": 5, "text": "Best retwist I've had.", "display_name": "Ada L."});
        let path = |id: &BookingId| format!("/api/v1/bookings/{id}/review");

        // No token 401; a wrong one, another booking's, or the manage link's: 403.
        let (status, _, headers) = call(
            &app,
            Method::POST,
            &path(done),
            None,
            Some(review.clone()),
            &[],
        )
        .await;
        assert_eq!(status, 401);
        assert!(headers.contains_key("www-authenticate"));
        let manage_token = done_booking["manage_url"]
            .as_str()
            .unwrap()
            .split("token=")
            .nth(1)
            .unwrap()
            .to_string();
        for bad in ["deadbeef", &links.sign_review(*open), &manage_token] {
            let (status, body, _) = call(
                &app,
                Method::POST,
                &format!("{}?token={bad}", path(done)),
                None,
                Some(review.clone()),
                &[],
            )
            .await;
            assert_eq!(status, 403, "{bad}: {body}");
        }
        // An id that is no booking (with a token signed for it): 404; not a UUID: 404.
        let ghost = BookingId::new();
        let (status, _, _) = call(
            &app,
            Method::POST,
            &format!("{}?token={}", path(&ghost), links.sign_review(ghost)),
            None,
            Some(review.clone()),
            &[],
        )
        .await;
        assert_eq!(status, 404);
        let (status, _, _) = call(
            &app,
            Method::POST,
            "/api/v1/bookings/nope/review?token=x",
            None,
            Some(review.clone()),
            &[],
        )
        .await;
        assert_eq!(status, 404);
        // Not completed yet: 409.
        let (status, body, _) = call(
            &app,
            Method::POST,
            &format!("{}?token={}", path(open), links.sign_review(*open)),
            None,
            Some(review.clone()),
            &[],
        )
        .await;
        assert_eq!(status, 409, "{body}");
        assert!(body["type"].as_str().unwrap().ends_with("not-completed"));
        assert_eq!(open_booking["status"], "confirmed");
        // Bad fields: 422 with each named.
        let (status, body, _) = call(
            &app,
            Method::POST,
            &format!("{}?token={}", path(done), links.sign_review(*done)),
            None,
            Some(json!({"rating": 9, "display_name": " "})),
            &[],
        )
        .await;
        assert_eq!(status, 422, "{body}");
        let fields: Vec<&str> = body["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        assert_eq!(fields, ["rating", "display_name"]);

        // The review: 201, pending, shown as the public sees it (the header works too).
        let (status, mine, headers) = call(
            &app,
            Method::POST,
            &path(done),
            None,
            Some(review.clone()),
            &[("X-Review-Token", &links.sign_review(*done))],
        )
        .await;
        assert_eq!(status, 201, "{mine}");
        assert_eq!(mine["status"], "pending");
        assert_eq!(mine["rating"], 5);
        assert_eq!(mine["stylist"], json!(stylist));
        assert!(
            mine.get("client").is_none() && mine.get("booking").is_none(),
            "{mine}"
        );
        let id = mine["id"].as_str().unwrap().to_string();
        assert_eq!(
            headers["location"].to_str().unwrap(),
            format!("/api/v1/reviews/{id}")
        );
        let meta: Value =
            serde_json::from_str(&metadata_of(&app, &id, "ReviewSubmitted").await).unwrap();
        assert_eq!(meta["actor"], "client");
        assert_eq!(meta["source"], "spa");
        // Once per booking: 409 however it comes.
        let (status, body, _) = call(
            &app,
            Method::POST,
            &format!("{}?token={}", path(done), links.sign_review(*done)),
            None,
            Some(review.clone()),
            &[],
        )
        .await;
        assert_eq!(status, 409, "{body}");
        assert!(body["type"].as_str().unwrap().ends_with("already-reviewed"));
        let write = app.token("desk", Scope::Write).await;
        let (status, _, _) = call(
            &app,
            Method::POST,
            "/api/v1/reviews",
            Some(&write),
            Some(json!({"booking": done.to_string(), "rating": 1, "display_name": "x"})),
            &[],
        )
        .await;
        assert_eq!(status, 409);

        // Pending: not public; the salon sees it with the client's record.
        let public = get(&app, "/api/v1/reviews", None).await;
        assert_eq!(public["count"], 0);
        let (status, _, _) = call(
            &app,
            Method::GET,
            &format!("/api/v1/reviews/{id}"),
            None,
            None,
            &[],
        )
        .await;
        assert_eq!(status, 404);
        let full = get(&app, &format!("/api/v1/reviews/{id}"), Some(&write)).await;
        assert_eq!(full["client_email"], "ada@example.com");
        assert_eq!(full["booking"], json!(done.to_string()));

        // Approved with a reply: public, without contact details.
        let (status, approved, _) = call(
            &app,
            Method::PATCH,
            &format!("/api/v1/reviews/{id}"),
            Some(&write),
            Some(json!({"status": "approved", "reply": "Thank you, Ada!"})),
            &[("X-Reason", "lovely")],
        )
        .await;
        assert_eq!(status, 200, "{approved}");
        assert_eq!(approved["reply"], "Thank you, Ada!");
        let public = get(&app, "/api/v1/reviews?status=approved", None).await;
        assert_eq!(public["count"], 1);
        let text = public.to_string();
        for private in ["ada@example.com", "+1212", "client", "booking", "Lovelace"] {
            assert!(!text.contains(private), "{private} in {text}");
        }
        assert_eq!(public["results"][0]["display_name"], "Ada L.");
        let one = get(&app, &format!("/api/v1/reviews/{id}"), None).await;
        assert!(one.get("client_email").is_none());
        // Asking the public list for other statuses shows approved ones only; filtering by
        // client or booking needs a token.
        assert_eq!(
            get(&app, "/api/v1/reviews?status=pending", None).await["count"],
            0
        );
        let (status, _, _) = call(
            &app,
            Method::GET,
            &format!("/api/v1/reviews?booking={done}"),
            None,
            None,
            &[],
        )
        .await;
        assert_eq!(status, 401);
        let meta = metadata_of(&app, &id, "ReviewApproved").await;
        assert!(
            meta.contains("token:desk") && meta.contains("lovely"),
            "{meta}"
        );
        app.stop().await;
    }
}

#[tokio::test]
async fn reviews_are_entered_moderated_filtered_paged_and_archived_by_token() {
    for backend in BACKENDS {
        let app = TestApp::spawn(backend).await;
        let write = app.token("desk", Scope::Write).await;
        let read = app.token("viewer", Scope::Read).await;
        let amara = TestApp::stylist_id("Amara Diallo");
        let keisha = TestApp::stylist_id("Keisha Brown");
        let retwist = app.service_id("Retwist").await;
        let booked = visits(&app, &amara, 2, 1).await;

        // Auth.
        let entry = json!({"stylist": keisha, "rating": 4, "text": "Quick and kind.", "display_name": "Grace"});
        let (status, _, headers) = call(
            &app,
            Method::POST,
            "/api/v1/reviews",
            None,
            Some(entry.clone()),
            &[],
        )
        .await;
        assert_eq!(status, 401);
        assert!(headers.contains_key("www-authenticate"));
        for token in ["salon_wrong", read.as_str()] {
            let (status, _, _) = call(
                &app,
                Method::POST,
                "/api/v1/reviews",
                Some(token),
                Some(entry.clone()),
                &[],
            )
            .await;
            assert_eq!(status, if token == read { 403 } else { 401 });
        }
        let (status, _, _) = call(
            &app,
            Method::GET,
            "/api/v1/reviews",
            Some("salon_wrong"),
            None,
            &[],
        )
        .await;
        assert_eq!(status, 401, "a wrong token is never silently public");
        // A revoked token is refused for reading and for writing.
        let doomed = app.token("doomed", Scope::Write).await;
        let tokens = get(&app, "/api/v1/tokens?search=doomed", Some(&write)).await;
        let doomed_id = tokens["results"][0]["id"].as_str().unwrap().to_string();
        let (status, _, _) = call(
            &app,
            Method::DELETE,
            &format!("/api/v1/tokens/{doomed_id}"),
            Some(&write),
            None,
            &[],
        )
        .await;
        assert_eq!(status, 204);
        for method in [Method::GET, Method::POST] {
            let body = (method == Method::POST).then(|| entry.clone());
            let (status, _, _) =
                call(&app, method, "/api/v1/reviews", Some(&doomed), body, &[]).await;
            assert_eq!(status, 401);
        }

        // Bad input.
        for (body, field) in [
            (json!({"rating": 4, "display_name": "G"}), "booking"),
            (
                json!({"stylist": keisha, "rating": 0, "display_name": "G"}),
                "rating",
            ),
            (json!({"stylist": keisha, "rating": 3}), "display_name"),
            (
                json!({"stylist": "nope", "rating": 3, "display_name": "G"}),
                "stylist",
            ),
            (
                json!({"stylist": uuid::Uuid::new_v4(), "rating": 3, "display_name": "G"}),
                "stylist",
            ),
            (
                json!({"stylist": keisha, "service": uuid::Uuid::new_v4(), "rating": 3, "display_name": "G"}),
                "service",
            ),
            (
                json!({"booking": booked[0].0.to_string(), "stylist": keisha, "rating": 3, "display_name": "G"}),
                "stylist",
            ),
        ] {
            let (status, bad, _) = call(
                &app,
                Method::POST,
                "/api/v1/reviews",
                Some(&write),
                Some(body.clone()),
                &[],
            )
            .await;
            assert_eq!(status, 422, "{body}: {bad}");
            assert!(
                bad["errors"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|e| e["field"] == field),
                "{body}: {bad}"
            );
        }
        // A booking not completed: 409; one that is no booking: 404.
        let (status, _, _) = call(
            &app,
            Method::POST,
            "/api/v1/reviews",
            Some(&write),
            Some(json!({"booking": booked[1].0.to_string(), "rating": 3, "display_name": "A"})),
            &[],
        )
        .await;
        assert_eq!(status, 409);
        let (status, _, _) = call(
            &app,
            Method::POST,
            "/api/v1/reviews",
            Some(&write),
            Some(json!({"booking": uuid::Uuid::new_v4(), "rating": 3, "display_name": "A"})),
            &[],
        )
        .await;
        assert_eq!(status, 404);

        // Three reviews: Keisha 4★ (no booking), Keisha 2★ retwist, Amara 5★ of the visit.
        let mut ids = Vec::new();
        for body in [
            entry.clone(),
            json!({"stylist": keisha, "service": retwist, "rating": 2, "text": "Late start.", "display_name": "Sam"}),
            json!({"booking": booked[0].0.to_string(), "rating": 5, "display_name": "Ada L."}),
        ] {
            let (status, created, headers) = call(
                &app,
                Method::POST,
                "/api/v1/reviews",
                Some(&write),
                Some(body),
                &[("X-Reason", "from the guest book")],
            )
            .await;
            assert_eq!(status, 201, "{created}");
            assert!(headers.contains_key("etag") && headers.contains_key("location"));
            ids.push(created["id"].as_str().unwrap().to_string());
        }
        let meta = metadata_of(&app, &ids[0], "ReviewSubmitted").await;
        assert!(
            meta.contains("token:desk") && meta.contains("from the guest book"),
            "{meta}"
        );
        let visit_review = get(&app, &format!("/api/v1/reviews/{}", ids[2]), Some(&read)).await;
        assert_eq!(visit_review["stylist"], json!(amara));
        assert_eq!(visit_review["service"], json!(retwist));
        assert_eq!(visit_review["client_email"], "ada@example.com");

        // Moderation with ETags: a stale If-Match is 412 and changes nothing.
        let (status, _, headers) = call(
            &app,
            Method::GET,
            &format!("/api/v1/reviews/{}", ids[0]),
            Some(&read),
            None,
            &[],
        )
        .await;
        assert_eq!(status, 200);
        let etag = headers["etag"].to_str().unwrap().to_string();
        let (status, body, headers) = call(
            &app,
            Method::PATCH,
            &format!("/api/v1/reviews/{}", ids[0]),
            Some(&write),
            Some(json!({"status": "approved"})),
            &[("If-Match", &etag)],
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_ne!(headers["etag"].to_str().unwrap(), etag);
        let (status, _, _) = call(
            &app,
            Method::PATCH,
            &format!("/api/v1/reviews/{}", ids[0]),
            Some(&write),
            Some(json!({"status": "hidden"})),
            &[("If-Match", &etag)],
        )
        .await;
        assert_eq!(status, 412);
        assert_eq!(
            get(&app, &format!("/api/v1/reviews/{}", ids[0]), Some(&read)).await["status"],
            "approved"
        );
        for (body, code) in [
            (json!({"status": "pending"}), 422),
            (json!({"status": "gone"}), 422),
            (json!({"reply": "x".repeat(2001)}), 422),
            (json!({"stars": 5}), 422),
        ] {
            let (status, b, _) = call(
                &app,
                Method::PATCH,
                &format!("/api/v1/reviews/{}", ids[0]),
                Some(&write),
                Some(body.clone()),
                &[],
            )
            .await;
            assert_eq!(status, code, "{body}: {b}");
        }
        let (status, _, _) = call(
            &app,
            Method::PATCH,
            &format!("/api/v1/reviews/{}", ids[1]),
            Some(&read),
            Some(json!({"status": "hidden"})),
            &[],
        )
        .await;
        assert_eq!(status, 403);
        let (status, _, _) = call(
            &app,
            Method::PATCH,
            &format!("/api/v1/reviews/{}", ids[1]),
            Some(&write),
            Some(json!({"status": "hidden"})),
            &[],
        )
        .await;
        assert_eq!(status, 200);
        // Now: [0] Keisha 4★ approved, [1] Keisha 2★ hidden, [2] Amara 5★ pending.

        // Filters and ordering (default newest first).
        let list = |q: &str| format!("/api/v1/reviews{q}");
        assert_eq!(ratings(&get(&app, &list(""), Some(&read)).await), [5, 2, 4]);
        assert_eq!(
            ratings(&get(&app, &list("?ordering=rating"), Some(&read)).await),
            [2, 4, 5]
        );
        assert_eq!(
            ratings(&get(&app, &list("?ordering=-rating"), Some(&read)).await),
            [5, 4, 2]
        );
        assert_eq!(
            ratings(&get(&app, &list("?ordering=created_at"), Some(&read)).await),
            [4, 2, 5]
        );
        assert_eq!(
            ratings(&get(&app, &list(&format!("?stylist={keisha}")), Some(&read)).await),
            [2, 4]
        );
        assert_eq!(
            ratings(&get(&app, &list(&format!("?service={retwist}")), Some(&read)).await),
            [5, 2]
        );
        assert_eq!(
            ratings(
                &get(
                    &app,
                    &list(&format!("?booking={}", booked[0].0)),
                    Some(&read)
                )
                .await
            ),
            [5]
        );
        let ada = domain::ids::ClientId::for_email(
            &domain::values::Email::parse("ada@example.com").unwrap(),
        );
        assert_eq!(
            ratings(&get(&app, &list(&format!("?client={ada}")), Some(&read)).await),
            [5]
        );
        assert_eq!(
            ratings(
                &get(
                    &app,
                    &list(&format!("?stylist__in={amara},{keisha}&rating__in=2,5")),
                    Some(&read)
                )
                .await
            ),
            [5, 2]
        );
        assert_eq!(
            ratings(&get(&app, &list("?status=pending"), Some(&read)).await),
            [5]
        );
        assert_eq!(
            ratings(&get(&app, &list("?status__in=pending,hidden"), Some(&read)).await),
            [5, 2]
        );
        assert_eq!(
            ratings(&get(&app, &list("?rating=4"), Some(&read)).await),
            [4]
        );
        assert_eq!(
            ratings(&get(&app, &list("?rating__gte=4"), Some(&read)).await),
            [5, 4]
        );
        assert_eq!(
            ratings(&get(&app, &list("?rating__lte=4&rating__gt=2"), Some(&read)).await),
            [4]
        );
        assert_eq!(
            ratings(&get(&app, &list("?rating__lt=3"), Some(&read)).await),
            [2]
        );
        assert_eq!(
            ratings(&get(&app, &list("?search=LATE"), Some(&read)).await),
            [2]
        );
        assert_eq!(
            get(&app, &list("?created_at__gte=2020-01-01"), Some(&read)).await["count"],
            3
        );
        assert_eq!(
            get(&app, &list("?created_at__lte=2020-01-01"), Some(&read)).await["count"],
            0
        );
        assert_eq!(
            get(
                &app,
                &list("?created_at__gt=2999-01-01T00:00:00Z"),
                Some(&read)
            )
            .await["count"],
            0
        );
        // Public: approved only, whatever is filtered.
        assert_eq!(ratings(&get(&app, &list(""), None).await), [4]);
        assert_eq!(
            ratings(
                &get(
                    &app,
                    &list("?status__in=hidden,approved&rating__gte=4"),
                    None
                )
                .await
            ),
            [4]
        );
        for bad in [
            "status=gone",
            "status__in=approved,nope",
            "stars=5",
            "rating__gte=x",
            "stylist__gte=x",
            "ordering=stars",
            "created_at__lt=soon",
            "limit=1001",
        ] {
            let (status, body, _) = call(
                &app,
                Method::GET,
                &list(&format!("?{bad}")),
                Some(&read),
                None,
                &[],
            )
            .await;
            assert_eq!(status, 422, "{bad}: {body}");
        }

        // Paging edges.
        let first = get(&app, &list("?limit=2"), Some(&read)).await;
        assert_eq!(first["count"], 3);
        assert_eq!(ratings(&first), [5, 2]);
        assert!(first["previous"].is_null());
        assert_eq!(first["next"], "/api/v1/reviews?limit=2&offset=2");
        let last = get(&app, &list("?limit=2&offset=2"), Some(&read)).await;
        assert_eq!(ratings(&last), [4]);
        assert!(last["next"].is_null());
        assert_eq!(last["previous"], "/api/v1/reviews?limit=2&offset=0");
        let beyond = get(&app, &list("?offset=3"), Some(&read)).await;
        assert_eq!(
            (beyond["count"].clone(), beyond["results"].clone()),
            (json!(3), json!([]))
        );

        // Archived: gone from lists and reads; a second delete is 404; history kept.
        let (status, _, _) = call(
            &app,
            Method::DELETE,
            &format!("/api/v1/reviews/{}", ids[1]),
            Some(&read),
            None,
            &[],
        )
        .await;
        assert_eq!(status, 403);
        let (status, _, _) = call(
            &app,
            Method::DELETE,
            &format!("/api/v1/reviews/{}", ids[1]),
            Some(&write),
            None,
            &[("X-Reason", "spam")],
        )
        .await;
        assert_eq!(status, 204);
        assert_eq!(ratings(&get(&app, &list(""), Some(&read)).await), [5, 4]);
        for method in [Method::GET, Method::DELETE] {
            let (status, _, _) = call(
                &app,
                method,
                &format!("/api/v1/reviews/{}", ids[1]),
                Some(&write),
                None,
                &[],
            )
            .await;
            assert_eq!(status, 404);
        }
        let (status, _, _) = call(
            &app,
            Method::PATCH,
            &format!("/api/v1/reviews/{}", ids[1]),
            Some(&write),
            Some(json!({"status": "approved"})),
            &[],
        )
        .await;
        assert_eq!(status, 404);
        let meta = metadata_of(&app, &ids[1], "ReviewArchived").await;
        assert!(
            meta.contains("spam") && meta.contains("token:desk"),
            "{meta}"
        );
        app.stop().await;
    }
}

/// Undoes quoted-printable (soft line breaks and `=XX` escapes).
fn unquote(text: &str) -> String {
    let joined = text.replace("=\r\n", "").replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'=', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn after_a_completed_visit_the_client_is_emailed_a_review_link_that_works_once() {
    use commands::reactors::mail::MailSettings;
    for backend in BACKENDS {
        let port = tests::free_port();
        let maildir = std::env::temp_dir().join(format!(
            "salon-review-mail-{}",
            uuid::Uuid::new_v4().simple()
        ));
        let db = tests::ScratchDb::new(backend).await;
        let app = TestApp::spawn_with(db, move |config| {
            config.mail = MailSettings {
                smtp_url: Some(format!("smtp://127.0.0.1:{port}")),
                from: "Salon <bookings@salon.test>".into(),
                owners: vec![],
                public_url: "http://site.test".into(),
            };
            config.public_url = "http://site.test".into();
            config.run_reactors = false;
        })
        .await;
        let sink = tests::smtp_sink(port, &maildir).await;
        let stylist = TestApp::stylist_id("Keisha Brown");
        let booked = visits(&app, &stylist, 1, 1).await;
        let (booking, _) = &booked[0];
        tests::reactor_round(&app).await;
        let messages = sink.messages();
        let asks: Vec<&String> = messages
            .iter()
            .filter(|m| m.contains("Subject: How was it?"))
            .collect();
        assert_eq!(asks.len(), 1, "{messages:#?}");
        let body = unquote(asks[0]);
        assert!(body.contains("To: ada@example.com"), "{body}");
        let link = body
            .split_whitespace()
            .find(|w| w.starts_with("http://site.test/?review="))
            .expect("the review link")
            .to_string();
        assert!(link.contains(&booking.to_string()), "{link}");
        let token = link.split("token=").nth(1).expect("a token");
        // Nothing is sent twice.
        tests::reactor_round(&app).await;
        assert_eq!(
            sink.messages()
                .iter()
                .filter(|m| m.contains("Subject: How was it?"))
                .count(),
            1
        );
        // The link's token posts the review, once.
        let review = json!({"rating": 4, "display_name": "Ada"});
        let path = format!("/api/v1/bookings/{booking}/review?token={token}");
        let (status, body, _) =
            call(&app, Method::POST, &path, None, Some(review.clone()), &[]).await;
        assert_eq!(status, 201, "{body}");
        let (status, _, _) = call(&app, Method::POST, &path, None, Some(review), &[]).await;
        assert_eq!(status, 409);
        let _ = std::fs::remove_dir_all(&maildir);
        app.stop().await;
    }
}
