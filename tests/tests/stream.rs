//! Live alerts over Server-Sent Events (`GET /events/stream`), against the real app on both
//! stores: authentication, bookings and cancellations arriving live with their log positions,
//! resuming after `Last-Event-ID` without gaps or duplicates, a lagging subscriber recovering
//! from the log, and shutdown ending open streams.

use api::alerts::{Alert, Alerts};
use chrono::DateTime;
use domain::token::Scope;
use futures::FutureExt;
use serde_json::Value;
use std::time::Duration;
use tests::{booking_body, TestApp, BACKENDS};

/// How long a test waits for something that should arrive at once.
const WITHIN: Duration = Duration::from_secs(10);

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

/// One SSE message.
#[derive(Debug, Clone, PartialEq)]
struct Message {
    id: String,
    event: String,
    data: Value,
}

/// A client of `/events/stream` reading the body chunk by chunk.
struct Stream {
    response: reqwest::Response,
    buffer: Vec<u8>,
}

impl Stream {
    /// Opens the stream; the caller checks the status.
    async fn open(
        app: &TestApp,
        token: Option<&str>,
        last_event_id: Option<&str>,
        query: Option<&str>,
    ) -> reqwest::Response {
        // Not `app.http`: its whole-request timeout would cut a long stream.
        let mut url = app.url("/events/stream");
        if let Some(q) = query {
            url.push_str(&format!("?last_event_id={q}"));
        }
        let mut req = reqwest::Client::new().get(url);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(id) = last_event_id {
            req = req.header("Last-Event-ID", id);
        }
        req.send().await.expect("GET /events/stream")
    }

    async fn connect(
        app: &TestApp,
        token: &str,
        last_event_id: Option<&str>,
        query: Option<&str>,
    ) -> Self {
        let response = Self::open(app, Some(token), last_event_id, query).await;
        assert_eq!(response.status().as_u16(), 200);
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string()
        };
        assert!(header("content-type").starts_with("text/event-stream"));
        assert_eq!(header("cache-control"), "no-cache");
        assert_eq!(header("x-accel-buffering"), "no");
        Self {
            response,
            buffer: Vec::new(),
        }
    }

    /// The next message (comments skipped), or `None` when the stream ends. Panics when
    /// nothing arrives within `WITHIN`.
    async fn next(&mut self) -> Option<Message> {
        let deadline = tokio::time::Instant::now() + WITHIN;
        loop {
            while let Some(end) = self.buffer.windows(2).position(|w| w == b"\n\n") {
                let block: Vec<u8> = self.buffer.drain(..end + 2).collect();
                let text = String::from_utf8(block).expect("UTF-8");
                let mut message = Message {
                    id: String::new(),
                    event: String::new(),
                    data: Value::Null,
                };
                let mut data = String::new();
                for line in text.lines() {
                    if let Some(v) = line.strip_prefix("id: ") {
                        message.id = v.to_string();
                    } else if let Some(v) = line.strip_prefix("event: ") {
                        message.event = v.to_string();
                    } else if let Some(v) = line.strip_prefix("data: ") {
                        assert!(data.is_empty(), "data is one line: {text:?}");
                        data = v.to_string();
                    }
                }
                if data.is_empty() {
                    continue; // a keep-alive comment
                }
                message.data = serde_json::from_str(&data).expect("JSON data");
                return Some(message);
            }
            let chunk = tokio::time::timeout_at(deadline, self.response.chunk())
                .await
                .expect("an SSE message in time");
            match chunk {
                Ok(Some(bytes)) => self.buffer.extend_from_slice(&bytes),
                Ok(None) | Err(_) => return None,
            }
        }
    }

    /// Messages up to and including the first `event` about `aggregate_id`.
    async fn until(&mut self, event: &str, aggregate_id: &str) -> Vec<Message> {
        let mut seen = Vec::new();
        loop {
            let m = self.next().await.expect("the stream is open");
            let done = m.event == event && m.data["aggregate_id"] == aggregate_id;
            seen.push(m);
            if done {
                return seen;
            }
        }
    }

    /// Exactly the next `n` messages.
    async fn take(&mut self, n: usize) -> Vec<Message> {
        let mut seen = Vec::new();
        for _ in 0..n {
            seen.push(self.next().await.expect("the stream is open"));
        }
        seen
    }
}

