//! Outgoing webhooks for integrators (`/api/v1/webhooks`, bearer token; writes need the write
//! scope). `routes::webhooks` is the other direction: Stripe calling salon.
//!
//! The signing secret is in the answer to create and to `rotate-secret`, and nowhere else:
//! lists and reads show its fingerprint only.

use crate::extract::{ApiJson, ApiPath, ApiQuery, Integrator, RequestId};
use crate::problem::{FieldError, Problem};
use crate::routes::calendars::{metadata, reason};
use crate::routes::catalog::{page_of, paginate, PageParams, Paged};
use crate::AppState;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use commands::webhooks::{DeliveryRecord, WebhooksError};
use commands::CommandError;
use domain::ids::WebhookSubscriptionId;
use domain::webhook::{
    WebhookChanges, WebhookCommand, WebhookError, WebhookSettings, WebhookSubscription, ALL_EVENTS,
};
use migrations::LogPosition;
use projections::webhooks::{self, WebhookView};
use projections::Projection;
use serde::{Deserialize, Serialize};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/webhooks", get(list).post(create))
        .route(
            "/api/v1/webhooks/{id}",
            get(fetch).patch(update).delete(remove),
        )
        .route("/api/v1/webhooks/{id}/rotate-secret", post(rotate_secret))
        .route("/api/v1/webhooks/{id}/deliveries", get(deliveries))
        .route("/api/v1/webhooks/{id}/ping", post(ping))
}

/// What a client sends to create (all but `url` optional; `events` defaults to `["*"]`) or to
/// change a subscription (only what is sent changes; `active: false` pauses).
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawWebhook {
    url: Option<String>,
    events: Option<Vec<String>>,
    description: Option<String>,
    active: Option<bool>,
}

/// A subscription with its secret: the answer to create and rotate-secret, the only time the
/// secret is shown.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct WithSecret {
    #[serde(flatten)]
    view: WebhookView,
    secret: String,
}

const NOT_FOUND: &str = "No such webhook subscription.";

fn fields(problems: Vec<(&'static str, String)>) -> Vec<FieldError> {
    problems
        .into_iter()
        .map(|(f, m)| FieldError::new(f, m))
        .collect()
}

fn command_problem(e: CommandError<WebhookError>) -> Problem {
    match e {
        CommandError::Rejected(WebhookError::Invalid(p)) => Problem::validation(fields(p)),
        CommandError::Rejected(WebhookError::NotFound | WebhookError::Deleted) => {
            Problem::not_found(NOT_FOUND)
        }
        CommandError::Rejected(e @ WebhookError::Paused) => {
            Problem::new(StatusCode::CONFLICT, "paused", "Paused", e.to_string())
        }
        CommandError::Rejected(e @ WebhookError::AlreadyExists) => {
            Problem::new(StatusCode::CONFLICT, "conflict", "Conflict", e.to_string())
        }
        CommandError::Rejected(e @ WebhookError::BadFingerprint) => Problem::internal(&e),
        CommandError::Contended => Problem::unavailable("Busy; try again."),
        CommandError::Stale { current, .. } => {
            crate::etag::stale(i64::try_from(current).unwrap_or(i64::MAX))
        }
        CommandError::Store(e) => Problem::store(&e),
    }
}

fn webhooks_problem(e: WebhooksError) -> Problem {
    match e {
        WebhooksError::Command(e) => command_problem(e),
        WebhooksError::Sql(e) if migrations::is_unavailable(&e) => {
            tracing::warn!(error = %e, "store unreachable");
            Problem::unavailable("The store is unreachable; try again shortly.")
        }
        other => Problem::internal(&other),
    }
}

fn parse_id(id: &str) -> Result<WebhookSubscriptionId, Problem> {
    WebhookSubscriptionId::parse(id).map_err(|_| Problem::not_found(NOT_FOUND))
}

async fn wait_webhooks(state: &AppState, position: LogPosition) {
    crate::settle(state, &[Projection::Webhooks], position).await;
}

async fn view_or_404(state: &AppState, id: &str) -> Result<WebhookView, Problem> {
    webhooks::webhook_subscription(&state.read, id)
        .await?
        .ok_or_else(|| Problem::not_found(NOT_FOUND))
}

/// Webhook subscriptions (never their secrets).
#[utoipa::path(
    get,
    path = "/api/v1/webhooks",
    operation_id = "list_webhooks",
    tag = "webhooks",
    params(PageParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "One page of subscriptions", body = Paged<WebhookView>),
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
    ApiQuery(params): ApiQuery<PageParams>,
) -> Result<Json<Paged<WebhookView>>, Problem> {
    let page = params.parse().map_err(Problem::validation)?;
    let all = webhooks::webhook_subscriptions(&state.read).await?;
    Ok(Json(paginate(all, page, &uri)))
}

