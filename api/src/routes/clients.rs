//! `/api/v1/clients` (bearer token; changes need the write scope): the salon's clients, one per
//! email address, registered by hand or learned from bookings, with their booking figures.
//! DELETE archives (the history stays); `PATCH {"archived": false}` restores.

use crate::etag::{bus_problem, with_etag, IfMatch};
use crate::extract::{ApiJson, ApiPath, Integrator, RequestId};
use crate::list::{self, ListParams};
use crate::problem::{FieldError, Problem};
use crate::routes::calendars::{metadata, reason};
use crate::routes::catalog::Paged;
use crate::AppState;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use domain::client::{Client, ClientChanges, ClientCommand, ClientDetails, ClientError};
use domain::ids::ClientId;
use domain::values::{Email, PersonName, Phone};
use migrations::LogPosition;
use projections::clients::{self, ClientView, CLIENT_LIST};
use projections::list::Bind;
use projections::Projection;
use serde::Deserialize;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/clients", get(list).post(create))
        .route(
            "/api/v1/clients/{id}",
            get(fetch).patch(update).delete(remove),
        )
        .route(
            "/api/v1/clients/{id}/personal-data",
            axum::routing::delete(forget),
        )
}

const NOT_FOUND: &str = "No such client.";

/// A client to register, or the changes to one (only the fields sent change).
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ClientRequest, example = json!({
    "name": "Ada Lovelace",
    "email": "ada@example.com",
    "phone": "(212) 555-0142",
    "notes": "Prefers mornings."
}))]
pub(crate) struct RawClient {
    /// Required to register.
    #[schema(max_length = 100)]
    name: Option<String>,
    /// Required to register; identifies the client, so a change may only alter its case.
    #[schema(max_length = 254)]
    email: Option<String>,
    /// North American numbers get `+1`; an empty string removes it.
    #[schema(max_length = 32)]
    phone: Option<String>,
    #[schema(max_length = 2000)]
    notes: Option<String>,
    /// PATCH only: `true` archives, `false` restores.
    archived: Option<bool>,
}

fn parse_field<T>(
    errors: &mut Vec<FieldError>,
    raw: Option<&str>,
    parse: impl Fn(&str) -> Result<T, domain::ParseError>,
) -> Option<T> {
    match raw.map(parse) {
        Some(Ok(v)) => Some(v),
        Some(Err(e)) => {
            errors.push(e.into());
            None
        }
        None => None,
    }
}

fn rejected(e: ClientError) -> Problem {
    match e {
        ClientError::Invalid(p) => Problem::validation(vec![p.into()]),
        ClientError::NotFound => Problem::not_found(NOT_FOUND),
        e @ ClientError::EmailIsIdentity => {
            Problem::validation(vec![FieldError::new("email", e.to_string())])
        }
        e @ ClientError::AlreadyExists => Problem::new(
            StatusCode::CONFLICT,
            "client-exists",
            "The client exists",
            e.to_string(),
        ),
        e @ ClientError::AlreadyForgotten => Problem::new(
            StatusCode::CONFLICT,
            "client-forgotten",
            "Already forgotten",
            e.to_string(),
        ),
        e => Problem::new(StatusCode::CONFLICT, "conflict", "Conflict", e.to_string()),
    }
}

fn parse_id(raw: &str) -> Result<ClientId, Problem> {
    ClientId::parse(raw).map_err(|_| Problem::not_found(NOT_FOUND))
}

async fn wait_clients(state: &AppState, position: LogPosition) {
    crate::settle(state, &[Projection::Clients], position).await;
}

async fn view_or_404(state: &AppState, id: &str) -> Result<ClientView, Problem> {
    clients::client(&state.read, id)
        .await?
        .ok_or_else(|| Problem::not_found(NOT_FOUND))
}

fn answer(status: StatusCode, view: ClientView) -> Response {
    let version = view.version;
    with_etag((status, Json(view)), version)
}

/// What the bookings taught the read model about a client never registered by hand.
fn learned(view: &ClientView) -> Option<ClientDetails> {
    if view.registered {
        return None;
    }
    Some(ClientDetails {
        name: PersonName::parse(&view.name).ok()?,
        email: Email::parse(&view.email).ok()?,
        phone: view.phone.as_deref().and_then(|p| Phone::parse(p).ok()),
        notes: view.notes.clone(),
        marketing_consent: None,
    })
}