/// `n` free start times of one stylist, on different days (so buffers never touch).
async fn starts(app: &TestApp, n: usize) -> (String, String, Vec<String>) {
    let service = app.service_id("Loc Styling").await;
    let stylist = TestApp::stylist_id("Keisha Brown");
    let today = chrono::Utc::now().date_naive();
    let from = (today + chrono::Duration::days(2)).to_string();
    let to = (today + chrono::Duration::days(30)).to_string();
    let mut picked: Vec<String> = Vec::new();
    for slot in app.slots(&service, Some(&stylist), &from, &to).await {
        let start = slot["start"].as_str().unwrap_or("").to_string();
        // RFC 3339 in the salon's zone: the first ten characters are the local date.
        if !picked.iter().any(|p| p.get(..10) == start.get(..10)) {
            picked.push(start);
        }
        if picked.len() == n {
            break;
        }
    }
    assert_eq!(picked.len(), n, "free days");
    (service, stylist, picked)
}

async fn book(app: &TestApp, service: &str, stylist: &str, start: &str, name: &str) -> String {
    let (status, booking) = app
        .post_booking(&booking_body(service, stylist, start, name), None)
        .await;
    assert_eq!(status, 201, "{booking}");
    booking["id"].as_str().expect("booking id").to_string()
}

