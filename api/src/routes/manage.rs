//! After a booking is placed: the client (through the signed link in their email) and the owner
//! or an integrator (bearer token with the write scope) cancel, move, pay for, complete or mark
//! it a no-show. Each is one command whose events carry who did it and the optional
//! `X-Reason` header (or `reason` field) as the reason.
//!
//! - `GET  /api/v1/bookings/{id}/manage?token=…` — the client's view and what they may do.
//! - `POST /api/v1/bookings/{id}/cancel` — client: refund per the cancellation window; owner:
//!   `{"refund": false}` keeps the deposit (refunded by default).
//! - `POST /api/v1/bookings/{id}/reschedule` `{"start": …}` — same stylist, a free slot.
//! - `POST /api/v1/bookings/{id}/checkout` — client: the deposit's payment page.
//! - `POST /api/v1/bookings/{id}/no-show`, `/complete` — owner only; a no-show keeps the deposit.

use super::bookings::{checkout_for, load_out, BookingOut};
use crate::extract::{ApiBody, ApiPath, ApiQuery, Integrator, RequestId};
use crate::problem::{FieldError, Problem};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Duration, FixedOffset, Utc};
use commands::lifecycle::{ChangeError, Changed};
use domain::availability::in_zone;
use domain::booking::{BookingCommand, BookingError, BookingStatus, DepositStatus, Party};
use domain::ids::BookingId;
use domain::metadata::{EventMetadata, Source};
use serde::{Deserialize, Serialize};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/bookings/{id}/manage", get(manage))
        .route("/api/v1/bookings/{id}/cancel", post(cancel))
        .route("/api/v1/bookings/{id}/reschedule", post(reschedule))
        .route("/api/v1/bookings/{id}/checkout", post(checkout))
        .route("/api/v1/bookings/{id}/no-show", post(no_show))
        .route("/api/v1/bookings/{id}/complete", post(complete))
}

#[derive(Debug, Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct TokenQuery {
    /// The signed token of the client's link (`manage_url`); or send it as `X-Booking-Token`,
    /// or use `Authorization: Bearer` with a write token instead.
    token: Option<String>,
}

/// Who is acting on a booking.
enum Who {
    /// The client, through their signed link.
    Client,
    /// The owner's side: an integrator with a write token.
    Staff(Integrator),
}

impl Who {
    fn party(&self) -> Party {
        match self {
            Self::Client => Party::Client,
            Self::Staff(_) => Party::Owner,
        }
    }
    fn metadata(&self, request_id: String, reason: Option<String>) -> EventMetadata {
        let (actor, source) = match self {
            Self::Client => ("client".to_string(), Source::Spa),
            Self::Staff(i) => (i.actor(), Source::Api),
        };
        EventMetadata::new(actor, source)
            .with_request_id(request_id)
            .with_reason(reason)
    }
}

fn booking_id(raw: &str) -> Result<BookingId, Problem> {
    BookingId::parse(raw).map_err(|_| Problem::not_found("No such booking."))
}

/// A bearer token (write scope) when `Authorization` is sent; else the signed link's token
/// (`?token=` or `X-Booking-Token`).
async fn who(
    state: &AppState,
    headers: &HeaderMap,
    id: BookingId,
    token: Option<&str>,
) -> Result<Who, Problem> {
    if headers.contains_key(axum::http::header::AUTHORIZATION) {
        let integrator = Integrator::from_headers(headers, state).await?;
        integrator.require_write()?;
        return Ok(Who::Staff(integrator));
    }
    let token = token.or_else(|| headers.get("x-booking-token").and_then(|v| v.to_str().ok()));
    match token {
        Some(t) if state.links.verify(id, t) => Ok(Who::Client),
        Some(_) => Err(Problem::new(
            StatusCode::FORBIDDEN,
            "bad-link",
            "This link is not valid",
            "The link does not match this booking. Use the link from your confirmation email.",
        )),
        None => Err(Problem::unauthorized(
            "Use the link from your confirmation email, or send Authorization: Bearer <token>.",
        )),
    }
}

