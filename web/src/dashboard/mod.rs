//! The partner's dashboard at `/dashboard`: one shared password (`SALON_DASHBOARD_PASSWORD`),
//! read-only pages over the read models (overview with live bookings, booking history, the
//! audit log in sentences, figures as inline SVG, the intake's open entries) and streamed CSV
//! exports. Sessions, CSRF and throttling come from [`crate::auth`].
//!
//! Without a session, pages redirect to the login page; fragments (HTMX) and exports answer
//! 401 (fragments with `HX-Redirect`, so htmx takes the browser to the login page).
//!
//! Map: `mod` (state, routes, login, guard), `pages` (the pages and fragments), `export` (CSV),
//! `charts` (SVG), `intake` (the intake's HTTP listing), `format` (words, money, times).

mod charts;
mod export;
pub(crate) mod format;
mod intake;
mod pages;

use crate::auth::{Realm, Session, Sessions, Throttle};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use projections::{Projections, ReadDb};
use std::net::IpAddr;
use std::sync::Arc;

pub use intake::IntakeSource;

/// The shared password, kept out of logs.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    /// `None` for an empty value (unset).
    pub fn new(value: impl Into<String>) -> Option<Self> {
        let v = value.into();
        (!v.is_empty()).then_some(Self(v))
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(***)")
    }
}

/// How the dashboard runs; from the environment (see the README).
#[derive(Debug, Clone)]
pub struct DashboardConfig {
    /// `SALON_DASHBOARD_PASSWORD`; `None`: the dashboard says it is not configured.
    pub password: Option<Password>,
    /// Cookies get `Secure` (the public URL is https).
    pub secure_cookies: bool,
    /// Where `salon intake` lists its entries (`SALON_INTAKE_URL`, `SALON_INTAKE_TOKEN`).
    pub intake: Option<IntakeSource>,
    /// How long a session lasts (`SALON_DASHBOARD_SESSION_HOURS`, default 12).
    pub session_hours: i64,
    /// Count login failures by the first `X-Forwarded-For` hop (`SALON_TRUST_FORWARDED`, as the
    /// API's rate limits do); otherwise by the connection's peer.
    pub trust_forwarded: bool,
}

impl Default for DashboardConfig {
    fn default() -> Self {
        Self {
            password: None,
            secure_cookies: false,
            intake: None,
            session_hours: 12,
            trust_forwarded: false,
        }
    }
}

/// What every dashboard handler reaches. Cheap to clone.
#[derive(Clone)]
pub struct Dashboard(Arc<Inner>);

struct Inner {
    read: ReadDb,
    projections: Projections,
    sessions: Sessions,
    throttle: Throttle,
    password: Option<Password>,
    intake: Option<IntakeSource>,
    http: reqwest::Client,
    trust_forwarded: bool,
}

/// The dashboard's routes, with their own state; merge into the app's router.
pub fn router<S: Clone + Send + Sync + 'static>(
    read: ReadDb,
    projections: Projections,
    config: DashboardConfig,
) -> Router<S> {
    let sessions = Sessions::new(
        read.clone(),
        Realm::Dashboard,
        config.secure_cookies,
        chrono::Duration::hours(config.session_hours.clamp(1, 24 * 30)),
    );
    let http = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(5))
        .connect_timeout(std::time::Duration::from_secs(3))
        .build()
        .unwrap_or_default();
    let state = Dashboard(Arc::new(Inner {
        read,
        projections,
        sessions,
        throttle: Throttle::default(),
        password: config.password,
        intake: config.intake,
        http,
        trust_forwarded: config.trust_forwarded,
    }));
    Router::new()
        .route("/dashboard/login", get(login_page).post(login))
        .route("/dashboard/logout", post(logout))
        .route("/dashboard", get(pages::overview))
        .route("/dashboard/bookings", get(pages::bookings))
        .route("/dashboard/audit", get(pages::audit))
        .route("/dashboard/figures", get(pages::figures))
        .route("/dashboard/intake", get(pages::intake))
        .route("/dashboard/fragments/live", get(pages::live_fragment))
        .route(
            "/dashboard/fragments/bookings",
            get(pages::bookings_fragment),
        )
        .route("/dashboard/fragments/audit", get(pages::audit_fragment))
        .route("/dashboard/export/bookings.csv", get(export::bookings))
        .route("/dashboard/export/payments.csv", get(export::payments))
        .route("/dashboard/export/audit.csv", get(export::audit))
        .route("/dashboard/assets/{file}", get(asset))
        .layer(axum::middleware::map_response(security_headers))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(panicked))
        .with_state(state)
}

