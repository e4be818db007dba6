//! External calendar sources (`/api/v1/calendar-sources`, bearer token) and the per-stylist ICS
//! feed (`/calendar/{stylist}.ics?token=…`, for calendar apps that cannot send headers).
//!
//! Credentials (a CalDAV password, Google OAuth2 credentials) are sealed before they become an
//! event and are never returned: the API says only whether a source has some.

use crate::extract::{ApiJson, ApiPath, ApiQuery, Integrator, RequestId};
use crate::problem::{FieldError, Problem};
use crate::routes::catalog::{paginate, PageParams, Paged};
use crate::AppState;
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{Duration, Utc};
use commands::calendars::google::GoogleCredentials;
use commands::calendars::ical::{calendar, AppointmentEvent};
use commands::calendars::SyncError;
use commands::CommandError;
use domain::calendar_source::{
    CalendarSource, CalendarSourceCommand, CalendarSourceError, SourceKind, SourceSettings,
    DEFAULT_SYNC_MINUTES,
};
use domain::ids::{CalendarSourceId, StylistId};
use domain::metadata::{EventMetadata, Source};
use projections::calendars::{self, CalendarSourceView};
use projections::queries;
use projections::Projection;
use serde::{Deserialize, Serialize};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/calendar-sources", get(list).post(create))
        .route(
            "/api/v1/calendar-sources/{id}",
            get(fetch).patch(update).delete(remove),
        )
        .route("/api/v1/calendar-sources/{id}/sync", post(sync_now))
        .route("/calendar/{file}", get(feed))
}

/// What a client sends to add a source. `password` (CalDAV) and `credentials` (Google: the
/// JSON of a service-account key or of an authorized user, as an object or a string) are
/// write-only.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CalendarSourceSettings, example = json!({
    "kind": "caldav",
    "stylist": "c44e923e-60e5-58b4-a805-a80b72143357",
    "name": "Amara's iCloud",
    "url": "https://caldav.icloud.com/",
    "username": "owner@icloud.com",
    "password": "app-specific-password",
    "write_back": true
}))]
pub(crate) struct RawSource {
    /// `caldav` or `google`; required to add a source, cannot change.
    #[schema(schema_with = crate::openapi::source_kind)]
    kind: Option<String>,
    /// The stylist whose calendar it is; required to add a source, cannot change.
    #[schema(value_type = Option<uuid::Uuid>)]
    stylist: Option<String>,
    /// Default: the URL or calendar id.
    #[schema(max_length = 120)]
    name: Option<String>,
    /// CalDAV (required there): a principal, calendar home or one calendar, `http(s)://`.
    #[schema(format = "uri", max_length = 2000)]
    url: Option<String>,
    /// CalDAV: the user name.
    username: Option<String>,
    /// CalDAV: the password (for iCloud an app-specific password); stored sealed, never
    /// returned. Needs `SALON_SECRET_KEY` on the server. An empty string removes it.
    #[schema(write_only)]
    password: Option<String>,
    /// Google (required there): the calendar's id, often an email address.
    #[schema(max_length = 500)]
    calendar_id: Option<String>,
    /// Google (required there): a service-account key or `{"type": "authorized_user",
    /// client_id, client_secret, refresh_token}`, as an object or a JSON string; stored sealed,
    /// never returned. Needs `SALON_SECRET_KEY` on the server.
    #[schema(write_only, value_type = Option<Object>)]
    credentials: Option<serde_json::Value>,
    /// How often to sync, in minutes (default 5).
    #[schema(minimum = 1, maximum = 1440)]
    sync_minutes: Option<u32>,
    /// CalDAV only: write confirmed bookings into the calendar.
    write_back: Option<bool>,
}

/// Audit metadata of an integrator's write: `token:<name>`, source api, the request id, and
/// the `X-Reason` header as the reason.
pub(crate) fn metadata(
    who: &Integrator,
    request_id: String,
    reason: Option<String>,
) -> EventMetadata {
    let mut m = EventMetadata::new(who.actor(), Source::Api).with_request_id(request_id);
    m.reason = reason;
    m
}