/// Filters of `GET /api/v1/clients` (documentation; the handler reads the query string
/// through `projections::list`). Dates are RFC 3339 or local dates in the salon's time zone (a
/// date means that whole day).
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub(crate) struct ClientFilters {
    /// How many results to return (1–1000, default 100).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000, example = 20)]
    limit: Option<String>,
    /// How many results to skip.
    #[param(value_type = Option<u32>, minimum = 0, maximum = 1_000_000_000)]
    offset: Option<String>,
    /// Exactly this email address (any case).
    #[param(example = "ada@example.com")]
    email: Option<String>,
    /// Name, email or phone contains this (any case).
    search: Option<String>,
    /// `true`: only archived clients; `false`: only those not archived. Without it archived
    /// clients are left out.
    #[param(value_type = Option<bool>)]
    archived: Option<String>,
    /// `true`: registered by hand (or edited); `false`: only seen in bookings.
    #[param(value_type = Option<bool>)]
    registered: Option<String>,
    /// First seen: `created_at`, `__gt`, `__gte`, `__lt`, `__lte`.
    #[serde(rename = "created_at__gte")]
    #[param(value_type = Option<String>, example = "2027-03-01")]
    created_at_gte: Option<String>,
    #[serde(rename = "created_at__lte")]
    #[param(value_type = Option<String>)]
    created_at_lte: Option<String>,
    /// Latest completed appointment: `last_visit`, `__gt`, `__gte`, `__lt`, `__lte`.
    #[serde(rename = "last_visit__gte")]
    #[param(value_type = Option<String>)]
    last_visit_gte: Option<String>,
    #[serde(rename = "last_visit__lte")]
    #[param(value_type = Option<String>)]
    last_visit_lte: Option<String>,
    /// First completed appointment, with the same lookups.
    #[serde(rename = "first_visit__gte")]
    #[param(value_type = Option<String>)]
    first_visit_gte: Option<String>,
    #[serde(rename = "first_visit__lte")]
    #[param(value_type = Option<String>)]
    first_visit_lte: Option<String>,
    /// Bookings made; also `__in`, `__gt`, `__gte`, `__lt`, `__lte`, and the same for
    /// `upcoming`, `completed`, `no_shows` and `cancellations`.
    #[param(value_type = Option<i64>)]
    bookings_count: Option<String>,
    #[serde(rename = "bookings_count__gte")]
    #[param(value_type = Option<i64>)]
    bookings_count_gte: Option<String>,
    #[param(value_type = Option<i64>)]
    no_shows: Option<String>,
    /// Total spent (integer cents), with the same lookups.
    #[serde(rename = "total_spent_cents__gte")]
    #[param(value_type = Option<i64>)]
    total_spent_cents_gte: Option<String>,
    #[serde(rename = "total_spent_cents__lte")]
    #[param(value_type = Option<i64>)]
    total_spent_cents_lte: Option<String>,
    /// Comma-separated fields, `-` for descending: `created_at` (default), `name`, `email`,
    /// `updated_at`, `first_visit`, `last_visit`, `bookings_count`, `total_spent_cents`.
    #[param(example = "-last_visit,name")]
    ordering: Option<String>,
}

/// Clients, first seen first unless `ordering` says otherwise; archived ones only when asked.
#[utoipa::path(
    get,
    path = "/api/v1/clients",
    operation_id = "list_clients",
    tag = "clients",
    params(ClientFilters),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "One page of clients", body = Paged<ClientView>),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 422, response = crate::openapi::InvalidBody),
        (status = 503, response = crate::openapi::Unavailable),
    ),
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    _who: Integrator,
    mut params: ListParams,
) -> Result<Json<Paged<ClientView>>, Problem> {
    let email = params.take("email");
    let archived_asked = params.get("archived").is_some_and(|a| !a.is_empty());
    let mut query = list::parse(&state, &CLIENT_LIST, &params).await?;
    if !archived_asked {
        query.and_sql("archived = 0");
    }
    if let Some(email) = email.filter(|e| !e.is_empty()) {
        query.and("email_key = {}", Bind::Text(email.to_lowercase()));
    }
    let page = list::run(
        &state,
        &CLIENT_LIST,
        &query,
        &params.uri,
        clients::client_row,
    )
    .await?;
    Ok(Json(page))
}

