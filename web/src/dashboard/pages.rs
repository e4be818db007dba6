//! The dashboard's pages and HTMX fragments. Each reads read models only and says when they
//! are behind the log. Bad filter values are named on the page, never a 500.

use super::charts::{self, Bar, Pair};
use super::format::{self, money};
use super::intake::{self, Outcome};
use super::{error_page, ApiPartner, Dashboard, PagePartner};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{Datelike, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use projections::dashboard::{
    self as q, AuditColumn, AuditFilter, BookingFilter, CountBy, BOOKING_STATUSES,
};
use projections::queries::{self, BookingView, QueryError};
use projections::Projection;
use std::collections::HashMap;

pub(super) const PAGE_SIZE: i64 = 25;

// ---------------------------------------------------------------------------------------------
// What every page shares

/// The frame around every page: the salon's name, the navigation, the logout form's token and
/// the staleness notice.
pub struct Chrome {
    pub salon: String,
    pub csrf: String,
    pub active: &'static str,
    pub stale: Option<String>,
}

/// The salon's settings and the names behind ids.
pub(super) struct Context {
    pub salon: String,
    pub tz: Tz,
    pub currency: String,
    pub stylists: Vec<(String, String)>,
    pub services: Vec<(String, String)>,
    pub names: HashMap<String, String>,
}

impl Context {
    pub(super) async fn load(d: &Dashboard) -> Result<Self, QueryError> {
        let db = &d.0.read;
        let salon = queries::salon(db).await?;
        let stylists: Vec<(String, String)> = queries::stylists(db, true)
            .await?
            .into_iter()
            .map(|s| (s.id, s.name))
            .collect();
        let services: Vec<(String, String)> = queries::services(db, true)
            .await?
            .into_iter()
            .map(|s| (s.id, s.name))
            .collect();
        let names = stylists.iter().chain(&services).cloned().collect();
        Ok(Self {
            salon: salon.name,
            tz: salon.time_zone,
            currency: salon.currency,
            stylists,
            services,
            names,
        })
    }

    /// The name behind a stylist or service id, or the id when it is unknown.
    pub(super) fn name<'a>(&'a self, id: &'a str) -> &'a str {
        self.names.get(id).map(String::as_str).unwrap_or(id)
    }

    pub(super) fn today(&self) -> NaiveDate {
        Utc::now().with_timezone(&self.tz).date_naive()
    }
}

/// A read failure, in words.
pub(super) fn failed(e: QueryError) -> Response {
    if e.is_unavailable() {
        tracing::warn!(error = %e, "dashboard: store unreachable");
        error_page(
            StatusCode::SERVICE_UNAVAILABLE,
            "The salon's database cannot be reached right now. Try again in a moment.",
        )
    } else {
        tracing::error!(error = %e, "dashboard: read failed");
        error_page(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Something went wrong reading the salon's records. It has been logged.",
        )
    }
}

async fn chrome(
    d: &Dashboard,
    ctx: &Context,
    session: &crate::auth::Session,
    active: &'static str,
    which: &[Projection],
) -> Chrome {
    let stale = match q::lag(&d.0.read, which).await {
        Ok(lag) if lag.is_stale() => Some(format!(
            "These figures may be a little behind: the records have been read up to event {} of {}. They catch up by themselves; reload in a moment.",
            lag.checkpoint.position, lag.head.position
        )),
        Ok(_) => None,
        Err(e) => {
            tracing::warn!(error = %e, "dashboard: cannot tell staleness");
            Some("It cannot be checked right now whether these records are up to date.".into())
        }
    };
    Chrome {
        salon: ctx.salon.clone(),
        csrf: session.csrf.clone(),
        active,
        stale,
    }
}

/// A query string from pairs, leaving out empty values (for pager and export links).
fn query_string(pairs: &[(&str, &str)]) -> String {
    let kept: Vec<(&str, &str)> = pairs
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .copied()
        .collect();
    if kept.is_empty() {
        return String::new();
    }
    match reqwest::Url::parse_with_params("http://x/", &kept) {
        Ok(u) => u.query().map(|q| format!("?{q}")).unwrap_or_default(),
        Err(_) => String::new(),
    }
}

/// Previous/next links of a paged list.
pub struct Pager {
    pub page: i64,
    pub pages: i64,
    pub count: i64,
    pub prev: Option<String>,
    pub next: Option<String>,
}

fn pager(base: &str, pairs: &[(&str, &str)], page: i64, count: i64) -> Pager {
    let pages = ((count + PAGE_SIZE - 1) / PAGE_SIZE).max(1);
    let link = |p: i64| {
        let ps = p.to_string();
        let mut all: Vec<(&str, &str)> = pairs.to_vec();
        all.push(("page", &ps));
        format!("{base}{}", query_string(&all))
    };
    Pager {
        page,
        pages,
        count,
        prev: (page > 1).then(|| link(page - 1)),
        next: (page < pages).then(|| link(page + 1)),
    }
}

fn parse_page(v: &Option<String>, errors: &mut Vec<String>) -> i64 {
    match v.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => 1,
        Some(s) => match s.parse::<i64>() {
            Ok(n) if (1..=1_000_000).contains(&n) => n,
            _ => {
                errors.push(format!(
                    "\u{201c}{s}\u{201d} is not a page number; showing the first page."
                ));
                1
            }
        },
    }
}

