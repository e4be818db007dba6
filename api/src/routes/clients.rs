//! `/api/v1/clients` (bearer token; changes need the write scope): the salon's clients, one per
//! email address, registered by hand or learned from bookings, with their booking figures.
//! DELETE archives (the history stays); `PATCH {"archived": false}` restores.

use crate::extract::{ApiJson, ApiPath, ApiQuery, Integrator, RequestId};
use crate::problem::{FieldError, Problem};
use crate::resource::{
    execute_expecting, if_match, stale, with_etag, Parse, VersionedError, RANGE_SUFFIXES,
};
use crate::routes::calendars::{metadata, reason};
use crate::routes::catalog::{page_of, PageParams, Paged};
use crate::AppState;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use domain::client::{Client, ClientChanges, ClientCommand, ClientDetails, ClientError};
use domain::ids::ClientId;
use domain::values::{Email, PersonName, Phone};
use migrations::LogPosition;
use projections::clients::{self, ClientFilter, ClientView, CLIENT_ORDERING};
use projections::queries;
use projections::Projection;
use serde::Deserialize;
use std::collections::HashMap;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/clients", get(list).post(create))
        .route(
            "/api/v1/clients/{id}",
            get(fetch).patch(update).delete(remove),
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

fn command_problem(e: VersionedError<ClientError>) -> Problem {
    match e {
        VersionedError::Rejected(ClientError::Invalid(p)) => Problem::validation(vec![p.into()]),
        VersionedError::Rejected(ClientError::NotFound) => Problem::not_found(NOT_FOUND),
        VersionedError::Rejected(e @ ClientError::EmailIsIdentity) => {
            Problem::validation(vec![FieldError::new("email", e.to_string())])
        }
        VersionedError::Rejected(e @ ClientError::AlreadyExists) => Problem::new(
            StatusCode::CONFLICT,
            "client-exists",
            "The client exists",
            e.to_string(),
        ),
        VersionedError::Rejected(e) => {
            Problem::new(StatusCode::CONFLICT, "conflict", "Conflict", e.to_string())
        }
        VersionedError::Stale => stale(),
        VersionedError::Contended => Problem::unavailable("Busy; try again."),
        VersionedError::Store(e) => Problem::store(&e),
    }
}

fn parse_id(raw: &str) -> Result<ClientId, Problem> {
    ClientId::parse(raw).map_err(|_| Problem::not_found(NOT_FOUND))
}

async fn wait_clients(state: &AppState, position: LogPosition) {
    if !state.settings.read_your_writes.is_zero() {
        state
            .projections
            .wait_for(
                &[Projection::Clients],
                position,
                state.settings.read_your_writes,
            )
            .await;
    }
}

async fn view_or_404(state: &AppState, id: &str) -> Result<ClientView, Problem> {
    clients::client(&state.read, id)
        .await?
        .ok_or_else(|| Problem::not_found(NOT_FOUND))
}

fn answer(status: StatusCode, view: ClientView) -> Response {
    let version = view.version;
    let mut response = (status, Json(view)).into_response();
    with_etag(response.headers_mut(), version);
    response
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
    })
}

