//! The salon's side of `/api/v1/bookings` (bearer token): listing with filters, changing the
//! notes or time (`PATCH`), and cancelling (`DELETE`; the booking stays, cancelled, in the
//! history). Answers about one booking carry its `ETag`; changes honour `If-Match`.

use crate::etag::{stale, with_etag, IfMatch};
use crate::extract::{ApiJson, ApiPath, Integrator, RequestId};
use crate::list::{self, ListParams};
use crate::problem::{FieldError, Problem};
use crate::routes::bookings::BookingOut;
use crate::routes::calendars::{metadata, reason};
use crate::routes::catalog::Paged;
use crate::routes::manage::change_problem;
use crate::AppState;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use commands::lifecycle::Changed;
use domain::booking::{BookingCommand, Party};
use domain::ids::BookingId;
use projections::queries::{self, BOOKING_LIST};
use projections::Projection;
use serde::Deserialize;

/// Filters of `GET /api/v1/bookings` (documentation; the handler reads the query string
/// through `projections::list`). Dates (`YYYY-MM-DD`) are the salon's local days; times are
/// RFC 3339 with an offset.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub(crate) struct BookingFilters {
    /// How many results to return (1–1000, default 100).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000, example = 20)]
    limit: Option<String>,
    /// How many results to skip.
    #[param(value_type = Option<u32>, minimum = 0, maximum = 1_000_000_000)]
    offset: Option<String>,
    #[param(value_type = Option<uuid::Uuid>)]
    id: Option<String>,
    /// `requested`, `held`, `confirmed`, `completed`, `no_show` or `cancelled`.
    #[param(example = "confirmed")]
    status: Option<String>,
    /// Several statuses, comma-separated.
    #[serde(rename = "status__in")]
    #[param(example = "held,confirmed")]
    status_in: Option<String>,
    /// `none`, `pending`, `paid` or `refunded`.
    deposit_status: Option<String>,
    #[serde(rename = "deposit_status__in")]
    deposit_status_in: Option<String>,
    #[param(value_type = Option<uuid::Uuid>)]
    service: Option<String>,
    /// Comma-separated service ids.
    #[serde(rename = "service__in")]
    service_in: Option<String>,
    #[param(value_type = Option<uuid::Uuid>)]
    stylist: Option<String>,
    /// Comma-separated stylist ids.
    #[serde(rename = "stylist__in")]
    stylist_in: Option<String>,
    /// Starting on this local day (`YYYY-MM-DD`) or at this instant.
    #[param(example = "2027-03-16")]
    start: Option<String>,
    /// Starting on or after this day or instant.
    #[serde(rename = "start__gte")]
    #[param(example = "2027-03-01")]
    start_gte: Option<String>,
    #[serde(rename = "start__gt")]
    start_gt: Option<String>,
    /// Starting on or before this day (the whole day) or instant.
    #[serde(rename = "start__lte")]
    #[param(example = "2027-03-31")]
    start_lte: Option<String>,
    #[serde(rename = "start__lt")]
    start_lt: Option<String>,
    /// Made on this local day or at this instant; `created__gte` … as for `start`.
    created: Option<String>,
    #[serde(rename = "created__gte")]
    created_gte: Option<String>,
    #[serde(rename = "created__gt")]
    created_gt: Option<String>,
    #[serde(rename = "created__lte")]
    created_lte: Option<String>,
    #[serde(rename = "created__lt")]
    created_lt: Option<String>,
    /// Last changed on or after this day or instant (for syncing changes).
    #[serde(rename = "updated__gte")]
    updated_gte: Option<String>,
    #[serde(rename = "updated__lt")]
    updated_lt: Option<String>,
    #[param(value_type = Option<i64>)]
    price_cents: Option<String>,
    #[serde(rename = "price_cents__gte")]
    #[param(value_type = Option<i64>)]
    price_cents_gte: Option<String>,
    #[serde(rename = "price_cents__lte")]
    #[param(value_type = Option<i64>)]
    price_cents_lte: Option<String>,
    #[serde(rename = "deposit_cents__gte")]
    #[param(value_type = Option<i64>)]
    deposit_cents_gte: Option<String>,
    #[serde(rename = "deposit_cents__lte")]
    #[param(value_type = Option<i64>)]
    deposit_cents_lte: Option<String>,
    /// The client's email, exactly as booked.
    client_email: Option<String>,
    /// `client`, `owner`, `system` or `hold_expired`.
    cancelled_by: Option<String>,
    /// Case-insensitive text in the client's name, email or phone, or the notes.
    search: Option<String>,
    /// Comma-separated fields, `-` for descending: `start` (default), `created`, `updated`,
    /// `price_cents`, `status`, `client_name`.
    #[param(example = "-start")]
    ordering: Option<String>,
}

