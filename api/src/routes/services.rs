//! `/api/v1/services`: the menu. Reading is public (the booking site lists it); adding,
//! changing and archiving take a `write` token. Every answer about one service carries its
//! `ETag`; `PATCH` and `DELETE` honour `If-Match`. Deleting archives: the service leaves the
//! menu and the booking site, while the bookings and history that name it stay.

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
use axum::routing::get;
use axum::{Json, Router};
use domain::ids::ServiceId;
use domain::service::{Service, ServiceCommand, ServiceDetails, ServiceError, ServicePatch};
use domain::values::{Cents, Currency};
use projections::queries::{self, ServiceView, SERVICE_LIST};
use projections::Projection;
use serde::Deserialize;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/services", get(list).post(create))
        .route(
            "/api/v1/services/{id}",
            get(fetch).patch(update).delete(archive),
        )
}

/// Filters of `GET /api/v1/services` (documentation; the handler reads the query string
/// through `projections::list`).
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub(crate) struct ServiceFilters {
    /// How many results to return (1–1000, default 100).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000, example = 20)]
    limit: Option<String>,
    /// How many results to skip.
    #[param(value_type = Option<u32>, minimum = 0, maximum = 1_000_000_000)]
    offset: Option<String>,
    /// `true` (the default: the menu), `false` (archived only) or `all`.
    #[param(value_type = Option<String>, pattern = "^(true|false|all|1|0)$")]
    active: Option<String>,
    /// Case-insensitive text in the name or description.
    search: Option<String>,
    /// Exact name.
    name: Option<String>,
    #[param(value_type = Option<uuid::Uuid>)]
    id: Option<String>,
    #[param(value_type = Option<i64>)]
    duration_minutes: Option<String>,
    #[serde(rename = "duration_minutes__gte")]
    #[param(value_type = Option<i64>)]
    duration_minutes_gte: Option<String>,
    #[serde(rename = "duration_minutes__lte")]
    #[param(value_type = Option<i64>)]
    duration_minutes_lte: Option<String>,
    /// Price in cents.
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
    /// ISO 4217 code.
    currency: Option<String>,
    /// Comma-separated fields, `-` for descending: `menu` (default), `name`,
    /// `duration_minutes`, `price_cents`, `deposit_cents`.
    #[param(example = "-price_cents")]
    ordering: Option<String>,
}

/// The services on the menu; filters as documented, archived ones only when asked for.
#[utoipa::path(
    get,
    path = "/api/v1/services",
    operation_id = "list_services",
    tag = "catalog",
    params(ServiceFilters),
    responses(
        (status = 200, description = "One page of services", body = Paged<ServiceView>),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 422, response = crate::openapi::InvalidBody),
        (status = 503, response = crate::openapi::Unavailable),
    ),
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    mut params: ListParams,
) -> Result<Json<Paged<ServiceView>>, Problem> {
    let active = params.take("active");
    let mut query = list::parse(&state, &SERVICE_LIST, &params).await?;
    list::only_active(&mut query, active.as_deref())?;
    let page = list::run(
        &state,
        &SERVICE_LIST,
        &query,
        &params.uri,
        queries::service_row,
    )
    .await?;
    Ok(Json(page))
}

async fn view_or_404(state: &AppState, id: &str) -> Result<ServiceView, Problem> {
    queries::service(&state.read, id)
        .await?
        .ok_or_else(|| Problem::not_found("No such service."))
}

fn parse_id(id: &str) -> Result<ServiceId, Problem> {
    ServiceId::parse(id).map_err(|_| Problem::not_found("No such service."))
}

