//! Outgoing webhooks (`/api/v1/webhooks`) against the real app on both stores, delivering to a
//! local receiver that checks every signature with the secret from the create answer.
//!
//! The reactors do not run by themselves here: each test runs rounds by hand on a clock that
//! stands still until the test moves it, so retries and backoff are exact, without sleeping.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use chrono::{DateTime, Utc};
use commands::reactors::{Clock, Round};
use domain::token::Scope;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use tests::{booking_body, count_events, events_eventually, ScratchDb, TestApp, BACKENDS};

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    path: String,
    event_id: String,
    content_type: String,
    signature: String,
    /// Did `Salon-Signature` verify with the secret the receiver was given for this path?
    verified: bool,
    body: Value,
    raw: Vec<u8>,
    answered: u16,
}

#[derive(Default)]
struct ReceiverState {
    /// Secret per path.
    secrets: Vec<(String, String)>,
    /// Answer 500 to this many requests before answering 200.
    fail: usize,
    /// Answer this to every request (after `fail` ran out) instead of 200.
    always: Option<u16>,
    got: Vec<Received>,
}

/// A local endpoint for deliveries, on a random port.
#[derive(Clone)]
struct Receiver {
    base: String,
    clock: Clock,
    state: Arc<Mutex<ReceiverState>>,
}

async fn receive(
    State(receiver): State<Receiver>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let mut state = receiver.state.lock().unwrap_or_else(|p| p.into_inner());
    let path = uri.path().to_string();
    let secret = state
        .secrets
        .iter()
        .find(|(p, _)| *p == path)
        .map(|(_, s)| s.clone())
        .unwrap_or_default();
    let signature = header("salon-signature");
    let verified = commands::payments::webhook::verify(
        &body,
        Some(&signature),
        &secret,
        receiver.clock.now().timestamp(),
    )
    .is_ok();
    let answered = if state.fail > 0 {
        state.fail -= 1;
        500
    } else {
        state.always.unwrap_or(200)
    };
    state.got.push(Received {
        path,
        event_id: header("salon-event-id"),
        content_type: header("content-type"),
        signature,
        verified,
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        raw: body.to_vec(),
        answered,
    });
    StatusCode::from_u16(answered).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

impl Receiver {
    async fn start(clock: Clock) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the receiver");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let receiver = Self {
            base,
            clock,
            state: Arc::default(),
        };
        let app = axum::Router::new()
            .fallback(receive)
            .with_state(receiver.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        receiver
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn expect_secret(&self, path: &str, secret: &str) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.secrets.retain(|(p, _)| p != path);
        state.secrets.push((path.to_string(), secret.to_string()));
    }

    fn fail_next(&self, n: usize) {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).fail = n;
    }

    fn always(&self, status: Option<u16>) {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).always = status;
    }

    fn got(&self, path: &str) -> Vec<Received> {
        self.state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .got
            .iter()
            .filter(|r| r.path == path)
            .cloned()
            .collect()
    }

    fn types(&self, path: &str) -> Vec<String> {
        self.got(path)
            .iter()
            .map(|r| r.body["type"].as_str().unwrap_or("").to_string())
            .collect()
    }
}

/// The app with reactors that run only when told, on a clock that stands still, and a
/// receiver that shares the clock.
async fn spawn(backend: migrations::Backend, sealed: bool) -> (TestApp, Clock, Receiver) {
    let clock = Clock::manual(Utc::now());
    let db = ScratchDb::new(backend).await;
    let app = TestApp::spawn_with(db, |config| {
        config.run_reactors = false;
        config.clock = clock.clone();
        if sealed {
            config.calendars.sealer = Some(
                commands::calendars::Sealer::new("webhook-test-key-0123456789abcdef").expect("key"),
            );
        }
    })
    .await;
    let receiver = Receiver::start(clock.clone()).await;
    (app, clock, receiver)
}

/// One reactor round once every committed event is readable by the log reader (on PostgreSQL
/// an event becomes readable when every older transaction in the cluster has finished).
async fn round(app: &TestApp) -> Round {
    let total = count_events(app).await as usize;
    let readable = events_eventually(&app.server.state.read, total).await;
    assert!(readable.len() >= total, "the log never became readable");
    app.server
        .state
        .reactors
        .round()
        .await
        .expect("reactor round")
}

