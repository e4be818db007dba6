//! Errors as `application/problem+json` (RFC 9457): `type`, `title`, `status`, `detail`, plus
//! `errors` (one per bad field) and, for a taken slot, `alternatives`. 5xx answers are generic;
//! their cause is logged, never sent.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use domain::availability::Slot;
use serde::Serialize;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl From<domain::ParseError> for FieldError {
    fn from(e: domain::ParseError) -> Self {
        Self::new(e.field, e.message)
    }
}

/// A problem document. Build one with the constructors below.
#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alternatives: Option<Vec<Slot>>,
    #[serde(skip)]
    pub retry_after: Option<u32>,
    #[serde(skip)]
    pub authenticate: bool,
}

impl Problem {
    pub fn new(status: StatusCode, slug: &str, title: &str, detail: impl Into<String>) -> Self {
        Self {
            kind: if slug.is_empty() {
                "about:blank".into()
            } else {
                format!("/problems/{slug}")
            },
            title: title.into(),
            status: status.as_u16(),
            detail: detail.into(),
            errors: Vec::new(),
            alternatives: None,
            retry_after: None,
            authenticate: false,
        }
    }

    pub fn validation(errors: Vec<FieldError>) -> Self {
        let detail = errors
            .iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect::<Vec<_>>()
            .join("; ");
        let mut p = Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
            "The request has invalid fields",
            detail,
        );
        p.errors = errors;
        p
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "bad-request",
            "Bad request",
            detail,
        )
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", "Not found", detail)
    }

    pub fn unauthorized(detail: impl Into<String>) -> Self {
        let mut p = Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Authentication required",
            detail,
        );
        p.authenticate = true;
        p
    }

    pub fn unavailable(detail: impl Into<String>) -> Self {
        let mut p = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "Temporarily unavailable",
            detail,
        );
        p.retry_after = Some(1);
        p
    }

    /// A 500 whose cause is logged here and not sent.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal error",
            "Something went wrong on our side; it has been logged.",
        )
    }

    /// An event-store failure: unreachable is a 503 (retry), anything else a logged 500.
    pub fn store(e: &cqrs_es::persist::PersistenceError) -> Self {
        match e {
            cqrs_es::persist::PersistenceError::ConnectionError(_) => {
                tracing::warn!(error = %e, "event store unreachable");
                Problem::unavailable("The store is unreachable; try again shortly.")
            }
            other => Problem::internal(other),
        }
    }

    pub fn with_errors(mut self, errors: Vec<FieldError>) -> Self {
        self.errors = errors;
        self
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self).unwrap_or_else(|_| b"{}".to_vec());
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(secs) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if self.authenticate {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"salon\""),
            );
        }
        response
    }
}

impl From<projections::queries::QueryError> for Problem {
    fn from(e: projections::queries::QueryError) -> Self {
        if e.is_unavailable() {
            tracing::warn!(error = %e, "read store unreachable");
            Problem::unavailable("The store is unreachable; try again shortly.")
        } else {
            Problem::internal(&e)
        }
    }
}