/// One service, archived or not, with its `ETag`.
#[utoipa::path(
    get,
    path = "/api/v1/services/{id}",
    operation_id = "get_service",
    tag = "catalog",
    params(("id" = uuid::Uuid, Path, description = "The service's id", example = "77d5de2f-6c6f-5291-90df-5ba039e90a05")),
    responses(
        (status = 200, description = "The service", body = ServiceView,
            headers(("ETag" = String, description = "The service's version, for `If-Match`"))),
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

/// A service as sent: every field optional here so that missing ones are reported together.
/// Creating needs `name`, `duration_minutes` and `price_cents`; a change sends any subset.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ServiceSettings, example = json!({
    "name": "Loc retwist", "description": "Palm-roll retwist of new growth.",
    "duration_minutes": 90, "buffer_before_minutes": 0, "buffer_after_minutes": 15,
    "price_cents": 9500, "deposit_cents": 2500, "currency": "USD"
}))]
pub(crate) struct RawService {
    #[schema(min_length = 1, max_length = 100)]
    name: Option<String>,
    #[schema(max_length = 2000)]
    description: Option<String>,
    /// 5 to 720, in steps of 5.
    #[schema(minimum = 5, maximum = 720, multiple_of = 5)]
    duration_minutes: Option<u32>,
    #[schema(minimum = 0, maximum = 240)]
    buffer_before_minutes: Option<u32>,
    #[schema(minimum = 0, maximum = 240)]
    buffer_after_minutes: Option<u32>,
    #[schema(minimum = 0, maximum = 100_000_000)]
    price_cents: Option<i64>,
    /// Due when booking; never more than the price.
    #[schema(minimum = 0, maximum = 100_000_000)]
    deposit_cents: Option<i64>,
    /// ISO 4217 code (default: the salon's, USD).
    #[schema(example = "USD", pattern = "^[A-Za-z]{3}$")]
    currency: Option<String>,
    /// `false` archives the service, `true` puts it back on the menu (changes only).
    active: Option<bool>,
}

impl RawService {
    fn patch(self, errors: &mut Vec<FieldError>) -> ServicePatch {
        let cents = |field: &str, v: Option<i64>, errors: &mut Vec<FieldError>| {
            v.and_then(|c| match Cents::new(c) {
                Ok(c) => Some(c),
                Err(e) => {
                    errors.push(FieldError::new(field, e.message));
                    None
                }
            })
        };
        let price_cents = cents("price_cents", self.price_cents, errors);
        let deposit_cents = cents("deposit_cents", self.deposit_cents, errors);
        let currency = self
            .currency
            .as_deref()
            .and_then(|c| crate::routes::bookings::parse("", Currency::parse(c), errors));
        ServicePatch {
            name: self.name,
            description: self.description,
            duration_minutes: self.duration_minutes,
            buffer_before_minutes: self.buffer_before_minutes,
            buffer_after_minutes: self.buffer_after_minutes,
            price_cents,
            deposit_cents,
            currency,
            active: self.active,
        }
    }
}

fn rejected(e: ServiceError) -> Problem {
    match e {
        ServiceError::Invalid(p) => Problem::validation(vec![p.into()]),
        ServiceError::NotFound => Problem::not_found("No such service."),
        other => Problem::new(
            StatusCode::CONFLICT,
            "conflict",
            "Conflict",
            other.to_string(),
        ),
    }
}

/// Adds a service to the menu.
#[utoipa::path(
    post,
    path = "/api/v1/services",
    operation_id = "create_service",
    tag = "catalog",
    params(("X-Reason" = Option<String>, Header, description = "Why; recorded in the audit trail")),
    request_body(content = RawService),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Added", body = ServiceView,
            headers(("Location" = String, description = "`/api/v1/services/{id}`"),
                    ("ETag" = String, description = "The service's version"))),
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
    ApiJson(raw): ApiJson<RawService>,
) -> Result<Response, Problem> {
    who.require_write()?;
    let mut errors = Vec::new();
    if raw.active.is_some() {
        errors.push(FieldError::new(
            "active",
            "is for changes; a new service is on the menu",
        ));
    }
    for (field, missing) in [
        ("name", raw.name.is_none()),
        ("duration_minutes", raw.duration_minutes.is_none()),
        ("price_cents", raw.price_cents.is_none()),
    ] {
        if missing {
            errors.push(FieldError::new(field, "is required"));
        }
    }
    let currency = salon_currency(&state, raw.currency.as_deref(), &mut errors).await?;
    let patch = raw.patch(&mut errors);
    if !errors.is_empty() {
        return Err(Problem::validation(errors));
    }
    let details = ServiceDetails {
        name: patch.name.unwrap_or_default(),
        description: patch.description.unwrap_or_default(),
        duration_minutes: patch.duration_minutes.unwrap_or_default(),
        buffer_before_minutes: patch.buffer_before_minutes.unwrap_or_default(),
        buffer_after_minutes: patch.buffer_after_minutes.unwrap_or_default(),
        price_cents: patch.price_cents.unwrap_or_default(),
        deposit_cents: patch.deposit_cents.unwrap_or_default(),
        currency,
    };
    let id = ServiceId::new();
    let meta = metadata(&who, request_id, reason(&headers));
    let (committed, loaded) = state
        .bus
        .execute_versioned::<Service>(
            &id.to_string(),
            ServiceCommand::Create { id, details },
            &meta,
        )
        .await
        .map_err(|e| bus_problem(e, rejected))?;
    crate::settle(&state, &[Projection::Catalog], committed.position).await;
    let view = view_or_404(&state, &id.to_string()).await?;
    Ok(crate::etag::created(
        Json(view),
        loaded.version as i64,
        &format!("/api/v1/services/{id}"),
    ))
}

