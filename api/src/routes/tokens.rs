//! `/api/v1/tokens`: integrators' API tokens. Listing needs any valid token; creating and
//! revoking need the `write` scope. A new token's secret is in the create answer only; the
//! store keeps its SHA-256. Names are unique among tokens not revoked, since the name is what the
//! audit trail shows (`token:<name>`).

use super::catalog::{paginate, PageParams, Paged};
use crate::extract::{ApiJson, ApiPath, ApiQuery, Integrator, RequestId};
use crate::problem::{FieldError, Problem};
use crate::routes::calendars::{metadata, reason};
use crate::AppState;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use commands::CommandError;
use domain::ids::TokenId;
use domain::token::{ApiTokenError, Scope};
use projections::queries::{self, TokenListing};
use serde::{Deserialize, Serialize};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/tokens", get(list).post(create))
        .route("/api/v1/tokens/{id}", get(fetch).delete(revoke))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListParams {
    /// How many results to return (default 100).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000, example = 20)]
    limit: Option<String>,
    /// How many results to skip.
    #[param(value_type = Option<u32>, minimum = 0, maximum = 1_000_000_000, example = 0)]
    offset: Option<String>,
    /// Only tokens of this scope.
    #[param(schema_with = crate::openapi::token_scope)]
    scope: Option<String>,
    /// Only revoked (`true`) or only usable (`false`) tokens.
    #[param(value_type = Option<bool>)]
    revoked: Option<String>,
    /// Only tokens whose name contains this (any case).
    search: Option<String>,
}

/// API tokens, newest first (never their secrets).
#[utoipa::path(
    get,
    path = "/api/v1/tokens",
    operation_id = "list_tokens",
    tag = "tokens",
    params(ListParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "One page of tokens", body = Paged<TokenListing>),
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
) -> Result<Json<Paged<TokenListing>>, Problem> {
    let page = PageParams {
        limit: q.limit.clone(),
        offset: q.offset.clone(),
    }
    .parse();
    let mut errors = page.as_ref().err().cloned().unwrap_or_default();
    let revoked = match q.revoked.as_deref() {
        None | Some("") => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(_) => {
            errors.push(FieldError::new("revoked", "must be true or false"));
            None
        }
    };
    if let Some(scope) = q.scope.as_deref().filter(|s| !s.is_empty()) {
        if Scope::parse(scope).is_err() {
            errors.push(FieldError::new("scope", "must be read or write"));
        }
    }
    let page = match page {
        Ok(p) if errors.is_empty() => p,
        _ => return Err(Problem::validation(errors)),
    };
    let search = q.search.as_deref().map(str::to_lowercase);
    let all: Vec<TokenListing> = queries::tokens(&state.read)
        .await?
        .into_iter()
        .filter(|t| revoked.is_none_or(|r| t.revoked == r))
        .filter(|t| {
            q.scope
                .as_deref()
                .is_none_or(|s| s.is_empty() || t.scope == s)
        })
        .filter(|t| {
            search
                .as_deref()
                .is_none_or(|s| t.name.to_lowercase().contains(s))
        })
        .collect();
    Ok(Json(paginate(all, page, &uri)))
}

async fn find(state: &AppState, id: &str) -> Result<TokenListing, Problem> {
    TokenId::parse(id).map_err(|_| Problem::not_found("No such token."))?;
    queries::tokens(&state.read)
        .await?
        .into_iter()
        .find(|t| t.id == id)
        .ok_or_else(|| Problem::not_found("No such token."))
}

/// One token (never its secret).
#[utoipa::path(
    get,
    path = "/api/v1/tokens/{id}",
    operation_id = "get_token",
    tag = "tokens",
    params(("id" = uuid::Uuid, Path, description = "The token's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The token", body = TokenListing),
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
) -> Result<Json<TokenListing>, Problem> {
    find(&state, &id).await.map(Json)
}

/// A token to create.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[schema(as = TokenRequest, example = json!({"name": "booking-sync", "scope": "read"}))]
pub(crate) struct NewToken {
    /// Unique among tokens in use (any case); the audit trail shows `token:<name>`.
    #[schema(value_type = String, required = true, min_length = 1, max_length = 64)]
    name: Option<String>,
    /// `read` (the default) or `write`.
    #[schema(schema_with = crate::openapi::token_scope)]
    scope: Option<String>,
}

/// A new token: the listing plus its secret, shown this once.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = NewToken, example = json!({
    "id": "0193b1f0-7a3e-7c4d-9a51-3f0e2b9c8d11",
    "name": "booking-sync",
    "scope": "read",
    "revoked": false,
    "created_at": "2027-03-01T09:12:44.102+00:00",
    "last_used_at": null,
    "token": "salon_EXAMPLE-not-a-real-secret"
}))]
pub(crate) struct Created {
    #[serde(flatten)]
    listing: TokenListing,
    /// The secret for `Authorization: Bearer`; only its SHA-256 is kept.
    token: String,
}

