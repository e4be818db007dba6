//! Operations: Prometheus metrics at `GET /metrics` (text exposition format 0.0.4, every name
//! prefixed `salon_`) and the per-request span that puts the request id on every log line.
//!
//! Kept by hand, without a metrics crate: HTTP requests (counter by method, matched route and
//! status; latency histogram by method and route) and commands (counter by aggregate and
//! outcome, conflicts) are counted in memory as they happen; the rest is read from the database
//! at each scrape: the log head, each projection's and reactor's checkpoint and lag, calendar
//! sync staleness per source, and the outbox's pending work. Routes are labelled by their
//! pattern (`/api/v1/bookings/{id}`), never by the raw path or query, so labels stay few and
//! carry no ids or secrets.
//!
//! `SALON_METRICS_TOKEN` set: `/metrics` wants `Authorization: Bearer <it>` (compared in
//! constant time); unset: open.

use crate::problem::Problem;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use commands::bus::{CommandObserver, Outcome};
use projections::ReadDb;
use sqlx::Row;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tracing::Instrument;

/// Upper bounds of the latency histogram's buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The bearer token `/metrics` asks for (`SALON_METRICS_TOKEN`). Its `Debug` hides it.
#[derive(Clone)]
pub struct MetricsToken(String);

impl MetricsToken {
    /// `None` for an empty or blank value (then `/metrics` is open).
    pub fn new(token: &str) -> Option<Self> {
        let t = token.trim();
        (!t.is_empty()).then(|| Self(t.to_string()))
    }

    /// Whether `given` is the token, in time that does not depend on where they differ.
    fn matches(&self, given: &str) -> bool {
        use sha2::{Digest, Sha256};
        let a = Sha256::digest(self.0.as_bytes());
        let b = Sha256::digest(given.as_bytes());
        a.iter()
            .zip(b.iter())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
    }
}

impl std::fmt::Debug for MetricsToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MetricsToken(***)")
    }
}