/// The whole log, once every committed event is readable.
async fn all_events(app: &TestApp) -> Vec<projections::log::StoredEvent> {
    let total = count_events(app).await as usize;
    events_eventually(&app.server.state.read, total).await
}

async fn send(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value, reqwest::header::HeaderMap) {
    let mut req = app
        .http
        .request(method, app.url(path))
        .header("X-Reason", "integration test");
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.expect("request");
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    (status, r.json().await.unwrap_or(Value::Null), headers)
}

async fn create(app: &TestApp, token: &str, body: Value) -> Value {
    let (s, created, headers) = send(
        app,
        reqwest::Method::POST,
        "/api/v1/webhooks",
        Some(token),
        Some(body),
    )
    .await;
    assert_eq!(s, 201, "{created}");
    let id = created["id"].as_str().expect("id");
    assert_eq!(
        headers.get("location").and_then(|v| v.to_str().ok()),
        Some(format!("/api/v1/webhooks/{id}").as_str())
    );
    created
}

/// Books the first free slot of a demo stylist; returns the booking.
async fn book(app: &TestApp, stylist: &str, client: &str) -> Value {
    let service = app.service_id("Retwist").await;
    let stylist = TestApp::stylist_id(stylist);
    let slot = app.first_slot(&service, &stylist).await;
    let start = slot["start"].as_str().unwrap_or("");
    let (s, booking) = app
        .post_booking(&booking_body(&service, &stylist, start, client), None)
        .await;
    assert_eq!(s, 201, "{booking}");
    booking
}

async fn deliveries(app: &TestApp, token: &str, id: &str) -> Value {
    let (s, body, _) = send(
        app,
        reqwest::Method::GET,
        &format!("/api/v1/webhooks/{id}/deliveries"),
        Some(token),
        None,
    )
    .await;
    assert_eq!(s, 200, "{body}");
    body
}

#[tokio::test]
async fn a_booking_arrives_signed_at_the_subscribed_endpoint() {
    for backend in BACKENDS {
        let (app, clock, receiver) = spawn(backend, false).await;
        let token = app.token("crm", Scope::Write).await;
        let created = create(
            &app,
            &token,
            json!({
                "url": receiver.url("/hook"),
                "events": ["BookingRequested", "BookingConfirmed"],
                "description": "CRM sync",
            }),
        )
        .await;
        let id = created["id"].as_str().expect("id").to_string();
        let secret = created["secret"].as_str().expect("secret").to_string();
        assert!(secret.starts_with("whsec_"), "{created}");
        assert_eq!(created["active"], true);
        assert_eq!(
            created["events"],
            json!(["BookingRequested", "BookingConfirmed"])
        );
        assert_eq!(
            created["secret_fingerprint"].as_str().map(str::len),
            Some(16)
        );
        receiver.expect_secret("/hook", &secret);

        let booking = book(&app, "Amara Diallo", "Hook Client").await;
        let booking_id = booking["id"].as_str().expect("booking id");
        round(&app).await;

        let got = receiver.got("/hook");
        assert_eq!(
            receiver.types("/hook"),
            vec!["BookingRequested", "BookingConfirmed"],
            "{backend:?}: {got:?}"
        );
        for r in &got {
            assert!(r.verified, "{backend:?}: bad signature on {r:?}");
            assert!(r.signature.starts_with("t=") && r.signature.contains(",v1="));
            assert_eq!(r.content_type, "application/json");
            assert_eq!(r.body["id"], r.event_id.as_str());
            let position = r.body["position"].as_i64().expect("position");
            assert_eq!(r.event_id, format!("webhook:{id}:{position}"));
            assert_eq!(r.body["aggregate_type"], "Booking");
            assert_eq!(r.body["aggregate_id"], booking_id);
            let created_at = r.body["created"].as_str().unwrap_or("");
            assert!(
                DateTime::parse_from_rfc3339(created_at).is_ok(),
                "{created_at}"
            );
            // The same body under another secret does not verify: the check can fail.
            assert!(commands::payments::webhook::verify(
                &r.raw,
                Some(&r.signature),
                "whsec_not_the_secret",
                clock.now().timestamp()
            )
            .is_err());
        }
        // The event's payload, client details included, is the delivery's data.
        let requested = &got[0].body["data"];
        assert_eq!(requested["id"], booking_id);
        assert_eq!(requested["details"]["client"]["name"], "Hook Client");
        assert_eq!(
            requested["details"]["client"]["email"],
            "client@example.com"
        );
        // The documented field order.
        let raw = String::from_utf8_lossy(&got[0].raw).to_string();
        let at: Vec<usize> = [
            "\"id\"",
            "\"type\"",
            "\"created\"",
            "\"position\"",
            "\"aggregate_type\"",
            "\"aggregate_id\"",
            "\"data\"",
        ]
        .iter()
        .map(|k| raw.find(k).unwrap_or(usize::MAX))
        .collect();
        assert!(at.windows(2).all(|w| w[0] < w[1]), "{raw}");

        // Delivered once: more rounds, even much later, send nothing again.
        clock.advance(chrono::Duration::hours(2));
        round(&app).await;
        assert_eq!(receiver.got("/hook").len(), 2);

        let log = deliveries(&app, &token, &id).await;
        assert_eq!(log["count"], 2, "{log}");
        for row in log["results"].as_array().expect("results") {
            assert_eq!(row["outcome"], "delivered", "{row}");
            assert_eq!(row["status_code"], 200);
            assert_eq!(row["attempt"], 1);
            assert_eq!(row["subscription"], id.as_str());
            assert!(row["duration_ms"].as_i64().is_some());
        }
        app.stop().await;
    }
}

