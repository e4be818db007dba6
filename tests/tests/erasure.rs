//! Erasure without rewriting history (issue 8), on SQLite and PostgreSQL: a client's personal
//! data is sealed in the log with their own key; forgetting them (API, and the CLI's path)
//! deletes the key, after which no read model, no event export (API JSON, NDJSON and CSV; the
//! CLI's NDJSON and CSV) and no aggregate shows their name, email, phone or notes — also after
//! every read model is rebuilt from position 0 — while their bookings, amounts and figures stay.
//! A client whose events were written in plain text by the first release (version 1) is
//! redacted the same way wherever the log is read.

use cqrs_es::persist::SerializedEvent;
use domain::ids::{BookingId, ClientId};
use domain::metadata::{EventMetadata, Source};
use domain::token::Scope;
use domain::values::Email;
use migrations::Backend;
use projections::Projection;
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Duration;
use tests::{TestApp, BACKENDS};

/// What must never be readable about Zelda (booked through the API, sealed) once forgotten.
const ZELDA: [&str; 5] = [
    "Zelda",
    "Quixote",
    "zelda.q@example.com",
    "5550199",
    "likes-lavender-tea",
];
/// Bess's events were written in plain text by the first release.
const BESS: [&str; 4] = ["Bess", "Legacy", "bess.legacy@example.com", "5550123"];

fn client_id(email: &str) -> String {
    ClientId::for_email(&Email::parse(email).unwrap()).to_string()
}

fn leaks<'a>(text: &str, secrets: &[&'a str]) -> Vec<&'a str> {
    secrets
        .iter()
        .copied()
        .filter(|s| text.contains(s))
        .collect()
}

fn assert_clean(what: &str, text: &str, secrets: &[&str]) {
    let found = leaks(text, secrets);
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| !leaks(l, secrets).is_empty())
        .map(|l| {
            let at = secrets.iter().filter_map(|s| l.find(s)).min().unwrap_or(0);
            &l[at.saturating_sub(300).min(l.len())..(at + 200).min(l.len())]
        })
        .collect();
    assert!(
        found.is_empty(),
        "{what} still shows {found:?} in:\n{}",
        lines.join("\n")
    );
}

/// Every read-model table, every row, as one text.
async fn read_models(app: &TestApp) -> String {
    let read = &app.server.state.read;
    let mut out = String::new();
    for table in migrations::READ_MODEL_TABLES {
        let rows = projections::queries::dump_table(read, table).await.unwrap();
        out.push_str(&format!("{table}: {rows:?}\n"));
    }
    out
}

/// The raw `payload` column of every event.
async fn raw_payloads(app: &TestApp) -> String {
    let sql = match app.server.state.read.backend() {
        Backend::Sqlite => "SELECT payload FROM events ORDER BY position",
        Backend::Postgres => "SELECT payload::text FROM events ORDER BY position",
    };
    let rows: Vec<String> = sqlx::query_scalar(sql)
        .fetch_all(app.server.state.read.pool())
        .await
        .unwrap();
    rows.join("\n")
}

/// Every export of the log: the API's JSON pages, NDJSON and CSV, and the CLI's NDJSON and CSV.
async fn exports(app: &TestApp, token: &str) -> BTreeMap<&'static str, String> {
    let mut out = BTreeMap::new();
    for (name, path) in [
        ("api json", "/api/v1/events?limit=1000"),
        ("api ndjson", "/api/v1/events?format=ndjson"),
        ("api csv", "/api/v1/events?format=csv"),
        ("api audit", "/api/v1/audit?limit=1000"),
        ("api bookings", "/api/v1/bookings?limit=1000"),
        ("api clients", "/api/v1/clients?limit=1000&archived=true"),
    ] {
        let r = app
            .http
            .get(app.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200, "{path}");
        out.insert(name, r.text().await.unwrap());
    }
    for (name, format) in [
        ("cli ndjson", salon::export::Format::Ndjson),
        ("cli csv", salon::export::Format::Csv),
    ] {
        let mut bytes = Vec::new();
        salon::export::export(
            &app.server.state.read,
            format,
            0,
            &projections::log::LogFilter::default(),
            &mut bytes,
        )
        .await
        .unwrap();
        out.insert(name, String::from_utf8(bytes).unwrap());
    }
    out
}