/// One client, archived or not, with an `ETag` for `If-Match`.
#[utoipa::path(
    get,
    path = "/api/v1/clients/{id}",
    operation_id = "get_client",
    tag = "clients",
    params(("id" = uuid::Uuid, Path, description = "The client's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The client", body = ClientView,
            headers(("ETag" = String, description = "The client's version, for `If-Match`"))),
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
    let id = parse_id(&id)?;
    Ok(answer(
        StatusCode::OK,
        view_or_404(&state, &id.to_string()).await?,
    ))
}

/// Registers a client (`name` and `email` required). A client already seen in bookings is
/// registered with the details given, keeping their booking history.
#[utoipa::path(
    post,
    path = "/api/v1/clients",
    operation_id = "create_client",
    tag = "clients",
    params(("X-Reason" = Option<String>, Header, description = "Why; recorded in the audit trail")),
    request_body = RawClient,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Registered", body = ClientView,
            headers(("Location" = String, description = "`/api/v1/clients/{id}`"),
                    ("ETag" = String, description = "The client's version"))),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 409, description = "A client with this email is registered already (see `Location`)", body = crate::problem::Problem, content_type = "application/problem+json"),
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
    ApiJson(raw): ApiJson<RawClient>,
) -> Result<Response, Problem> {
    who.require_write()?;
    let mut errors = Vec::new();
    if raw.archived.is_some() {
        errors.push(FieldError::new(
            "archived",
            "a client starts active; archive with DELETE",
        ));
    }
    if raw.name.is_none() {
        errors.push(FieldError::new("name", "is required"));
    }
    if raw.email.is_none() {
        errors.push(FieldError::new("email", "is required"));
    }
    let name = parse_field(&mut errors, raw.name.as_deref(), PersonName::parse);
    let email = parse_field(&mut errors, raw.email.as_deref(), Email::parse);
    let phone = parse_field(
        &mut errors,
        raw.phone.as_deref().filter(|p| !p.trim().is_empty()),
        Phone::parse,
    );
    let (Some(name), Some(email), true) = (name, email, errors.is_empty()) else {
        return Err(Problem::validation(errors));
    };
    let details = ClientDetails {
        name,
        email,
        phone,
        notes: raw.notes.unwrap_or_default(),
        marketing_consent: None,
    };
    let id = details.id().to_string();
    let meta = metadata(&who, request_id, reason(&headers));
    let (committed, _) = state
        .bus
        .execute_versioned::<Client>(&id, ClientCommand::Register { details }, &meta)
        .await
        .map_err(|e| {
            let mut p = bus_problem(e, rejected);
            if p.status == 409 {
                p.detail = format!("{} (/api/v1/clients/{id})", p.detail);
            }
            p
        })?;
    wait_clients(&state, committed.position).await;
    let mut response = answer(StatusCode::CREATED, view_or_404(&state, &id).await?);
    if let Ok(location) = HeaderValue::from_str(&format!("/api/v1/clients/{id}")) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// Changes a client (only the fields sent); `archived` archives or restores. With `If-Match`
/// the change applies only to that version (412 otherwise).
#[utoipa::path(
    patch,
    path = "/api/v1/clients/{id}",
    operation_id = "update_client",
    tag = "clients",
    params(("id" = uuid::Uuid, Path, description = "The client's id"),
        ("If-Match" = Option<String>, Header, description = "The `ETag` you read"),
        ("X-Reason" = Option<String>, Header, description = "Why; recorded in the audit trail")),
    request_body = RawClient,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The client as changed", body = ClientView,
            headers(("ETag" = String, description = "The client's new version"))),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, description = "Already archived, or not archived", body = crate::problem::Problem, content_type = "application/problem+json"),
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
    ApiJson(raw): ApiJson<RawClient>,
) -> Result<Response, Problem> {
    who.require_write()?;
    let id = parse_id(&id)?.to_string();
    let mut errors = Vec::new();
    let changes = ClientChanges {
        name: parse_field(&mut errors, raw.name.as_deref(), PersonName::parse),
        email: parse_field(&mut errors, raw.email.as_deref(), Email::parse),
        phone: match raw.phone.as_deref().map(str::trim) {
            None => None,
            Some("") => Some(None),
            Some(p) => parse_field(&mut errors, Some(p), Phone::parse).map(Some),
        },
        notes: raw.notes,
        marketing_consent: None,
    };
    if !errors.is_empty() {
        return Err(Problem::validation(errors));
    }
    let view = view_or_404(&state, &id).await?;
    let learned = learned(&view);
    let meta = metadata(&who, request_id, reason(&headers));
    let mut commands = vec![ClientCommand::Update {
        changes,
        learned: learned.clone(),
    }];
    match raw.archived {
        Some(true) if !view.archived => commands.push(ClientCommand::Archive { learned }),
        Some(false) if view.archived => commands.push(ClientCommand::Restore),
        _ => {}
    }
    let mut expected = if_match.expected();
    let mut last = None;
    for command in commands {
        let (committed, loaded) = state
            .bus
            .execute_at::<Client>(&id, command, &meta, expected)
            .await
            .map_err(|e| bus_problem(e, rejected))?;
        // The second command builds on what the first left.
        expected = Some(loaded.version);
        last = Some((committed, loaded.version));
    }
    let mut view = view_or_404(&state, &id).await?;
    if let Some((committed, version)) = last {
        wait_clients(&state, committed.position).await;
        view = view_or_404(&state, &id).await?;
        // The version written, even if the read model is still catching up.
        view.version = i64::try_from(version).unwrap_or(i64::MAX);
    }
    Ok(answer(StatusCode::OK, view))
}

