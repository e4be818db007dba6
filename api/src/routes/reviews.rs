//! Reviews of visits.
//!
//! - `/api/v1/reviews`: the list and each review. Without a token only approved reviews are
//!   shown, without the reviewer's booking and client record (the booking site shows these);
//!   with any token every review not archived, in full. Entering (POST), moderating (PATCH:
//!   `status`, `reply`) and archiving (DELETE) need a write token.
//! - `POST /api/v1/bookings/{id}/review`: the client's own path, with the signed token of the
//!   "how was it?" link, once the booking is completed; one review per booking.

use crate::etag::{bus_problem, with_etag, IfMatch};
use crate::extract::{ApiJson, ApiPath, ApiQuery, Integrator, RequestId};
use crate::list::{self, ListParams};
use crate::problem::{FieldError, Problem};
use crate::routes::calendars::{metadata, reason};
use crate::routes::catalog::Paged;
use crate::AppState;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use commands::reviews::{ReviewSubmitError, Reviewed};
use domain::ids::{BookingId, ReviewId, ServiceId, StylistId};
use domain::metadata::{EventMetadata, Source};
use domain::review::{Review, ReviewCommand, ReviewError, ReviewStatus, ReviewText};
use migrations::LogPosition;
use projections::queries;
use projections::reviews::{self, ReviewView, REVIEW_LIST};
use projections::Projection;
use serde::Deserialize;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/reviews", get(list).post(create))
        .route(
            "/api/v1/reviews/{id}",
            get(fetch).patch(update).delete(remove),
        )
        .route("/api/v1/bookings/{id}/review", post(client_review))
}

const NOT_FOUND: &str = "No such review.";

/// An integrator when `Authorization` is sent (a wrong or revoked token is 401, never silently
/// public), else the public.
async fn reader(state: &AppState, headers: &HeaderMap) -> Result<Option<Integrator>, Problem> {
    if headers.contains_key(header::AUTHORIZATION) {
        Integrator::from_headers(headers, state).await.map(Some)
    } else {
        Ok(None)
    }
}

fn review_problem(e: ReviewError) -> Problem {
    match e {
        ReviewError::Invalid(errors) => {
            Problem::validation(errors.into_iter().map(FieldError::from).collect())
        }
        ReviewError::NotFound => Problem::not_found(NOT_FOUND),
        e @ ReviewError::AlreadyReviewed => Problem::new(
            StatusCode::CONFLICT,
            "already-reviewed",
            "Already reviewed",
            e.to_string(),
        ),
        e @ ReviewError::VisitNotCompleted(_) => Problem::new(
            StatusCode::CONFLICT,
            "not-completed",
            "The visit is not completed",
            e.to_string(),
        ),
    }
}

fn submit_problem(e: ReviewSubmitError) -> Problem {
    match e {
        ReviewSubmitError::BookingNotFound => Problem::not_found("No such booking."),
        ReviewSubmitError::Command(e) => bus_problem(e, review_problem),
        ReviewSubmitError::Store(e) => Problem::store(&e),
    }
}

async fn wait_reviews(state: &AppState, position: LogPosition) {
    crate::settle(state, &[Projection::Reviews], position).await;
}

async fn view_or_404(state: &AppState, id: &str) -> Result<ReviewView, Problem> {
    reviews::review(&state.read, id)
        .await?
        .ok_or_else(|| Problem::not_found(NOT_FOUND))
}

fn answer(status: StatusCode, view: ReviewView) -> Response {
    let version = view.version;
    with_etag((status, Json(view)), version)
}

