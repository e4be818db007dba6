//! Stylists (profile, the services they do, weekly hours with breaks, time off, archive) and
//! services (duration, buffers, price, deposit, archive).

use super::view::{self, Chrome, Ctx, Errors};
use super::{error_page, execute, failed, metadata, see_other, Admin, Owner, Posted};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use chrono::{Duration, NaiveDateTime, NaiveTime};
use domain::ids::{ServiceId, StylistId, TimeOffId};
use domain::schedule::{DayHours, DayKey, TimeOff, TimeRange, WeeklyHours};
use domain::service::{Service, ServiceCommand, ServiceDetails, ServicePatch};
use domain::stylist::{Stylist, StylistCommand, StylistPatch};
use domain::values::{Cents, Currency};
use projections::queries::{self, ServiceView, StylistView};
use std::collections::{BTreeMap, HashMap};

pub(super) fn routes() -> Router<Admin> {
    Router::new()
        .route("/admin/stylists", get(stylists).post(hire))
        .route("/admin/stylists/new", get(new_stylist))
        .route("/admin/stylists/{id}", get(stylist).post(save_stylist))
        .route("/admin/stylists/{id}/hours", post(save_hours))
        .route("/admin/stylists/{id}/time-off", post(add_time_off))
        .route(
            "/admin/stylists/{id}/time-off/{time_off}/remove",
            post(remove_time_off),
        )
        .route("/admin/stylists/{id}/archive", post(archive_stylist))
        .route("/admin/services", get(services).post(create_service))
        .route("/admin/services/new", get(new_service))
        .route("/admin/services/{id}", get(service).post(save_service))
        .route("/admin/services/{id}/archive", post(archive_service))
}

type Params = Query<HashMap<String, String>>;

fn done(p: &HashMap<String, String>) -> Option<&str> {
    p.get("done").map(String::as_str)
}

// ---------------------------------------------------------------------------------------------
// Stylists

