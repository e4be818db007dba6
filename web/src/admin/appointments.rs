//! Appointments: the day (a column per stylist), the week, the list of every booking with
//! filters, one booking with its actions (move, cancel, no-show, done, notes — each with an
//! optional reason that lands in the event) and its history, and booking by hand.

use super::view::{self, Chrome, Ctx, Errors, Pager};
use super::{error_page, failed, metadata, see_other, Admin, Form, FragmentOwner, Owner, Posted};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use chrono::{Datelike, Duration, NaiveDate, Utc};
use commands::booking::{PlaceBooking, PlaceError};
use commands::lifecycle::ChangeError;
use domain::availability::Slot;
use domain::booking::{BookingCommand, Party};
use domain::ids::{BookingId, ServiceId, StylistId};
use domain::values::{Client, Email, PersonName, Phone};
use projections::dashboard::{self as q, AuditFilter};
use projections::list::{self, ListSpec};
use projections::queries::{self, BookingView, BOOKING_LIST, BOOKING_STATUSES};
use std::collections::HashMap;

pub(super) fn routes() -> Router<Admin> {
    Router::new()
        .route("/admin", get(day))
        .route("/admin/fragments/day", get(day_fragment))
        .route("/admin/week", get(week))
        .route("/admin/bookings", get(bookings).post(book))
        .route("/admin/fragments/bookings", get(bookings_fragment))
        .route("/admin/bookings/new", get(new_booking))
        .route("/admin/fragments/slots", get(slots_fragment))
        .route("/admin/bookings/{id}", get(booking))
        .route("/admin/bookings/{id}/move", post(move_booking))
        .route("/admin/bookings/{id}/cancel", post(cancel))
        .route("/admin/bookings/{id}/no-show", post(no_show))
        .route("/admin/bookings/{id}/complete", post(complete))
        .route("/admin/bookings/{id}/notes", post(notes))
        .route("/admin/bookings/{id}/forget-client", post(forget_client))
}

type Params = Query<HashMap<String, String>>;

fn param<'a>(p: &'a HashMap<String, String>, k: &str) -> Option<&'a str> {
    p.get(k).map(|v| v.trim()).filter(|v| !v.is_empty())
}

/// One appointment as a card.
pub struct Entry {
    pub id: String,
    pub time: String,
    pub client: String,
    pub service: String,
    pub stylist: String,
    pub status: String,
    pub status_label: &'static str,
    pub deposit_label: &'static str,
    pub deposit_status: String,
    pub notes: String,
    pub date: String,
}

impl Entry {
    fn of(b: &BookingView, ctx: &Ctx) -> Self {
        Self {
            id: b.id.clone(),
            time: format!("{}–{}", ctx.clock(&b.start), ctx.clock(&b.end)),
            client: b.client_name.clone(),
            service: ctx.name(&b.service).to_string(),
            stylist: ctx.name(&b.stylist).to_string(),
            status: b.status.clone(),
            status_label: crate::dashboard::format::status(&b.status),
            deposit_label: crate::dashboard::format::deposit(&b.deposit_status),
            deposit_status: b.deposit_status.clone(),
            notes: b.notes.clone().unwrap_or_default(),
            date: ctx.when(&b.start),
        }
    }
}

fn midnight(d: NaiveDate, ctx: &Ctx) -> i64 {
    crate::dashboard::format::midnight(d, ctx.tz).timestamp()
}

// ---------------------------------------------------------------------------------------------
// The day