fn reason_from(headers: &HeaderMap, body: Option<&str>) -> Option<String> {
    crate::routes::calendars::reason(headers)
        .or_else(|| body.map(|r| r.chars().take(500).collect()))
}

pub(crate) fn change_problem(e: ChangeError) -> Problem {
    match e {
        ChangeError::NotFound => Problem::not_found("No such booking."),
        ChangeError::Refused(BookingError::TooLateToMove { hours }) => Problem::new(
            StatusCode::CONFLICT,
            "too-late-to-move",
            "Too late to move online",
            format!("Appointments can be moved online up to {hours} hours before they start. Please call the salon."),
        ),
        ChangeError::Refused(BookingError::NotStarted) => Problem::new(
            StatusCode::CONFLICT,
            "not-started",
            "The appointment has not started yet",
            "A booking can be completed or marked a no-show only once its start has passed.",
        ),
        ChangeError::Refused(BookingError::SameTime) => Problem::validation(vec![
            FieldError::new("start", "is the booking's current time"),
        ]),
        ChangeError::Refused(e) => Problem::new(
            StatusCode::CONFLICT,
            "invalid-transition",
            "Not possible for this booking",
            e.to_string(),
        ),
        ChangeError::Taken { alternatives } => {
            let mut p = Problem::new(
                StatusCode::CONFLICT,
                "slot-taken",
                "That time is taken",
                "Another booking holds this time. The nearest free slots are listed in `alternatives`.",
            );
            p.alternatives = Some(alternatives);
            p
        }
        ChangeError::Unavailable { alternatives } => {
            let mut p = Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "slot-unavailable",
                "That time cannot be booked",
                "The new start is outside the stylist's hours, in a break or time off, too soon, too far ahead, or not on the salon's slot step.",
            );
            p.errors = vec![FieldError::new("start", "is not a free slot")];
            p.alternatives = Some(alternatives);
            p
        }
        ChangeError::ServiceGone => Problem::new(
            StatusCode::CONFLICT,
            "service-gone",
            "The service is no longer offered",
            "Cancel this booking and book another service instead.",
        ),
        ChangeError::Contended => Problem::unavailable("The booking is being changed; try again."),
        ChangeError::Stale { current } => crate::etag::stale(current as i64),
        ChangeError::Store(e) => Problem::store(&e),
        ChangeError::Inconsistent(m) => Problem::internal(&m),
    }
}

/// What the client may do with their booking, for the manage page.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = ManageView)]
pub(crate) struct Manage {
    booking: BookingOut,
    can_cancel: bool,
    can_reschedule: bool,
    /// Cancelling now gives the paid deposit back.
    refund_if_cancelled: bool,
    /// Until when moving online and a refunded cancellation are possible.
    free_until: Option<DateTime<FixedOffset>>,
    /// The deposit's payment page, while it is due.
    checkout_url: Option<String>,
}

