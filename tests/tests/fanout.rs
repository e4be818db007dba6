//! Live alerts across servers on one PostgreSQL (issue 8, part 5): a booking made on server A
//! reaches a `/events/stream` subscriber of server B at once, because A announces its appends
//! with `NOTIFY` and B's listener wakes B's alert broadcaster (`migrations::notify`). The
//! servers' fallback poll is set to 30 s here, so an alert that arrives within seconds came
//! through the notification, and a control run with B's notifications off shows the same alert
//! does not arrive without it. The listener survives its session being terminated, and after it
//! reconnects it wakes everyone, so an append announced while it was away is not stuck until
//! the next poll.
//!
//! `cargo test -p tests --test fanout -- --ignored --nocapture cross_server_alert_latency`
//! prints how long a cross-server alert takes with notifications and with the poll alone.

use serde_json::Value;
use std::time::{Duration, Instant};
use tests::{booking_body, ScratchDb, TestApp};

/// The servers' fallback poll in these tests: far longer than any wait below.
const POLL: Duration = Duration::from_secs(30);
/// How long a test waits for an alert that should arrive at once (a third of `POLL`).
const WITHIN: Duration = Duration::from_secs(10);

/// Two servers on one new database, polling the log every `a_poll` and `b_poll`. A starts first
/// and advances the projections. B runs no reactors and no calendar sync, so nothing of its own
/// wakes its alert broadcaster: only a notification, or its poll.
async fn two_servers(
    a_poll: Option<Duration>,
    b_poll: Option<Duration>,
    b_notifies: bool,
) -> (TestApp, TestApp) {
    let db = ScratchDb::new(migrations::Backend::Postgres).await;
    let second = db.shared();
    let a = TestApp::spawn_with(db, |c| c.log_poll = a_poll).await;
    let b = TestApp::spawn_with(second, |c| {
        c.log_poll = b_poll;
        c.notify = b_notifies;
        c.run_reactors = false;
        c.calendar_schedule = false;
    })
    .await;
    (a, b)
}

async fn stop(a: TestApp, b: TestApp) {
    let TestApp { server, .. } = b;
    server.shutdown().await.expect("stop B");
    a.stop().await;
}

/// One SSE message: its `event:` and its `data:` (JSON).
#[derive(Debug, Clone)]
struct Message {
    event: String,
    data: Value,
}

/// A reader of `/events/stream`.
struct Stream {
    response: reqwest::Response,
    buffer: Vec<u8>,
}

impl Stream {
    async fn connect(app: &TestApp, token: &str) -> Self {
        // Not `app.http`: its whole-request timeout would cut the stream.
        let response = reqwest::Client::new()
            .get(app.url("/events/stream"))
            .bearer_auth(token)
            .send()
            .await
            .expect("GET /events/stream");
        assert_eq!(response.status().as_u16(), 200);
        Self {
            response,
            buffer: Vec::new(),
        }
    }

    /// The next message, `None` when nothing comes within `wait`.
    async fn next_within(&mut self, wait: Duration) -> Option<Message> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            while let Some(end) = self.buffer.windows(2).position(|w| w == b"\n\n") {
                let block: Vec<u8> = self.buffer.drain(..end + 2).collect();
                let text = String::from_utf8(block).expect("UTF-8");
                let mut event = String::new();
                let mut data = String::new();
                for line in text.lines() {
                    if let Some(v) = line.strip_prefix("event: ") {
                        event = v.to_string();
                    } else if let Some(v) = line.strip_prefix("data: ") {
                        data = v.to_string();
                    }
                }
                if data.is_empty() {
                    continue; // a keep-alive comment
                }
                let data = serde_json::from_str(&data).expect("JSON data");
                return Some(Message { event, data });
            }
            match tokio::time::timeout_at(deadline, self.response.chunk()).await {
                Err(_) => return None,
                Ok(Ok(Some(bytes))) => self.buffer.extend_from_slice(&bytes),
                Ok(Ok(None)) | Ok(Err(_)) => panic!("the stream ended"),
            }
        }
    }

    /// Reads until `BookingRequested` for `booking` arrives, or `wait` runs out.
    async fn requested(&mut self, booking: &str, wait: Duration) -> Option<Instant> {
        let deadline = Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let m = self.next_within(left).await?;
            if m.event == "BookingRequested" && m.data["aggregate_id"] == booking {
                return Some(Instant::now());
            }
        }
    }
}

