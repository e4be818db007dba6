//! `salon intake`: the booking site's second path (ARCHITECTURE §5). A small process with its own
//! SQLite log that takes the same submission as `POST /api/v1/bookings`, stores it durably
//! (WAL, `synchronous=FULL`) **before** answering 202, then
//!
//! - emails the owner once per entry over SMTP (lettre), retrying with backoff while the SMTP
//!   server is down; the delivery state lives in the same SQLite file, so a restart does not
//!   send again (a crash between the server's "250 OK" and our update is the only window for a
//!   second copy: at least once, never twice in normal operation);
//! - forwards the submission to the API with its `Idempotency-Key` until the API gives a
//!   definitive answer: 200/201 → `accepted`; 400/409/422 → `rejected` (the problem document is
//!   kept and the owner is emailed to call the client back); anything else (network error,
//!   5xx, 429, …) → retried with capped exponential backoff.
//!
//! It also takes booking *requests* (`POST /intake/requests`: preferred day and time window),
//! which the site sends when free times cannot be loaded. Those are not bookings: they are
//! emailed to the owner and listed until the salon calls back; nothing is forwarded.
//!
//! `GET /intake/entries?state=…` (bearer `SALON_INTAKE_TOKEN`) lists entries for the owner's
//! dashboard; `GET /healthz` says the process is up. Secrets (the SMTP URL, which may hold a
//! password, and the token) are never logged.

// As in the api crate: `Problem` is built only on the failure path, once per request, and
// moved into the response; boxing it would cost an allocation there and gain nothing.
#![allow(clippy::result_large_err)]

use anyhow::Context;
use api::extract::ApiJson;
use api::problem::{FieldError, Problem};
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, NaiveDate, Utc};
use futures::FutureExt;
use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlitePool};
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;
use tower_http::cors::{AllowOrigin, CorsLayer};

/// How `salon intake` runs; from flags and the environment.
#[derive(Clone)]
pub struct IntakeConfig {
    /// `sqlite://FILE` (`SALON_INTAKE_DB`).
    pub db_url: String,
    pub addr: SocketAddr,
    /// Base URL of the API (`SALON_API_URL`); without it nothing is forwarded.
    pub api_url: Option<String>,
    /// `SMTP_URL` (secret: may carry a password); without it no mail is sent (kept pending).
    pub smtp_url: Option<String>,
    /// `SALON_OWNER_EMAIL`: who gets the alerts.
    pub owner_email: Option<String>,
    /// `SALON_MAIL_FROM`.
    pub mail_from: String,
    /// `SALON_INTAKE_TOKEN` (secret): bearer token for `GET /intake/entries`.
    pub token: Option<String>,
    /// `SALON_SITE_ORIGIN`: origins allowed to post (CORS); empty = any origin.
    pub site_origins: Vec<String>,
    /// First retry delay; doubles per attempt up to `retry_max`.
    pub retry_base: Duration,
    /// `SALON_INTAKE_RETRY_MAX_MS`: longest delay between two attempts.
    pub retry_max: Duration,
}

impl std::fmt::Debug for IntakeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntakeConfig")
            .field("db_url", &self.db_url)
            .field("addr", &self.addr)
            .field("api_url", &self.api_url)
            .field("smtp_url", &self.smtp_url.as_ref().map(|_| "***"))
            .field("owner_email", &self.owner_email)
            .field("mail_from", &self.mail_from)
            .field("token", &self.token.as_ref().map(|_| "***"))
            .field("site_origins", &self.site_origins)
            .field("retry_base", &self.retry_base)
            .field("retry_max", &self.retry_max)
            .finish()
    }
}

impl IntakeConfig {
    pub fn new(db_url: impl Into<String>, addr: SocketAddr) -> Self {
        Self {
            db_url: db_url.into(),
            addr,
            api_url: None,
            smtp_url: None,
            owner_email: None,
            mail_from: "salon-intake@localhost".into(),
            token: None,
            site_origins: Vec::new(),
            retry_base: Duration::from_millis(500),
            retry_max: Duration::from_secs(60),
        }
    }

    /// Fills the settings that only come from the environment.
    pub fn with_env(mut self) -> Self {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        self.smtp_url = var("SMTP_URL");
        self.owner_email = var("SALON_OWNER_EMAIL");
        if let Some(from) = var("SALON_MAIL_FROM") {
            self.mail_from = from;
        }
        self.token = var("SALON_INTAKE_TOKEN");
        self.site_origins = origins(var("SALON_SITE_ORIGIN").as_deref());
        if let Some(ms) = var("SALON_INTAKE_RETRY_MAX_MS").and_then(|v| v.parse::<u64>().ok()) {
            self.retry_max = Duration::from_millis(ms.max(10));
            self.retry_base = self.retry_base.min(self.retry_max);
        }
        self
    }
}

/// `SALON_SITE_ORIGIN`: a comma-separated allow-list of origins (`https://book.example.com`).
pub fn origins(list: Option<&str>) -> Vec<String> {
    list.unwrap_or("")
        .split(',')
        .map(|o| o.trim().trim_end_matches('/').to_string())
        .filter(|o| !o.is_empty())
        .collect()
}

