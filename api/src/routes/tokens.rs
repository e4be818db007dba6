//! `/api/v1/tokens`: integrators' API tokens. Listing needs any valid token; creating and
//! revoking need the `write` scope. A new token's secret is in the create answer only; the
//! store keeps its SHA-256. Names are unique among tokens not revoked, since the name is what the
//! audit trail shows (`token:<name>`).

use super::catalog::{paginate, PageParams, Paged};
use crate::extract::{ApiJson, ApiQuery, Integrator, RequestId};
use crate::problem::{FieldError, Problem};
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use commands::CommandError;
use domain::ids::TokenId;
use domain::metadata::{EventMetadata, Source};
use domain::token::{ApiTokenError, Scope};
use projections::queries::{self, TokenListing};
use serde::Deserialize;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/tokens", get(list).post(create))
        .route("/api/v1/tokens/{id}", get(fetch).delete(revoke))
}

#[derive(Debug, Deserialize)]
struct ListParams {
    limit: Option<String>,
    offset: Option<String>,
    scope: Option<String>,
    revoked: Option<String>,
    search: Option<String>,
}

async fn list(
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

async fn fetch(
    State(state): State<AppState>,
    _who: Integrator,
    Path(id): Path<String>,
) -> Result<Json<TokenListing>, Problem> {
    find(&state, &id).await.map(Json)
}

#[derive(Debug, Deserialize)]
struct NewToken {
    name: Option<String>,
    scope: Option<String>,
}

fn reason(headers: &HeaderMap) -> Option<String> {
    headers
        .get("x-reason")
        .and_then(|v| v.to_str().ok())
        .map(|r| r.chars().take(500).collect())
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
        CommandError::Store(e) => Problem::store(&e),
    }
}

async fn create(
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
    let metadata = EventMetadata::new(who.actor(), Source::Api)
        .with_request_id(request_id)
        .with_reason(reason(&headers));
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
    let mut out = serde_json::to_value(find(&state, &token.id.to_string()).await?)
        .map_err(|e| Problem::internal(&e))?;
    out["token"] = serde_json::Value::String(token.secret);
    Ok((StatusCode::CREATED, Json(out)).into_response())
}

async fn revoke(
    State(state): State<AppState>,
    who: Integrator,
    RequestId(request_id): RequestId,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<StatusCode, Problem> {
    who.require_write()?;
    let token = find(&state, &id).await?;
    let id = TokenId::parse(&token.id).map_err(|_| Problem::not_found("No such token."))?;
    let metadata = EventMetadata::new(who.actor(), Source::Api)
        .with_request_id(request_id)
        .with_reason(reason(&headers));
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
