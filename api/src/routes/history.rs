//! Read-only history for integrators (bearer token, any scope): `GET /api/v1/audit`, the audit
//! log in words, and `GET /api/v1/events`, the event log itself, both filtered and paged like
//! every list.

use crate::extract::Integrator;
use crate::list::{self, ListParams};
use crate::problem::Problem;
use crate::routes::catalog::Paged;
use crate::AppState;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use projections::history::{self, AuditEntry, LoggedEvent, AUDIT_LIST};
use serde::Deserialize;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/audit", get(audit))
        .route("/api/v1/events", get(events))
}

/// Filters of `GET /api/v1/audit` (documentation; the handler reads the query string through
/// `projections::list`).
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub(crate) struct AuditFilters {
    /// How many results to return (1–1000, default 100).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000, example = 20)]
    limit: Option<String>,
    /// How many results to skip.
    #[param(value_type = Option<u32>, minimum = 0, maximum = 1_000_000_000)]
    offset: Option<String>,
    /// Who did it: `client`, `owner`, `token:<name>`, `stripe`, `system`, …
    #[param(example = "token:front-desk")]
    actor: Option<String>,
    /// Several actors, comma-separated.
    #[serde(rename = "actor__in")]
    actor_in: Option<String>,
    /// The path: `spa`, `panel`, `api`, `webhook`, `intake`, `cli` or `job`.
    source: Option<String>,
    #[serde(rename = "source__in")]
    source_in: Option<String>,
    /// `Booking`, `Service`, `Stylist`, `Salon`, `StylistDay`, `ApiToken`, …
    aggregate_type: Option<String>,
    aggregate_id: Option<String>,
    /// The event type, e.g. `BookingCancelled`.
    #[serde(rename = "type")]
    event_type: Option<String>,
    /// Several event types, comma-separated.
    #[serde(rename = "type__in")]
    event_type_in: Option<String>,
    /// Recorded on or after this local day (`YYYY-MM-DD`) or instant (RFC 3339).
    #[serde(rename = "recorded__gte")]
    recorded_gte: Option<String>,
    /// Recorded on or before this local day or instant.
    #[serde(rename = "recorded__lte")]
    recorded_lte: Option<String>,
    /// Log positions after this one.
    #[serde(rename = "position__gt")]
    #[param(value_type = Option<i64>)]
    position_gt: Option<String>,
    #[serde(rename = "position__lte")]
    #[param(value_type = Option<i64>)]
    position_lte: Option<String>,
    request_id: Option<String>,
    correlation_id: Option<String>,
    /// Case-insensitive text in the summary or the reason.
    search: Option<String>,
    /// `-position` (default, newest first) or `position`.
    ordering: Option<String>,
}

/// The audit log: who did what, when, why, by which path, one entry per event, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/audit",
    operation_id = "list_audit",
    tag = "history",
    params(AuditFilters),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "One page of audit entries", body = Paged<AuditEntry>),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 422, response = crate::openapi::InvalidBody),
        (status = 503, response = crate::openapi::Unavailable),
    ),
)]
pub(crate) async fn audit(
    State(state): State<AppState>,
    _who: Integrator,
    params: ListParams,
) -> Result<Json<Paged<AuditEntry>>, Problem> {
    let query = list::parse(&state, &AUDIT_LIST, &params).await?;
    let page = list::run(&state, &AUDIT_LIST, &query, &params.uri, history::audit_row).await?;
    Ok(Json(page))
}

/// Filters of `GET /api/v1/events` (documentation).
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub(crate) struct EventFilters {
    /// How many results to return (1–1000, default 100).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000, example = 20)]
    limit: Option<String>,
    /// How many results to skip.
    #[param(value_type = Option<u32>, minimum = 0, maximum = 1_000_000_000)]
    offset: Option<String>,
    /// The event type, e.g. `BookingRequested`.
    #[serde(rename = "type")]
    event_type: Option<String>,
    /// Several event types, comma-separated.
    #[serde(rename = "type__in")]
    event_type_in: Option<String>,
    aggregate_type: Option<String>,
    aggregate_id: Option<String>,
    /// Who did it (`metadata.actor`).
    actor: Option<String>,
    /// The path it came by (`metadata.source`).
    source: Option<String>,
    /// Recorded on or after this local day (`YYYY-MM-DD`) or instant (RFC 3339).
    #[serde(rename = "recorded__gte")]
    recorded_gte: Option<String>,
    /// Recorded before this instant, or on or before this local day.
    #[serde(rename = "recorded__lte")]
    recorded_lte: Option<String>,
    /// Events after this position: follow the log by passing the last position you saw.
    #[serde(rename = "position__gt")]
    #[param(value_type = Option<i64>)]
    position_gt: Option<String>,
    #[serde(rename = "position__lte")]
    #[param(value_type = Option<i64>)]
    position_lte: Option<String>,
    /// `position` (default, log order) or `-position`.
    ordering: Option<String>,
}

/// The event log, in log order: every change ever made, with its audit metadata. On
/// PostgreSQL only events of finished transactions are listed, so following the log with
/// `position__gt` never skips one.
#[utoipa::path(
    get,
    path = "/api/v1/events",
    operation_id = "list_events",
    tag = "history",
    params(EventFilters),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "One page of events", body = Paged<LoggedEvent>),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 422, response = crate::openapi::InvalidBody),
        (status = 503, response = crate::openapi::Unavailable),
    ),
)]
pub(crate) async fn events(
    State(state): State<AppState>,
    _who: Integrator,
    params: ListParams,
) -> Result<Json<Paged<LoggedEvent>>, Problem> {
    let spec = history::event_list(state.read.backend());
    let mut query = list::parse(&state, &spec, &params).await?;
    history::settled_only(&state.read, &mut query);
    let page = list::run(&state, &spec, &query, &params.uri, history::event_row).await?;
    Ok(Json(page))
}