/// CORS for the site posting from another origin: the allow-list, or any origin when empty.
pub fn cors(origins: &[String]) -> CorsLayer {
    let allow = if origins.is_empty() {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(
            origins
                .iter()
                .filter_map(|o| HeaderValue::from_str(o).ok())
                .collect::<Vec<_>>(),
        )
    };
    CorsLayer::new()
        .allow_origin(allow)
        .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
        .allow_headers([
            header::CONTENT_TYPE,
            header::AUTHORIZATION,
            header::HeaderName::from_static("idempotency-key"),
            header::HeaderName::from_static("x-request-id"),
            header::HeaderName::from_static("x-salon-source"),
        ])
        .expose_headers([
            header::LOCATION,
            header::RETRY_AFTER,
            header::HeaderName::from_static("idempotent-replayed"),
        ])
        .max_age(Duration::from_secs(600))
}

const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS intake_entries (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        key TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL CHECK (kind IN ('booking', 'request')),
        body TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'accepted', 'rejected')),
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        problem TEXT,
        booking_id TEXT,
        received_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        next_attempt_at INTEGER NOT NULL,
        decided_at INTEGER
    )",
    "CREATE INDEX IF NOT EXISTS intake_entries_due ON intake_entries (state, next_attempt_at)",
    "CREATE TABLE IF NOT EXISTS intake_mails (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        entry_id INTEGER NOT NULL REFERENCES intake_entries (id),
        kind TEXT NOT NULL CHECK (kind IN ('received', 'request', 'rejected')),
        state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent')),
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        next_attempt_at INTEGER NOT NULL,
        sent_at INTEGER,
        UNIQUE (entry_id, kind)
    )",
    "CREATE INDEX IF NOT EXISTS intake_mails_due ON intake_mails (state, next_attempt_at)",
];

/// Opens (creating if missing) the intake's SQLite log: WAL, `synchronous=FULL`, so a
/// committed entry survives a crash or power loss.
pub async fn open(db_url: &str) -> anyhow::Result<SqlitePool> {
    let options = SqliteConnectOptions::from_str(db_url)
        .with_context(|| format!("SALON_INTAKE_DB is not a sqlite:// URL: {db_url}"))?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(5));
    let pool = SqlitePoolOptions::new()
        .max_connections(4)
        .connect_with(options)
        .await
        .with_context(|| format!("opening {db_url}"))?;
    for statement in SCHEMA {
        sqlx::query(statement).execute(&pool).await?;
    }
    Ok(pool)
}

fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

fn rfc3339(ms: i64) -> Option<String> {
    DateTime::<Utc>::from_timestamp_millis(ms).map(|t| t.to_rfc3339())
}

/// Capped exponential backoff with ±20 % jitter, for the `attempts`-th failure (1-based).
pub fn backoff(base: Duration, max: Duration, attempts: i64) -> Duration {
    let exp = u32::try_from(attempts.saturating_sub(1).clamp(0, 20)).unwrap_or(20);
    let raw = base.saturating_mul(2u32.saturating_pow(exp)).min(max);
    raw.mul_f64(0.8 + rand::random::<f64>() * 0.4)
}

#[derive(Clone)]
struct Shared {
    db: SqlitePool,
    config: Arc<IntakeConfig>,
    forward: Arc<Notify>,
    mail: Arc<Notify>,
}

/// A running intake.
pub struct Intake {
    pub addr: SocketAddr,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    server: JoinHandle<anyhow::Result<()>>,
}

impl Intake {
    /// Stops taking requests, lets in-flight ones finish, stops the workers.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
        self.server.await.context("intake server task")?
    }
}

/// Opens the log, starts the forwarder and the mailer, and serves HTTP.
pub async fn start(config: IntakeConfig) -> anyhow::Result<Intake> {
    let db = open(&config.db_url).await?;
    let listener = TcpListener::bind(config.addr)
        .await
        .with_context(|| format!("binding {}", config.addr))?;
    let addr = listener.local_addr()?;
    let forwarder = match &config.api_url {
        Some(api) => Some(Forwarder {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(15))
                .connect_timeout(Duration::from_secs(5))
                .build()?,
            api: api.clone(),
        }),
        None => None,
    };
    let mailer = match (&config.smtp_url, &config.owner_email) {
        (Some(url), Some(owner)) => {
            let mut m = Mailer::new(url, owner, &config.mail_from)?;
            m.names = forwarder.clone();
            Some(m)
        }
        _ => {
            tracing::warn!(
                "SMTP_URL or SALON_OWNER_EMAIL is not set: owner emails stay pending until both are"
            );
            None
        }
    };
    if config.api_url.is_none() {
        tracing::warn!("SALON_API_URL is not set: entries are stored but not forwarded");
    }
    if config.token.is_none() {
        tracing::warn!("SALON_INTAKE_TOKEN is not set: GET /intake/entries answers 401");
    }
    let shared = Shared {
        db: db.clone(),
        config: Arc::new(config),
        forward: Arc::new(Notify::new()),
        mail: Arc::new(Notify::new()),
    };
    let (stop, stopped) = watch::channel(false);
    let mut tasks = Vec::new();
    if let Some(forwarder) = forwarder {
        let s = shared.clone();
        tasks.push(tokio::spawn(worker(
            s.clone(),
            s.forward.clone(),
            stopped.clone(),
            move |s| {
                let f = forwarder.clone();
                async move { f.round(&s).await }
            },
        )));
    }
    if let Some(mailer) = mailer {
        let s = shared.clone();
        tasks.push(tokio::spawn(worker(
            s.clone(),
            s.mail.clone(),
            stopped.clone(),
            move |s| {
                let m = mailer.clone();
                async move { m.round(&s).await }
            },
        )));
    }
    let router = router(shared);
    tracing::info!(%addr, "salon intake is listening");
    let mut stop_rx = stopped;
    let server = tokio::spawn(async move {
        let served = axum::serve(listener, router)
            .with_graceful_shutdown(async move {
                let _ = stop_rx.wait_for(|s| *s).await;
            })
            .await;
        db.close().await;
        served.context("serving HTTP")
    });
    Ok(Intake {
        addr,
        stop,
        tasks,
        server,
    })
}

