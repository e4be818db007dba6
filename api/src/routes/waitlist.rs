//! The waitlist: a client who finds a day full joins its list; when time frees up on that day
//! the waiting clients are emailed in the order they joined, and whoever books first gets it.
//!
//! - `POST /api/v1/waitlist` `{service, stylist?, date, client}` (public): 201 with the entry
//!   and place in line; 200 when already waiting; 409 `day-has-room` with the free `slots`
//!   when the day is not full (book one instead).
//! - `GET /api/v1/waitlist?date=…` (bearer token): the day's list, in order.
//! - `DELETE /api/v1/waitlist/{entry}?date=…&token=…` (the signed link in the offer email), and
//!   `GET`/`POST …/{entry}/leave` for the same from a plain link: a page that asks, then
//!   leaves.

use super::bookings::{parse, parse_client, required, RawClient};
use super::catalog::Paged;
use crate::extract::{ApiJson, ApiPath, ApiQuery, Integrator, RequestId};
use crate::problem::{FieldError, Problem};
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use chrono::{NaiveDate, Utc};
use commands::waitlist::WaitlistFailure;
use domain::availability::in_zone;
use domain::ids::{ServiceId, StylistId, WaitlistEntryId};
use domain::metadata::{EventMetadata, Source};
use domain::waitlist::WaitlistError;
use serde::{Deserialize, Serialize};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/waitlist", post(join).get(list))
        .route("/api/v1/waitlist/{entry}", delete(leave))
        .route(
            "/api/v1/waitlist/{entry}/leave",
            get(leave_page).post(leave_form),
        )
}

/// Who waits for which day, and for what.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[schema(as = WaitlistRequest, example = json!({
    "service": "77d5de2f-6c6f-5291-90df-5ba039e90a05",
    "stylist": "any",
    "date": "2027-03-16",
    "client": {"name": "Ada Lovelace", "email": "ada@example.com", "phone": "(212) 555-0142"}
}))]
pub(crate) struct RawJoin {
    #[schema(value_type = uuid::Uuid, required = true)]
    service: Option<String>,
    /// A stylist's id, or `any` (also when left out).
    stylist: Option<String>,
    /// The local date waited for.
    #[schema(value_type = NaiveDate, required = true)]
    date: Option<String>,
    #[schema(required = true)]
    client: Option<RawClient>,
}

/// A place on the list.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = WaitlistJoined)]
pub(crate) struct Joined {
    #[schema(format = Uuid)]
    id: String,
    date: NaiveDate,
    /// Place in line, from 1.
    place: usize,
    #[schema(format = Uuid)]
    service: String,
    #[schema(format = Uuid)]
    stylist: Option<String>,
    /// The signed link to leave the list (also in the offer emails).
    leave_url: String,
}

/// A client waiting for a day, as the owner sees it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = WaitlistEntry)]
pub(crate) struct EntryOut {
    #[schema(format = Uuid)]
    id: String,
    date: NaiveDate,
    /// Place in line, from 1.
    place: usize,
    #[schema(format = Uuid)]
    service: String,
    /// Null: any stylist.
    #[schema(format = Uuid)]
    stylist: Option<String>,
    name: String,
    email: String,
    phone: String,
    joined_at: chrono::DateTime<chrono::FixedOffset>,
}

fn parse_date(raw: Option<&str>, errors: &mut Vec<FieldError>) -> Option<NaiveDate> {
    let value = raw.map(str::trim).filter(|d| !d.is_empty());
    let Some(value) = value else {
        errors.push(FieldError::new("date", "is required"));
        return None;
    };
    match NaiveDate::parse_from_str(value, "%Y-%m-%d") {
        Ok(d) => Some(d),
        Err(_) => {
            errors.push(FieldError::new("date", "must be a date like 2027-03-14"));
            None
        }
    }
}