/// Books the first free slot of `stylist` on `app` and returns the booking's id.
async fn book(app: &TestApp, stylist: &str, name: &str) -> String {
    let service = app.service_id("Retwist").await;
    let stylist = TestApp::stylist_id(stylist);
    let slot = app.first_slot(&service, &stylist).await;
    let start = slot["start"].as_str().expect("start");
    let (status, booking) = app
        .post_booking(&booking_body(&service, &stylist, start, name), None)
        .await;
    assert_eq!(status, 201, "{booking}");
    booking["id"].as_str().expect("booking id").to_string()
}

/// A stream on B that is live: B's own booking came through it, so the subscription has read
/// the log up to now and waits on B's broadcaster for anything newer.
async fn live_stream_on(b: &TestApp) -> Stream {
    let token = b.token("watcher", domain::token::Scope::Read).await;
    let mut stream = Stream::connect(b, &token).await;
    let own = book(b, "Malik Johnson", "Warm Up").await;
    assert!(
        stream.requested(&own, WITHIN).await.is_some(),
        "B's own booking on B's stream"
    );
    stream
}

#[tokio::test]
async fn a_booking_on_one_server_alerts_a_subscriber_of_the_other_at_once() {
    let (a, b) = two_servers(Some(POLL), Some(POLL), true).await;
    let mut stream = live_stream_on(&b).await;
    for i in 0..3 {
        let id = book(&a, "Keisha Brown", &format!("Across {i}")).await;
        let booked = Instant::now();
        let arrived = stream.requested(&id, WITHIN).await.unwrap_or_else(|| {
            panic!("booking {i} made on A never reached B's stream within {WITHIN:?}")
        });
        assert!(arrived - booked < POLL / 3);
    }
    stop(a, b).await;
}

/// The control: B with notifications off (neither announcing nor listening). A's booking stays
/// out of B's stream (B polls only every 30 s) until B has a reason of its own to read the log.
/// (A, the projections' leader, polls at its default here: nothing tells it about B's appends.)
#[tokio::test]
async fn without_notifications_the_other_server_waits_for_its_poll() {
    let (a, b) = two_servers(None, Some(POLL), false).await;
    let mut stream = live_stream_on(&b).await;
    let across = book(&a, "Keisha Brown", "Unannounced").await;
    // (B's own warm-up booking may still send its later alerts meanwhile.)
    let quiet = Instant::now() + Duration::from_secs(3);
    while let Some(m) = stream
        .next_within(quiet.saturating_duration_since(Instant::now()))
        .await
    {
        assert_ne!(
            m.data["aggregate_id"], across,
            "without a notification B should not have read A's booking yet: {m:?}"
        );
    }
    // B's own append wakes its broadcaster, which then finds A's booking too, in log order.
    let own = book(&b, "Malik Johnson", "Wake Up").await;
    let mut seen = Vec::new();
    while let Some(m) = stream.next_within(WITHIN).await {
        if m.event == "BookingRequested" {
            seen.push(m.data["aggregate_id"].as_str().unwrap_or("").to_string());
        }
        if seen.contains(&own) {
            break;
        }
    }
    assert_eq!(seen, [across, own]);
    stop(a, b).await;
}

/// The listeners' sessions on `url`'s database (by application name).
async fn listeners(pool: &sqlx::PgPool) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
         AND application_name = $1 AND query LIKE 'LISTEN%'",
    )
    .bind(migrations::notify::APPLICATION_NAME)
    .fetch_one(pool)
    .await
    .expect("pg_stat_activity")
}

async fn terminate_listeners(pool: &sqlx::PgPool) -> usize {
    sqlx::query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND application_name = $1",
    )
    .bind(migrations::notify::APPLICATION_NAME)
    .fetch_all(pool)
    .await
    .expect("pg_terminate_backend")
    .len()
}

