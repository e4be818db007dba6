//! The owner's panel at `/admin`: server-rendered pages (askama) and plain forms, with htmx
//! fragments where a page changes in place (the bookings list's filters, the free times of the
//! booking form, the day refreshed by live alerts), over owner accounts ([`accounts`]),
//! database sessions, CSRF tokens and the login throttle of [`crate::auth`]. Every page works
//! without JavaScript.
//!
//! Reads come from the read models only; every write is a command on the same
//! [`commands::CommandBus`] the API uses, with `owner:<email>` as the actor, `panel` as the
//! source and the reason the owner typed, so the audit log tells who did what and why. After a
//! write the panel waits (briefly) for the read models to include it, then redirects (POST,
//! redirect, GET), so the next page shows the change.
//!
//! Without a session pages redirect to the login page; fragments answer 401 with
//! `HX-Redirect`. Every form POST carries the session's CSRF token (the login form a
//! double-submit token) or is refused with 403 before anything is read or written.
//!
//! Map: `mod` (state, routes, guard, login, forms, writes), `accounts` (owner accounts),
//! `appointments` (day, week, bookings, one booking and its actions, booking by hand),
//! `team` (stylists and services), `pictures` (their photos and the logo), `moderation`
//! (reviews), `settings` (the salon, calendar sources, API tokens, owner accounts), `setup`
//! (first-run setup), `imports` (a client list from another product), `view` (words, times,
//! field errors).

// Helpers that fail with a finished page (`Response`) are on the failure path, once per request;
// boxing the page would cost an allocation there and gain nothing.
#![allow(clippy::result_large_err)]

/// The value of a read, or (from the handler) the page saying why it failed.
macro_rules! or_page {
    ($read:expr) => {
        match $read {
            Ok(v) => v,
            Err(e) => return $crate::admin::failed(e),
        }
    };
}

pub mod accounts;
mod appointments;
mod imports;
mod moderation;
mod pictures;
mod settings;
pub mod setup;
mod team;
mod view;

use crate::auth::{Realm, Session, Sessions, Throttle};
use askama::Template;
use askama_web::WebTemplate;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use commands::calendars::CalendarSync;
use commands::CommandBus;
use domain::metadata::{EventMetadata, Source};
use migrations::LogPosition;
use projections::{Projection, Projections, ReadDb};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

pub use view::Errors;

/// How the panel runs; from the environment (see the README).
#[derive(Debug, Clone)]
pub struct AdminConfig {
    /// Cookies get `Secure` (the public URL is https).
    pub secure_cookies: bool,
    /// How long a session lasts (`SALON_ADMIN_SESSION_HOURS`, default 12).
    pub session_hours: i64,
    /// Count login failures by the first `X-Forwarded-For` hop (`SALON_TRUST_FORWARDED`).
    pub trust_forwarded: bool,
    /// How long a write waits for the read models before redirecting.
    pub read_your_writes: Duration,
}

impl Default for AdminConfig {
    fn default() -> Self {
        Self {
            secure_cookies: false,
            session_hours: 12,
            trust_forwarded: false,
            read_your_writes: Duration::from_secs(2),
        }
    }
}

/// What the panel writes and reads through.
#[derive(Clone)]
pub struct AdminDeps {
    pub read: ReadDb,
    pub projections: Projections,
    pub bus: CommandBus,
    pub calendars: Arc<CalendarSync>,
}

/// What every panel handler reaches. Cheap to clone.
#[derive(Clone)]
pub struct Admin(Arc<Inner>);

struct Inner {
    deps: AdminDeps,
    sessions: Sessions,
    throttle: Throttle,
    config: AdminConfig,
}

impl Admin {
    fn read(&self) -> &ReadDb {
        &self.0.deps.read
    }
    fn bus(&self) -> &CommandBus {
        &self.0.deps.bus
    }

    /// Waits until every read model has applied the log up to `at` (bounded).
    async fn settle(&self, at: LogPosition) {
        let wait = self.0.config.read_your_writes;
        if !wait.is_zero() {
            self.0
                .deps
                .projections
                .wait_for(&Projection::ALL, at, wait)
                .await;
        }
    }
}