/// Runs `round` whenever it is woken or its next entry falls due, until stopped. A round
/// returns when to look again at the latest (the earliest pending `next_attempt_at`).
async fn worker<F, Fut>(s: Shared, wake: Arc<Notify>, mut stopped: watch::Receiver<bool>, round: F)
where
    F: Fn(Shared) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<Option<i64>>>,
{
    loop {
        if *stopped.borrow() {
            return;
        }
        // A failed (or, against all intent, panicking) round is logged and tried again: the
        // worker never dies quietly while the HTTP side keeps taking entries.
        let next = match AssertUnwindSafe(round(s.clone())).catch_unwind().await {
            Ok(Ok(next)) => next,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "intake worker round failed; retrying");
                Some(now_ms() + 1000)
            }
            Err(_) => {
                tracing::error!("intake worker round panicked; retrying");
                Some(now_ms() + 1000)
            }
        };
        let wait = next
            .map(|at| (at - now_ms()).clamp(0, 60_000))
            .unwrap_or(60_000);
        let wait = Duration::from_millis(u64::try_from(wait).unwrap_or(0));
        tokio::select! {
            _ = wake.notified() => {},
            _ = tokio::time::sleep(wait) => {},
            _ = stopped.wait_for(|s| *s) => return,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// HTTP

fn router(s: Shared) -> Router {
    let cors = cors(&s.config.site_origins);
    Router::new()
        .route("/healthz", get(healthz))
        .route("/intake/bookings", post(take_booking))
        .route("/intake/requests", post(take_request))
        .route("/intake/entries", get(entries))
        .route("/intake/entries/{key}", get(receipt))
        .fallback(|| async { Problem::not_found("No such intake route.") })
        .method_not_allowed_fallback(|| async {
            Problem::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                "Method not allowed",
                "This method is not allowed here.",
            )
        })
        .layer(axum::extract::DefaultBodyLimit::max(api::BODY_LIMIT))
        .layer(cors)
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            |_: Box<dyn std::any::Any + Send + 'static>| {
                Problem::internal(&"an intake handler panicked").into_response()
            },
        ))
        .with_state(s)
}

async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

fn idempotency_key(headers: &HeaderMap) -> Result<String, Problem> {
    let key = headers
        .get("idempotency-key")
        .map(|v| v.to_str().map(str::trim).unwrap_or(""))
        .ok_or_else(|| {
            Problem::validation(vec![FieldError::new(
                "Idempotency-Key",
                "is required: the same key the site sends to the API",
            )])
        })?;
    if key.is_empty() || key.len() > 255 || !key.chars().all(|c| c.is_ascii_graphic()) {
        return Err(Problem::validation(vec![FieldError::new(
            "Idempotency-Key",
            "must be 1 to 255 visible ASCII characters",
        )]));
    }
    Ok(key.to_string())
}

fn text(v: &Value, path: &str, required: bool, max: usize, errors: &mut Vec<FieldError>) {
    let mut cur = Some(v);
    for part in path.split('.') {
        cur = cur.and_then(|c| c.get(part));
    }
    match cur {
        None | Some(Value::Null) if !required => {}
        Some(Value::String(s)) if (!required || !s.trim().is_empty()) && s.len() <= max => {}
        Some(Value::String(s)) if s.len() > max => {
            errors.push(FieldError::new(path, format!("is longer than {max} bytes")))
        }
        None | Some(Value::Null) => errors.push(FieldError::new(path, "is required")),
        Some(Value::String(_)) => errors.push(FieldError::new(path, "is required")),
        Some(_) => errors.push(FieldError::new(path, "must be a string")),
    }
}

/// A body must be a JSON object before its fields are looked at.
fn require_object(v: &Value) -> Result<(), Problem> {
    if v.is_object() {
        Ok(())
    } else {
        Err(Problem::validation(vec![FieldError::new(
            "body",
            "must be a JSON object",
        )]))
    }
}

/// The client's contact details and the notes, as both bookings and requests carry them; then
/// the verdict on every field collected.
fn check_client_and_finish(v: &Value, mut errors: Vec<FieldError>) -> Result<(), Problem> {
    if !v.get("client").is_some_and(Value::is_object) {
        errors.push(FieldError::new("client", "is required"));
    } else {
        for f in ["client.name", "client.email", "client.phone"] {
            text(v, f, true, 200, &mut errors);
        }
    }
    text(v, "notes", false, 2000, &mut errors);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Problem::validation(errors))
    }
}

/// The shape of `POST /api/v1/bookings`: strings where the API wants them. The API checks
/// the rest when the entry is forwarded.
fn check_booking(v: &Value) -> Result<(), Problem> {
    require_object(v)?;
    let mut errors = Vec::new();
    text(v, "service", true, 100, &mut errors);
    text(v, "stylist", false, 100, &mut errors);
    text(v, "start", true, 100, &mut errors);
    check_client_and_finish(v, errors)
}