/// `salon_notify_listening` on `app`'s `/metrics`, once it reads `want`.
async fn until_gauge(app: &TestApp, want: u8) {
    let deadline = Instant::now() + WITHIN;
    loop {
        let text = app
            .get("/metrics")
            .await
            .text()
            .await
            .expect("metrics text");
        let line = text
            .lines()
            .find(|l| l.starts_with("salon_notify_listening "))
            .unwrap_or_else(|| panic!("salon_notify_listening missing:\n{text}"))
            .to_string();
        if line == format!("salon_notify_listening {want}") {
            return;
        }
        assert!(Instant::now() < deadline, "{line}, expected {want}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn until_listening(pool: &sqlx::PgPool, n: i64) {
    let deadline = Instant::now() + WITHIN;
    while listeners(pool).await < n {
        assert!(
            Instant::now() < deadline,
            "the listeners did not reconnect within {WITHIN:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn the_listener_reconnects_after_its_session_is_terminated_and_wakes_everyone() {
    let (a, b) = two_servers(Some(POLL), Some(POLL), true).await;
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .connect(&a.db.url)
        .await
        .expect("connect");
    until_listening(&pool, 2).await;
    until_gauge(&b, 1).await;
    let mut stream = live_stream_on(&b).await;

    // 1. Both listeners' sessions are terminated; they come back, and alerts flow again.
    assert_eq!(terminate_listeners(&pool).await, 2);
    until_listening(&pool, 2).await;
    let id = book(&a, "Keisha Brown", "After Reconnect").await;
    assert!(
        stream.requested(&id, WITHIN).await.is_some(),
        "alerts flow again after the listener reconnected"
    );

    // 2. While B's listener is away (the database takes no new sessions, so it cannot come
    // back), A books and announces it: the notification is lost for B. Once B's listener is
    // back it wakes B's broadcaster, which finds the booking long before B's 30 s poll.
    let mut witness = sqlx::postgres::PgListener::connect_with(&pool)
        .await
        .expect("the test's own listener");
    witness
        .listen(migrations::notify::CHANNEL)
        .await
        .expect("LISTEN");
    let db_name: String = sqlx::query_scalar("SELECT current_database()")
        .fetch_one(&pool)
        .await
        .expect("name");
    // From another database: PostgreSQL refuses this for the current one.
    let admin = sqlx::PgPool::connect(&format!("{}/postgres", salon::scratch::postgres_base()))
        .await
        .expect("connect to the postgres database");
    let allow = |yes: bool| {
        let sql = format!("ALTER DATABASE \"{db_name}\" WITH ALLOW_CONNECTIONS {yes}");
        let admin = admin.clone();
        async move {
            sqlx::query(&sql)
                .execute(&admin)
                .await
                .expect("ALTER DATABASE")
        }
    };
    allow(false).await;
    assert_eq!(terminate_listeners(&pool).await, 2);
    until_gauge(&b, 0).await;
    let booked = tokio::time::timeout(WITHIN, book(&a, "Keisha Brown", "While Away")).await;
    // What the event's position is, and that A's notification for it went out.
    let announced = async {
        let id = booked.as_ref().expect("booking on A while B cannot listen");
        let position: i64 =
            sqlx::query_scalar("SELECT max(position) FROM events WHERE aggregate_id = $1")
                .bind(id)
                .fetch_one(&pool)
                .await
                .expect("position");
        loop {
            let n = witness.recv().await.expect("a notification");
            if migrations::notify::parse(n.payload()).is_some_and(|at| at.position >= position) {
                return;
            }
        }
    };
    let announced = tokio::time::timeout(WITHIN, announced).await;
    assert_eq!(listeners(&pool).await, 0, "B's listener is still away");
    allow(true).await;
    admin.close().await;
    let id = booked.expect("booking on A in time");
    announced.expect("A announced its booking");
    until_listening(&pool, 2).await;
    until_gauge(&b, 1).await;
    assert!(
        stream.requested(&id, WITHIN).await.is_some(),
        "the booking announced while B's listener was away reaches B's stream once it is back"
    );
    drop(witness);
    pool.close().await;
    stop(a, b).await;
}

fn summary(mut ms: Vec<f64>) -> String {
    ms.sort_by(|x, y| x.total_cmp(y));
    let at = |q: f64| ms[((ms.len() - 1) as f64 * q).round() as usize];
    format!(
        "median {:.1} ms, p90 {:.1} ms, max {:.1} ms (n = {})",
        at(0.5),
        at(0.9),
        at(1.0),
        ms.len()
    )
}

/// Over `n` bookings made on A: milliseconds from sending the booking until B's stream shows
/// it, and until A answered.
async fn cross_server_latencies(notify: bool, n: usize) -> (Vec<f64>, Vec<f64>) {
    // Default polls: 1 s with notifications, 250 ms without.
    let (a, b) = two_servers(None, None, notify).await;
    let mut stream = live_stream_on(&b).await;
    // Read B's stream on its own task, stamping when each booking's first alert arrives.
    let (seen_tx, mut seen) = tokio::sync::mpsc::unbounded_channel::<(String, Instant)>();
    let reader = tokio::spawn(async move {
        while let Some(m) = stream.next_within(Duration::from_secs(3600)).await {
            if m.event == "BookingRequested" {
                let id = m.data["aggregate_id"].as_str().unwrap_or("").to_string();
                if seen_tx.send((id, Instant::now())).is_err() {
                    return;
                }
            }
        }
    });
    let service = a.service_id("Retwist").await;
    let (mut alert_ms, mut answer_ms) = (Vec::new(), Vec::new());
    for i in 0..n {
        let stylist = TestApp::stylist_id(if i % 2 == 0 {
            "Keisha Brown"
        } else {
            "Malik Johnson"
        });
        let slot = a.first_slot(&service, &stylist).await;
        let body = booking_body(
            &service,
            &stylist,
            slot["start"].as_str().expect("start"),
            &format!("Timed {i}"),
        );
        // A random pause, so bookings do not fall in step with B's poll (each one's alert is
        // awaited, which would otherwise put the next booking just after B's last look).
        let pause = rand::random::<u64>() % 300;
        tokio::time::sleep(Duration::from_millis(pause)).await;
        let sent = Instant::now();
        let (status, booking) = a.post_booking(&body, None).await;
        let answered = Instant::now();
        assert_eq!(status, 201, "{booking}");
        let id = booking["id"].as_str().expect("id");
        let arrived = loop {
            let (which, at) = tokio::time::timeout(WITHIN, seen.recv())
                .await
                .expect("the alert on B in time")
                .expect("B's stream is open");
            if which == id {
                break at;
            }
        };
        alert_ms.push((arrived - sent).as_secs_f64() * 1000.0);
        answer_ms.push((answered - sent).as_secs_f64() * 1000.0);
    }
    reader.abort();
    stop(a, b).await;
    (alert_ms, answer_ms)
}

#[tokio::test]
#[ignore = "a measurement: prints figures"]
async fn cross_server_alert_latency() {
    let n = 30;
    let (notified, answer_n) = cross_server_latencies(true, n).await;
    let (polled, answer_p) = cross_server_latencies(false, n).await;
    println!(
        "cross-server alert, from sending a booking to server A until B's stream shows it:\n  \
         LISTEN/NOTIFY (poll 1 s): {}\n    (A's answer: {})\n  \
         poll only (250 ms):       {}\n    (A's answer: {})",
        summary(notified),
        summary(answer_n),
        summary(polled),
        summary(answer_p)
    );
}

/// A command-line process (its own store and bus, no notifier) creates a token and announces
/// it once before exiting: the server, polling only every 30 s, projects it at once and takes
/// the token.
#[tokio::test]
async fn an_append_announced_by_a_cli_process_is_projected_at_once() {
    let db = ScratchDb::new(migrations::Backend::Postgres).await;
    let app = TestApp::spawn_with(db, |c| c.log_poll = Some(POLL)).await;
    let store = commands::Store::connect(&app.db.url)
        .await
        .expect("the CLI's store");
    let bus = commands::CommandBus::new(store.clone(), migrations::LogSignal::default());
    let meta = domain::metadata::EventMetadata::new("owner", domain::metadata::Source::Cli);
    let token = bus
        .create_token("from-cli", domain::token::Scope::Read, &meta)
        .await
        .expect("token");
    migrations::notify::announce_once(&app.db.url, bus.signal().last()).await;
    store.close().await;
    let deadline = Instant::now() + WITHIN;
    loop {
        let answer = app
            .call(
                reqwest::Method::GET,
                "/api/v1/bookings",
                Some(&token.secret),
                None,
                &[],
            )
            .await;
        if answer.status == 200 {
            break;
        }
        assert_eq!(answer.status, 401, "{}", answer.body);
        assert!(
            Instant::now() < deadline,
            "the server did not take the CLI's token within {WITHIN:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    app.stop().await;
}