/// The panel's routes, with their own state; merge into the app's router.
pub fn router<S: Clone + Send + Sync + 'static>(deps: AdminDeps, config: AdminConfig) -> Router<S> {
    let sessions = Sessions::new(
        deps.read.clone(),
        Realm::Admin,
        config.secure_cookies,
        chrono::Duration::hours(config.session_hours.clamp(1, 24 * 30)),
    );
    let state = Admin(Arc::new(Inner {
        deps,
        sessions,
        throttle: Throttle::default(),
        config,
    }));
    Router::new()
        .route("/admin/login", get(login_page).post(login))
        .route("/admin/logout", post(logout))
        .route("/admin/assets/{file}", get(asset))
        .merge(appointments::routes())
        .merge(team::routes())
        .merge(moderation::routes())
        .merge(settings::routes())
        .merge(setup::routes())
        .merge(imports::routes())
        .merge(pictures::routes())
        .layer(axum::middleware::map_response(
            crate::dashboard::security_headers,
        ))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(panicked))
        .with_state(state)
}

fn panicked(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("an owner panel handler panicked");
    error_page(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something went wrong showing this page. It has been logged.",
    )
}

/// Every page that needs a session: what the route sweep test walks (ids in paths are
/// placeholders the test fills in).
pub const PAGES: &[&str] = &[
    "/admin",
    "/admin/week",
    "/admin/bookings",
    "/admin/bookings/new",
    "/admin/bookings/{booking}",
    "/admin/stylists",
    "/admin/stylists/new",
    "/admin/stylists/{stylist}",
    "/admin/services",
    "/admin/services/new",
    "/admin/services/{service}",
    "/admin/reviews",
    "/admin/calendars",
    "/admin/tokens",
    "/admin/settings",
    "/admin/accounts",
    "/admin/import",
];
/// Fragments (htmx): 401 without a session.
pub const FRAGMENTS: &[&str] = &["/admin/fragments/day", "/admin/fragments/bookings"];
/// Every form target: refused without a valid CSRF token (and without a session).
pub const FORMS: &[&str] = &[
    "/admin/logout",
    "/admin/bookings",
    "/admin/bookings/{booking}/move",
    "/admin/bookings/{booking}/cancel",
    "/admin/bookings/{booking}/no-show",
    "/admin/bookings/{booking}/complete",
    "/admin/bookings/{booking}/notes",
    "/admin/bookings/{booking}/forget-client",
    "/admin/stylists",
    "/admin/stylists/{stylist}",
    "/admin/stylists/{stylist}/hours",
    "/admin/stylists/{stylist}/time-off",
    "/admin/stylists/{stylist}/time-off/{time_off}/remove",
    "/admin/stylists/{stylist}/archive",
    "/admin/services",
    "/admin/services/{service}",
    "/admin/services/{service}/archive",
    "/admin/reviews/{review}",
    "/admin/calendars",
    "/admin/calendars/{source}/sync",
    "/admin/calendars/{source}/remove",
    "/admin/tokens",
    "/admin/tokens/{token}/revoke",
    "/admin/settings",
    "/admin/accounts",
    "/admin/accounts/remove",
    "/admin/import",
    "/admin/stylists/{stylist}/photo",
    "/admin/stylists/{stylist}/photo/remove",
    "/admin/services/{service}/picture",
    "/admin/services/{service}/picture/remove",
    "/admin/settings/logo",
    "/admin/settings/logo/remove",
];

// ---------------------------------------------------------------------------------------------
// The guard

/// An owner logged in, as a page needs them: without a session the browser is sent to the
/// login page (an htmx request gets 401 with `HX-Redirect` instead).
pub struct Owner(pub Session);
/// The same for fragments: without a session, 401.
pub struct FragmentOwner(pub Session);

/// Why a request was turned away.
pub enum Denied {
    Login,
    Unauthorized,
    Failed(String),
}

impl IntoResponse for Denied {
    fn into_response(self) -> Response {
        match self {
            Self::Login => Redirect::to("/admin/login").into_response(),
            Self::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                [
                    (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
                    (
                        header::HeaderName::from_static("hx-redirect"),
                        "/admin/login",
                    ),
                    (header::CACHE_CONTROL, "no-store"),
                ],
                "Your session has ended or was never started. Log in at /admin/login.\n",
            )
                .into_response(),
            Self::Failed(message) => error_page(StatusCode::SERVICE_UNAVAILABLE, &message),
        }
    }
}