#[tokio::test]
async fn a_failing_endpoint_is_retried_with_backoff_until_it_answers() {
    for backend in BACKENDS {
        let (app, clock, receiver) = spawn(backend, false).await;
        let token = app.token("crm", Scope::Write).await;
        let created = create(
            &app,
            &token,
            json!({"url": receiver.url("/flaky"), "events": ["BookingConfirmed"]}),
        )
        .await;
        let id = created["id"].as_str().expect("id").to_string();
        receiver.expect_secret("/flaky", created["secret"].as_str().expect("secret"));
        receiver.fail_next(2);

        book(&app, "Keisha Brown", "Retry Client").await;
        round(&app).await;
        assert_eq!(receiver.got("/flaky").len(), 1, "{backend:?}: first try");
        // Not due again before the backoff (10 s, then 20 s) has passed.
        round(&app).await;
        clock.advance(chrono::Duration::seconds(9));
        round(&app).await;
        assert_eq!(
            receiver.got("/flaky").len(),
            1,
            "{backend:?}: retried early"
        );
        clock.advance(chrono::Duration::seconds(1));
        round(&app).await;
        assert_eq!(receiver.got("/flaky").len(), 2, "{backend:?}: second try");
        clock.advance(chrono::Duration::seconds(19));
        round(&app).await;
        assert_eq!(
            receiver.got("/flaky").len(),
            2,
            "{backend:?}: retried early"
        );
        clock.advance(chrono::Duration::seconds(1));
        round(&app).await;
        let got = receiver.got("/flaky");
        assert_eq!(got.len(), 3, "{backend:?}: third try");
        clock.advance(chrono::Duration::hours(1));
        round(&app).await;
        assert_eq!(
            receiver.got("/flaky").len(),
            3,
            "{backend:?}: delivered twice"
        );

        // One event, three tries of the same delivery, the last one taken.
        assert!(got
            .iter()
            .all(|r| r.verified && r.event_id == got[0].event_id));
        assert_eq!(
            got.iter().map(|r| r.answered).collect::<Vec<_>>(),
            vec![500, 500, 200]
        );
        assert_eq!(got[0].raw, got[2].raw, "the body is the same on every try");
        let log = deliveries(&app, &token, &id).await;
        assert_eq!(log["count"], 3, "{log}");
        let rows = log["results"].as_array().expect("results");
        let column = |name: &str| rows.iter().map(|r| r[name].clone()).collect::<Vec<_>>();
        assert_eq!(column("attempt"), vec![json!(3), json!(2), json!(1)]);
        assert_eq!(
            column("outcome"),
            vec![json!("delivered"), json!("retry"), json!("retry")]
        );
        assert_eq!(
            column("status_code"),
            vec![json!(200), json!(500), json!(500)]
        );
        assert_eq!(rows[1]["error"], "HTTP 500");
        assert!(rows.iter().all(|r| r["item"] == got[0].event_id.as_str()));
        // Paged like every list.
        let (s, page, _) = send(
            &app,
            reqwest::Method::GET,
            &format!("/api/v1/webhooks/{id}/deliveries?limit=2&offset=1"),
            Some(&token),
            None,
        )
        .await;
        assert_eq!(s, 200);
        assert_eq!(page["count"], 3);
        assert_eq!(page["results"][0]["attempt"], 2);
        assert_eq!(page["next"], Value::Null);
        assert_eq!(
            page["previous"],
            format!("/api/v1/webhooks/{id}/deliveries?limit=2&offset=0").as_str()
        );
        app.stop().await;
    }
}