fn created(view: ReviewView, public: bool) -> Response {
    let id = view.id.clone();
    let view = if public { view.public() } else { view };
    let mut response = answer(StatusCode::CREATED, view);
    if let Ok(location) = HeaderValue::from_str(&format!("/api/v1/reviews/{id}")) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

/// Filters of `GET /api/v1/reviews` (documentation; the handler reads the query string
/// through `projections::list`).
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub(crate) struct ReviewFilters {
    /// How many results to return (1–1000, default 100).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000, example = 20)]
    limit: Option<String>,
    /// How many results to skip.
    #[param(value_type = Option<u32>, minimum = 0, maximum = 1_000_000_000)]
    offset: Option<String>,
    /// Only reviews of this stylist's work (also `stylist__in`).
    #[param(value_type = Option<uuid::Uuid>)]
    stylist: Option<String>,
    /// Only reviews of this service (also `service__in`).
    #[param(value_type = Option<uuid::Uuid>)]
    service: Option<String>,
    /// Only the review of this booking (token only).
    #[param(value_type = Option<uuid::Uuid>)]
    booking: Option<String>,
    /// Only this client's reviews (token only).
    #[param(value_type = Option<uuid::Uuid>)]
    client: Option<String>,
    /// `pending`, `approved` or `hidden`. Without a token only approved reviews are shown,
    /// whatever is asked.
    #[param(schema_with = crate::openapi::review_status)]
    status: Option<String>,
    /// Comma-separated statuses.
    #[serde(rename = "status__in")]
    #[param(example = "pending,hidden")]
    status_in: Option<String>,
    /// Exactly this many stars; also `rating__in`, `__gt`, `__gte`, `__lt`, `__lte`.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 5)]
    rating: Option<String>,
    #[serde(rename = "rating__gte")]
    #[param(value_type = Option<i64>, minimum = 1, maximum = 5)]
    rating_gte: Option<String>,
    #[serde(rename = "rating__lte")]
    #[param(value_type = Option<i64>, minimum = 1, maximum = 5)]
    rating_lte: Option<String>,
    /// Written: `created_at`, `__gt`, `__gte`, `__lt`, `__lte` (RFC 3339, or a date in the
    /// salon's time zone meaning that whole day).
    #[serde(rename = "created_at__gte")]
    #[param(value_type = Option<String>, example = "2027-03-01")]
    created_at_gte: Option<String>,
    #[serde(rename = "created_at__lte")]
    #[param(value_type = Option<String>)]
    created_at_lte: Option<String>,
    /// Text or display name contains this (any case).
    search: Option<String>,
    /// Comma-separated fields, `-` for descending: `created_at` (default `-created_at`),
    /// `updated_at`, `rating`.
    #[param(example = "-rating,-created_at")]
    ordering: Option<String>,
}

/// Reviews, newest first. Public without a token: approved reviews only, without booking and
/// client; with a token every review not archived.
#[utoipa::path(
    get,
    path = "/api/v1/reviews",
    operation_id = "list_reviews",
    tag = "reviews",
    params(ReviewFilters),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "One page of reviews", body = Paged<ReviewView>),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 422, response = crate::openapi::InvalidBody),
        (status = 503, response = crate::openapi::Unavailable),
    ),
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    params: ListParams,
) -> Result<Json<Paged<ReviewView>>, Problem> {
    let public = reader(&state, &headers).await?.is_none();
    let private_filter = params.pairs.iter().any(|(k, _)| {
        let name = k.split("__").next().unwrap_or("");
        name == "booking" || name == "client"
    });
    if public && private_filter {
        return Err(Problem::unauthorized(
            "Filtering reviews by booking or client needs Authorization: Bearer <token>.",
        ));
    }
    let mut query = list::parse(&state, &REVIEW_LIST, &params).await?;
    query.and_sql("r.archived = 0");
    if public {
        query.and_sql("r.status = 'approved'");
    }
    let mut page = list::run(
        &state,
        &REVIEW_LIST,
        &query,
        &params.uri,
        reviews::review_row,
    )
    .await?;
    if public {
        page.results = page.results.into_iter().map(ReviewView::public).collect();
    }
    Ok(Json(page))
}

/// One review, with an `ETag` for `If-Match`. Public without a token when it is approved.
#[utoipa::path(
    get,
    path = "/api/v1/reviews/{id}",
    operation_id = "get_review",
    tag = "reviews",
    params(("id" = uuid::Uuid, Path, description = "The review's id")),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "The review", body = ReviewView,
            headers(("ETag" = String, description = "The review's version, for `If-Match`"))),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 404, response = crate::openapi::NotFound),
        (status = 503, response = crate::openapi::Unavailable),
    ),
)]
pub(crate) async fn fetch(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiPath(id): ApiPath<String>,
) -> Result<Response, Problem> {
    let who = reader(&state, &headers).await?;
    let id = ReviewId::parse(&id).map_err(|_| Problem::not_found(NOT_FOUND))?;
    let view = view_or_404(&state, &id.to_string()).await?;
    match who {
        Some(_) => Ok(answer(StatusCode::OK, view)),
        None if view.status == "approved" => Ok(answer(StatusCode::OK, view.public())),
        None => Err(Problem::not_found(NOT_FOUND)),
    }
}