const UNREACHABLE: &str = "The panel cannot reach its database right now. Try again in a moment.";

/// The session of the request, when it is an admin session of an account that still exists.
async fn session_of(headers: &HeaderMap, state: &Admin) -> Result<Option<Session>, Denied> {
    let session = state.0.sessions.find(headers).await.map_err(|e| {
        tracing::warn!(error = %e, "could not read panel sessions");
        Denied::Failed(UNREACHABLE.into())
    })?;
    let Some(session) = session else {
        return Ok(None);
    };
    match accounts::find(state.read(), &session.subject).await {
        Ok(Some(_)) => Ok(Some(session)),
        Ok(None) => Ok(None),
        Err(e) => {
            tracing::warn!(error = %e, "could not read owner accounts");
            Err(Denied::Failed(UNREACHABLE.into()))
        }
    }
}

fn is_htmx(headers: &HeaderMap) -> bool {
    headers.contains_key("hx-request")
}

impl FromRequestParts<Admin> for Owner {
    type Rejection = Denied;

    async fn from_request_parts(parts: &mut Parts, state: &Admin) -> Result<Self, Denied> {
        match session_of(&parts.headers, state).await? {
            Some(s) => Ok(Self(s)),
            None if is_htmx(&parts.headers) => Err(Denied::Unauthorized),
            None => Err(Denied::Login),
        }
    }
}

impl FromRequestParts<Admin> for FragmentOwner {
    type Rejection = Denied;

    async fn from_request_parts(parts: &mut Parts, state: &Admin) -> Result<Self, Denied> {
        session_of(&parts.headers, state)
            .await?
            .map(Self)
            .ok_or(Denied::Unauthorized)
    }
}

/// A form posted by a logged-in owner, its CSRF token checked: the session and the fields.
/// Without a session it is refused like a page (redirect, or 401 for htmx); with a missing or
/// wrong token, 403 and nothing is done.
pub struct Posted {
    pub session: Session,
    pub form: Form,
}

/// Form bodies larger than this are refused.
const FORM_LIMIT: usize = 64 * 1024;

impl FromRequest<Admin> for Posted {
    type Rejection = Response;

    async fn from_request(req: Request, state: &Admin) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let Owner(session) = Owner::from_request_parts(&mut parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let bytes = axum::body::to_bytes(body, FORM_LIMIT).await.map_err(|_| {
            error_page(
                StatusCode::PAYLOAD_TOO_LARGE,
                "That form was too large to read. Shorten the text and try again.",
            )
        })?;
        let form = Form::parse(&bytes).ok_or_else(|| {
            error_page(
                StatusCode::BAD_REQUEST,
                "That form could not be read. Go back, reload the page and try again.",
            )
        })?;
        if !form
            .get("csrf")
            .is_some_and(|t| crate::auth::same_secret(t, &session.csrf))
        {
            tracing::warn!(path = %parts.uri.path(), "panel form refused: bad CSRF token");
            return Err(error_page(
                StatusCode::FORBIDDEN,
                "This form has expired or did not come from the panel. Go back, reload the page and try again.",
            ));
        }
        Ok(Self { session, form })
    }
}

/// The fields of a form, in order (a field may repeat, as checkboxes do).
#[derive(Debug, Clone, Default)]
pub struct Form(Vec<(String, String)>);

impl Form {
    fn parse(bytes: &Bytes) -> Option<Self> {
        serde_urlencoded::from_bytes::<Vec<(String, String)>>(bytes)
            .ok()
            .map(Self)
    }

    /// The first value of `name`, trimmed.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
    }

    /// The first value of `name`, trimmed; "" when absent.
    pub fn text(&self, name: &str) -> String {
        self.get(name).unwrap_or_default().to_string()
    }

    /// Every value of `name`.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .collect()
    }

    /// Is the checkbox `name` ticked?
    pub fn ticked(&self, name: &str) -> bool {
        self.get(name)
            .is_some_and(|v| matches!(v, "on" | "true" | "1" | "yes"))
    }

    /// The reason the owner gave (optional, at most 500 characters).
    pub fn reason(&self) -> Option<String> {
        self.get("reason")
            .map(|r| r.chars().take(500).collect::<String>())
            .filter(|r| !r.is_empty())
    }
}

