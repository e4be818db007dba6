//! Extractors that turn raw requests into typed input or a problem+json answer: JSON and raw
//! bodies, path parameters, query strings, the request id, and bearer-token authentication.

use crate::problem::Problem;
use crate::AppState;
use axum::body::Bytes;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

/// A JSON body; a bad one answers 400 (syntax), 413 (too large), 415 (not JSON) or 422 (wrong
/// shape) as problem+json.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Problem> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Self(v)),
            Err(rejection) => Err(json_problem(rejection)),
        }
    }
}

fn json_problem(rejection: JsonRejection) -> Problem {
    body_problem(rejection.status(), rejection.body_text())
}

fn body_problem(status: StatusCode, detail: String) -> Problem {
    match status {
        StatusCode::UNSUPPORTED_MEDIA_TYPE => Problem::new(
            status,
            "unsupported-media-type",
            "Unsupported media type",
            "Send the body as application/json.",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => Problem::new(
            status,
            "too-large",
            "Request body too large",
            "The body is larger than this endpoint accepts.",
        ),
        StatusCode::UNPROCESSABLE_ENTITY => Problem::new(
            status,
            "invalid-body",
            "The body has the wrong shape",
            detail,
        ),
        StatusCode::BAD_REQUEST => Problem::new(status, "malformed-json", "Malformed JSON", detail),
        _ => Problem::new(status, "bad-body", "Unreadable body", detail),
    }
}

/// A raw body (up to the API's limit); one too large answers 413, an unreadable one 400, as
/// problem+json.
pub struct ApiBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for ApiBody {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Problem> {
        Bytes::from_request(req, state)
            .await
            .map(Self)
            .map_err(|rejection| body_problem(rejection.status(), rejection.body_text()))
    }
}

/// Path parameters; ones that cannot be read (percent-encoding that is not UTF-8) answer 400 as
/// problem+json.
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(Self(v)),
            // A route whose parameters do not fit its handler: a bug, not the caller's fault.
            Err(rejection) if rejection.status().is_server_error() => {
                Err(Problem::internal(&rejection.body_text()))
            }
            Err(rejection) => Err(Problem::bad_request(rejection.body_text())),
        }
    }
}

/// A query string; a malformed one answers 400 as problem+json.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(Self(v)),
            Err(rejection) => Err(query_problem(rejection)),
        }
    }
}

fn query_problem(rejection: QueryRejection) -> Problem {
    Problem::bad_request(rejection.body_text())
}

/// This request's id: the caller's `X-Request-Id` when it is sane, else a fresh UUID. Set by
/// the request-id middleware, echoed in the response, recorded in event metadata.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

impl<S: Send + Sync> FromRequestParts<S> for RequestId {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<RequestId>()
            .cloned()
            .unwrap_or_else(|| RequestId(uuid::Uuid::new_v4().to_string())))
    }
}

/// An integrator authenticated by `Authorization: Bearer <token>`. Missing, unknown and revoked
/// tokens are all answered 401 with `WWW-Authenticate`, without saying which.
#[derive(Debug, Clone)]
pub struct Integrator {
    pub id: String,
    pub name: String,
    pub scope: String,
}

/// When this process last recorded each token's use: the usage table is written at most once a
/// minute per token, not on every request.
#[derive(Debug, Default)]
pub struct TokenUsage(std::sync::Mutex<std::collections::HashMap<String, std::time::Instant>>);

impl TokenUsage {
    const EVERY: std::time::Duration = std::time::Duration::from_secs(60);

    /// True when `id`'s use should be recorded now (and notes that it is).
    fn due(&self, id: &str) -> bool {
        let mut seen = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let now = std::time::Instant::now();
        match seen.get(id) {
            Some(at) if now.duration_since(*at) < Self::EVERY => false,
            _ => {
                if seen.len() > 10_000 {
                    seen.clear();
                }
                seen.insert(id.to_string(), now);
                true
            }
        }
    }
}