fn events(messages: &[Message]) -> Vec<(String, String)> {
    messages
        .iter()
        .map(|m| {
            (
                m.event.clone(),
                m.data["aggregate_id"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn the_stream_needs_a_valid_token_and_a_sane_resume_point() {
    each_backend(|app| async move {
        for token in [None, Some("salon_wrong"), Some("")] {
            let r = Stream::open(&app, token, None, None).await;
            assert_eq!(r.status().as_u16(), 401, "token {token:?}");
            assert_eq!(
                r.headers()
                    .get("content-type")
                    .and_then(|v| v.to_str().ok()),
                Some("application/problem+json")
            );
            assert!(r
                .headers()
                .get("www-authenticate")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("Bearer")));
        }
        // A valid token with a nonsense resume point is a bad request, not a stream.
        let token = app.token("watcher", Scope::Read).await;
        for bad in ["-3", "abc"] {
            let r = Stream::open(&app, Some(&token), Some(bad), None).await;
            assert_eq!(r.status().as_u16(), 400, "Last-Event-ID {bad}");
            let r = Stream::open(&app, Some(&token), None, Some(bad)).await;
            assert_eq!(r.status().as_u16(), 400, "last_event_id={bad}");
        }
        // An id that names no event of this log starts at the head, like a fresh connection
        // (rather than waiting for the log to grow past it).
        let mut stream = Stream::connect(&app, &token, Some("987654321"), None).await;
        let (service, stylist, times) = starts(&app, 1).await;
        let id = book(&app, &service, &stylist, &times[0], "Fresh Start").await;
        let first = stream.next().await.expect("an alert");
        assert_eq!(
            (first.event.as_str(), first.data["aggregate_id"].as_str()),
            ("BookingRequested", Some(id.as_str()))
        );
        app
    })
    .await;
}

#[tokio::test]
async fn bookings_and_cancellations_arrive_live_and_reconnects_resume_after_the_last_id() {
    each_backend(|app| async move {
        let token = app.token("watcher", Scope::Read).await;
        let (service, stylist, times) = starts(&app, 3).await;
        let mut live = Stream::connect(&app, &token, None, None).await;

        // A booking placed through the API: requested, then confirmed (no deposit step here).
        let first = book(&app, &service, &stylist, &times[0], "Ada Stream").await;
        let seen = live.until("BookingConfirmed", &first).await;
        assert_eq!(
            events(&seen),
            vec![
                ("BookingRequested".to_string(), first.clone()),
                ("BookingConfirmed".to_string(), first.clone()),
            ],
            "only the booking's alerts, in order (no SlotReserved, no catalog events)"
        );
        let log = tests::events_eventually(&app.server.state.read, 0).await;
        for m in &seen {
            let event = log
                .iter()
                .find(|e| e.aggregate_id == first && e.event_type == m.event)
                .expect("the alert is in the log");
            assert_eq!(
                m.id,
                event.at.position.to_string(),
                "id: is the log position"
            );
            assert_eq!(m.data["position"], event.at.position);
            assert_eq!(m.data["event_type"], m.event);
            assert_eq!(m.data["payload"], event.payload);
            assert_eq!(m.data["actor"], event.audit().actor);
            assert_eq!(
                m.data["summary"],
                projections::summary::summarize(event),
                "the audit log's sentence"
            );
            assert!(m.data["recorded_at"]
                .as_str()
                .is_some_and(|t| DateTime::parse_from_rfc3339(t).is_ok()));
        }
        assert!(seen[0].data["summary"]
            .as_str()
            .is_some_and(|s| s.contains("Ada Stream")));
        assert_eq!(
            seen[1].data["summary"],
            format!("Booking {first} confirmed")
        );

        let second = book(&app, &service, &stylist, &times[1], "Bo Stream").await;
        let mut all = seen;
        all.extend(live.until("BookingConfirmed", &second).await);
        assert_eq!(all.len(), 4, "{:?}", events(&all));

        // A cancellation (the panel's path through the command bus).
        let meta = domain::metadata::EventMetadata::new("owner", domain::metadata::Source::Panel);
        app.server
            .state
            .bus
            .cancel_booking(
                domain::ids::BookingId::parse(&first).expect("id"),
                domain::booking::Party::Owner,
                None,
                chrono::Utc::now(),
                &meta,
            )
            .await
            .expect("cancel");
        let cancelled = live.until("BookingCancelled", &first).await;
        assert_eq!(cancelled.len(), 1, "{:?}", events(&cancelled));
        assert_eq!(cancelled[0].data["actor"], "owner");
        assert_eq!(
            cancelled[0].data["summary"],
            format!("Booking {first} cancelled by the owner")
        );
        all.extend(cancelled);

        // Reconnecting after the first booking's confirmation: exactly what came after it,
        // then live events, without a duplicate at the seam.
        let mut resumed = Stream::connect(&app, &token, Some(&all[1].id), None).await;
        assert_eq!(resumed.take(3).await, all[2..5].to_vec());
        let third = book(&app, &service, &stylist, &times[2], "Cy Stream").await;
        let after = resumed.take(2).await;
        assert_eq!(
            events(&after),
            vec![
                ("BookingRequested".to_string(), third.clone()),
                ("BookingConfirmed".to_string(), third.clone()),
            ]
        );
        all.extend(live.take(2).await);
        assert_eq!(all[5..7].to_vec(), after, "live and resumed streams agree");

        // The query parameter works the same; the header wins over it (EventSource keeps the
        // URL and sends the newest id on reconnect).
        let mut by_query = Stream::connect(&app, &token, None, Some(&all[3].id)).await;
        assert_eq!(by_query.take(3).await, all[4..7].to_vec());
        let mut both = Stream::connect(&app, &token, Some(&all[5].id), Some(&all[0].id)).await;
        assert_eq!(both.take(1).await, all[6..7].to_vec());
        // From 0: every alert of the log, this test's in the same order.
        let mut everything = Stream::connect(&app, &token, Some("0"), None).await;
        assert_eq!(everything.take(7).await, all);
        app
    })
    .await;
}

#[tokio::test]
async fn shutdown_ends_open_streams() {
    for backend in BACKENDS {
        let app = TestApp::spawn(backend).await;
        let token = app.token("watcher", Scope::Read).await;
        let mut stream = Stream::connect(&app, &token, None, None).await;
        tokio::time::timeout(WITHIN, app.stop())
            .await
            .expect("the server stops with a stream open");
        assert_eq!(stream.next().await, None, "the stream ended");
    }
}

#[tokio::test]
async fn a_subscriber_that_lags_behind_the_broadcast_recovers_from_the_log() {
    each_backend(|app| async move {
        let read = app.server.state.read.clone();
        // A second broadcaster on the same log, keeping only two messages per subscriber.
        let alerts = Alerts::start_with(read.clone(), app.server.state.bus.signal(), 2)
            .await
            .expect("alerts");
        let from = alerts.resume_point(None).await.expect("head");
        let mut subscription = alerts.subscribe(from);
        let (service, stylist, times) = starts(&app, 6).await;

        // The first booking's two alerts: afterwards the subscriber follows the broadcast.
        let first = book(&app, &service, &stylist, &times[0], "Lag 0").await;
        for _ in 0..2 {
            let alert = tokio::time::timeout(WITHIN, subscription.next())
                .await
                .expect("in time")
                .expect("an alert");
            assert!(alert.data.contains(&first));
        }
        let after_first = subscription_cursor(&read, &first).await;

        // Eight more alerts while the subscriber reads nothing: six fall out of its buffer.
        for (i, start) in times[1..5].iter().enumerate() {
            book(&app, &service, &stylist, start, &format!("Lag {}", i + 1)).await;
        }
        let expected = alerts_after(&read, after_first, 8).await;
        let last = expected.last().map(|a| a.at).expect("alerts");
        let deadline = tokio::time::Instant::now() + WITHIN;
        while alerts.followed() < last {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the broadcaster reached the new events"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let mut got = Vec::new();
        for _ in 0..8 {
            let alert = tokio::time::timeout(WITHIN, subscription.next())
                .await
                .expect("in time")
                .expect("an alert");
            got.push(Alert::clone(&alert));
        }
        assert_eq!(got, expected, "every alert, in order, none twice");
        // The broadcast still holds the last two of those; they were read from the log
        // already and are skipped, not sent again (nothing else is ready).
        assert_eq!(
            subscription.next().now_or_never().map(|a| a.map(|a| a.at)),
            None,
            "a repeat of an alert already sent"
        );
        // And the subscriber follows the broadcast again.
        let last_booking = book(&app, &service, &stylist, &times[5], "Lag 5").await;
        for kind in ["BookingRequested", "BookingConfirmed"] {
            let alert = tokio::time::timeout(WITHIN, subscription.next())
                .await
                .expect("in time")
                .expect("an alert");
            assert_eq!(alert.event_type, kind);
            assert!(alert.data.contains(&last_booking), "{}", alert.data);
        }
        alerts.shutdown().await;
        assert_eq!(
            subscription.next().await,
            None,
            "ends when the broadcaster stops"
        );
        app
    })
    .await;
}

/// The log position of the last event about `aggregate_id`.
async fn subscription_cursor(
    read: &projections::ReadDb,
    aggregate_id: &str,
) -> migrations::LogPosition {
    let log = tests::events_eventually(read, 0).await;
    log.iter()
        .filter(|e| e.aggregate_id == aggregate_id)
        .map(|e| e.at)
        .max()
        .expect("events of the booking")
}

/// The first `n` alerts after `after`, read straight from the log once they are readable.
async fn alerts_after(
    read: &projections::ReadDb,
    after: migrations::LogPosition,
    n: usize,
) -> Vec<Alert> {
    let deadline = tokio::time::Instant::now() + WITHIN;
    loop {
        let found: Vec<Alert> = projections::log::read_after(read, after, 100_000)
            .await
            .expect("read the log")
            .iter()
            .filter_map(Alert::of)
            .collect();
        if found.len() >= n {
            return found.into_iter().take(n).collect();
        }
        assert!(tokio::time::Instant::now() < deadline, "alerts in the log");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