pub struct StylistRow {
    pub id: String,
    pub name: String,
    pub services: String,
    pub week: String,
    pub active: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/stylists.html")]
struct StylistsPage {
    chrome: Chrome,
    rows: Vec<StylistRow>,
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

fn week_summary(hours: &WeeklyHours) -> String {
    let days: Vec<String> = DAYS
        .iter()
        .filter_map(|(k, _, name)| {
            hours.days().get(k).map(|h| {
                format!(
                    "{} {}–{}",
                    &name[..3],
                    h.open.format("%H:%M"),
                    h.close.format("%H:%M")
                )
            })
        })
        .collect();
    if days.is_empty() {
        "No working hours yet".into()
    } else {
        days.join(", ")
    }
}

async fn stylists(State(admin): State<Admin>, Owner(session): Owner, Query(p): Params) -> Response {
    let ctx = or_page!(Ctx::load(&admin).await);
    let rows = ctx
        .stylists
        .iter()
        .map(|s| StylistRow {
            id: s.id.clone(),
            name: s.name.clone(),
            services: s
                .services
                .iter()
                .map(|id| ctx.name(id).to_string())
                .collect::<Vec<_>>()
                .join(", "),
            week: week_summary(&s.hours),
            active: s.active,
        })
        .collect();
    let chrome = view::chrome(&admin, &ctx, &session, "stylists", done(&p)).await;
    StylistsPage { chrome, rows }.into_response()
}

/// A service as a checkbox.
pub struct Choice {
    pub id: String,
    pub label: String,
    pub checked: bool,
}

fn service_choices(ctx: &Ctx, chosen: &[String]) -> Vec<Choice> {
    ctx.services
        .iter()
        .filter(|s| s.active || chosen.contains(&s.id))
        .map(|s| Choice {
            id: s.id.clone(),
            label: s.name.clone(),
            checked: chosen.contains(&s.id),
        })
        .collect()
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/stylist_new.html")]
struct NewStylistPage {
    chrome: Chrome,
    name: String,
    bio: String,
    services: Vec<Choice>,
    errors: Errors,
}

async fn new_stylist(State(admin): State<Admin>, Owner(session): Owner) -> Response {
    let ctx = or_page!(Ctx::load(&admin).await);
    let chrome = view::chrome(&admin, &ctx, &session, "stylists", None).await;
    NewStylistPage {
        chrome,
        name: String::new(),
        bio: String::new(),
        services: service_choices(&ctx, &[]),
        errors: Errors::default(),
    }
    .into_response()
}

/// The profile fields of a stylist form, checked.
fn profile(form: &super::Form, errors: &mut Errors) -> (String, String, Vec<ServiceId>) {
    let name = form.text("name");
    if name.is_empty() || name.chars().count() > 100 {
        errors.add("name", "Give a name of 1 to 100 characters.");
    }
    let bio = form.text("bio");
    if bio.chars().count() > 2000 {
        errors.add("bio", "The bio can be at most 2000 characters.");
    }
    let services: Vec<ServiceId> = form
        .all("services")
        .into_iter()
        .filter_map(|s| ServiceId::parse(s).ok())
        .collect();
    (name, bio, services)
}

async fn hire(State(admin): State<Admin>, Posted { session, form }: Posted) -> Response {
    let ctx = or_page!(Ctx::load(&admin).await);
    let mut errors = Errors::default();
    let (name, bio, services) = profile(&form, &mut errors);
    if errors.is_empty() {
        let id = StylistId::new();
        let command = StylistCommand::Hire {
            id,
            name: name.clone(),
            bio: bio.clone(),
            services: services.clone(),
        };
        match execute::<Stylist>(&admin, &id.to_string(), command, &metadata(&session, &form)).await
        {
            Ok(_) => return see_other(&format!("/admin/stylists/{id}?done=hired")),
            Err(m) => errors.add("_form", m),
        }
    }
    let chosen: Vec<String> = services.iter().map(ToString::to_string).collect();
    let chrome = view::chrome(&admin, &ctx, &session, "stylists", None).await;
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        NewStylistPage {
            chrome,
            name,
            bio,
            services: service_choices(&ctx, &chosen),
            errors,
        },
    )
        .into_response()
}

/// One weekday's row of the hours form.
pub struct DayRow {
    pub key: &'static str,
    pub name: &'static str,
    pub works: bool,
    pub open: String,
    pub close: String,
    pub breaks: String,
}

pub struct TimeOffRow {
    pub id: String,
    pub span: String,
    pub reason: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/stylist.html")]
struct StylistPage {
    chrome: Chrome,
    id: String,
    active: bool,
    name: String,
    bio: String,
    services: Vec<Choice>,
    days: Vec<DayRow>,
    time_off: Vec<TimeOffRow>,
    off: OffForm,
    picture: super::pictures::PictureForm,
    errors: Errors,
}

#[derive(Default)]
struct OffForm {
    from_date: String,
    from_time: String,
    to_date: String,
    to_time: String,
    reason: String,
}

fn day_rows(hours: &WeeklyHours) -> Vec<DayRow> {
    DAYS.iter()
        .map(|(k, key, name)| {
            let h = hours.days().get(k);
            DayRow {
                key,
                name,
                works: h.is_some(),
                open: h
                    .map(|h| h.open.format("%H:%M").to_string())
                    .unwrap_or_default(),
                close: h
                    .map(|h| h.close.format("%H:%M").to_string())
                    .unwrap_or_default(),
                breaks: h
                    .map(|h| {
                        h.breaks
                            .iter()
                            .map(|b| {
                                format!("{}-{}", b.start.format("%H:%M"), b.end.format("%H:%M"))
                            })
                            .collect::<Vec<_>>()
                            .join(", ")
                    })
                    .unwrap_or_default(),
            }
        })
        .collect()
}

fn off_rows(s: &StylistView) -> Vec<TimeOffRow> {
    let mut list: Vec<&TimeOff> = s.time_off.iter().collect();
    list.sort_by_key(|t| t.start);
    list.into_iter()
        .map(|t| TimeOffRow {
            id: t.id.to_string(),
            span: format!(
                "{} – {}",
                t.start.format("%a %-d %b %Y %H:%M"),
                t.end.format("%a %-d %b %Y %H:%M")
            ),
            reason: t.reason.clone().unwrap_or_default(),
        })
        .collect()
}

/// What the stylist page shows instead of the stored values, after a refused form.
#[derive(Default)]
pub(super) struct Sent {
    profile: Option<(String, String, Vec<String>)>,
    days: Option<Vec<DayRow>>,
    off: Option<OffForm>,
}

pub(super) async fn stylist_page(
    admin: &Admin,
    session: &crate::auth::Session,
    id: &str,
    done: Option<&str>,
    sent: Sent,
    errors: Errors,
) -> Response {
    let ctx = or_page!(Ctx::load(admin).await);
    let Some(s) = ctx.stylists.iter().find(|s| s.id == id) else {
        return error_page(StatusCode::NOT_FOUND, "There is no such stylist.");
    };
    let (name, bio, chosen) = sent
        .profile
        .unwrap_or_else(|| (s.name.clone(), s.bio.clone(), s.services.clone()));
    let chrome = view::chrome(admin, &ctx, session, "stylists", done).await;
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    (
        status,
        StylistPage {
            chrome,
            id: s.id.clone(),
            active: s.active,
            services: service_choices(&ctx, &chosen),
            name,
            bio,
            days: sent.days.unwrap_or_else(|| day_rows(&s.hours)),
            time_off: off_rows(s),
            off: sent.off.unwrap_or_default(),
            picture: super::pictures::form(
                domain::picture::Subject::Stylist(StylistId::parse(&s.id).unwrap_or_default()),
                &s.name,
                s.photo_url.clone(),
                &errors,
            ),
            errors,
        },
    )
        .into_response()
}

async fn stylist(
    State(admin): State<Admin>,
    Owner(session): Owner,
    Path(id): Path<String>,
    Query(p): Params,
) -> Response {
    stylist_page(
        &admin,
        &session,
        &id,
        done(&p),
        Sent::default(),
        Errors::default(),
    )
    .await
}

fn stylist_id(id: &str) -> Result<StylistId, Response> {
    StylistId::parse(id).map_err(|_| error_page(StatusCode::NOT_FOUND, "There is no such stylist."))
}

async fn save_stylist(
    State(admin): State<Admin>,
    Path(id): Path<String>,
    Posted { session, form }: Posted,
) -> Response {
    if let Err(r) = stylist_id(&id) {
        return r;
    }
    let mut errors = Errors::default();
    let (name, bio, services) = profile(&form, &mut errors);
    if errors.is_empty() {
        let patch = StylistPatch {
            name: Some(name.clone()),
            bio: Some(bio.clone()),
            services: Some(services.clone()),
            hours: None,
            active: None,
        };
        match execute::<Stylist>(
            &admin,
            &id,
            StylistCommand::Change(patch),
            &metadata(&session, &form),
        )
        .await
        {
            Ok(n) => {
                let code = if n > 0 { "saved" } else { "unchanged" };
                return see_other(&format!("/admin/stylists/{id}?done={code}"));
            }
            Err(m) => errors.add("profile", m),
        }
    }
    let sent = Sent {
        profile: Some((
            name,
            bio,
            services.iter().map(ToString::to_string).collect(),
        )),
        ..Sent::default()
    };
    stylist_page(&admin, &session, &id, None, sent, errors).await
}

/// `13:00-13:30, 16:00-16:15` as breaks.
fn parse_breaks(raw: &str) -> Result<Vec<TimeRange>, String> {
    raw.split([',', ';'])
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (a, b) = p
                .split_once(['-', '–'])
                .ok_or_else(|| format!("{p:?} is not a break like 13:00-13:30"))?;
            TimeRange::parse(a.trim(), b.trim()).map_err(|e| e.message)
        })
        .collect()
}

async fn save_hours(
    State(admin): State<Admin>,
    Path(id): Path<String>,
    Posted { session, form }: Posted,
) -> Response {
    if let Err(r) = stylist_id(&id) {
        return r;
    }
    let mut errors = Errors::default();
    let mut days = BTreeMap::new();
    let mut rows = Vec::new();
    for (k, key, name) in DAYS {
        let works = form.ticked(&format!("{key}_works"));
        let open = form.text(&format!("{key}_open"));
        let close = form.text(&format!("{key}_close"));
        let breaks = form.text(&format!("{key}_breaks"));
        if works {
            let o = view::parse_time(&open);
            let c = view::parse_time(&close);
            let b = parse_breaks(&breaks);
            match (o, c, b) {
                (Ok(open), Ok(close), Ok(breaks)) => {
                    let one = BTreeMap::from([(
                        k,
                        DayHours {
                            open,
                            close,
                            breaks: breaks.clone(),
                        },
                    )]);
                    match WeeklyHours::new(one) {
                        Ok(_) => {
                            days.insert(
                                k,
                                DayHours {
                                    open,
                                    close,
                                    breaks,
                                },
                            );
                        }
                        Err(e) => errors.add(key, view_day_error(&e.message, name)),
                    }
                }
                (Err(_), _, _) | (_, Err(_), _) => errors.add(
                    key,
                    format!("{name}: give opening and closing times like 09:00 and 18:00."),
                ),
                (_, _, Err(m)) => errors.add(key, format!("{name}: {m}")),
            }
        }
        rows.push(DayRow {
            key,
            name,
            works,
            open,
            close,
            breaks,
        });
    }
    if errors.is_empty() {
        match WeeklyHours::new(days) {
            Ok(hours) => {
                let command = StylistCommand::SetHours { hours };
                match execute::<Stylist>(&admin, &id, command, &metadata(&session, &form)).await {
                    Ok(n) => {
                        let code = if n > 0 { "hours" } else { "unchanged" };
                        return see_other(&format!("/admin/stylists/{id}?done={code}"));
                    }
                    Err(m) => errors.add("hours", m),
                }
            }
            Err(e) => errors.add("hours", e.message),
        }
    }
    let sent = Sent {
        days: Some(rows),
        ..Sent::default()
    };
    stylist_page(&admin, &session, &id, None, sent, errors).await
}

/// The domain's words for a bad day ("Mon: breaks overlap") with the day's full name.
fn view_day_error(message: &str, day: &str) -> String {
    let rest = message.split_once(": ").map(|(_, r)| r).unwrap_or(message);
    format!("{day}: {rest}.")
}

async fn add_time_off(
    State(admin): State<Admin>,
    Path(id): Path<String>,
    Posted { session, form }: Posted,
) -> Response {
    if let Err(r) = stylist_id(&id) {
        return r;
    }
    let sent = OffForm {
        from_date: form.text("from_date"),
        from_time: form.text("from_time"),
        to_date: form.text("to_date"),
        to_time: form.text("to_time"),
        reason: form.text("off_reason"),
    };
    let mut errors = Errors::default();
    let time_or = |raw: &str, default: NaiveTime| {
        if raw.is_empty() {
            Ok(default)
        } else {
            view::parse_time(raw)
        }
    };
    let start = match (
        view::parse_date(&sent.from_date),
        time_or(&sent.from_time, NaiveTime::MIN),
    ) {
        (Ok(d), Ok(t)) => Some(NaiveDateTime::new(d, t)),
        _ => {
            errors.add(
                "from",
                "Give the first day (and a time, or leave it for the whole day).",
            );
            None
        }
    };
    // Without an end time the last day is taken whole.
    let end = match view::parse_date(&sent.to_date) {
        Ok(d) if sent.to_time.is_empty() => {
            Some(NaiveDateTime::new(d + Duration::days(1), NaiveTime::MIN))
        }
        Ok(d) => match view::parse_time(&sent.to_time) {
            Ok(t) => Some(NaiveDateTime::new(d, t)),
            Err(m) => {
                errors.add("to", format!("The end time {m}."));
                None
            }
        },
        Err(_) => {
            errors.add("to", "Give the last day.");
            None
        }
    };
    if sent.reason.chars().count() > 200 {
        errors.add("off_reason", "The reason can be at most 200 characters.");
    }
    if let (Some(start), Some(end), true) = (start, end, errors.is_empty()) {
        if end <= start {
            errors.add("to", "The time off must end after it starts.");
        } else {
            let time_off = TimeOff {
                id: TimeOffId::new(),
                start,
                end,
                reason: (!sent.reason.is_empty()).then(|| sent.reason.clone()),
            };
            let command = StylistCommand::AddTimeOff { time_off };
            match execute::<Stylist>(&admin, &id, command, &metadata(&session, &form)).await {
                Ok(_) => return see_other(&format!("/admin/stylists/{id}?done=time-off")),
                Err(m) => errors.add("off", m),
            }
        }
    }
    let sent = Sent {
        off: Some(sent),
        ..Sent::default()
    };
    stylist_page(&admin, &session, &id, None, sent, errors).await
}

async fn remove_time_off(
    State(admin): State<Admin>,
    Path((id, time_off)): Path<(String, String)>,
    Posted { session, form }: Posted,
) -> Response {
    if let Err(r) = stylist_id(&id) {
        return r;
    }
    let Ok(tid) = TimeOffId::parse(&time_off) else {
        return error_page(StatusCode::NOT_FOUND, "There is no such time off.");
    };
    let command = StylistCommand::RemoveTimeOff { id: tid };
    match execute::<Stylist>(&admin, &id, command, &metadata(&session, &form)).await {
        Ok(_) => see_other(&format!("/admin/stylists/{id}?done=time-off-removed")),
        Err(m) => {
            let mut errors = Errors::default();
            errors.add("off", m);
            stylist_page(&admin, &session, &id, None, Sent::default(), errors).await
        }
    }
}

async fn archive_stylist(
    State(admin): State<Admin>,
    Path(id): Path<String>,
    Posted { session, form }: Posted,
) -> Response {
    if let Err(r) = stylist_id(&id) {
        return r;
    }
    let active = form.get("active") == Some("true");
    let patch = StylistPatch {
        name: None,
        bio: None,
        services: None,
        hours: None,
        active: Some(active),
    };
    match execute::<Stylist>(
        &admin,
        &id,
        StylistCommand::Change(patch),
        &metadata(&session, &form),
    )
    .await
    {
        Ok(_) => see_other(&format!(
            "/admin/stylists/{id}?done={}",
            if active { "restored" } else { "archived" }
        )),
        Err(m) => {
            let mut errors = Errors::default();
            errors.add("archive", m);
            stylist_page(&admin, &session, &id, None, Sent::default(), errors).await
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Services

pub struct ServiceRow {
    pub id: String,
    pub name: String,
    pub duration: String,
    pub price: String,
    pub deposit: String,
    pub active: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/services.html")]
struct ServicesPage {
    chrome: Chrome,
    rows: Vec<ServiceRow>,
}

async fn services(State(admin): State<Admin>, Owner(session): Owner, Query(p): Params) -> Response {
    let ctx = or_page!(Ctx::load(&admin).await);
    let rows = ctx
        .services
        .iter()
        .map(|s| ServiceRow {
            id: s.id.clone(),
            name: s.name.clone(),
            duration: duration_text(s),
            price: ctx.money(s.price_cents),
            deposit: if s.deposit_cents > 0 {
                ctx.money(s.deposit_cents)
            } else {
                "none".into()
            },
            active: s.active,
        })
        .collect();
    let chrome = view::chrome(&admin, &ctx, &session, "services", done(&p)).await;
    ServicesPage { chrome, rows }.into_response()
}

fn duration_text(s: &ServiceView) -> String {
    let mut t = format!("{} min", s.duration_minutes);
    if s.buffer_before_minutes > 0 || s.buffer_after_minutes > 0 {
        t.push_str(&format!(
            " (+{} before, +{} after)",
            s.buffer_before_minutes, s.buffer_after_minutes
        ));
    }
    t
}

/// The service form's values, as typed.
#[derive(Default)]
pub(super) struct ServiceForm {
    name: String,
    description: String,
    duration: String,
    buffer_before: String,
    buffer_after: String,
    price: String,
    deposit: String,
}

impl ServiceForm {
    fn of(s: &ServiceView) -> Self {
        Self {
            name: s.name.clone(),
            description: s.description.clone(),
            duration: s.duration_minutes.to_string(),
            buffer_before: s.buffer_before_minutes.to_string(),
            buffer_after: s.buffer_after_minutes.to_string(),
            price: view::money_input(s.price_cents),
            deposit: view::money_input(s.deposit_cents),
        }
    }

    fn sent(form: &super::Form) -> Self {
        Self {
            name: form.text("name"),
            description: form.text("description"),
            duration: form.text("duration"),
            buffer_before: form.text("buffer_before"),
            buffer_after: form.text("buffer_after"),
            price: form.text("price"),
            deposit: form.text("deposit"),
        }
    }

    /// The details, checked by the domain's rules, or field errors.
    fn details(&self, currency: &str, errors: &mut Errors) -> Option<ServiceDetails> {
        // Each error names its field: "The price must be an amount like 95.00."
        let minutes = |field: &str, raw: &str, max: u32, errors: &mut Errors| {
            let what = match field {
                "duration" => "The time it takes",
                "buffer_before" => "The prep time",
                _ => "The clean-up time",
            };
            let min = if field == "duration" { 5 } else { 0 };
            view::parse_minutes(raw, min, max)
                .map_err(|m| errors.add(field, format!("{what} {m}.")))
                .ok()
        };
        let duration = minutes("duration", &self.duration, 720, errors);
        let before = minutes("buffer_before", or_zero(&self.buffer_before), 240, errors);
        let after = minutes("buffer_after", or_zero(&self.buffer_after), 240, errors);
        let money = |field: &str, raw: &str, errors: &mut Errors| {
            let what = if field == "price" {
                "The price"
            } else {
                "The deposit"
            };
            view::parse_money(raw)
                .map_err(|m| errors.add(field, format!("{what} {m}.")))
                .ok()
                .and_then(|c| Cents::new(c).map_err(|e| errors.add(field, e.message)).ok())
        };
        let price = money("price", &self.price, errors);
        let deposit = money("deposit", or_zero(&self.deposit), errors);
        let currency = Currency::parse(currency).unwrap_or_default();
        let details = ServiceDetails {
            name: self.name.clone(),
            description: self.description.clone(),
            duration_minutes: duration?,
            buffer_before_minutes: before?,
            buffer_after_minutes: after?,
            price_cents: price?,
            deposit_cents: deposit?,
            currency,
        };
        match details.validate() {
            Ok(d) => Some(d),
            Err(e) => {
                let field = match e.field {
                    "duration_minutes" => "duration",
                    "buffer_before_minutes" => "buffer_before",
                    "buffer_after_minutes" => "buffer_after",
                    "price_cents" => "price",
                    "deposit_cents" => "deposit",
                    other => other,
                };
                errors.add(field, super::sentence(&e.message));
                None
            }
        }
    }
}

fn or_zero(raw: &str) -> &str {
    if raw.trim().is_empty() {
        "0"
    } else {
        raw
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/service.html")]
struct ServicePage {
    chrome: Chrome,
    /// `None` for a new service.
    id: Option<String>,
    active: bool,
    currency: String,
    form: ServiceForm,
    /// `None` for a new service.
    picture: Option<super::pictures::PictureForm>,
    errors: Errors,
}

pub(super) async fn service_page(
    admin: &Admin,
    session: &crate::auth::Session,
    id: Option<&str>,
    done: Option<&str>,
    sent: Option<ServiceForm>,
    errors: Errors,
) -> Response {
    let ctx = or_page!(Ctx::load(admin).await);
    let found = match id {
        Some(id) => match ctx.services.iter().find(|s| s.id == id) {
            Some(s) => Some(s),
            None => return error_page(StatusCode::NOT_FOUND, "There is no such service."),
        },
        None => None,
    };
    let form = sent.unwrap_or_else(|| found.map(ServiceForm::of).unwrap_or_default());
    let chrome = view::chrome(admin, &ctx, session, "services", done).await;
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    (
        status,
        ServicePage {
            chrome,
            id: found.map(|s| s.id.clone()),
            active: found.is_none_or(|s| s.active),
            currency: ctx.currency.clone(),
            picture: found.map(|s| {
                super::pictures::form(
                    domain::picture::Subject::Service(ServiceId::parse(&s.id).unwrap_or_default()),
                    &s.name,
                    s.picture_url.clone(),
                    &errors,
                )
            }),
            form,
            errors,
        },
    )
        .into_response()
}

async fn new_service(State(admin): State<Admin>, Owner(session): Owner) -> Response {
    service_page(&admin, &session, None, None, None, Errors::default()).await
}

async fn service(
    State(admin): State<Admin>,
    Owner(session): Owner,
    Path(id): Path<String>,
    Query(p): Params,
) -> Response {
    service_page(
        &admin,
        &session,
        Some(&id),
        done(&p),
        None,
        Errors::default(),
    )
    .await
}

async fn create_service(State(admin): State<Admin>, Posted { session, form }: Posted) -> Response {
    let currency = match queries::salon(admin.read()).await {
        Ok(s) => s.currency,
        Err(e) => return failed(e),
    };
    let sent = ServiceForm::sent(&form);
    let mut errors = Errors::default();
    if let Some(details) = sent.details(&currency, &mut errors) {
        let id = ServiceId::new();
        let command = ServiceCommand::Create { id, details };
        match execute::<Service>(&admin, &id.to_string(), command, &metadata(&session, &form)).await
        {
            Ok(_) => return see_other(&format!("/admin/services/{id}?done=created")),
            Err(m) => errors.add("_form", m),
        }
    }
    service_page(&admin, &session, None, None, Some(sent), errors).await
}

async fn save_service(
    State(admin): State<Admin>,
    Path(id): Path<String>,
    Posted { session, form }: Posted,
) -> Response {
    if ServiceId::parse(&id).is_err() {
        return error_page(StatusCode::NOT_FOUND, "There is no such service.");
    }
    let currency = match queries::salon(admin.read()).await {
        Ok(s) => s.currency,
        Err(e) => return failed(e),
    };
    let sent = ServiceForm::sent(&form);
    let mut errors = Errors::default();
    if let Some(d) = sent.details(&currency, &mut errors) {
        let patch = ServicePatch {
            name: Some(d.name),
            description: Some(d.description),
            duration_minutes: Some(d.duration_minutes),
            buffer_before_minutes: Some(d.buffer_before_minutes),
            buffer_after_minutes: Some(d.buffer_after_minutes),
            price_cents: Some(d.price_cents),
            deposit_cents: Some(d.deposit_cents),
            currency: None,
            active: None,
        };
        match execute::<Service>(
            &admin,
            &id,
            ServiceCommand::Change(patch),
            &metadata(&session, &form),
        )
        .await
        {
            Ok(n) => {
                let code = if n > 0 { "saved" } else { "unchanged" };
                return see_other(&format!("/admin/services/{id}?done={code}"));
            }
            Err(m) => errors.add("_form", m),
        }
    }
    service_page(&admin, &session, Some(&id), None, Some(sent), errors).await
}

async fn archive_service(
    State(admin): State<Admin>,
    Path(id): Path<String>,
    Posted { session, form }: Posted,
) -> Response {
    if ServiceId::parse(&id).is_err() {
        return error_page(StatusCode::NOT_FOUND, "There is no such service.");
    }
    let active = form.get("active") == Some("true");
    let command = if active {
        ServiceCommand::Restore
    } else {
        ServiceCommand::Archive
    };
    match execute::<Service>(&admin, &id, command, &metadata(&session, &form)).await {
        Ok(_) => see_other(&format!(
            "/admin/services/{id}?done={}",
            if active { "restored" } else { "archived" }
        )),
        Err(m) => {
            let mut errors = Errors::default();
            errors.add("_form", m);
            service_page(&admin, &session, Some(&id), None, None, errors).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn breaks_are_read_as_people_type_them() {
        let b = parse_breaks("13:00-13:30, 16:00 – 16:15").expect("breaks");
        assert_eq!(b.len(), 2);
        assert_eq!(b[1].start.format("%H:%M").to_string(), "16:00");
        assert!(parse_breaks("").expect("none").is_empty());
        assert!(parse_breaks("lunch").is_err());
        assert!(parse_breaks("14:00-13:00").is_err());
    }
}