fn parse_date(name: &str, v: &Option<String>, errors: &mut Vec<String>) -> Option<NaiveDate> {
    let s = v.as_deref().map(str::trim).filter(|s| !s.is_empty())?;
    match NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        Ok(d) if (1970..=9999).contains(&d.year()) => Some(d),
        _ => {
            errors.push(format!(
                "The {name} date \u{201c}{s}\u{201d} is not a date like 2026-03-14; it was left out."
            ));
            None
        }
    }
}

fn trimmed(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

// ---------------------------------------------------------------------------------------------
// Bookings: filters shared by the history page, its fragment and the exports

/// The booking filters as the form and links carry them.
#[derive(Debug, Default, Clone, serde::Deserialize)]
pub struct BookingParams {
    pub from: Option<String>,
    pub to: Option<String>,
    pub stylist: Option<String>,
    pub service: Option<String>,
    pub status: Option<String>,
    pub page: Option<String>,
}

/// Parsed booking filters, the values to show back in the form, and what was wrong.
pub(super) struct Parsed {
    pub filter: BookingFilter,
    pub from: String,
    pub to: String,
    pub stylist: String,
    pub service: String,
    pub status: String,
    pub page: i64,
    pub errors: Vec<String>,
}

impl Parsed {
    fn pairs(&self) -> Vec<(&str, &str)> {
        vec![
            ("from", self.from.as_str()),
            ("to", self.to.as_str()),
            ("stylist", self.stylist.as_str()),
            ("service", self.service.as_str()),
            ("status", self.status.as_str()),
        ]
    }

    pub(super) fn query(&self) -> String {
        query_string(&self.pairs())
    }
}

pub(super) fn params_or_errors(
    query: Result<Query<BookingParams>, QueryRejection>,
) -> (BookingParams, Vec<String>) {
    match query {
        Ok(Query(p)) => (p, Vec::new()),
        Err(_) => (
            BookingParams::default(),
            vec!["The filters in the address could not be read; showing everything.".into()],
        ),
    }
}

pub(super) fn parse_booking_params(
    p: &BookingParams,
    ctx: &Context,
    mut errors: Vec<String>,
) -> Parsed {
    let from = parse_date("from", &p.from, &mut errors);
    let to = parse_date("to", &p.to, &mut errors);
    let (from, to) = match (from, to) {
        (Some(f), Some(t)) if f > t => {
            errors.push("The from date is after the to date; they were swapped.".into());
            (Some(t), Some(f))
        }
        other => other,
    };
    let mut pick = |name: &str, v: &Option<String>, known: &[(String, String)]| {
        let v = trimmed(v)?;
        if known.iter().any(|(id, _)| *id == v) {
            Some(v)
        } else {
            errors.push(format!(
                "There is no such {name}; that filter was left out."
            ));
            None
        }
    };
    let stylist = pick("stylist", &p.stylist, &ctx.stylists);
    let service = pick("service", &p.service, &ctx.services);
    let status = match trimmed(&p.status) {
        Some(s) if BOOKING_STATUSES.contains(&s.as_str()) => Some(s),
        Some(_) => {
            errors.push("There is no such status; that filter was left out.".into());
            None
        }
        None => None,
    };
    let page = parse_page(&p.page, &mut errors);
    let filter = BookingFilter {
        from_epoch: from.map(|d| format::midnight(d, ctx.tz).timestamp()),
        to_epoch: to.map(|d| format::midnight(d + Duration::days(1), ctx.tz).timestamp()),
        stylist: stylist.clone(),
        service: service.clone(),
        status: status.clone(),
        with_deposit: false,
    };
    Parsed {
        filter,
        from: from.map(|d| d.to_string()).unwrap_or_default(),
        to: to.map(|d| d.to_string()).unwrap_or_default(),
        stylist: stylist.unwrap_or_default(),
        service: service.unwrap_or_default(),
        status: status.unwrap_or_default(),
        page,
        errors,
    }
}

/// A booking as a table row.
pub struct BookingRow {
    pub when: String,
    pub service: String,
    pub stylist: String,
    pub client: String,
    pub contact: String,
    pub status: &'static str,
    pub status_class: String,
    pub deposit: &'static str,
    pub price: String,
    pub made: String,
}

fn booking_row(b: &BookingView, ctx: &Context) -> BookingRow {
    BookingRow {
        when: format::when(&b.start, ctx.tz),
        service: ctx.name(&b.service).to_string(),
        stylist: ctx.name(&b.stylist).to_string(),
        client: b.client_name.clone(),
        contact: format!("{} \u{00b7} {}", b.client_phone, b.client_email),
        status: format::status(&b.status),
        status_class: b.status.clone(),
        deposit: format::deposit(&b.deposit_status),
        price: money(b.price_cents, &b.currency),
        made: format::when(&b.created_at, ctx.tz),
    }
}

/// A choice in a `<select>`.
pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

fn choices(list: &[(String, String)], selected: &str) -> Vec<Choice> {
    list.iter()
        .map(|(v, l)| Choice {
            value: v.clone(),
            label: l.clone(),
            selected: v == selected,
        })
        .collect()
}

fn status_choices(selected: &str) -> Vec<Choice> {
    BOOKING_STATUSES
        .iter()
        .map(|s| Choice {
            value: s.to_string(),
            label: format::status(s).to_string(),
            selected: *s == selected,
        })
        .collect()
}

#[derive(Template, WebTemplate)]
#[template(path = "dashboard/bookings.html")]
struct BookingsPage {
    chrome: Chrome,
    table: BookingsTable,
    from: String,
    to: String,
    stylists: Vec<Choice>,
    services: Vec<Choice>,
    statuses: Vec<Choice>,
}

#[derive(Template, WebTemplate)]
#[template(path = "dashboard/bookings_table.html")]
struct BookingsTable {
    rows: Vec<BookingRow>,
    pager: Pager,
    errors: Vec<String>,
    export_query: String,
}

async fn bookings_table(
    d: &Dashboard,
    ctx: &Context,
    parsed: Parsed,
) -> Result<BookingsTable, QueryError> {
    let offset = (parsed.page - 1) * PAGE_SIZE;
    let (count, list) = q::bookings_page(&d.0.read, &parsed.filter, PAGE_SIZE, offset).await?;
    let rows = list.iter().map(|b| booking_row(b, ctx)).collect();
    let pairs = parsed.pairs();
    Ok(BookingsTable {
        rows,
        pager: pager("/dashboard/bookings", &pairs, parsed.page, count),
        export_query: parsed.query(),
        errors: parsed.errors,
    })
}

pub async fn bookings(
    State(d): State<Dashboard>,
    PagePartner(session): PagePartner,
    query: Result<Query<BookingParams>, QueryRejection>,
) -> Response {
    let ctx = match Context::load(&d).await {
        Ok(c) => c,
        Err(e) => return failed(e),
    };
    let (p, errors) = params_or_errors(query);
    let parsed = parse_booking_params(&p, &ctx, errors);
    let (from, to) = (parsed.from.clone(), parsed.to.clone());
    let stylists = choices(&ctx.stylists, &parsed.stylist);
    let services = choices(&ctx.services, &parsed.service);
    let statuses = status_choices(&parsed.status);
    let table = match bookings_table(&d, &ctx, parsed).await {
        Ok(t) => t,
        Err(e) => return failed(e),
    };
    BookingsPage {
        chrome: chrome(
            &d,
            &ctx,
            &session,
            "bookings",
            &[Projection::Bookings, Projection::Catalog],
        )
        .await,
        table,
        from,
        to,
        stylists,
        services,
        statuses,
    }
    .into_response()
}

/// The history table alone, for HTMX filtering without a reload.
pub async fn bookings_fragment(
    State(d): State<Dashboard>,
    ApiPartner(_): ApiPartner,
    query: Result<Query<BookingParams>, QueryRejection>,
) -> Response {
    let ctx = match Context::load(&d).await {
        Ok(c) => c,
        Err(e) => return failed(e),
    };
    let (p, errors) = params_or_errors(query);
    let parsed = parse_booking_params(&p, &ctx, errors);
    match bookings_table(&d, &ctx, parsed).await {
        Ok(t) => t.into_response(),
        Err(e) => failed(e),
    }
}

// ---------------------------------------------------------------------------------------------
// Overview

#[derive(Template, WebTemplate)]
#[template(path = "dashboard/overview.html")]
struct OverviewPage {
    chrome: Chrome,
    today_label: String,
    today: Vec<TodayRow>,
    live: LiveList,
    week_bookings: i64,
    week_revenue: String,
    week_deposits: String,
}

pub struct TodayRow {
    pub time: String,
    pub service: String,
    pub stylist: String,
    pub client: String,
    pub status: &'static str,
    pub status_class: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "dashboard/live.html")]
