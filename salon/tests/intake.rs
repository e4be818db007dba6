//! `salon intake` against real things: its own SQLite file, a real SMTP sink (aiosmtpd, from
//! the test virtualenv that `scripts/test.sh` makes), and the real API on a random port.
//!
//! - an entry is on disk before the 202, and a repeated key stays one entry;
//! - with the API down the entry is retried, and lands exactly once when the API comes up;
//! - the owner is emailed exactly once, even when the SMTP server starts late;
//! - a refusal (422) keeps the problem and asks the owner to call the client back;
//! - a SIGKILL right after the 202s loses nothing, and a restart resumes forwarding.

use salon::app::{self, Config, Server};
use salon::intake::{self, Intake, IntakeConfig};
use salon::scratch::{self, SmtpSink};
use serde_json::{json, Value};
use sqlx::sqlite::SqlitePoolOptions;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_salon");
const TOKEN: &str = "test-intake-token";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

fn temp_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("salon-intake-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// The test virtualenv's Python (`SALON_TEST_VENV`, else the repo's `.venv-test`). Missing is a
/// failure, never a skip: run the tests through `scripts/test.sh`, which makes it.
fn python() -> PathBuf {
    let venv = std::env::var("SALON_TEST_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("..")
                .join(".venv-test")
        });
    let python = venv.join("bin/python");
    assert!(
        python.exists(),
        "{} is missing: run `bash scripts/test.sh` (it installs aiosmtpd) or set SALON_TEST_VENV",
        python.display()
    );
    python
}

/// A real SMTP server (aiosmtpd from the test virtualenv).
async fn smtp_sink(port: u16, maildir: &Path) -> SmtpSink {
    SmtpSink::start(&python(), port, maildir).await
}