// The names are the query parameters' (django-filter's `field__lookup`).
#[allow(non_snake_case)]
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListParams {
    /// How many results to return (default 100).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000, example = 20)]
    limit: Option<String>,
    /// How many results to skip.
    #[param(value_type = Option<u32>, minimum = 0, maximum = 1_000_000_000, example = 0)]
    offset: Option<String>,
    /// Exactly this email address (any case).
    email: Option<String>,
    /// Name, email or phone contains this (any case).
    search: Option<String>,
    /// `true`: only archived clients; `false` (the default): only those not archived.
    #[param(value_type = Option<bool>)]
    archived: Option<String>,
    /// `true`: only clients registered by hand; `false`: only those seen in bookings alone.
    #[param(value_type = Option<bool>)]
    registered: Option<String>,
    /// First seen at or after (RFC 3339, or a date in the salon's time zone); also `__gt`.
    #[param(value_type = Option<String>, example = "2027-03-01")]
    created_at__gte: Option<String>,
    #[param(value_type = Option<String>)]
    created_at__gt: Option<String>,
    /// First seen at or before; also `__lt`.
    #[param(value_type = Option<String>)]
    created_at__lte: Option<String>,
    #[param(value_type = Option<String>)]
    created_at__lt: Option<String>,
    /// Latest visit (completed appointment) from; also `__gt`, `__lte`, `__lt`.
    #[param(value_type = Option<String>)]
    last_visit__gte: Option<String>,
    #[param(value_type = Option<String>)]
    last_visit__gt: Option<String>,
    #[param(value_type = Option<String>)]
    last_visit__lte: Option<String>,
    #[param(value_type = Option<String>)]
    last_visit__lt: Option<String>,
    /// First visit from; also `__lte`.
    #[param(value_type = Option<String>)]
    first_visit__gte: Option<String>,
    #[param(value_type = Option<String>)]
    first_visit__lte: Option<String>,
    /// Exactly this many bookings; also `__gte`, `__lte`.
    #[param(value_type = Option<u32>)]
    bookings_count: Option<String>,
    #[param(value_type = Option<u32>)]
    bookings_count__gte: Option<String>,
    #[param(value_type = Option<u32>)]
    bookings_count__lte: Option<String>,
    /// Total spent at least / at most (integer cents).
    #[param(value_type = Option<u32>)]
    total_spent_cents__gte: Option<String>,
    #[param(value_type = Option<u32>)]
    total_spent_cents__lte: Option<String>,
    /// Comma-separated fields, `-` for descending: `name`, `email`, `created_at` (default),
    /// `updated_at`, `first_visit`, `last_visit`, `bookings_count`, `total_spent_cents`.
    #[param(example = "-last_visit,name")]
    ordering: Option<String>,
}

impl ListParams {
    fn fields(&self) -> HashMap<&'static str, Option<&str>> {
        HashMap::from([
            ("created_at__gte", self.created_at__gte.as_deref()),
            ("created_at__gt", self.created_at__gt.as_deref()),
            ("created_at__lte", self.created_at__lte.as_deref()),
            ("created_at__lt", self.created_at__lt.as_deref()),
            ("last_visit__gte", self.last_visit__gte.as_deref()),
            ("last_visit__gt", self.last_visit__gt.as_deref()),
            ("last_visit__lte", self.last_visit__lte.as_deref()),
            ("last_visit__lt", self.last_visit__lt.as_deref()),
            ("first_visit__gte", self.first_visit__gte.as_deref()),
            ("first_visit__lte", self.first_visit__lte.as_deref()),
            ("bookings_count__gte", self.bookings_count__gte.as_deref()),
            ("bookings_count__lte", self.bookings_count__lte.as_deref()),
            (
                "total_spent_cents__gte",
                self.total_spent_cents__gte.as_deref(),
            ),
            (
                "total_spent_cents__lte",
                self.total_spent_cents__lte.as_deref(),
            ),
        ])
    }
}

