//! `/api/v1/stylists`: who works at the salon, what they do, their weekly hours (with breaks)
//! and time off. Reading is public (the booking site shows them); changes take a `write`
//! token. Answers about one stylist carry its `ETag`; changes honour `If-Match`. Deleting
//! archives: the stylist is no longer bookable, while past and booked appointments stay.

use crate::etag::{bus_problem, with_etag, IfMatch};
use crate::extract::{ApiJson, ApiPath, Integrator, RequestId};
use crate::list::{self, ListParams};
use crate::problem::{FieldError, Problem};
use crate::routes::calendars::{metadata, reason};
use crate::routes::catalog::Paged;
use crate::AppState;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use chrono::{NaiveDate, NaiveDateTime};
use commands::bus::Loaded;
use domain::ids::{ServiceId, StylistId, TimeOffId};
use domain::schedule::{DayHours, DayKey, TimeOff, WeeklyHours};
use domain::stylist::{Stylist, StylistCommand, StylistError, StylistPatch};
use projections::queries::{self, StylistView, STYLIST_LIST};
use projections::Projection;
use serde::Deserialize;
use std::collections::BTreeMap;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/stylists", get(list).post(create))
        .route(
            "/api/v1/stylists/{id}",
            get(fetch).patch(update).delete(archive),
        )
        .route("/api/v1/stylists/{id}/time-off", post(add_time_off))
        .route(
            "/api/v1/stylists/{id}/time-off/{time_off}",
            delete(remove_time_off),
        )
}

/// Filters of `GET /api/v1/stylists` (documentation; the handler reads the query string
/// through `projections::list`).
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub(crate) struct StylistFilters {
    /// How many results to return (1–1000, default 100).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000, example = 20)]
    limit: Option<String>,
    /// How many results to skip.
    #[param(value_type = Option<u32>, minimum = 0, maximum = 1_000_000_000)]
    offset: Option<String>,
    /// `true` (the default: bookable stylists), `false` (archived only) or `all`.
    #[param(value_type = Option<String>, pattern = "^(true|false|all|1|0)$")]
    active: Option<String>,
    /// Case-insensitive text in the name or bio.
    search: Option<String>,
    /// Exact name.
    name: Option<String>,
    #[param(value_type = Option<uuid::Uuid>)]
    id: Option<String>,
    /// Only stylists who offer this service.
    #[param(value_type = Option<uuid::Uuid>)]
    service: Option<String>,
    /// Only stylists who offer any of these services (comma-separated ids).
    #[serde(rename = "service__in")]
    service_in: Option<String>,
    /// `joined` (default) or `name`; `-` for descending.
    #[param(example = "name")]
    ordering: Option<String>,
}

/// The stylists, with their services, weekly hours and time off; filters as documented.
#[utoipa::path(
    get,
    path = "/api/v1/stylists",
    operation_id = "list_stylists",
    tag = "catalog",
    params(StylistFilters),
    responses(
        (status = 200, description = "One page of stylists", body = Paged<StylistView>),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 422, response = crate::openapi::InvalidBody),
        (status = 503, response = crate::openapi::Unavailable),
    ),
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    mut params: ListParams,
) -> Result<Json<Paged<StylistView>>, Problem> {
    let active = params.take("active");
    let mut query = list::parse(&state, &STYLIST_LIST, &params).await?;
    list::only_active(&mut query, active.as_deref())?;
    let page = list::run(
        &state,
        &STYLIST_LIST,
        &query,
        &params.uri,
        queries::stylist_row,
    )
    .await?;
    Ok(Json(page))
}

fn parse_id(id: &str) -> Result<StylistId, Problem> {
    StylistId::parse(id).map_err(|_| Problem::not_found("No such stylist."))
}

async fn view_or_404(state: &AppState, id: &str) -> Result<StylistView, Problem> {
    queries::stylist(&state.read, id)
        .await?
        .ok_or_else(|| Problem::not_found("No such stylist."))
}

