//! The salon's settings and booking policy, calendar sources (status, staleness, sync now),
//! API tokens (create, shown once; revoke) and the owner accounts.

use super::accounts;
use super::view::{self, Chrome, Ctx, Errors};
use super::{error_page, execute, failed, metadata, see_other, Admin, Owner, Posted};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use domain::calendar_source::{
    CalendarSource, CalendarSourceCommand, SourceKind, SourceSettings, DEFAULT_SYNC_MINUTES,
    MAX_SYNC_MINUTES, MIN_SYNC_MINUTES,
};
use domain::ids::{CalendarSourceId, StylistId, TokenId, SALON_ID};
use domain::salon::{Salon, SalonChanges, SalonCommand};
use domain::schedule::BookingPolicy;
use domain::token::Scope;
use projections::calendars::calendar_sources;
use projections::queries;
use std::collections::HashMap;

pub(super) fn routes() -> Router<Admin> {
    Router::new()
        .route("/admin/settings", get(settings).post(save_settings))
        .route("/admin/calendars", get(calendars).post(add_calendar))
        .route("/admin/calendars/{id}/sync", post(sync_now))
        .route("/admin/calendars/{id}/remove", post(remove_calendar))
        .route("/admin/tokens", get(tokens).post(create_token))
        .route("/admin/tokens/{id}/revoke", post(revoke_token))
        .route("/admin/accounts", get(owners).post(save_owner))
        .route("/admin/accounts/remove", post(remove_owner))
}

type Params = Query<HashMap<String, String>>;

fn done(p: &HashMap<String, String>) -> Option<&str> {
    p.get("done").map(String::as_str)
}

fn status_of(errors: &Errors) -> StatusCode {
    if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    }
}

// ---------------------------------------------------------------------------------------------
// The salon and its booking policy

/// The policy fields: form name, label, help, bounds.
const POLICY: [(&str, &str, &str, u32, u32); 5] = [
    (
        "slot_step",
        "Start times every",
        "minutes apart, counted from opening",
        5,
        240,
    ),
    (
        "lead_time",
        "Earliest booking",
        "minutes from now",
        0,
        60 * 24 * 14,
    ),
    ("horizon", "Book up to", "days ahead", 1, 366),
    ("hold", "Hold an unpaid deposit for", "minutes", 5, 24 * 60),
    (
        "cancellation_window",
        "Free cancellation until",
        "hours before the start",
        0,
        24 * 30,
    ),
];

/// Settings: the salon's details, hours and closures, policy, and whether clients can book,
/// each form saving back here (see [`super::setup`], whose steps they share).
pub(super) async fn settings_page(
    admin: &Admin,
    session: &crate::auth::Session,
    done: Option<&str>,
    _sent: Option<(String, String, [String; 5])>,
    errors: Errors,
) -> Response {
    super::setup::render(admin, session, "settings", done, None, errors).await
}

async fn settings(State(admin): State<Admin>, Owner(session): Owner, Query(p): Params) -> Response {
    settings_page(&admin, &session, done(&p), None, Errors::default()).await
}

async fn save_settings(State(admin): State<Admin>, Posted { session, form }: Posted) -> Response {
    let name = form.text("name");
    let time_zone = form.text("time_zone");
    let values: [String; 5] = POLICY.map(|(n, ..)| form.text(n));
    let mut errors = Errors::default();
    if name.is_empty() || name.chars().count() > 100 {
        errors.add("name", "Give the salon a name of 1 to 100 characters.");
    }
    let tz = time_zone
        .parse::<Tz>()
        .map_err(|_| {
            errors.add(
                "time_zone",
                format!("{time_zone:?} is not a time zone like America/New_York."),
            )
        })
        .ok();
    let mut numbers = [0u32; 5];
    for (i, (field, _, help, min, max)) in POLICY.iter().enumerate() {
        match values[i].trim().parse::<u32>() {
            Ok(v) if (*min..=*max).contains(&v) => numbers[i] = v,
            _ => errors.add(
                field,
                format!("Give a whole number from {min} to {max} ({help})."),
            ),
        }
    }
    let policy = BookingPolicy {
        slot_step_minutes: numbers[0],
        lead_time_minutes: numbers[1],
        horizon_days: numbers[2],
        hold_minutes: numbers[3],
        cancellation_window_hours: numbers[4],
    };
    if errors.is_empty() {
        if let Err(e) = policy.validate() {
            errors.add("_form", super::sentence(&e.message));
        }
    }
    if errors.is_empty() {
        let command = SalonCommand::Update(Box::new(SalonChanges {
            name: Some(name.clone()),
            time_zone: tz,
            policy: Some(policy),
            ..SalonChanges::default()
        }));
        match execute::<Salon>(&admin, SALON_ID, command, &metadata(&session, &form)).await {
            Ok(n) => {
                return see_other(if n > 0 {
                    "/admin/settings?done=saved"
                } else {
                    "/admin/settings?done=unchanged"
                })
            }
            Err(m) => errors.add("_form", m),
        }
    }
    settings_page(
        &admin,
        &session,
        None,
        Some((name, time_zone, values)),
        errors,
    )
    .await
}