/// Clients, first seen first unless `ordering` says otherwise; archived ones only when asked.
#[utoipa::path(
    get,
    path = "/api/v1/clients",
    operation_id = "list_clients",
    tag = "clients",
    params(ListParams),
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
    uri: Uri,
    ApiQuery(q): ApiQuery<ListParams>,
) -> Result<Json<Paged<ClientView>>, Problem> {
    let page = PageParams {
        limit: q.limit.clone(),
        offset: q.offset.clone(),
    }
    .parse();
    let mut p = Parse::default();
    if let Err(errors) = &page {
        p.errors.extend(errors.iter().cloned());
    }
    let tz = queries::salon(&state.read).await?.time_zone;
    let fields = q.fields();
    let mut filter = ClientFilter {
        email: q.email.clone().filter(|e| !e.trim().is_empty()),
        search: q.search.clone(),
        archived: Some(
            p.boolean("archived", q.archived.as_deref())
                .unwrap_or(false),
        ),
        registered: p.boolean("registered", q.registered.as_deref()),
        ..Default::default()
    };
    for (suffix, op) in RANGE_SUFFIXES {
        let field = |base: &str| format!("{base}{suffix}");
        let get = |base: &str| fields.get(field(base).as_str()).copied().flatten();
        if let Some(t) = p.instant(&field("created_at"), get("created_at"), tz) {
            filter.created.push((op, t.timestamp_millis()));
        }
        if let Some(t) = p.instant(&field("last_visit"), get("last_visit"), tz) {
            filter.last_visit.push((op, t.timestamp()));
        }
        if let Some(t) = p.instant(&field("first_visit"), get("first_visit"), tz) {
            filter.first_visit.push((op, t.timestamp()));
        }
        if let Some(n) = p.int(&field("bookings_count"), get("bookings_count"), 0, i64::MAX) {
            filter.bookings_count.push((op, n));
        }
        if let Some(n) = p.int(
            &field("total_spent_cents"),
            get("total_spent_cents"),
            0,
            i64::MAX,
        ) {
            filter.total_spent_cents.push((op, n));
        }
    }
    if let Some(n) = p.int("bookings_count", q.bookings_count.as_deref(), 0, i64::MAX) {
        filter
            .bookings_count
            .push((projections::listing::Cmp::Eq, n));
    }
    let order = p.ordering(q.ordering.as_deref(), CLIENT_ORDERING);
    p.finish()?;
    let page = page.map_err(Problem::validation)?;
    let (count, results) =
        clients::clients(&state.read, &filter, &order, page.limit, page.offset).await?;
    Ok(Json(page_of(results, count, page, &uri)))
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
    };
    let id = details.id().to_string();
    let meta = metadata(&who, request_id, reason(&headers));
    let committed = execute_expecting::<Client>(
        &state,
        &id,
        ClientCommand::Register { details },
        None,
        &meta,
    )
    .await
    .map_err(|e| {
        let mut p = command_problem(e);
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
        ("If-Match" = Option<String>, Header, description = "The `ETag` the change is based on"),
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
        (status = 412, description = "`If-Match` names an older version", body = crate::problem::Problem, content_type = "application/problem+json"),
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
    ApiPath(id): ApiPath<String>,
    ApiJson(raw): ApiJson<RawClient>,
) -> Result<Response, Problem> {
    who.require_write()?;
    let id = parse_id(&id)?.to_string();
    let expected = if_match(&headers)?;
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
    let mut expected = expected;
    let mut last = None;
    for command in commands {
        let committed = execute_expecting::<Client>(&state, &id, command, expected, &meta)
            .await
            .map_err(command_problem)?;
        // The second command builds on the first: expect what the first left.
        expected = expected.map(|v| v + committed.events);
        last = Some(committed);
    }
    if let Some(committed) = last {
        wait_clients(&state, committed.position).await;
    }
    Ok(answer(StatusCode::OK, view_or_404(&state, &id).await?))
}

/// Archives a client: left out of lists (unless `archived=true`), history kept.
#[utoipa::path(
    delete,
    path = "/api/v1/clients/{id}",
    operation_id = "delete_client",
    tag = "clients",
    params(("id" = uuid::Uuid, Path, description = "The client's id"),
        ("If-Match" = Option<String>, Header, description = "The `ETag` the change is based on"),
        ("X-Reason" = Option<String>, Header, description = "Why; recorded in the audit trail")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Archived (the history stays)"),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, description = "Already archived", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 412, description = "`If-Match` names an older version", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 503, response = crate::openapi::Unavailable),
    ),
)]
pub(crate) async fn remove(
    State(state): State<AppState>,
    who: Integrator,
    RequestId(request_id): RequestId,
    headers: HeaderMap,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, Problem> {
    who.require_write()?;
    let id = parse_id(&id)?.to_string();
    let expected = if_match(&headers)?;
    let view = view_or_404(&state, &id).await?;
    let meta = metadata(&who, request_id, reason(&headers));
    let command = ClientCommand::Archive {
        learned: learned(&view),
    };
    let committed = execute_expecting::<Client>(&state, &id, command, expected, &meta)
        .await
        .map_err(command_problem)?;
    wait_clients(&state, committed.position).await;
    Ok(StatusCode::NO_CONTENT)
}
