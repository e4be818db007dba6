//! The HTTP face of salon (axum). Handlers are thin: extract, parse into domain types, execute
//! a command or run a query, respond. Every error is problem+json.
//!
//! Map: `problem` (errors), `extract` (bodies, queries, auth, request ids), `alerts` (the live
//! alert broadcaster), `metrics` (`/metrics` and the per-request log span), `routes::*` (one
//! module per resource, each exposing `router()`), merged in [`router`]; `openapi` (the
//! OpenAPI 3.1 document of all of it, and Swagger UI).

// `Problem` (the error answer) is larger than clippy likes in a `Result`. It is built only on
// the failure path, once per request, and moved into the response; boxing it would cost an
// allocation there and gain nothing.
#![allow(clippy::result_large_err)]

pub mod alerts;
pub mod cache;
pub mod etag;
pub mod extract;
pub mod limit;
pub mod list;
pub mod metrics;
pub mod openapi;
pub mod problem;
pub mod routes;

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use commands::CommandBus;
use extract::RequestId;
use problem::Problem;
use projections::{Projections, ReadDb};
use std::sync::Arc;
use std::time::Duration;
use tower_http::catch_panic::CatchPanicLayer;

/// Largest request body the API reads.
pub const BODY_LIMIT: usize = 64 * 1024;

/// Tunables of the HTTP layer.
#[derive(Debug, Clone)]
pub struct ApiSettings {
    /// How long a write waits for its projections before answering (read-your-writes).
    pub read_your_writes: Duration,
    /// The booking site's address, for the client's signed manage link.
    pub public_url: String,
}

impl Default for ApiSettings {
    fn default() -> Self {
        Self {
            read_your_writes: Duration::from_secs(2),
            public_url: "http://localhost:8080".into(),
        }
    }
}

/// What every handler can reach. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub bus: CommandBus,
    pub read: ReadDb,
    pub projections: Projections,
    pub settings: Arc<ApiSettings>,
    /// The calendar sync job (on-demand syncs and source removal go through it).
    pub calendars: Arc<commands::calendars::CalendarSync>,
    /// Encoded availability answers, keyed by query, projection checkpoints and minute.
    pub answers: Arc<cache::AnswerCache>,
    /// The live-alert broadcaster behind `/events/stream`.
    pub alerts: Arc<alerts::Alerts>,
    /// Stripe, when `STRIPE_SECRET_KEY` is set.
    pub payments: Option<commands::payments::Payments>,
    /// The `/webhooks/stripe` receiver, when `STRIPE_WEBHOOK_SECRET` is set.
    pub stripe_webhooks: Option<commands::payments::StripeWebhooks>,
    /// Signs and checks the clients' manage links.
    pub links: commands::links::LinkSigner,
    /// Hold expiry, mail, refunds and outgoing webhooks (tests run rounds by hand on a still
    /// clock).
    pub reactors: Arc<commands::reactors::Reactors>,
    /// Throttles recording when each API token was last used.
    pub token_usage: Arc<extract::TokenUsage>,
    /// Integrators' webhook subscriptions and their signing secrets.
    pub webhooks: commands::webhooks::Webhooks,
    /// Rate limits per client address (booking) and per API token.
    pub limits: Arc<limit::RateLimits>,
}

/// Read-your-writes: waits (up to the configured bound) until `which` read models have applied
/// the log up to `position`, so the answer to a write shows the write.
pub(crate) async fn settle(
    state: &AppState,
    which: &[projections::Projection],
    position: migrations::LogPosition,
) {
    if !state.settings.read_your_writes.is_zero() {
        state
            .projections
            .wait_for(which, position, state.settings.read_your_writes)
            .await;
    }
}

pub(crate) const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The request's id: its `X-Request-Id` when that is a sane token (1–64 letters, digits, `-_.`),
/// else a new UUID.
pub(crate) fn request_id_of(headers: &axum::http::HeaderMap) -> String {
    headers
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        })
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

/// Takes or makes the request id, and echoes it on the response. Behind
/// [`metrics::observe`] (the server's outermost layer) the id is the one it took or made.
async fn request_id(mut req: Request, next: Next) -> Response {
    let id = request_id_of(req.headers());
    req.extensions_mut().insert(RequestId(id.clone()));
    let mut response = next.run(req).await;
    if let Ok(v) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID, v);
    }
    response
}