fn failure(e: WaitlistFailure) -> Problem {
    match e {
        WaitlistFailure::UnknownService => {
            Problem::validation(vec![FieldError::new("service", "no such service")])
        }
        WaitlistFailure::UnknownStylist => {
            Problem::validation(vec![FieldError::new("stylist", "no such stylist")])
        }
        WaitlistFailure::NotOffered => Problem::validation(vec![FieldError::new(
            "stylist",
            "does not offer this service",
        )]),
        WaitlistFailure::OutOfRange => Problem::validation(vec![FieldError::new(
            "date",
            "is in the past or beyond how far ahead the salon takes bookings",
        )]),
        WaitlistFailure::DayHasRoom { slots } => {
            let mut p = Problem::new(
                StatusCode::CONFLICT,
                "day-has-room",
                "That day still has free times",
                "Book one of the free times instead of waiting; they are listed in `alternatives`.",
            );
            p.alternatives = Some(slots.into_iter().take(10).collect());
            p
        }
        WaitlistFailure::Refused(WaitlistError::Full) => Problem::new(
            StatusCode::CONFLICT,
            "waitlist-full",
            "The waitlist for that day is full",
            "Too many people are already waiting for that day; try another day.",
        ),
        WaitlistFailure::Refused(e) => Problem::new(
            StatusCode::CONFLICT,
            "waitlist-refused",
            "Not possible",
            e.to_string(),
        ),
        WaitlistFailure::Contended => Problem::unavailable("The waitlist is busy; try again."),
        WaitlistFailure::Store(e) => Problem::store(&e),
    }
}

/// Joins a full day's waitlist (public).
///
/// When time frees up that day, the waiting clients are emailed in the order they joined.
#[utoipa::path(
    post,
    path = "/api/v1/waitlist",
    operation_id = "join_waitlist",
    tag = "waitlist",
    request_body(content = RawJoin),
    responses(
        (status = 201, description = "On the list", body = Joined),
        (status = 200, description = "Already waiting for that day: the same place", body = Joined),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 409, description = "The day still has free times (`day-has-room`, listed in `alternatives`: book one), or its list is full", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 413, response = crate::openapi::TooLarge),
        (status = 415, response = crate::openapi::UnsupportedMediaType),
        (status = 422, description = "Invalid fields, an unknown service or stylist, or a date in the past or beyond the booking horizon", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 503, response = crate::openapi::Unavailable),
    ),
)]
pub(crate) async fn join(
    State(state): State<AppState>,
    RequestId(request_id): RequestId,
    ApiJson(raw): ApiJson<RawJoin>,
) -> Result<Response, Problem> {
    let mut errors = Vec::new();
    let service = required("service", &raw.service, &mut errors)
        .and_then(|s| parse("", ServiceId::parse(s), &mut errors));
    let stylist = match raw.stylist.as_deref().map(str::trim) {
        None | Some("") | Some("any") => None,
        Some(s) => parse("", StylistId::parse(s), &mut errors),
    };
    let date = parse_date(raw.date.as_deref(), &mut errors);
    let client = parse_client(&raw.client, &mut errors);
    let (Some(service), Some(date), Some(client)) = (service, date, client) else {
        return Err(Problem::validation(errors));
    };
    if !errors.is_empty() {
        return Err(Problem::validation(errors));
    }
    let metadata = EventMetadata::new("client", Source::Spa).with_request_id(request_id);
    let joined = state
        .bus
        .join_waitlist(date, service, stylist, client, Utc::now(), &metadata)
        .await
        .map_err(failure)?;
    let e = &joined.entry;
    let body = Joined {
        id: e.id.to_string(),
        date: joined.date,
        place: joined.place,
        service: e.service.to_string(),
        stylist: e.stylist.map(|s| s.to_string()),
        leave_url: format!(
            "{}/api/v1/waitlist/{}/leave?date={}&token={}",
            state.settings.public_url.trim_end_matches('/'),
            e.id,
            joined.date,
            state.links.sign_waitlist(e.id)
        ),
    };
    let status = if joined.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(body)).into_response())
}

#[derive(Debug, Deserialize)]
pub(crate) struct DateQuery {
    date: Option<String>,
    token: Option<String>,
}

