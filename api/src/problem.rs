//! Errors as `application/problem+json` (RFC 9457): `type`, `title`, `status`, `detail`, plus
//! `errors` (one per bad field) and, for a taken slot, `alternatives`. 5xx answers are generic;
//! their cause is logged, never sent.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use domain::availability::Slot;
use serde::Serialize;

/// One bad field of a request.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
#[schema(example = json!({"field": "client.email", "message": "\"ada@\" is not an email address"}))]
pub struct FieldError {
    /// The field's name; nested fields are dotted (`client.email`), headers by their name
    /// (`Idempotency-Key`).
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

/// A problem document (RFC 9457), sent as `application/problem+json`. Build one with the
/// constructors below.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(examples(
    json!({
        "type": "/problems/validation",
        "title": "The request has invalid fields",
        "status": 422,
        "detail": "client.email: \"ada@\" is not an email address",
        "errors": [{"field": "client.email", "message": "\"ada@\" is not an email address"}]
    }),
    json!({
        "type": "/problems/slot-taken",
        "title": "That time was just taken",
        "status": 409,
        "detail": "Another booking took this slot first. The nearest free slots are listed in `alternatives`.",
        "alternatives": [{
            "start": "2027-03-16T10:30:00-04:00",
            "end": "2027-03-16T12:00:00-04:00",
            "stylist": "c44e923e-60e5-58b4-a805-a80b72143357"
        }]
    })
))]
pub struct Problem {
    /// `/problems/<slug>` naming the kind of problem (`about:blank` when it has none).
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    /// The HTTP status, repeated.
    #[schema(minimum = 400, maximum = 599)]
    pub status: u16,
    /// What went wrong in this case, in words.
    pub detail: String,
    /// One entry per bad field (validation problems).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// Free times near the one asked for (a taken or unbookable slot, a day with room).
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
