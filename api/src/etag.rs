//! Optimistic concurrency over HTTP. A record's `ETag` is its aggregate's version (the sequence
//! number of its last event), sent as a strong tag (`"7"`) on every GET and write answer; a write
//! with `If-Match` is made only when the record is still at a version it names, and answers
//! 412 otherwise, with nothing written (the command bus checks the version against the store,
//! not a read model, see `CommandBus::execute_at`).

use crate::problem::Problem;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use commands::CommandError;

/// The `ETag` value of a record at `version`.
pub fn etag(version: i64) -> HeaderValue {
    // Digits and quotes only: always a valid header value.
    HeaderValue::from_str(&format!("\"{version}\"")).unwrap_or(HeaderValue::from_static("\"0\""))
}

/// Adds the record's `ETag` to an answer.
pub fn with_etag(response: impl IntoResponse, version: i64) -> Response {
    let mut response = response.into_response();
    response.headers_mut().insert(header::ETAG, etag(version));
    response
}

/// A 201 for a record made at `version`, with its `Location` and `ETag`.
pub fn created(body: impl IntoResponse, version: i64, location: &str) -> Response {
    let mut response = with_etag((StatusCode::CREATED, body), version);
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

/// What `If-Match` asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IfMatch {
    /// No `If-Match`: the write is made on whatever the record is now.
    Absent,
    /// `If-Match: *`: the record must exist (every write here needs an existing record).
    Any,
    /// The versions the caller accepts. Weak tags (`W/"3"`) never match: RFC 9110 compares
    /// `If-Match` strongly. A tag that is not one of ours matches nothing.
    Versions(Vec<usize>),
}

impl IfMatch {
    pub fn from_headers(headers: &HeaderMap) -> Result<Self, Problem> {
        let values: Vec<&HeaderValue> = headers.get_all(header::IF_MATCH).iter().collect();
        if values.is_empty() {
            return Ok(Self::Absent);
        }
        let mut versions = Vec::new();
        for value in values {
            let text = value
                .to_str()
                .map_err(|_| Problem::bad_request("If-Match is not readable text."))?;
            for tag in text.split(',').map(str::trim).filter(|t| !t.is_empty()) {
                if tag == "*" {
                    return Ok(Self::Any);
                }
                if let Some(v) = tag
                    .strip_prefix('"')
                    .and_then(|t| t.strip_suffix('"'))
                    .and_then(|t| t.parse::<usize>().ok())
                {
                    versions.push(v);
                }
            }
        }
        Ok(Self::Versions(versions))
    }

    /// The one version a write must find, for the command bus: `None` when any version will
    /// do. Several tags: the newest listed (an older one could only fail).
    pub fn expected(&self) -> Option<usize> {
        match self {
            Self::Absent | Self::Any => None,
            // An empty list matches nothing: usize::MAX is never a version.
            Self::Versions(v) => Some(v.iter().copied().max().unwrap_or(usize::MAX)),
        }
    }

    /// Whether a record at `version` satisfies the precondition (for writes that check it
    /// against a read first).
    pub fn check(&self, version: i64) -> Result<(), Problem> {
        match self.expected() {
            Some(v) if i64::try_from(v).ok() != Some(version) => Err(stale(version)),
            _ => Ok(()),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Problem> {
        Self::from_headers(&parts.headers)
    }
}

/// 412: the record changed since the caller read it.
pub fn stale(current: i64) -> Problem {
    Problem::new(
        StatusCode::PRECONDITION_FAILED,
        "stale",
        "The record has changed",
        format!(
            "Someone changed this record after you read it (it is now at ETag \"{current}\"). \
             Read it again, then retry your change with the new ETag in If-Match."
        ),
    )
}

/// The answer to the command bus's failures other than a rejection by the aggregate.
pub fn bus_problem<E: std::error::Error>(
    e: CommandError<E>,
    rejected: impl FnOnce(E) -> Problem,
) -> Problem {
    match e {
        CommandError::Rejected(e) => rejected(e),
        CommandError::Stale { current, .. } => stale(i64::try_from(current).unwrap_or(i64::MAX)),
        CommandError::Contended => Problem::unavailable("Busy; try again."),
        CommandError::Store(e) => Problem::store(&e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(values: &[&str]) -> IfMatch {
        let mut headers = HeaderMap::new();
        for v in values {
            headers.append(header::IF_MATCH, HeaderValue::from_str(v).unwrap());
        }
        IfMatch::from_headers(&headers).unwrap()
    }

    #[test]
    fn tags_are_read_strongly() {
        assert_eq!(parse(&[]), IfMatch::Absent);
        assert_eq!(parse(&["*"]), IfMatch::Any);
        assert_eq!(parse(&["\"3\""]).expected(), Some(3));
        assert_eq!(parse(&["\"3\", \"5\"", "\"4\""]).expected(), Some(5));
        assert_eq!(parse(&["W/\"3\""]).expected(), Some(usize::MAX));
        assert_eq!(parse(&["3"]).expected(), Some(usize::MAX));
        assert!(parse(&["\"3\""]).check(3).is_ok());
        assert_eq!(parse(&["\"3\""]).check(4).unwrap_err().status, 412);
    }
}