/// A review as the salon enters it: of a completed `booking`, or without one of a `stylist`'s
/// work (`service` optional).
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ReviewRequest, example = json!({
    "booking": "0193c1a0-55e2-7d1b-8f4a-2c9e0b7d3a15",
    "rating": 5,
    "text": "Best retwist I've had.",
    "display_name": "Ada L."
}))]
pub(crate) struct RawReview {
    /// The completed booking reviewed; one review per booking.
    #[schema(value_type = Option<uuid::Uuid>)]
    booking: Option<String>,
    /// Without a booking: whose work (required then).
    #[schema(value_type = Option<uuid::Uuid>)]
    stylist: Option<String>,
    /// Without a booking: which service (optional).
    #[schema(value_type = Option<uuid::Uuid>)]
    service: Option<String>,
    #[schema(value_type = u8, minimum = 1, maximum = 5, required = true)]
    rating: Option<i64>,
    #[schema(max_length = 2000)]
    text: Option<String>,
    /// The name shown with the review.
    #[schema(value_type = String, min_length = 1, max_length = 60, required = true)]
    display_name: Option<String>,
}

/// What the client writes through their link.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ClientReviewRequest, example = json!({
    "rating": 5, "text": "Best retwist I've had.", "display_name": "Ada L."
}))]
pub(crate) struct RawClientReview {
    #[schema(value_type = u8, minimum = 1, maximum = 5, required = true)]
    rating: Option<i64>,
    #[schema(max_length = 2000)]
    text: Option<String>,
    #[schema(value_type = String, min_length = 1, max_length = 60, required = true)]
    display_name: Option<String>,
}

fn review_text(
    errors: &mut Vec<FieldError>,
    rating: Option<i64>,
    text: Option<String>,
    display_name: Option<String>,
) -> ReviewText {
    if rating.is_none() {
        errors.push(FieldError::new("rating", "is required"));
    }
    if display_name.is_none() {
        errors.push(FieldError::new("display_name", "is required"));
    }
    ReviewText {
        // Out of range becomes 0, which the review refuses with the rating's message.
        rating: rating.and_then(|r| u8::try_from(r).ok()).unwrap_or(0),
        text: text.unwrap_or_default(),
        display_name: display_name.unwrap_or_default(),
    }
}