/// Bookings, filtered and ordered as asked (by start time unless told otherwise).
#[utoipa::path(
    get,
    path = "/api/v1/bookings",
    operation_id = "list_bookings",
    tag = "bookings",
    params(BookingFilters),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "One page of bookings", body = Paged<BookingOut>),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 422, response = crate::openapi::InvalidBody),
        (status = 503, response = crate::openapi::Unavailable),
    ),
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    _who: Integrator,
    params: ListParams,
) -> Result<Json<Paged<BookingOut>>, Problem> {
    // One read of the salon's settings: its zone serves the date filters and the answer.
    let tz = queries::salon(&state.read).await?.time_zone;
    let query = list::parse_in(&BOOKING_LIST, &params, tz)?;
    let page = list::run(
        &state,
        &BOOKING_LIST,
        &query,
        &params.uri,
        queries::booking_from_row,
    )
    .await?;
    let mut results = Vec::with_capacity(page.results.len());
    for view in page.results {
        let id = view.id.clone();
        results.push(
            BookingOut::from_view(view, tz)
                .ok_or_else(|| Problem::internal(&format!("unreadable booking row {id}")))?,
        );
    }
    Ok(Json(Paged {
        count: page.count,
        next: page.next,
        previous: page.previous,
        results,
    }))
}

/// A booking and its version, as the read model holds it now.
pub(crate) async fn versioned(
    state: &AppState,
    id: BookingId,
) -> Result<(BookingOut, i64), Problem> {
    let tz = queries::salon(&state.read).await?.time_zone;
    let view = queries::booking(&state.read, &id.to_string())
        .await?
        .ok_or_else(|| Problem::not_found("No such booking."))?;
    let version = view.version;
    let out = BookingOut::from_view(view, tz)
        .ok_or_else(|| Problem::internal(&"unreadable booking row"))?;
    Ok((out, version))
}

fn booking_id(raw: &str) -> Result<BookingId, Problem> {
    BookingId::parse(raw).map_err(|_| Problem::not_found("No such booking."))
}

/// The answer after a change: the booking once the read model has it, with its new `ETag`.
async fn changed(
    state: &AppState,
    id: BookingId,
    changed: Option<Changed>,
) -> Result<(BookingOut, i64), Problem> {
    if let Some(committed) = changed.and_then(|c| c.committed) {
        state
            .projections
            .wait_for(
                &[Projection::Bookings, Projection::Availability],
                committed.position,
                state.settings.read_your_writes,
            )
            .await;
    }
    versioned(state, id).await
}

/// What may change on a booking: its notes, and its time (a move to another free slot of the
/// same stylist). Status changes have their own actions (`/cancel`, `/complete`, `/no-show`).
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = BookingChange, example = json!({"notes": "Prefers a quiet chair", "start": "2027-03-17T14:00:00-04:00"}))]
pub(crate) struct RawBookingChange {
    /// The salon's notes; `null` or `""` clears them.
    #[schema(max_length = 1000)]
    #[serde(default, deserialize_with = "some_or_null")]
    notes: Option<Option<String>>,
    /// RFC 3339 with an offset: a free slot of the same stylist.
    #[schema(value_type = Option<chrono::DateTime<chrono::FixedOffset>>)]
    start: Option<String>,
}