struct LiveList {
    rows: Vec<BookingRow>,
}

async fn live_list(d: &Dashboard, ctx: &Context) -> Result<LiveList, QueryError> {
    let recent = q::recent_bookings(&d.0.read, 10).await?;
    Ok(LiveList {
        rows: recent.iter().map(|b| booking_row(b, ctx)).collect(),
    })
}

pub async fn overview(State(d): State<Dashboard>, PagePartner(session): PagePartner) -> Response {
    let ctx = match Context::load(&d).await {
        Ok(c) => c,
        Err(e) => return failed(e),
    };
    let today = ctx.today();
    let start = format::midnight(today, ctx.tz).timestamp();
    let end = format::midnight(today + Duration::days(1), ctx.tz).timestamp();
    let monday = today - Duration::days(i64::from(today.weekday().num_days_from_monday()));
    let week_start = format::midnight(monday, ctx.tz).timestamp();
    let week_end = format::midnight(monday + Duration::days(7), ctx.tz).timestamp();
    let offset = i64::from(
        Utc::now()
            .with_timezone(&ctx.tz)
            .offset()
            .fix()
            .local_minus_utc(),
    );
    let loaded = async {
        let todays = q::bookings_between(&d.0.read, start, end).await?;
        let live = live_list(&d, &ctx).await?;
        let week = q::weekly(&d.0.read, week_start, week_end, offset).await?;
        Ok::<_, QueryError>((todays, live, week))
    }
    .await;
    let (todays, live, week) = match loaded {
        Ok(v) => v,
        Err(e) => return failed(e),
    };
    let sum = |f: fn(&q::WeekFigures) -> i64| week.iter().map(f).sum::<i64>();
    OverviewPage {
        chrome: chrome(
            &d,
            &ctx,
            &session,
            "overview",
            &[Projection::Bookings, Projection::Catalog],
        )
        .await,
        today_label: today.format("%A %-d %B").to_string(),
        today: todays
            .iter()
            .map(|b| TodayRow {
                time: format!(
                    "{}\u{2013}{}",
                    format::clock(&b.start, ctx.tz),
                    format::clock(&b.end, ctx.tz)
                ),
                service: ctx.name(&b.service).to_string(),
                stylist: ctx.name(&b.stylist).to_string(),
                client: b.client_name.clone(),
                status: format::status(&b.status),
                status_class: b.status.clone(),
            })
            .collect(),
        live,
        week_bookings: sum(|w| w.bookings),
        week_revenue: money(sum(|w| w.revenue_cents), &ctx.currency),
        week_deposits: money(sum(|w| w.deposits_cents), &ctx.currency),
    }
    .into_response()
}