/// One subscription.
#[utoipa::path(
    get,
    path = "/api/v1/webhooks/{id}",
    operation_id = "get_webhook",
    tag = "webhooks",
    params(("id" = uuid::Uuid, Path, description = "The subscription's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The subscription", body = WebhookView,
            headers(("ETag" = String, description = "The subscription's version, for `If-Match`"))),
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
    parse_id(&id)?;
    let view = view_or_404(&state, &id).await?;
    let version = state
        .bus
        .load_fresh::<WebhookSubscription>(&id)
        .await
        .map_err(|e| Problem::store(&e))?
        .version;
    Ok(crate::etag::with_etag(Json(view), version as i64))
}

/// Subscribes a URL to events; the signing secret is in this answer only.
#[utoipa::path(
    post,
    path = "/api/v1/webhooks",
    operation_id = "create_webhook",
    tag = "webhooks",
    params(("X-Reason" = Option<String>, Header, description = "Why; recorded in the audit trail")),
    request_body = RawWebhook,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Created; `secret` is shown this once", body = WithSecret),
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
    ApiJson(raw): ApiJson<RawWebhook>,
) -> Result<Response, Problem> {
    who.require_write()?;
    if raw.active.is_some() {
        return Err(Problem::validation(vec![FieldError::new(
            "active",
            "a subscription starts active; pause it with PATCH",
        )]));
    }
    let settings = WebhookSettings {
        url: raw.url.unwrap_or_default(),
        events: raw.events.unwrap_or_else(|| vec![ALL_EVENTS.to_string()]),
        description: raw.description.unwrap_or_default(),
    };
    // Checked before a secret is made for it.
    let settings = settings
        .normalized()
        .map_err(|p| Problem::validation(fields(p)))?;
    let meta = metadata(&who, request_id, reason(&headers));
    let created = state
        .webhooks
        .create(settings, &meta)
        .await
        .map_err(webhooks_problem)?;
    wait_webhooks(&state, created.committed.position).await;
    let id = created.id.to_string();
    let view = view_or_404(&state, &id).await?;
    let body = WithSecret {
        view,
        secret: created.secret.expose().to_string(),
    };
    let mut response = (StatusCode::CREATED, Json(body)).into_response();
    if let Ok(location) = HeaderValue::from_str(&format!("/api/v1/webhooks/{id}")) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// Changes what is sent (only the fields given), pauses or resumes.
#[utoipa::path(
    patch,
    path = "/api/v1/webhooks/{id}",
    operation_id = "update_webhook",
    tag = "webhooks",
    params(("id" = uuid::Uuid, Path, description = "The subscription's id"),
        ("If-Match" = Option<String>, Header, description = "The `ETag` you read; the change is made only if the subscription is still at that version"),
        ("X-Reason" = Option<String>, Header, description = "Why; recorded in the audit trail")),
    request_body = RawWebhook,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The subscription as changed (`active: false` pauses)", body = WebhookView,
            headers(("ETag" = String, description = "The subscription's new version"))),
        (status = 412, response = crate::openapi::PreconditionFailed),
        (status = 409, description = "The subscription is paused (ping) or the change conflicts", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
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
    if_match: crate::etag::IfMatch,
    ApiPath(id): ApiPath<String>,
    ApiJson(raw): ApiJson<RawWebhook>,
) -> Result<Response, Problem> {
    who.require_write()?;
    parse_id(&id)?;
    let changes = WebhookChanges {
        url: raw.url,
        events: raw.events,
        description: raw.description,
        active: raw.active,
    };
    let meta = metadata(&who, request_id, reason(&headers));
    let (committed, loaded) = state
        .bus
        .execute_at::<WebhookSubscription>(
            &id,
            WebhookCommand::Update(changes),
            &meta,
            if_match.expected(),
        )
        .await
        .map_err(command_problem)?;
    wait_webhooks(&state, committed.position).await;
    let view = view_or_404(&state, &id).await?;
    Ok(crate::etag::with_etag(Json(view), loaded.version as i64))
}