async fn caught_up(app: &TestApp) {
    let read = &app.server.state.read;
    for _ in 0..40 {
        let head = projections::log::head(read).await.unwrap();
        if app
            .server
            .state
            .projections
            .wait_for(&Projection::ALL, head, Duration::from_secs(2))
            .await
            && projections::log::head(read).await.unwrap() == head
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let progress = migrations::log::progress(read).await.unwrap();
    let cp = projections::runner::checkpoint(read, Projection::Catalog)
        .await
        .unwrap();
    let step = projections::runner::step(read, Projection::Catalog, cp).await;
    let last: Vec<(i64, String, String)> = projections::log::export_page(read, 25, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.at.position, e.event_type, e.aggregate_type))
        .collect();
    panic!("the read models never caught up: {progress:?} {step:?} {last:?}");
}

/// A booking the first release wrote: version 1, the client in plain text.
fn legacy_booking(
    service: &str,
    stylist: &str,
    start: chrono::DateTime<chrono::Utc>,
) -> Vec<SerializedEvent> {
    let id = BookingId::new().to_string();
    let meta = serde_json::to_value(EventMetadata::new("client", Source::Api)).unwrap();
    let end = start + chrono::Duration::minutes(90);
    let event = |sequence: usize, event_type: &str, payload: Value| SerializedEvent {
        aggregate_id: id.clone(),
        sequence,
        aggregate_type: "Booking".into(),
        event_type: event_type.into(),
        event_version: "1".into(),
        payload,
        metadata: meta.clone(),
    };
    vec![
        event(
            1,
            "BookingRequested",
            json!({"BookingRequested": {"id": id, "details": {
                "service": service, "stylist": stylist,
                "start": start, "end": end,
                "client": {"name": "Bess Legacy", "email": "bess.legacy@example.com", "phone": "+12125550123"},
                "notes": "Bess prefers tea",
                "price_cents": 7000, "deposit_cents": 0, "currency": "USD"}}}),
        ),
        event(
            2,
            "BookingConfirmed",
            json!({"BookingConfirmed": {"id": id}}),
        ),
    ]
}

/// What must not change when a client is forgotten: every booking's money and state, and the
/// clients' figures.
async fn figures(app: &TestApp) -> Vec<Vec<String>> {
    let rows: Vec<(String, String, String, String, i64, i64, String)> = sqlx::query_as(
        "SELECT id, status, deposit_status, start_at, price_cents, deposit_cents, currency \
         FROM rm_bookings ORDER BY id",
    )
    .fetch_all(app.server.state.read.pool())
    .await
    .unwrap();
    let clients: Vec<(String, i64, i64, i64, i64)> = sqlx::query_as(
        "SELECT id, bookings_count, upcoming, completed, total_spent_cents FROM rm_clients ORDER BY id",
    )
    .fetch_all(app.server.state.read.pool())
    .await
    .unwrap();
    rows.into_iter()
        .map(|r| vec![r.0, r.1, r.2, r.3, r.4.to_string(), r.5.to_string(), r.6])
        .chain(clients.into_iter().map(|c| {
            vec![
                c.0,
                c.1.to_string(),
                c.2.to_string(),
                c.3.to_string(),
                c.4.to_string(),
            ]
        }))
        .collect()
}