/// The outbox item's outcome and tries.
async fn outbox(app: &TestApp, item: &str) -> (Option<String>, Option<String>, i64) {
    let row = sqlx::query("SELECT done_at, outcome, attempts FROM outbox WHERE id = $1")
        .bind(item.to_string())
        .fetch_one(app.server.state.read.pool())
        .await
        .expect("outbox item");
    (
        sqlx::Row::try_get(&row, "done_at").expect("done_at"),
        sqlx::Row::try_get(&row, "outcome").expect("outcome"),
        sqlx::Row::try_get(&row, "attempts").expect("attempts"),
    )
}

#[tokio::test]
async fn a_refusing_endpoint_is_given_up_after_ten_tries_and_a_paused_one_is_dropped() {
    for backend in BACKENDS {
        let (app, clock, receiver) = spawn(backend, false).await;
        let token = app.token("crm", Scope::Write).await;
        let subscribe = |path: &'static str| {
            let (app, token, receiver) = (&app, &token, &receiver);
            async move {
                let created = create(
                    app,
                    token,
                    json!({"url": receiver.url(path), "events": ["BookingConfirmed"]}),
                )
                .await;
                receiver.expect_secret(path, created["secret"].as_str().expect("secret"));
                created["id"].as_str().expect("id").to_string()
            }
        };
        let gone_id = subscribe("/gone").await;
        receiver.always(Some(410));
        book(&app, "Amara Diallo", "Gone Client").await;
        for _ in 0..15 {
            round(&app).await;
            clock.advance(chrono::Duration::hours(1));
        }
        let gone = receiver.got("/gone");
        assert_eq!(gone.len(), 10, "{backend:?}: tries of a 410 endpoint");
        assert!(gone
            .iter()
            .all(|r| r.verified && r.event_id == gone[0].event_id));
        let (done, outcome, attempts) = outbox(&app, &gone[0].event_id).await;
        assert!(done.is_some());
        assert_eq!((outcome.as_deref(), attempts), (Some("gave up"), 10));
        let log = deliveries(&app, &token, &gone_id).await;
        assert_eq!(log["count"], 10);
        assert_eq!(log["results"][0]["outcome"], "gave up");
        assert_eq!(log["results"][0]["status_code"], 410);
        assert_eq!(log["results"][1]["outcome"], "retry");

        // Refused once (503), then paused: the pending item is dropped, not sent.
        let paused_id = subscribe("/paused-later").await;
        receiver.always(Some(503));
        book(&app, "Keisha Brown", "Dropped Client").await;
        round(&app).await;
        let tried = receiver.got("/paused-later");
        assert_eq!(tried.len(), 1, "{backend:?}");
        let (s, _, _) = send(
            &app,
            reqwest::Method::PATCH,
            &format!("/api/v1/webhooks/{paused_id}"),
            Some(&token),
            Some(json!({"active": false})),
        )
        .await;
        assert_eq!(s, 200);
        clock.advance(chrono::Duration::hours(1));
        round(&app).await;
        assert_eq!(receiver.got("/paused-later").len(), 1, "sent while paused");
        let (done, outcome, _) = outbox(&app, &tried[0].event_id).await;
        assert!(done.is_some());
        assert_eq!(outcome.as_deref(), Some("dropped"));
        let log = deliveries(&app, &token, &paused_id).await;
        assert_eq!(log["count"], 2);
        assert_eq!(log["results"][0]["outcome"], "dropped");
        assert_eq!(log["results"][0]["status_code"], Value::Null);
        assert_eq!(log["results"][1]["status_code"], 503);
        app.stop().await;
    }
}