/// Changes some of a service's fields; `active: false` archives it, `true` restores it.
#[utoipa::path(
    patch,
    path = "/api/v1/services/{id}",
    operation_id = "update_service",
    tag = "catalog",
    params(
        ("id" = uuid::Uuid, Path, description = "The service's id"),
        ("If-Match" = Option<String>, Header, description = "The `ETag` you read; the change is made only if the service is still at that version"),
        ("X-Reason" = Option<String>, Header, description = "Why; recorded in the audit trail"),
    ),
    request_body(content = RawService),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The service as it is now", body = ServiceView,
            headers(("ETag" = String, description = "The service's new version"))),
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
    ApiJson(raw): ApiJson<RawService>,
) -> Result<Response, Problem> {
    who.require_write()?;
    let sid = parse_id(&id)?;
    let mut errors = Vec::new();
    if raw.currency.is_some() {
        salon_currency(&state, raw.currency.as_deref(), &mut errors).await?;
    }
    let patch = raw.patch(&mut errors);
    if !errors.is_empty() {
        return Err(Problem::validation(errors));
    }
    let meta = metadata(&who, request_id, reason(&headers));
    let (committed, loaded) = state
        .bus
        .execute_at::<Service>(
            &sid.to_string(),
            ServiceCommand::Change(patch),
            &meta,
            if_match.expected(),
        )
        .await
        .map_err(|e| bus_problem(e, rejected))?;
    if loaded.state.id.is_none() {
        return Err(Problem::not_found("No such service."));
    }
    crate::settle(&state, &[Projection::Catalog], committed.position).await;
    let view = view_or_404(&state, &id).await?;
    Ok(with_etag(Json(view), loaded.version as i64))
}

/// Archives a service: it leaves the menu and the booking site; bookings that name it and its
/// history stay. Archiving an archived service changes nothing.
#[utoipa::path(
    delete,
    path = "/api/v1/services/{id}",
    operation_id = "delete_service",
    tag = "catalog",
    params(
        ("id" = uuid::Uuid, Path, description = "The service's id"),
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
    let patch = ServicePatch {
        active: Some(false),
        ..Default::default()
    };
    let meta = metadata(&who, request_id, reason(&headers));
    let (committed, loaded) = state
        .bus
        .execute_at::<Service>(
            &sid.to_string(),
            ServiceCommand::Change(patch),
            &meta,
            if_match.expected(),
        )
        .await
        .map_err(|e| bus_problem(e, rejected))?;
    crate::settle(&state, &[Projection::Catalog], committed.position).await;
    Ok(with_etag(StatusCode::NO_CONTENT, loaded.version as i64))
}

/// One salon, one currency: a service is priced in the salon's currency. A `currency` sent
/// must name it (a field error otherwise); the salon's currency is the answer either way.
async fn salon_currency(
    state: &AppState,
    sent: Option<&str>,
    errors: &mut Vec<FieldError>,
) -> Result<Currency, Problem> {
    let salon = queries::salon(&state.read).await?;
    let own = Currency::parse(&salon.currency).unwrap_or_else(|_| Currency::usd());
    if let Some(sent) = sent {
        match Currency::parse(sent) {
            Ok(c) if c == own => {}
            Ok(_) => errors.push(FieldError::new(
                "currency",
                format!(
                    "must be the salon's currency, {} (change the salon's currency in its settings)",
                    own.as_str()
                ),
            )),
            Err(e) => errors.push(FieldError::new("currency", e.message)),
        }
    }
    Ok(own)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negative_money_is_a_field_error() {
        let raw = RawService {
            price_cents: Some(-1),
            deposit_cents: Some(200_000_000),
            currency: Some("dollars".into()),
            ..Default::default()
        };
        let mut errors = Vec::new();
        raw.patch(&mut errors);
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["price_cents", "deposit_cents", "currency"]);
    }
}