/// Audit metadata of an owner's write through the panel.
fn metadata(session: &Session, form: &Form) -> EventMetadata {
    EventMetadata::new(format!("owner:{}", session.subject), Source::Panel)
        .with_request_id(uuid::Uuid::new_v4().to_string())
        .with_reason(form.reason())
}

/// An error message as a sentence: capitalised, with a full stop.
fn sentence(message: &str) -> String {
    let mut c = message.trim().chars();
    match c.next() {
        Some(f) => {
            let s = format!("{}{}", f.to_uppercase(), c.as_str());
            if s.ends_with('.') {
                s
            } else {
                format!("{s}.")
            }
        }
        None => "That is not possible now.".into(),
    }
}

/// Runs one command as the API does, waits for the read models to include it, and answers how
/// many events it appended, or why it was refused, in words.
async fn execute<A>(
    admin: &Admin,
    id: &str,
    command: A::Command,
    meta: &EventMetadata,
) -> Result<usize, String>
where
    A: cqrs_es::Aggregate<Services = ()> + Clone + 'static,
    A::Command: Clone,
{
    match admin.bus().execute::<A>(id, command, meta).await {
        Ok((committed, _)) => {
            if committed.events > 0 {
                admin.settle(committed.position).await;
            }
            Ok(committed.events)
        }
        Err(commands::CommandError::Rejected(e)) => Err(sentence(&e.to_string())),
        Err(commands::CommandError::Contended | commands::CommandError::Stale { .. }) => {
            Err("Someone else changed this at the same moment. Look at it again and retry.".into())
        }
        Err(commands::CommandError::Store(e)) => {
            tracing::warn!(error = %e, "panel: change not stored");
            Err("The change could not be saved right now; nothing was changed. Try again in a moment.".into())
        }
    }
}

/// 303 to `to` (after a write).
fn see_other(to: &str) -> Response {
    match HeaderValue::from_str(to) {
        Ok(v) => crate::dashboard::no_store(
            (StatusCode::SEE_OTHER, [(header::LOCATION, v)]).into_response(),
        ),
        Err(_) => Redirect::to("/admin").into_response(),
    }
}

// ---------------------------------------------------------------------------------------------
// Login and logout

#[derive(Template, WebTemplate)]
#[template(path = "admin/login.html")]
struct LoginPage {
    csrf: String,
    email: String,
    message: Option<String>,
    /// No account exists yet: say how to make one.
    no_accounts: bool,
}

fn login_form(
    state: &Admin,
    headers: &HeaderMap,
    status: StatusCode,
    email: String,
    message: Option<String>,
    no_accounts: bool,
) -> Response {
    let (csrf, cookie) = state.0.sessions.login_token(headers);
    let page = LoginPage {
        csrf,
        email,
        message,
        no_accounts,
    };
    crate::dashboard::no_store((status, [(header::SET_COOKIE, cookie)], page).into_response())
}

async fn login_page(State(state): State<Admin>, headers: HeaderMap) -> Response {
    if let Ok(Some(_)) = session_of(&headers, &state).await {
        return Redirect::to("/admin").into_response();
    }
    let none = matches!(accounts::count(state.read()).await, Ok(0));
    login_form(&state, &headers, StatusCode::OK, String::new(), None, none)
}

struct ClientIp(IpAddr);

impl FromRequestParts<Admin> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &Admin) -> Result<Self, Self::Rejection> {
        Ok(Self(crate::auth::client_ip(
            parts,
            state.0.config.trust_forwarded,
        )))
    }
}

