//! Read-only history for integrators (bearer token, any scope): `GET /api/v1/audit`, the audit
//! log in words, and `GET /api/v1/events`, the event log itself, both filtered and paged like
//! every list.

use crate::extract::Integrator;
use crate::list::{self, ListParams};
use crate::problem::{FieldError, Problem};
use crate::routes::catalog::Paged;
use crate::AppState;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use futures::StreamExt;
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
    /// The path: `spa`, `panel`, `api`, `webhook`, `intake`, `cli`, `job` or `import`.
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
    /// The event type, e.g. `BookingRequested`, or several, comma-separated
    /// (`BookingConfirmed,BookingCancelled`).
    #[serde(rename = "type")]
    #[param(example = "BookingConfirmed,BookingCancelled")]
    event_type: Option<String>,
    /// Several event types, comma-separated.
    #[serde(rename = "type__in")]
    event_type_in: Option<String>,
    aggregate_type: Option<String>,
    aggregate_id: Option<String>,
    /// Who did it (`metadata.actor`).
    actor: Option<String>,
    /// Recorded at or after this instant (RFC 3339 with an offset; to the millisecond).
    #[param(example = "2027-03-01T00:00:00Z")]
    from: Option<String>,
    /// Recorded before this instant (RFC 3339 with an offset; to the millisecond).
    #[param(example = "2027-04-01T00:00:00Z")]
    to: Option<String>,
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
    /// `json` (default: one page in the list envelope), or the whole filtered log streamed in
    /// log order as `ndjson` (one event a line) or `csv` (the same columns, `payload` and
    /// `metadata` as JSON text); streamed answers take no `limit`, `offset` or `ordering`.
    #[param(example = "ndjson")]
    format: Option<String>,
}

/// The event log, in log order: every change ever made, with its audit metadata. On
/// PostgreSQL only events of finished transactions are listed, so following the log with
/// `position__gt` never skips one. With `format=ndjson` or `format=csv` the whole filtered log
/// is streamed instead of one page (as `salon events export` writes it).
#[utoipa::path(
    get,
    path = "/api/v1/events",
    operation_id = "list_events",
    tag = "history",
    params(EventFilters),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "One page of events, or with `format` the filtered log streamed", content(
            (Paged<LoggedEvent> = "application/json"),
            (String = "application/x-ndjson"),
            (String = "text/csv"),
        )),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 422, response = crate::openapi::InvalidBody),
        (status = 503, response = crate::openapi::Unavailable),
    ),
)]
pub(crate) async fn events(
    State(state): State<AppState>,
    _who: Integrator,
    mut params: ListParams,
) -> Result<Response, Problem> {
    let backend = state.read.backend();
    let spec = history::event_list(backend);
    let streamed = Streamed::take(&mut params)?;
    let extra = EventExtras::take(&mut params)?;
    let mut query = list::parse(&state, &spec, &params).await?;
    extra.apply(backend, &mut query);
    history::settled_only(&state.read, &mut query);
    if let Some(format) = streamed {
        return Ok(format.respond(state.read.clone(), spec, query));
    }
    let mut page = list::run(&state, &spec, &query, &params.uri, history::event_row).await?;
    history::open_events(&state.read, &mut page.results)
        .await
        .map_err(Problem::from)?;
    Ok(Json(page).into_response())
}

/// Rows read per query while streaming.
const STREAM_PAGE: i64 = 1000;

/// `format=ndjson|csv`: the whole filtered log, streamed page by page (keyset on the position),
/// never held in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Streamed {
    Ndjson,
    Csv,
}

impl Streamed {
    fn take(params: &mut ListParams) -> Result<Option<Self>, Problem> {
        let format = match params.take("format").as_deref().map(str::trim) {
            None | Some("") | Some("json") => return Ok(None),
            Some("ndjson") => Self::Ndjson,
            Some("csv") => Self::Csv,
            Some(other) => {
                return Err(Problem::validation(vec![FieldError::new(
                    "format",
                    format!("{other:?} is not json, ndjson or csv"),
                )]))
            }
        };
        let paging: Vec<FieldError> = ["limit", "offset", "ordering"]
            .into_iter()
            .filter(|k| params.get(k).is_some())
            .map(|k| {
                FieldError::new(
                    k,
                    "does not apply to a streamed answer (the whole filtered log, in log order); \
                     resume with position__gt",
                )
            })
            .collect();
        if paging.is_empty() {
            Ok(Some(format))
        } else {
            Err(Problem::validation(paging))
        }
    }