const WINDOWS: [&str; 4] = ["morning", "afternoon", "evening", "any"];

/// A booking request: what the client would like, for the salon to confirm by phone or email.
fn check_request(v: &Value) -> Result<(), Problem> {
    require_object(v)?;
    let mut errors = Vec::new();
    text(v, "service", true, 100, &mut errors);
    text(v, "stylist", false, 100, &mut errors);
    text(v, "service_name", false, 200, &mut errors);
    text(v, "stylist_name", false, 200, &mut errors);
    text(v, "day", true, 10, &mut errors);
    if let Some(day) = v.get("day").and_then(Value::as_str) {
        if !day.is_empty() && NaiveDate::parse_from_str(day, "%Y-%m-%d").is_err() {
            errors.push(FieldError::new("day", "must be a date like 2027-03-14"));
        }
    }
    match v.get("window").and_then(Value::as_str) {
        Some(w) if WINDOWS.contains(&w) => {}
        _ => errors.push(FieldError::new(
            "window",
            "must be morning, afternoon, evening or any",
        )),
    }
    check_client_and_finish(v, errors)
}

/// What the public answer says about an entry (no contact details).
#[derive(Debug, Serialize)]
struct Receipt {
    key: String,
    kind: String,
    state: String,
    received_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    booking_id: Option<String>,
    /// Why the API refused it (its problem's title), when it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    refused: Option<String>,
}

/// `GET /intake/entries/{key}`: where one submission stands, for the page that sent it. The
/// key (a random UUID made in the browser) is the capability; the answer holds no contact
/// details.
async fn receipt(
    State(s): State<Shared>,
    axum::extract::Path(key): axum::extract::Path<String>,
) -> Result<Json<Receipt>, Problem> {
    let row = sqlx::query(
        "SELECT key, kind, state, received_at, booking_id, problem FROM intake_entries WHERE key = ?",
    )
    .bind(&key)
    .fetch_optional(&s.db)
    .await
    .map_err(db_problem)?
    .ok_or_else(|| Problem::not_found("No submission with this key."))?;
    Ok(Json(Receipt {
        key: row.get("key"),
        kind: row.get("kind"),
        state: row.get("state"),
        received_at: rfc3339(row.get("received_at")),
        booking_id: row.get("booking_id"),
        refused: row
            .get::<Option<&str>, _>("problem")
            .and_then(|p| serde_json::from_str::<Value>(p).ok())
            .map(|p| field(&p, "title").to_string()),
    }))
}

async fn take_booking(
    State(s): State<Shared>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<Value>,
) -> Result<Response, Problem> {
    let key = idempotency_key(&headers)?;
    check_booking(&body)?;
    store(&s, &key, "booking", &body).await
}

async fn take_request(
    State(s): State<Shared>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<Value>,
) -> Result<Response, Problem> {
    let key = idempotency_key(&headers)?;
    check_request(&body)?;
    store(&s, &key, "request", &body).await
}

fn db_problem(e: sqlx::Error) -> Problem {
    tracing::error!(error = %e, "intake store failed");
    Problem::unavailable("The intake could not store this; try again shortly.")
}

/// Stores the entry and its owner email in one transaction, committed (fsynced) before the
/// answer. A repeat of the key answers with the entry already stored.
async fn store(s: &Shared, key: &str, kind: &str, body: &Value) -> Result<Response, Problem> {
    let now = now_ms();
    let mut tx = s.db.begin().await.map_err(db_problem)?;
    let inserted = sqlx::query(
        "INSERT INTO intake_entries (key, kind, body, received_at, updated_at, next_attempt_at)
         VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING",
    )
    .bind(key)
    .bind(kind)
    .bind(body.to_string())
    .bind(now)
    .bind(now)
    .bind(now)
    .execute(&mut *tx)
    .await
    .map_err(db_problem)?
    .rows_affected()
        == 1;
    let row =
        sqlx::query("SELECT id, kind, body, state, received_at FROM intake_entries WHERE key = ?")
            .bind(key)
            .fetch_one(&mut *tx)
            .await
            .map_err(db_problem)?;
    if inserted {
        let mail = if kind == "request" {
            "request"
        } else {
            "received"
        };
        sqlx::query("INSERT INTO intake_mails (entry_id, kind, next_attempt_at) VALUES (?, ?, ?)")
            .bind(row.get::<i64, _>("id"))
            .bind(mail)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(db_problem)?;
    }
    tx.commit().await.map_err(db_problem)?;
    let stored_kind: String = row.get("kind");
    let stored_body: String = row.get("body");
    if !inserted {
        // Same key: a retry of the same submission, or a different one reusing the key.
        let same = serde_json::from_str::<Value>(&stored_body).is_ok_and(|b| &b == body);
        if !same || stored_kind != kind {
            return Err(Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency-key-reused",
                "Idempotency key reused",
                "This Idempotency-Key was already used for a different submission.",
            ));
        }
    } else {
        tracing::info!(kind, "intake entry stored");
        s.mail.notify_one();
        if kind == "booking" {
            s.forward.notify_one();
        }
    }
    let receipt = Receipt {
        key: key.to_string(),
        kind: stored_kind,
        state: row.get("state"),
        received_at: rfc3339(row.get("received_at")),
        booking_id: None,
        refused: None,
    };
    let mut response = (StatusCode::ACCEPTED, Json(receipt)).into_response();
    if !inserted {
        response
            .headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(response)
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    state: Option<String>,
    kind: Option<String>,
    limit: Option<i64>,
    offset: Option<i64>,
}