#[tokio::test]
async fn filtered_out_types_and_paused_subscriptions_get_nothing() {
    for backend in BACKENDS {
        let (app, _clock, receiver) = spawn(backend, false).await;
        let token = app.token("crm", Scope::Write).await;
        let mut ids = Vec::new();
        for (path, events) in [
            ("/cancellations", json!(["BookingCancelled"])),
            ("/paused", json!(["*"])),
            ("/everything", json!(["*"])),
        ] {
            let created = create(
                &app,
                &token,
                json!({"url": receiver.url(path), "events": events}),
            )
            .await;
            receiver.expect_secret(path, created["secret"].as_str().expect("secret"));
            ids.push(created["id"].as_str().expect("id").to_string());
        }
        let (s, paused, _) = send(
            &app,
            reqwest::Method::PATCH,
            &format!("/api/v1/webhooks/{}", ids[1]),
            Some(&token),
            Some(json!({"active": false})),
        )
        .await;
        assert_eq!((s, &paused["active"]), (200, &json!(false)), "{paused}");

        let first = book(&app, "Malik Johnson", "Filter Client").await;
        round(&app).await;
        assert_eq!(
            receiver.types("/everything"),
            vec!["BookingRequested", "BookingConfirmed"],
            "{backend:?}"
        );
        assert!(receiver.got("/everything").iter().all(|r| r.verified));
        assert!(receiver.got("/cancellations").is_empty(), "{backend:?}");
        assert!(receiver.got("/paused").is_empty(), "{backend:?}");

        // Resumed, it gets what happens from then on, not what it missed while paused, even
        // when the reactors only get to the missed events after the resume.
        let missed = book(&app, "Keisha Brown", "Missed Client").await;
        let (s, resumed, _) = send(
            &app,
            reqwest::Method::PATCH,
            &format!("/api/v1/webhooks/{}", ids[1]),
            Some(&token),
            Some(json!({"active": true})),
        )
        .await;
        assert_eq!((s, &resumed["active"]), (200, &json!(true)), "{resumed}");
        let second = book(&app, "Amara Diallo", "Second Client").await;
        round(&app).await;
        let paused_got = receiver.got("/paused");
        assert_eq!(paused_got.len(), 2, "{backend:?}: {paused_got:?}");
        assert!(paused_got
            .iter()
            .all(|r| r.verified && r.body["aggregate_id"] == second["id"]));
        assert!(receiver.got("/paused").iter().all(
            |r| r.body["aggregate_id"] != first["id"] && r.body["aggregate_id"] != missed["id"]
        ));
        assert!(receiver.got("/cancellations").is_empty());
        assert_eq!(receiver.got("/everything").len(), 6);

        // Catalog events go out too.
        let meta = domain::metadata::EventMetadata::new("owner", domain::metadata::Source::Panel);
        app.server
            .state
            .bus
            .execute::<domain::salon::Salon>(
                domain::ids::SALON_ID,
                domain::salon::SalonCommand::Update(Box::new(domain::salon::SalonChanges {
                    name: Some("Webhook Salon".into()),
                    ..Default::default()
                })),
                &meta,
            )
            .await
            .expect("rename the salon");
        round(&app).await;
        let renamed = receiver.got("/everything").pop().expect("the rename");
        assert_eq!(renamed.body["type"], "SalonRenamed");
        assert_eq!(renamed.body["aggregate_type"], "Salon");
        assert_eq!(renamed.body["data"]["name"], "Webhook Salon");
        assert!(renamed.verified);
        assert!(receiver.got("/cancellations").is_empty());
        app.stop().await;
    }
}