/// `"notes": null` (clear) told apart from no `notes` at all (keep).
fn some_or_null<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// Changes a booking's notes and/or moves it (the owner's move: no notice period applies).
#[utoipa::path(
    patch,
    path = "/api/v1/bookings/{id}",
    operation_id = "update_booking",
    tag = "bookings",
    params(
        ("id" = uuid::Uuid, Path, description = "The booking's id"),
        ("If-Match" = Option<String>, Header, description = "The `ETag` you read; the change is made only if the booking is still at that version"),
        ("X-Reason" = Option<String>, Header, description = "Why; recorded in the audit trail"),
    ),
    request_body(content = RawBookingChange),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The booking as it is now", body = BookingOut,
            headers(("ETag" = String, description = "The booking's new version"))),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, description = "The new time is taken (with `alternatives`) or the booking cannot move (cancelled, completed…)", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 412, response = crate::openapi::PreconditionFailed),
        (status = 413, response = crate::openapi::TooLarge),
        (status = 415, response = crate::openapi::UnsupportedMediaType),
        (status = 422, response = crate::openapi::InvalidBody),
        (status = 503, response = crate::openapi::Unavailable),
    ),
)]
pub(crate) async fn update(
    State(state): State<AppState>,
    who: Integrator,
    RequestId(request_id): RequestId,
    headers: HeaderMap,
    if_match: IfMatch,
    ApiPath(raw): ApiPath<String>,
    ApiJson(body): ApiJson<RawBookingChange>,
) -> Result<Response, Problem> {
    who.require_write()?;
    let id = booking_id(&raw)?;
    let start = match body.start.as_deref().map(str::trim) {
        None => None,
        Some(s) => Some(
            DateTime::parse_from_rfc3339(s)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| {
                    Problem::validation(vec![FieldError::new(
                        "start",
                        "must be an RFC 3339 time with offset, e.g. 2027-03-02T10:00:00-05:00",
                    )])
                })?,
        ),
    };
    let meta = metadata(&who, request_id, reason(&headers));
    let mut expected = if_match.expected();
    let mut last = None;
    // Notes first, then the move: each step checks the version the previous one left.
    if let Some(notes) = body.notes {
        let done = state
            .bus
            .change_booking_at(id, BookingCommand::ChangeNotes { notes }, &meta, expected)
            .await
            .map_err(change_problem)?;
        if let (Some(v), Some(_)) = (expected.as_mut(), done.committed) {
            *v += 1;
        }
        last = Some(done);
    }
    if let Some(start) = start {
        let done = state
            .bus
            .reschedule_booking_at(id, start, Party::Owner, Utc::now(), &meta, expected)
            .await
            .map_err(change_problem)?;
        last = Some(done);
    }
    if last.is_none() {
        // Nothing to change: still a 404 for no booking, and a 412 for a stale If-Match.
        let loaded = state
            .bus
            .booking(id)
            .await
            .map_err(|e| Problem::store(&e))?
            .ok_or_else(|| Problem::not_found("No such booking."))?;
        if expected.is_some_and(|v| v != loaded.version) {
            return Err(stale(loaded.version as i64));
        }
    }
    let (out, version) = changed(&state, id, last).await?;
    Ok(with_etag(Json(out), version))
}

/// The owner cancels a booking: its time is freed and a paid deposit is refunded (send
/// `POST /api/v1/bookings/{id}/cancel` with `{"refund": false}` to keep it). The booking stays
/// in the history, cancelled.
#[utoipa::path(
    delete,
    path = "/api/v1/bookings/{id}",
    operation_id = "delete_booking",
    tag = "bookings",
    params(
        ("id" = uuid::Uuid, Path, description = "The booking's id"),
        ("If-Match" = Option<String>, Header, description = "The `ETag` you read"),
        ("X-Reason" = Option<String>, Header, description = "Why; recorded in the audit trail"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Cancelled"),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, description = "The booking cannot be cancelled (completed, no-show, already cancelled)", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 412, response = crate::openapi::PreconditionFailed),
        (status = 503, response = crate::openapi::Unavailable),
    ),
)]
pub(crate) async fn cancel(
    State(state): State<AppState>,
    who: Integrator,
    RequestId(request_id): RequestId,
    headers: HeaderMap,
    if_match: IfMatch,
    ApiPath(raw): ApiPath<String>,
) -> Result<Response, Problem> {
    who.require_write()?;
    let id = booking_id(&raw)?;
    let meta = metadata(&who, request_id, reason(&headers));
    let done = state
        .bus
        .cancel_booking_at(
            id,
            Party::Owner,
            None,
            Utc::now(),
            &meta,
            if_match.expected(),
        )
        .await
        .map_err(change_problem)?;
    let (_, version) = changed(&state, id, Some(done)).await?;
    Ok(with_etag(StatusCode::NO_CONTENT.into_response(), version))
}
