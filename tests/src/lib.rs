#![recursion_limit = "256"]
//! Test harness: a fresh database per test (a new PostgreSQL database, or a SQLite file in a
//! temporary directory), the real application started on 127.0.0.1:0, and one helper per route.

pub mod browser;
pub mod stripe_stub;

use migrations::Backend;
use salon::app::{self, Config, Server};
use salon::scratch;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::time::Duration;

/// Both stores, for tests that must hold on each.
pub const BACKENDS: [Backend; 2] = [Backend::Sqlite, Backend::Postgres];

/// A throwaway database.
pub struct ScratchDb {
    pub url: String,
    pub backend: Backend,
    dir: Option<PathBuf>,
    /// False for a second handle on a database another handle owns: dropping it drops nothing.
    owned: bool,
}

impl ScratchDb {
    pub async fn new(backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => {
                let dir = std::env::temp_dir()
                    .join(format!("salon-test-{}", uuid::Uuid::new_v4().simple()));
                std::fs::create_dir_all(&dir).expect("temp dir");
                Self {
                    url: scratch::sqlite_in(&dir, "salon.db"),
                    backend,
                    dir: Some(dir),
                    owned: true,
                }
            }
            Backend::Postgres => {
                let url = scratch::create_postgres("salon_test")
                    .await
                    .expect("create a PostgreSQL test database (is PostgreSQL running?)");
                Self {
                    url,
                    backend,
                    dir: None,
                    owned: true,
                }
            }
        }
    }

    /// Another handle on the same database (a second server on it); only the first handle
    /// drops the database.
    pub fn shared(&self) -> Self {
        Self {
            url: self.url.clone(),
            backend: self.backend,
            dir: None,
            owned: false,
        }
    }

    pub async fn drop_db(self) {
        if !self.owned {
            return;
        }
        match self.dir {
            Some(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            None => {
                let _ = scratch::drop_postgres(&self.url).await;
            }
        }
    }
}

/// The application running in this test process.
pub struct TestApp {
    pub base: String,
    pub http: reqwest::Client,
    pub db: ScratchDb,
    pub server: Server,
}

impl TestApp {
    /// Starts the app with the demo salon on a fresh database.
    pub async fn spawn(backend: Backend) -> Self {
        let db = ScratchDb::new(backend).await;
        Self::spawn_on(db).await
    }

    pub async fn spawn_on(db: ScratchDb) -> Self {
        Self::spawn_with(db, |_| {}).await
    }

    /// Starts the app on `db` with `adjust` applied to its configuration first.
    pub async fn spawn_with(db: ScratchDb, adjust: impl FnOnce(&mut Config)) -> Self {
        let mut config = Config::new(db.url.clone(), "127.0.0.1:0".parse().expect("addr"));
        config.booking_rate = api::limit::Rate::UNLIMITED;
        config.token_rate = api::limit::Rate::UNLIMITED;
        // The suites count bookings, clients and reviews from an empty catalog; the demo's past
        // visits are checked on their own (tests/tests/demo.rs).
        config.demo_visits = false;
        adjust(&mut config);
        let server = app::start(config).await.expect("start the app");
        let base = format!("http://{}", server.addr);
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("client");
        let app = Self {
            base,
            http,
            db,
            server,
        };
        app.wait_for_catalog().await;
        app
    }

    /// Starts the app on a fresh database as `salon serve` does by default: no demo, an
    /// unconfigured salon.
    pub async fn spawn_empty(backend: Backend) -> Self {
        let db = ScratchDb::new(backend).await;
        let mut config = Config::new(db.url.clone(), "127.0.0.1:0".parse().expect("addr"));
        config.booking_rate = api::limit::Rate::UNLIMITED;
        config.token_rate = api::limit::Rate::UNLIMITED;
        config.seed_demo = false;
        let server = app::start(config).await.expect("start the app");
        Self {
            base: format!("http://{}", server.addr),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            db,
            server,
        }
    }

