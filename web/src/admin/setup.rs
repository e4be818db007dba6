//! First-run setup: the one-time link (`/admin/setup?token=…`, from `salon serve` on an
//! unconfigured store or `salon setup-link`) lets whoever holds it make the first owner account;
//! then a short wizard walks the owner through the salon (name, contact, time zone, currency),
//! opening hours and closures, first services, first stylists, the deposit and cancellation
//! policy, and "open for bookings". Each step can be skipped and finished later (the panel's
//! banner links back here until the salon is open); each appends events with the owner as
//! actor, through the same commands as Settings and the API.
//!
//! Links are kept as SHA-256 hashes in `setup_links` (migration 0011), like owner accounts
//! outside the event log. A link works until it is used, and only while no owner account
//! exists: after that the owner logs in as usual.

use super::view::{self, Chrome, Ctx, Errors};
use super::{accounts, error_page, execute, metadata, see_other, session_of, Admin, Form, Posted};
use askama::Template;
use askama_web::WebTemplate;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use chrono::{NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;
use domain::ids::{ServiceId, StylistId, SALON_ID};
use domain::salon::{Closure, Contact, Salon, SalonChanges, SalonCommand};
use domain::schedule::{BookingPolicy, DayHours, DayKey, WeeklyHours};
use domain::service::{Service, ServiceCommand, ServiceDetails};
use domain::stylist::{Stylist, StylistCommand, StylistPatch};
use domain::values::{Cents, Currency};
use projections::ReadDb;
use sha2::{Digest, Sha256};
use sqlx::Row;
use std::collections::{BTreeMap, HashMap};

pub(super) fn routes() -> Router<Admin> {
    Router::new()
        .route("/admin/setup", get(setup))
        .route("/admin/setup/account", post(create_account))
        .route("/admin/setup/salon", post(save_salon))
        .route("/admin/setup/hours", post(save_hours))
        .route("/admin/setup/service", post(add_service))
        .route("/admin/setup/stylist", post(add_stylist))
        .route("/admin/setup/policy", post(save_policy))
        .route("/admin/setup/open", post(open_for_bookings))
        .route("/admin/setup/close", post(close_for_bookings))
}

// ---------------------------------------------------------------------------------------------
// Links

fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.trim().as_bytes()))
}

/// A new one-time setup token, stored hashed; `None` when an owner account exists already
/// (setup is claimed: the owner logs in instead).
pub async fn new_link(read: &ReadDb) -> Result<Option<String>, sqlx::Error> {
    if accounts::count(read)
        .await
        .map_err(|e| sqlx::Error::Protocol(e.to_string()))?
        > 0
    {
        return Ok(None);
    }
    let token = {
        use rand::RngCore;
        let mut bytes = [0u8; 24];
        rand::thread_rng().fill_bytes(&mut bytes);
        hex::encode(bytes)
    };
    sqlx::query("INSERT INTO setup_links (token_hash, created_at) VALUES ($1, $2)")
        .bind(hash(&token))
        .bind(Utc::now().to_rfc3339())
        .execute(read.pool())
        .await?;
    Ok(Some(token))
}

/// The link that opens setup with `token`.
pub fn link(public_url: &str, token: &str) -> String {
    format!(
        "{}/admin/setup?token={token}",
        public_url.trim_end_matches('/')
    )
}

/// Is `token` a link not used yet?
async fn link_open(read: &ReadDb, token: &str) -> Result<bool, sqlx::Error> {
    Ok(
        sqlx::query("SELECT 1 FROM setup_links WHERE token_hash = $1 AND used_at IS NULL")
            .bind(hash(token))
            .fetch_optional(read.pool())
            .await?
            .is_some(),
    )
}

/// Marks the link used; false when it was used meanwhile (two tabs, one wins).
async fn use_link(read: &ReadDb, token: &str) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE setup_links SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL",
    )
    .bind(Utc::now().to_rfc3339())
    .bind(hash(token))
    .execute(read.pool())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Unused links, for `salon serve` to decide whether to log a new one.
pub async fn open_links(read: &ReadDb) -> Result<i64, sqlx::Error> {
    let row = sqlx::query("SELECT COUNT(*) AS n FROM setup_links WHERE used_at IS NULL")
        .fetch_one(read.pool())
        .await?;
    row.try_get("n")
}