use chrono::Offset;

#[derive(Debug, serde::Deserialize)]
pub struct LiveParams {
    /// The log position of the event that prompted the refresh (the SSE message's id).
    after: Option<String>,
}

/// The live list alone. With `after` (the SSE message's id) it first waits, briefly, for the
/// bookings read model to include that event, so the refresh shows what the alert announced.
pub async fn live_fragment(
    State(d): State<Dashboard>,
    ApiPartner(_): ApiPartner,
    query: Result<Query<LiveParams>, QueryRejection>,
) -> Response {
    let after = query
        .ok()
        .and_then(|Query(p)| p.after)
        .and_then(|a| a.trim().parse::<i64>().ok())
        .filter(|a| *a > 0);
    if let Some(position) = after {
        if let Ok(Some(at)) = projections::log::locate(&d.0.read, position).await {
            d.0.projections
                .wait_for(
                    &[Projection::Bookings],
                    at,
                    std::time::Duration::from_secs(3),
                )
                .await;
        }
    }
    let ctx = match Context::load(&d).await {
        Ok(c) => c,
        Err(e) => return failed(e),
    };
    match live_list(&d, &ctx).await {
        Ok(l) => l.into_response(),
        Err(e) => failed(e),
    }
}

// ---------------------------------------------------------------------------------------------
// Audit log

#[derive(Debug, Default, Clone, serde::Deserialize)]
pub struct AuditParams {
    pub from: Option<String>,
    pub to: Option<String>,
    pub actor: Option<String>,
    pub source: Option<String>,
    pub about: Option<String>,
    pub id: Option<String>,
    pub page: Option<String>,
}