/// Deletes a subscription: nothing more is sent to it.
#[utoipa::path(
    delete,
    path = "/api/v1/webhooks/{id}",
    operation_id = "delete_webhook",
    tag = "webhooks",
    params(("id" = uuid::Uuid, Path, description = "The subscription's id"), ("X-Reason" = Option<String>, Header, description = "Why; recorded in the audit trail")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted (its history stays in the log)"),
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
    headers: HeaderMap,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, Problem> {
    who.require_write()?;
    let subscription = parse_id(&id)?;
    let meta = metadata(&who, request_id, reason(&headers));
    let committed = state
        .webhooks
        .delete(subscription, &meta)
        .await
        .map_err(webhooks_problem)?;
    wait_webhooks(&state, committed.position).await;
    Ok(StatusCode::NO_CONTENT)
}

/// Makes a new signing secret.
#[utoipa::path(
    post,
    path = "/api/v1/webhooks/{id}/rotate-secret",
    operation_id = "rotate_webhook_secret",
    tag = "webhooks",
    params(("id" = uuid::Uuid, Path, description = "The subscription's id"), ("X-Reason" = Option<String>, Header, description = "Why; recorded in the audit trail")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A new `secret`, shown this once; the old one stops at once", body = WithSecret),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        (status = 503, response = crate::openapi::Unavailable),
    ),
)]
pub(crate) async fn rotate_secret(
    State(state): State<AppState>,
    who: Integrator,
    RequestId(request_id): RequestId,
    headers: HeaderMap,
    ApiPath(id): ApiPath<String>,
) -> Result<Response, Problem> {
    who.require_write()?;
    let subscription = parse_id(&id)?;
    let meta = metadata(&who, request_id, reason(&headers));
    let (secret, committed) = state
        .webhooks
        .rotate(subscription, &meta)
        .await
        .map_err(webhooks_problem)?;
    wait_webhooks(&state, committed.position).await;
    let body = WithSecret {
        view: view_or_404(&state, &id).await?,
        secret: secret.expose().to_string(),
    };
    let mut response = Json(body).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// The delivery log: every attempt, its status and outcome.
#[utoipa::path(
    get,
    path = "/api/v1/webhooks/{id}/deliveries",
    operation_id = "list_webhook_deliveries",
    tag = "webhooks",
    params(("id" = uuid::Uuid, Path, description = "The subscription's id"), PageParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "One page of delivery attempts, newest first", body = Paged<DeliveryRecord>),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 404, response = crate::openapi::NotFound),
        (status = 422, response = crate::openapi::InvalidBody),
        (status = 503, response = crate::openapi::Unavailable),
    ),
)]
pub(crate) async fn deliveries(
    State(state): State<AppState>,
    _who: Integrator,
    uri: Uri,
    ApiPath(id): ApiPath<String>,
    ApiQuery(params): ApiQuery<PageParams>,
) -> Result<Json<Paged<DeliveryRecord>>, Problem> {
    parse_id(&id)?;
    let page = params.parse().map_err(Problem::validation)?;
    view_or_404(&state, &id).await?;
    let (count, rows) = state
        .webhooks
        .deliveries(&id, page.limit, page.offset)
        .await
        .map_err(webhooks_problem)?;
    Ok(Json(page_of(rows, count, page, &uri)))
}

/// The answer to a ping: the test delivery's item id (its `Salon-Event-Id`).
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct Queued {
    id: String,
    status: &'static str,
}

/// Queues a test delivery (`salon.ping`).
#[utoipa::path(
    post,
    path = "/api/v1/webhooks/{id}/ping",
    operation_id = "ping_webhook",
    tag = "webhooks",
    params(("id" = uuid::Uuid, Path, description = "The subscription's id"), ("X-Reason" = Option<String>, Header, description = "Why; recorded in the audit trail")),
    security(("bearer" = [])),
    responses(
        (status = 202, description = "A test delivery is queued", body = Queued),
        (status = 409, description = "The subscription is paused (ping) or the change conflicts", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        (status = 503, response = crate::openapi::Unavailable),
    ),
)]
pub(crate) async fn ping(
    State(state): State<AppState>,
    who: Integrator,
    RequestId(request_id): RequestId,
    headers: HeaderMap,
    ApiPath(id): ApiPath<String>,
) -> Result<Response, Problem> {
    who.require_write()?;
    parse_id(&id)?;
    let meta = metadata(&who, request_id, reason(&headers));
    let (committed, _) = state
        .bus
        .execute::<WebhookSubscription>(&id, WebhookCommand::Ping, &meta)
        .await
        .map_err(command_problem)?;
    let body = Queued {
        id: format!("webhook:{id}:{}", committed.position.position),
        status: "queued",
    };
    Ok((StatusCode::ACCEPTED, Json(body)).into_response())
}