/// A day's waitlist, in joining order (one page holding every entry).
#[utoipa::path(
    get,
    path = "/api/v1/waitlist",
    operation_id = "list_waitlist",
    tag = "waitlist",
    params(("date" = NaiveDate, Query, description = "The local date", example = "2027-03-16")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The day's list", body = Paged<EntryOut>),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 422, description = "`date` missing or not a date", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 503, response = crate::openapi::Unavailable),
    ),
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    _who: Integrator,
    ApiQuery(q): ApiQuery<DateQuery>,
) -> Result<Json<Paged<EntryOut>>, Problem> {
    let mut errors = Vec::new();
    let Some(date) = parse_date(q.date.as_deref(), &mut errors) else {
        return Err(Problem::validation(errors));
    };
    let salon = state.bus.salon().await.map_err(|e| Problem::store(&e))?;
    let list = state
        .bus
        .waitlist(date)
        .await
        .map_err(|e| Problem::store(&e))?;
    let results: Vec<EntryOut> = list
        .entries
        .iter()
        .enumerate()
        .map(|(i, e)| EntryOut {
            id: e.id.to_string(),
            date,
            place: i + 1,
            service: e.service.to_string(),
            stylist: e.stylist.map(|s| s.to_string()),
            name: e.client.name.as_str().into(),
            email: e.client.email.as_str().into(),
            phone: e.client.phone.as_str().into(),
            joined_at: in_zone(salon.time_zone, e.joined_at),
        })
        .collect();
    Ok(Json(Paged {
        count: results.len(),
        next: None,
        previous: None,
        results,
    }))
}

/// Checks the signed link; the entry and its date.
fn signed(
    state: &AppState,
    entry: &str,
    q: &DateQuery,
) -> Result<(WaitlistEntryId, NaiveDate), Problem> {
    let entry = WaitlistEntryId::parse(entry).map_err(|_| Problem::not_found("No such entry."))?;
    let mut errors = Vec::new();
    let Some(date) = parse_date(q.date.as_deref(), &mut errors) else {
        return Err(Problem::validation(errors));
    };
    match q.token.as_deref() {
        Some(t) if state.links.verify_waitlist(entry, t) => Ok((entry, date)),
        _ => Err(Problem::new(
            StatusCode::FORBIDDEN,
            "bad-link",
            "This link is not valid",
            "Use the link from the waitlist email.",
        )),
    }
}

async fn do_leave(
    state: &AppState,
    request_id: String,
    entry: WaitlistEntryId,
    date: NaiveDate,
) -> Result<bool, Problem> {
    let metadata = EventMetadata::new("client", Source::Spa).with_request_id(request_id);
    match state.bus.leave_waitlist(date, entry, &metadata).await {
        Ok(()) => Ok(true),
        Err(WaitlistFailure::Refused(WaitlistError::NotWaiting)) => Ok(false),
        Err(WaitlistFailure::Store(e)) => Err(Problem::store(&e)),
        Err(e) => Err(Problem::unavailable(e.to_string())),
    }
}