#[tokio::test]
async fn ping_rotate_and_delete() {
    for backend in BACKENDS {
        let (app, clock, receiver) = spawn(backend, true).await;
        let token = app.token("crm", Scope::Write).await;
        let created = create(
            &app,
            &token,
            json!({"url": receiver.url("/ping"), "events": ["BookingCancelled"]}),
        )
        .await;
        let id = created["id"].as_str().expect("id").to_string();
        let old = created["secret"].as_str().expect("secret").to_string();
        receiver.expect_secret("/ping", &old);

        let ping_path = format!("/api/v1/webhooks/{id}/ping");
        let (s, queued, _) =
            send(&app, reqwest::Method::POST, &ping_path, Some(&token), None).await;
        assert_eq!(s, 202, "{queued}");
        round(&app).await;
        let got = receiver.got("/ping");
        assert_eq!(got.len(), 1, "{backend:?}: the ping, whatever the filter");
        assert_eq!(got[0].body["type"], "WebhookPinged");
        assert_eq!(got[0].event_id, queued["id"].as_str().unwrap_or("?"));
        assert!(got[0].verified, "{backend:?}: sealed secret did not sign");

        let (s, rotated, _) = send(
            &app,
            reqwest::Method::POST,
            &format!("/api/v1/webhooks/{id}/rotate-secret"),
            Some(&token),
            None,
        )
        .await;
        assert_eq!(s, 200, "{rotated}");
        let new = rotated["secret"].as_str().expect("secret").to_string();
        assert_ne!(new, old);
        assert_ne!(rotated["secret_fingerprint"], created["secret_fingerprint"]);
        let (_, ping2, _) = send(&app, reqwest::Method::POST, &ping_path, Some(&token), None).await;
        round(&app).await;
        let second = receiver.got("/ping").pop().expect("second ping");
        assert_eq!(second.event_id, ping2["id"].as_str().unwrap_or("?"));
        assert!(
            !second.verified,
            "signed with the old secret after rotation"
        );
        assert!(commands::payments::webhook::verify(
            &second.raw,
            Some(&second.signature),
            &new,
            clock.now().timestamp()
        )
        .is_ok());

        // A paused subscription is not pinged.
        let path = format!("/api/v1/webhooks/{id}");
        send(
            &app,
            reqwest::Method::PATCH,
            &path,
            Some(&token),
            Some(json!({"active": false})),
        )
        .await;
        let (s, body, _) = send(&app, reqwest::Method::POST, &ping_path, Some(&token), None).await;
        assert_eq!(s, 409, "{body}");

        let (s, _, _) = send(&app, reqwest::Method::DELETE, &path, Some(&token), None).await;
        assert_eq!(s, 204);
        for (method, p) in [
            (reqwest::Method::GET, path.clone()),
            (reqwest::Method::DELETE, path.clone()),
            (reqwest::Method::POST, ping_path.clone()),
            (reqwest::Method::POST, format!("{path}/rotate-secret")),
            (reqwest::Method::GET, format!("{path}/deliveries")),
        ] {
            let (s, body, _) = send(&app, method.clone(), &p, Some(&token), None).await;
            assert_eq!(s, 404, "{method} {p}: {body}");
        }
        let (_, list, _) = send(
            &app,
            reqwest::Method::GET,
            "/api/v1/webhooks",
            Some(&token),
            None,
        )
        .await;
        assert_eq!(list["count"], 0, "{list}");
        // The history stays in the log.
        let types: Vec<String> = all_events(&app)
            .await
            .into_iter()
            .filter(|e| e.aggregate_id == id)
            .map(|e| e.event_type)
            .collect();
        assert_eq!(
            types,
            vec![
                "WebhookSubscriptionCreated",
                "WebhookPinged",
                "WebhookSecretRotated",
                "WebhookPinged",
                "WebhookSubscriptionPaused",
                "WebhookSubscriptionDeleted"
            ]
        );
        app.stop().await;
    }
}