    /// Waits until the demo catalog shows through the read models.
    pub async fn wait_for_catalog(&self) {
        for _ in 0..200 {
            if let Ok(r) = self
                .http
                .get(format!("{}/api/v1/stylists", self.base))
                .send()
                .await
            {
                if let Ok(v) = r.json::<Value>().await {
                    if v["count"].as_u64() == Some(3) {
                        return;
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("the demo catalog never appeared");
    }

    pub async fn stop(self) {
        self.server.shutdown().await.expect("shutdown");
        self.db.drop_db().await;
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http.get(self.url(path)).send().await.expect("GET")
    }

    pub async fn get_json(&self, path: &str) -> (u16, Value) {
        let r = self.get(path).await;
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// Any request: `token` as bearer, `body` as JSON, `headers` added. Asserts the answer is
    /// not a 5xx (every test of the API holds that).
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Answer {
        let mut req = self.http.request(method.clone(), self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let r = req.send().await.expect("request");
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let text = r.text().await.unwrap_or_default();
        assert!(status < 500, "{method} {path}: {status} {text}");
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Answer {
            status,
            headers,
            body,
        }
    }

    pub async fn post_booking(&self, body: &Value, key: Option<&str>) -> (u16, Value) {
        let mut req = self.http.post(self.url("/api/v1/bookings")).json(body);
        if let Some(k) = key {
            req = req.header("Idempotency-Key", k);
        }
        let r = req.send().await.expect("POST booking");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// A service by name from the demo menu.
    pub async fn service_id(&self, name: &str) -> String {
        commands::demo::service_id(name).to_string()
    }

    pub fn stylist_id(name: &str) -> String {
        commands::demo::stylist_id(name).to_string()
    }

    /// Free slots for a service (and stylist) over a date range.
    pub async fn slots(
        &self,
        service: &str,
        stylist: Option<&str>,
        from: &str,
        to: &str,
    ) -> Vec<Value> {
        let mut path = format!("/api/v1/availability?service={service}&from={from}&to={to}");
        if let Some(s) = stylist {
            path.push_str(&format!("&stylist={s}"));
        }
        let (status, body) = self.get_json(&path).await;
        assert_eq!(status, 200, "availability: {body}");
        body["slots"].as_array().cloned().unwrap_or_default()
    }

    /// The first free slot of `stylist` for `service` within the next four weeks.
    pub async fn first_slot(&self, service: &str, stylist: &str) -> Value {
        let today = chrono::Utc::now().date_naive();
        let from = (today + chrono::Duration::days(2)).to_string();
        let to = (today + chrono::Duration::days(30)).to_string();
        self.slots(service, Some(stylist), &from, &to)
            .await
            .into_iter()
            .next()
            .expect("a free slot")
    }

    /// Creates an API token directly through the write side and waits until the API knows it.
    pub async fn token(&self, name: &str, scope: domain::token::Scope) -> String {
        let meta = domain::metadata::EventMetadata::new("owner", domain::metadata::Source::Cli);
        let token = self
            .server
            .state
            .bus
            .create_token(name, scope, &meta)
            .await
            .expect("token");
        let which = [projections::Projection::Tokens];
        assert!(
            self.server
                .state
                .projections
                .wait_for(&which, token.committed.position, Duration::from_secs(5))
                .await
        );
        token.secret
    }
}

/// An answer: status, headers, JSON body (`null` when there is none).
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Answer {
    /// A header as text ("" when absent).
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// The `field` of each of `errors` (a problem's field errors).
    pub fn error_fields(&self) -> Vec<String> {
        self.body["errors"]
            .as_array()
            .map(|e| {
                e.iter()
                    .map(|x| x["field"].as_str().unwrap_or("").to_string())
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// A booking request body.
pub fn booking_body(service: &str, stylist: &str, start: &str, client_name: &str) -> Value {
    json!({
        "service": service,
        "stylist": stylist,
        "start": start,
        "client": {"name": client_name, "email": "client@example.com", "phone": "(212) 555-0142"},
        "notes": "first visit",
    })
}

/// The whole log once at least `at_least` events are readable. On PostgreSQL an event becomes
/// readable only when every older transaction in the cluster has finished (the reader never
/// skips a late commit), and other tests' transactions run in the same cluster: poll.
pub async fn events_eventually(
    read: &projections::ReadDb,
    at_least: usize,
) -> Vec<projections::log::StoredEvent> {
    let mut events = Vec::new();
    for _ in 0..500 {
        events = projections::log::export_page(read, 0, 10_000_000)
            .await
            .expect("read the log");
        if events.len() >= at_least {
            return events;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    events
}

/// A free TCP port on 127.0.0.1 (bound, then released for a child process to take).
///
/// Taken from 20000–32767, below Linux's ephemeral range (32768–60999): servers that bind port 0
/// (every test app) are never handed it meanwhile, which matters for a port left unbound on
/// purpose (an SMTP server that is "down") or bound later by a child process.
pub fn free_port() -> u16 {
    for _ in 0..1000 {
        let port = rand::random::<u16>() % 12_768 + 20_000;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port in 20000-32767");
}

/// The test virtualenv's tools (Radicale, aiosmtpd), installed by `scripts/test.sh`.
pub fn venv_tool(name: &str) -> PathBuf {
    let venv = std::env::var("SALON_TEST_VENV").unwrap_or_else(|_| {
        // Running `cargo test` by hand from the repo: the test command's virtualenv.
        concat!(env!("CARGO_MANIFEST_DIR"), "/../.venv-test").to_string()
    });
    let path = PathBuf::from(venv).join("bin").join(name);
    assert!(
        path.exists(),
        "{} is missing: run `bash scripts/test.sh` once (it installs Radicale and aiosmtpd into .venv-test)",
        path.display()
    );
    path
}

/// A real Radicale CalDAV server on a free port, storing into a temporary folder, without
/// authentication (any Basic user name is its own principal).
pub struct Radicale {
    pub port: u16,
    dir: PathBuf,
    child: Option<std::process::Child>,
    http: reqwest::Client,
}

impl Radicale {
    pub async fn start() -> Self {
        let dir =
            std::env::temp_dir().join(format!("salon-radicale-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("radicale folder");
        let mut r = Self {
            port: free_port(),
            dir,
            child: None,
            http: reqwest::Client::new(),
        };
        r.resume().await;
        r
    }

    /// Starts (again) on the same port and folder.
    pub async fn resume(&mut self) {
        let child = std::process::Command::new(venv_tool("radicale"))
            .arg(format!(
                "--storage-filesystem-folder={}",
                self.dir.display()
            ))
            .arg(format!("--server-hosts=127.0.0.1:{}", self.port))
            .arg("--auth-type=none")
            .arg("--logging-level=warning")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start radicale");
        self.child = Some(child);
        for _ in 0..200 {
            if self.http.get(self.url("/")).send().await.is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("radicale did not start");
    }

    /// Stops the server (the folder stays, so `resume` brings the same calendars back).
    pub fn pause(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub async fn mkcalendar(&self, user: &str, path: &str) {
        let method = reqwest::Method::from_bytes(b"MKCALENDAR").expect("method");
        let r = self
            .http
            .request(method, self.url(path))
            .basic_auth(user, Some("x"))
            .send()
            .await
            .expect("MKCALENDAR");
        assert_eq!(r.status().as_u16(), 201, "MKCALENDAR {path}");
    }

    pub async fn put(&self, user: &str, path: &str, ics: &str) {
        let r = self
            .http
            .put(self.url(path))
            .basic_auth(user, Some("x"))
            .header("Content-Type", "text/calendar; charset=utf-8")
            .body(ics.to_string())
            .send()
            .await
            .expect("PUT");
        assert!(r.status().is_success(), "PUT {path}: {}", r.status());
    }

    pub async fn get(&self, user: &str, path: &str) -> (u16, String) {
        let r = self
            .http
            .get(self.url(path))
            .basic_auth(user, Some("x"))
            .send()
            .await
            .expect("GET");
        (r.status().as_u16(), r.text().await.unwrap_or_default())
    }
}

impl Drop for Radicale {
    fn drop(&mut self) {
        self.pause();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Every committed event row, whatever its visibility to the ordered reader.
pub async fn count_events(app: &TestApp) -> i64 {
    let row = sqlx::query("SELECT COUNT(*) FROM events")
        .fetch_one(app.server.state.read.pool())
        .await
        .expect("count");
    sqlx::Row::try_get(&row, 0).expect("count")
}

/// The SMTP sink of the test virtualenv.
pub use salon::scratch::SmtpSink;

/// Starts an SMTP sink (aiosmtpd from the test virtualenv) on `port`, filing into `maildir`.
pub async fn smtp_sink(port: u16, maildir: &std::path::Path) -> SmtpSink {
    SmtpSink::start(&venv_tool("python"), port, maildir).await
}

/// One round of the app's reactors once they can see every event committed so far. On
/// PostgreSQL the log reader only passes a transaction when every older one in the cluster has
/// finished (other tests' included), so a round right after a write may not see it yet: rounds
/// repeat until the reactors' checkpoint reaches the newest event, then the result of the last
/// round is returned. Rounds that find due work act on it either way.
pub async fn reactor_round(app: &TestApp) -> commands::reactors::Round {
    let pool = app.server.state.read.pool();
    let newest: Option<i64> = sqlx::query_scalar("SELECT MAX(position) FROM events")
        .fetch_one(pool)
        .await
        .expect("newest event");
    let mut total = commands::reactors::Round::default();
    for _ in 0..400 {
        let round = app
            .server
            .state
            .reactors
            .round()
            .await
            .expect("reactor round");
        total.events += round.events;
        total.planned += round.planned;
        total.done += round.done;
        total.retried += round.retried;
        let at: Option<i64> =
            sqlx::query_scalar("SELECT position FROM reactor_checkpoints WHERE name = 'reactors'")
                .fetch_optional(pool)
                .await
                .expect("checkpoint");
        if at >= newest {
            // The newest event is planned; one more round acts on what it planned.
            let last = app
                .server
                .state
                .reactors
                .round()
                .await
                .expect("reactor round");
            total.done += last.done;
            total.retried += last.retried;
            return total;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the reactors never caught up with the log");
}