/// The `X-Reason` header, trimmed to 500 characters.
pub(crate) fn reason(headers: &axum::http::HeaderMap) -> Option<String> {
    headers
        .get("x-reason")
        .and_then(|v| v.to_str().ok())
        .map(|r| r.trim().chars().take(500).collect::<String>())
        .filter(|r| !r.is_empty())
}

fn seal(state: &AppState, field: &str, secret: &str) -> Result<String, Problem> {
    let sealer = state.calendars.settings().sealer.as_ref().ok_or_else(|| {
        Problem::validation(vec![FieldError::new(
            field,
            "cannot be stored: the server has no SALON_SECRET_KEY to encrypt it with",
        )])
    })?;
    Ok(sealer.seal(secret))
}

fn credentials_text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn problems_to_fields(problems: Vec<(&'static str, String)>) -> Vec<FieldError> {
    problems
        .into_iter()
        .map(|(f, m)| FieldError::new(f, m))
        .collect()
}

fn command_problem(e: CommandError<CalendarSourceError>) -> Problem {
    match e {
        CommandError::Rejected(CalendarSourceError::Invalid(p)) => {
            Problem::validation(problems_to_fields(p))
        }
        CommandError::Rejected(
            CalendarSourceError::NotRegistered | CalendarSourceError::Removed,
        ) => Problem::not_found("No such calendar source."),
        CommandError::Rejected(e @ CalendarSourceError::StylistChanged) => {
            Problem::validation(vec![FieldError::new("stylist", e.to_string())])
        }
        CommandError::Rejected(e) => {
            Problem::new(StatusCode::CONFLICT, "conflict", "Conflict", e.to_string())
        }
        CommandError::Contended => Problem::unavailable("Busy; try again."),
        CommandError::Stale { current, .. } => {
            crate::etag::stale(i64::try_from(current).unwrap_or(i64::MAX))
        }
        CommandError::Store(e) => Problem::store(&e),
    }
}

fn sync_problem(e: SyncError) -> Problem {
    match e {
        SyncError::NotFound => Problem::not_found("No such calendar source."),
        SyncError::Contended => Problem::unavailable("Busy; try again."),
        SyncError::Store(e) => Problem::store(&e),
    }
}

async fn wait_calendars(state: &AppState, position: migrations::LogPosition) {
    crate::settle(
        state,
        &[Projection::Calendars, Projection::Availability],
        position,
    )
    .await;
}

async fn view_or_404(state: &AppState, id: &str) -> Result<CalendarSourceView, Problem> {
    calendars::calendar_source(&state.read, id, Utc::now())
        .await?
        .ok_or_else(|| Problem::not_found("No such calendar source."))
}

#[derive(Debug, Deserialize)]
pub(crate) struct ListQuery {
    stylist: Option<String>,
    #[serde(flatten)]
    page: PageParams,
}

/// Calendar sources, with how fresh their busy time is (never credentials).
#[utoipa::path(
    get,
    path = "/api/v1/calendar-sources",
    operation_id = "list_calendar_sources",
    tag = "calendars",
    params(PageParams, ("stylist" = Option<uuid::Uuid>, Query, description = "Only this stylist's sources")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "One page of sources", body = Paged<CalendarSourceView>),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 422, response = crate::openapi::InvalidBody),
        (status = 503, response = crate::openapi::Unavailable),
    ),
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    _who: Integrator,
    uri: Uri,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Paged<CalendarSourceView>>, Problem> {
    let page = q.page.parse().map_err(Problem::validation)?;
    let all = calendars::calendar_sources(&state.read, q.stylist.as_deref(), Utc::now()).await?;
    Ok(Json(paginate(all, page, &uri)))
}

/// One calendar source.
#[utoipa::path(
    get,
    path = "/api/v1/calendar-sources/{id}",
    operation_id = "get_calendar_source",
    tag = "calendars",
    params(("id" = uuid::Uuid, Path, description = "The calendar source's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The source", body = CalendarSourceView,
            headers(("ETag" = String, description = "The source's version, for `If-Match`"))),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 404, response = crate::openapi::NotFound),
        (status = 503, response = crate::openapi::Unavailable),
    ),
)]
pub(crate) async fn fetch(
    State(state): State<AppState>,
    _who: Integrator,
    ApiPath(id): ApiPath<String>,
) -> Result<Response, Problem> {
    CalendarSourceId::parse(&id).map_err(|_| Problem::not_found("No such calendar source."))?;
    let view = view_or_404(&state, &id).await?;
    let version = state
        .bus
        .load_fresh::<CalendarSource>(&id)
        .await
        .map_err(|e| Problem::store(&e))?
        .version;
    Ok(crate::etag::with_etag(Json(view), version as i64))
}

