//! What every panel page shares: the frame (salon name, navigation, logout token, staleness,
//! the notice after a write), the salon's context (time zone, names behind ids), field errors,
//! and reading the owner's input (money, dates, times).

use super::Admin;
use crate::auth::Session;
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use chrono_tz::Tz;
use projections::queries::{self, QueryError, ServiceView, StylistView};
use projections::Projection;
use std::collections::{BTreeMap, HashMap};

/// The frame around every page.
pub struct Chrome {
    pub salon: String,
    pub csrf: String,
    pub active: &'static str,
    /// Who is logged in (their email).
    pub owner: String,
    pub stale: Option<String>,
    /// What the last write did, in words (from the `done` code of the redirect).
    pub notice: Option<&'static str>,
    /// The demo salon: a banner says so on every page.
    pub demo: bool,
    /// Clients cannot book yet: a banner links to the setup.
    pub not_open: bool,
}

/// Messages a redirect after a write may ask a page to show (`?done=CODE`). Fixed words: the
/// query string cannot put text on the page.
const NOTICES: &[(&str, &str)] = &[
    ("booked", "The appointment is booked."),
    ("moved", "The appointment was moved."),
    ("cancelled", "The appointment was cancelled."),
    ("no-show", "The appointment is marked as a no-show."),
    ("completed", "The appointment is marked as done."),
    ("notes", "The notes were saved."),
    (
        "client-forgotten",
        "The client was forgotten: their name, email, phone and notes are erased everywhere.",
    ),
    ("unchanged", "Nothing changed: that was already so."),
    ("saved", "Saved."),
    (
        "opened",
        "The salon is open for bookings: clients can book on the site now.",
    ),
    (
        "closed",
        "The salon stopped taking bookings: the site says so until you open again.",
    ),
    ("hired", "The stylist was added."),
    ("hours", "The working hours were saved."),
    ("time-off", "The time off was added."),
    ("time-off-removed", "The time off was removed."),
    ("archived", "Archived: clients no longer see it."),
    ("restored", "Restored: clients see it again."),
    ("created", "The service was added."),
    (
        "approved",
        "The review is approved and shows on the booking site.",
    ),
    ("hidden", "The review is hidden from the booking site."),
    ("replied", "Your reply was saved."),
    ("synced", "The calendar was synced."),
    ("revoked", "The token was revoked: it no longer works."),
    ("account", "The owner account was saved."),
    ("account-removed", "The owner account was removed."),
    (
        "picture",
        "The picture is saved: the booking site shows it now.",
    ),
    (
        "picture-removed",
        "The picture was removed: the booking site shows a placeholder.",
    ),
];

pub fn notice(code: Option<&str>) -> Option<&'static str> {
    let code = code?;
    NOTICES.iter().find(|(c, _)| *c == code).map(|(_, m)| *m)
}

/// The salon's settings and the catalog, with the names behind ids.
pub struct Ctx {
    pub salon: String,
    /// Everything the salon's settings hold.
    pub settings: queries::SalonView,
    pub tz: Tz,
    pub currency: String,
    /// Every stylist and service, archived ones too.
    pub stylists: Vec<StylistView>,
    pub services: Vec<ServiceView>,
    pub names: HashMap<String, String>,
}

impl Ctx {
    pub async fn load(admin: &Admin) -> Result<Self, QueryError> {
        let db = admin.read();
        let salon = queries::salon(db).await?;
        let stylists = queries::stylists(db, true).await?;
        let services = queries::services(db, true).await?;
        let names = stylists
            .iter()
            .map(|s| (s.id.clone(), s.name.clone()))
            .chain(services.iter().map(|s| (s.id.clone(), s.name.clone())))
            .collect();
        Ok(Self {
            salon: salon.name.clone(),
            tz: salon.time_zone,
            currency: salon.currency.clone(),
            settings: salon,
            stylists,
            services,
            names,
        })
    }

    /// The name behind a stylist or service id, or the id when it is unknown.
    pub fn name<'a>(&'a self, id: &'a str) -> &'a str {
        self.names.get(id).map(String::as_str).unwrap_or(id)
    }

    pub fn today(&self) -> NaiveDate {
        Utc::now().with_timezone(&self.tz).date_naive()
    }

    pub fn active_stylists(&self) -> impl Iterator<Item = &StylistView> {
        self.stylists.iter().filter(|s| s.active)
    }

    pub fn active_services(&self) -> impl Iterator<Item = &ServiceView> {
        self.services.iter().filter(|s| s.active)
    }