/// Nothing readable of Zelda or Bess anywhere; the money and figures as they were.
async fn check(
    app: &TestApp,
    read_token: &str,
    when: &str,
    before: &[Vec<String>],
    zelda: &str,
    zelda_bookings: &[String],
) {
    let models = read_models(app).await;
    assert_clean(when, &models, &ZELDA);
    assert_clean(when, &models, &BESS);
    for (name, text) in exports(app, read_token).await {
        assert_clean(&format!("{when}: {name}"), &text, &ZELDA);
        assert_clean(&format!("{when}: {name}"), &text, &BESS);
    }
    assert_eq!(
        figures(app).await,
        before,
        "{when}: bookings or figures changed"
    );
    let client = app
        .call(
            Method::GET,
            &format!("/api/v1/clients/{zelda}"),
            Some(read_token),
            None,
            &[],
        )
        .await
        .body;
    assert_eq!(client["name"], "Erased client", "{when}: {client}");
    assert_eq!(client["email"], "", "{when}");
    assert!(client["phone"].is_null(), "{when}: {client}");
    assert_eq!(client["notes"], "", "{when}");
    assert_eq!(client["bookings_count"], 2, "{when}: {client}");
    for id in zelda_bookings {
        let b = app
            .call(
                Method::GET,
                &format!("/api/v1/bookings/{id}"),
                Some(read_token),
                None,
                &[],
            )
            .await
            .body;
        assert_eq!(b["client"]["name"], "Erased client", "{when}: {b}");
        assert_eq!(b["status"], "confirmed", "{when}: {b}");
    }
}