/// Enters a review (write token).
#[utoipa::path(
    post,
    path = "/api/v1/reviews",
    operation_id = "create_review",
    tag = "reviews",
    params(("X-Reason" = Option<String>, Header, description = "Why; recorded in the audit trail")),
    request_body = RawReview,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Recorded, pending moderation", body = ReviewView,
            headers(("Location" = String, description = "`/api/v1/reviews/{id}`"),
                    ("ETag" = String, description = "The review's version"))),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, description = "No such booking", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The booking is not completed, or was reviewed already", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 413, response = crate::openapi::TooLarge),
        (status = 415, response = crate::openapi::UnsupportedMediaType),
        (status = 422, response = crate::openapi::InvalidBody),
        (status = 503, response = crate::openapi::Unavailable),
    ),
)]
pub(crate) async fn create(
    State(state): State<AppState>,
    who: Integrator,
    RequestId(request_id): RequestId,
    headers: HeaderMap,
    ApiJson(raw): ApiJson<RawReview>,
) -> Result<Response, Problem> {
    who.require_write()?;
    let mut errors = Vec::new();
    let text = review_text(&mut errors, raw.rating, raw.text, raw.display_name);
    let reviewed = match (raw.booking.as_deref(), raw.stylist.as_deref()) {
        (Some(b), None) => match BookingId::parse(b) {
            Ok(b) => {
                if raw.service.is_some() {
                    errors.push(FieldError::new("service", "comes from the booking"));
                }
                Some(Reviewed::Booking(b))
            }
            Err(e) => {
                errors.push(e.into());
                None
            }
        },
        (None, Some(s)) => {
            let stylist = StylistId::parse(s).map_err(|e| errors.push(e.into())).ok();
            let service = match raw.service.as_deref().map(ServiceId::parse) {
                Some(Ok(s)) => Some(s),
                Some(Err(e)) => {
                    errors.push(e.into());
                    None
                }
                None => None,
            };
            if let Some(stylist) = stylist {
                if queries::stylist(&state.read, &stylist.to_string())
                    .await?
                    .is_none()
                {
                    errors.push(FieldError::new("stylist", "no such stylist"));
                }
            }
            if let Some(service) = service {
                if queries::service(&state.read, &service.to_string())
                    .await?
                    .is_none()
                {
                    errors.push(FieldError::new("service", "no such service"));
                }
            }
            stylist.map(|stylist| Reviewed::Stylist { stylist, service })
        }
        (Some(_), Some(_)) => {
            errors.push(FieldError::new(
                "stylist",
                "comes from the booking; send one of booking or stylist",
            ));
            None
        }
        (None, None) => {
            errors.push(FieldError::new(
                "booking",
                "is required (or stylist, for a review without a booking)",
            ));
            None
        }
    };
    let (Some(reviewed), true) = (reviewed, errors.is_empty()) else {
        return Err(Problem::validation(errors));
    };
    let meta = metadata(&who, request_id, reason(&headers));
    let (committed, id) = state
        .bus
        .submit_review(reviewed, text, &meta)
        .await
        .map_err(submit_problem)?;
    wait_reviews(&state, committed.position).await;
    Ok(created(view_or_404(&state, &id.to_string()).await?, false))
}

/// The owner's moderation.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ReviewModeration, example = json!({"status": "approved", "reply": "Thank you, Ada!"}))]
pub(crate) struct RawModeration {
    /// `approved` or `hidden` (a moderated review does not go back to `pending`).
    #[schema(schema_with = crate::openapi::review_status)]
    status: Option<String>,
    /// The salon's public answer; an empty string removes it.
    #[schema(max_length = 2000)]
    reply: Option<String>,
}

/// Moderates a review: approve or hide it, reply. With `If-Match` only on that version.
#[utoipa::path(
    patch,
    path = "/api/v1/reviews/{id}",
    operation_id = "update_review",
    tag = "reviews",
    params(("id" = uuid::Uuid, Path, description = "The review's id"),
        ("If-Match" = Option<String>, Header, description = "The `ETag` you read"),
        ("X-Reason" = Option<String>, Header, description = "Why; recorded in the audit trail")),
    request_body = RawModeration,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The review as moderated", body = ReviewView,
            headers(("ETag" = String, description = "The review's new version"))),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
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
    ApiPath(id): ApiPath<String>,
    ApiJson(raw): ApiJson<RawModeration>,
) -> Result<Response, Problem> {
    who.require_write()?;
    let id = ReviewId::parse(&id)
        .map_err(|_| Problem::not_found(NOT_FOUND))?
        .to_string();
    let status = match raw.status.as_deref().map(ReviewStatus::parse) {
        Some(Ok(s)) => Some(s),
        Some(Err(e)) => return Err(Problem::validation(vec![e.into()])),
        None => None,
    };
    let meta = metadata(&who, request_id, reason(&headers));
    let command = ReviewCommand::Moderate {
        status,
        reply: raw.reply,
    };
    let (committed, loaded) = state
        .bus
        .execute_at::<Review>(&id, command, &meta, if_match.expected())
        .await
        .map_err(|e| bus_problem(e, review_problem))?;
    wait_reviews(&state, committed.position).await;
    let mut view = view_or_404(&state, &id).await?;
    // The version written, even if the read model is still catching up.
    view.version = i64::try_from(loaded.version).unwrap_or(i64::MAX);
    Ok(answer(StatusCode::OK, view))
}