/// Leaves the list (the signed link from the waitlist email). Leaving twice is not an error.
#[utoipa::path(
    delete,
    path = "/api/v1/waitlist/{entry}",
    operation_id = "leave_waitlist",
    tag = "waitlist",
    params(("entry" = uuid::Uuid, Path, description = "The waitlist entry's id"),
        ("date" = NaiveDate, Query, description = "The local date", example = "2027-03-16"),
        ("token" = String, Query, description = "The signed token of the leave link")),
    responses(
        (status = 204, description = "Not on the list (any more)"),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 403, description = "The link is not valid for this entry", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 404, response = crate::openapi::NotFound),
        (status = 422, description = "`date` missing or not a date", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 503, response = crate::openapi::Unavailable),
    ),
)]
pub(crate) async fn leave(
    State(state): State<AppState>,
    RequestId(request_id): RequestId,
    ApiPath(entry): ApiPath<String>,
    ApiQuery(q): ApiQuery<DateQuery>,
) -> Result<StatusCode, Problem> {
    let (entry, date) = signed(&state, &entry, &q)?;
    do_leave(&state, request_id, entry, date).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title><style>body{{font:17px/1.5 system-ui,sans-serif;max-width:32rem;\
         margin:3rem auto;padding:0 1rem;color:#222}}button{{font:inherit;padding:.6rem 1.2rem;\
         border-radius:.5rem;border:0;background:#6b3f2a;color:#fff;cursor:pointer}}</style>\
         </head><body><main><h1>{title}</h1>{body}</main></body></html>"
    ))
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A plain link from an email must not change anything by itself (mail scanners follow links): it
/// shows a button that posts.
///
/// The page behind the email's link: asks before leaving (mail scanners follow links), with a
/// button that posts. Answers HTML, errors included.
#[utoipa::path(
    get,
    path = "/api/v1/waitlist/{entry}/leave",
    operation_id = "leave_waitlist_page",
    tag = "waitlist",
    params(("entry" = uuid::Uuid, Path, description = "The waitlist entry's id"),
        ("date" = NaiveDate, Query, description = "The local date", example = "2027-03-16"),
        ("token" = String, Query, description = "The signed token of the leave link")),
    responses(
        (status = 200, description = "A page asking to confirm", body = String, content_type = "text/html"),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 403, description = "A page saying the link is not valid", body = String, content_type = "text/html"),
        (status = 404, description = "A page saying there is no such entry", body = String, content_type = "text/html"),
        (status = 422, description = "A page saying the link's date is missing or wrong", body = String, content_type = "text/html"),
    ),
)]
pub(crate) async fn leave_page(
    State(state): State<AppState>,
    ApiPath(entry): ApiPath<String>,
    ApiQuery(q): ApiQuery<DateQuery>,
) -> Response {
    match signed(&state, &entry, &q) {
        Ok((_, date)) => page(
            "Leave the waitlist?",
            &format!(
                "<p>You are waiting for a time on {}. Leave the waitlist and get no more emails about that day?</p>\
                 <form method=\"post\"><button type=\"submit\">Leave the waitlist</button></form>",
                escape(&date.format("%A %-d %B %Y").to_string())
            ),
        )
        .into_response(),
        Err(p) => (
            StatusCode::from_u16(p.status).unwrap_or(StatusCode::BAD_REQUEST),
            page("This link is not valid", &format!("<p>{}</p>", escape(&p.detail))),
        )
            .into_response(),
    }
}

/// The leave page's button: leaves the list and says so, as HTML.
#[utoipa::path(
    post,
    path = "/api/v1/waitlist/{entry}/leave",
    operation_id = "leave_waitlist_confirm",
    tag = "waitlist",
    params(("entry" = uuid::Uuid, Path, description = "The waitlist entry's id"),
        ("date" = NaiveDate, Query, description = "The local date", example = "2027-03-16"),
        ("token" = String, Query, description = "The signed token of the leave link")),
    responses(
        (status = 200, description = "A page saying the client has left the list", body = String, content_type = "text/html"),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 403, description = "A page saying the link is not valid", body = String, content_type = "text/html"),
        (status = 404, description = "A page saying there is no such entry", body = String, content_type = "text/html"),
        (status = 422, description = "A page saying the link's date is missing or wrong", body = String, content_type = "text/html"),
        (status = 503, description = "A page asking to try again", body = String, content_type = "text/html"),
    ),
)]
pub(crate) async fn leave_form(
    State(state): State<AppState>,
    RequestId(request_id): RequestId,
    ApiPath(entry): ApiPath<String>,
    ApiQuery(q): ApiQuery<DateQuery>,
) -> Response {
    let (entry, date) = match signed(&state, &entry, &q) {
        Ok(x) => x,
        Err(p) => {
            return (
                StatusCode::from_u16(p.status).unwrap_or(StatusCode::BAD_REQUEST),
                page(
                    "This link is not valid",
                    &format!("<p>{}</p>", escape(&p.detail)),
                ),
            )
                .into_response()
        }
    };
    match do_leave(&state, request_id, entry, date).await {
        Ok(_) => page(
            "You have left the waitlist",
            "<p>You will get no more emails about that day.</p>",
        )
        .into_response(),
        Err(p) => (
            StatusCode::from_u16(p.status).unwrap_or(StatusCode::BAD_REQUEST),
            page("Please try again", &format!("<p>{}</p>", escape(&p.detail))),
        )
            .into_response(),
    }
}