/// One stylist, archived or not, with its `ETag`.
#[utoipa::path(
    get,
    path = "/api/v1/stylists/{id}",
    operation_id = "get_stylist",
    tag = "catalog",
    params(("id" = uuid::Uuid, Path, description = "The stylist's id", example = "c44e923e-60e5-58b4-a805-a80b72143357")),
    responses(
        (status = 200, description = "The stylist", body = StylistView,
            headers(("ETag" = String, description = "The stylist's version, for `If-Match`"))),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 404, response = crate::openapi::NotFound),
        (status = 503, response = crate::openapi::Unavailable),
    ),
)]
pub(crate) async fn fetch(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Response, Problem> {
    parse_id(&id)?;
    let view = view_or_404(&state, &id).await?;
    let version = view.version;
    Ok(with_etag(Json(view), version))
}

/// A stylist as sent. Adding one needs `name`; a change sends any subset.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = StylistSettings, example = json!({
    "name": "Amara Diallo",
    "bio": "Founder. Fifteen years of locs in Harlem.",
    "services": ["77d5de2f-6c6f-5291-90df-5ba039e90a05"],
    "hours": {"tue": {"open": "10:00", "close": "18:00", "breaks": [{"start": "13:00", "end": "13:30"}]}}
}))]
pub(crate) struct RawStylist {
    #[schema(min_length = 1, max_length = 100)]
    name: Option<String>,
    #[schema(max_length = 2000)]
    bio: Option<String>,
    /// The ids of the services the stylist offers (replaces the list).
    #[schema(value_type = Option<Vec<uuid::Uuid>>)]
    services: Option<Vec<String>>,
    /// Weekly hours by weekday (`mon` … `sun`); a day left out is a day off. Replaces the week.
    #[schema(value_type = Option<WeeklyHours>)]
    hours: Option<BTreeMap<DayKey, DayHours>>,
    /// `false` archives the stylist, `true` makes them bookable again (changes only).
    active: Option<bool>,
}

impl RawStylist {
    async fn patch(
        self,
        state: &AppState,
        errors: &mut Vec<FieldError>,
    ) -> Result<StylistPatch, Problem> {
        let services = match self.services {
            None => None,
            Some(raw) => {
                let mut ids = Vec::new();
                for (i, s) in raw.iter().enumerate() {
                    match ServiceId::parse(s) {
                        Ok(id)
                            if queries::service(&state.read, &id.to_string())
                                .await?
                                .is_some() =>
                        {
                            ids.push(id)
                        }
                        Ok(_) => errors
                            .push(FieldError::new(format!("services[{i}]"), "no such service")),
                        Err(_) => errors.push(FieldError::new(
                            format!("services[{i}]"),
                            format!("{s:?} is not a service id"),
                        )),
                    }
                }
                Some(ids)
            }
        };
        let hours = match self.hours.map(WeeklyHours::new) {
            None => None,
            Some(Ok(h)) => Some(h),
            Some(Err(e)) => {
                errors.push(e.into());
                None
            }
        };
        Ok(StylistPatch {
            name: self.name,
            bio: self.bio,
            services,
            hours,
            active: self.active,
        })
    }
}

fn rejected(e: StylistError) -> Problem {
    match e {
        StylistError::Invalid(p) => Problem::validation(vec![p.into()]),
        StylistError::NotFound => Problem::not_found("No such stylist."),
        StylistError::UnknownTimeOff => Problem::not_found("No such time off."),
        e @ StylistError::TimeOffInverted => {
            Problem::validation(vec![FieldError::new("end", e.to_string())])
        }
        other => Problem::new(
            StatusCode::CONFLICT,
            "conflict",
            "Conflict",
            other.to_string(),
        ),
    }
}

/// Adds a stylist (with services and hours in the same commit).
#[utoipa::path(
    post,
    path = "/api/v1/stylists",
    operation_id = "create_stylist",
    tag = "catalog",
    params(("X-Reason" = Option<String>, Header, description = "Why; recorded in the audit trail")),
    request_body(content = RawStylist),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Added", body = StylistView,
            headers(("Location" = String, description = "`/api/v1/stylists/{id}`"),
                    ("ETag" = String, description = "The stylist's version"))),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
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
    ApiJson(raw): ApiJson<RawStylist>,
) -> Result<Response, Problem> {
    who.require_write()?;
    let mut errors = Vec::new();
    if raw.active.is_some() {
        errors.push(FieldError::new(
            "active",
            "is for changes; a new stylist is bookable",
        ));
    }
    if raw.name.is_none() {
        errors.push(FieldError::new("name", "is required"));
    }
    let mut patch = raw.patch(&state, &mut errors).await?;
    if !errors.is_empty() {
        return Err(Problem::validation(errors));
    }
    let id = StylistId::new();
    let key = id.to_string();
    let hire = StylistCommand::Hire {
        id,
        name: patch.name.take().unwrap_or_default(),
        bio: patch.bio.take().unwrap_or_default(),
        services: patch.services.take().unwrap_or_default(),
    };
    // Hired and given hours in one commit: nobody sees a stylist without their week.
    let new = Loaded {
        state: Stylist::default(),
        version: 0,
    };
    let hired = state
        .bus
        .decide(&new, &key, hire, &())
        .await
        .map_err(rejected)?;
    let after = Loaded {
        state: hired.state().clone(),
        version: hired.events().len(),
    };
    let hours = state
        .bus
        .decide(&after, &key, StylistCommand::Change(patch), &())
        .await
        .map_err(rejected)?;
    let version = after.version + hours.events().len();
    let meta = metadata(&who, request_id, reason(&headers));
    let committed = state
        .bus
        .commit(&[&hired, &hours], &meta)
        .await
        .map_err(|e| Problem::store(&e))?;
    crate::settle(&state, &[Projection::Catalog], committed.position).await;
    let view = view_or_404(&state, &key).await?;
    Ok(crate::etag::created(
        Json(view),
        version as i64,
        &format!("/api/v1/stylists/{id}"),
    ))
}