pub(super) struct ParsedAudit {
    pub filter: AuditFilter,
    pub from: String,
    pub to: String,
    pub actor: String,
    pub source: String,
    pub about: String,
    pub id: String,
    pub page: i64,
    pub errors: Vec<String>,
}

impl ParsedAudit {
    fn pairs(&self) -> Vec<(&str, &str)> {
        vec![
            ("from", self.from.as_str()),
            ("to", self.to.as_str()),
            ("actor", self.actor.as_str()),
            ("source", self.source.as_str()),
            ("about", self.about.as_str()),
            ("id", self.id.as_str()),
        ]
    }
}

pub(super) fn audit_params_or_errors(
    query: Result<Query<AuditParams>, QueryRejection>,
) -> (AuditParams, Vec<String>) {
    match query {
        Ok(Query(p)) => (p, Vec::new()),
        Err(_) => (
            AuditParams::default(),
            vec!["The filters in the address could not be read; showing everything.".into()],
        ),
    }
}

pub(super) fn parse_audit_params(
    p: &AuditParams,
    ctx: &Context,
    mut errors: Vec<String>,
) -> ParsedAudit {
    let from = parse_date("from", &p.from, &mut errors);
    let to = parse_date("to", &p.to, &mut errors);
    let page = parse_page(&p.page, &mut errors);
    let short = |v: &Option<String>| trimmed(v).filter(|s| s.len() <= 200);
    let filter = AuditFilter {
        from: from.map(|d| format::midnight(d, ctx.tz).to_rfc3339()),
        to: to.map(|d| format::midnight(d + Duration::days(1), ctx.tz).to_rfc3339()),
        actor: short(&p.actor),
        source: short(&p.source),
        aggregate_type: short(&p.about),
        aggregate_id: short(&p.id),
    };
    ParsedAudit {
        from: from.map(|d| d.to_string()).unwrap_or_default(),
        to: to.map(|d| d.to_string()).unwrap_or_default(),
        actor: filter.actor.clone().unwrap_or_default(),
        source: filter.source.clone().unwrap_or_default(),
        about: filter.aggregate_type.clone().unwrap_or_default(),
        id: filter.aggregate_id.clone().unwrap_or_default(),
        filter,
        page,
        errors,
    }
}

/// One audit entry as a sentence.
pub struct AuditRow {
    pub when: String,
    pub sentence: String,
    pub who: String,
    pub path: &'static str,
    pub reason: Option<String>,
    pub about: String,
    pub position: i64,
}

/// The audit log's timestamps are RFC 3339 UTC; shown in the salon's zone.
fn audit_row(e: &q::AuditEntry, ctx: &Context) -> AuditRow {
    AuditRow {
        when: format::when(&e.recorded_at, ctx.tz),
        sentence: format::humanize(&e.summary, &ctx.names, ctx.tz),
        who: format::actor(&e.actor),
        path: format::source(&e.source),
        reason: e.reason.clone().filter(|r| !r.trim().is_empty()),
        about: format::subject(&e.aggregate_type, &e.aggregate_id, &ctx.names),
        position: e.position,
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "dashboard/audit.html")]
struct AuditPage {
    chrome: Chrome,
    table: AuditTable,
    from: String,
    to: String,
    id: String,
    actors: Vec<Choice>,
    sources: Vec<Choice>,
    abouts: Vec<Choice>,
}

#[derive(Template, WebTemplate)]
#[template(path = "dashboard/audit_list.html")]
struct AuditTable {
    rows: Vec<AuditRow>,
    pager: Pager,
    errors: Vec<String>,
    export_query: String,
}

async fn audit_table(
    d: &Dashboard,
    ctx: &Context,
    parsed: ParsedAudit,
) -> Result<AuditTable, QueryError> {
    let offset = (parsed.page - 1) * PAGE_SIZE;
    let (count, list) = q::audit_page(&d.0.read, &parsed.filter, PAGE_SIZE, offset).await?;
    let pairs = parsed.pairs();
    Ok(AuditTable {
        rows: list.iter().map(|e| audit_row(e, ctx)).collect(),
        pager: pager("/dashboard/audit", &pairs, parsed.page, count),
        export_query: query_string(&pairs),
        errors: parsed.errors,
    })
}

