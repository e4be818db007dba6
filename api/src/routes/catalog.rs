//! Public catalog reads for the booking site: the salon's settings, and services and stylists
//! paged with the DRF envelope `{count, next, previous, results}`.

use crate::extract::{ApiPath, ApiQuery};
use crate::problem::{FieldError, Problem};
use crate::AppState;
use axum::extract::State;
use axum::http::Uri;
use axum::routing::get;
use axum::{Json, Router};
use projections::queries::{self, ServiceView, StylistView};
use serde::{Deserialize, Serialize};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/salon", get(salon))
        .route("/api/v1/services", get(list_services))
        .route("/api/v1/services/{id}", get(get_service))
        .route("/api/v1/stylists", get(list_stylists))
        .route("/api/v1/stylists/{id}", get(get_stylist))
}

pub const DEFAULT_LIMIT: usize = 100;
pub const MAX_LIMIT: usize = 1000;

/// `limit` and `offset` as sent (strings, so a bad value gets a field error, not a 400 blob).
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// How many results to return (default 100).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000, example = 20)]
    pub limit: Option<String>,
    /// How many results to skip.
    #[param(value_type = Option<u32>, minimum = 0, maximum = 1_000_000_000, example = 0)]
    pub offset: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub limit: usize,
    pub offset: usize,
}

impl PageParams {
    pub fn parse(&self) -> Result<Page, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut number =
            |field: &str, raw: &Option<String>, default: usize, max: usize, min: usize| -> usize {
                match raw.as_deref().map(str::trim) {
                    None | Some("") => default,
                    Some(text) => match text.parse::<usize>() {
                        Ok(n) if n >= min && n <= max => n,
                        _ => {
                            errors.push(FieldError::new(
                                field,
                                format!("must be a whole number from {min} to {max}"),
                            ));
                            default
                        }
                    },
                }
            };
        let limit = number("limit", &self.limit, DEFAULT_LIMIT, MAX_LIMIT, 1);
        let offset = number("offset", &self.offset, 0, 1_000_000_000, 0);
        if errors.is_empty() {
            Ok(Page { limit, offset })
        } else {
            Err(errors)
        }
    }
}

/// The DRF list envelope: one page of `results` out of `count`, with links to the pages
/// around it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Paged<T> {
    /// How many results there are in all pages.
    pub count: usize,
    /// The next page (path and query), or null on the last.
    #[schema(example = "/api/v1/services?limit=2&offset=2")]
    pub next: Option<String>,
    /// The previous page (path and query), or null on the first.
    #[schema(example = json!(null))]
    pub previous: Option<String>,
    pub results: Vec<T>,
}

fn link(uri: &Uri, limit: usize, offset: usize) -> String {
    let mut pairs: Vec<String> = uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty() && !p.starts_with("limit=") && !p.starts_with("offset="))
        .map(str::to_string)
        .collect();
    pairs.push(format!("limit={limit}"));
    pairs.push(format!("offset={offset}"));
    format!("{}?{}", uri.path(), pairs.join("&"))
}

/// Pages an in-memory list (the catalog is small: a salon has tens of services, not thousands).
pub fn paginate<T>(all: Vec<T>, page: Page, uri: &Uri) -> Paged<T> {
    let count = all.len();
    let results = all.into_iter().skip(page.offset).take(page.limit).collect();
    page_of(results, count, page, uri)
}

/// The envelope of one page already cut out of `count` rows (by the database's LIMIT/OFFSET).
pub fn page_of<T>(results: Vec<T>, count: usize, page: Page, uri: &Uri) -> Paged<T> {
    let next =
        (page.offset + page.limit < count).then(|| link(uri, page.limit, page.offset + page.limit));
    let previous =
        (page.offset > 0).then(|| link(uri, page.limit, page.offset.saturating_sub(page.limit)));
    Paged {
        count,
        next,
        previous,
        results,
    }
}

/// The salon's name, time zone, currency and booking policy (what the booking site shows).
#[utoipa::path(
    get,
    path = "/api/v1/salon",
    operation_id = "get_salon",
    tag = "catalog",
    responses(
        (status = 200, description = "The salon", body = queries::SalonView),
        (status = 503, response = crate::openapi::Unavailable),
    ),
)]
pub(crate) async fn salon(
    State(state): State<AppState>,
) -> Result<Json<queries::SalonView>, Problem> {
    Ok(Json(queries::salon(&state.read).await?))
}

/// The services on the menu, archived ones left out.
#[utoipa::path(
    get,
    path = "/api/v1/services",
    operation_id = "list_services",
    tag = "catalog",
    params(PageParams),
    responses(
        (status = 200, description = "One page of services", body = Paged<ServiceView>),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 422, response = crate::openapi::InvalidBody),
        (status = 503, response = crate::openapi::Unavailable),
    ),
)]
pub(crate) async fn list_services(
    State(state): State<AppState>,
    uri: Uri,
    ApiQuery(params): ApiQuery<PageParams>,
) -> Result<Json<Paged<ServiceView>>, Problem> {
    let page = params.parse().map_err(Problem::validation)?;
    let all = queries::services(&state.read, false).await?;
    Ok(Json(paginate(all, page, &uri)))
}

/// One service, archived or not.
#[utoipa::path(
    get,
    path = "/api/v1/services/{id}",
    operation_id = "get_service",
    tag = "catalog",
    params(("id" = uuid::Uuid, Path, description = "The service's id", example = "77d5de2f-6c6f-5291-90df-5ba039e90a05")),
    responses(
        (status = 200, description = "The service", body = ServiceView),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 404, response = crate::openapi::NotFound),
        (status = 503, response = crate::openapi::Unavailable),
    ),
)]
pub(crate) async fn get_service(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<ServiceView>, Problem> {
    domain::ids::ServiceId::parse(&id).map_err(|_| Problem::not_found("No such service."))?;
    queries::service(&state.read, &id)
        .await?
        .map(Json)
        .ok_or_else(|| Problem::not_found("No such service."))
}

/// The stylists, with their services, weekly hours and time off; archived ones left out.
#[utoipa::path(
    get,
    path = "/api/v1/stylists",
    operation_id = "list_stylists",
    tag = "catalog",
    params(PageParams),
    responses(
        (status = 200, description = "One page of stylists", body = Paged<StylistView>),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 422, response = crate::openapi::InvalidBody),
        (status = 503, response = crate::openapi::Unavailable),
    ),
)]
pub(crate) async fn list_stylists(
    State(state): State<AppState>,
    uri: Uri,
    ApiQuery(params): ApiQuery<PageParams>,
) -> Result<Json<Paged<StylistView>>, Problem> {
    let page = params.parse().map_err(Problem::validation)?;
    let all = queries::stylists(&state.read, false).await?;
    Ok(Json(paginate(all, page, &uri)))
}

/// One stylist, archived or not.
#[utoipa::path(
    get,
    path = "/api/v1/stylists/{id}",
    operation_id = "get_stylist",
    tag = "catalog",
    params(("id" = uuid::Uuid, Path, description = "The stylist's id", example = "c44e923e-60e5-58b4-a805-a80b72143357")),
    responses(
        (status = 200, description = "The stylist", body = StylistView),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 404, response = crate::openapi::NotFound),
        (status = 503, response = crate::openapi::Unavailable),
    ),
)]
pub(crate) async fn get_stylist(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<StylistView>, Problem> {
    domain::ids::StylistId::parse(&id).map_err(|_| Problem::not_found("No such stylist."))?;
    queries::stylist(&state.read, &id)
        .await?
        .map(Json)
        .ok_or_else(|| Problem::not_found("No such stylist."))
}
