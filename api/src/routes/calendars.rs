//! External calendar sources (`/api/v1/calendar-sources`, bearer token) and the per-stylist ICS
//! feed (`/calendar/{stylist}.ics?token=…`, for calendar apps that cannot send headers).
//!
//! Credentials (a CalDAV password, Google OAuth2 credentials) are sealed before they become an
//! event and are never returned: the API says only whether a source has some.

use crate::extract::{ApiJson, ApiQuery, Integrator, RequestId};
use crate::problem::{FieldError, Problem};
use crate::routes::catalog::{paginate, PageParams, Paged};
use crate::AppState;
use axum::extract::{Path, State};
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
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSource {
    kind: Option<String>,
    stylist: Option<String>,
    name: Option<String>,
    url: Option<String>,
    username: Option<String>,
    password: Option<String>,
    calendar_id: Option<String>,
    credentials: Option<serde_json::Value>,
    sync_minutes: Option<u32>,
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
    if !state.settings.read_your_writes.is_zero() {
        state
            .projections
            .wait_for(
                &[Projection::Calendars, Projection::Availability],
                position,
                state.settings.read_your_writes,
            )
            .await;
    }
}

async fn view_or_404(state: &AppState, id: &str) -> Result<CalendarSourceView, Problem> {
    calendars::calendar_source(&state.read, id, Utc::now())
        .await?
        .ok_or_else(|| Problem::not_found("No such calendar source."))
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    stylist: Option<String>,
    #[serde(flatten)]
    page: PageParams,
}

async fn list(
    State(state): State<AppState>,
    _who: Integrator,
    uri: Uri,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Paged<CalendarSourceView>>, Problem> {
    let page = q.page.parse().map_err(Problem::validation)?;
    let all = calendars::calendar_sources(&state.read, q.stylist.as_deref(), Utc::now()).await?;
    Ok(Json(paginate(all, page, &uri)))
}

async fn fetch(
    State(state): State<AppState>,
    _who: Integrator,
    Path(id): Path<String>,
) -> Result<Json<CalendarSourceView>, Problem> {
    CalendarSourceId::parse(&id).map_err(|_| Problem::not_found("No such calendar source."))?;
    Ok(Json(view_or_404(&state, &id).await?))
}

async fn create(
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

async fn update(
    State(state): State<AppState>,
    who: Integrator,
    RequestId(request_id): RequestId,
    headers: axum::http::HeaderMap,
    Path(id): Path<String>,
    ApiJson(raw): ApiJson<RawSource>,
) -> Result<Json<CalendarSourceView>, Problem> {
    who.require_write()?;
    let source_id =
        CalendarSourceId::parse(&id).map_err(|_| Problem::not_found("No such calendar source."))?;
    let loaded = state
        .bus
        .load_fresh::<CalendarSource>(&id)
        .await
        .map_err(|e| Problem::store(&e))?;
    let Some(mut settings) = loaded
        .state
        .settings
        .clone()
        .filter(|_| !loaded.state.removed)
    else {
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
    if let Some(name) = raw.name {
        settings.name = name;
    }
    if let Some(url) = raw.url {
        settings.url = Some(url.trim().to_string());
    }
    if let Some(username) = raw.username {
        settings.username = Some(username).filter(|u| !u.is_empty());
    }
    if let Some(calendar_id) = raw.calendar_id {
        settings.calendar_id = Some(calendar_id.trim().to_string());
    }
    if let Some(password) = raw.password {
        if settings.kind != SourceKind::Caldav {
            errors.push(FieldError::new("password", "is for CalDAV sources"));
        } else if password.is_empty() {
            settings.sealed_credentials = None;
        } else {
            settings.sealed_credentials = Some(seal(&state, "password", &password)?);
        }
    }
    if let Some(value) = raw.credentials {
        let text = credentials_text(&value);
        if settings.kind != SourceKind::Google {
            errors.push(FieldError::new("credentials", "are for Google sources"));
        } else {
            match GoogleCredentials::parse(&text) {
                Ok(_) => settings.sealed_credentials = Some(seal(&state, "credentials", &text)?),
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
    let meta = metadata(&who, request_id, reason(&headers));
    let (committed, _) = state
        .bus
        .execute::<CalendarSource>(&id, CalendarSourceCommand::Update { settings }, &meta)
        .await
        .map_err(command_problem)?;
    wait_calendars(&state, committed.position).await;
    let sync = state.calendars.clone();
    tokio::spawn(async move {
        if let Err(e) = sync.sync(source_id).await {
            tracing::warn!(source = %source_id, error = %e, "calendar sync after an update could not run");
        }
    });
    Ok(Json(view_or_404(&state, &id).await?))
}

async fn remove(
    State(state): State<AppState>,
    who: Integrator,
    RequestId(request_id): RequestId,
    headers: axum::http::HeaderMap,
    Path(id): Path<String>,
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

#[derive(Serialize)]
struct SyncAnswer {
    report: commands::calendars::SyncReport,
    /// Bookings written into (or removed from) the calendar, for sources with `write_back`.
    write_back: commands::calendars::WriteBackReport,
    source: CalendarSourceView,
}

async fn sync_now(
    State(state): State<AppState>,
    who: Integrator,
    Path(id): Path<String>,
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
struct FeedQuery {
    token: Option<String>,
}

/// A stylist's appointments as an iCalendar feed, from 30 days ago on, for any calendar app.
/// Authenticated by an API token in the query (calendar apps cannot send headers).
async fn feed(
    State(state): State<AppState>,
    Path(file): Path<String>,
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