fn token_problem(e: CommandError<ApiTokenError>) -> Problem {
    match e {
        CommandError::Rejected(ApiTokenError::Invalid(p)) => {
            Problem::validation(vec![FieldError::new(p.field, p.message)])
        }
        CommandError::Rejected(ApiTokenError::AlreadyRevoked) => Problem::new(
            StatusCode::CONFLICT,
            "already-revoked",
            "Already revoked",
            "This token was revoked before.",
        ),
        CommandError::Rejected(ApiTokenError::NotFound) => Problem::not_found("No such token."),
        CommandError::Rejected(e) => Problem::internal(&e),
        CommandError::Contended => Problem::unavailable("Try again."),
        CommandError::Stale { current, .. } => {
            crate::etag::stale(i64::try_from(current).unwrap_or(i64::MAX))
        }
        CommandError::Store(e) => Problem::store(&e),
    }
}

/// Creates a token; its secret is in this answer only.
#[utoipa::path(
    post,
    path = "/api/v1/tokens",
    operation_id = "create_token",
    tag = "tokens",
    params(("X-Reason" = Option<String>, Header, description = "Why; recorded in the audit trail")),
    request_body(content = NewToken),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Created; `token` is the secret", body = Created),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 413, response = crate::openapi::TooLarge),
        (status = 415, response = crate::openapi::UnsupportedMediaType),
        (status = 422, description = "A name missing, invalid or already used by a token in use, or a scope that is not `read` or `write`", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 503, response = crate::openapi::Unavailable),
    ),
)]
pub(crate) async fn create(
    State(state): State<AppState>,
    who: Integrator,
    RequestId(request_id): RequestId,
    headers: HeaderMap,
    ApiJson(body): ApiJson<NewToken>,
) -> Result<Response, Problem> {
    who.require_write()?;
    let mut errors = Vec::new();
    let name = match body.name.as_deref().map(str::trim) {
        Some(n) if !n.is_empty() => Some(n.to_string()),
        _ => {
            errors.push(FieldError::new("name", "is required"));
            None
        }
    };
    let scope = match body.scope.as_deref().map(str::trim) {
        None | Some("") => Some(Scope::Read),
        Some(s) => match Scope::parse(s) {
            Ok(s) => Some(s),
            Err(_) => {
                errors.push(FieldError::new("scope", "must be read or write"));
                None
            }
        },
    };
    let (Some(name), Some(scope)) = (name, scope) else {
        return Err(Problem::validation(errors));
    };
    let taken = queries::tokens(&state.read)
        .await?
        .into_iter()
        .any(|t| !t.revoked && t.name.eq_ignore_ascii_case(&name));
    if taken {
        return Err(Problem::validation(vec![FieldError::new(
            "name",
            "is already the name of a token in use; the audit trail tells tokens apart by name",
        )]));
    }
    let metadata = metadata(&who, request_id, reason(&headers));
    let token = state
        .bus
        .create_token(&name, scope, &metadata)
        .await
        .map_err(token_problem)?;
    state
        .projections
        .wait_for(
            &[projections::Projection::Tokens],
            token.committed.position,
            state.settings.read_your_writes,
        )
        .await;
    let out = Created {
        listing: find(&state, &token.id.to_string()).await?,
        token: token.secret,
    };
    Ok((StatusCode::CREATED, Json(out)).into_response())
}

/// Revokes a token: it gets 401 from then on.
#[utoipa::path(
    delete,
    path = "/api/v1/tokens/{id}",
    operation_id = "revoke_token",
    tag = "tokens",
    params(
        ("id" = uuid::Uuid, Path, description = "The token's id"),
        ("X-Reason" = Option<String>, Header, description = "Why; recorded in the audit trail"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Revoked"),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, description = "Revoked before", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 503, response = crate::openapi::Unavailable),
    ),
)]
pub(crate) async fn revoke(
    State(state): State<AppState>,
    who: Integrator,
    RequestId(request_id): RequestId,
    headers: HeaderMap,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, Problem> {
    who.require_write()?;
    let token = find(&state, &id).await?;
    let id = TokenId::parse(&token.id).map_err(|_| Problem::not_found("No such token."))?;
    let metadata = metadata(&who, request_id, reason(&headers));
    let committed = state
        .bus
        .revoke_token(id, &metadata)
        .await
        .map_err(token_problem)?;
    state
        .projections
        .wait_for(
            &[projections::Projection::Tokens],
            committed.position,
            state.settings.read_your_writes,
        )
        .await;
    Ok(StatusCode::NO_CONTENT)
}