/// No framing (clickjacking of the login and logout forms), nothing loaded from elsewhere, no
/// inline script, no referrer beyond this origin.
pub(crate) async fn security_headers(mut r: Response) -> Response {
    let h = r.headers_mut();
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
        ),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    r
}

fn panicked(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a dashboard handler panicked");
    error_page(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something went wrong showing this page. It has been logged.",
    )
}

/// Every route that needs a session, by kind: what the route sweep test walks.
pub const PAGES: &[&str] = &[
    "/dashboard",
    "/dashboard/bookings",
    "/dashboard/audit",
    "/dashboard/figures",
    "/dashboard/intake",
];
pub const FRAGMENTS: &[&str] = &[
    "/dashboard/fragments/live",
    "/dashboard/fragments/bookings",
    "/dashboard/fragments/audit",
];
pub const EXPORTS: &[&str] = &[
    "/dashboard/export/bookings.csv",
    "/dashboard/export/payments.csv",
    "/dashboard/export/audit.csv",
];

// ---------------------------------------------------------------------------------------------
// The guard

/// Someone logged in to the dashboard, as a page needs them: without a session the browser is
/// sent to the login page (an HTMX request gets 401 with `HX-Redirect` instead).
pub struct PagePartner(pub Session);
/// The same for fragments and exports: without a session, 401.
pub struct ApiPartner(pub Session);

/// Why a request was turned away.
pub enum Denied {
    Login,
    Unauthorized,
    Failed(String),
}

impl IntoResponse for Denied {
    fn into_response(self) -> Response {
        match self {
            Self::Login => Redirect::to("/dashboard/login").into_response(),
            Self::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                [
                    (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
                    (header::HeaderName::from_static("hx-redirect"), "/dashboard/login"),
                    (header::CACHE_CONTROL, "no-store"),
                ],
                "Your dashboard session has ended or was never started. Log in at /dashboard/login.\n",
            )
                .into_response(),
            Self::Failed(message) => error_page(StatusCode::SERVICE_UNAVAILABLE, &message),
        }
    }
}

async fn session_of(parts: &Parts, state: &Dashboard) -> Result<Option<Session>, Denied> {
    if state.0.password.is_none() {
        return Ok(None);
    }
    state.0.sessions.find(&parts.headers).await.map_err(|e| {
        tracing::warn!(error = %e, "could not read dashboard sessions");
        Denied::Failed(
            "The dashboard cannot reach its database right now. Try again in a moment.".into(),
        )
    })
}

fn is_htmx(headers: &HeaderMap) -> bool {
    headers.contains_key("hx-request")
}

impl FromRequestParts<Dashboard> for PagePartner {
    type Rejection = Denied;

    async fn from_request_parts(parts: &mut Parts, state: &Dashboard) -> Result<Self, Denied> {
        match session_of(parts, state).await? {
            Some(s) => Ok(Self(s)),
            None if is_htmx(&parts.headers) => Err(Denied::Unauthorized),
            None => Err(Denied::Login),
        }
    }
}

impl FromRequestParts<Dashboard> for ApiPartner {
    type Rejection = Denied;

    async fn from_request_parts(parts: &mut Parts, state: &Dashboard) -> Result<Self, Denied> {
        session_of(parts, state)
            .await?
            .map(Self)
            .ok_or(Denied::Unauthorized)
    }
}

/// The client's address for the login throttle (see [`crate::auth::client_ip`]).
struct ClientIp(IpAddr);

impl FromRequestParts<Dashboard> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Dashboard,
    ) -> Result<Self, Self::Rejection> {
        Ok(Self(crate::auth::client_ip(parts, state.0.trust_forwarded)))
    }
}

// ---------------------------------------------------------------------------------------------
// Login and logout

#[derive(Template, WebTemplate)]
#[template(path = "dashboard/login.html")]
struct LoginPage {
    configured: bool,
    csrf: String,
    message: Option<String>,
}