// ---------------------------------------------------------------------------------------------
// Calendar sources

pub struct SourceRow {
    pub id: String,
    pub name: String,
    pub kind: &'static str,
    pub stylist: String,
    pub status: String,
    pub status_label: &'static str,
    pub last_success: String,
    pub error: String,
    pub busy: i64,
    pub every: i64,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/calendars.html")]
struct CalendarsPage {
    chrome: Chrome,
    rows: Vec<SourceRow>,
    /// What the last "sync now" found, or why it failed.
    report: Option<String>,
    report_ok: bool,
    stylists: Vec<(String, String)>,
    form: SourceForm,
    errors: Errors,
    /// Credentials can be stored (the server has `SALON_SECRET_KEY`).
    can_seal: bool,
}

/// The "connect a calendar" form, as typed (never the password or credentials back).
#[derive(Default)]
struct SourceForm {
    kind: String,
    stylist: String,
    name: String,
    url: String,
    username: String,
    calendar_id: String,
    sync_minutes: String,
    write_back: bool,
}

/// "12 minutes ago".
fn ago(ts: &str, now: DateTime<Utc>) -> String {
    let Ok(t) = DateTime::parse_from_rfc3339(ts) else {
        return ts.to_string();
    };
    let secs = (now - t.with_timezone(&Utc)).num_seconds().max(0);
    match secs {
        0..=59 => "just now".into(),
        60..=3599 => format!("{} minutes ago", secs / 60),
        3600..=86_399 => format!("{} hours ago", secs / 3600),
        _ => format!("{} days ago", secs / 86_400),
    }
}

async fn calendars_page(
    admin: &Admin,
    session: &crate::auth::Session,
    report: Option<(bool, String)>,
    form: Option<SourceForm>,
    errors: Errors,
) -> Response {
    let ctx = or_page!(Ctx::load(admin).await);
    let now = Utc::now();
    let sources = match calendar_sources(admin.read(), None, now).await {
        Ok(s) => s,
        Err(e) => return failed(e),
    };
    let rows = sources
        .into_iter()
        .map(|s| SourceRow {
            kind: if s.kind == "google" {
                "Google Calendar"
            } else {
                "CalDAV (Apple iCloud)"
            },
            stylist: ctx.name(&s.stylist).to_string(),
            status_label: match s.status.as_str() {
                "ok" => "Up to date",
                "stale" => "Stale: no good answer for a while",
                "failing" => "Failing",
                _ => "Not synced yet",
            },
            last_success: s
                .last_success_at
                .as_deref()
                .map(|t| ago(t, now))
                .unwrap_or_else(|| "never".into()),
            error: s.last_error.clone().unwrap_or_default(),
            busy: s.busy_count,
            every: s.sync_minutes,
            status: s.status,
            name: s.name,
            id: s.id,
        })
        .collect();
    let chrome = view::chrome(admin, &ctx, session, "calendars", None).await;
    let (report_ok, report) = match report {
        Some((ok, text)) => (ok, Some(text)),
        None => (true, None),
    };
    (
        status_of(&errors),
        CalendarsPage {
            chrome,
            rows,
            report,
            report_ok,
            stylists: ctx
                .active_stylists()
                .map(|s| (s.id.clone(), s.name.clone()))
                .collect(),
            form: form.unwrap_or_else(|| SourceForm {
                kind: "caldav".into(),
                sync_minutes: DEFAULT_SYNC_MINUTES.to_string(),
                ..SourceForm::default()
            }),
            errors,
            can_seal: admin.0.deps.calendars.settings().sealer.is_some(),
        },
    )
        .into_response()
}

async fn calendars(
    State(admin): State<Admin>,
    Owner(session): Owner,
    Query(p): Params,
) -> Response {
    let report = notice_report(done(&p));
    calendars_page(&admin, &session, report, None, Errors::default()).await
}

fn notice_report(done: Option<&str>) -> Option<(bool, String)> {
    match done {
        Some("connected") => Some((
            true,
            "The calendar is connected; its first sync runs now.".into(),
        )),
        Some("disconnected") => Some((
            true,
            "The calendar is disconnected; its busy times no longer count.".into(),
        )),
        _ => None,
    }
}

/// Connects a stylist's calendar: CalDAV (Apple iCloud: the calendar URL, the Apple ID and an
/// app-specific password) or Google (the calendar id and the credentials JSON). Secrets are
/// sealed with the server's key before they reach the log.
async fn add_calendar(State(admin): State<Admin>, Posted { session, form }: Posted) -> Response {
    let sent = SourceForm {
        kind: form.text("kind"),
        stylist: form.text("stylist"),
        name: form.text("name"),
        url: form.text("url"),
        username: form.text("username"),
        calendar_id: form.text("calendar_id"),
        sync_minutes: form.text("sync_minutes"),
        write_back: form.ticked("write_back"),
    };
    let mut errors = Errors::default();
    let kind = match sent.kind.as_str() {
        "caldav" => Some(SourceKind::Caldav),
        "google" => Some(SourceKind::Google),
        _ => {
            errors.add("kind", "Choose CalDAV (Apple iCloud) or Google.");
            None
        }
    };
    let stylist = StylistId::parse(&sent.stylist)
        .map_err(|_| errors.add("stylist", "Choose whose calendar this is."))
        .ok();
    let sync_minutes = view::parse_minutes(
        if sent.sync_minutes.is_empty() {
            "5"
        } else {
            &sent.sync_minutes
        },
        MIN_SYNC_MINUTES,
        MAX_SYNC_MINUTES,
    )
    .map_err(|m| errors.add("sync_minutes", format!("How often {m}.")))
    .unwrap_or(DEFAULT_SYNC_MINUTES);
    let secret = match kind {
        Some(SourceKind::Caldav) => form.get("password").filter(|p| !p.is_empty()),
        Some(SourceKind::Google) => form.get("credentials").filter(|c| !c.is_empty()),
        None => None,
    };
    if let (Some(SourceKind::Google), Some(c)) = (kind, secret) {
        if let Err(m) = commands::calendars::google::GoogleCredentials::parse(c) {
            errors.add("credentials", super::sentence(&m));
        }
    }
    let sealed = match (secret, &admin.0.deps.calendars.settings().sealer) {
        (Some(s), Some(sealer)) => Some(sealer.seal(s)),
        (Some(_), None) => {
            let field = if kind == Some(SourceKind::Google) {
                "credentials"
            } else {
                "password"
            };
            errors.add(field, "Cannot be stored: the server has no SALON_SECRET_KEY to lock it with. Whoever runs the server sets it and restarts.");
            None
        }
        (None, _) => None,
    };
    if let (Some(kind), Some(stylist)) = (kind, stylist) {
        let default_name = match kind {
            SourceKind::Caldav => sent.url.clone(),
            SourceKind::Google => sent.calendar_id.clone(),
        };
        let settings = SourceSettings {
            kind,
            stylist,
            name: if sent.name.is_empty() {
                default_name.chars().take(120).collect()
            } else {
                sent.name.clone()
            },
            url: (kind == SourceKind::Caldav && !sent.url.is_empty()).then(|| sent.url.clone()),
            username: (kind == SourceKind::Caldav && !sent.username.is_empty())
                .then(|| sent.username.clone()),
            calendar_id: (kind == SourceKind::Google && !sent.calendar_id.is_empty())
                .then(|| sent.calendar_id.clone()),
            sealed_credentials: sealed,
            sync_minutes,
            write_back: sent.write_back && kind == SourceKind::Caldav,
        };
        for (field, message) in settings.problems() {
            errors.add(field, super::sentence(&message));
        }
        if errors.is_empty() {
            let id = CalendarSourceId::new();
            let command = CalendarSourceCommand::Register { id, settings };
            match execute::<CalendarSource>(
                &admin,
                &id.to_string(),
                command,
                &metadata(&session, &form),
            )
            .await
            {
                Ok(_) => {
                    let sync = admin.0.deps.calendars.clone();
                    tokio::spawn(async move {
                        if let Err(e) = sync.sync(id).await {
                            tracing::warn!(source = %id, error = %e, "first calendar sync could not run");
                        }
                    });
                    return see_other("/admin/calendars?done=connected");
                }
                Err(m) => errors.add("_form", m),
            }
        }
    }
    calendars_page(&admin, &session, None, Some(sent), errors).await
}

async fn remove_calendar(
    State(admin): State<Admin>,
    Path(id): Path<String>,
    Posted { session, form }: Posted,
) -> Response {
    let Ok(source) = CalendarSourceId::parse(&id) else {
        return error_page(StatusCode::NOT_FOUND, "There is no such calendar.");
    };
    match admin
        .0
        .deps
        .calendars
        .remove(source, &metadata(&session, &form))
        .await
    {
        Ok(()) => {
            admin.settle(admin.bus().signal().last()).await;
            see_other("/admin/calendars?done=disconnected")
        }
        Err(commands::calendars::SyncError::NotFound) => {
            error_page(StatusCode::NOT_FOUND, "There is no such calendar.")
        }
        Err(e) => {
            tracing::warn!(error = %e, "panel: calendar not removed");
            calendars_page(
                &admin,
                &session,
                Some((
                    false,
                    "The calendar could not be disconnected right now. Try again in a moment."
                        .into(),
                )),
                None,
                Errors::default(),
            )
            .await
        }
    }
}

async fn sync_now(
    State(admin): State<Admin>,
    Path(id): Path<String>,
    Posted { session, form: _ }: Posted,
) -> Response {
    let Ok(source) = CalendarSourceId::parse(&id) else {
        return error_page(StatusCode::NOT_FOUND, "There is no such calendar.");
    };
    let report = match admin.0.deps.calendars.sync(source).await {
        Ok(r) => {
            admin.settle(admin.bus().signal().last()).await;
            match r.error {
                Some(e) => (
                    false,
                    format!("The calendar could not be read: {e}. The last good busy times stay in force."),
                ),
                None => (
                    true,
                    format!(
                        "Synced: {} busy {} found{}.",
                        r.busy_blocks,
                        if r.busy_blocks == 1 { "block" } else { "blocks" },
                        if r.changed { ", and the free times were updated" } else { ", nothing changed" }
                    ),
                ),
            }
        }
        Err(commands::calendars::SyncError::NotFound) => {
            return error_page(StatusCode::NOT_FOUND, "There is no such calendar.")
        }
        Err(e) => {
            tracing::warn!(error = %e, "panel: sync failed");
            (
                false,
                "The sync could not run right now. Try again in a moment.".into(),
            )
        }
    };
    calendars_page(&admin, &session, Some(report), None, Errors::default()).await
}

// ---------------------------------------------------------------------------------------------
// API tokens

pub struct TokenRow {
    pub id: String,
    pub name: String,
    pub scope: String,
    pub revoked: bool,
    pub created: String,
    pub last_used: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/tokens.html")]
struct TokensPage {
    chrome: Chrome,
    rows: Vec<TokenRow>,
    /// A token just created: its secret, shown this once.
    created: Option<(String, String)>,
    name: String,
    scope: String,
    errors: Errors,
}

async fn tokens_page(
    admin: &Admin,
    session: &crate::auth::Session,
    done: Option<&str>,
    created: Option<(String, String)>,
    sent: (String, String),
    errors: Errors,
) -> Response {
    let ctx = or_page!(Ctx::load(admin).await);
    let list = match queries::tokens(admin.read()).await {
        Ok(l) => l,
        Err(e) => return failed(e),
    };
    let now = Utc::now();
    let rows = list
        .into_iter()
        .map(|t| TokenRow {
            created: ctx.when(&t.created_at),
            last_used: t
                .last_used_at
                .as_deref()
                .map(|u| ago(u, now))
                .unwrap_or_else(|| "never".into()),
            id: t.id,
            name: t.name,
            scope: t.scope,
            revoked: t.revoked,
        })
        .collect();
    let chrome = view::chrome(admin, &ctx, session, "tokens", done).await;
    let status = if created.is_some() {
        StatusCode::CREATED
    } else {
        status_of(&errors)
    };
    crate::dashboard::no_store(
        (
            status,
            TokensPage {
                chrome,
                rows,
                created,
                name: sent.0,
                scope: sent.1,
                errors,
            },
        )
            .into_response(),
    )
}

async fn tokens(State(admin): State<Admin>, Owner(session): Owner, Query(p): Params) -> Response {
    tokens_page(
        &admin,
        &session,
        done(&p),
        None,
        (String::new(), "read".into()),
        Errors::default(),
    )
    .await
}

async fn create_token(State(admin): State<Admin>, Posted { session, form }: Posted) -> Response {
    let name = form.text("name");
    let scope_text = form.text("scope");
    let mut errors = Errors::default();
    let valid_name = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if !valid_name {
        errors.add(
            "name",
            "Give a name of 1 to 64 letters, digits, dots, dashes or underscores (it shows in the audit log).",
        );
    }
    let scope = match scope_text.as_str() {
        "read" => Some(Scope::Read),
        "write" => Some(Scope::Write),
        _ => {
            errors.add("scope", "Choose read or write.");
            None
        }
    };
    if let (Some(scope), true) = (scope, errors.is_empty()) {
        match admin
            .bus()
            .create_token(&name, scope, &metadata(&session, &form))
            .await
        {
            Ok(t) => {
                admin.settle(t.committed.position).await;
                return tokens_page(
                    &admin,
                    &session,
                    None,
                    Some((name, t.secret)),
                    (String::new(), "read".into()),
                    Errors::default(),
                )
                .await;
            }
            Err(commands::CommandError::Rejected(e)) => {
                errors.add("name", super::sentence(&e.to_string()))
            }
            Err(e) => {
                tracing::warn!(error = %e, "panel: token not created");
                errors.add(
                    "_form",
                    "The token could not be created right now. Try again in a moment.",
                );
            }
        }
    }
    tokens_page(&admin, &session, None, None, (name, scope_text), errors).await
}

async fn revoke_token(
    State(admin): State<Admin>,
    Path(id): Path<String>,
    Posted { session, form }: Posted,
) -> Response {
    let Ok(tid) = TokenId::parse(&id) else {
        return error_page(StatusCode::NOT_FOUND, "There is no such token.");
    };
    match admin
        .bus()
        .revoke_token(tid, &metadata(&session, &form))
        .await
    {
        Ok(c) => {
            admin.settle(c.position).await;
            see_other("/admin/tokens?done=revoked")
        }
        Err(e) => {
            let mut errors = Errors::default();
            errors.add("_form", super::sentence(&e.to_string()));
            tokens_page(
                &admin,
                &session,
                None,
                None,
                (String::new(), "read".into()),
                errors,
            )
            .await
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Owner accounts

#[derive(Template, WebTemplate)]
#[template(path = "admin/accounts.html")]
struct OwnersPage {
    chrome: Chrome,
    owners: Vec<accounts::Account>,
    me: String,
    email: String,
    name: String,
    min: usize,
    errors: Errors,
}

async fn owners_page(
    admin: &Admin,
    session: &crate::auth::Session,
    done: Option<&str>,
    sent: (String, String),
    errors: Errors,
) -> Response {
    let ctx = or_page!(Ctx::load(admin).await);
    let owners = match accounts::list(admin.read()).await {
        Ok(o) => o,
        Err(e) => return failed(e),
    };
    let chrome = view::chrome(admin, &ctx, session, "accounts", done).await;
    (
        status_of(&errors),
        OwnersPage {
            chrome,
            owners,
            me: session.subject.clone(),
            email: sent.0,
            name: sent.1,
            min: accounts::MIN_PASSWORD,
            errors,
        },
    )
        .into_response()
}

async fn owners(State(admin): State<Admin>, Owner(session): Owner, Query(p): Params) -> Response {
    owners_page(
        &admin,
        &session,
        done(&p),
        Default::default(),
        Errors::default(),
    )
    .await
}

/// Adds an owner, or sets a new password (and name) for one; an owner changes their own
/// password here too.
async fn save_owner(State(admin): State<Admin>, Posted { session, form }: Posted) -> Response {
    let email = form.text("email");
    let name = form.text("name");
    let password = form.get("password").map(str::to_string).unwrap_or_default();
    let mut errors = Errors::default();
    if password != form.get("password_again").unwrap_or_default() {
        errors.add("password_again", "The two passwords differ.");
    }
    if errors.is_empty() {
        match accounts::upsert(admin.read(), &email, &name, &password).await {
            Ok(created) => {
                tracing::info!(by = %session.subject, created, "owner account saved");
                return see_other("/admin/accounts?done=account");
            }
            Err(accounts::AccountError::Invalid(m)) => {
                let field = if m.contains("password") {
                    "password"
                } else if m.contains("name") {
                    "name"
                } else {
                    "email"
                };
                errors.add(field, super::sentence(&m));
            }
            Err(e) => return failed(e),
        }
    }
    owners_page(&admin, &session, None, (email, name), errors).await
}

async fn remove_owner(State(admin): State<Admin>, Posted { session, form }: Posted) -> Response {
    let email = accounts::normal_email(&form.text("email"));
    if email == session.subject {
        let mut errors = Errors::default();
        errors.add(
            "_form",
            "You cannot remove your own account while logged in with it.",
        );
        return owners_page(&admin, &session, None, Default::default(), errors).await;
    }
    match accounts::remove(admin.read(), &email).await {
        Ok(_) => {
            tracing::info!(by = %session.subject, "owner account removed");
            see_other("/admin/accounts?done=account-removed")
        }
        Err(e) => failed(e),
    }
}