/// Connects a stylist's calendar (`kind` and `stylist` required; CalDAV needs `url`, Google
/// `calendar_id` and `credentials`).
///
/// The first sync starts at once, in the background.
#[utoipa::path(
    post,
    path = "/api/v1/calendar-sources",
    operation_id = "create_calendar_source",
    tag = "calendars",
    params(("X-Reason" = Option<String>, Header, description = "Why; recorded in the audit trail")),
    request_body(content = RawSource),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Connected", body = CalendarSourceView,
            headers(("Location" = String, description = "`/api/v1/calendar-sources/{id}`"))),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 409, description = "The source cannot be registered", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 413, response = crate::openapi::TooLarge),
        (status = 415, response = crate::openapi::UnsupportedMediaType),
        (status = 422, description = "Missing or invalid fields, an unknown field or stylist, or credentials the server cannot seal (no `SALON_SECRET_KEY`)", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 503, response = crate::openapi::Unavailable),
    ),
)]
pub(crate) async fn create(
    State(state): State<AppState>,
    who: Integrator,
    RequestId(request_id): RequestId,
    headers: axum::http::HeaderMap,
    ApiJson(raw): ApiJson<RawSource>,
) -> Result<Response, Problem> {
    who.require_write()?;
    let mut errors = Vec::new();
    let kind = match raw.kind.as_deref() {
        Some("caldav") => Some(SourceKind::Caldav),
        Some("google") => Some(SourceKind::Google),
        Some(_) => {
            errors.push(FieldError::new("kind", "must be \"caldav\" or \"google\""));
            None
        }
        None => {
            errors.push(FieldError::new(
                "kind",
                "is required (\"caldav\" or \"google\")",
            ));
            None
        }
    };
    let stylist = match raw.stylist.as_deref().map(StylistId::parse) {
        Some(Ok(id)) => match queries::stylist(&state.read, &id.to_string()).await? {
            Some(_) => Some(id),
            None => {
                errors.push(FieldError::new("stylist", "no such stylist"));
                None
            }
        },
        Some(Err(e)) => {
            errors.push(e.into());
            None
        }
        None => {
            errors.push(FieldError::new("stylist", "is required"));
            None
        }
    };
    let sealed = match kind {
        Some(SourceKind::Caldav) => {
            if raw.credentials.is_some() {
                errors.push(FieldError::new(
                    "credentials",
                    "is for Google sources; CalDAV takes username and password",
                ));
            }
            match raw.password.as_deref().filter(|p| !p.is_empty()) {
                Some(p) => Some(seal(&state, "password", p)?),
                None => None,
            }
        }
        Some(SourceKind::Google) => match &raw.credentials {
            Some(value) => {
                let text = credentials_text(value);
                match GoogleCredentials::parse(&text) {
                    Ok(_) => Some(seal(&state, "credentials", &text)?),
                    Err(m) => {
                        errors.push(FieldError::new("credentials", m));
                        None
                    }
                }
            }
            None => None,
        },
        None => None,
    };
    let (Some(kind), Some(stylist)) = (kind, stylist) else {
        return Err(Problem::validation(errors));
    };
    let default_name = match kind {
        SourceKind::Caldav => raw.url.clone().unwrap_or_default(),
        SourceKind::Google => raw.calendar_id.clone().unwrap_or_default(),
    };
    let settings = SourceSettings {
        kind,
        stylist,
        name: raw
            .name
            .clone()
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| default_name.chars().take(120).collect()),
        url: raw.url.clone().map(|u| u.trim().to_string()),
        username: raw.username.clone().filter(|u| !u.is_empty()),
        calendar_id: raw.calendar_id.clone().map(|c| c.trim().to_string()),
        sealed_credentials: sealed,
        sync_minutes: raw.sync_minutes.unwrap_or(DEFAULT_SYNC_MINUTES),
        write_back: raw.write_back.unwrap_or(false),
    };
    errors.extend(problems_to_fields(settings.problems()));
    if !errors.is_empty() {
        errors.dedup_by(|a, b| a.field == b.field && a.message == b.message);
        return Err(Problem::validation(errors));
    }
    let id = CalendarSourceId::new();
    let meta = metadata(&who, request_id, reason(&headers));
    let (committed, _) = state
        .bus
        .execute::<CalendarSource>(
            &id.to_string(),
            CalendarSourceCommand::Register { id, settings },
            &meta,
        )
        .await
        .map_err(command_problem)?;
    // The first sync runs now, in the background: the answer does not wait for the calendar.
    let sync = state.calendars.clone();
    tokio::spawn(async move {
        if let Err(e) = sync.sync(id).await {
            tracing::warn!(source = %id, error = %e, "first calendar sync could not run");
        }
    });
    wait_calendars(&state, committed.position).await;
    let view = view_or_404(&state, &id.to_string()).await?;
    let mut response = (StatusCode::CREATED, Json(view)).into_response();
    if let Ok(location) = HeaderValue::from_str(&format!("/api/v1/calendar-sources/{id}")) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// Changes a source's settings (any subset; `kind` and `stylist` cannot change).