/// One entry as the owner's dashboard sees it.
#[derive(Debug, Serialize)]
pub struct EntryOut {
    pub key: String,
    pub kind: String,
    pub state: String,
    pub body: Value,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub problem: Option<Value>,
    pub booking_id: Option<String>,
    pub received_at: Option<String>,
    pub updated_at: Option<String>,
    pub decided_at: Option<String>,
    pub next_attempt_at: Option<String>,
    pub owner_emailed: bool,
}

fn authorized(s: &Shared, headers: &HeaderMap) -> Result<(), Problem> {
    let Some(token) = s.config.token.as_deref() else {
        return Err(Problem::unauthorized(
            "Listing is off: the intake has no SALON_INTAKE_TOKEN.",
        ));
    };
    let sent = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .unwrap_or("");
    // Compare without an early exit, so timing does not tell how much of the token matched.
    let same = sent.len() == token.len()
        && sent
            .bytes()
            .zip(token.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    if same {
        Ok(())
    } else {
        Err(Problem::unauthorized(
            "Send Authorization: Bearer <SALON_INTAKE_TOKEN>.",
        ))
    }
}

async fn entries(
    State(s): State<Shared>,
    headers: HeaderMap,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, Problem> {
    authorized(&s, &headers)?;
    let Query(q) = query.map_err(|e| Problem::bad_request(e.body_text()))?;
    // "open" (the default): everything the API has not accepted.
    let states: &[&str] = match q.state.as_deref().unwrap_or("open") {
        "open" => &["pending", "rejected"],
        "pending" => &["pending"],
        "rejected" => &["rejected"],
        "accepted" => &["accepted"],
        "all" => &["pending", "rejected", "accepted"],
        _ => {
            return Err(Problem::validation(vec![FieldError::new(
                "state",
                "must be open, pending, rejected, accepted or all",
            )]))
        }
    };
    let kinds: &[&str] = match q.kind.as_deref() {
        None => &["booking", "request"],
        Some("booking") => &["booking"],
        Some("request") => &["request"],
        Some(_) => {
            return Err(Problem::validation(vec![FieldError::new(
                "kind",
                "must be booking or request",
            )]))
        }
    };
    let limit = q.limit.unwrap_or(100).clamp(1, 500);
    let offset = q.offset.unwrap_or(0).max(0);
    let placeholders = |n: usize| vec!["?"; n].join(", ");
    let filter = format!(
        "state IN ({}) AND kind IN ({})",
        placeholders(states.len()),
        placeholders(kinds.len())
    );
    let count_sql = format!("SELECT count(*) FROM intake_entries WHERE {filter}");
    let mut count = sqlx::query_scalar::<_, i64>(&count_sql);
    for v in states.iter().chain(kinds) {
        count = count.bind(*v);
    }
    let count = count.fetch_one(&s.db).await.map_err(db_problem)?;
    let list_sql = format!(
        "SELECT e.*, EXISTS (SELECT 1 FROM intake_mails m WHERE m.entry_id = e.id
            AND m.kind IN ('received', 'request') AND m.state = 'sent') AS emailed
         FROM intake_entries e WHERE {filter} ORDER BY e.id LIMIT ? OFFSET ?"
    );
    let mut list = sqlx::query(&list_sql);
    for v in states.iter().chain(kinds) {
        list = list.bind(*v);
    }
    let rows = list
        .bind(limit)
        .bind(offset)
        .fetch_all(&s.db)
        .await
        .map_err(db_problem)?;
    let results: Vec<EntryOut> = rows
        .iter()
        .map(|r| EntryOut {
            key: r.get("key"),
            kind: r.get("kind"),
            state: r.get("state"),
            body: serde_json::from_str(r.get::<&str, _>("body")).unwrap_or(Value::Null),
            attempts: r.get("attempts"),
            last_error: r.get("last_error"),
            problem: r
                .get::<Option<&str>, _>("problem")
                .and_then(|p| serde_json::from_str(p).ok()),
            booking_id: r.get("booking_id"),
            received_at: rfc3339(r.get("received_at")),
            updated_at: rfc3339(r.get("updated_at")),
            decided_at: r.get::<Option<i64>, _>("decided_at").and_then(rfc3339),
            next_attempt_at: (r.get::<&str, _>("state") == "pending"
                && r.get::<&str, _>("kind") == "booking")
                .then(|| rfc3339(r.get("next_attempt_at")))
                .flatten(),
            owner_emailed: r.get::<bool, _>("emailed"),
        })
        .collect();
    Ok(Json(json!({
        "count": count,
        "next": null,
        "previous": null,
        "results": results,
    })))
}

// ---------------------------------------------------------------------------------------------
// Forwarding to the API

#[derive(Clone)]
struct Forwarder {
    http: reqwest::Client,
    api: String,
}

enum Outcome {
    Accepted(Option<String>),
    Rejected(String),
    Retry(String),
}

impl Forwarder {
    /// Forwards every due entry once; returns when the next one falls due.
    async fn round(&self, s: &Shared) -> anyhow::Result<Option<i64>> {
        let due = sqlx::query(
            "SELECT id, key, body, attempts FROM intake_entries
             WHERE state = 'pending' AND kind = 'booking' AND next_attempt_at <= ?
             ORDER BY next_attempt_at LIMIT 50",
        )
        .bind(now_ms())
        .fetch_all(&s.db)
        .await?;
        for row in due {
            let id: i64 = row.get("id");
            let key: String = row.get("key");
            let body: String = row.get("body");
            let attempts = row.get::<i64, _>("attempts") + 1;
            let outcome = self.post(&key, body).await;
            let now = now_ms();
            match outcome {
                Outcome::Accepted(booking_id) => {
                    tracing::info!(attempts, "intake entry accepted by the API");
                    sqlx::query(
                        "UPDATE intake_entries SET state = 'accepted', booking_id = ?,
                         attempts = ?, last_error = NULL, updated_at = ?, decided_at = ?
                         WHERE id = ? AND state = 'pending'",
                    )
                    .bind(booking_id)
                    .bind(attempts)
                    .bind(now)
                    .bind(now)
                    .bind(id)
                    .execute(&s.db)
                    .await?;
                }
                Outcome::Rejected(problem) => {
                    tracing::warn!(
                        attempts,
                        "the API refused an intake entry; owner to call back"
                    );
                    let mut tx = s.db.begin().await?;
                    sqlx::query(
                        "UPDATE intake_entries SET state = 'rejected', problem = ?, attempts = ?,
                         last_error = NULL, updated_at = ?, decided_at = ?
                         WHERE id = ? AND state = 'pending'",
                    )
                    .bind(problem)
                    .bind(attempts)
                    .bind(now)
                    .bind(now)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                    sqlx::query(
                        "INSERT INTO intake_mails (entry_id, kind, next_attempt_at)
                         VALUES (?, 'rejected', ?) ON CONFLICT (entry_id, kind) DO NOTHING",
                    )
                    .bind(id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                    tx.commit().await?;
                    s.mail.notify_one();
                }
                Outcome::Retry(error) => {
                    let delay = backoff(s.config.retry_base, s.config.retry_max, attempts);
                    tracing::info!(attempts, error = %error, retry_in_ms = delay.as_millis(), "forwarding failed; will retry");
                    let next = now + i64::try_from(delay.as_millis()).unwrap_or(60_000);
                    sqlx::query(
                        "UPDATE intake_entries SET attempts = ?, last_error = ?, updated_at = ?,
                         next_attempt_at = ? WHERE id = ? AND state = 'pending'",
                    )
                    .bind(attempts)
                    .bind(error)
                    .bind(now)
                    .bind(next)
                    .bind(id)
                    .execute(&s.db)
                    .await?;
                }
            }
        }
        next_due(
            &s.db,
            "SELECT min(next_attempt_at) FROM intake_entries WHERE state = 'pending' AND kind = 'booking'",
        )
        .await
    }

    async fn post(&self, key: &str, body: String) -> Outcome {
        let sent = self
            .http
            .post(format!("{}/api/v1/bookings", self.api))
            .header(header::CONTENT_TYPE, "application/json")
            .header("idempotency-key", key)
            .header("x-salon-source", "intake")
            .body(body)
            .send()
            .await;
        let response = match sent {
            Ok(r) => r,
            // reqwest's error text names the URL (no secrets in it) and the cause.
            Err(e) => return Outcome::Retry(format!("network: {e}")),
        };
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        match status {
            200 | 201 => Outcome::Accepted(
                serde_json::from_str::<Value>(&text)
                    .ok()
                    .and_then(|v| v.get("id").and_then(Value::as_str).map(str::to_string)),
            ),
            400 | 409 | 422 => Outcome::Rejected(match serde_json::from_str::<Value>(&text) {
                Ok(v) if v.is_object() => v.to_string(),
                _ => {
                    json!({"status": status, "detail": text.chars().take(500).collect::<String>()})
                        .to_string()
                }
            }),
            _ => Outcome::Retry(format!(
                "the API answered {status}: {}",
                text.chars().take(200).collect::<String>()
            )),
        }
    }
}

async fn next_due(db: &SqlitePool, sql: &str) -> anyhow::Result<Option<i64>> {
    Ok(sqlx::query_scalar::<_, Option<i64>>(sql)
        .fetch_one(db)
        .await?)
}

// ---------------------------------------------------------------------------------------------
// Owner email

#[derive(Clone)]
struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    owner: Mailbox,
    from: Mailbox,
    /// The API, to put service and stylist names in the email instead of ids (best effort).
    names: Option<Forwarder>,
}

impl Mailer {
    fn new(url: &str, owner: &str, from: &str) -> anyhow::Result<Self> {
        // The URL may hold a password: errors name the setting, never the value.
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|_| anyhow::anyhow!("SMTP_URL is not a valid smtp:// or smtps:// URL"))?
            .timeout(Some(Duration::from_secs(15)))
            .build();
        Ok(Self {
            transport,
            owner: owner
                .parse()
                .map_err(|_| anyhow::anyhow!("SALON_OWNER_EMAIL is not an email address"))?,
            from: from
                .parse()
                .map_err(|_| anyhow::anyhow!("SALON_MAIL_FROM is not an email address"))?,
            names: None,
        })
    }

    /// `service_name` and `stylist_name` from the API's public catalog when the body has ids
    /// only; left out when the API does not answer within two seconds.
    async fn with_names(&self, mut body: Value) -> Value {
        let Some(api) = &self.names else { return body };
        for (id_field, name_field, path) in [
            ("service", "service_name", "services"),
            ("stylist", "stylist_name", "stylists"),
        ] {
            let id = field(&body, id_field).to_string();
            if id.is_empty() || id == "any" || !field(&body, name_field).is_empty() {
                continue;
            }
            let url = format!("{}/api/v1/{path}/{}", api.api, urlencode(&id));
            let got = api
                .http
                .get(url)
                .timeout(Duration::from_secs(2))
                .send()
                .await;
            let name = match got {
                Ok(r) if r.status().is_success() => r
                    .json::<Value>()
                    .await
                    .ok()
                    .and_then(|v| v.get("name").and_then(Value::as_str).map(str::to_string)),
                _ => None,
            };
            if let (Some(name), Some(obj)) = (name, body.as_object_mut()) {
                obj.insert(name_field.into(), Value::String(name));
            }
        }
        body
    }

    async fn round(&self, s: &Shared) -> anyhow::Result<Option<i64>> {
        let due = sqlx::query(
            "SELECT m.id, m.kind, m.attempts, e.key, e.body, e.problem, e.received_at
             FROM intake_mails m JOIN intake_entries e ON e.id = m.entry_id
             WHERE m.state = 'pending' AND m.next_attempt_at <= ?
             ORDER BY m.next_attempt_at LIMIT 50",
        )
        .bind(now_ms())
        .fetch_all(&s.db)
        .await?;
        for row in due {
            let id: i64 = row.get("id");
            let kind: String = row.get("kind");
            let attempts = row.get::<i64, _>("attempts") + 1;
            let key: String = row.get("key");
            let body =
                serde_json::from_str::<Value>(row.get::<&str, _>("body")).unwrap_or(Value::Null);
            let problem = row
                .get::<Option<&str>, _>("problem")
                .and_then(|p| serde_json::from_str::<Value>(p).ok());
            let body = self.with_names(body).await;
            let (subject, text) =
                compose(&kind, &key, &body, problem.as_ref(), row.get("received_at"));
            let sent = match self.message(&kind, &key, subject, text) {
                Ok(message) => self.transport.send(message).await.map(|_| ()).map_err(|e| {
                    // lettre's errors carry no credentials; keep them short.
                    format!("smtp: {e}").chars().take(300).collect::<String>()
                }),
                Err(e) => Err(e),
            };
            let now = now_ms();
            match sent {
                Ok(()) => {
                    tracing::info!(kind = %kind, attempts, "owner emailed");
                    sqlx::query(
                        "UPDATE intake_mails SET state = 'sent', attempts = ?, sent_at = ?,
                         last_error = NULL WHERE id = ?",
                    )
                    .bind(attempts)
                    .bind(now)
                    .bind(id)
                    .execute(&s.db)
                    .await?;
                }
                Err(error) => {
                    let delay = backoff(s.config.retry_base, s.config.retry_max, attempts);
                    tracing::warn!(kind = %kind, attempts, error = %error, retry_in_ms = delay.as_millis(), "owner email failed; will retry");
                    sqlx::query(
                        "UPDATE intake_mails SET attempts = ?, last_error = ?, next_attempt_at = ?
                         WHERE id = ?",
                    )
                    .bind(attempts)
                    .bind(error)
                    .bind(now + i64::try_from(delay.as_millis()).unwrap_or(60_000))
                    .bind(id)
                    .execute(&s.db)
                    .await?;
                }
            }
        }
        next_due(
            &s.db,
            "SELECT min(next_attempt_at) FROM intake_mails WHERE state = 'pending'",
        )
        .await
    }

    fn message(
        &self,
        kind: &str,
        key: &str,
        subject: String,
        text: String,
    ) -> Result<Message, String> {
        // One Message-ID per entry and kind: a copy sent twice after a crash is recognisable.
        let tag: String = key
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
            .take(80)
            .collect();
        Message::builder()
            .from(self.from.clone())
            .to(self.owner.clone())
            .subject(subject)
            .message_id(Some(format!("<{kind}.{tag}@intake.salon>")))
            .header(ContentType::TEXT_PLAIN)
            .body(text)
            .map_err(|e| format!("building the email: {e}"))
    }
}