async fn start_api(db_url: &str, port: u16) -> Server {
    let mut config = Config::new(db_url, format!("127.0.0.1:{port}").parse().expect("addr"));
    // Every submission comes from this one address; the limit is not what is tested here.
    config.booking_rate = api::limit::Rate::UNLIMITED;
    // These tests count the bookings the intake forwards: no demo visits beside them.
    config.demo_visits = false;
    let server = app::start(config).await.expect("start the API");
    let http = reqwest::Client::new();
    for _ in 0..400 {
        if let Ok(r) = http
            .get(format!("http://127.0.0.1:{port}/api/v1/stylists"))
            .send()
            .await
        {
            if r.json::<Value>().await.is_ok_and(|v| v["count"] == 3) {
                return server;
            }
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the API never showed its catalog");
}

/// A free slot for the demo's consultation, a few days ahead.
async fn free_slot(api: &str) -> (String, String) {
    let service = commands::demo::service_id("Consultation");
    let today = chrono::Utc::now().date_naive();
    let (from, to) = (
        today + chrono::Duration::days(2),
        today + chrono::Duration::days(20),
    );
    let v: Value = reqwest::get(format!(
        "{api}/api/v1/availability?service={service}&from={from}&to={to}"
    ))
    .await
    .expect("availability")
    .json()
    .await
    .expect("json");
    let slot = &v["slots"][0];
    (
        slot["stylist"].as_str().expect("stylist").to_string(),
        slot["start"].as_str().expect("start").to_string(),
    )
}

fn booking(stylist: &str, start: &str, name: &str) -> Value {
    json!({
        "service": commands::demo::service_id("Consultation").to_string(),
        "stylist": stylist,
        "start": start,
        "client": {"name": name, "email": "nia@example.com", "phone": "+1 212 555 0134"},
        "notes": "via the intake",
    })
}

fn config(dir: &Path, api_port: Option<u16>, smtp_port: Option<u16>) -> IntakeConfig {
    let mut c = IntakeConfig::new(
        scratch::sqlite_in(dir, "intake.db"),
        "127.0.0.1:0".parse().expect("addr"),
    );
    c.api_url = api_port.map(|p| format!("http://127.0.0.1:{p}"));
    c.smtp_url = smtp_port.map(|p| format!("smtp://127.0.0.1:{p}"));
    c.owner_email = Some("owner@salon.test".into());
    c.token = Some(TOKEN.into());
    c.retry_base = Duration::from_millis(100);
    c.retry_max = Duration::from_millis(400);
    c
}

struct Client {
    http: reqwest::Client,
    base: String,
}

impl Client {
    fn new(intake: &Intake) -> Self {
        Self::at(&format!("http://{}", intake.addr))
    }

    fn at(base: &str) -> Self {
        Self {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(20))
                .build()
                .expect("client"),
            base: base.to_string(),
        }
    }

    async fn post(&self, path: &str, key: Option<&str>, body: &str) -> (u16, Value, bool) {
        let mut req = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .body(body.to_string());
        if let Some(k) = key {
            req = req.header("idempotency-key", k);
        }
        let r = req.send().await.expect("POST");
        let status = r.status().as_u16();
        let replayed = r.headers().contains_key("idempotent-replayed");
        let ct = r
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let v = r.json().await.unwrap_or(Value::Null);
        if status >= 400 {
            assert_eq!(ct, "application/problem+json", "{status} {v}");
        }
        (status, v, replayed)
    }

    async fn entries(&self, state: &str) -> Value {
        let r = self
            .http
            .get(format!("{}/intake/entries?state={state}", self.base))
            .bearer_auth(TOKEN)
            .send()
            .await
            .expect("GET entries");
        assert_eq!(r.status(), 200);
        r.json().await.expect("json")
    }

    /// Waits until the entry with `key` is in `state`.
    async fn wait_state(&self, key: &str, state: &str, within: Duration) -> Value {
        let deadline = Instant::now() + within;
        loop {
            let all = self.entries("all").await;
            if let Some(e) = all["results"]
                .as_array()
                .and_then(|r| r.iter().find(|e| e["key"] == key))
            {
                if e["state"] == state {
                    return e.clone();
                }
                assert!(Instant::now() < deadline, "entry never became {state}: {e}");
            }
            assert!(Instant::now() < deadline, "entry {key} missing");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

async fn booking_events(db_url: &str) -> i64 {
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect(db_url)
        .await
        .expect("open the API's log");
    let n = sqlx::query_scalar("SELECT count(*) FROM events WHERE event_type = 'BookingRequested'")
        .fetch_one(&pool)
        .await
        .expect("count");
    pool.close().await;
    n
}

async fn booking_source(db_url: &str) -> String {
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect(db_url)
        .await
        .expect("open the API's log");
    let source = sqlx::query_scalar(
        "SELECT json_extract(metadata, '$.source') FROM events WHERE event_type = 'BookingRequested'",
    )
    .fetch_one(&pool)
    .await
    .expect("source");
    pool.close().await;
    source
}

async fn wait_mails(sink: &SmtpSink, n: usize, within: Duration) -> Vec<String> {
    let deadline = Instant::now() + within;
    loop {
        let m = sink.messages();
        if m.len() >= n {
            return m;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {n} emails arrived",
            m.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn stores_before_answering_and_a_repeated_key_is_one_entry() {
    let dir = temp_dir();
    let running = intake::start(config(&dir, None, None))
        .await
        .expect("intake");
    let c = Client::new(&running);
    let body = booking("any", "2030-01-08T10:00:00-05:00", "Nia Thompson").to_string();

    let (status, receipt, replayed) = c.post("/intake/bookings", Some("key-1"), &body).await;
    assert_eq!((status, replayed), (202, false), "{receipt}");
    assert_eq!(receipt["state"], "pending");
    assert!(
        receipt.get("body").is_none(),
        "the public answer echoes no contact details"
    );
    // On disk at the moment of the 202: read through a separate connection.
    let db = SqlitePoolOptions::new()
        .max_connections(1)
        .connect(&scratch::sqlite_in(&dir, "intake.db"))
        .await
        .expect("open");
    let (stored, mode): (String, String) =
        sqlx::query_as("SELECT body, (SELECT journal_mode FROM pragma_journal_mode) FROM intake_entries WHERE key = 'key-1'")
            .fetch_one(&db)
            .await
            .expect("stored row");
    assert_eq!(
        serde_json::from_str::<Value>(&stored).ok(),
        serde_json::from_str(&body).ok()
    );
    assert_eq!(mode, "wal");

    for _ in 0..3 {
        let (status, again, replayed) = c.post("/intake/bookings", Some("key-1"), &body).await;
        assert_eq!((status, replayed), (202, true));
        assert_eq!(again["received_at"], receipt["received_at"]);
    }
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM intake_entries")
        .fetch_one(&db)
        .await
        .expect("count");
    assert_eq!(rows, 1);
    let mails: i64 = sqlx::query_scalar("SELECT count(*) FROM intake_mails")
        .fetch_one(&db)
        .await
        .expect("count");
    assert_eq!(mails, 1, "one owner email queued per entry");

    // The same key with another body is refused; bad input is problem+json.
    let other = booking("any", "2030-01-08T11:00:00-05:00", "Someone Else").to_string();
    assert_eq!(
        c.post("/intake/bookings", Some("key-1"), &other).await.0,
        422
    );
    let (status, p, _) = c.post("/intake/bookings", None, &body).await;
    assert_eq!(
        (status, p["errors"][0]["field"].as_str()),
        (422, Some("Idempotency-Key"))
    );
    assert_eq!(
        c.post("/intake/bookings", Some("k2"), "{not json").await.0,
        400
    );
    let (status, p, _) = c
        .post("/intake/bookings", Some("k3"), r#"{"service": 1}"#)
        .await;
    assert_eq!(status, 422);
    assert_eq!(p["errors"].as_array().map(Vec::len), Some(3), "{p}");
    let (status, p, _) = c
        .post(
            "/intake/requests",
            Some("k4"),
            &json!({"service": "s", "day": "soon", "window": "night"}).to_string(),
        )
        .await;
    assert_eq!(status, 422, "{p}");

    // The owner's list needs the token; it shows what the API has not accepted.
    let r = c
        .http
        .get(format!("{}/intake/entries", c.base))
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status(), 401);
    let r = c
        .http
        .get(format!("{}/intake/entries", c.base))
        .bearer_auth("wrong-token-same-len")
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status(), 401);
    let open = c.entries("pending").await;
    assert_eq!(open["count"], 1);
    assert_eq!(open["results"][0]["body"]["client"]["name"], "Nia Thompson");
    assert_eq!(open["results"][0]["owner_emailed"], false);
    assert_eq!(c.entries("accepted").await["count"], 0);

    // CORS: the site on another origin may post.
    let r = c
        .http
        .request(
            reqwest::Method::OPTIONS,
            format!("{}/intake/bookings", c.base),
        )
        .header("origin", "https://book.example.com")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "content-type,idempotency-key",
        )
        .send()
        .await
        .expect("preflight");
    assert!(r.status().is_success());
    assert_eq!(r.headers()["access-control-allow-origin"], "*");
    let allowed = r.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap_or("");
    assert!(allowed.contains("idempotency-key"), "{allowed}");
    let health = c
        .http
        .get(format!("{}/healthz", c.base))
        .send()
        .await
        .expect("healthz");
    assert_eq!(health.status(), 200);

    db.close().await;
    running.shutdown().await.expect("shutdown");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn forwards_once_the_api_is_up_and_emails_the_owner_once_when_smtp_starts_late() {
    let dir = temp_dir();
    let api_db = scratch::sqlite_in(&dir, "salon.db");
    let (api_port, smtp_port) = (free_port(), free_port());
    // A free slot from the API, which then goes down.
    let api = start_api(&api_db, api_port).await;
    let (stylist, start) = free_slot(&format!("http://127.0.0.1:{api_port}")).await;
    api.shutdown().await.expect("stop the API");

    let running = intake::start(config(&dir, Some(api_port), Some(smtp_port)))
        .await
        .expect("intake");
    let c = Client::new(&running);
    let body = booking(&stylist, &start, "Nia Thompson");
    let (status, _, _) = c
        .post("/intake/bookings", Some("late-key"), &body.to_string())
        .await;
    assert_eq!(status, 202);

    // Neither the API nor the SMTP server is up: both are retried.
    let deadline = Instant::now() + Duration::from_secs(20);
    let entry = loop {
        let e = c
            .wait_state("late-key", "pending", Duration::from_secs(5))
            .await;
        if e["attempts"].as_i64().unwrap_or(0) >= 3 {
            break e;
        }
        assert!(Instant::now() < deadline, "no retries: {e}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        entry["last_error"]
            .as_str()
            .unwrap_or("")
            .contains("network"),
        "{entry}"
    );
    assert_eq!(entry["owner_emailed"], false);

    // The SMTP server comes up: exactly one email, and no second one later.
    let sink = smtp_sink(smtp_port, &dir.join("maildir")).await;
    let mails = wait_mails(&sink, 1, Duration::from_secs(15)).await;
    assert!(
        mails[0].contains("Nia Thompson") && mails[0].contains("late-key"),
        "{}",
        mails[0]
    );
    assert!(mails[0].contains("To: owner@salon.test"), "{}", mails[0]);
    assert!(!mails[0].contains(TOKEN));

    // The API comes back on the same port and store: the booking lands once.
    let api = start_api(&api_db, api_port).await;
    let accepted = c
        .wait_state("late-key", "accepted", Duration::from_secs(20))
        .await;
    let booking_id = accepted["booking_id"]
        .as_str()
        .expect("booking id")
        .to_string();
    assert!(
        accepted["attempts"].as_i64().unwrap_or(0) >= 4,
        "{accepted}"
    );
    // The page that sent it can ask where it stands, without seeing contact details.
    let r: Value = c
        .http
        .get(format!("{}/intake/entries/late-key", c.base))
        .send()
        .await
        .expect("GET receipt")
        .json()
        .await
        .expect("json");
    assert_eq!(r["state"], "accepted");
    assert_eq!(r["booking_id"], booking_id.as_str());
    assert!(r.get("body").is_none() && !r.to_string().contains("Nia"));
    // The browser's own retry of the same key finds the same booking.
    let direct = Client::at(&format!("http://127.0.0.1:{api_port}"));
    let (status, b, replayed) = direct
        .post("/api/v1/bookings", Some("late-key"), &body.to_string())
        .await;
    assert_eq!((status, replayed), (201, true), "{b}");
    assert_eq!(b["id"], booking_id.as_str());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        booking_events(&api_db).await,
        1,
        "exactly one booking in the log"
    );
    assert_eq!(
        booking_source(&api_db).await,
        "intake",
        "the audit trail names the path"
    );
    assert_eq!(sink.messages().len(), 1, "the owner is emailed once");
    assert_eq!(c.entries("open").await["count"], 0);

    running.shutdown().await.expect("shutdown");
    api.shutdown().await.expect("stop the API");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn a_refusal_keeps_the_problem_and_asks_the_owner_to_call_back() {
    let dir = temp_dir();
    let api_db = scratch::sqlite_in(&dir, "salon.db");
    let (api_port, smtp_port) = (free_port(), free_port());
    let api = start_api(&api_db, api_port).await;
    let sink = smtp_sink(smtp_port, &dir.join("maildir")).await;
    let running = intake::start(config(&dir, Some(api_port), Some(smtp_port)))
        .await
        .expect("intake");
    let c = Client::new(&running);
    // 3 AM is outside every stylist's hours: the API answers 422.
    let (_, start) = free_slot(&format!("http://127.0.0.1:{api_port}")).await;
    let night = format!("{}T03:00:00{}", &start[..10], &start[19..]);
    let body = booking("any", &night, "Kofi Mensah");
    assert_eq!(
        c.post("/intake/bookings", Some("night-key"), &body.to_string())
            .await
            .0,
        202
    );
    let e = c
        .wait_state("night-key", "rejected", Duration::from_secs(15))
        .await;
    assert_eq!(e["problem"]["status"], 422, "{e}");
    assert_eq!(e["attempts"], 1);
    let r: Value = c
        .http
        .get(format!("{}/intake/entries/night-key", c.base))
        .send()
        .await
        .expect("GET receipt")
        .json()
        .await
        .expect("json");
    assert_eq!(r["refused"], "That time cannot be booked");
    let missing = c
        .http
        .get(format!("{}/intake/entries/no-such-key", c.base))
        .send()
        .await
        .expect("GET receipt");
    assert_eq!(missing.status(), 404);
    assert_eq!(
        c.entries("open").await["count"],
        1,
        "a refused entry stays on the owner's list"
    );

    let mails = wait_mails(&sink, 2, Duration::from_secs(15)).await;
    let call_back = mails
        .iter()
        .find(|m| m.contains("Subject: Call back"))
        .unwrap_or_else(|| panic!("no call-back email: {mails:?}"));
    assert!(call_back.contains("Kofi Mensah") && call_back.contains("That time cannot be booked"));
    // Names from the API's catalog, not ids.
    assert!(call_back.contains("Service:  Consultation"), "{call_back}");
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(sink.messages().len(), 2);
    assert_eq!(booking_events(&api_db).await, 0);

    // A booking request (no free times shown) is emailed, listed and not forwarded.
    let request = json!({"service": commands::demo::service_id("Retwist").to_string(),
        "service_name": "Retwist", "stylist": "any", "day": &start[..10], "window": "morning",
        "client": {"name": "Ama Owusu", "email": "ama@example.com", "phone": "2125550101"}});
    assert_eq!(
        c.post("/intake/requests", Some("req-1"), &request.to_string())
            .await
            .0,
        202
    );
    let mails = wait_mails(&sink, 3, Duration::from_secs(15)).await;
    assert!(mails
        .iter()
        .any(|m| m.contains("Booking request to confirm: Ama Owusu")
            && m.contains("This is a request, not a booking")));
    let pending = c.entries("pending").await;
    assert_eq!(pending["count"], 1);
    assert_eq!(pending["results"][0]["kind"], "request");
    assert_eq!(pending["results"][0]["attempts"], 0);

    running.shutdown().await.expect("shutdown");
    api.shutdown().await.expect("stop the API");
    let _ = std::fs::remove_dir_all(dir);
}

fn spawn_intake(dir: &Path, port: u16, api_port: u16) -> Child {
    Command::new(BIN)
        .args(["intake", "--addr", &format!("127.0.0.1:{port}")])
        .env("SALON_INTAKE_DB", scratch::sqlite_in(dir, "intake.db"))
        .env("SALON_API_URL", format!("http://127.0.0.1:{api_port}"))
        .env("SALON_INTAKE_TOKEN", TOKEN)
        .env("SALON_INTAKE_RETRY_MAX_MS", "300")
        .env("SALON_LOG", "warn")
        .env_remove("SMTP_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start salon intake")
}

async fn wait_listening(c: &Client) {
    for _ in 0..400 {
        if c.http
            .get(format!("{}/healthz", c.base))
            .send()
            .await
            .is_ok()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("intake never listened at {}", c.base);
}

#[tokio::test]
async fn a_kill_9_after_the_202s_loses_nothing_and_a_restart_resumes() {
    let dir = temp_dir();
    let api_db = scratch::sqlite_in(&dir, "salon.db");
    let (api_port, port) = (free_port(), free_port());
    let api = start_api(&api_db, api_port).await;
    let (stylist, start) = free_slot(&format!("http://127.0.0.1:{api_port}")).await;
    api.shutdown().await.expect("API down for now");

    let mut child = spawn_intake(&dir, port, api_port);
    let c = Client::at(&format!("http://127.0.0.1:{port}"));
    wait_listening(&c).await;
    // One real booking and a burst of others, concurrently; then SIGKILL at once.
    let mut bodies = vec![(
        "real".to_string(),
        booking(&stylist, &start, "Nia Thompson"),
    )];
    for i in 0..30 {
        bodies.push((
            format!("burst-{i}"),
            booking("any", "2030-01-08T03:00:00-05:00", "Burst"),
        ));
    }
    let answers = futures::future::join_all(bodies.iter().map(|(k, b)| {
        let c = &c;
        async move {
            (
                k.clone(),
                c.post("/intake/bookings", Some(k), &b.to_string()).await.0,
            )
        }
    }))
    .await;
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    let acked: Vec<String> = answers
        .into_iter()
        .filter(|(_, s)| *s == 202)
        .map(|(k, _)| k)
        .collect();
    assert_eq!(acked.len(), 31, "every submission was answered 202");

    let db = SqlitePoolOptions::new()
        .max_connections(1)
        .connect(&scratch::sqlite_in(&dir, "intake.db"))
        .await
        .expect("open");
    let keys: Vec<String> = sqlx::query_scalar("SELECT key FROM intake_entries")
        .fetch_all(&db)
        .await
        .expect("keys");
    db.close().await;
    for k in &acked {
        assert!(keys.contains(k), "{k} was answered 202 but lost");
    }
    assert_eq!(keys.len(), 31);

    // Restarted, with the API up: the real booking lands, the night-time ones are refused.
    let api = start_api(&api_db, api_port).await;
    let mut child = spawn_intake(&dir, port, api_port);
    wait_listening(&c).await;
    c.wait_state("real", "accepted", Duration::from_secs(20))
        .await;
    c.wait_state("burst-29", "rejected", Duration::from_secs(20))
        .await;
    assert_eq!(booking_events(&api_db).await, 1);
    let _ = child.kill();
    let _ = child.wait();
    api.shutdown().await.expect("stop the API");
    let _ = std::fs::remove_dir_all(dir);
}
