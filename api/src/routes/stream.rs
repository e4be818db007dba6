//! `GET /events/stream`: live alerts as Server-Sent Events (authenticated; see
//! [`Watcher`]). Each message is `id: <log position>`, `event: <event type>` and one line of
//! JSON data; `Last-Event-ID` (header, as `EventSource` sends on reconnect, or the
//! `last_event_id` query parameter) replays what came after it from the log first.

use crate::alerts::Alert;
use crate::extract::{ApiQuery, Watcher};
use crate::problem::Problem;
use crate::AppState;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use futures::StreamExt;
use projections::log::ReadError;
use serde::Deserialize;
use std::convert::Infallible;
use std::time::Duration;

/// How often an idle stream sends a comment, so proxies and clients keep the connection.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

const LAST_EVENT_ID: HeaderName = HeaderName::from_static("last-event-id");
const X_ACCEL_BUFFERING: HeaderName = HeaderName::from_static("x-accel-buffering");

pub fn router() -> Router<AppState> {
    Router::new().route("/events/stream", get(stream))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct StreamQuery {
    /// Resume after this event (for the first connection; the `Last-Event-ID` header wins).
    /// `0` replays every alert.
    #[param(value_type = Option<i64>, minimum = 0, example = 0)]
    last_event_id: Option<String>,
}

/// The position to resume after: the header wins (an `EventSource` reconnecting keeps its URL,
/// query included, and sends the newest id it saw in the header).
fn last_event_id(headers: &HeaderMap, query: Option<&str>) -> Result<Option<i64>, Problem> {
    let from_header = match headers.get(&LAST_EVENT_ID) {
        Some(v) => Some(v.to_str().map_err(|_| {
            Problem::bad_request("Last-Event-ID must be an event id from this stream.")
        })?),
        None => None,
    };
    fn given(v: Option<&str>) -> Option<&str> {
        v.map(str::trim).filter(|s| !s.is_empty())
    }
    let Some(raw) = given(from_header).or(given(query)) else {
        return Ok(None);
    };
    match raw.parse::<i64>() {
        Ok(id) if id >= 0 => Ok(Some(id)),
        _ => Err(Problem::bad_request(
            "Last-Event-ID must be an event id from this stream (a non-negative integer).",
        )),
    }
}

fn read_problem(e: ReadError) -> Problem {
    match &e {
        ReadError::Sql(sql) if migrations::is_unavailable(sql) => {
            tracing::warn!(error = %e, "read store unreachable");
            Problem::unavailable("The store is unreachable; try again shortly.")
        }
        _ => Problem::internal(&e),
    }
}

fn event(alert: &Alert) -> Event {
    Event::default()
        .id(alert.at.position.to_string())
        .event(&alert.event_type)
        .data(&alert.data)
}

/// Live alerts as Server-Sent Events: new bookings, holds, payments, refunds, cancellations,
/// reschedules, expiries, completions, no-shows and reviews as they are appended.
///
/// Each message is `id: <log position>`, `event: <event type>` and one `data:` line holding an
/// `Alert` (see the schemas). A reconnect with `Last-Event-ID` first replays what came after that
/// event, without gaps or repeats. A `: keep-alive` comment goes out every 15 s.
#[utoipa::path(
    get,
    path = "/events/stream",
    operation_id = "event_stream",
    tag = "stream",
    params(
        StreamQuery,
        ("Last-Event-ID" = Option<String>, Header, description = "Resume after this event id (what `EventSource` sends on reconnect)"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "An endless `text/event-stream`; each `data:` is an `Alert`", body = String, content_type = "text/event-stream",
            example = "id: 1042\nevent: BookingConfirmed\ndata: {\"position\":1042,\"event_type\":\"BookingConfirmed\",…}\n\n"),
        (status = 400, description = "`Last-Event-ID` (or `last_event_id`) is not a non-negative integer", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 503, response = crate::openapi::Unavailable),
    ),
)]
pub(crate) async fn stream(
    watcher: Watcher,
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<StreamQuery>,
) -> Result<Response, Problem> {
    let last = last_event_id(&headers, query.last_event_id.as_deref())?;
    let from = state
        .alerts
        .resume_point(last)
        .await
        .map_err(read_problem)?;
    tracing::debug!(watcher = %watcher.actor(), after = from.position, "alert stream opened");
    let events = state
        .alerts
        .subscribe(from)
        .into_stream()
        .map(|alert| Ok::<_, Infallible>(event(&alert)));
    let mut response = Sse::new(events)
        .keep_alive(KeepAlive::new().interval(KEEP_ALIVE).text("keep-alive"))
        .into_response();
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(X_ACCEL_BUFFERING, HeaderValue::from_static("no"));
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_wins_over_the_query() {
        let mut headers = HeaderMap::new();
        assert_eq!(last_event_id(&headers, None).ok(), Some(None));
        assert_eq!(last_event_id(&headers, Some("12")).ok(), Some(Some(12)));
        headers.insert(LAST_EVENT_ID, HeaderValue::from_static("40"));
        assert_eq!(last_event_id(&headers, Some("12")).ok(), Some(Some(40)));
        headers.insert(LAST_EVENT_ID, HeaderValue::from_static(" "));
        assert_eq!(last_event_id(&headers, Some("7")).ok(), Some(Some(7)));
        for bad in ["-1", "x", "1.5"] {
            assert!(
                last_event_id(&HeaderMap::new(), Some(bad)).is_err(),
                "{bad}"
            );
        }
    }
}