impl Integrator {
    pub fn actor(&self) -> String {
        format!("token:{}", self.name)
    }

    /// Writes need a `write` token; a `read` token gets 403.
    pub fn require_write(&self) -> Result<(), Problem> {
        if self.scope == "write" {
            Ok(())
        } else {
            Err(Problem::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "Forbidden",
                "This token may only read; writes need a token with the write scope.",
            ))
        }
    }
}

impl Integrator {
    /// Authenticates from the request's headers (what the extractor does).
    pub async fn from_headers(
        headers: &axum::http::HeaderMap,
        state: &AppState,
    ) -> Result<Self, Problem> {
        let header = headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| Problem::unauthorized("Send Authorization: Bearer <token>."))?;
        let secret = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|s| !s.is_empty() && s.len() <= 256)
            .ok_or_else(|| Problem::unauthorized("Send Authorization: Bearer <token>."))?;
        let hash = commands::tokens::hash_secret(secret);
        let token = projections::queries::token_by_hash(&state.read, &hash).await?;
        match token {
            Some(t) if !t.revoked => {
                if let Err(wait) = state.limits.tokens.take(&t.id, std::time::Instant::now()) {
                    return Err(crate::limit::too_many(wait, "requests with this token"));
                }
                if state.token_usage.due(&t.id) {
                    let at = chrono::Utc::now().to_rfc3339();
                    // Best effort: a failed write must not fail the request.
                    if let Err(e) = projections::queries::touch_token(&state.read, &t.id, &at).await
                    {
                        tracing::debug!(error = %e, "could not record a token's use");
                    }
                }
                Ok(Self {
                    id: t.id,
                    name: t.name,
                    scope: t.scope,
                })
            }
            _ => Err(Problem::unauthorized("The token is not valid.")),
        }
    }
}

impl FromRequestParts<AppState> for Integrator {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Problem> {
        Self::from_headers(&parts.headers, state).await
    }
}

/// Someone allowed to watch the live alerts (`/events/stream`): any API token holder, whatever
/// its scope, or the partner logged in to the dashboard (its session cookie; the browser's
/// `EventSource` sends cookies, not headers), or an owner logged in to the panel.
#[derive(Debug, Clone)]
pub enum Watcher {
    Integrator(Integrator),
    Dashboard(web::auth::Session),
    Panel(web::auth::Session),
}

impl Watcher {
    /// Who is watching, as an audit actor (`token:<name>`, `partner`); for logs.
    pub fn actor(&self) -> String {
        match self {
            Self::Integrator(i) => i.actor(),
            Self::Dashboard(s) => s.subject.clone(),
            Self::Panel(s) => format!("owner:{}", s.subject),
        }
    }
}

impl FromRequestParts<AppState> for Watcher {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Problem> {
        // A bearer token, when sent, decides: a bad token is not rescued by a cookie.
        if parts
            .headers
            .contains_key(axum::http::header::AUTHORIZATION)
        {
            return Integrator::from_request_parts(parts, state)
                .await
                .map(Self::Integrator);
        }
        let sessions = async {
            if let Some(s) =
                web::auth::find(&state.read, web::auth::Realm::Admin, &parts.headers).await?
            {
                return Ok(Some(Self::Panel(s)));
            }
            web::auth::find(&state.read, web::auth::Realm::Dashboard, &parts.headers)
                .await
                .map(|s| s.map(Self::Dashboard))
        };
        match sessions.await {
            Ok(Some(watcher)) => Ok(watcher),
            Ok(None) => Err(Problem::unauthorized(
                "Send Authorization: Bearer <token>, or log in to the panel or the dashboard.",
            )),
            Err(e) => {
                tracing::warn!(error = %e, "could not read dashboard sessions");
                Err(Problem::unavailable(
                    "The store is unreachable; try again shortly.",
                ))
            }
        }
    }
}
