//! External calendars end to end: a real Radicale CalDAV server and a local stub of Google's
//! documented freeBusy/OAuth2 wire format, the real app on a random port, both stores.
//!
//! The CalDAV cases (a weekly event with an EXDATE and one moved occurrence, an all-day event,
//! a transparent event, an event in another time zone, a daily event across the 2027-03-14 DST
//! change) are checked slot by slot: the slots a sync removes are exactly those that overlap the
//! events' busy time, and no others.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::America::New_York;
use commands::calendars::{CalendarSettings, Sealer};
use domain::availability::Slot;
use domain::ids::CalendarSourceId;
use domain::token::Scope;
use migrations::Backend;
use projections::Projection;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tests::{booking_body, Radicale, ScratchDb, TestApp, BACKENDS};

const KEY: &str = "test-only-secret-key-0123456789abcdef";

fn settings() -> CalendarSettings {
    let mut s = CalendarSettings {
        sealer: Some(Sealer::new(KEY).expect("key")),
        timeout: Duration::from_secs(3),
        ..Default::default()
    };
    s.google.first_backoff = Duration::from_millis(10);
    s.google.attempts = 3;
    s
}

/// Busy time as (start, end) pairs.
type Spans = Vec<(DateTime<Utc>, DateTime<Utc>)>;

async fn spawn(backend: Backend, settings: CalendarSettings) -> TestApp {
    let db = ScratchDb::new(backend).await;
    TestApp::spawn_with(db, |c| {
        c.calendars = settings;
        c.calendar_schedule = false;
    })
    .await
}

fn ny(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    New_York
        .with_ymd_and_hms(y, m, d, h, min, 0)
        .unwrap()
        .with_timezone(&Utc)
}

/// "Now" for the March 2027 checks: Monday 2027-03-01, noon in New York.
fn march_now() -> DateTime<Utc> {
    ny(2027, 3, 1, 12, 0)
}

fn amara() -> String {
    TestApp::stylist_id("Amara Diallo")
}

async fn consultation(app: &TestApp) -> String {
    app.service_id("Consultation").await
}

/// Free slot starts for one stylist, as seen at `now`.
async fn slot_starts(
    app: &TestApp,
    stylist: &str,
    from: NaiveDate,
    to: NaiveDate,
    now: DateTime<Utc>,
) -> BTreeSet<DateTime<Utc>> {
    let service = consultation(app).await;
    let view = projections::queries::availability(
        &app.server.state.read,
        &service,
        Some(stylist),
        from,
        to,
        now,
    )
    .await
    .expect("availability")
    .expect("known service and stylist");
    view.slots
        .iter()
        .map(|s: &Slot| s.start.with_timezone(&Utc))
        .collect()
}

async fn settle(app: &TestApp) {
    let at = app.server.state.bus.signal().last();
    assert!(
        app.server
            .state
            .projections
            .wait_for(
                &[Projection::Availability, Projection::Calendars],
                at,
                Duration::from_secs(10)
            )
            .await,
        "projections caught up"
    );
}

fn vcalendar(body: &str) -> String {
    format!("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n{body}END:VCALENDAR\r\n")
}