#[tokio::test]
async fn routes_need_a_token_and_writes_need_the_write_scope() {
    for backend in BACKENDS {
        let (app, _clock, receiver) = spawn(backend, false).await;
        let write = app.token("writer", Scope::Write).await;
        let read = app.token("reader", Scope::Read).await;
        let body = json!({"url": receiver.url("/x")});
        let (s, _, headers) =
            send(&app, reqwest::Method::GET, "/api/v1/webhooks", None, None).await;
        assert_eq!(s, 401);
        assert!(headers.get("www-authenticate").is_some());
        let (s, _, _) = send(
            &app,
            reqwest::Method::POST,
            "/api/v1/webhooks",
            None,
            Some(body.clone()),
        )
        .await;
        assert_eq!(s, 401);
        let (s, _, _) = send(
            &app,
            reqwest::Method::GET,
            "/api/v1/webhooks",
            Some("salon_nope"),
            None,
        )
        .await;
        assert_eq!(s, 401);

        let (s, body403, headers) = send(
            &app,
            reqwest::Method::POST,
            "/api/v1/webhooks",
            Some(&read),
            Some(body.clone()),
        )
        .await;
        assert_eq!(s, 403, "{body403}");
        assert_eq!(
            headers.get("content-type").and_then(|v| v.to_str().ok()),
            Some("application/problem+json")
        );
        let created = create(&app, &write, body.clone()).await;
        assert_eq!(created["events"], json!(["*"]), "events default to all");
        let id = created["id"].as_str().expect("id").to_string();
        let path = format!("/api/v1/webhooks/{id}");
        for (method, p) in [
            (reqwest::Method::PATCH, path.clone()),
            (reqwest::Method::DELETE, path.clone()),
            (reqwest::Method::POST, format!("{path}/rotate-secret")),
            (reqwest::Method::POST, format!("{path}/ping")),
        ] {
            let (s, b, _) = send(&app, method.clone(), &p, Some(&read), Some(json!({}))).await;
            assert_eq!(s, 403, "{method} {p}: {b}");
            let (s, _, _) = send(&app, method.clone(), &p, None, Some(json!({}))).await;
            assert_eq!(s, 401, "{method} {p}");
        }
        // Reads are open to read tokens, and never show the secret.
        for p in [
            "/api/v1/webhooks".to_string(),
            path.clone(),
            format!("{path}/deliveries"),
        ] {
            let (s, b, _) = send(&app, reqwest::Method::GET, &p, Some(&read), None).await;
            assert_eq!(s, 200, "{p}: {b}");
            assert!(!b.to_string().contains("whsec_"), "{p}: {b}");
        }
        let (s, one, _) = send(&app, reqwest::Method::GET, &path, Some(&read), None).await;
        assert_eq!((s, &one["url"]), (200, &json!(receiver.url("/x"))));
        assert!(one.get("secret").is_none());

        // Field errors, as problem+json.
        let (s, bad, headers) = send(
            &app,
            reqwest::Method::POST,
            "/api/v1/webhooks",
            Some(&write),
            Some(json!({"url": "ftp://example.com", "events": ["BookingConfirmed", "Nope"]})),
        )
        .await;
        assert_eq!(s, 422, "{bad}");
        assert_eq!(
            headers.get("content-type").and_then(|v| v.to_str().ok()),
            Some("application/problem+json")
        );
        let fields: Vec<&str> = bad["errors"]
            .as_array()
            .map(|a| a.iter().filter_map(|e| e["field"].as_str()).collect())
            .unwrap_or_default();
        assert_eq!(fields, vec!["url", "events"], "{bad}");
        let (s, bad, _) = send(
            &app,
            reqwest::Method::PATCH,
            &path,
            Some(&write),
            Some(json!({"url": "https://user:pw@example.com/x"})),
        )
        .await;
        assert_eq!(s, 422, "{bad}");
        assert_eq!(bad["errors"][0]["field"], "url");
        let (s, _, _) = send(
            &app,
            reqwest::Method::GET,
            "/api/v1/webhooks/not-a-uuid",
            Some(&read),
            None,
        )
        .await;
        assert_eq!(s, 404);

        // Writes are commands with the token as actor and X-Reason as reason.
        let (s, changed, _) = send(
            &app,
            reqwest::Method::PATCH,
            &path,
            Some(&write),
            Some(json!({"description": "Zapier"})),
        )
        .await;
        assert_eq!((s, &changed["description"]), (200, &json!("Zapier")));
        let events = all_events(&app).await;
        let audit: Vec<_> = events
            .iter()
            .filter(|e| e.aggregate_id == id)
            .map(|e| e.audit())
            .collect();
        assert_eq!(audit.len(), 2);
        assert!(audit
            .iter()
            .all(|m| m.actor == "token:writer" && m.reason.as_deref() == Some("integration test")));

        // Lists page with the DRF envelope.
        for n in 0..2 {
            create(
                &app,
                &write,
                json!({"url": receiver.url(&format!("/p{n}"))}),
            )
            .await;
        }
        let (s, page, _) = send(
            &app,
            reqwest::Method::GET,
            "/api/v1/webhooks?limit=2",
            Some(&read),
            None,
        )
        .await;
        assert_eq!(s, 200);
        assert_eq!(page["count"], 3);
        assert_eq!(page["results"].as_array().map(Vec::len), Some(2));
        assert_eq!(page["results"][0]["id"], id.as_str(), "oldest first");
        assert_eq!(page["next"], "/api/v1/webhooks?limit=2&offset=2");
        let (s, bad, _) = send(
            &app,
            reqwest::Method::GET,
            "/api/v1/webhooks?limit=0",
            Some(&read),
            None,
        )
        .await;
        assert_eq!((s, &bad["errors"][0]["field"]), (422, &json!("limit")));
        app.stop().await;
    }
}