    fn encode(self, page: &[LoggedEvent], out: &mut Vec<u8>) -> Result<(), std::io::Error> {
        match self {
            Self::Ndjson => {
                for e in page {
                    serde_json::to_writer(&mut *out, e)?;
                    out.push(b'\n');
                }
            }
            Self::Csv => {
                let mut w = csv::Writer::from_writer(out);
                for e in page {
                    w.write_record([
                        e.position.to_string(),
                        e.aggregate_type.clone(),
                        e.aggregate_id.clone(),
                        e.sequence.to_string(),
                        e.event_type.clone(),
                        e.event_version.clone(),
                        e.payload.to_string(),
                        e.metadata.to_string(),
                    ])?;
                }
                w.flush()?;
            }
        }
        Ok(())
    }

    fn respond(
        self,
        read: projections::ReadDb,
        spec: projections::list::ListSpec,
        query: projections::list::ListQuery,
    ) -> Response {
        let head = match self {
            Self::Ndjson => Vec::new(),
            Self::Csv => b"position,aggregate_type,aggregate_id,sequence,event_type,event_version,payload,metadata\n".to_vec(),
        };
        let pages = futures::stream::try_unfold(Some(0i64), move |after| {
            let read = read.clone();
            let query = query.clone();
            async move {
                let Some(after) = after else {
                    return Ok(None);
                };
                let failed = |e: projections::queries::QueryError| {
                    tracing::warn!(error = %e, "streaming the event log failed");
                    std::io::Error::other(e.to_string())
                };
                let mut page = projections::list::page_after(
                    &read,
                    &spec,
                    &query,
                    after,
                    STREAM_PAGE,
                    history::event_row,
                )
                .await
                .map_err(failed)?;
                history::open_events(&read, &mut page)
                    .await
                    .map_err(failed)?;
                let Some(last) = page.last().map(|e| e.position) else {
                    return Ok(None);
                };
                let mut chunk = Vec::with_capacity(page.len() * 512);
                self.encode(&page, &mut chunk)?;
                let next = (page.len() as i64 == STREAM_PAGE).then_some(last);
                Ok::<_, std::io::Error>(Some((Bytes::from(chunk), next)))
            }
        });
        let body = futures::stream::once(async move { Ok(Bytes::from(head)) }).chain(pages);
        let content_type = match self {
            Self::Ndjson => "application/x-ndjson",
            Self::Csv => "text/csv; charset=utf-8",
        };
        (
            [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
            Body::from_stream(body),
        )
            .into_response()
    }
}

/// The parameters of `GET /api/v1/events` beyond the common list filters: `type` with one or
/// several comma-separated types, and the recorded range `from` (inclusive) and `to`
/// (exclusive), to the millisecond, as `salon events export --type/--from/--to` takes them.
struct EventExtras {
    types: Vec<String>,
    from: Option<i64>,
    to: Option<i64>,
}

impl EventExtras {
    fn take(params: &mut ListParams) -> Result<Self, Problem> {
        let mut errors = Vec::new();
        let mut types = Vec::new();
        if let Some(raw) = params.take("type") {
            types = raw
                .split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_string)
                .collect();
            if types.is_empty() || types.len() > 100 {
                errors.push(FieldError::new(
                    "type",
                    "must name 1 to 100 event types, separated by commas",
                ));
            } else if types.iter().any(|t| t.len() > 200) {
                errors.push(FieldError::new("type", "is too long"));
            }
        }
        let mut instant = |key: &str| -> Option<i64> {
            let raw = params.take(key)?;
            match chrono::DateTime::parse_from_rfc3339(raw.trim()) {
                Ok(t) => Some(t.timestamp_millis()),
                Err(_) => {
                    errors.push(FieldError::new(
                        key,
                        format!(
                            "{raw:?} is not an RFC 3339 time with an offset (2027-03-01T09:00:00Z)"
                        ),
                    ));
                    None
                }
            }
        };
        let from = instant("from");
        let to = instant("to");
        if errors.is_empty() {
            Ok(Self { types, from, to })
        } else {
            Err(Problem::validation(errors))
        }
    }

    fn apply(self, backend: migrations::Backend, query: &mut projections::list::ListQuery) {
        use projections::list::Bind;
        if !self.types.is_empty() {
            query.and_in(
                "event_type",
                self.types.into_iter().map(Bind::Text).collect(),
            );
        }
        let recorded = projections::log::recorded_ms_sql(backend);
        if let Some(from) = self.from {
            query.and(&format!("{recorded} >= {{}}"), Bind::Int(from));
        }
        if let Some(to) = self.to {
            query.and(&format!("{recorded} < {{}}"), Bind::Int(to));
        }
    }
}