/// Archives a client: left out of lists (unless `archived=true`), history kept.
#[utoipa::path(
    delete,
    path = "/api/v1/clients/{id}",
    operation_id = "delete_client",
    tag = "clients",
    params(("id" = uuid::Uuid, Path, description = "The client's id"),
        ("If-Match" = Option<String>, Header, description = "The `ETag` you read"),
        ("X-Reason" = Option<String>, Header, description = "Why; recorded in the audit trail")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Archived (the history stays)"),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, description = "Already archived", body = crate::problem::Problem, content_type = "application/problem+json"),
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
    let id = parse_id(&id)?.to_string();
    let view = view_or_404(&state, &id).await?;
    let meta = metadata(&who, request_id, reason(&headers));
    let command = ClientCommand::Archive {
        learned: learned(&view),
    };
    let (committed, loaded) = state
        .bus
        .execute_at::<Client>(&id, command, &meta, if_match.expected())
        .await
        .map_err(|e| bus_problem(e, rejected))?;
    wait_clients(&state, committed.position).await;
    Ok(with_etag(
        StatusCode::NO_CONTENT,
        i64::try_from(loaded.version).unwrap_or(i64::MAX),
    ))
}

/// Forgets a client: deletes the key their personal data in the event log is sealed with, and
/// records `ClientForgotten` (which carries none). Every read model and export shows the client
/// as erased from then on ("Erased client", no email, phone or notes), replays included; their
/// bookings, payments and figures stay. Personal data written before sealing existed (version-1
/// events) stays in the log as plain text but is redacted wherever the log is read. Cannot be
/// undone.
#[utoipa::path(
    delete,
    path = "/api/v1/clients/{id}/personal-data",
    operation_id = "forget_client",
    tag = "clients",
    params(("id" = uuid::Uuid, Path, description = "The client's id"),
        ("X-Reason" = Option<String>, Header, description = "Why; recorded in the audit trail")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Forgotten: the client's key is deleted and the read models scrubbed"),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, description = "Already forgotten", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 503, response = crate::openapi::Unavailable),
    ),
)]
pub(crate) async fn forget(
    State(state): State<AppState>,
    who: Integrator,
    RequestId(request_id): RequestId,
    headers: HeaderMap,
    ApiPath(id): ApiPath<String>,
) -> Result<Response, Problem> {
    who.require_write()?;
    let id = parse_id(&id)?;
    view_or_404(&state, &id.to_string()).await?;
    let meta = metadata(&who, request_id, reason(&headers));
    let committed = commands::clients::forget(&state.bus, id, &meta)
        .await
        .map_err(|e| bus_problem(e, rejected))?;
    crate::settle(
        &state,
        &[Projection::Clients, Projection::Bookings, Projection::Audit],
        committed.position,
    )
    .await;
    Ok(StatusCode::NO_CONTENT.into_response())
}