#[tokio::test]
async fn a_forgotten_client_is_erased_from_every_read_model_and_export_and_stays_erased() {
    for backend in BACKENDS {
        let app = TestApp::spawn(backend).await;
        let write = app.token("erasure", Scope::Write).await;
        let read_token = app.token("analyst", Scope::Read).await;
        let service = app.service_id("Retwist").await;
        let stylist = TestApp::stylist_id("Amara Diallo");
        let today = chrono::Utc::now().date_naive();
        let from = (today + chrono::Duration::days(2)).to_string();
        let to = (today + chrono::Duration::days(30)).to_string();
        let slots = app.slots(&service, Some(&stylist), &from, &to).await;
        let mut days = Vec::new();
        for s in &slots {
            let day = s["start"].as_str().unwrap()[..10].to_string();
            if !days
                .iter()
                .any(|d: &Value| d["start"].as_str().unwrap()[..10] == day)
            {
                days.push(s.clone());
            }
        }
        assert!(days.len() >= 4, "not enough free days");

        // Zelda books twice (with notes), Grace once; Zelda is then registered with notes.
        let mut zelda_bookings = Vec::new();
        for slot in &days[..2] {
            let body = json!({"service": service, "stylist": slot["stylist"], "start": slot["start"],
                "client": {"name": "Zelda Quixote", "email": "zelda.q@example.com", "phone": "(212) 555-0199"},
                "notes": "Zelda likes-lavender-tea"});
            let (status, booking) = app.post_booking(&body, None).await;
            assert_eq!(status, 201, "{booking}");
            zelda_bookings.push(booking["id"].as_str().unwrap().to_string());
        }
        let body = json!({"service": service, "stylist": days[2]["stylist"], "start": days[2]["start"],
            "client": {"name": "Grace Hopper", "email": "grace@example.com", "phone": "(212) 555-0100"}});
        assert_eq!(app.post_booking(&body, None).await.0, 201);
        // Bess booked with the first release: plain text in the log.
        let start = chrono::DateTime::parse_from_rfc3339(days[3]["start"].as_str().unwrap())
            .unwrap()
            .with_timezone(&chrono::Utc);
        app.server
            .state
            .bus
            .store()
            .append(&legacy_booking(&service, &stylist, start))
            .await
            .expect("a first-release booking");
        let zelda = client_id("zelda.q@example.com");
        let bess = client_id("bess.legacy@example.com");
        caught_up(&app).await;
        let patched = app
            .call(
                Method::PATCH,
                &format!("/api/v1/clients/{zelda}"),
                Some(&write),
                Some(&json!({"notes": "likes-lavender-tea"})),
                &[],
            )
            .await;
        assert_eq!(patched.status, 200, "{:?}", patched.body);
        caught_up(&app).await;

        // Sealed in the log from the start: the raw payloads never held Zelda's data, while
        // the read models and exports show it to those allowed to see it.
        let raw = raw_payloads(&app).await;
        assert_clean("the raw event log", &raw, &ZELDA);
        assert!(raw.contains("XChaCha20-Poly1305"));
        assert!(
            !leaks(&raw, &BESS).is_empty(),
            "Bess is plain version-1 text"
        );
        assert!(leaks(&read_models(&app).await, &ZELDA).len() == ZELDA.len());
        let ndjson = &exports(&app, &read_token).await["api ndjson"];
        assert!(ndjson.contains("Zelda Quixote") && ndjson.contains("Bess Legacy"));
        assert!(
            ndjson.contains(r#""event_version":"2","payload":{"BookingRequested""#)
                || ndjson.contains(r#""event_type":"BookingRequested","event_version":"2""#),
            "{ndjson}"
        );
        let before = figures(&app).await;

        // Forget Zelda through the API: a read token may not, an unknown client is 404.
        let path = format!("/api/v1/clients/{zelda}/personal-data");
        let denied = app
            .call(Method::DELETE, &path, Some(&read_token), None, &[])
            .await;
        assert_eq!(denied.status, 403);
        let unknown = app
            .call(
                Method::DELETE,
                &format!(
                    "/api/v1/clients/{}/personal-data",
                    client_id("nobody@example.com")
                ),
                Some(&write),
                None,
                &[],
            )
            .await;
        assert_eq!(unknown.status, 404);
        assert_eq!(unknown.header("content-type"), "application/problem+json");
        let forgot = app
            .call(
                Method::DELETE,
                &path,
                Some(&write),
                None,
                &[("X-Reason", "asked by the client")],
            )
            .await;
        assert_eq!(forgot.status, 204, "{:?}", forgot.body);
        let again = app
            .call(Method::DELETE, &path, Some(&write), None, &[])
            .await;
        assert_eq!(again.status, 409);
        assert_eq!(again.header("content-type"), "application/problem+json");
        // Forget Bess through the CLI's path (by email), the server running.
        let forgotten = salon::clients::forget(&app.db.url, "Bess.Legacy@example.com", None)
            .await
            .expect("salon clients forget");
        assert_eq!(forgotten.to_string(), bess);
        caught_up(&app).await;

        check(
            &app,
            &read_token,
            "after forgetting",
            &before,
            &zelda,
            &zelda_bookings,
        )
        .await;

        // Aggregates load erased too (the key is gone), with their money intact.
        let bus = &app.server.state.bus;
        for id in &zelda_bookings {
            let booking = bus
                .load_fresh::<domain::booking::Booking>(id)
                .await
                .unwrap();
            let d = booking.state.details.expect("details");
            assert_eq!(d.client.name.as_str(), "Erased client");
            assert_eq!(d.client.email.as_str(), "");
            assert!(d.notes.is_none());
            assert!(d.price_cents.get() > 0);
        }
        let client = bus
            .load_fresh::<domain::client::Client>(&zelda)
            .await
            .unwrap();
        assert!(client.state.forgotten && client.state.details.is_none());

        // Rebuilt from position 0, every read model still shows both as erased.
        let read = &app.server.state.read;
        for p in Projection::ALL {
            projections::runner::reset(read, p).await.unwrap();
            projections::runner::catch_up(read, p).await.unwrap();
        }
        check(
            &app,
            &read_token,
            "after a rebuild",
            &before,
            &zelda,
            &zelda_bookings,
        )
        .await;

        // The audit trail says who forgot whom, and why.
        let audit = app
            .call(
                Method::GET,
                &format!("/api/v1/audit?type=ClientForgotten&aggregate_id={zelda}"),
                Some(&read_token),
                None,
                &[],
            )
            .await
            .body;
        assert_eq!(audit["count"], 1, "{audit}");
        assert_eq!(audit["results"][0]["actor"], "token:erasure");
        assert_eq!(audit["results"][0]["reason"], "asked by the client");
        app.stop().await;
    }
}
