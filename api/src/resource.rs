//! Shared pieces of the clients and reviews resources: list filters parsed into field errors
//! (`field`, `field__gte/__lte/__gt/__lt`, `ordering=-field`), and optimistic concurrency
//! (`ETag` from the aggregate's version, `If-Match` checked against the version the write is
//! decided on, 412 when it moved).

use crate::problem::{FieldError, Problem};
use crate::AppState;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use commands::Committed;
use cqrs_es::persist::PersistenceError;
use cqrs_es::Aggregate;
use domain::metadata::EventMetadata;
use projections::listing::{Cmp, OrderKey};

/// The suffixes a range filter takes, and their comparison.
pub const RANGE_SUFFIXES: [(&str, Cmp); 4] = [
    ("__gte", Cmp::Gte),
    ("__lte", Cmp::Lte),
    ("__gt", Cmp::Gt),
    ("__lt", Cmp::Lt),
];

/// Collects field errors while a list's query string is parsed.
#[derive(Debug, Default)]
pub struct Parse {
    pub errors: Vec<FieldError>,
}

impl Parse {
    pub fn error(&mut self, field: &str, message: impl Into<String>) {
        self.errors.push(FieldError::new(field, message));
    }

    /// `true` / `false`.
    pub fn boolean(&mut self, field: &str, raw: Option<&str>) -> Option<bool> {
        match raw.map(str::trim) {
            None | Some("") => None,
            Some("true") => Some(true),
            Some("false") => Some(false),
            Some(_) => {
                self.error(field, "must be true or false");
                None
            }
        }
    }

    /// A whole number from `min` to `max`.
    pub fn int(&mut self, field: &str, raw: Option<&str>, min: i64, max: i64) -> Option<i64> {
        match raw.map(str::trim) {
            None | Some("") => None,
            Some(text) => match text.parse::<i64>() {
                Ok(n) if (min..=max).contains(&n) => Some(n),
                _ => {
                    self.error(field, format!("must be a whole number from {min} to {max}"));
                    None
                }
            },
        }
    }

    /// A UUID (any id).
    pub fn uuid(&mut self, field: &str, raw: Option<&str>) -> Option<String> {
        match raw.map(str::trim) {
            None | Some("") => None,
            Some(text) => match uuid::Uuid::parse_str(text) {
                Ok(u) => Some(u.to_string()),
                Err(_) => {
                    self.error(field, format!("{text:?} is not a UUID"));
                    None
                }
            },
        }
    }

    /// An instant: RFC 3339, or a date meaning midnight at its start in the salon's zone.
    pub fn instant(&mut self, field: &str, raw: Option<&str>, tz: Tz) -> Option<DateTime<Utc>> {
        let text = raw.map(str::trim).filter(|t| !t.is_empty())?;
        if let Ok(t) = DateTime::parse_from_rfc3339(text) {
            return Some(t.with_timezone(&Utc));
        }
        match NaiveDate::parse_from_str(text, "%Y-%m-%d") {
            Ok(d) if (1000..=9999).contains(&chrono::Datelike::year(&d)) => {
                let midnight = d.and_hms_opt(0, 0, 0).unwrap_or_default();
                Some(domain::availability::local_to_utc(tz, midnight))
            }
            _ => {
                self.error(
                    field,
                    "must be a date (2027-03-16) or an RFC 3339 time (2027-03-16T10:00:00-04:00)",
                );
                None
            }
        }
    }

    /// `ordering=a,-b` against the fields a list allows (`(field, column)`).
    pub fn ordering(
        &mut self,
        raw: Option<&str>,
        allowed: &[(&str, &'static str)],
    ) -> Vec<OrderKey> {
        let mut keys = Vec::new();
        let Some(text) = raw.map(str::trim).filter(|t| !t.is_empty()) else {
            return keys;
        };
        for part in text.split(',').map(str::trim) {
            let (descending, name) = match part.strip_prefix('-') {
                Some(n) => (true, n),
                None => (false, part),
            };
            match allowed.iter().find(|(f, _)| *f == name) {
                Some((_, column)) => keys.push(OrderKey { column, descending }),
                None => {
                    let names: Vec<&str> = allowed.iter().map(|(f, _)| *f).collect();
                    self.error(
                        "ordering",
                        format!(
                            "{part:?} is not one of {} (prefix - for descending)",
                            names.join(", ")
                        ),
                    );
                }
            }
        }
        keys
    }

    pub fn finish(self) -> Result<(), Problem> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(Problem::validation(self.errors))
        }
    }
}

/// The strong ETag of an aggregate version.
pub fn etag(version: i64) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{version}\"")).unwrap_or(HeaderValue::from_static("\"0\""))
}

/// Adds `ETag` to a response's headers.
pub fn with_etag(headers: &mut HeaderMap, version: i64) {
    headers.insert(header::ETAG, etag(version));
}

/// The version `If-Match` names: `None` without the header (or `*`), 412 when it names no
/// version this resource could have.
pub fn if_match(headers: &HeaderMap) -> Result<Option<usize>, Problem> {
    let Some(raw) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let text = raw.to_str().unwrap_or("").trim();
    if text == "*" {
        return Ok(None);
    }
    let tag = text.trim_start_matches("W/").trim_matches('"');
    tag.parse::<usize>().map(Some).map_err(|_| stale())
}

/// 412: the resource changed since the ETag the client sent.
pub fn stale() -> Problem {
    Problem::new(
        StatusCode::PRECONDITION_FAILED,
        "precondition-failed",
        "The resource has changed",
        "If-Match names a version that is no longer current. GET the resource again and retry with its ETag.",
    )
}

/// Why a write with an expected version failed.
#[derive(Debug)]
pub enum VersionedError<E> {
    Rejected(E),
    Stale,
    Contended,
    Store(PersistenceError),
}

/// Executes `command` on aggregate `id`. With `expected` (from `If-Match`) the command is
/// decided only on that version and appended only on top of it: anything written meanwhile
/// makes it `Stale` (412) rather than decided again.
pub async fn execute_expecting<A>(
    state: &AppState,
    id: &str,
    command: A::Command,
    expected: Option<usize>,
    metadata: &EventMetadata,
) -> Result<Committed, VersionedError<A::Error>>
where
    A: Aggregate<Services = ()> + Clone + 'static,
    A::Command: Clone,
{
    let Some(expected) = expected else {
        return match state.bus.execute::<A>(id, command, metadata).await {
            Ok((committed, _)) => Ok(committed),
            Err(commands::CommandError::Rejected(e)) => Err(VersionedError::Rejected(e)),
            Err(commands::CommandError::Contended) => Err(VersionedError::Contended),
            Err(commands::CommandError::Store(e)) => Err(VersionedError::Store(e)),
        };
    };
    let loaded = state
        .bus
        .load_fresh::<A>(id)
        .await
        .map_err(VersionedError::Store)?;
    if loaded.version != expected {
        return Err(VersionedError::Stale);
    }
    let decision = state
        .bus
        .decide(&loaded, id, command, &())
        .await
        .map_err(VersionedError::Rejected)?;
    match state.bus.commit(&[&decision], metadata).await {
        Ok(committed) => Ok(committed),
        Err(PersistenceError::OptimisticLockError) => Err(VersionedError::Stale),
        Err(e) => Err(VersionedError::Store(e)),
    }
}