pub async fn audit(
    State(d): State<Dashboard>,
    PagePartner(session): PagePartner,
    query: Result<Query<AuditParams>, QueryRejection>,
) -> Response {
    let ctx = match Context::load(&d).await {
        Ok(c) => c,
        Err(e) => return failed(e),
    };
    let (p, errors) = audit_params_or_errors(query);
    let parsed = parse_audit_params(&p, &ctx, errors);
    let loaded = async {
        Ok::<_, QueryError>((
            q::audit_choices(&d.0.read, AuditColumn::Actor).await?,
            q::audit_choices(&d.0.read, AuditColumn::Source).await?,
            q::audit_choices(&d.0.read, AuditColumn::AggregateType).await?,
        ))
    }
    .await;
    let (actors, sources, abouts) = match loaded {
        Ok(v) => v,
        Err(e) => return failed(e),
    };
    let labelled = |list: Vec<String>, selected: &str, label: fn(&str) -> String| {
        list.into_iter()
            .map(|v| Choice {
                label: label(&v),
                selected: v == selected,
                value: v,
            })
            .collect::<Vec<_>>()
    };
    let actors = labelled(actors, &parsed.actor, format::actor);
    let sources = labelled(sources, &parsed.source, |s| {
        let words = format::source(s);
        let mut c = words.chars();
        c.next()
            .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
            .unwrap_or_default()
    });
    let abouts = labelled(abouts, &parsed.about, |a| match a {
        "StylistDay" => "Stylist's day".to_string(),
        "ApiToken" => "API token".to_string(),
        "CalendarSource" => "Calendar".to_string(),
        "WebhookSubscription" => "Webhook".to_string(),
        other => other.to_string(),
    });
    let (from, to, id) = (parsed.from.clone(), parsed.to.clone(), parsed.id.clone());
    let table = match audit_table(&d, &ctx, parsed).await {
        Ok(t) => t,
        Err(e) => return failed(e),
    };
    AuditPage {
        chrome: chrome(&d, &ctx, &session, "audit", &[Projection::Audit]).await,
        table,
        from,
        to,
        id,
        actors,
        sources,
        abouts,
    }
    .into_response()
}

pub async fn audit_fragment(
    State(d): State<Dashboard>,
    ApiPartner(_): ApiPartner,
    query: Result<Query<AuditParams>, QueryRejection>,
) -> Response {
    let ctx = match Context::load(&d).await {
        Ok(c) => c,
        Err(e) => return failed(e),
    };
    let (p, errors) = audit_params_or_errors(query);
    let parsed = parse_audit_params(&p, &ctx, errors);
    match audit_table(&d, &ctx, parsed).await {
        Ok(t) => t.into_response(),
        Err(e) => failed(e),
    }
}

// ---------------------------------------------------------------------------------------------
// Figures

#[derive(Debug, Default, serde::Deserialize)]
pub struct FigureParams {
    from: Option<String>,
    to: Option<String>,
}

/// A row of a figures table (the numbers behind a chart).
pub struct FigureRow {
    pub label: String,
    pub values: Vec<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "dashboard/figures.html")]
struct FiguresPage {
    chrome: Chrome,
    from: String,
    to: String,
    errors: Vec<String>,
    weekly_svg: String,
    weekly_rows: Vec<FigureRow>,
    stylist_svg: String,
    service_svg: String,
    stylist_rows: Vec<FigureRow>,
    service_rows: Vec<FigureRow>,
    total: i64,
    revenue: String,
    deposits: String,
    no_show_rate: String,
    no_show_detail: String,
    cancel_rate: String,
    cancel_detail: String,
}

fn percent(part: i64, whole: i64) -> String {
    if whole == 0 {
        "\u{2013}".into()
    } else {
        format!("{:.1} %", part as f64 * 100.0 / whole as f64)
    }
}