pub(crate) fn no_store(mut r: Response) -> Response {
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn login_form(
    state: &Dashboard,
    headers: &HeaderMap,
    status: StatusCode,
    message: Option<String>,
) -> Response {
    let (csrf, cookie) = state.0.sessions.login_token(headers);
    let page = LoginPage {
        configured: true,
        csrf,
        message,
    };
    no_store((status, [(header::SET_COOKIE, cookie)], page).into_response())
}

fn not_configured() -> Response {
    let page = LoginPage {
        configured: false,
        csrf: String::new(),
        message: None,
    };
    no_store((StatusCode::SERVICE_UNAVAILABLE, page).into_response())
}

async fn login_page(State(state): State<Dashboard>, headers: HeaderMap) -> Response {
    if state.0.password.is_none() {
        return not_configured();
    }
    if let Ok(Some(_)) = state.0.sessions.find(&headers).await {
        return Redirect::to("/dashboard").into_response();
    }
    login_form(&state, &headers, StatusCode::OK, None)
}

#[derive(Debug, serde::Deserialize)]
struct LoginForm {
    password: Option<String>,
    csrf: Option<String>,
}

async fn login(
    State(state): State<Dashboard>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    form: Result<axum::Form<LoginForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let Some(password) = state.0.password.clone() else {
        return not_configured();
    };
    let Ok(axum::Form(form)) = form else {
        return login_form(
            &state,
            &headers,
            StatusCode::BAD_REQUEST,
            Some("The form could not be read. Please try again.".into()),
        );
    };
    if !state
        .0
        .sessions
        .login_token_ok(&headers, form.csrf.as_deref())
    {
        return login_form(
            &state,
            &headers,
            StatusCode::FORBIDDEN,
            Some("This form has expired or did not come from this page. Please enter the password again.".into()),
        );
    }
    if let Some(wait) = state.0.throttle.refused(ip) {
        tracing::warn!(%ip, "dashboard login throttled");
        let secs = wait.as_secs().max(1);
        let mut r = login_form(
            &state,
            &headers,
            StatusCode::TOO_MANY_REQUESTS,
            Some(format!(
                "Too many wrong passwords in the last minute. Please wait {secs} seconds before trying again."
            )),
        );
        if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return r;
    }
    let given = form.password.unwrap_or_default();
    if !crate::auth::same_secret(&given, &password.0) {
        state.0.throttle.failed(ip);
        tracing::info!(%ip, "wrong dashboard password");
        return login_form(
            &state,
            &headers,
            StatusCode::UNAUTHORIZED,
            Some("That password is not right. Please try again.".into()),
        );
    }
    match state.0.sessions.create("partner").await {
        Ok((id, _)) => no_store(
            (
                StatusCode::SEE_OTHER,
                [
                    (header::SET_COOKIE, state.0.sessions.set_cookie(&id)),
                    (header::LOCATION, HeaderValue::from_static("/dashboard")),
                ],
            )
                .into_response(),
        ),
        Err(e) => {
            tracing::warn!(error = %e, "could not store a dashboard session");
            error_page(
                StatusCode::SERVICE_UNAVAILABLE,
                "The dashboard cannot reach its database right now. Try again in a moment.",
            )
        }
    }
}

#[derive(Debug, serde::Deserialize)]
struct LogoutForm {
    csrf: Option<String>,
}

async fn logout(
    State(state): State<Dashboard>,
    PagePartner(session): PagePartner,
    headers: HeaderMap,
    form: Result<axum::Form<LogoutForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let sent = form.ok().and_then(|axum::Form(f)| f.csrf);
    if !sent.is_some_and(|s| crate::auth::same_secret(&s, &session.csrf)) {
        return error_page(
            StatusCode::FORBIDDEN,
            "This form has expired or did not come from the dashboard. Go back, reload the page and try again.",
        );
    }
    if let Err(e) = state.0.sessions.end(&headers).await {
        tracing::warn!(error = %e, "could not end a dashboard session");
    }
    no_store(
        (
            StatusCode::SEE_OTHER,
            [
                (header::SET_COOKIE, state.0.sessions.clear_cookie()),
                (
                    header::LOCATION,
                    HeaderValue::from_static("/dashboard/login"),
                ),
            ],
        )
            .into_response(),
    )
}

#[derive(Template, WebTemplate)]
#[template(path = "dashboard/error.html")]
struct ErrorPage<'a> {
    message: &'a str,
}

/// A page that says what went wrong, in words.
pub(crate) fn error_page(status: StatusCode, message: &str) -> Response {
    no_store((status, ErrorPage { message }).into_response())
}

// ---------------------------------------------------------------------------------------------
// Assets

const HTMX: &[u8] = include_bytes!("../../dashboard/htmx.min.js");
const CSS: &[u8] = include_bytes!("../../dashboard/dashboard.css");
const JS: &[u8] = include_bytes!("../../dashboard/dashboard.js");

async fn asset(axum::extract::Path(file): axum::extract::Path<String>) -> Response {
    let (ty, body) = match file.as_str() {
        "htmx.min.js" => ("text/javascript; charset=utf-8", HTMX),
        "dashboard.js" => ("text/javascript; charset=utf-8", JS),
        "dashboard.css" => ("text/css; charset=utf-8", CSS),
        _ => return error_page(StatusCode::NOT_FOUND, "There is no such file."),
    };
    (
        [
            (header::CONTENT_TYPE, ty),
            (header::CACHE_CONTROL, "no-cache"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
        .into_response()
}