/// Percent-encodes everything but unreserved characters (ids are UUIDs; this is a guard).
fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// "Tue 1 Dec 2026, 10:00 (UTC-05:00)" from an RFC 3339 start; the text itself otherwise.
fn when(start: &str) -> String {
    DateTime::parse_from_rfc3339(start)
        .map(|t| t.format("%a %-d %b %Y, %H:%M (UTC%:z)").to_string())
        .unwrap_or_else(|_| start.to_string())
}

/// "Tue 1 Dec 2026" from a local date; the text itself otherwise.
fn day(d: &str) -> String {
    NaiveDate::parse_from_str(d, "%Y-%m-%d")
        .map(|t| t.format("%a %-d %b %Y").to_string())
        .unwrap_or_else(|_| d.to_string())
}

fn field<'a>(v: &'a Value, path: &str) -> &'a str {
    let mut cur = Some(v);
    for part in path.split('.') {
        cur = cur.and_then(|c| c.get(part));
    }
    cur.and_then(Value::as_str).unwrap_or("")
}

/// Subject and plain-text body of an owner email.
fn compose(
    kind: &str,
    key: &str,
    body: &Value,
    problem: Option<&Value>,
    received_at: i64,
) -> (String, String) {
    let name = field(body, "client.name");
    let contact = format!(
        "Client:   {name}\nPhone:    {}\nEmail:    {}\n",
        field(body, "client.phone"),
        field(body, "client.email")
    );
    let notes = match field(body, "notes") {
        "" => String::new(),
        n => format!("Notes:    {n}\n"),
    };
    let received = rfc3339(received_at).unwrap_or_default();
    let service = match field(body, "service_name") {
        "" => field(body, "service"),
        n => n,
    };
    let stylist = match (field(body, "stylist_name"), field(body, "stylist")) {
        ("", "" | "any") => "any stylist",
        ("", id) => id,
        (n, _) => n,
    };
    let footer = format!("\nReceived: {received}\nReference (Idempotency-Key): {key}\n");
    let start = when(field(body, "start"));
    match kind {
        "request" => (
            format!(
                "Booking request to confirm: {name}, {} ({})",
                day(field(body, "day")),
                field(body, "window")
            ),
            format!(
                "A client could not see free times on the booking site and asks for an appointment. \
                 This is a request, not a booking: nothing is reserved. Please call or email the client to agree a time.\n\n\
                 Service:  {service}\nStylist:  {stylist}\nDay:      {}\nTime:     {}\n{contact}{notes}{footer}",
                day(field(body, "day")),
                field(body, "window"),
            ),
        ),
        "rejected" => {
            let p = problem.cloned().unwrap_or(Value::Null);
            let reason = [field(&p, "title"), field(&p, "detail")]
                .into_iter()
                .filter(|t| !t.is_empty())
                .collect::<Vec<_>>()
                .join(": ");
            (
                format!("Call back: a booking from {name} could not be made"),
                format!(
                    "A booking sent through the intake was refused by the booking system, so the client has no appointment. \
                     Please call the client back (they may already have picked another time on the site).\n\n\
                     Reason:   {reason}\nService:  {service}\nStylist:  {stylist}\nStart:    {start}\n{contact}{notes}{footer}",
                ),
            )
        }
        _ => (
            format!("New booking from the site: {name}, {start}"),
            format!(
                "A client sent this booking from the site. The site sends every booking both to the booking \
                 system and to the intake (its backup path); the intake forwards its copy until the booking \
                 system has it, and the same reference lands once. You get a second email only if the booking \
                 system refuses it, so no action is needed for this one.\n\n\
                 Service:  {service}\nStylist:  {stylist}\nStart:    {start}\n{contact}{notes}{footer}",
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let base = Duration::from_millis(100);
        let max = Duration::from_millis(1000);
        let d1 = backoff(base, max, 1);
        assert!(d1 >= Duration::from_millis(80) && d1 <= Duration::from_millis(120));
        let d3 = backoff(base, max, 3);
        assert!(d3 >= Duration::from_millis(320) && d3 <= Duration::from_millis(480));
        let d40 = backoff(base, max, 40);
        assert!(d40 <= Duration::from_millis(1200));
    }

    #[test]
    fn booking_shape_is_checked_by_field() {
        let ok = json!({"service": "s", "stylist": "any", "start": "2027-03-14T10:00:00-04:00",
            "client": {"name": "N", "email": "n@example.com", "phone": "2125550100"}, "notes": ""});
        assert!(check_booking(&ok).is_ok());
        let bad = json!({"service": 3, "client": {"name": ""}});
        let p = check_booking(&bad).expect_err("bad");
        let fields: Vec<_> = p.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "service",
                "start",
                "client.name",
                "client.email",
                "client.phone"
            ]
        );
        assert!(check_booking(&json!([1])).is_err());
    }

    #[test]
    fn request_needs_a_day_and_a_window() {
        let mut r = json!({"service": "s", "day": "2027-03-14", "window": "morning",
            "client": {"name": "N", "email": "n@example.com", "phone": "2125550100"}});
        assert!(check_request(&r).is_ok());
        r["day"] = json!("14/03/2027");
        r["window"] = json!("night");
        let p = check_request(&r).expect_err("bad");
        let fields: Vec<_> = p.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["day", "window"]);
    }

    #[test]
    fn secrets_stay_out_of_debug() {
        let mut c = IntakeConfig::new("sqlite://x.db", "127.0.0.1:0".parse().expect("addr"));
        c.smtp_url = Some("smtp://user:hunter2@mail".into());
        c.token = Some("tok-secret".into());
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("hunter2") && !shown.contains("tok-secret"),
            "{shown}"
        );
    }

    #[test]
    fn rejection_mail_says_why_and_whom_to_call() {
        let body = json!({"service": "svc", "start": "2027-03-14T10:00:00-04:00",
            "client": {"name": "Nia", "email": "n@example.com", "phone": "2125550100"}});
        let problem =
            json!({"title": "That time was just taken", "detail": "Another booking took it"});
        let (subject, text) = compose("rejected", "k1", &body, Some(&problem), 0);
        assert!(subject.contains("Call back") && subject.contains("Nia"));
        assert!(text.contains("That time was just taken: Another booking took it"));
        assert!(
            text.contains("Start:    Sun 14 Mar 2027, 10:00 (UTC-04:00)"),
            "{text}"
        );
        assert!(text.contains("2125550100"));
    }
}