#[derive(Default)]
struct Latency {
    /// Requests per bucket (not cumulative; summed when written).
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// What this process counted since it started. Cheap to share; every update is one short lock.
#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(&'static str, String, u16), u64>>,
    latency: Mutex<BTreeMap<(&'static str, String), Latency>>,
    commands: Mutex<HashMap<(&'static str, Outcome), u64>>,
    /// On PostgreSQL with notifications: whether the listener for other servers' appends is
    /// connected (`migrations::notify`).
    listener: Mutex<Option<tokio::sync::watch::Receiver<bool>>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The method as a label: the standard ones by name, anything else as `other`.
fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

impl Metrics {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Reports `salon_notify_listening` from this (the listener's state).
    pub fn watch_listener(&self, listening: tokio::sync::watch::Receiver<bool>) {
        *lock(&self.listener) = Some(listening);
    }

    fn record_request(&self, method: &'static str, route: &str, status: u16, took: Duration) {
        *lock(&self.requests)
            .entry((method, route.to_string(), status))
            .or_default() += 1;
        let secs = took.as_secs_f64();
        let mut latency = lock(&self.latency);
        let l = latency.entry((method, route.to_string())).or_default();
        if let Some(i) = BUCKETS.iter().position(|b| secs <= *b) {
            l.buckets[i] += 1;
        }
        l.count += 1;
        l.sum += secs;
    }

    /// The counters kept in memory, in the text format.
    fn write_counters(&self, out: &mut String) {
        help(
            out,
            "salon_http_requests_total",
            "counter",
            "HTTP requests answered, by method, matched route and status.",
        );
        for ((method, route, status), n) in lock(&self.requests).iter() {
            let _ = writeln!(
                out,
                "salon_http_requests_total{{method=\"{method}\",route=\"{}\",status=\"{status}\"}} {n}",
                escape(route)
            );
        }
        help(
            out,
            "salon_http_request_duration_seconds",
            "histogram",
            "Time to answer an HTTP request (to the response head), by method and matched route.",
        );
        for ((method, route), l) in lock(&self.latency).iter() {
            let labels = format!("method=\"{method}\",route=\"{}\"", escape(route));
            let mut cumulative = 0;
            for (bound, n) in BUCKETS.iter().zip(l.buckets) {
                cumulative += n;
                let _ = writeln!(
                    out,
                    "salon_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {cumulative}"
                );
            }
            let _ = writeln!(
                out,
                "salon_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                l.count
            );
            let _ = writeln!(
                out,
                "salon_http_request_duration_seconds_sum{{{labels}}} {}",
                l.sum
            );
            let _ = writeln!(
                out,
                "salon_http_request_duration_seconds_count{{{labels}}} {}",
                l.count
            );
        }
        let commands: BTreeMap<(&'static str, &'static str), u64> = lock(&self.commands)
            .iter()
            .map(|((a, o), n)| ((*a, o.as_str()), *n))
            .collect();
        help(
            out,
            "salon_commands_total",
            "counter",
            "Decisions on aggregates, by aggregate type and outcome (committed, unchanged, \
             rejected, conflict, failed); a command retried after a conflict counts each try.",
        );
        for ((aggregate, outcome), n) in &commands {
            let _ = writeln!(
                out,
                "salon_commands_total{{aggregate=\"{aggregate}\",outcome=\"{outcome}\"}} {n}"
            );
        }
        help(
            out,
            "salon_command_conflicts_total",
            "counter",
            "Appends refused by optimistic concurrency (another writer was first), by aggregate type.",
        );
        for ((aggregate, outcome), n) in &commands {
            if *outcome == "conflict" {
                let _ = writeln!(
                    out,
                    "salon_command_conflicts_total{{aggregate=\"{aggregate}\"}} {n}"
                );
            }
        }
    }
}

impl CommandObserver for Metrics {
    fn observe(&self, aggregate: &'static str, outcome: Outcome) {
        *lock(&self.commands)
            .entry((aggregate, outcome))
            .or_default() += 1;
    }
}

fn help(out: &mut String, name: &str, kind: &str, text: &str) {
    let _ = writeln!(out, "# HELP {name} {text}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// A label value as the text format wants it.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The outermost layer of the whole router: takes or makes the request id (passed on to the
/// API in `X-Request-Id` and echoed on the answer), opens a `request` span with `request_id`,
/// `method` and `route` around the request, so every log line written while answering carries
/// them, logs the answer at debug level (target `salon::http`), and counts it.
pub async fn observe(
    State(metrics): State<Arc<Metrics>>,
    mut req: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let method = method_label(req.method());
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let id = crate::request_id_of(req.headers());
    if let Ok(v) = HeaderValue::from_str(&id) {
        req.headers_mut().insert(crate::REQUEST_ID, v);
    }
    let span = tracing::info_span!("request", request_id = %id, method, route = %route);
    let mut response = next.run(req).instrument(span.clone()).await;
    let took = started.elapsed();
    let status = response.status().as_u16();
    span.in_scope(|| {
        tracing::debug!(
            target: "salon::http",
            status,
            ms = took.as_secs_f64() * 1000.0,
            "answered"
        )
    });
    metrics.record_request(method, &route, status, took);
    if !response.headers().contains_key(crate::REQUEST_ID) {
        if let Ok(v) = HeaderValue::from_str(&id) {
            response.headers_mut().insert(crate::REQUEST_ID, v);
        }
    }
    response
}

#[derive(Clone)]
struct Scrape {
    metrics: Arc<Metrics>,
    read: ReadDb,
    projections: projections::Projections,
    token: Option<MetricsToken>,
}

/// `GET /metrics`, over `metrics`, the read database and this process's projections.
pub fn router(
    metrics: Arc<Metrics>,
    read: ReadDb,
    projections: projections::Projections,
    token: Option<MetricsToken>,
) -> Router {
    Router::new()
        .route("/metrics", get(scrape))
        .with_state(Scrape {
            metrics,
            read,
            projections,
            token,
        })
}

async fn scrape(State(s): State<Scrape>, headers: axum::http::HeaderMap) -> Response {
    if let Some(token) = &s.token {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim);
        if !given.is_some_and(|g| token.matches(g)) {
            return Problem::unauthorized(
                "/metrics wants Authorization: Bearer <SALON_METRICS_TOKEN>",
            )
            .into_response();
        }
    }
    let mut out = String::with_capacity(16 * 1024);
    s.metrics.write_counters(&mut out);
    let up = match write_gauges(&s.read, &mut out).await {
        Ok(()) => 1,
        Err(e) => {
            tracing::warn!(error = %e, "metrics: cannot read the store");
            0
        }
    };
    help(
        &mut out,
        "salon_store_up",
        "gauge",
        "Whether this scrape could read the store (1) or not (0).",
    );
    let _ = writeln!(out, "salon_store_up {up}");
    help(
        &mut out,
        "salon_projections_leader",
        "gauge",
        "Whether this server advances the read models (1) or stands by for another (0).",
    );
    let _ = writeln!(
        out,
        "salon_projections_leader {}",
        u8::from(s.projections.leading())
    );
    let listening = lock(&s.metrics.listener).as_ref().map(|rx| *rx.borrow());
    if let Some(listening) = listening {
        help(
            &mut out,
            "salon_notify_listening",
            "gauge",
            "Whether this server is listening for other servers' appends (LISTEN/NOTIFY) now (1) or reconnecting and polling (0).",
        );
        let _ = writeln!(out, "salon_notify_listening {}", u8::from(listening));
    }
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        out,
    )
        .into_response()
}

/// Seconds from the RFC 3339 time `t` to now (0 when unreadable or in the future).
fn seconds_since(t: &str, now: chrono::DateTime<chrono::Utc>) -> f64 {
    chrono::DateTime::parse_from_rfc3339(t)
        .map(|t| {
            ((now - t.with_timezone(&chrono::Utc))
                .num_milliseconds()
                .max(0)) as f64
                / 1000.0
        })
        .unwrap_or(0.0)
}

/// The gauges read from the database, written into `out` only when all of them could be read.
async fn write_gauges(read: &ReadDb, out: &mut String) -> Result<(), ScrapeError> {
    let mut text = String::new();
    let (head, rows) = projections::runner::status(read).await?;
    help(
        &mut text,
        "salon_log_head_position",
        "gauge",
        "Position of the newest event readers can see.",
    );
    let _ = writeln!(text, "salon_log_head_position {}", head.position);
    for (kind, label) in [("projection", "projection"), ("reactor", "reactor")] {
        help(
            &mut text,
            &format!("salon_{kind}_checkpoint_position"),
            "gauge",
            &format!("Position of the last event each {kind} has applied."),
        );
        for r in rows.iter().filter(|r| r.kind == kind) {
            let _ = writeln!(
                text,
                "salon_{kind}_checkpoint_position{{{label}=\"{}\"}} {}",
                escape(&r.name),
                r.checkpoint
            );
        }
        help(
            &mut text,
            &format!("salon_{kind}_lag_events"),
            "gauge",
            &format!("Events readable now that each {kind} has not applied yet."),
        );
        for r in rows.iter().filter(|r| r.kind == kind) {
            let _ = writeln!(
                text,
                "salon_{kind}_lag_events{{{label}=\"{}\"}} {}",
                escape(&r.name),
                r.lag
            );
        }
    }
    let now = chrono::Utc::now();
    let sources = sqlx::query(
        "SELECT s.id, s.kind, s.created_at, st.last_success_at, \
         CAST(COALESCE(st.consecutive_failures, 0) AS BIGINT) AS failures \
         FROM rm_calendar_sources s LEFT JOIN calendar_sync_status st ON st.source = s.id \
         WHERE s.removed = 0 ORDER BY s.id",
    )
    .fetch_all(read.pool())
    .await?;
    help(
        &mut text,
        "salon_calendar_sync_staleness_seconds",
        "gauge",
        "Seconds since each calendar source last synced successfully (since it was added, if never).",
    );
    let mut failures = String::new();
    for row in &sources {
        let id: String = row.try_get("id")?;
        let kind: String = row.try_get("kind")?;
        let created: String = row.try_get("created_at")?;
        let success: Option<String> = row.try_get("last_success_at")?;
        let failed: i64 = row.try_get("failures")?;
        let labels = format!("source=\"{}\",kind=\"{}\"", escape(&id), escape(&kind));
        let _ = writeln!(
            text,
            "salon_calendar_sync_staleness_seconds{{{labels}}} {}",
            seconds_since(success.as_deref().unwrap_or(&created), now)
        );
        let _ = writeln!(
            failures,
            "salon_calendar_sync_consecutive_failures{{{labels}}} {failed}"
        );
    }
    help(
        &mut text,
        "salon_calendar_sync_consecutive_failures",
        "gauge",
        "Failed syncs of each calendar source since its last success.",
    );
    text.push_str(&failures);
    let outbox = sqlx::query(
        "SELECT channel, CAST(COUNT(*) AS BIGINT) AS pending, \
         CAST(SUM(CASE WHEN due_epoch <= $1 THEN 1 ELSE 0 END) AS BIGINT) AS due \
         FROM outbox WHERE done_at IS NULL GROUP BY channel ORDER BY channel",
    )
    .bind(now.timestamp())
    .fetch_all(read.pool())
    .await?;
    help(
        &mut text,
        "salon_outbox_pending",
        "gauge",
        "Reactor work not done yet (mail, hold expiry, refunds, webhooks…), by channel.",
    );
    let mut due = String::new();
    for row in &outbox {
        let channel: String = row.try_get("channel")?;
        let pending: i64 = row.try_get("pending")?;
        let now_due: i64 = row.try_get("due")?;
        let _ = writeln!(
            text,
            "salon_outbox_pending{{channel=\"{}\"}} {pending}",
            escape(&channel)
        );
        let _ = writeln!(
            due,
            "salon_outbox_due{{channel=\"{}\"}} {now_due}",
            escape(&channel)
        );
    }
    help(
        &mut text,
        "salon_outbox_due",
        "gauge",
        "Reactor work due now or overdue (pending, past its time: retries and backlog), by channel.",
    );
    text.push_str(&due);
    out.push_str(&text);
    Ok(())
}

/// Why the scrape could not read the store.
#[derive(Debug, thiserror::Error)]
enum ScrapeError {
    #[error(transparent)]
    Read(#[from] projections::log::ReadError),
    #[error(transparent)]
    Sql(#[from] sqlx::Error),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_compares_whole() {
        let t = MetricsToken::new(" s3cret ").unwrap();
        assert!(t.matches("s3cret"));
        assert!(!t.matches("s3cre"));
        assert!(!t.matches("s3cret!"));
        assert!(!t.matches(""));
        assert!(MetricsToken::new("  ").is_none());
        assert_eq!(format!("{t:?}"), "MetricsToken(***)");
    }

    #[test]
    fn counters_and_the_histogram_are_written_in_the_text_format() {
        let m = Metrics::default();
        m.record_request("GET", "/api/v1/services", 200, Duration::from_millis(3));
        m.record_request("GET", "/api/v1/services", 200, Duration::from_millis(30));
        m.record_request("GET", "/api/v1/services", 404, Duration::from_secs(20));
        m.observe("Booking", Outcome::Committed);
        m.observe("StylistDay", Outcome::Conflict);
        m.observe("StylistDay", Outcome::Conflict);
        let mut out = String::new();
        m.write_counters(&mut out);
        for line in [
            "salon_http_requests_total{method=\"GET\",route=\"/api/v1/services\",status=\"200\"} 2",
            "salon_http_requests_total{method=\"GET\",route=\"/api/v1/services\",status=\"404\"} 1",
            "salon_http_request_duration_seconds_bucket{method=\"GET\",route=\"/api/v1/services\",le=\"0.001\"} 0",
            "salon_http_request_duration_seconds_bucket{method=\"GET\",route=\"/api/v1/services\",le=\"0.005\"} 1",
            "salon_http_request_duration_seconds_bucket{method=\"GET\",route=\"/api/v1/services\",le=\"0.05\"} 2",
            "salon_http_request_duration_seconds_bucket{method=\"GET\",route=\"/api/v1/services\",le=\"10\"} 2",
            "salon_http_request_duration_seconds_bucket{method=\"GET\",route=\"/api/v1/services\",le=\"+Inf\"} 3",
            "salon_http_request_duration_seconds_count{method=\"GET\",route=\"/api/v1/services\"} 3",
            "salon_commands_total{aggregate=\"Booking\",outcome=\"committed\"} 1",
            "salon_commands_total{aggregate=\"StylistDay\",outcome=\"conflict\"} 2",
            "salon_command_conflicts_total{aggregate=\"StylistDay\"} 2",
            "# TYPE salon_http_request_duration_seconds histogram",
        ] {
            assert!(out.lines().any(|l| l == line), "{line} missing in\n{out}");
        }
        assert!(!out.contains("salon_command_conflicts_total{aggregate=\"Booking\"}"));
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