/// The client's view of their booking: what they may still do, until when, and whether the
/// deposit would come back.
#[utoipa::path(
    get,
    path = "/api/v1/bookings/{id}/manage",
    operation_id = "manage_booking",
    tag = "manage",
    params(("id" = uuid::Uuid, Path, description = "The booking's id"), TokenQuery,
        ("X-Booking-Token" = Option<String>, Header, description = "The signed link's token, instead of `?token=`"),),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "The booking and what may be done with it", body = Manage),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        (status = 503, response = crate::openapi::Unavailable),
    ),
)]
pub(crate) async fn manage(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiPath(raw): ApiPath<String>,
    ApiQuery(q): ApiQuery<TokenQuery>,
) -> Result<Json<Manage>, Problem> {
    let id = booking_id(&raw)?;
    who(&state, &headers, id, q.token.as_deref()).await?;
    let loaded = state
        .bus
        .booking(id)
        .await
        .map_err(|e| Problem::store(&e))?
        .ok_or_else(|| Problem::not_found("No such booking."))?;
    let salon = state.bus.salon().await.map_err(|e| Problem::store(&e))?;
    let window = Duration::hours(salon.policy.cancellation_window_hours.into());
    let b = &loaded.state;
    let now = Utc::now();
    let free_until = b.start().map(|s| s - window);
    let open = matches!(
        b.status,
        BookingStatus::Requested | BookingStatus::Held | BookingStatus::Confirmed
    );
    let in_time = free_until.is_some_and(|t| now <= t);
    let out = load_out(&state, id).await?;
    Ok(Json(Manage {
        checkout_url: (b.status == BookingStatus::Held && b.deposit == DepositStatus::Pending)
            .then(|| b.checkout.as_ref().map(|c| c.url.clone()))
            .flatten(),
        booking: out,
        can_cancel: open,
        can_reschedule: open && b.status != BookingStatus::Requested && in_time,
        refund_if_cancelled: open && in_time && b.refundable_cents().is_some(),
        free_until: free_until.map(|t| in_zone(salon.time_zone, t)),
    }))
}

/// Optional; an empty body takes the defaults.
#[derive(Debug, Deserialize, Default, utoipa::ToSchema)]
#[schema(as = CancelRequest, example = json!({"refund": true, "reason": "client called"}))]
pub(crate) struct CancelBody {
    /// Owner only: `false` keeps a paid deposit (refunded by default). A client's refund
    /// follows the cancellation window whatever is sent.
    refund: Option<bool>,
    /// Recorded in the audit trail (the `X-Reason` header wins).
    #[schema(max_length = 500)]
    reason: Option<String>,
}

/// An optional JSON body: empty means all defaults.
fn optional_body<T: for<'de> Deserialize<'de> + Default>(body: &Bytes) -> Result<T, Problem> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body).map_err(|e| {
        Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-body",
            "The body has the wrong shape",
            e.to_string(),
        )
    })
}

async fn respond(
    state: &AppState,
    id: BookingId,
    changed: Changed,
) -> Result<Json<BookingOut>, Problem> {
    if let Some(committed) = changed.committed {
        let which = [
            projections::Projection::Bookings,
            projections::Projection::Availability,
        ];
        state
            .projections
            .wait_for(&which, committed.position, state.settings.read_your_writes)
            .await;
    }
    load_out(state, id).await.map(Json)
}

/// Cancels a booking.
///
/// The client (signed link) gets the deposit back when cancelling at least the cancellation window
/// ahead; the owner (write token) refunds unless `refund` is `false`.
#[utoipa::path(
    post,
    path = "/api/v1/bookings/{id}/cancel",
    operation_id = "cancel_booking",
    tag = "manage",
    params(("id" = uuid::Uuid, Path, description = "The booking's id"), TokenQuery,
        ("X-Booking-Token" = Option<String>, Header, description = "The signed link's token, instead of `?token=`"),
        ("X-Reason" = Option<String>, Header, description = "Why; recorded in the audit trail (500 characters kept)"),
    ),
    request_body(content = Option<CancelBody>, description = "Optional; empty means the defaults"),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "The booking, cancelled", body = BookingOut),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, description = "Not possible for this booking (already cancelled, completed, …)", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 413, response = crate::openapi::TooLarge),
        (status = 422, response = crate::openapi::InvalidBody),
        (status = 503, response = crate::openapi::Unavailable),
    ),
)]
pub(crate) async fn cancel(
    State(state): State<AppState>,
    RequestId(request_id): RequestId,
    headers: HeaderMap,
    ApiPath(raw): ApiPath<String>,
    ApiQuery(q): ApiQuery<TokenQuery>,
    ApiBody(body): ApiBody,
) -> Result<Json<BookingOut>, Problem> {
    let id = booking_id(&raw)?;
    let who = who(&state, &headers, id, q.token.as_deref()).await?;
    let body: CancelBody = optional_body(&body)?;
    let refund = match &who {
        // The client's refund follows the policy, whatever they ask.
        Who::Client => None,
        Who::Staff(_) => body.refund,
    };
    let metadata = who.metadata(request_id, reason_from(&headers, body.reason.as_deref()));
    let changed = state
        .bus
        .cancel_booking(id, who.party(), refund, Utc::now(), &metadata)
        .await
        .map_err(change_problem)?;
    respond(&state, id, changed).await
}