/// One stylist's column on the day.
pub struct Column {
    pub name: String,
    pub hours: String,
    pub entries: Vec<Entry>,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/day.html")]
struct DayPage {
    chrome: Chrome,
    board: DayBoard,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/day_board.html")]
struct DayBoard {
    date: String,
    title: String,
    prev: String,
    next: String,
    today: String,
    is_today: bool,
    show_all: bool,
    columns: Vec<Column>,
    count: usize,
}

/// "10:00–18:00 · break 13:00–13:30", "Day off", or the time off that covers the day.
fn hours_of(s: &queries::StylistView, date: NaiveDate) -> String {
    let start = date.and_hms_opt(0, 0, 0).unwrap_or_default();
    let end = start + Duration::days(1);
    if let Some(off) = s.time_off.iter().find(|t| t.start < end && t.end > start) {
        return match &off.reason {
            Some(r) if !r.is_empty() => format!("Time off ({r})"),
            _ => "Time off".into(),
        };
    }
    match s.hours.day(date.weekday()) {
        None => "Day off".into(),
        Some(h) => {
            let mut out = format!("{}–{}", h.open.format("%H:%M"), h.close.format("%H:%M"));
            for b in &h.breaks {
                out.push_str(&format!(
                    " · break {}–{}",
                    b.start.format("%H:%M"),
                    b.end.format("%H:%M")
                ));
            }
            out
        }
    }
}

async fn board(
    admin: &Admin,
    ctx: &Ctx,
    p: &HashMap<String, String>,
) -> Result<DayBoard, Response> {
    let date = match param(p, "date") {
        None => ctx.today(),
        Some(raw) => view::parse_date(raw)
            .map_err(|m| error_page(StatusCode::BAD_REQUEST, &format!("The date {m}.")))?,
    };
    let show_all = param(p, "show") == Some("all");
    let from = midnight(date, ctx);
    let to = midnight(date + Duration::days(1), ctx);
    let bookings = q::bookings_between(admin.read(), from, to)
        .await
        .map_err(failed)?;
    let kept: Vec<&BookingView> = bookings
        .iter()
        .filter(|b| show_all || !matches!(b.status.as_str(), "cancelled"))
        .collect();
    let mut columns = Vec::new();
    for s in &ctx.stylists {
        let entries: Vec<Entry> = kept
            .iter()
            .filter(|b| b.stylist == s.id)
            .map(|b| Entry::of(b, ctx))
            .collect();
        if s.active || !entries.is_empty() {
            columns.push(Column {
                name: s.name.clone(),
                hours: hours_of(s, date),
                entries,
            });
        }
    }
    let today = ctx.today();
    Ok(DayBoard {
        date: date.format("%Y-%m-%d").to_string(),
        title: date.format("%A %-d %B %Y").to_string(),
        prev: (date - Duration::days(1)).format("%Y-%m-%d").to_string(),
        next: (date + Duration::days(1)).format("%Y-%m-%d").to_string(),
        today: today.format("%Y-%m-%d").to_string(),
        is_today: date == today,
        show_all,
        count: kept.len(),
        columns,
    })
}

async fn day(State(admin): State<Admin>, Owner(session): Owner, Query(p): Params) -> Response {
    let ctx = or_page!(Ctx::load(&admin).await);
    let board = match board(&admin, &ctx, &p).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let chrome = view::chrome(&admin, &ctx, &session, "day", param(&p, "done")).await;
    DayPage { chrome, board }.into_response()
}

/// The day's board alone, for live refreshes.
async fn day_fragment(
    State(admin): State<Admin>,
    FragmentOwner(_): FragmentOwner,
    Query(p): Params,
) -> Response {
    let ctx = or_page!(Ctx::load(&admin).await);
    match board(&admin, &ctx, &p).await {
        Ok(b) => b.into_response(),
        Err(r) => r,
    }
}

// ---------------------------------------------------------------------------------------------
// The week

pub struct WeekRow {
    pub name: String,
    pub days: Vec<Vec<Entry>>,
}

pub struct WeekDay {
    pub date: String,
    pub label: String,
    pub is_today: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/week.html")]
struct WeekPage {
    chrome: Chrome,
    title: String,
    prev: String,
    next: String,
    days: Vec<WeekDay>,
    rows: Vec<WeekRow>,
    count: usize,
}

async fn week(State(admin): State<Admin>, Owner(session): Owner, Query(p): Params) -> Response {
    let ctx = or_page!(Ctx::load(&admin).await);
    let date = match param(&p, "date").map(view::parse_date) {
        None => ctx.today(),
        Some(Ok(d)) => d,
        Some(Err(m)) => return error_page(StatusCode::BAD_REQUEST, &format!("The date {m}.")),
    };
    let monday = date - Duration::days(date.weekday().num_days_from_monday().into());
    let dates: Vec<NaiveDate> = (0..7).map(|i| monday + Duration::days(i)).collect();
    let bookings = match q::bookings_between(
        admin.read(),
        midnight(monday, &ctx),
        midnight(monday + Duration::days(7), &ctx),
    )
    .await
    {
        Ok(b) => b,
        Err(e) => return failed(e),
    };
    let live: Vec<&BookingView> = bookings
        .iter()
        .filter(|b| b.status != "cancelled")
        .collect();
    let day_of = |b: &BookingView| ctx.local_parts(&b.start).0;
    let mut rows = Vec::new();
    for s in &ctx.stylists {
        let days: Vec<Vec<Entry>> = dates
            .iter()
            .map(|d| {
                let key = d.format("%Y-%m-%d").to_string();
                live.iter()
                    .filter(|b| b.stylist == s.id && day_of(b) == key)
                    .map(|b| Entry::of(b, &ctx))
                    .collect()
            })
            .collect();
        if s.active || days.iter().any(|d| !d.is_empty()) {
            rows.push(WeekRow {
                name: s.name.clone(),
                days,
            });
        }
    }
    let today = ctx.today();
    let chrome = view::chrome(&admin, &ctx, &session, "week", None).await;
    WeekPage {
        chrome,
        title: format!(
            "Week of {} – {}",
            monday.format("%-d %B"),
            (monday + Duration::days(6)).format("%-d %B %Y")
        ),
        prev: (monday - Duration::days(7)).format("%Y-%m-%d").to_string(),
        next: (monday + Duration::days(7)).format("%Y-%m-%d").to_string(),
        days: dates
            .iter()
            .map(|d| WeekDay {
                date: d.format("%Y-%m-%d").to_string(),
                label: d.format("%a %-d").to_string(),
                is_today: *d == today,
            })
            .collect(),
        count: live.len(),
        rows,
    }
    .into_response()
}

// ---------------------------------------------------------------------------------------------
// Every booking, filtered and paged

const PER_PAGE: usize = 25;

#[derive(Template, WebTemplate)]
#[template(path = "admin/bookings.html")]
struct BookingsPage {
    chrome: Chrome,
    table: BookingsTable,
    statuses: &'static [&'static str],
    stylists: Vec<(String, String)>,
    services: Vec<(String, String)>,
    status: String,
    stylist: String,
    service: String,
    from: String,
    to: String,
    q: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/bookings_table.html")]
struct BookingsTable {
    entries: Vec<Entry>,
    count: usize,
    pager: Pager,
    errors: Errors,
}

async fn table(
    admin: &Admin,
    ctx: &Ctx,
    p: &HashMap<String, String>,
) -> Result<BookingsTable, Response> {
    let get = |k: &str| param(p, k).unwrap_or_default().to_string();
    let page = view::page_number(param(p, "page"));
    let mut pairs: Vec<(String, String)> = Vec::new();
    let mut errors = Errors::default();
    let mut push = |k: &str, v: String| {
        if !v.is_empty() {
            pairs.push((k.to_string(), v));
        }
    };
    push("status", get("status"));
    push("stylist", get("stylist"));
    push("service", get("service"));
    push("start__gte", get("from"));
    push("start__lte", get("to"));
    push("search", get("q"));
    push(
        "ordering",
        if param(p, "from").is_some() {
            "start"
        } else {
            "-start"
        }
        .into(),
    );
    push("limit", PER_PAGE.to_string());
    push("offset", ((page - 1) * PER_PAGE).to_string());
    let spec: &ListSpec = &BOOKING_LIST;
    let (entries, count) = match spec.parse(&pairs, &[], ctx.tz) {
        Ok(query) => {
            let (rows, count) = list::fetch(admin.read(), spec, &query, queries::booking_from_row)
                .await
                .map_err(failed)?;
            (rows.iter().map(|b| Entry::of(b, ctx)).collect(), count)
        }
        Err(bad) => {
            for (field, message) in bad {
                let field = match field.as_str() {
                    "start__gte" => "from",
                    "start__lte" => "to",
                    "search" => "q",
                    other => other,
                };
                errors.add(field, message);
            }
            (Vec::new(), 0)
        }
    };
    let base = view::with_query(
        "/admin/bookings",
        &[
            ("status", &get("status")),
            ("stylist", &get("stylist")),
            ("service", &get("service")),
            ("from", &get("from")),
            ("to", &get("to")),
            ("q", &get("q")),
        ],
    );
    Ok(BookingsTable {
        entries,
        count,
        pager: Pager::new(&base, page, PER_PAGE, count),
        errors,
    })
}

async fn bookings(State(admin): State<Admin>, Owner(session): Owner, Query(p): Params) -> Response {
    let ctx = or_page!(Ctx::load(&admin).await);
    let table = match table(&admin, &ctx, &p).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let get = |k: &str| param(&p, k).unwrap_or_default().to_string();
    let chrome = view::chrome(&admin, &ctx, &session, "bookings", param(&p, "done")).await;
    let status = if table.errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    (
        status,
        BookingsPage {
            chrome,
            statuses: BOOKING_STATUSES,
            stylists: ctx
                .stylists
                .iter()
                .map(|s| (s.id.clone(), s.name.clone()))
                .collect(),
            services: ctx
                .services
                .iter()
                .map(|s| (s.id.clone(), s.name.clone()))
                .collect(),
            status: get("status"),
            stylist: get("stylist"),
            service: get("service"),
            from: get("from"),
            to: get("to"),
            q: get("q"),
            table,
        },
    )
        .into_response()
}

async fn bookings_fragment(
    State(admin): State<Admin>,
    FragmentOwner(_): FragmentOwner,
    Query(p): Params,
) -> Response {
    let ctx = or_page!(Ctx::load(&admin).await);
    match table(&admin, &ctx, &p).await {
        Ok(t) => t.into_response(),
        Err(r) => r,
    }
}

// ---------------------------------------------------------------------------------------------
// Booking by hand

#[derive(Template, WebTemplate)]
#[template(path = "admin/booking_new.html")]
struct NewBookingPage {
    chrome: Chrome,
    services: Vec<(String, String)>,
    stylists: Vec<(String, String)>,
    form: NewBooking,
    errors: Errors,
    slots: SlotsFragment,
}

#[derive(Default)]
struct NewBooking {
    key: String,
    service: String,
    stylist: String,
    date: String,
    time: String,
    name: String,
    email: String,
    phone: String,
    notes: String,
    reason: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/slots.html")]
struct SlotsFragment {
    /// Free start times that day, `HH:MM`.
    times: Vec<String>,
    /// Why none are listed (nothing chosen yet, day full, …).
    message: Option<String>,
    chosen: String,
}

async fn slots_for(
    admin: &Admin,
    ctx: &Ctx,
    service: &str,
    stylist: &str,
    date: &str,
    chosen: &str,
) -> SlotsFragment {
    let empty = |m: &str| SlotsFragment {
        times: Vec::new(),
        message: Some(m.to_string()),
        chosen: chosen.to_string(),
    };
    if service.is_empty() || date.is_empty() {
        return empty("Choose a service and a day to see the free times.");
    }
    let Ok(day) = view::parse_date(date) else {
        return empty("Choose a day to see the free times.");
    };
    let stylist = (!stylist.is_empty()).then_some(stylist);
    match queries::availability(admin.read(), service, stylist, day, day, Utc::now()).await {
        Ok(Some(a)) => {
            let mut times: Vec<String> = a
                .slots
                .iter()
                .map(|s| s.start.format("%H:%M").to_string())
                .collect();
            times.sort();
            times.dedup();
            if times.is_empty() {
                empty("No free time that day (outside hours, time off, fully booked, or too soon). You can still type a time.")
            } else {
                SlotsFragment {
                    times,
                    message: None,
                    chosen: chosen.to_string(),
                }
            }
        }
        Ok(None) => empty("That service or stylist is not bookable."),
        Err(e) => {
            tracing::warn!(error = %e, "panel: free times unreadable");
            let _ = ctx;
            empty("The free times cannot be read right now.")
        }
    }
}

async fn new_booking(
    State(admin): State<Admin>,
    Owner(session): Owner,
    Query(p): Params,
) -> Response {
    let ctx = or_page!(Ctx::load(&admin).await);
    let get = |k: &str| param(&p, k).unwrap_or_default().to_string();
    let form = NewBooking {
        key: uuid::Uuid::new_v4().to_string(),
        service: get("service"),
        stylist: get("stylist"),
        date: param(&p, "date")
            .map(str::to_string)
            .unwrap_or_else(|| ctx.today().format("%Y-%m-%d").to_string()),
        time: get("time"),
        ..NewBooking::default()
    };
    new_booking_page(
        &admin,
        &ctx,
        &session,
        form,
        Errors::default(),
        StatusCode::OK,
    )
    .await
}

async fn new_booking_page(
    admin: &Admin,
    ctx: &Ctx,
    session: &crate::auth::Session,
    form: NewBooking,
    errors: Errors,
    status: StatusCode,
) -> Response {
    let slots = slots_for(
        admin,
        ctx,
        &form.service,
        &form.stylist,
        &form.date,
        &form.time,
    )
    .await;
    let chrome = view::chrome(admin, ctx, session, "new", None).await;
    (
        status,
        NewBookingPage {
            chrome,
            services: ctx
                .active_services()
                .map(|s| {
                    (
                        s.id.clone(),
                        format!(
                            "{} · {} min · {}",
                            s.name,
                            s.duration_minutes,
                            ctx.money(s.price_cents)
                        ),
                    )
                })
                .collect(),
            stylists: ctx
                .active_stylists()
                .map(|s| (s.id.clone(), s.name.clone()))
                .collect(),
            form,
            errors,
            slots,
        },
    )
        .into_response()
}

async fn slots_fragment(
    State(admin): State<Admin>,
    FragmentOwner(_): FragmentOwner,
    Query(p): Params,
) -> Response {
    let ctx = or_page!(Ctx::load(&admin).await);
    let get = |k: &str| param(&p, k).unwrap_or_default().to_string();
    slots_for(
        &admin,
        &ctx,
        &get("service"),
        &get("stylist"),
        &get("date"),
        &get("time"),
    )
    .await
    .into_response()
}

fn alternatives_text(ctx: &Ctx, alternatives: &[Slot]) -> String {
    if alternatives.is_empty() {
        return String::new();
    }
    let list: Vec<String> = alternatives
        .iter()
        .take(5)
        .map(|s| ctx.when(&s.start.to_rfc3339()))
        .collect();
    format!(" Nearest free times: {}.", list.join("; "))
}

async fn book(State(admin): State<Admin>, Posted { session, form }: Posted) -> Response {
    let ctx = or_page!(Ctx::load(&admin).await);
    let input = NewBooking {
        key: form.text("key"),
        service: form.text("service"),
        stylist: form.text("stylist"),
        date: form.text("date"),
        time: form.text("time"),
        name: form.text("name"),
        email: form.text("email"),
        phone: form.text("phone"),
        notes: form.text("notes"),
        reason: form.text("reason"),
    };
    let mut errors = Errors::default();
    let service = ServiceId::parse(&input.service)
        .map_err(|_| errors.add("service", "Choose a service."))
        .ok();
    let stylists: Vec<StylistId> = if input.stylist.is_empty() {
        ctx.active_stylists()
            .filter(|s| s.services.contains(&input.service))
            .filter_map(|s| StylistId::parse(&s.id).ok())
            .collect()
    } else {
        match StylistId::parse(&input.stylist) {
            Ok(s) => vec![s],
            Err(_) => {
                errors.add("stylist", "Choose a stylist, or anyone.");
                Vec::new()
            }
        }
    };
    let date = view::parse_date(&input.date)
        .map_err(|m| errors.add("date", format!("The day {m}.")))
        .ok();
    let time = view::parse_time(&input.time)
        .map_err(|m| errors.add("time", format!("The time {m}.")))
        .ok();
    let start = match (date, time) {
        (Some(d), Some(t)) => {
            let s = ctx.instant(d, t);
            if s.is_none() {
                errors.add(
                    "time",
                    "That time does not exist on that day (the clocks change).",
                );
            }
            s
        }
        _ => None,
    };
    let name = PersonName::parse(&input.name)
        .map_err(|e| errors.add("name", e.message))
        .ok();
    let email = Email::parse(&input.email)
        .map_err(|e| errors.add("email", e.message))
        .ok();
    let phone = Phone::parse(&input.phone)
        .map_err(|e| errors.add("phone", e.message))
        .ok();
    let key = (!input.key.is_empty() && input.key.len() <= 64 && input.key.is_ascii())
        .then(|| format!("panel:{}", input.key));
    let (Some(service), Some(start), Some(name), Some(email), Some(phone), true) =
        (service, start, name, email, phone, errors.is_empty())
    else {
        return new_booking_page(
            &admin,
            &ctx,
            &session,
            input,
            errors,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    let notes = (!input.notes.is_empty()).then(|| input.notes.chars().take(2000).collect());
    let fingerprint = {
        use sha2::Digest;
        let text = format!(
            "{}|{}|{}|{}|{}|{}|{}",
            input.service, input.stylist, start, input.name, input.email, input.phone, input.notes
        );
        hex::encode(sha2::Sha256::digest(text.as_bytes()))
    };
    let request = PlaceBooking {
        service,
        stylists,
        start,
        client: Client { name, email, phone },
        notes,
        idempotency_key: key,
        fingerprint,
        deposit_waived: true,
    };
    let meta = metadata(&session, &form);
    match admin.bus().place_booking(request, &meta, Utc::now()).await {
        Ok(placed) => {
            if let Some(c) = placed.committed {
                admin.settle(c.position).await;
            }
            see_other(&format!("/admin/bookings/{}?done=booked", placed.id))
        }
        Err(e) => {
            let (field, message) = match e {
                PlaceError::UnknownService => ("service", "That service is not offered any more.".to_string()),
                PlaceError::UnknownStylist => ("stylist", "No stylist who offers this service can take it.".to_string()),
                PlaceError::NotOffered => ("stylist", "This stylist does not offer that service.".to_string()),
                PlaceError::Taken { alternatives } => (
                    "time",
                    format!("That time was just taken.{}", alternatives_text(&ctx, &alternatives)),
                ),
                PlaceError::Unavailable { alternatives } => (
                    "time",
                    format!(
                        "That time is not open for booking (outside working hours, on a break or time off, too soon or too far ahead).{}",
                        alternatives_text(&ctx, &alternatives)
                    ),
                ),
                PlaceError::NotOpen => (
                    "_form",
                    "The salon is not taking bookings yet.".to_string(),
                ),
                PlaceError::KeyReused => (
                    "_form",
                    "This form was already sent with other details. Reload the page and book again.".to_string(),
                ),
                PlaceError::Contended => ("_form", "Many changes at once for this stylist; please try again.".to_string()),
                PlaceError::Store(e) => {
                    tracing::warn!(error = %e, "panel: booking not stored");
                    ("_form", "The booking could not be saved right now. Nothing was booked; try again in a moment.".to_string())
                }
                PlaceError::Inconsistent(m) => {
                    tracing::error!(message = %m, "panel: inconsistent booking state");
                    ("_form", "Something is wrong with this stylist's day. It has been logged.".to_string())
                }
            };
            let mut errors = Errors::default();
            errors.add(field, message);
            new_booking_page(
                &admin,
                &ctx,
                &session,
                input,
                errors,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

// ---------------------------------------------------------------------------------------------
// One booking

/// One audit entry, in words.
pub struct HistoryLine {
    pub when: String,
    pub who: String,
    pub path: &'static str,
    pub what: String,
    pub reason: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/booking.html")]
struct BookingPage {
    chrome: Chrome,
    b: BookingView,
    entry: Entry,
    price: String,
    deposit: String,
    move_date: String,
    move_time: String,
    can_move: bool,
    can_cancel: bool,
    can_finish: bool,
    deposit_paid: bool,
    /// The client's personal data is still there to forget.
    can_forget: bool,
    history: Vec<HistoryLine>,
    /// Errors of the form that was sent, under the form's name (`move`, `cancel`, …).
    errors: Errors,
    failed_form: String,
}

async fn booking_page(
    admin: &Admin,
    session: &crate::auth::Session,
    id: &str,
    done: Option<&str>,
    failed_form: &str,
    errors: Errors,
) -> Response {
    let ctx = or_page!(Ctx::load(admin).await);
    let b = match queries::booking(admin.read(), id).await {
        Ok(Some(b)) => b,
        Ok(None) => return error_page(StatusCode::NOT_FOUND, "There is no such appointment."),
        Err(e) => return failed(e),
    };
    let filter = AuditFilter {
        aggregate_id: Some(b.id.clone()),
        ..AuditFilter::default()
    };
    let history = match q::audit_page(admin.read(), &filter, 100, 0).await {
        Ok((_, entries)) => entries
            .into_iter()
            .map(|e| HistoryLine {
                when: ctx.when(&e.recorded_at),
                who: crate::dashboard::format::actor(&e.actor),
                path: crate::dashboard::format::source(&e.source),
                what: crate::dashboard::format::humanize(&e.summary, &ctx.names, ctx.tz),
                reason: e.reason,
            })
            .collect(),
        Err(e) => return failed(e),
    };
    let (move_date, move_time) = ctx.local_parts(&b.start);
    let open = matches!(b.status.as_str(), "requested" | "held" | "confirmed");
    let chrome = view::chrome(admin, &ctx, session, "bookings", done).await;
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    (
        status,
        BookingPage {
            chrome,
            entry: Entry::of(&b, &ctx),
            price: ctx.money(b.price_cents),
            deposit: ctx.money(b.deposit_cents),
            move_date,
            move_time,
            can_move: open,
            can_cancel: open,
            can_finish: b.status == "confirmed",
            deposit_paid: b.deposit_status == "paid",
            can_forget: !b.client_email.is_empty(),
            history,
            errors,
            failed_form: failed_form.to_string(),
            b,
        },
    )
        .into_response()
}

async fn booking(
    State(admin): State<Admin>,
    Owner(session): Owner,
    Path(id): Path<String>,
    Query(p): Params,
) -> Response {
    booking_page(
        &admin,
        &session,
        &id,
        param(&p, "done"),
        "",
        Errors::default(),
    )
    .await
}

/// A refused change, in words, under the form that asked for it.
fn change_message(ctx: &Ctx, e: ChangeError) -> Result<String, Response> {
    Ok(match e {
        ChangeError::NotFound => {
            return Err(error_page(StatusCode::NOT_FOUND, "There is no such appointment."))
        }
        ChangeError::Refused(e) => {
            let m = e.to_string();
            let mut c = m.chars();
            match c.next() {
                Some(f) => format!("{}{}.", f.to_uppercase(), c.as_str()),
                None => "That is not possible now.".into(),
            }
        }
        ChangeError::Taken { alternatives } => format!(
            "That time was just taken.{}",
            alternatives_text(ctx, &alternatives)
        ),
        ChangeError::Unavailable { alternatives } => format!(
            "That time is not open for booking (outside working hours, on a break or time off, or too far ahead).{}",
            alternatives_text(ctx, &alternatives)
        ),
        ChangeError::ServiceGone => "The service of this appointment is no longer offered, so it cannot be moved.".into(),
        ChangeError::Contended | ChangeError::Stale { .. } => {
            "Someone else changed this appointment at the same moment. Look at it again and retry.".into()
        }
        ChangeError::Store(e) => {
            tracing::warn!(error = %e, "panel: change not stored");
            "The change could not be saved right now; nothing was changed. Try again in a moment.".into()
        }
        ChangeError::Inconsistent(m) => {
            tracing::error!(message = %m, "panel: inconsistent booking");
            "Something is wrong with this appointment. It has been logged.".into()
        }
    })
}

/// Runs one change of a booking and answers: back to the booking with a notice, or the
/// booking again with the refusal under the form.
async fn change(
    admin: &Admin,
    session: &crate::auth::Session,
    id: &str,
    form_name: &str,
    done: &str,
    result: Result<commands::lifecycle::Changed, ChangeError>,
) -> Response {
    match result {
        Ok(changed) => {
            let done = match changed.committed {
                Some(c) if c.events > 0 => {
                    admin.settle(c.position).await;
                    done
                }
                _ => "unchanged",
            };
            see_other(&format!("/admin/bookings/{id}?done={done}"))
        }
        Err(e) => {
            let ctx = or_page!(Ctx::load(admin).await);
            match change_message(&ctx, e) {
                Ok(message) => {
                    let mut errors = Errors::default();
                    errors.add(form_name, message);
                    booking_page(admin, session, id, None, form_name, errors).await
                }
                Err(r) => r,
            }
        }
    }
}

/// Forgets the appointment's client (erasure, issue 8): their key is deleted, so their name,
/// email, phone and notes read as erased everywhere; the appointment stays.
async fn forget_client(
    State(admin): State<Admin>,
    Path(id): Path<String>,
    Posted { session, form }: Posted,
) -> Response {
    if let Err(r) = booking_id(&id) {
        return r;
    }
    let b = match queries::booking(admin.read(), &id).await {
        Ok(Some(b)) => b,
        Ok(None) => return error_page(StatusCode::NOT_FOUND, "There is no such appointment."),
        Err(e) => return failed(e),
    };
    let refuse = |message: &str| {
        let mut errors = Errors::default();
        errors.add("forget", message);
        errors
    };
    let Ok(email) = domain::values::Email::parse(&b.client_email) else {
        let errors = refuse("This client's personal data is already erased.");
        return booking_page(&admin, &session, &id, None, "forget", errors).await;
    };
    let client = domain::ids::ClientId::for_email(&email);
    let meta = metadata(&session, &form);
    match commands::clients::forget(admin.bus(), client, &meta).await {
        Ok(committed) => {
            admin.settle(committed.position).await;
            see_other(&format!("/admin/bookings/{id}?done=client-forgotten"))
        }
        Err(commands::CommandError::Rejected(domain::client::ClientError::AlreadyForgotten)) => {
            let errors = refuse("This client's personal data is already erased.");
            booking_page(&admin, &session, &id, None, "forget", errors).await
        }
        Err(e) => {
            tracing::warn!(error = %e, "panel: client not forgotten");
            let errors =
                refuse("The client could not be forgotten right now. Try again in a moment.");
            booking_page(&admin, &session, &id, None, "forget", errors).await
        }
    }
}

fn booking_id(id: &str) -> Result<BookingId, Response> {
    BookingId::parse(id)
        .map_err(|_| error_page(StatusCode::NOT_FOUND, "There is no such appointment."))
}

async fn move_booking(
    State(admin): State<Admin>,
    Path(id): Path<String>,
    Posted { session, form }: Posted,
) -> Response {
    let bid = match booking_id(&id) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let ctx = or_page!(Ctx::load(&admin).await);
    let start = match (
        view::parse_date(&form.text("date")),
        view::parse_time(&form.text("time")),
    ) {
        (Ok(d), Ok(t)) => ctx.instant(d, t),
        _ => None,
    };
    let Some(start) = start else {
        let mut errors = Errors::default();
        errors.add(
            "move",
            "Give the new day (YYYY-MM-DD) and time (like 14:30).",
        );
        return booking_page(&admin, &session, &id, None, "move", errors).await;
    };
    let meta = metadata(&session, &form);
    let result = admin
        .bus()
        .reschedule_booking(bid, start, Party::Owner, Utc::now(), &meta)
        .await;
    change(&admin, &session, &id, "move", "moved", result).await
}

async fn cancel(
    State(admin): State<Admin>,
    Path(id): Path<String>,
    Posted { session, form }: Posted,
) -> Response {
    let bid = match booking_id(&id) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let meta = metadata(&session, &form);
    let refund = Some(form.ticked("refund"));
    let result = admin
        .bus()
        .cancel_booking(bid, Party::Owner, refund, Utc::now(), &meta)
        .await;
    change(&admin, &session, &id, "cancel", "cancelled", result).await
}

async fn no_show(
    State(admin): State<Admin>,
    Path(id): Path<String>,
    Posted { session, form }: Posted,
) -> Response {
    finish(admin, id, session, form, false).await
}

async fn complete(
    State(admin): State<Admin>,
    Path(id): Path<String>,
    Posted { session, form }: Posted,
) -> Response {
    finish(admin, id, session, form, true).await
}

async fn finish(
    admin: Admin,
    id: String,
    session: crate::auth::Session,
    form: Form,
    done: bool,
) -> Response {
    let bid = match booking_id(&id) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let meta = metadata(&session, &form);
    let now = Utc::now();
    let command = if done {
        BookingCommand::Complete { now }
    } else {
        BookingCommand::MarkNoShow { now }
    };
    let result = admin.bus().change_booking(bid, command, &meta).await;
    let (name, code) = if done {
        ("complete", "completed")
    } else {
        ("no-show", "no-show")
    };
    change(&admin, &session, &id, name, code, result).await
}

async fn notes(
    State(admin): State<Admin>,
    Path(id): Path<String>,
    Posted { session, form }: Posted,
) -> Response {
    let bid = match booking_id(&id) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let text = form.text("notes");
    if text.chars().count() > 2000 {
        let mut errors = Errors::default();
        errors.add("notes", "Notes can be at most 2000 characters.");
        return booking_page(&admin, &session, &id, None, "notes", errors).await;
    }
    let meta = metadata(&session, &form);
    let notes = (!text.is_empty()).then_some(text);
    let result = admin
        .bus()
        .change_booking(bid, BookingCommand::ChangeNotes { notes }, &meta)
        .await;
    change(&admin, &session, &id, "notes", "notes", result).await
}