// ---------------------------------------------------------------------------------------------
// The owner account (step 0, with the link)

#[derive(Template, WebTemplate)]
#[template(path = "admin/setup_account.html")]
struct AccountPage {
    csrf: String,
    token: String,
    email: String,
    name: String,
    errors: Errors,
    min_password: usize,
}

fn account_form(
    admin: &Admin,
    headers: &HeaderMap,
    status: StatusCode,
    token: String,
    email: String,
    name: String,
    errors: Errors,
) -> Response {
    let (csrf, cookie) = admin.0.sessions.login_token(headers);
    let page = AccountPage {
        csrf,
        token,
        email,
        name,
        errors,
        min_password: accounts::MIN_PASSWORD,
    };
    crate::dashboard::no_store((status, [(header::SET_COOKIE, cookie)], page).into_response())
}

const CLAIMED: &str = "This setup link has been used already, or an owner account exists. Log in at /admin/login; `salon setup-link` prints a new link while no owner account exists.";

async fn setup(
    State(admin): State<Admin>,
    headers: HeaderMap,
    Query(p): Query<HashMap<String, String>>,
) -> Response {
    let session = match session_of(&headers, &admin).await {
        Ok(s) => s,
        Err(d) => return d.into_response(),
    };
    let Some(session) = session else {
        let Some(token) = p.get("token").filter(|t| !t.is_empty()) else {
            return super::Denied::Login.into_response();
        };
        let no_owner = matches!(accounts::count(admin.read()).await, Ok(0));
        let open = link_open(admin.read(), token).await.unwrap_or(false);
        if !(no_owner && open) {
            return error_page(StatusCode::GONE, CLAIMED);
        }
        return account_form(
            &admin,
            &headers,
            StatusCode::OK,
            token.clone(),
            String::new(),
            "Owner".into(),
            Errors::default(),
        );
    };
    let step = p.get("step").map(String::as_str).unwrap_or("");
    render(
        &admin,
        &session,
        step,
        p.get("done").map(String::as_str),
        None,
        Errors::default(),
    )
    .await
}