///
/// A sync follows in the background.
#[utoipa::path(
    patch,
    path = "/api/v1/calendar-sources/{id}",
    operation_id = "update_calendar_source",
    tag = "calendars",
    params(("id" = uuid::Uuid, Path, description = "The calendar source's id"),
        ("If-Match" = Option<String>, Header, description = "The `ETag` you read; the change is made only if the source is still at that version"),
        ("X-Reason" = Option<String>, Header, description = "Why; recorded in the audit trail")),
    request_body(content = RawSource),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The source as it is now", body = CalendarSourceView,
            headers(("ETag" = String, description = "The source's new version"))),
        (status = 412, response = crate::openapi::PreconditionFailed),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, description = "The change is refused", body = crate::problem::Problem, content_type = "application/problem+json"),
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
    headers: axum::http::HeaderMap,
    if_match: crate::etag::IfMatch,
    ApiPath(id): ApiPath<String>,
    ApiJson(raw): ApiJson<RawSource>,
) -> Result<Response, Problem> {
    who.require_write()?;
    let source_id =
        CalendarSourceId::parse(&id).map_err(|_| Problem::not_found("No such calendar source."))?;
    let meta = metadata(&who, request_id, reason(&headers));
    // The new settings are made from the source as loaded and written only at that version, so
    // a change made meanwhile is never overwritten with what was read before it. Without
    // `If-Match` the caller asked for no particular version: when a sync's record moved the
    // source on between the read and the write, the change is made again on the newer source.
    let mut attempts = 0;
    let (committed, after) = loop {
        let loaded = state
            .bus
            .load_fresh::<CalendarSource>(&id)
            .await
            .map_err(|e| Problem::store(&e))?;
        if loaded.version > 0 {
            if_match.check(loaded.version as i64)?;
        }
        let settings = patched(&state, &loaded.state, &raw)?;
        match state
            .bus
            .execute_at::<CalendarSource>(
                &id,
                CalendarSourceCommand::Update { settings },
                &meta,
                Some(loaded.version),
            )
            .await
        {
            Err(CommandError::Stale { .. }) if if_match.expected().is_none() && attempts < 5 => {
                attempts += 1;
            }
            done => break done.map_err(command_problem)?,
        }
    };
    wait_calendars(&state, committed.position).await;
    let sync = state.calendars.clone();
    tokio::spawn(async move {
        if let Err(e) = sync.sync(source_id).await {
            tracing::warn!(source = %source_id, error = %e, "calendar sync after an update could not run");
        }
    });
    let view = view_or_404(&state, &id).await?;
    Ok(crate::etag::with_etag(Json(view), after.version as i64))
}