pub async fn figures(
    State(d): State<Dashboard>,
    PagePartner(session): PagePartner,
    query: Result<Query<FigureParams>, QueryRejection>,
) -> Response {
    let ctx = match Context::load(&d).await {
        Ok(c) => c,
        Err(e) => return failed(e),
    };
    let mut errors = Vec::new();
    let p = match query {
        Ok(Query(p)) => p,
        Err(_) => {
            errors.push(
                "The dates in the address could not be read; showing the default period.".into(),
            );
            FigureParams::default()
        }
    };
    let today = ctx.today();
    let this_monday = today - Duration::days(i64::from(today.weekday().num_days_from_monday()));
    let mut from =
        parse_date("from", &p.from, &mut errors).unwrap_or(this_monday - Duration::weeks(8));
    let mut to = parse_date("to", &p.to, &mut errors).unwrap_or(this_monday + Duration::days(27));
    if from > to {
        errors.push("The from date is after the to date; they were swapped.".into());
        std::mem::swap(&mut from, &mut to);
    }
    if (to - from).num_days() > 366 * 2 {
        errors.push("Figures cover at most two years; the period was shortened.".into());
        from = to - Duration::days(366 * 2);
    }
    // Weeks start on the local Monday: the offset at the start of the period (a DST change
    // moves a booking at most an hour, never across a Monday midnight boundary in practice).
    let first_monday = from - Duration::days(i64::from(from.weekday().num_days_from_monday()));
    let start = format::midnight(first_monday, ctx.tz);
    let offset = i64::from(
        start
            .with_timezone(&ctx.tz)
            .offset()
            .fix()
            .local_minus_utc(),
    );
    let (start, end) = (
        start.timestamp(),
        format::midnight(to + Duration::days(1), ctx.tz).timestamp(),
    );
    let loaded = async {
        Ok::<_, QueryError>((
            q::weekly(&d.0.read, start, end, offset).await?,
            q::counts_by(&d.0.read, CountBy::Stylist, start, end).await?,
            q::counts_by(&d.0.read, CountBy::Service, start, end).await?,
            q::counts_by(&d.0.read, CountBy::Status, start, end).await?,
        ))
    }
    .await;
    let (weeks, by_stylist, by_service, by_status) = match loaded {
        Ok(v) => v,
        Err(e) => return failed(e),
    };
    // Every week of the period, empty ones too.
    let first = (start + offset - q::FIRST_MONDAY).div_euclid(q::WEEK);
    let last = (end - 1 + offset - q::FIRST_MONDAY).div_euclid(q::WEEK);
    let by_week: HashMap<i64, &q::WeekFigures> = weeks.iter().map(|w| (w.week, w)).collect();
    let epoch_monday = NaiveDate::from_ymd_opt(1970, 1, 5).unwrap_or_default();
    let mut pairs = Vec::new();
    let mut weekly_rows = Vec::new();
    let cur = &ctx.currency;
    for wk in first..=last.min(first + 120) {
        let monday = epoch_monday + Duration::weeks(wk);
        let f = by_week.get(&wk).copied().cloned().unwrap_or_default();
        let label = monday.format("%-d %b").to_string();
        pairs.push(Pair {
            label: label.clone(),
            a: f.revenue_cents,
            b: f.deposits_cents,
        });
        weekly_rows.push(FigureRow {
            label: format!("Week of {}", monday.format("%-d %b %Y")),
            values: vec![
                f.bookings.to_string(),
                money(f.revenue_cents, cur),
                money(f.deposits_cents, cur),
                money(f.refunded_cents, cur),
            ],
        });
    }
    let max = pairs.iter().map(|p| p.a.max(p.b)).max().unwrap_or(0);
    let weekly_svg = charts::weekly(
        "Revenue and deposits per week",
        &pairs,
        ("Revenue", "Deposits kept"),
        &money(max, cur),
    );
    let bars = |list: &[(String, i64)]| -> Vec<Bar> {
        list.iter()
            .map(|(id, n)| Bar {
                label: ctx.name(id).to_string(),
                value: *n,
                shown: n.to_string(),
            })
            .collect()
    };
    let rows = |list: &[(String, i64)]| -> Vec<FigureRow> {
        list.iter()
            .map(|(id, n)| FigureRow {
                label: ctx.name(id).to_string(),
                values: vec![n.to_string()],
            })
            .collect()
    };
    let count = |s: &str| {
        by_status
            .iter()
            .find(|(k, _)| k == s)
            .map_or(0, |(_, n)| *n)
    };
    let total: i64 = by_status.iter().map(|(_, n)| n).sum();
    let (no_show, completed, cancelled) =
        (count("no_show"), count("completed"), count("cancelled"));
    FiguresPage {
        chrome: chrome(
            &d,
            &ctx,
            &session,
            "figures",
            &[Projection::Bookings, Projection::Catalog],
        )
        .await,
        from: from.to_string(),
        to: to.to_string(),
        errors,
        weekly_svg,
        weekly_rows,
        stylist_svg: charts::horizontal("Bookings per stylist", &bars(&by_stylist), "stylists"),
        service_svg: charts::horizontal("Bookings per service", &bars(&by_service), "services"),
        stylist_rows: rows(&by_stylist),
        service_rows: rows(&by_service),
        total,
        revenue: money(weeks.iter().map(|w| w.revenue_cents).sum(), cur),
        deposits: money(weeks.iter().map(|w| w.deposits_cents).sum(), cur),
        no_show_rate: percent(no_show, no_show + completed),
        no_show_detail: format!(
            "{no_show} of {} appointments that took place or should have",
            no_show + completed
        ),
        cancel_rate: percent(cancelled, total),
        cancel_detail: format!("{cancelled} of {total} bookings"),
    }
    .into_response()
}