/// Whether an `Accept` header takes JSON (`application/json`, `application/problem+json`,
/// `application/*`, `*/*`, or a `+json` type), with a quality above 0. No header takes anything.
fn accepts_json(accept: &str) -> bool {
    accept.split(',').any(|range| {
        let mut parts = range.split(';').map(str::trim);
        let media = parts.next().unwrap_or("").to_ascii_lowercase();
        let q = parts
            .filter_map(|p| p.strip_prefix("q="))
            .filter_map(|q| q.trim().parse::<f32>().ok())
            .next()
            .unwrap_or(1.0);
        q > 0.0
            && (media == "*/*"
                || media == "application/*"
                || media == "application/json"
                || (media.starts_with("application/") && media.ends_with("+json")))
    })
}

/// Whether an `Accept` header takes the event log's streamed formats (`text/csv`, `text/*`,
/// `application/x-ndjson`).
fn accepts_export(accept: &str) -> bool {
    accept.split(',').any(|range| {
        let mut parts = range.split(';').map(str::trim);
        let media = parts.next().unwrap_or("").to_ascii_lowercase();
        let q = parts
            .filter_map(|p| p.strip_prefix("q="))
            .filter_map(|q| q.trim().parse::<f32>().ok())
            .next()
            .unwrap_or(1.0);
        q > 0.0
            && matches!(
                media.as_str(),
                "text/csv" | "text/*" | "application/x-ndjson"
            )
    })
}

/// 406 for an API call whose `Accept` rules out JSON (the answer is still problem+json: there
/// is nothing else to say it in). The waitlist's leave page is HTML and is left alone.
async fn negotiate(req: Request, next: Next) -> Response {
    let path = req.uri().path();
    let json_route = path.starts_with("/api/v1/") && !path.ends_with("/leave");
    if json_route {
        if let Some(accept) = req.headers().get(axum::http::header::ACCEPT) {
            // The event log also streams as NDJSON or CSV (`format=`).
            let ok = accept
                .to_str()
                .map(|a| accepts_json(a) || (path == "/api/v1/events" && accepts_export(a)))
                .unwrap_or(false);
            if !ok {
                return Problem::new(
                    StatusCode::NOT_ACCEPTABLE,
                    "not-acceptable",
                    "Not acceptable",
                    "This API answers in JSON (application/json, and application/problem+json \
                     for errors); send Accept: application/json or leave Accept out.",
                )
                .into_response();
            }
        }
    }
    next.run(req).await
}

async fn not_found(req: Request) -> Problem {
    Problem::not_found(format!("No route for {}", req.uri().path()))
}

async fn method_not_allowed(req: Request) -> Problem {
    let path = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| req.uri().path().to_string());
    Problem::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
        "Method not allowed",
        format!("{} is not allowed on {path}", req.method()),
    )
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    Problem::internal(&"a handler panicked").into_response()
}

/// The whole API.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(routes::health::router())
        .merge(routes::salon::router())
        .merge(routes::services::router())
        .merge(routes::stylists::router())
        .merge(routes::history::router())
        .merge(routes::availability::router())
        .merge(routes::bookings::router())
        .merge(routes::calendars::router())
        .merge(routes::stream::router())
        .merge(routes::manage::router())
        .merge(routes::webhooks::router())
        .merge(routes::waitlist::router())
        .merge(routes::tokens::router())
        .merge(routes::webhooks_out::router())
        .merge(routes::clients::router())
        .merge(routes::reviews::router())
        .merge(routes::pictures::router())
        .merge(openapi::router())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::extract::DefaultBodyLimit::max(BODY_LIMIT))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            limit::bookings,
        ))
        .layer(axum::middleware::from_fn(negotiate))
        .layer(axum::middleware::from_fn(request_id))
        .layer(CatchPanicLayer::custom(panic_response))
        .with_state(state)
}

#[cfg(test)]
mod tests {
    #[test]
    fn accept_headers_that_take_json() {
        for ok in [
            "application/json",
            "*/*",
            "text/html, application/*;q=0.5",
            "application/problem+json",
            "application/vnd.api+json",
        ] {
            assert!(super::accepts_json(ok), "{ok}");
        }
        for no in [
            "text/html",
            "application/xml",
            "application/json;q=0",
            "text/csv, image/*",
        ] {
            assert!(!super::accepts_json(no), "{no}");
        }
    }
}