    /// Money in the salon's currency.
    pub fn money(&self, cents: i64) -> String {
        crate::dashboard::format::money(cents, &self.currency)
    }

    /// An RFC 3339 instant as the salon's wall clock: `Tue 1 Dec 2026, 10:00`.
    pub fn when(&self, ts: &str) -> String {
        crate::dashboard::format::when(ts, self.tz)
    }

    /// `10:00`.
    pub fn clock(&self, ts: &str) -> String {
        crate::dashboard::format::clock(ts, self.tz)
    }

    /// The local date and time of an instant, as a date and a time input want them.
    pub fn local_parts(&self, ts: &str) -> (String, String) {
        DateTime::parse_from_rfc3339(ts)
            .map(|t| {
                let l = t.with_timezone(&self.tz);
                (
                    l.format("%Y-%m-%d").to_string(),
                    l.format("%H:%M").to_string(),
                )
            })
            .unwrap_or_default()
    }

    /// A local date and time in the salon's time zone as an instant (the earlier one when the
    /// clock goes back; `None` in the hour the clock skips).
    pub fn instant(&self, date: NaiveDate, time: NaiveTime) -> Option<DateTime<Utc>> {
        NaiveDateTime::new(date, time)
            .and_local_timezone(self.tz)
            .earliest()
            .map(|t| t.with_timezone(&Utc))
    }
}

/// The frame of a page, with the staleness of the read models it shows.
pub async fn chrome(
    admin: &Admin,
    ctx: &Ctx,
    session: &Session,
    active: &'static str,
    done: Option<&str>,
) -> Chrome {
    let stale = match projections::dashboard::lag(admin.read(), &Projection::ALL).await {
        Ok(lag) if lag.is_stale() => Some(format!(
            "This page may be a little behind: the records have been read up to event {} of {}. They catch up by themselves; reload in a moment.",
            lag.checkpoint.position, lag.head.position
        )),
        Ok(_) => None,
        Err(e) => {
            tracing::warn!(error = %e, "panel: cannot tell staleness");
            Some("It cannot be checked right now whether these records are up to date.".into())
        }
    };
    Chrome {
        salon: ctx.salon.clone(),
        csrf: session.csrf.clone(),
        active,
        owner: session.subject.clone(),
        stale,
        notice: notice(done),
        demo: ctx.settings.demo,
        not_open: !ctx.settings.open,
    }
}

/// Field errors of a form, by field name, shown beside each field.
#[derive(Debug, Clone, Default)]
pub struct Errors(BTreeMap<String, String>);

impl Errors {
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0.entry(field.to_string()).or_insert(message.into());
    }
    pub fn get(&self, field: &str) -> Option<&str> {
        self.0.get(field).map(String::as_str)
    }
    pub fn has(&self, field: &str) -> bool {
        self.0.contains_key(field)
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// A message for the whole form (not one field).
    pub fn form(&self) -> Option<&str> {
        self.get("_form")
    }
    /// The error under a field, as HTML (escaped here): `{{ errors.show("name")|safe }}`.
    pub fn show(&self, field: &str) -> String {
        match self.get(field) {
            Some(m) => format!(
                r#"<p class="field-error" id="{}-error">{}</p>"#,
                escape(field),
                escape(m)
            ),
            None => String::new(),
        }
    }
    /// `aria-invalid` and `aria-describedby` for a field's input.
    pub fn aria(&self, field: &str) -> String {
        if self.has(field) {
            format!(r#"aria-invalid="true" aria-describedby="{field}-error""#)
        } else {
            String::new()
        }
    }
}

/// Text made safe inside HTML (elements and attribute values).
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Money typed by a person (`95`, `95.5`, `95.50`, `$95.00`, `1,250.00`) in cents.
pub fn parse_money(raw: &str) -> Result<i64, String> {
    let cleaned: String = raw
        .trim()
        .chars()
        .filter(|c| !matches!(c, '$' | '€' | '£' | ',' | ' '))
        .collect();
    let bad = || "must be an amount like 95.00".to_string();
    if cleaned.is_empty() {
        return Err("is required (0 for none)".into());
    }
    let (whole, frac) = cleaned.split_once('.').unwrap_or((&cleaned, ""));
    if whole.is_empty() && frac.is_empty() {
        return Err(bad());
    }
    if !whole.chars().all(|c| c.is_ascii_digit())
        || !frac.chars().all(|c| c.is_ascii_digit())
        || frac.len() > 2
        || whole.len() > 9
    {
        return Err(bad());
    }
    let whole: i64 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| bad())?
    };
    let frac: i64 = match frac.len() {
        0 => 0,
        1 => frac.parse::<i64>().map_err(|_| bad())? * 10,
        _ => frac.parse().map_err(|_| bad())?,
    };
    Ok(whole * 100 + frac)
}