/// The source's settings with the patch's fields laid over them, checked.
fn patched(
    state: &AppState,
    source: &CalendarSource,
    raw: &RawSource,
) -> Result<SourceSettings, Problem> {
    let Some(mut settings) = source.settings.clone().filter(|_| !source.removed) else {
        return Err(Problem::not_found("No such calendar source."));
    };
    let mut errors = Vec::new();
    if let Some(kind) = &raw.kind {
        if kind != settings.kind.as_str() {
            errors.push(FieldError::new(
                "kind",
                "cannot change; add a new source instead",
            ));
        }
    }
    if let Some(stylist) = &raw.stylist {
        if StylistId::parse(stylist).ok() != Some(settings.stylist) {
            errors.push(FieldError::new(
                "stylist",
                "cannot change; add a new source instead",
            ));
        }
    }
    if let Some(name) = &raw.name {
        settings.name = name.clone();
    }
    if let Some(url) = &raw.url {
        settings.url = Some(url.trim().to_string());
    }
    if let Some(username) = &raw.username {
        settings.username = Some(username.clone()).filter(|u| !u.is_empty());
    }
    if let Some(calendar_id) = &raw.calendar_id {
        settings.calendar_id = Some(calendar_id.trim().to_string());
    }
    if let Some(password) = &raw.password {
        if settings.kind != SourceKind::Caldav {
            errors.push(FieldError::new("password", "is for CalDAV sources"));
        } else if password.is_empty() {
            settings.sealed_credentials = None;
        } else {
            settings.sealed_credentials = Some(seal(state, "password", password)?);
        }
    }
    if let Some(value) = &raw.credentials {
        let text = credentials_text(value);
        if settings.kind != SourceKind::Google {
            errors.push(FieldError::new("credentials", "are for Google sources"));
        } else {
            match GoogleCredentials::parse(&text) {
                Ok(_) => settings.sealed_credentials = Some(seal(state, "credentials", &text)?),
                Err(m) => errors.push(FieldError::new("credentials", m)),
            }
        }
    }
    if let Some(minutes) = raw.sync_minutes {
        settings.sync_minutes = minutes;
    }
    if let Some(write_back) = raw.write_back {
        settings.write_back = write_back;
    }
    errors.extend(problems_to_fields(settings.problems()));
    if !errors.is_empty() {
        return Err(Problem::validation(errors));
    }
    Ok(settings)
}

/// Disconnects a source: its busy time stops blocking bookings, and written-back bookings are
/// removed from the calendar.
#[utoipa::path(
    delete,
    path = "/api/v1/calendar-sources/{id}",
    operation_id = "remove_calendar_source",
    tag = "calendars",
    params(("id" = uuid::Uuid, Path, description = "The calendar source's id"), ("X-Reason" = Option<String>, Header, description = "Why; recorded in the audit trail")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Removed"),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        (status = 503, response = crate::openapi::Unavailable),
    ),
)]
pub(crate) async fn remove(
    State(state): State<AppState>,
    who: Integrator,
    RequestId(request_id): RequestId,
    headers: axum::http::HeaderMap,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, Problem> {
    who.require_write()?;
    let source_id =
        CalendarSourceId::parse(&id).map_err(|_| Problem::not_found("No such calendar source."))?;
    let meta = metadata(&who, request_id, reason(&headers));
    state
        .calendars
        .remove(source_id, &meta)
        .await
        .map_err(sync_problem)?;
    wait_calendars(&state, state.bus.signal().last()).await;
    Ok(StatusCode::NO_CONTENT)
}

/// What an on-demand sync did.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct SyncAnswer {
    report: commands::calendars::SyncReport,
    /// Bookings written into (or removed from) the calendar, for sources with `write_back`.
    write_back: commands::calendars::WriteBackReport,
    source: CalendarSourceView,
}

