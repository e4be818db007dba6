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

#[derive(Debug, Deserialize)]
struct StreamQuery {
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

async fn stream(
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