/// The new time.
#[derive(Debug, Deserialize, Default, utoipa::ToSchema)]
#[schema(as = RescheduleRequest, example = json!({"start": "2027-03-17T14:00:00-04:00"}))]
pub(crate) struct RescheduleBody {
    /// RFC 3339 with an offset: a free slot of the same stylist.
    #[schema(value_type = chrono::DateTime<chrono::FixedOffset>, required = true)]
    start: Option<String>,
    /// Recorded in the audit trail (the `X-Reason` header wins).
    #[schema(max_length = 500)]
    reason: Option<String>,
}

/// Moves a booking to another free time of the same stylist, in one commit (the new time is
/// reserved and the old one released together).
///
/// Clients may move up to the cancellation window.
#[utoipa::path(
    post,
    path = "/api/v1/bookings/{id}/reschedule",
    operation_id = "reschedule_booking",
    tag = "manage",
    params(("id" = uuid::Uuid, Path, description = "The booking's id"), TokenQuery,
        ("X-Booking-Token" = Option<String>, Header, description = "The signed link's token, instead of `?token=`"),
        ("X-Reason" = Option<String>, Header, description = "Why; recorded in the audit trail (500 characters kept)"),
    ),
    request_body(content = RescheduleBody),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "The booking at its new time", body = BookingOut),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, description = "The time is taken (with `alternatives`), it is too late to move online, the service is no longer offered, or the booking cannot move", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 413, response = crate::openapi::TooLarge),
        (status = 422, description = "`start` missing, not a time, the current time, or not a free slot (with `alternatives`)", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 503, response = crate::openapi::Unavailable),
    ),
)]
pub(crate) async fn reschedule(
    State(state): State<AppState>,
    RequestId(request_id): RequestId,
    headers: HeaderMap,
    ApiPath(raw): ApiPath<String>,
    ApiQuery(q): ApiQuery<TokenQuery>,
    ApiBody(body): ApiBody,
) -> Result<Json<BookingOut>, Problem> {
    let id = booking_id(&raw)?;
    let who = who(&state, &headers, id, q.token.as_deref()).await?;
    let body: RescheduleBody = optional_body(&body)?;
    let start = match body.start.as_deref().map(str::trim) {
        None | Some("") => {
            return Err(Problem::validation(vec![FieldError::new(
                "start",
                "is required",
            )]))
        }
        Some(s) => DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| {
                Problem::validation(vec![FieldError::new(
                    "start",
                    "must be an RFC 3339 time with offset, e.g. 2027-03-02T10:00:00-05:00",
                )])
            })?,
    };
    let metadata = who.metadata(request_id, reason_from(&headers, body.reason.as_deref()));
    let changed = state
        .bus
        .reschedule_booking(id, start, who.party(), Utc::now(), &metadata)
        .await
        .map_err(change_problem)?;
    respond(&state, id, changed).await
}