/// Cents as the owner types them back: `95.00`.
pub fn money_input(cents: i64) -> String {
    crate::dashboard::format::decimal(cents)
}

/// A whole number of minutes within bounds.
pub fn parse_minutes(raw: &str, min: u32, max: u32) -> Result<u32, String> {
    raw.trim()
        .parse::<u32>()
        .ok()
        .filter(|m| (min..=max).contains(m))
        .ok_or_else(|| format!("must be a whole number of minutes from {min} to {max}"))
}

pub fn parse_date(raw: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d")
        .map_err(|_| "must be a date (YYYY-MM-DD)".to_string())
}

pub fn parse_time(raw: &str) -> Result<NaiveTime, String> {
    NaiveTime::parse_from_str(raw.trim(), "%H:%M")
        .map_err(|_| "must be a time like 09:30".to_string())
}

/// A page number from the query (1 when absent or nonsense).
pub fn page_number(raw: Option<&str>) -> usize {
    raw.and_then(|p| p.trim().parse::<usize>().ok())
        .filter(|p| *p >= 1 && *p <= 100_000)
        .unwrap_or(1)
}

/// Paging links for a list.
pub struct Pager {
    pub page: usize,
    pub pages: usize,
    pub prev: Option<String>,
    pub next: Option<String>,
}

impl Pager {
    /// `base` is the page's URL with its filters and a trailing `page=` left off.
    pub fn new(base: &str, page: usize, per_page: usize, count: usize) -> Self {
        let pages = count.div_ceil(per_page).max(1);
        let link = |p: usize| {
            let sep = if base.contains('?') { '&' } else { '?' };
            format!("{base}{sep}page={p}")
        };
        Self {
            page,
            pages,
            prev: (page > 1).then(|| link(page - 1)),
            next: (page < pages).then(|| link(page + 1)),
        }
    }
}

/// A URL with a query string from pairs, leaving out empty values.
pub fn with_query(path: &str, pairs: &[(&str, &str)]) -> String {
    let kept: Vec<(&str, &str)> = pairs
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .copied()
        .collect();
    if kept.is_empty() {
        return path.to_string();
    }
    match serde_urlencoded::to_string(&kept) {
        Ok(q) => format!("{path}?{q}"),
        Err(_) => path.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_is_read_as_people_type_it() {
        assert_eq!(parse_money("95"), Ok(9500));
        assert_eq!(parse_money("95.5"), Ok(9550));
        assert_eq!(parse_money(" $1,250.05 "), Ok(125005));
        assert_eq!(parse_money("0"), Ok(0));
        assert_eq!(parse_money(".5"), Ok(50));
        for bad in ["", "abc", "1.234", "-5", "1e3", "."] {
            assert!(parse_money(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn pager_links_keep_the_filters() {
        let p = Pager::new("/admin/bookings?status=confirmed", 2, 25, 60);
        assert_eq!(p.pages, 3);
        assert_eq!(
            p.prev.as_deref(),
            Some("/admin/bookings?status=confirmed&page=1")
        );
        assert_eq!(
            p.next.as_deref(),
            Some("/admin/bookings?status=confirmed&page=3")
        );
        let one = Pager::new("/admin/reviews", 1, 25, 0);
        assert_eq!((one.pages, one.prev, one.next), (1, None, None));
    }

    #[test]
    fn field_errors_are_escaped() {
        let mut e = Errors::default();
        e.add("name", "<b>bad</b> & \"quoted\"");
        assert_eq!(
            e.show("name"),
            r#"<p class="field-error" id="name-error">&lt;b&gt;bad&lt;/b&gt; &amp; &quot;quoted&quot;</p>"#
        );
        assert_eq!(e.show("other"), "");
        assert!(e.aria("name").contains("aria-invalid"));
    }

    #[test]
    fn notices_are_fixed_words() {
        assert_eq!(notice(Some("moved")), Some("The appointment was moved."));
        assert_eq!(notice(Some("<script>")), None);
        assert_eq!(notice(None), None);
    }

    #[test]
    fn queries_leave_out_empty_values() {
        assert_eq!(
            with_query(
                "/admin/bookings",
                &[("status", "held"), ("q", ""), ("stylist", "a b")]
            ),
            "/admin/bookings?status=held&stylist=a+b"
        );
        assert_eq!(with_query("/admin", &[("date", "")]), "/admin");
    }
}