async fn change(
    state: &AppState,
    who: &Integrator,
    request_id: String,
    headers: &HeaderMap,
    if_match: &IfMatch,
    id: StylistId,
    command: StylistCommand,
) -> Result<(StylistView, i64), Problem> {
    let meta = metadata(who, request_id, reason(headers));
    let (committed, loaded) = state
        .bus
        .execute_at::<Stylist>(&id.to_string(), command, &meta, if_match.expected())
        .await
        .map_err(|e| bus_problem(e, rejected))?;
    crate::settle(state, &[Projection::Catalog], committed.position).await;
    let view = view_or_404(state, &id.to_string()).await?;
    Ok((view, loaded.version as i64))
}

/// Changes some of a stylist's settings: profile, services, weekly hours (with breaks);
/// `active: false` archives, `true` restores.
#[utoipa::path(
    patch,
    path = "/api/v1/stylists/{id}",
    operation_id = "update_stylist",
    tag = "catalog",
    params(
        ("id" = uuid::Uuid, Path, description = "The stylist's id"),
        ("If-Match" = Option<String>, Header, description = "The `ETag` you read; the change is made only if the stylist is still at that version"),
        ("X-Reason" = Option<String>, Header, description = "Why; recorded in the audit trail"),
    ),
    request_body(content = RawStylist),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The stylist as they are now", body = StylistView,
            headers(("ETag" = String, description = "The stylist's new version"))),
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
    ApiJson(raw): ApiJson<RawStylist>,
) -> Result<Response, Problem> {
    who.require_write()?;
    let sid = parse_id(&id)?;
    let mut errors = Vec::new();
    let patch = raw.patch(&state, &mut errors).await?;
    if !errors.is_empty() {
        return Err(Problem::validation(errors));
    }
    let (view, version) = change(
        &state,
        &who,
        request_id,
        &headers,
        &if_match,
        sid,
        StylistCommand::Change(patch),
    )
    .await?;
    Ok(with_etag(Json(view), version))
}

/// Archives a stylist: no longer offered for new bookings; booked and past appointments stay.
/// Archiving an archived stylist changes nothing.
#[utoipa::path(
    delete,
    path = "/api/v1/stylists/{id}",
    operation_id = "delete_stylist",
    tag = "catalog",
    params(
        ("id" = uuid::Uuid, Path, description = "The stylist's id"),
        ("If-Match" = Option<String>, Header, description = "The `ETag` you read"),
        ("X-Reason" = Option<String>, Header, description = "Why; recorded in the audit trail"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Archived"),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        (status = 412, response = crate::openapi::PreconditionFailed),
        (status = 503, response = crate::openapi::Unavailable),
    ),
)]
pub(crate) async fn archive(
    State(state): State<AppState>,
    who: Integrator,
    RequestId(request_id): RequestId,
    headers: HeaderMap,
    if_match: IfMatch,
    ApiPath(id): ApiPath<String>,
) -> Result<Response, Problem> {
    who.require_write()?;
    let sid = parse_id(&id)?;
    let patch = StylistPatch {
        active: Some(false),
        ..Default::default()
    };
    let (_, version) = change(
        &state,
        &who,
        request_id,
        &headers,
        &if_match,
        sid,
        StylistCommand::Change(patch),
    )
    .await?;
    Ok(with_etag(StatusCode::NO_CONTENT, version))
}

/// Time off as sent: salon wall-clock times (`2027-03-14T09:00`, or a date for midnight), end
/// exclusive.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = TimeOffRequest, example = json!({"start": "2027-03-14", "end": "2027-03-21", "reason": "Vacation"}))]
pub(crate) struct RawTimeOff {
    /// Salon wall-clock time without offset (`YYYY-MM-DDTHH:MM[:SS]`), or a date (its midnight).
    #[schema(value_type = String, required = true, example = "2027-03-14T09:00")]
    start: Option<String>,
    /// As `start`; exclusive.
    #[schema(value_type = String, required = true, example = "2027-03-21")]
    end: Option<String>,
    #[schema(max_length = 500)]
    reason: Option<String>,
}