#[tokio::test]
async fn the_secret_never_reaches_the_log() {
    for backend in BACKENDS {
        for sealed in [false, true] {
            let (app, _clock, receiver) = spawn(backend, sealed).await;
            let token = app.token("crm", Scope::Write).await;
            let created = create(&app, &token, json!({"url": receiver.url("/s")})).await;
            let id = created["id"].as_str().expect("id").to_string();
            let (s, rotated, _) = send(
                &app,
                reqwest::Method::POST,
                &format!("/api/v1/webhooks/{id}/rotate-secret"),
                Some(&token),
                None,
            )
            .await;
            assert_eq!(s, 200);
            let secrets = [
                created["secret"].as_str().expect("secret").to_string(),
                rotated["secret"].as_str().expect("secret").to_string(),
            ];
            receiver.expect_secret("/s", &secrets[1]);
            book(&app, "Amara Diallo", "Secret Client").await;
            round(&app).await;
            assert!(receiver.got("/s").iter().all(|r| r.verified));
            assert_eq!(receiver.got("/s").len(), 2, "{backend:?}");

            let pool = app.server.state.read.pool();
            let rows = sqlx::query(
                "SELECT CAST(payload AS TEXT) AS p, CAST(metadata AS TEXT) AS m FROM events",
            )
            .fetch_all(pool)
            .await
            .expect("events");
            let mut log = String::new();
            for row in &rows {
                log.push_str(&sqlx::Row::try_get::<String, _>(row, "p").expect("payload"));
                log.push_str(&sqlx::Row::try_get::<String, _>(row, "m").expect("metadata"));
            }
            assert!(log.contains(created["secret_fingerprint"].as_str().unwrap_or("?")));
            assert!(log.contains(rotated["secret_fingerprint"].as_str().unwrap_or("?")));
            for table in [
                "rm_webhook_subscriptions",
                "rm_audit_log",
                "outbox",
                "webhook_deliveries",
            ] {
                let dump: Vec<String> = sqlx::query(&format!("SELECT * FROM {table}"))
                    .fetch_all(pool)
                    .await
                    .expect("dump")
                    .iter()
                    .map(|r| {
                        format!(
                            "{:?}",
                            (0..sqlx::Row::len(r))
                                .map(|i| sqlx::Row::try_get::<String, _>(r, i).unwrap_or_default())
                                .collect::<Vec<_>>()
                        )
                    })
                    .collect();
                log.push_str(&dump.join("\n"));
            }
            assert!(
                !log.contains("whsec_"),
                "{backend:?}: a secret reached the log"
            );
            for secret in &secrets {
                assert!(!log.contains(secret.as_str()));
                assert!(!log.contains(&secret["whsec_".len()..]));
            }
            let stored: String =
                sqlx::query_scalar("SELECT secret FROM webhook_secrets WHERE subscription = $1")
                    .bind(id.clone())
                    .fetch_one(pool)
                    .await
                    .expect("stored secret");
            assert_eq!(stored == secrets[1], !sealed, "{backend:?} sealed={sealed}");
            if sealed {
                assert!(stored.starts_with("v1:") && !stored.contains(&secrets[1]));
            }
            app.stop().await;
        }
    }
}