/// The March 2027 events and the busy time they must produce.
fn march_events() -> (Vec<(&'static str, String)>, Spans) {
    let events = vec![
        (
            "weekly.ics",
            vcalendar(
                "BEGIN:VEVENT\r\nUID:weekly\r\nDTSTAMP:20270101T000000Z\r\n\
                 DTSTART;TZID=America/New_York:20270302T110000\r\nDTEND;TZID=America/New_York:20270302T120000\r\n\
                 RRULE:FREQ=WEEKLY;BYDAY=TU;COUNT=4\r\nEXDATE;TZID=America/New_York:20270309T110000\r\n\
                 SUMMARY:Gym\r\nEND:VEVENT\r\n\
                 BEGIN:VEVENT\r\nUID:weekly\r\nDTSTAMP:20270101T000000Z\r\n\
                 RECURRENCE-ID;TZID=America/New_York:20270316T110000\r\n\
                 DTSTART;TZID=America/New_York:20270316T150000\r\nDTEND;TZID=America/New_York:20270316T160000\r\n\
                 SUMMARY:Gym (moved)\r\nEND:VEVENT\r\n",
            ),
        ),
        (
            "allday.ics",
            vcalendar(
                "BEGIN:VEVENT\r\nUID:allday\r\nDTSTAMP:20270101T000000Z\r\nDTSTART;VALUE=DATE:20270305\r\n\
                 DTEND;VALUE=DATE:20270306\r\nSUMMARY:Family day\r\nEND:VEVENT\r\n",
            ),
        ),
        (
            "free.ics",
            vcalendar(
                "BEGIN:VEVENT\r\nUID:free\r\nDTSTAMP:20270101T000000Z\r\n\
                 DTSTART;TZID=America/New_York:20270304T110000\r\nDTEND;TZID=America/New_York:20270304T120000\r\n\
                 TRANSP:TRANSPARENT\r\nSUMMARY:Reminder\r\nEND:VEVENT\r\n",
            ),
        ),
        (
            "berlin.ics",
            vcalendar(
                "BEGIN:VEVENT\r\nUID:berlin\r\nDTSTAMP:20270101T000000Z\r\n\
                 DTSTART;TZID=Europe/Berlin:20270311T180000\r\nDTEND;TZID=Europe/Berlin:20270311T190000\r\n\
                 SUMMARY:Call with Berlin\r\nEND:VEVENT\r\n",
            ),
        ),
        (
            "dst.ics",
            vcalendar(
                "BEGIN:VEVENT\r\nUID:dst\r\nDTSTAMP:20270101T000000Z\r\n\
                 DTSTART;TZID=America/New_York:20270311T160000\r\nDTEND;TZID=America/New_York:20270311T163000\r\n\
                 RRULE:FREQ=DAILY;COUNT=6\r\nSUMMARY:School run\r\nEND:VEVENT\r\n",
            ),
        ),
    ];
    let mut busy = vec![
        (ny(2027, 3, 2, 11, 0), ny(2027, 3, 2, 12, 0)),
        (ny(2027, 3, 16, 15, 0), ny(2027, 3, 16, 16, 0)),
        (ny(2027, 3, 23, 11, 0), ny(2027, 3, 23, 12, 0)),
        (ny(2027, 3, 5, 0, 0), ny(2027, 3, 6, 0, 0)),
        // 18:00 in Berlin (UTC+1) is 12:00 in New York (UTC-5) on 2027-03-11.
        (ny(2027, 3, 11, 12, 0), ny(2027, 3, 11, 13, 0)),
    ];
    for d in 11..=16 {
        busy.push((ny(2027, 3, d, 16, 0), ny(2027, 3, d, 16, 30)));
    }
    (events, busy)
}

fn overlaps(start: DateTime<Utc>, busy: &[(DateTime<Utc>, DateTime<Utc>)]) -> bool {
    let end = start + chrono::Duration::minutes(30);
    busy.iter().any(|(s, e)| start < *e && *s < end)
}

async fn create_source(app: &TestApp, token: &str, body: Value) -> (u16, Value) {
    let r = app
        .http
        .post(app.url("/api/v1/calendar-sources"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .expect("POST source");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn source(app: &TestApp, token: &str, id: &str) -> Value {
    let r = app
        .http
        .get(app.url(&format!("/api/v1/calendar-sources/{id}")))
        .bearer_auth(token)
        .send()
        .await
        .expect("GET source");
    assert_eq!(r.status().as_u16(), 200);
    r.json().await.expect("json")
}

/// Waits for the sync that creating a source starts in the background.
async fn first_sync_done(app: &TestApp, token: &str, id: &str) {
    for _ in 0..400 {
        if !source(app, token, id).await["last_attempt_at"].is_null() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the first sync never ran");
}

#[tokio::test]
async fn caldav_events_block_exactly_their_slots_and_a_failing_server_keeps_them() {
    let mut radicale = Radicale::start().await;
    radicale.mkcalendar("owner", "/owner/cal/").await;
    let (events, busy) = march_events();
    for (name, ics) in &events {
        radicale
            .put("owner", &format!("/owner/cal/{name}"), ics)
            .await;
    }
    for backend in BACKENDS {
        let app = spawn(backend, settings()).await;
        let token = app.token("calendar-admin", Scope::Write).await;
        let (from, to) = (
            NaiveDate::from_ymd_opt(2027, 3, 2).unwrap(),
            NaiveDate::from_ymd_opt(2027, 3, 27).unwrap(),
        );
        let before = slot_starts(&app, &amara(), from, to, march_now()).await;
        let keisha = TestApp::stylist_id("Keisha Brown");
        let keisha_before = slot_starts(&app, &keisha, from, to, march_now()).await;

        // Discovery from the principal URL, with a password that must be sealed.
        let (status, created) = create_source(
            &app,
            &token,
            json!({"kind": "caldav", "url": radicale.url("/owner/"), "username": "owner",
                   "password": "app-specific-pw", "stylist": amara(), "name": "Amara's iCloud"}),
        )
        .await;
        assert_eq!(status, 201, "{created}");
        assert_eq!(created["has_credentials"], true);
        assert!(created.get("password").is_none() && created.get("credentials").is_none());
        assert!(!created.to_string().contains("app-specific-pw"));
        let id = created["id"].as_str().expect("id").to_string();
        first_sync_done(&app, &token, &id).await;
        // Nothing in the log holds the password in clear.
        let log: Vec<String> = sqlx::query_scalar("SELECT CAST(payload AS TEXT) FROM events")
            .fetch_all(app.server.state.read.pool())
            .await
            .expect("payloads");
        assert!(log.iter().all(|p| !p.contains("app-specific-pw")));

        let sync = app.server.state.calendars.clone();
        let source_id = CalendarSourceId::parse(&id).unwrap();
        let report = sync.sync_at(source_id, march_now()).await.expect("sync");
        assert!(report.error.is_none(), "{report:?}");
        assert!(report.changed);
        settle(&app).await;
        let after = slot_starts(&app, &amara(), from, to, march_now()).await;
        let removed: BTreeSet<_> = before.difference(&after).copied().collect();
        let expected: BTreeSet<_> = before
            .iter()
            .copied()
            .filter(|s| overlaps(*s, &busy))
            .collect();
        assert_eq!(removed, expected, "{backend:?}: exactly the busy slots go");
        assert!(after.is_subset(&before));
        // Each event blocks something on a day Amara works (Sunday 14th and Monday 15th she
        // does not; the daily event's occurrences there block nothing, as they should)...
        let off = [ny(2027, 3, 14, 16, 0), ny(2027, 3, 15, 16, 0)];
        for (s, e) in busy.iter().filter(|(s, _)| !off.contains(s)) {
            assert!(
                expected.iter().any(|x| overlaps(*x, &[(*s, *e)])),
                "{s}–{e} blocks no slot"
            );
        }
        // ...the transparent one nothing, and the EXDATE'd Tuesday stays free.
        assert!(after.contains(&ny(2027, 3, 4, 11, 0)));
        assert!(after.contains(&ny(2027, 3, 9, 11, 0)));
        assert!(
            after.contains(&ny(2027, 3, 16, 11, 0)),
            "the moved occurrence left 11:00"
        );
        // Another stylist's time is untouched.
        assert_eq!(
            slot_starts(&app, &keisha, from, to, march_now()).await,
            keisha_before
        );

        // The same calendar again: nothing changes, nothing is appended.
        let events_before = tests::count_events(&app).await;
        let again = sync.sync_at(source_id, march_now()).await.expect("sync");
        assert!(!again.changed && again.days_changed == 0 && again.error.is_none());
        assert_eq!(tests::count_events(&app).await, events_before);

        // The server goes away: the sync fails, the known busy time stays.
        radicale.pause();
        let failed = sync.sync_at(source_id, march_now()).await.expect("sync");
        assert!(failed.error.is_some());
        settle(&app).await;
        assert_eq!(
            slot_starts(&app, &amara(), from, to, march_now()).await,
            after
        );
        let shown = source(&app, &token, &id).await;
        assert_eq!(shown["status"], "failing", "{shown}");
        assert!(shown["last_error"].as_str().is_some());
        radicale.resume().await;
        let healed = sync.sync_at(source_id, march_now()).await.expect("sync");
        assert!(healed.error.is_none() && !healed.changed, "{healed:?}");
        settle(&app).await;
        assert_eq!(source(&app, &token, &id).await["status"], "ok");

        // Disconnecting the calendar gives the time back.
        let r = app
            .http
            .delete(app.url(&format!("/api/v1/calendar-sources/{id}")))
            .bearer_auth(&token)
            .header("X-Reason", "owner moved to another calendar")
            .send()
            .await
            .expect("DELETE");
        assert_eq!(r.status().as_u16(), 204);
        settle(&app).await;
        assert_eq!(
            slot_starts(&app, &amara(), from, to, march_now()).await,
            before
        );
        app.stop().await;
    }
}

#[tokio::test]
async fn a_booking_over_calendar_busy_time_is_refused_and_shows_in_the_ics_feed_otherwise() {
    let radicale = Radicale::start().await;
    radicale.mkcalendar("owner", "/owner/work/").await;
    let app = spawn(Backend::Sqlite, settings()).await;
    let token = app.token("feed", Scope::Write).await;
    let service = consultation(&app).await;
    let slot = app.first_slot(&service, &amara()).await;
    let start: DateTime<Utc> = slot["start"].as_str().unwrap().parse().unwrap();
    let end = start + chrono::Duration::minutes(60);
    let ics = vcalendar(&format!(
        "BEGIN:VEVENT\r\nUID:dentist\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:{}\r\nDTEND:{}\r\nSUMMARY:Dentist\r\nEND:VEVENT\r\n",
        start.format("%Y%m%dT%H%M%SZ"),
        end.format("%Y%m%dT%H%M%SZ")
    ));
    radicale.put("owner", "/owner/work/dentist.ics", &ics).await;
    // A calendar URL this time (not the principal), and no password at all.
    let (status, created) = create_source(
        &app,
        &token,
        json!({"kind": "caldav", "url": radicale.url("/owner/work/"), "username": "owner",
               "stylist": amara(), "write_back": true}),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_string();
    first_sync_done(&app, &token, &id).await;
    let r = app
        .http
        .post(app.url(&format!("/api/v1/calendar-sources/{id}/sync")))
        .bearer_auth(&token)
        .send()
        .await
        .expect("sync now");
    assert_eq!(r.status().as_u16(), 200);
    let answer: Value = r.json().await.unwrap();
    assert!(answer["report"]["error"].is_null(), "{answer}");
    assert_eq!(answer["source"]["status"], "ok");
    assert!(answer["source"]["busy_count"].as_i64().unwrap() >= 1);
    settle(&app).await;

    // The slot is gone from availability and the write side refuses it too.
    let date = slot["start"].as_str().unwrap()[..10].to_string();
    let slots = app.slots(&service, Some(&amara()), &date, &date).await;
    assert!(slots.iter().all(|s| s["start"] != slot["start"]));
    let (status, body) = app
        .post_booking(
            &booking_body(&service, &amara(), slot["start"].as_str().unwrap(), "Ana"),
            Some("over-busy-time"),
        )
        .await;
    assert_eq!(status, 409, "{body}");

    // A free slot books, and the stylist's feed shows it (our own event never blocks twice).
    let free = slots.first().expect("another slot that day").clone();
    let (status, booked) = app
        .post_booking(
            &booking_body(&service, &amara(), free["start"].as_str().unwrap(), "Bea"),
            Some("feed-booking"),
        )
        .await;
    assert_eq!(status, 201, "{booked}");
    // Write-back: the confirmed booking lands in the owner's calendar, UID = booking id...
    let booking_id = booked["id"].as_str().unwrap().to_string();
    let source_id = CalendarSourceId::parse(&id).unwrap();
    let sync = app.server.state.calendars.clone();
    let wrote = sync.write_back_now(source_id).await.expect("write back");
    assert_eq!((wrote.written, wrote.errors.len()), (1, 0), "{wrote:?}");
    let (status, ics) = radicale
        .get("owner", &format!("/owner/work/{booking_id}.ics"))
        .await;
    assert_eq!(status, 200);
    assert!(
        ics.contains(&format!("UID:{booking_id}")) && ics.contains("Bea"),
        "{ics}"
    );
    // ...is not written twice, and is not counted as busy time by the next sync.
    let again = sync.write_back_now(source_id).await.expect("write back");
    assert_eq!((again.written, again.unchanged), (0, 1));
    let resync = sync.sync(source_id).await.expect("sync");
    assert!(!resync.changed && resync.error.is_none(), "{resync:?}");
    assert_eq!(resync.busy_blocks, 1, "only the dentist");

    let feed = app
        .get(&format!("/calendar/{}.ics?token={token}", amara()))
        .await;
    assert_eq!(feed.status().as_u16(), 200);
    assert!(feed.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/calendar"));
    let body = feed.text().await.unwrap();
    assert!(
        body.contains(&format!("UID:{}", booked["id"].as_str().unwrap())),
        "{body}"
    );
    assert!(body.contains("X-SALON-BOOKING"));
    let window = domain::availability::Interval::new(
        start - chrono::Duration::days(1),
        end + chrono::Duration::days(1),
    );
    assert!(
        commands::calendars::ical::busy_in_resource(&body, chrono_tz::America::New_York, window)
            .busy
            .is_empty(),
        "a feed of our own bookings is never counted as outside busy time"
    );
    // Cancelled: the event leaves the owner's calendar.
    let meta = domain::metadata::EventMetadata::new("owner", domain::metadata::Source::Panel);
    app.server
        .state
        .bus
        .cancel_booking(
            domain::ids::BookingId::parse(&booking_id).unwrap(),
            domain::booking::Party::Owner,
            None,
            chrono::Utc::now(),
            &meta,
        )
        .await
        .expect("cancel");
    let gone = sync.write_back_now(source_id).await.expect("write back");
    assert_eq!(gone.deleted, 1, "{gone:?}");
    assert_eq!(
        radicale
            .get("owner", &format!("/owner/work/{booking_id}.ics"))
            .await
            .0,
        404
    );
    for path in [
        format!("/calendar/{}.ics", amara()),
        format!("/calendar/{}.ics?token=wrong", amara()),
    ] {
        assert_eq!(app.get(&path).await.status().as_u16(), 401, "{path}");
    }
    assert_eq!(
        app.get(&format!(
            "/calendar/{}.ics?token={token}",
            uuid::Uuid::new_v4()
        ))
        .await
        .status()
        .as_u16(),
        404
    );
    app.stop().await;
}

#[tokio::test]
async fn calendar_sources_api_checks_auth_input_and_never_returns_secrets() {
    // No SALON_SECRET_KEY: a password cannot be stored, and the answer says why.
    let mut no_key = settings();
    no_key.sealer = None;
    let app = spawn(Backend::Sqlite, no_key).await;
    let write = app.token("w", Scope::Write).await;
    let read = app.token("r", Scope::Read).await;
    let base = json!({"kind": "caldav", "url": "http://127.0.0.1:9/dav/", "username": "u",
                      "password": "p", "stylist": amara()});
    let (status, body) = create_source(&app, &write, base.clone()).await;
    assert_eq!(status, 422, "{body}");
    assert!(body["detail"]
        .as_str()
        .unwrap()
        .contains("SALON_SECRET_KEY"));
    let (status, _) = create_source(&app, &read, base.clone()).await;
    assert_eq!(status, 403);
    let r = app
        .http
        .post(app.url("/api/v1/calendar-sources"))
        .json(&base)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    assert!(r.headers().contains_key("www-authenticate"));
    for (body, field) in [
        (json!({"kind": "exchange", "stylist": amara()}), "kind"),
        (
            json!({"kind": "caldav", "url": "ftp://x", "stylist": amara()}),
            "url",
        ),
        (
            json!({"kind": "caldav", "url": "https://x/", "stylist": uuid::Uuid::new_v4()}),
            "stylist",
        ),
        (
            json!({"kind": "google", "calendar_id": "a@b", "stylist": amara(),
                "credentials": {"type": "service_account", "client_email": "x", "private_key": "nope"}}),
            "credentials",
        ),
        (
            json!({"kind": "caldav", "url": "https://x/", "stylist": amara(), "sync_minutes": 0}),
            "sync_minutes",
        ),
    ] {
        let (status, problem) = create_source(&app, &write, body.clone()).await;
        assert_eq!(status, 422, "{body} → {problem}");
        assert!(
            problem["errors"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["field"] == field),
            "{problem}"
        );
    }
    let (status, _) = create_source(
        &app,
        &write,
        json!({"kind": "caldav", "url": "https://x/", "stylist": amara(), "surprise": 1}),
    )
    .await;
    assert_eq!(status, 422);
    // Without credentials a source is fine; it lists in the DRF envelope; unknown ids are 404.
    let (status, created) = create_source(
        &app,
        &write,
        json!({"kind": "caldav", "url": "http://127.0.0.1:9/dav/", "stylist": amara(), "sync_minutes": 15}),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let (status, list) = {
        let r = app
            .http
            .get(app.url("/api/v1/calendar-sources?limit=10"))
            .bearer_auth(&read)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json::<Value>().await.unwrap())
    };
    assert_eq!(status, 200);
    assert_eq!(list["count"], 1);
    assert!(list["next"].is_null() && list["previous"].is_null());
    assert_eq!(list["results"][0]["sync_minutes"], 15);
    let r = app
        .http
        .patch(app.url(&format!(
            "/api/v1/calendar-sources/{}",
            created["id"].as_str().unwrap()
        )))
        .bearer_auth(&write)
        .json(&json!({"name": "Shop calendar", "sync_minutes": 10}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let patched: Value = r.json().await.unwrap();
    assert_eq!(patched["name"], "Shop calendar");
    assert_eq!(patched["sync_minutes"], 10);
    for path in [
        format!("/api/v1/calendar-sources/{}", uuid::Uuid::new_v4()),
        "/api/v1/calendar-sources/not-a-uuid".to_string(),
    ] {
        let r = app
            .http
            .get(app.url(&path))
            .bearer_auth(&read)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 404, "{path}");
    }
    app.stop().await;
}

/// A server that accepts connections and never answers: the sync must give up on its own.
async fn silent_server() -> (u16, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    (port, task)
}

#[tokio::test]
async fn a_calendar_that_never_answers_times_out_and_is_shown_failing() {
    let (port, server) = silent_server().await;
    let mut s = settings();
    s.timeout = Duration::from_secs(1);
    let app = spawn(Backend::Sqlite, s).await;
    let token = app.token("t", Scope::Write).await;
    let (status, created) = create_source(
        &app,
        &token,
        json!({"kind": "caldav", "url": format!("http://127.0.0.1:{port}/dav/"), "stylist": amara()}),
    )
    .await;
    assert_eq!(status, 201);
    let id = CalendarSourceId::parse(created["id"].as_str().unwrap()).unwrap();
    let started = std::time::Instant::now();
    let report = app.server.state.calendars.sync(id).await.expect("sync");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(
        report.error.as_deref().unwrap_or("").contains("no answer"),
        "{report:?}"
    );
    settle(&app).await;
    let shown = source(&app, &token, &id.to_string()).await;
    assert_eq!(shown["status"], "failing");
    server.abort();
    app.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Google: a local stub of the documented OAuth2 token endpoint and `freeBusy.query`.

#[derive(Default)]
struct GoogleStub {
    /// 0: answer; 1: quota errors for the first two calls, then answer; 2: always 500;
    /// 3: the calendar is unknown.
    mode: AtomicU32,
    freebusy_calls: AtomicU32,
    token_calls: AtomicU32,
}

async fn google_stub() -> (String, Arc<GoogleStub>) {
    use axum::extract::State;
    use axum::http::{HeaderMap, StatusCode};
    use axum::response::IntoResponse;
    use axum::routing::post;
    let stub = Arc::new(GoogleStub::default());
    async fn token(State(stub): State<Arc<GoogleStub>>, body: String) -> axum::response::Response {
        stub.token_calls.fetch_add(1, Ordering::SeqCst);
        let form: Vec<(String, String)> = body
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_string(), urlencoding_decode(v)))
            .collect();
        let get = |k: &str| form.iter().find(|(x, _)| x == k).map(|(_, v)| v.clone());
        let ok = match get("grant_type").as_deref() {
            Some("refresh_token") => get("refresh_token").as_deref() == Some("good-refresh"),
            Some("urn:ietf:params:oauth:grant-type:jwt-bearer") => {
                // A JWT: header.claims.signature, claims naming the service account.
                let assertion = get("assertion").unwrap_or_default();
                let parts: Vec<&str> = assertion.split('.').collect();
                use base64::Engine;
                parts.len() == 3
                    && base64::engine::general_purpose::URL_SAFE_NO_PAD
                        .decode(parts[1])
                        .ok()
                        .and_then(|c| serde_json::from_slice::<Value>(&c).ok())
                        .is_some_and(|c| c["iss"] == "salon@project.iam.gserviceaccount.com")
            }
            _ => false,
        };
        if ok {
            axum::Json(
                json!({"access_token": "ya29.stub", "expires_in": 3599, "token_type": "Bearer"}),
            )
            .into_response()
        } else {
            (
                StatusCode::BAD_REQUEST,
                axum::Json(json!({"error": "invalid_grant", "error_description": "Token has been expired or revoked."})),
            )
                .into_response()
        }
    }
    async fn freebusy(
        State(stub): State<Arc<GoogleStub>>,
        headers: HeaderMap,
        axum::Json(body): axum::Json<Value>,
    ) -> axum::response::Response {
        let n = stub.freebusy_calls.fetch_add(1, Ordering::SeqCst);
        if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some("Bearer ya29.stub") {
            return (
                StatusCode::UNAUTHORIZED,
                axum::Json(json!({"error": {"code": 401, "message": "Invalid Credentials",
                    "errors": [{"domain": "global", "reason": "authError", "message": "Invalid Credentials"}]}})),
            )
                .into_response();
        }
        let id = body["items"][0]["id"].as_str().unwrap_or("").to_string();
        match stub.mode.load(Ordering::SeqCst) {
            1 if n < 2 => (
                StatusCode::FORBIDDEN,
                axum::Json(json!({"error": {"code": 403, "message": "Rate Limit Exceeded",
                    "errors": [{"domain": "usageLimits", "reason": "rateLimitExceeded", "message": "Rate Limit Exceeded"}]}})),
            )
                .into_response(),
            2 => (
                StatusCode::INTERNAL_SERVER_ERROR,
                axum::Json(json!({"error": {"code": 500, "message": "Backend Error",
                    "errors": [{"domain": "global", "reason": "backendError", "message": "Backend Error"}]}})),
            )
                .into_response(),
            3 => axum::Json(json!({"kind": "calendar#freeBusy", "timeMin": body["timeMin"], "timeMax": body["timeMax"],
                "calendars": {id: {"errors": [{"domain": "global", "reason": "notFound"}], "busy": []}}}))
                .into_response(),
            _ => axum::Json(json!({"kind": "calendar#freeBusy", "timeMin": body["timeMin"], "timeMax": body["timeMax"],
                "calendars": {id: {"busy": [
                    {"start": "2027-03-03T19:00:00Z", "end": "2027-03-03T20:00:00Z"},
                    {"start": "2027-03-18T14:00:00Z", "end": "2027-03-18T15:30:00Z"}
                ]}}}))
                .into_response(),
        }
    }
    let router = axum::Router::new()
        .route("/token", post(token))
        .route("/calendar/v3/freeBusy", post(freebusy))
        .with_state(stub.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    (base, stub)
}

fn urlencoding_decode(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn rsa_key_pem() -> Option<String> {
    let out = std::process::Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
        ])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

#[tokio::test]
async fn google_free_busy_blocks_slots_retries_quota_and_keeps_the_last_good_answer() {
    let (base, stub) = google_stub().await;
    for backend in BACKENDS {
        stub.mode.store(0, Ordering::SeqCst);
        let mut s = settings();
        s.google.api_base = base.clone();
        s.google.token_url = format!("{base}/token");
        let app = spawn(backend, s).await;
        let token = app.token("g", Scope::Write).await;
        let (from, to) = (
            NaiveDate::from_ymd_opt(2027, 3, 2).unwrap(),
            NaiveDate::from_ymd_opt(2027, 3, 27).unwrap(),
        );
        let before = slot_starts(&app, &amara(), from, to, march_now()).await;
        let (status, created) = create_source(
            &app,
            &token,
            json!({"kind": "google", "calendar_id": "amara@example.com", "stylist": amara(),
                   "credentials": {"type": "authorized_user", "client_id": "cid", "client_secret": "csecret",
                                   "refresh_token": "good-refresh"}}),
        )
        .await;
        assert_eq!(status, 201, "{created}");
        assert!(!created.to_string().contains("good-refresh"));
        let id = created["id"].as_str().unwrap().to_string();
        first_sync_done(&app, &token, &id).await;
        let source_id = CalendarSourceId::parse(&id).unwrap();
        let sync = app.server.state.calendars.clone();
        let report = sync.sync_at(source_id, march_now()).await.unwrap();
        assert!(report.error.is_none(), "{report:?}");
        settle(&app).await;
        let busy = [
            (ny(2027, 3, 3, 14, 0), ny(2027, 3, 3, 15, 0)),
            (ny(2027, 3, 18, 10, 0), ny(2027, 3, 18, 11, 30)),
        ];
        let after = slot_starts(&app, &amara(), from, to, march_now()).await;
        let removed: BTreeSet<_> = before.difference(&after).copied().collect();
        let expected: BTreeSet<_> = before
            .iter()
            .copied()
            .filter(|s| overlaps(*s, &busy))
            .collect();
        assert_eq!(removed, expected);
        assert_eq!(expected.len(), 2 + 3);

        // Quota errors are retried with backoff and the sync succeeds.
        stub.mode.store(1, Ordering::SeqCst);
        stub.freebusy_calls.store(0, Ordering::SeqCst);
        let report = sync.sync_at(source_id, march_now()).await.unwrap();
        assert!(report.error.is_none(), "{report:?}");
        assert_eq!(stub.freebusy_calls.load(Ordering::SeqCst), 3);

        // 500 on every try, then an unknown calendar: failures recorded, busy time kept.
        for (mode, needle) in [(2, "500"), (3, "notFound")] {
            stub.mode.store(mode, Ordering::SeqCst);
            let report = sync.sync_at(source_id, march_now()).await.unwrap();
            let error = report.error.unwrap_or_default();
            assert!(error.contains(needle), "{error}");
            settle(&app).await;
            assert_eq!(
                slot_starts(&app, &amara(), from, to, march_now()).await,
                after
            );
            assert_eq!(source(&app, &token, &id).await["status"], "failing");
        }
        app.stop().await;
    }

    // A revoked refresh token and a service-account key (signed JWT assertion).
    stub.mode.store(0, Ordering::SeqCst);
    let mut s = settings();
    s.google.api_base = base.clone();
    s.google.token_url = format!("{base}/token");
    let app = spawn(Backend::Sqlite, s).await;
    let token = app.token("g", Scope::Write).await;
    let (_, revoked) = create_source(
        &app,
        &token,
        json!({"kind": "google", "calendar_id": "amara@example.com", "stylist": amara(),
               "credentials": {"type": "authorized_user", "client_id": "cid", "client_secret": "cs",
                               "refresh_token": "revoked"}}),
    )
    .await;
    let id = CalendarSourceId::parse(revoked["id"].as_str().unwrap()).unwrap();
    let report = app
        .server
        .state
        .calendars
        .sync_at(id, march_now())
        .await
        .unwrap();
    assert!(report.error.unwrap_or_default().contains("invalid_grant"));
    if let Some(pem) = rsa_key_pem() {
        let (status, created) = create_source(
            &app,
            &token,
            json!({"kind": "google", "calendar_id": "amara@example.com", "stylist": amara(),
                   "credentials": {"type": "service_account",
                                   "client_email": "salon@project.iam.gserviceaccount.com",
                                   "private_key": pem}}),
        )
        .await;
        assert_eq!(status, 201, "{created}");
        let id = CalendarSourceId::parse(created["id"].as_str().unwrap()).unwrap();
        let report = app
            .server
            .state
            .calendars
            .sync_at(id, march_now())
            .await
            .unwrap();
        assert!(report.error.is_none(), "{report:?}");
        assert_eq!(report.busy_blocks, 2);
    } else {
        assert!(
            std::env::var("CI").is_err(),
            "openssl is needed to make a test RSA key"
        );
    }
    app.stop().await;
}