async fn create_account(State(admin): State<Admin>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(form) = Form::parse(&body) else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "That form could not be read. Go back, reload the page and try again.",
        );
    };
    let token = form.text("token");
    let email = form.text("email");
    let name = form.text("name");
    if !admin.0.sessions.login_token_ok(&headers, form.get("csrf")) {
        return error_page(
            StatusCode::FORBIDDEN,
            "This form has expired or did not come from this page. Open the setup link again.",
        );
    }
    let no_owner = matches!(accounts::count(admin.read()).await, Ok(0));
    if !(no_owner && link_open(admin.read(), &token).await.unwrap_or(false)) {
        return error_page(StatusCode::GONE, CLAIMED);
    }
    // Passwords are not trimmed: they may end in a space on purpose.
    let raw = |k: &str| {
        form.0
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let (password, again) = (raw("password"), raw("password_again"));
    let mut errors = Errors::default();
    if password != again {
        errors.add(
            "password_again",
            "The two passwords differ. Type the same password twice.",
        );
    }
    if errors.is_empty() {
        if let Err(e) = accounts::upsert(admin.read(), &email, &name, &password).await {
            match e {
                accounts::AccountError::Invalid(m) => {
                    let field = if m.contains("password") {
                        "password"
                    } else {
                        "email"
                    };
                    errors.add(field, super::sentence(&m));
                }
                e => {
                    tracing::warn!(error = %e, "setup: the owner account could not be stored");
                    errors.add(
                        "_form",
                        "The account could not be saved right now. Try again in a moment.",
                    );
                }
            }
        }
    }
    if !errors.is_empty() {
        return account_form(
            &admin,
            &headers,
            StatusCode::UNPROCESSABLE_ENTITY,
            token,
            email,
            name,
            errors,
        );
    }
    if !use_link(admin.read(), &token).await.unwrap_or(false) {
        // Another tab used the link a moment earlier: that account stands; this one goes.
        let _ = accounts::remove(admin.read(), &email).await;
        return error_page(StatusCode::GONE, CLAIMED);
    }
    tracing::info!("setup: the first owner account was made with a setup link");
    let email = accounts::normal_email(&email);
    match admin.0.sessions.create(&email).await {
        Ok((id, _)) => crate::dashboard::no_store(
            (
                StatusCode::SEE_OTHER,
                [
                    (header::SET_COOKIE, admin.0.sessions.set_cookie(&id)),
                    (header::LOCATION, HeaderValue::from_static("/admin/setup")),
                ],
            )
                .into_response(),
        ),
        Err(e) => {
            tracing::warn!(error = %e, "setup: could not store a panel session");
            super::Denied::Login.into_response()
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The steps

/// The wizard's steps, in order: (code, title).
pub const STEPS: &[(&str, &str)] = &[
    ("salon", "Your salon"),
    ("hours", "Opening hours"),
    ("services", "Services"),
    ("stylists", "Stylists"),
    ("policy", "Deposits and cancellations"),
    ("open", "Open for bookings"),
];

pub struct StepLink {
    pub code: &'static str,
    pub title: &'static str,
    pub current: bool,
    pub done: bool,
}

pub struct DayRow {
    pub key: &'static str,
    pub label: &'static str,
    pub open: bool,
    pub from: String,
    pub to: String,
}

pub struct ClosureRow {
    pub from: String,
    pub to: String,
    pub label: String,
}

pub struct Check {
    pub done: bool,
    pub text: String,
    pub step: &'static str,
}

/// What the salon form shows (as saved, or as sent back with errors).
#[derive(Default)]
pub struct SalonFields {
    pub name: String,
    pub address: String,
    pub phone: String,
    pub email: String,
    pub time_zone: String,
    pub currency: String,
    /// The salon has bookings and the change of zone or currency needs a tick.
    pub confirm: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/setup.html")]
pub struct SetupPage {
    pub chrome: Chrome,
    /// Settings: every form on one page, each saving back to it.
    pub settings: bool,
    pub step: &'static str,
    pub title: &'static str,
    pub next: &'static str,
    pub steps: Vec<StepLink>,
    pub errors: Errors,
    pub salon: SalonFields,
    /// The browser may pick its own zone (nothing saved yet).
    pub guess_zone: bool,
    pub zones: Vec<&'static str>,
    pub currencies: Vec<(&'static str, &'static str)>,
    pub days: Vec<DayRow>,
    pub closures: Vec<ClosureRow>,
    pub services: Vec<(String, String)>,
    pub stylists: Vec<String>,
    pub policy: BookingPolicy,
    pub policy_text: String,
    pub checks: Vec<Check>,
    pub open: bool,
    pub currency_symbol: String,
    /// Settings: the logo's part of the page (`admin/picture.html`).
    pub picture: Option<super::pictures::PictureForm>,
}

const DAYS: [(DayKey, &str, &str); 7] = [
    (DayKey::Mon, "mon", "Monday"),
    (DayKey::Tue, "tue", "Tuesday"),
    (DayKey::Wed, "wed", "Wednesday"),
    (DayKey::Thu, "thu", "Thursday"),
    (DayKey::Fri, "fri", "Friday"),
    (DayKey::Sat, "sat", "Saturday"),
    (DayKey::Sun, "sun", "Sunday"),
];

fn hhmm(t: NaiveTime) -> String {
    t.format("%H:%M").to_string()
}

pub fn day_rows(hours: &WeeklyHours) -> Vec<DayRow> {
    DAYS.iter()
        .map(|(key, code, label)| {
            let day = hours.days().get(key);
            DayRow {
                key: code,
                label,
                open: day.is_some()
                    || hours.is_empty() && !matches!(key, DayKey::Sun | DayKey::Mon),
                from: day.map_or("09:00".into(), |d| hhmm(d.open)),
                to: day.map_or("18:00".into(), |d| hhmm(d.close)),
            }
        })
        .collect()
}

pub fn closure_rows(closures: &[Closure]) -> Vec<ClosureRow> {
    closures
        .iter()
        .map(|c| ClosureRow {
            from: c.from.to_string(),
            to: c.to.to_string(),
            label: c.label.clone(),
        })
        .chain((0..3).map(|_| ClosureRow {
            from: String::new(),
            to: String::new(),
            label: String::new(),
        }))
        .collect()
}

fn salon_fields(ctx: &Ctx) -> SalonFields {
    let s = &ctx.settings;
    SalonFields {
        name: s.name.clone(),
        address: s.address.clone(),
        phone: s.phone.clone(),
        email: s.email.clone(),
        time_zone: s.time_zone.name().to_string(),
        currency: s.currency.clone(),
        confirm: None,
    }
}

/// Which steps are done, for the progress list and the first unfinished step.
fn done_steps(ctx: &Ctx) -> Vec<&'static str> {
    let s = &ctx.settings;
    let mut done = Vec::new();
    if s.configured {
        done.push("salon");
    }
    if !s.opening_hours.is_empty() {
        done.push("hours");
    }
    if ctx.services.iter().any(|x| x.active) {
        done.push("services");
    }
    if ctx.stylists.iter().any(|x| x.active) {
        done.push("stylists");
    }
    if !s.policy_text.is_empty() {
        done.push("policy");
    }
    if s.open {
        done.push("open");
    }
    done
}

/// A wizard step (`step`: a code of [`STEPS`], or "" for the first unfinished one), or with
/// `step == "settings"` the Settings page holding every form.
pub async fn render(
    admin: &Admin,
    session: &crate::auth::Session,
    step: &str,
    done: Option<&str>,
    sent: Option<SalonFields>,
    errors: Errors,
) -> Response {
    let settings = step == "settings";
    let ctx = or_page!(Ctx::load(admin).await);
    let finished = done_steps(&ctx);
    let (code, title) = STEPS
        .iter()
        .find(|(c, _)| *c == step)
        .or_else(|| STEPS.iter().find(|(c, _)| !finished.contains(c)))
        .copied()
        .unwrap_or(STEPS[STEPS.len() - 1]);
    let index = STEPS.iter().position(|(c, _)| *c == code).unwrap_or(0);
    let next = STEPS.get(index + 1).map_or("open", |s| s.0);
    let s = &ctx.settings;
    let chrome = view::chrome(
        admin,
        &ctx,
        session,
        if settings { "settings" } else { "setup" },
        done,
    )
    .await;
    let checks = vec![
        Check {
            done: s.configured,
            text: if s.configured {
                format!("The salon is called {}.", s.name)
            } else {
                "Give the salon a name.".into()
            },
            step: "salon",
        },
        Check {
            done: !s.opening_hours.is_empty(),
            text: "Opening hours are set.".into(),
            step: "hours",
        },
        Check {
            done: ctx.services.iter().any(|x| x.active),
            text: format!(
                "{} service(s) on the menu.",
                ctx.services.iter().filter(|x| x.active).count()
            ),
            step: "services",
        },
        Check {
            done: ctx.stylists.iter().any(|x| x.active),
            text: format!(
                "{} stylist(s) taking bookings.",
                ctx.stylists.iter().filter(|x| x.active).count()
            ),
            step: "stylists",
        },
        Check {
            done: !s.policy_text.is_empty(),
            text: "Your deposit and cancellation policy is written down.".into(),
            step: "policy",
        },
    ];
    let page = SetupPage {
        chrome,
        settings,
        step: code,
        title,
        next,
        steps: STEPS
            .iter()
            .map(|(c, t)| StepLink {
                code: c,
                title: t,
                current: *c == code,
                done: finished.contains(c),
            })
            .collect(),
        salon: sent.unwrap_or_else(|| salon_fields(&ctx)),
        guess_zone: !s.configured,
        zones: chrono_tz::TZ_VARIANTS.iter().map(|t| t.name()).collect(),
        currencies: domain::money::CURRENCIES
            .iter()
            .map(|(c, _, _, n)| (*c, *n))
            .collect(),
        days: day_rows(&s.opening_hours),
        closures: closure_rows(&s.closures),
        services: ctx
            .services
            .iter()
            .filter(|x| x.active)
            .map(|x| {
                (
                    x.name.clone(),
                    format!("{} min · {}", x.duration_minutes, s.money(x.price_cents)),
                )
            })
            .collect(),
        stylists: ctx
            .stylists
            .iter()
            .filter(|x| x.active)
            .map(|x| x.name.clone())
            .collect(),
        policy: s.policy,
        policy_text: if s.policy_text.is_empty() {
            suggested_policy(&s.policy)
        } else {
            s.policy_text.clone()
        },
        checks,
        open: s.open,
        currency_symbol: domain::money::symbol(&s.currency).to_string(),
        picture: if settings {
            Some(super::pictures::form(
                domain::picture::Subject::Logo,
                &s.name,
                or_page!(projections::queries::picture_file(admin.read(), "logo").await)
                    .map(|f| projections::queries::media_url(&f)),
                &errors,
            ))
        } else {
            None
        },
        errors,
    };
    let status = if page.errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    crate::dashboard::no_store((status, page).into_response())
}

/// A first draft of the policy in plain words, from the numbers.
fn suggested_policy(p: &BookingPolicy) -> String {
    format!(
        "A deposit holds your appointment. Cancel or reschedule at least {} hours before it starts and the deposit is refunded; later cancellations and no-shows keep it.",
        p.cancellation_window_hours
    )
}

/// Where a step's form goes after saving: the next step, or back to Settings.
fn after(form: &Form, step: &str) -> String {
    if form.get("back") == Some("settings") {
        return "/admin/settings?done=saved".into();
    }
    let index = STEPS.iter().position(|(c, _)| *c == step).unwrap_or(0);
    let next = STEPS.get(index + 1).map_or("open", |s| s.0);
    if form.ticked("more") {
        return format!("/admin/setup?step={step}&done=saved");
    }
    format!("/admin/setup?step={next}&done=saved")
}

async fn has_bookings(admin: &Admin) -> bool {
    projections::queries::has_bookings(admin.read())
        .await
        .unwrap_or(true)
}

/// Runs the salon commands, configuring it first when it is not set up yet.
async fn change_salon(
    admin: &Admin,
    session: &crate::auth::Session,
    form: &Form,
    configure_name: Option<String>,
    changes: SalonChanges,
) -> Result<(), String> {
    let meta = metadata(session, form);
    let loaded = admin
        .bus()
        .load_fresh::<Salon>(SALON_ID)
        .await
        .map_err(|_| "The salon could not be read right now. Try again in a moment.".to_string())?;
    if !loaded.state.configured {
        let Some(name) = configure_name.or_else(|| changes.name.clone()) else {
            return Err("Give the salon a name first (step 1).".into());
        };
        let configure = SalonCommand::Configure {
            name,
            time_zone: changes.time_zone.unwrap_or(chrono_tz::America::New_York),
            currency: changes.currency.clone().unwrap_or_default(),
            policy: changes.policy.unwrap_or_default(),
            open: false,
            demo: false,
        };
        // Everything is checked before the first command: a bad field leaves no half-set salon.
        let mut probe = Salon::default();
        cqrs_es::Aggregate::apply(
            &mut probe,
            domain::salon::SalonEvent::SalonConfigured {
                name: "probe".into(),
                time_zone: chrono_tz::UTC,
                currency: Currency::usd(),
                policy: BookingPolicy::default(),
                open: false,
                demo: false,
            },
        );
        probe
            .events_for(changes.clone())
            .map_err(|e| super::sentence(&e.to_string()))?;
        execute::<Salon>(admin, SALON_ID, configure, &meta).await?;
    }
    execute::<Salon>(
        admin,
        SALON_ID,
        SalonCommand::Update(Box::new(changes)),
        &meta,
    )
    .await?;
    Ok(())
}

async fn save_salon(State(admin): State<Admin>, Posted { session, form }: Posted) -> Response {
    let sent = SalonFields {
        name: form.text("name"),
        address: form.text("address"),
        phone: form.text("phone"),
        email: form.text("email"),
        time_zone: form.text("time_zone"),
        currency: form.text("currency").to_ascii_uppercase(),
        confirm: None,
    };
    let mut errors = Errors::default();
    if sent.name.is_empty() || sent.name.chars().count() > 100 {
        errors.add("name", "Give the salon a name of 1 to 100 characters.");
    }
    let tz = match sent.time_zone.parse::<Tz>() {
        Ok(t) => Some(t),
        Err(_) => {
            errors.add(
                "time_zone",
                format!(
                    "{:?} is not a time zone; pick one from the list, such as America/New_York.",
                    sent.time_zone
                ),
            );
            None
        }
    };
    let currency = match Currency::parse(&sent.currency) {
        Ok(c) => Some(c),
        Err(e) => {
            errors.add("currency", super::sentence(&e.message));
            None
        }
    };
    let contact = Contact {
        address: sent.address.clone(),
        phone: sent.phone.clone(),
        email: sent.email.clone(),
    };
    if let Err(e) = contact.checked() {
        errors.add(e.field, super::sentence(&e.message));
    }
    let step = if form.get("back") == Some("settings") {
        "settings"
    } else {
        "salon"
    };
    if errors.is_empty() {
        let changes = SalonChanges {
            name: Some(sent.name.clone()),
            time_zone: tz,
            currency,
            contact: Some(contact),
            has_bookings: has_bookings(&admin).await,
            confirmed: form.ticked("confirm"),
            ..SalonChanges::default()
        };
        match change_salon(&admin, &session, &form, None, changes).await {
            Ok(()) => return see_other(&after(&form, "salon")),
            Err(m) if m.contains("confirm") => {
                let mut sent = sent;
                sent.confirm = Some(
                    "The salon already has bookings. A new time zone changes the wall-clock time of every booking; a new currency changes what every price and deposit means (the numbers stay). Tick the box below and save again to make the change.".into(),
                );
                return respond(&admin, &session, step, Some(sent), errors).await;
            }
            Err(m) => errors.add("_form", m),
        }
    }
    respond(&admin, &session, step, Some(sent), errors).await
}

/// The page a form came from, again, with what was sent and what was wrong.
async fn respond(
    admin: &Admin,
    session: &crate::auth::Session,
    step: &str,
    sent: Option<SalonFields>,
    errors: Errors,
) -> Response {
    render(admin, session, step, None, sent, errors).await
}

/// Weekly hours from the form's `{day}_open`, `{day}_from`, `{day}_to` fields.
pub fn hours_from(form: &Form, errors: &mut Errors) -> Option<WeeklyHours> {
    let mut days = BTreeMap::new();
    for (key, code, label) in DAYS {
        if !form.ticked(&format!("{code}_open")) {
            continue;
        }
        let time = |f: &str| NaiveTime::parse_from_str(&form.text(&format!("{code}_{f}")), "%H:%M");
        match (time("from"), time("to")) {
            (Ok(open), Ok(close)) if open < close => {
                days.insert(
                    key,
                    DayHours {
                        open,
                        close,
                        breaks: vec![],
                    },
                );
            }
            (Ok(_), Ok(_)) => errors.add(
                &format!("{code}_to"),
                format!("{label}: closing must be after opening."),
            ),
            _ => errors.add(
                &format!("{code}_from"),
                format!("{label}: give opening and closing times like 09:00 and 18:00."),
            ),
        }
    }
    WeeklyHours::new(days)
        .map_err(|e| errors.add("_form", super::sentence(&e.message)))
        .ok()
}

/// Closures from the form's repeated `closure_from`, `closure_to`, `closure_label` fields;
/// rows left blank are skipped.
pub fn closures_from(form: &Form, errors: &mut Errors) -> Vec<Closure> {
    let froms = form.all("closure_from");
    let tos = form.all("closure_to");
    let labels = form.all("closure_label");
    let mut out = Vec::new();
    for (i, from) in froms.iter().enumerate() {
        let to = tos.get(i).copied().unwrap_or("");
        let label = labels.get(i).copied().unwrap_or("");
        if from.is_empty() && to.is_empty() && label.is_empty() {
            continue;
        }
        let Ok(start) = from.parse::<NaiveDate>() else {
            errors.add(
                "closures",
                format!("Closure {}: give its first day as a date.", i + 1),
            );
            continue;
        };
        let end = if to.is_empty() {
            Ok(start)
        } else {
            to.parse::<NaiveDate>()
        };
        match end {
            Ok(end) => out.push(Closure {
                from: start,
                to: end,
                label: label.to_string(),
            }),
            Err(_) => errors.add(
                "closures",
                format!("Closure {}: give its last day as a date.", i + 1),
            ),
        }
    }
    match domain::salon::checked_closures(&out) {
        Ok(c) => c,
        Err(e) => {
            errors.add("closures", super::sentence(&e.message));
            Vec::new()
        }
    }
}

async fn save_hours(State(admin): State<Admin>, Posted { session, form }: Posted) -> Response {
    let mut errors = Errors::default();
    let hours = hours_from(&form, &mut errors);
    let closures = closures_from(&form, &mut errors);
    let step = if form.get("back") == Some("settings") {
        "settings"
    } else {
        "hours"
    };
    if errors.is_empty() {
        let changes = SalonChanges {
            opening_hours: hours,
            closures: Some(closures),
            ..SalonChanges::default()
        };
        match change_salon(&admin, &session, &form, None, changes).await {
            Ok(()) => return see_other(&after(&form, "hours")),
            Err(m) => errors.add("_form", m),
        }
    }
    respond(&admin, &session, step, None, errors).await
}

async fn add_service(State(admin): State<Admin>, Posted { session, form }: Posted) -> Response {
    let ctx = or_page!(Ctx::load(&admin).await);
    let mut errors = Errors::default();
    let name = form.text("service_name");
    if name.is_empty() && form.ticked("skip") {
        return see_other(&after(&form, "services"));
    }
    let minutes = form
        .text("minutes")
        .parse::<u32>()
        .ok()
        .filter(|m| (5..=720).contains(m));
    if minutes.is_none() {
        errors.add("minutes", "Give the length in minutes, from 5 to 720.");
    }
    let code = &ctx.currency;
    let money = |field: &str, errors: &mut Errors| {
        let raw = form.text(field);
        let raw = if raw.is_empty() { "0".to_string() } else { raw };
        match domain::money::parse_amount(&raw, code).map(Cents::new) {
            Ok(Ok(c)) => Some(c),
            Ok(Err(e)) => {
                errors.add(field, super::sentence(&e.message));
                None
            }
            Err(m) => {
                errors.add(field, super::sentence(&m));
                None
            }
        }
    };
    let price = money("price", &mut errors);
    let deposit = money("deposit", &mut errors);
    if errors.is_empty() {
        let details = ServiceDetails {
            name,
            description: form.text("description"),
            duration_minutes: minutes.unwrap_or(60),
            buffer_before_minutes: 0,
            buffer_after_minutes: 0,
            price_cents: price.unwrap_or_default(),
            deposit_cents: deposit.unwrap_or_default(),
            currency: Currency::parse(code).unwrap_or_default(),
        };
        let id = ServiceId::new();
        let meta = metadata(&session, &form);
        match execute::<Service>(
            &admin,
            &id.to_string(),
            ServiceCommand::Create { id, details },
            &meta,
        )
        .await
        {
            Ok(_) => {
                // Stylists already here offer the new service too (they can be changed later).
                for s in ctx.stylists.iter().filter(|s| s.active) {
                    let mut services: Vec<ServiceId> = s
                        .services
                        .iter()
                        .filter_map(|x| ServiceId::parse(x).ok())
                        .collect();
                    services.push(id);
                    let patch = StylistPatch {
                        services: Some(services),
                        ..StylistPatch::default()
                    };
                    let _ = execute::<Stylist>(&admin, &s.id, StylistCommand::Change(patch), &meta)
                        .await;
                }
                return see_other(&after(&form, "services"));
            }
            Err(m) => errors.add("_form", m),
        }
    }
    render(&admin, &session, "services", None, None, errors).await
}

async fn add_stylist(State(admin): State<Admin>, Posted { session, form }: Posted) -> Response {
    let ctx = or_page!(Ctx::load(&admin).await);
    let mut errors = Errors::default();
    let name = form.text("stylist_name");
    if name.is_empty() || name.chars().count() > 100 {
        errors.add(
            "stylist_name",
            "Give the stylist's name (1 to 100 characters).",
        );
    }
    if errors.is_empty() {
        let id = StylistId::new();
        let meta = metadata(&session, &form);
        let services: Vec<ServiceId> = ctx
            .services
            .iter()
            .filter(|s| s.active)
            .filter_map(|s| ServiceId::parse(&s.id).ok())
            .collect();
        let hire = StylistCommand::Hire {
            id,
            name,
            bio: form.text("bio"),
            services,
        };
        match execute::<Stylist>(&admin, &id.to_string(), hire, &meta).await {
            Ok(_) => {
                // They work the salon's opening hours until the owner sets their own.
                let hours = ctx.settings.opening_hours.clone();
                if !hours.is_empty() {
                    let _ = execute::<Stylist>(
                        &admin,
                        &id.to_string(),
                        StylistCommand::SetHours { hours },
                        &meta,
                    )
                    .await;
                }
                return see_other(&after(&form, "stylists"));
            }
            Err(m) => errors.add("_form", m),
        }
    }
    render(&admin, &session, "stylists", None, None, errors).await
}

async fn save_policy(State(admin): State<Admin>, Posted { session, form }: Posted) -> Response {
    let ctx = or_page!(Ctx::load(&admin).await);
    let mut errors = Errors::default();
    let number = |field: &str, min: u32, max: u32, errors: &mut Errors| -> u32 {
        match form.text(field).parse::<u32>() {
            Ok(v) if (min..=max).contains(&v) => v,
            _ => {
                errors.add(field, format!("Give a whole number from {min} to {max}."));
                0
            }
        }
    };
    let policy = BookingPolicy {
        cancellation_window_hours: number("cancellation_window", 0, 24 * 30, &mut errors),
        hold_minutes: number("hold", 1, 24 * 60, &mut errors),
        lead_time_minutes: number("lead_time", 0, 60 * 24 * 14, &mut errors),
        horizon_days: number("horizon", 1, 366, &mut errors),
        slot_step_minutes: number("slot_step", 5, 240, &mut errors),
    };
    let text = form.text("policy_text");
    if text.chars().count() > domain::salon::MAX_POLICY_TEXT {
        errors.add("policy_text", "Keep the policy under 2,000 characters.");
    }
    let step = if form.get("back") == Some("settings") {
        "settings"
    } else {
        "policy"
    };
    if errors.is_empty() {
        let changes = SalonChanges {
            policy: Some(policy),
            policy_text: Some(text),
            ..SalonChanges::default()
        };
        let _ = &ctx;
        match change_salon(&admin, &session, &form, None, changes).await {
            Ok(()) => return see_other(&after(&form, "policy")),
            Err(m) => errors.add("_form", m),
        }
    }
    respond(&admin, &session, step, None, errors).await
}

async fn open_for_bookings(
    State(admin): State<Admin>,
    Posted { session, form }: Posted,
) -> Response {
    let ctx = or_page!(Ctx::load(&admin).await);
    let mut errors = Errors::default();
    if !ctx.settings.configured {
        errors.add(
            "_form",
            "Give the salon a name first (step 1), then open it.",
        );
    } else if !ctx.services.iter().any(|s| s.active) || !ctx.stylists.iter().any(|s| s.active) {
        errors.add(
            "_form",
            "Add at least one service and one stylist first: clients would find nothing to book.",
        );
    }
    if errors.is_empty() {
        let meta = metadata(&session, &form);
        match execute::<Salon>(&admin, SALON_ID, SalonCommand::OpenForBookings, &meta).await {
            Ok(_) => {
                return see_other(if form.get("back") == Some("settings") {
                    "/admin/settings?done=opened"
                } else {
                    "/admin?done=opened"
                })
            }
            Err(m) => errors.add("_form", m),
        }
    }
    let step = if form.get("back") == Some("settings") {
        "settings"
    } else {
        "open"
    };
    respond(&admin, &session, step, None, errors).await
}

async fn close_for_bookings(
    State(admin): State<Admin>,
    Posted { session, form }: Posted,
) -> Response {
    let meta = metadata(&session, &form);
    match execute::<Salon>(&admin, SALON_ID, SalonCommand::CloseForBookings, &meta).await {
        Ok(_) => see_other("/admin/settings?done=closed"),
        Err(m) => {
            let mut errors = Errors::default();
            errors.add("_form", m);
            respond(&admin, &session, "settings", None, errors).await
        }
    }
}