async fn login(
    State(state): State<Admin>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(form) = Form::parse(&body) else {
        return login_form(
            &state,
            &headers,
            StatusCode::BAD_REQUEST,
            String::new(),
            Some("The form could not be read. Please try again.".into()),
            false,
        );
    };
    let email = form.text("email");
    if !state.0.sessions.login_token_ok(&headers, form.get("csrf")) {
        return login_form(
            &state,
            &headers,
            StatusCode::FORBIDDEN,
            email,
            Some(
                "This form has expired or did not come from this page. Please log in again.".into(),
            ),
            false,
        );
    }
    if let Some(wait) = state.0.throttle.refused(ip) {
        tracing::warn!(%ip, "panel login throttled");
        let secs = wait.as_secs().max(1);
        let mut r = login_form(
            &state,
            &headers,
            StatusCode::TOO_MANY_REQUESTS,
            email,
            Some(format!(
                "Too many wrong passwords in the last minute. Please wait {secs} seconds before trying again."
            )),
            false,
        );
        if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return r;
    }
    // The password is not trimmed: it may end in a space on purpose.
    let password = form
        .0
        .iter()
        .find(|(k, _)| k == "password")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let account = match accounts::authenticate(state.read(), &email, &password).await {
        Ok(a) => a,
        Err(e) => {
            tracing::warn!(error = %e, "could not check an owner login");
            return error_page(StatusCode::SERVICE_UNAVAILABLE, UNREACHABLE);
        }
    };
    let Some(account) = account else {
        state.0.throttle.failed(ip);
        tracing::info!(%ip, "wrong panel email or password");
        return login_form(
            &state,
            &headers,
            StatusCode::UNAUTHORIZED,
            email,
            Some("That email and password do not match an owner account. Please try again.".into()),
            false,
        );
    };
    match state.0.sessions.create(&account.email).await {
        Ok((id, _)) => crate::dashboard::no_store(
            (
                StatusCode::SEE_OTHER,
                [
                    (header::SET_COOKIE, state.0.sessions.set_cookie(&id)),
                    (header::LOCATION, HeaderValue::from_static("/admin")),
                ],
            )
                .into_response(),
        ),
        Err(e) => {
            tracing::warn!(error = %e, "could not store a panel session");
            error_page(StatusCode::SERVICE_UNAVAILABLE, UNREACHABLE)
        }
    }
}

async fn logout(State(state): State<Admin>, headers: HeaderMap, posted: Posted) -> Response {
    let _ = posted.session;
    if let Err(e) = state.0.sessions.end(&headers).await {
        tracing::warn!(error = %e, "could not end a panel session");
    }
    crate::dashboard::no_store(
        (
            StatusCode::SEE_OTHER,
            [
                (header::SET_COOKIE, state.0.sessions.clear_cookie()),
                (header::LOCATION, HeaderValue::from_static("/admin/login")),
            ],
        )
            .into_response(),
    )
}

// ---------------------------------------------------------------------------------------------
// Errors and assets

#[derive(Template, WebTemplate)]
#[template(path = "admin/error.html")]
struct ErrorPage<'a> {
    message: &'a str,
}

/// A page that says what went wrong, in words.
pub(crate) fn error_page(status: StatusCode, message: &str) -> Response {
    crate::dashboard::no_store((status, ErrorPage { message }).into_response())
}

/// A read failure, in words.
fn failed(e: impl std::fmt::Display + IsUnavailable) -> Response {
    if e.is_unavailable() {
        tracing::warn!(error = %e, "panel: store unreachable");
        error_page(StatusCode::SERVICE_UNAVAILABLE, UNREACHABLE)
    } else {
        tracing::error!(error = %e, "panel: read failed");
        error_page(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Something went wrong reading the salon's records. It has been logged.",
        )
    }
}

/// Whether an error means the store is down (503) rather than something broken (500).
trait IsUnavailable {
    fn is_unavailable(&self) -> bool;
}

impl IsUnavailable for projections::queries::QueryError {
    fn is_unavailable(&self) -> bool {
        projections::queries::QueryError::is_unavailable(self)
    }
}

impl IsUnavailable for accounts::AccountError {
    fn is_unavailable(&self) -> bool {
        matches!(self, Self::Sql(e) if migrations::is_unavailable(e))
    }
}

const CSS: &[u8] = include_bytes!("../../admin/admin.css");
const JS: &[u8] = include_bytes!("../../admin/admin.js");

async fn asset(axum::extract::Path(file): axum::extract::Path<String>) -> Response {
    let (ty, body) = match file.as_str() {
        "admin.js" => ("text/javascript; charset=utf-8", JS),
        "admin.css" => ("text/css; charset=utf-8", CSS),
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