// ---------------------------------------------------------------------------------------------
// Intake

pub struct IntakeRow {
    pub received: String,
    pub kind: &'static str,
    pub client: String,
    pub contact: String,
    pub what: String,
    pub state: String,
    pub detail: String,
    pub emailed: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "dashboard/intake.html")]
struct IntakePage {
    chrome: Chrome,
    notice: Option<String>,
    configured: bool,
    count: i64,
    rows: Vec<IntakeRow>,
}

fn intake_row(e: &intake::Entry, ctx: &Context) -> IntakeRow {
    let s = |v: &serde_json::Value| v.as_str().unwrap_or("").to_string();
    let body = &e.body;
    let client = &body["client"];
    let service = s(&body["service"]);
    let stylist = s(&body["stylist"]);
    let stylist_name = if stylist == "any" || stylist.is_empty() {
        "any stylist".to_string()
    } else {
        ctx.name(&stylist).to_string()
    };
    let what = if e.kind == "request" {
        let day = s(&body["day"]);
        let day = NaiveDate::parse_from_str(&day, "%Y-%m-%d")
            .map(|d| d.format("%a %-d %b %Y").to_string())
            .unwrap_or(day);
        let window = match s(&body["window"]).as_str() {
            "morning" => "in the morning",
            "afternoon" => "in the afternoon",
            "evening" => "in the evening",
            _ => "at any time",
        };
        format!(
            "{} with {}, {day} {window}",
            ctx.name(&service),
            stylist_name,
        )
    } else {
        format!(
            "{} with {}, {}",
            ctx.name(&service),
            stylist_name,
            format::when(&s(&body["start"]), ctx.tz)
        )
    };
    let (state, detail) = match (e.kind.as_str(), e.state.as_str()) {
        ("request", _) => (
            "Call the client back".to_string(),
            "A request for a time, not a booking: the salon confirms by phone or email.".to_string(),
        ),
        (_, "rejected") => (
            "Refused by the booking system".to_string(),
            e.problem
                .as_ref()
                .and_then(|p| p.get("title").or_else(|| p.get("detail")))
                .and_then(|t| t.as_str())
                .map(|t| format!("{t}. Call the client back."))
                .unwrap_or_else(|| "Call the client back.".into()),
        ),
        _ => (
            "Waiting to reach the booking system".to_string(),
            match (&e.last_error, e.attempts) {
                (_, 0) => "Not sent yet.".to_string(),
                (Some(err), n) if err.starts_with("network") => format!(
                    "Tried {n} times; the booking system could not be reached. The intake keeps trying."
                ),
                (Some(err), n) => format!("Tried {n} times; last answer: {err}"),
                (None, n) => format!("Tried {n} times."),
            },
        ),
    };
    IntakeRow {
        received: e
            .received_at
            .as_deref()
            .map(|t| format::when(t, ctx.tz))
            .unwrap_or_default(),
        kind: if e.kind == "request" {
            "Request"
        } else {
            "Booking"
        },
        client: s(&client["name"]),
        contact: format!("{} \u{00b7} {}", s(&client["phone"]), s(&client["email"])),
        what,
        state,
        detail,
        emailed: e.owner_emailed,
    }
}

pub async fn intake(State(d): State<Dashboard>, PagePartner(session): PagePartner) -> Response {
    let ctx = match Context::load(&d).await {
        Ok(c) => c,
        Err(e) => return failed(e),
    };
    let outcome = intake::open_entries(&d.0.http, d.0.intake.as_ref()).await;
    let chrome = chrome(&d, &ctx, &session, "intake", &[Projection::Catalog]).await;
    let (notice, configured, count, rows) = match outcome {
        Outcome::NotConfigured => (
            Some("No intake is configured, so there is nothing to list here. Set SALON_INTAKE_URL and SALON_INTAKE_TOKEN to see bookings the intake holds that the booking system has not accepted yet.".to_string()),
            false,
            0,
            Vec::new(),
        ),
        Outcome::NoToken => (
            Some("SALON_INTAKE_URL is set but SALON_INTAKE_TOKEN is not: the intake only lists its entries to holders of its token.".to_string()),
            false,
            0,
            Vec::new(),
        ),
        Outcome::Failed(words) => (Some(words), true, 0, Vec::new()),
        Outcome::Listed { count, entries } => (
            None,
            true,
            count,
            entries.iter().map(|e| intake_row(e, &ctx)).collect(),
        ),
    };
    IntakePage {
        chrome,
        notice,
        configured,
        count,
        rows,
    }
    .into_response()
}