/// The deposit's payment page of a held booking: the Checkout Session it has, or a new one.
#[utoipa::path(
    post,
    path = "/api/v1/bookings/{id}/checkout",
    operation_id = "booking_checkout",
    tag = "manage",
    params(("id" = uuid::Uuid, Path, description = "The booking's id"), TokenQuery,
        ("X-Booking-Token" = Option<String>, Header, description = "The signed link's token, instead of `?token=`"),),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "The booking with its `checkout_url` (null when payments are not configured)", body = BookingOut),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, description = "No deposit is due on this booking", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 503, response = crate::openapi::Unavailable),
    ),
)]
pub(crate) async fn checkout(
    State(state): State<AppState>,
    RequestId(request_id): RequestId,
    headers: HeaderMap,
    ApiPath(raw): ApiPath<String>,
    ApiQuery(q): ApiQuery<TokenQuery>,
) -> Result<Json<BookingOut>, Problem> {
    let id = booking_id(&raw)?;
    let who = who(&state, &headers, id, q.token.as_deref()).await?;
    let loaded = state
        .bus
        .booking(id)
        .await
        .map_err(|e| Problem::store(&e))?
        .ok_or_else(|| Problem::not_found("No such booking."))?;
    if loaded.state.status != BookingStatus::Held || loaded.state.deposit != DepositStatus::Pending
    {
        return Err(Problem::new(
            StatusCode::CONFLICT,
            "no-deposit-due",
            "No deposit is due",
            format!(
                "This booking is {} and its deposit is {}.",
                loaded.state.status,
                loaded.state.deposit.as_str()
            ),
        ));
    }
    let metadata = who.metadata(request_id, None);
    let (_, committed) = checkout_for(&state, &loaded.state, &metadata).await?;
    let changed = Changed {
        booking: loaded.state,
        committed,
    };
    respond(&state, id, changed).await
}

async fn staff_command(
    state: &AppState,
    request_id: String,
    headers: &HeaderMap,
    raw: &str,
    command: BookingCommand,
) -> Result<Json<BookingOut>, Problem> {
    let id = booking_id(raw)?;
    let integrator = Integrator::from_headers(headers, state).await?;
    integrator.require_write()?;
    let who = Who::Staff(integrator);
    let metadata = who.metadata(request_id, reason_from(headers, None));
    let changed = state
        .bus
        .change_booking(id, command, &metadata)
        .await
        .map_err(change_problem)?;
    respond(state, id, changed).await
}

/// Marks a booking a no-show once its start has passed (owner; a paid deposit is kept).
#[utoipa::path(
    post,
    path = "/api/v1/bookings/{id}/no-show",
    operation_id = "mark_no_show",
    tag = "manage",
    params(("id" = uuid::Uuid, Path, description = "The booking's id"), ("X-Reason" = Option<String>, Header, description = "Why; recorded in the audit trail (500 characters kept)"),),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The booking, marked a no-show", body = BookingOut),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, description = "The appointment has not started yet, or the booking is not confirmed", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 503, response = crate::openapi::Unavailable),
    ),
)]
pub(crate) async fn no_show(
    State(state): State<AppState>,
    RequestId(request_id): RequestId,
    headers: HeaderMap,
    ApiPath(raw): ApiPath<String>,
) -> Result<Json<BookingOut>, Problem> {
    let command = BookingCommand::MarkNoShow { now: Utc::now() };
    staff_command(&state, request_id, &headers, &raw, command).await
}

/// Marks a booking done once its start has passed (owner).
#[utoipa::path(
    post,
    path = "/api/v1/bookings/{id}/complete",
    operation_id = "complete_booking",
    tag = "manage",
    params(("id" = uuid::Uuid, Path, description = "The booking's id"), ("X-Reason" = Option<String>, Header, description = "Why; recorded in the audit trail (500 characters kept)"),),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The booking, completed", body = BookingOut),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, description = "The appointment has not started yet, or the booking is not confirmed", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 503, response = crate::openapi::Unavailable),
    ),
)]
pub(crate) async fn complete(
    State(state): State<AppState>,
    RequestId(request_id): RequestId,
    headers: HeaderMap,
    ApiPath(raw): ApiPath<String>,
) -> Result<Json<BookingOut>, Problem> {
    let command = BookingCommand::Complete { now: Utc::now() };
    staff_command(&state, request_id, &headers, &raw, command).await
}