fn wall_clock(
    field: &str,
    raw: &Option<String>,
    errors: &mut Vec<FieldError>,
) -> Option<NaiveDateTime> {
    let Some(raw) = raw.as_deref().map(str::trim).filter(|r| !r.is_empty()) else {
        errors.push(FieldError::new(field, "is required"));
        return None;
    };
    let parsed = ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(raw, f).ok())
        .or_else(|| {
            NaiveDate::parse_from_str(raw, "%Y-%m-%d")
                .ok()
                .filter(|_| raw.len() == 10)
                .map(|d| d.and_time(chrono::NaiveTime::MIN))
        });
    if parsed.is_none() {
        errors.push(FieldError::new(
            field,
            format!("{raw:?} is not a salon time like 2027-03-14T09:00 or a date like 2027-03-14"),
        ));
    }
    parsed
}

/// Adds time off: the stylist is offered for no slot inside it. Bookings already made inside it
/// stay; move or cancel them separately.
#[utoipa::path(
    post,
    path = "/api/v1/stylists/{id}/time-off",
    operation_id = "add_time_off",
    tag = "catalog",
    params(
        ("id" = uuid::Uuid, Path, description = "The stylist's id"),
        ("If-Match" = Option<String>, Header, description = "The stylist's `ETag` you read"),
        ("X-Reason" = Option<String>, Header, description = "Why; recorded in the audit trail"),
    ),
    request_body(content = RawTimeOff),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Added; the stylist as they are now", body = StylistView,
            headers(("ETag" = String, description = "The stylist's new version"),
                    ("Location" = String, description = "`/api/v1/stylists/{id}/time-off/{time_off}`"))),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, description = "Overlaps time off already there", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 412, response = crate::openapi::PreconditionFailed),
        (status = 413, response = crate::openapi::TooLarge),
        (status = 415, response = crate::openapi::UnsupportedMediaType),
        (status = 422, response = crate::openapi::InvalidBody),
        (status = 503, response = crate::openapi::Unavailable),
    ),
)]
pub(crate) async fn add_time_off(
    State(state): State<AppState>,
    who: Integrator,
    RequestId(request_id): RequestId,
    headers: HeaderMap,
    if_match: IfMatch,
    ApiPath(id): ApiPath<String>,
    ApiJson(raw): ApiJson<RawTimeOff>,
) -> Result<Response, Problem> {
    who.require_write()?;
    let sid = parse_id(&id)?;
    let mut errors = Vec::new();
    let start = wall_clock("start", &raw.start, &mut errors);
    let end = wall_clock("end", &raw.end, &mut errors);
    let (Some(start), Some(end)) = (start, end) else {
        return Err(Problem::validation(errors));
    };
    let time_off = TimeOff {
        id: TimeOffId::new(),
        start,
        end,
        reason: raw
            .reason
            .map(|r| r.trim().to_string())
            .filter(|r| !r.is_empty()),
    };
    let tid = time_off.id;
    let (view, version) = change(
        &state,
        &who,
        request_id,
        &headers,
        &if_match,
        sid,
        StylistCommand::AddTimeOff { time_off },
    )
    .await?;
    Ok(crate::etag::created(
        Json(view),
        version,
        &format!("/api/v1/stylists/{sid}/time-off/{tid}"),
    ))
}

/// Removes time off: its time can be booked again.
#[utoipa::path(
    delete,
    path = "/api/v1/stylists/{id}/time-off/{time_off}",
    operation_id = "remove_time_off",
    tag = "catalog",
    params(
        ("id" = uuid::Uuid, Path, description = "The stylist's id"),
        ("time_off" = uuid::Uuid, Path, description = "The time off's id"),
        ("If-Match" = Option<String>, Header, description = "The stylist's `ETag` you read"),
        ("X-Reason" = Option<String>, Header, description = "Why; recorded in the audit trail"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Removed"),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        (status = 412, response = crate::openapi::PreconditionFailed),
        (status = 503, response = crate::openapi::Unavailable),
    ),
)]
pub(crate) async fn remove_time_off(
    State(state): State<AppState>,
    who: Integrator,
    RequestId(request_id): RequestId,
    headers: HeaderMap,
    if_match: IfMatch,
    ApiPath((id, time_off)): ApiPath<(String, String)>,
) -> Result<Response, Problem> {
    who.require_write()?;
    let sid = parse_id(&id)?;
    let tid = TimeOffId::parse(&time_off).map_err(|_| Problem::not_found("No such time off."))?;
    let (_, version) = change(
        &state,
        &who,
        request_id,
        &headers,
        &if_match,
        sid,
        StylistCommand::RemoveTimeOff { id: tid },
    )
    .await?;
    Ok(with_etag(StatusCode::NO_CONTENT, version))
}