/// Syncs a source now (and writes bookings back, for sources with `write_back`).
///
/// A calendar that fails is reported in `report.error`; its last good busy time stays in force.
#[utoipa::path(
    post,
    path = "/api/v1/calendar-sources/{id}/sync",
    operation_id = "sync_calendar_source",
    tag = "calendars",
    params(("id" = uuid::Uuid, Path, description = "The calendar source's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "What the sync did, and the source after it", body = SyncAnswer),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        (status = 503, response = crate::openapi::Unavailable),
    ),
)]
pub(crate) async fn sync_now(
    State(state): State<AppState>,
    who: Integrator,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<SyncAnswer>, Problem> {
    who.require_write()?;
    let source_id =
        CalendarSourceId::parse(&id).map_err(|_| Problem::not_found("No such calendar source."))?;
    let report = state
        .calendars
        .sync(source_id)
        .await
        .map_err(sync_problem)?;
    let write_back = state
        .calendars
        .write_back_now(source_id)
        .await
        .map_err(sync_problem)?;
    wait_calendars(&state, state.bus.signal().last()).await;
    let source = view_or_404(&state, &id).await?;
    Ok(Json(SyncAnswer {
        report,
        write_back,
        source,
    }))
}

#[derive(Debug, Deserialize)]
pub(crate) struct FeedQuery {
    token: Option<String>,
}

/// A stylist's appointments as an iCalendar feed, from 30 days ago on, for any calendar app.
///
/// Authenticated by an API token in the query (calendar apps cannot send headers).
#[utoipa::path(
    get,
    path = "/calendar/{stylist}.ics",
    operation_id = "stylist_calendar_feed",
    tag = "calendars",
    params(
        ("stylist" = uuid::Uuid, Path, description = "The stylist's id", example = "c44e923e-60e5-58b4-a805-a80b72143357"),
        ("token" = String, Query, description = "An API token (any scope)"),
    ),
    responses(
        (status = 200, description = "The stylist's appointments", body = String, content_type = "text/calendar",
            headers(("Cache-Control" = String, description = "`private, max-age=300`"))),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 404, response = crate::openapi::NotFound),
        (status = 503, response = crate::openapi::Unavailable),
    ),
)]
pub(crate) async fn feed(
    State(state): State<AppState>,
    ApiPath(file): ApiPath<String>,
    ApiQuery(q): ApiQuery<FeedQuery>,
) -> Result<Response, Problem> {
    let Some(stylist) = file.strip_suffix(".ics") else {
        return Err(Problem::not_found("Feeds are at /calendar/{stylist}.ics."));
    };
    let secret = q
        .token
        .filter(|t| !t.is_empty() && t.len() <= 256)
        .ok_or_else(|| Problem::unauthorized("Add ?token=<API token> to the feed URL."))?;
    let token = queries::token_by_hash(&state.read, &commands::tokens::hash_secret(&secret))
        .await?
        .filter(|t| !t.revoked)
        .ok_or_else(|| Problem::unauthorized("The token is not valid."))?;
    let _ = token;
    StylistId::parse(stylist).map_err(|_| Problem::not_found("No such stylist."))?;
    let stylist_view = queries::stylist(&state.read, stylist)
        .await?
        .ok_or_else(|| Problem::not_found("No such stylist."))?;
    let salon = queries::salon(&state.read).await?;
    let services = queries::services(&state.read, true).await?;
    let now = Utc::now();
    let bookings =
        calendars::stylist_bookings(&state.read, stylist, now - Duration::days(30), 5000).await?;
    let events: Vec<AppointmentEvent> = bookings
        .iter()
        .filter_map(|b| {
            let start = chrono::DateTime::parse_from_rfc3339(&b.start).ok()?;
            let end = chrono::DateTime::parse_from_rfc3339(&b.end).ok()?;
            let service = services
                .iter()
                .find(|s| s.id == b.service)
                .map(|s| s.name.clone())
                .unwrap_or_else(|| "Appointment".into());
            Some(AppointmentEvent {
                booking: b.id.clone(),
                start: start.with_timezone(&Utc),
                end: end.with_timezone(&Utc),
                summary: format!("{service} — {}", b.client_name),
                description: format!(
                    "Client: {}\nPhone: {}\nEmail: {}\nStatus: {}{}",
                    b.client_name,
                    b.client_phone,
                    b.client_email,
                    b.status,
                    b.notes
                        .as_deref()
                        .map(|n| format!("\nNotes: {n}"))
                        .unwrap_or_default()
                ),
                location: Some(salon.name.clone()),
                sequence: 0,
                cancelled: false,
            })
        })
        .collect();
    let body = calendar(
        &format!("{} — {}", stylist_view.name, salon.name),
        &events,
        now,
    );
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/calendar; charset=utf-8"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=300"),
    );
    Ok(response)
}