/// Archives a review: gone from every list, kept in the log.
#[utoipa::path(
    delete,
    path = "/api/v1/reviews/{id}",
    operation_id = "delete_review",
    tag = "reviews",
    params(("id" = uuid::Uuid, Path, description = "The review's id"),
        ("If-Match" = Option<String>, Header, description = "The `ETag` you read"),
        ("X-Reason" = Option<String>, Header, description = "Why; recorded in the audit trail")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Archived (the history stays)"),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        (status = 412, response = crate::openapi::PreconditionFailed),
        (status = 503, response = crate::openapi::Unavailable),
    ),
)]
pub(crate) async fn remove(
    State(state): State<AppState>,
    who: Integrator,
    RequestId(request_id): RequestId,
    headers: HeaderMap,
    if_match: IfMatch,
    ApiPath(id): ApiPath<String>,
) -> Result<Response, Problem> {
    who.require_write()?;
    let id = ReviewId::parse(&id)
        .map_err(|_| Problem::not_found(NOT_FOUND))?
        .to_string();
    let meta = metadata(&who, request_id, reason(&headers));
    let (committed, loaded) = state
        .bus
        .execute_at::<Review>(&id, ReviewCommand::Archive, &meta, if_match.expected())
        .await
        .map_err(|e| bus_problem(e, review_problem))?;
    wait_reviews(&state, committed.position).await;
    Ok(with_etag(
        StatusCode::NO_CONTENT,
        i64::try_from(loaded.version).unwrap_or(i64::MAX),
    ))
}

#[derive(Debug, Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ReviewTokenQuery {
    /// The signed token of the client's review link (`review_url` in the "how was it?" email);
    /// or send it as `X-Review-Token`.
    token: Option<String>,
}

/// The client reviews their completed visit, through the signed link of the "how was it?"
/// email. One review per booking; it waits for the owner's approval before it is shown.
#[utoipa::path(
    post,
    path = "/api/v1/bookings/{id}/review",
    operation_id = "review_booking",
    tag = "reviews",
    params(("id" = uuid::Uuid, Path, description = "The booking's id"), ReviewTokenQuery,
        ("X-Review-Token" = Option<String>, Header, description = "The signed link's token, instead of `?token=`")),
    request_body = RawClientReview,
    security(()),
    responses(
        (status = 201, description = "Recorded, pending moderation (shown as the public sees it)", body = ReviewView,
            headers(("Location" = String, description = "`/api/v1/reviews/{id}`"))),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, description = "The visit is not completed, or was reviewed already", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 413, response = crate::openapi::TooLarge),
        (status = 415, response = crate::openapi::UnsupportedMediaType),
        (status = 422, response = crate::openapi::InvalidBody),
        (status = 503, response = crate::openapi::Unavailable),
    ),
)]
pub(crate) async fn client_review(
    State(state): State<AppState>,
    RequestId(request_id): RequestId,
    headers: HeaderMap,
    ApiPath(raw_id): ApiPath<String>,
    ApiQuery(q): ApiQuery<ReviewTokenQuery>,
    ApiJson(raw): ApiJson<RawClientReview>,
) -> Result<Response, Problem> {
    let booking = BookingId::parse(&raw_id).map_err(|_| Problem::not_found("No such booking."))?;
    let token = q
        .token
        .as_deref()
        .or_else(|| headers.get("x-review-token").and_then(|v| v.to_str().ok()));
    match token {
        Some(t) if state.links.verify_review(booking, t) => {}
        Some(_) => {
            return Err(Problem::new(
                StatusCode::FORBIDDEN,
                "bad-link",
                "This link is not valid",
                "The link does not match this booking. Use the link from your email.",
            ))
        }
        None => {
            return Err(Problem::unauthorized(
                "Use the review link from your email (it carries a token).",
            ))
        }
    }
    let mut errors = Vec::new();
    let text = review_text(&mut errors, raw.rating, raw.text, raw.display_name);
    if !errors.is_empty() {
        return Err(Problem::validation(errors));
    }
    let meta = EventMetadata::new("client", Source::Spa)
        .with_request_id(request_id)
        .with_reason(reason(&headers));
    let (committed, id) = state
        .bus
        .submit_review(Reviewed::Booking(booking), text, &meta)
        .await
        .map_err(submit_problem)?;
    wait_reviews(&state, committed.position).await;
    Ok(created(view_or_404(&state, &id.to_string()).await?, true))
}
