//! What the API and pages read. Every function reads read models only.

use crate::db::ReadDb;
use crate::list::{Filter, FilterKind, ListSpec};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use domain::availability::{self, Interval, Rules, ServiceSpan, Slot, StylistCalendar};
use domain::ids::StylistId;
use domain::salon::Closure;
use domain::schedule::{BookingPolicy, TimeOff, WeeklyHours};
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::Row;
use std::collections::HashMap;

#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error(transparent)]
    Sql(#[from] sqlx::Error),
    #[error("stored read model is unreadable: {0}")]
    Corrupt(String),
}

impl QueryError {
    /// The database could not be reached (as opposed to a bug or bad data).
    pub fn is_unavailable(&self) -> bool {
        match self {
            Self::Sql(e) => migrations::is_unavailable(e),
            Self::Corrupt(_) => false,
        }
    }
}

type Result<T> = std::result::Result<T, QueryError>;

fn corrupt(e: impl std::fmt::Display) -> QueryError {
    QueryError::Corrupt(e.to_string())
}

/// The salon's settings; defaults (New York, default policy, not configured) until the salon
/// is configured.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = Salon, example = json!({
    "name": "Crown & Coil Locs — Harlem",
    "time_zone": "America/New_York",
    "currency": "USD",
    "policy": {"slot_step_minutes": 30, "lead_time_minutes": 120, "horizon_days": 60,
               "hold_minutes": 15, "cancellation_window_hours": 24},
    "address": "2150 Frederick Douglass Blvd\nNew York, NY 10026",
    "phone": "+12125550143",
    "email": "hello@crownandcoil.example",
    "opening_hours": {"tue": {"open": "09:00", "close": "19:00", "breaks": []}},
    "closures": [{"from": "2027-12-24", "to": "2027-12-26", "label": "Christmas"}],
    "policy_text": "Deposits are refunded for cancellations 24 hours ahead.",
    "configured": true,
    "open": true,
    "demo": false
}))]
pub struct SalonView {
    pub name: String,
    /// IANA time zone; every time the API shows is in it.
    #[schema(value_type = String, example = "America/New_York")]
    pub time_zone: Tz,
    /// ISO 4217; every amount is an integer in its minor unit (cents, yen, fils).
    pub currency: String,
    pub policy: BookingPolicy,
    /// Street address, lines separated by newlines; empty when not set.
    pub address: String,
    /// Public phone number (E.164); empty when not set.
    pub phone: String,
    /// Public e-mail address; empty when not set.
    pub email: String,
    /// When the salon is open (`mon` … `sun`; an absent day is closed). Empty: not set, the
    /// stylists' hours alone decide.
    #[schema(value_type = Object)]
    pub opening_hours: WeeklyHours,
    /// Days the whole salon is closed.
    #[schema(value_type = Vec<Object>)]
    pub closures: Vec<Closure>,
    /// The deposit and cancellation policy in the owner's words.
    pub policy_text: String,
    /// The salon has been set up (false on a new, empty store).
    pub configured: bool,
    /// Clients can book.
    pub open: bool,
    /// This is the demo salon.
    pub demo: bool,
    /// The salon's version: sent as its ETag, not in the body.
    #[serde(skip)]
    pub version: i64,
    /// The salon's logo (`/media/<sha256>.<ext>`, on this server), or null when it has none.
    #[schema(example = json!(null))]
    pub logo_url: Option<String>,
}

impl SalonView {
    /// Decimals of the salon's currency's minor unit.
    pub fn minor_units(&self) -> u8 {
        domain::money::minor_units(&self.currency)
    }
    /// An amount in the salon's currency for people: `$95.00`, `¥9,500`.
    pub fn money(&self, amount_minor: i64) -> String {
        domain::money::format(amount_minor, &self.currency)
    }
}

pub async fn salon(db: &ReadDb) -> Result<SalonView> {
    let mut view = salon_settings(db).await?;
    view.logo_url = picture_file(db, "logo").await?.map(|f| media_url(&f));
    Ok(view)
}

async fn salon_settings(db: &ReadDb) -> Result<SalonView> {
    let row = sqlx::query(
        "SELECT name, time_zone, currency, policy_json, address, phone, email, opening_hours_json, \
         closures_json, policy_text, open, demo, version FROM rm_salon WHERE id = 'salon'",
    )
    .fetch_optional(db.pool())
    .await?;
    let Some(row) = row else {
        return Ok(SalonView {
            name: String::new(),
            time_zone: chrono_tz::America::New_York,
            currency: "USD".into(),
            policy: BookingPolicy::default(),
            address: String::new(),
            phone: String::new(),
            email: String::new(),
            opening_hours: WeeklyHours::default(),
            closures: Vec::new(),
            policy_text: String::new(),
            configured: false,
            open: false,
            demo: false,
            version: 0,
            logo_url: None,
        });
    };
    let tz: String = row.try_get("time_zone")?;
    let policy: String = row.try_get("policy_json")?;
    let hours: String = row.try_get("opening_hours_json")?;
    let closures: String = row.try_get("closures_json")?;
    Ok(SalonView {
        name: row.try_get("name")?,
        time_zone: tz.parse().map_err(corrupt)?,
        currency: row.try_get("currency")?,
        policy: serde_json::from_str(&policy).map_err(corrupt)?,
        address: row.try_get("address")?,
        phone: row.try_get("phone")?,
        email: row.try_get("email")?,
        opening_hours: serde_json::from_str(&hours).map_err(corrupt)?,
        closures: serde_json::from_str(&closures).map_err(corrupt)?,
        policy_text: row.try_get("policy_text")?,
        configured: true,
        open: row.try_get::<i64, _>("open")? != 0,
        demo: row.try_get::<i64, _>("demo")? != 0,
        version: row.try_get("version")?,
        logo_url: None,
    })
}

/// Whether the salon has any booking at all (a change of time zone or currency then needs the
/// owner's confirmation).
pub async fn has_bookings(db: &ReadDb) -> Result<bool> {
    Ok(sqlx::query("SELECT 1 FROM rm_bookings LIMIT 1")
        .fetch_optional(db.pool())
        .await?
        .is_some())
}

/// Where a stored picture is served: `/media/<sha256>.<ext>` (see `api::routes::pictures`).
pub fn media_url(file: &str) -> String {
    format!("/media/{file}")
}

/// The file of the picture `subject` shows now (`logo`, `stylist:<id>`, `service:<id>`).
pub async fn picture_file(db: &ReadDb, subject: &str) -> Result<Option<String>> {
    Ok(
        sqlx::query_scalar("SELECT file FROM rm_pictures WHERE subject = $1")
            .bind(subject.to_string())
            .fetch_optional(db.pool())
            .await?,
    )
}

/// A service as the API shows it (ARCHITECTURE §6).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[schema(as = Service, example = json!({
    "id": "77d5de2f-6c6f-5291-90df-5ba039e90a05",
    "name": "Retwist",
    "description": "Palm-roll or two-strand retwist of new growth, with wash and light oil.",
    "duration_minutes": 90, "buffer_before_minutes": 0, "buffer_after_minutes": 15,
    "price_cents": 9500, "deposit_cents": 2500, "currency": "USD", "active": true
}))]
pub struct ServiceView {
    #[schema(format = Uuid)]
    pub id: String,
    pub name: String,
    pub description: String,
    pub duration_minutes: i64,
    pub buffer_before_minutes: i64,
    pub buffer_after_minutes: i64,
    /// Integer cents in `currency`.
    pub price_cents: i64,
    /// Due when booking (integer cents); 0 for none.
    pub deposit_cents: i64,
    /// ISO 4217 code.
    pub currency: String,
    pub active: bool,
    /// The service's picture (`/media/<sha256>.<ext>`, on this server), or null when it has
    /// none. Setting it does not change the service's ETag (a picture is a record of its own).
    #[schema(example = json!(null))]
    pub picture_url: Option<String>,
    /// The service's version: sent as its ETag, not in the body.
    #[serde(skip)]
    pub version: i64,
}

impl ServiceView {
    pub fn span(&self) -> ServiceSpan {
        let minutes = |v: i64| u32::try_from(v.max(0)).unwrap_or(0);
        ServiceSpan {
            duration_minutes: minutes(self.duration_minutes),
            buffer_before_minutes: minutes(self.buffer_before_minutes),
            buffer_after_minutes: minutes(self.buffer_after_minutes),
        }
    }
}

const SERVICE_COLUMNS: &str =
    "id, name, description, duration_minutes, buffer_before_minutes, buffer_after_minutes, \
     price_cents, deposit_cents, currency, active, version, \
     (SELECT p.file FROM rm_pictures p WHERE p.subject = 'service:' || rm_services.id) AS picture_file";

pub fn service_row(row: &AnyRow) -> Result<ServiceView> {
    Ok(ServiceView {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        duration_minutes: row.try_get("duration_minutes")?,
        buffer_before_minutes: row.try_get("buffer_before_minutes")?,
        buffer_after_minutes: row.try_get("buffer_after_minutes")?,
        price_cents: row.try_get("price_cents")?,
        deposit_cents: row.try_get("deposit_cents")?,
        currency: row.try_get("currency")?,
        active: row.try_get::<i64, _>("active")? != 0,
        picture_url: row
            .try_get::<Option<String>, _>("picture_file")?
            .map(|f| media_url(&f)),
        version: row.try_get("version")?,
    })
}

/// Services listed with filters (`projections::list`), in menu order unless asked otherwise.
pub const SERVICE_LIST: ListSpec = ListSpec {
    table: "rm_services",
    columns: SERVICE_COLUMNS,
    filters: &[
        Filter::new("id", "id", FilterKind::Exact),
        Filter::new("name", "name", FilterKind::Exact),
        Filter::new("active", "active", FilterKind::Flag),
        Filter::new("duration_minutes", "duration_minutes", FilterKind::Number),
        Filter::new("price_cents", "price_cents", FilterKind::Number),
        Filter::new("deposit_cents", "deposit_cents", FilterKind::Number),
        Filter::new("currency", "currency", FilterKind::Exact),
    ],
    search: &["name", "description"],
    orderings: &[
        ("menu", "created_position"),
        ("name", "name"),
        ("duration_minutes", "duration_minutes"),
        ("price_cents", "price_cents"),
        ("deposit_cents", "deposit_cents"),
    ],
    default_ordering: "menu",
    key: "id",
};

/// Services in menu order (the order they were created); archived ones only when asked.
pub async fn services(db: &ReadDb, include_archived: bool) -> Result<Vec<ServiceView>> {
    let sql = format!(
        "SELECT {SERVICE_COLUMNS} FROM rm_services WHERE active = 1 OR $1 = 1 ORDER BY created_position, id"
    );
    let rows = sqlx::query(&sql)
        .bind(i64::from(include_archived))
        .fetch_all(db.pool())
        .await?;
    rows.iter().map(service_row).collect()
}

pub async fn service(db: &ReadDb, id: &str) -> Result<Option<ServiceView>> {
    let sql = format!("SELECT {SERVICE_COLUMNS} FROM rm_services WHERE id = $1");
    let row = sqlx::query(&sql)
        .bind(id.to_string())
        .fetch_optional(db.pool())
        .await?;
    row.as_ref().map(service_row).transpose()
}

/// A stylist as the API shows it: ARCHITECTURE §6's fields plus weekly hours and time off.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[schema(as = Stylist, example = json!({
    "id": "c44e923e-60e5-58b4-a805-a80b72143357",
    "name": "Amara Diallo",
    "bio": "Founder. Fifteen years of locs in Harlem.",
    "services": ["77d5de2f-6c6f-5291-90df-5ba039e90a05", "19887d49-af4b-57ed-9565-42fc40f05eca"],
    "active": true,
    "hours": {"tue": {"open": "10:00", "close": "18:00", "breaks": [{"start": "13:00", "end": "13:30"}]}},
    "time_off": []
}))]
pub struct StylistView {
    #[schema(format = Uuid)]
    pub id: String,
    pub name: String,
    pub bio: String,
    /// The ids of the services the stylist offers.
    #[schema(value_type = Vec<uuid::Uuid>)]
    pub services: Vec<String>,
    pub active: bool,
    pub hours: WeeklyHours,
    pub time_off: Vec<TimeOff>,
    /// The stylist's photo (`/media/<sha256>.<ext>`, on this server), or null when they have
    /// none. Setting it does not change the stylist's ETag (a photo is a record of its own).
    #[schema(example = json!(null))]
    pub photo_url: Option<String>,
    /// The stylist's version: sent as its ETag, not in the body.
    #[serde(skip)]
    pub version: i64,
}

pub fn stylist_row(row: &AnyRow) -> Result<StylistView> {
    let services: String = row.try_get("services_json")?;
    let hours: String = row.try_get("hours_json")?;
    let time_off: String = row.try_get("time_off_json")?;
    Ok(StylistView {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        bio: row.try_get("bio")?,
        services: serde_json::from_str(&services).map_err(corrupt)?,
        active: row.try_get::<i64, _>("active")? != 0,
        hours: serde_json::from_str(&hours).map_err(corrupt)?,
        time_off: serde_json::from_str(&time_off).map_err(corrupt)?,
        photo_url: row
            .try_get::<Option<String>, _>("photo_file")?
            .map(|f| media_url(&f)),
        version: row.try_get("version")?,
    })
}

const STYLIST_COLUMNS: &str =
    "id, name, bio, services_json, hours_json, time_off_json, active, version, \
     (SELECT p.file FROM rm_pictures p WHERE p.subject = 'stylist:' || rm_stylists.id) AS photo_file";

/// Stylists listed with filters, in the order they joined unless asked otherwise.
pub const STYLIST_LIST: ListSpec = ListSpec {
    table: "rm_stylists",
    columns: STYLIST_COLUMNS,
    filters: &[
        Filter::new("id", "id", FilterKind::Exact),
        Filter::new("name", "name", FilterKind::Exact),
        Filter::new("active", "active", FilterKind::Flag),
        Filter::new("service", "services_json", FilterKind::Member),
    ],
    search: &["name", "bio"],
    orderings: &[("joined", "created_position"), ("name", "name")],
    default_ordering: "joined",
    key: "id",
};

pub async fn stylists(db: &ReadDb, include_archived: bool) -> Result<Vec<StylistView>> {
    let sql = format!(
        "SELECT {STYLIST_COLUMNS} FROM rm_stylists WHERE active = 1 OR $1 = 1 ORDER BY created_position, id"
    );
    let rows = sqlx::query(&sql)
        .bind(i64::from(include_archived))
        .fetch_all(db.pool())
        .await?;
    rows.iter().map(stylist_row).collect()
}

pub async fn stylist(db: &ReadDb, id: &str) -> Result<Option<StylistView>> {
    let sql = format!("SELECT {STYLIST_COLUMNS} FROM rm_stylists WHERE id = $1");
    let row = sqlx::query(&sql)
        .bind(id.to_string())
        .fetch_optional(db.pool())
        .await?;
    row.as_ref().map(stylist_row).transpose()
}

/// A stylist's busy time overlapping `[from, to)`: reservations (buffers included) and the busy
/// time of the stylist's external calendars as their last good sync knew it.
pub async fn busy(
    db: &ReadDb,
    stylist: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<Interval>> {
    let mut all = busy_of(db, &[stylist.to_string()], from, to).await?;
    Ok(all.remove(stylist).unwrap_or_default())
}

/// The busy time of several stylists at once (one query), by stylist id, each sorted by start.
pub async fn busy_of(
    db: &ReadDb,
    stylists: &[String],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<HashMap<String, Vec<Interval>>> {
    let mut out: HashMap<String, Vec<Interval>> = HashMap::new();
    if stylists.is_empty() {
        return Ok(out);
    }
    let list = (0..stylists.len())
        .map(|i| format!("${}", i + 4))
        .collect::<Vec<_>>()
        .join(", ");
    // Both tables hold blocks within one stylist-day (reservations, and external busy time
    // split at local midnight), so none starts more than two days before it ends: the lower
    // bound on `start_epoch` keeps the index scan to the range asked for, however much history
    // there is.
    let sql = format!(
        "SELECT stylist, start_epoch, end_epoch FROM rm_reservations \
         WHERE stylist IN ({list}) AND start_epoch < $2 AND end_epoch > $1 AND start_epoch > $3 \
         UNION ALL \
         SELECT stylist, start_epoch, end_epoch FROM rm_external_busy \
         WHERE stylist IN ({list}) AND start_epoch < $2 AND end_epoch > $1 AND start_epoch > $3"
    );
    let mut query = sqlx::query(&sql)
        .bind(from.timestamp())
        .bind(to.timestamp())
        .bind((from - Duration::days(2)).timestamp());
    for s in stylists {
        query = query.bind(s.clone());
    }
    for r in query.fetch_all(db.pool()).await? {
        let stylist: String = r.try_get(0)?;
        let s: i64 = r.try_get(1)?;
        let e: i64 = r.try_get(2)?;
        match (
            DateTime::from_timestamp(s, 0),
            DateTime::from_timestamp(e, 0),
        ) {
            (Some(s), Some(e)) => out.entry(stylist).or_default().push(Interval::new(s, e)),
            _ => return Err(corrupt("busy time out of range")),
        }
    }
    for list in out.values_mut() {
        list.sort_by_key(|i| (i.start, i.end));
    }
    Ok(out)
}

/// Free appointment times.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = Availability)]
pub struct AvailabilityView {
    /// The salon's IANA time zone; slot times carry its offset.
    #[schema(value_type = String, example = "America/New_York")]
    pub time_zone: Tz,
    pub slots: Vec<Slot>,
}

/// Free slots for `service` from `from` to `to` (local dates, inclusive), for one stylist or for
/// every active stylist who offers the service. `None` when the service or stylist is unknown.
pub async fn availability(
    db: &ReadDb,
    service_id: &str,
    stylist_id: Option<&str>,
    from: NaiveDate,
    to: NaiveDate,
    now: DateTime<Utc>,
) -> Result<Option<AvailabilityView>> {
    let salon = salon(db).await?;
    let Some(service) = service(db, service_id).await?.filter(|s| s.active) else {
        return Ok(None);
    };
    let candidates: Vec<StylistView> = match stylist_id {
        Some(id) => match stylist(db, id).await?.filter(|s| s.active) {
            Some(s) => vec![s],
            None => return Ok(None),
        },
        None => stylists(db, false).await?,
    };
    let rules = Rules {
        time_zone: salon.time_zone,
        policy: &salon.policy,
        now,
        opening_hours: &salon.opening_hours,
        closures: &salon.closures,
    };
    // Busy time is fetched with a day's margin either side: buffers and time zones can reach
    // across midnight UTC.
    let range_start = availability::local_to_utc(
        salon.time_zone,
        from.and_hms_opt(0, 0, 0).unwrap_or_default(),
    ) - Duration::days(1);
    let range_end =
        availability::local_to_utc(salon.time_zone, to.and_hms_opt(0, 0, 0).unwrap_or_default())
            + Duration::days(2);
    let mut slots = Vec::new();
    let offering: Vec<&StylistView> = candidates
        .iter()
        .filter(|s| s.services.iter().any(|x| x == &service.id))
        .collect();
    let ids: Vec<String> = offering.iter().map(|s| s.id.clone()).collect();
    let mut busy_by_stylist = busy_of(db, &ids, range_start, range_end).await?;
    for s in offering {
        let Ok(id) = StylistId::parse(&s.id) else {
            continue;
        };
        let busy = busy_by_stylist.remove(&s.id).unwrap_or_default();
        let calendar = StylistCalendar {
            stylist: id,
            hours: &s.hours,
            time_off: &s.time_off,
            busy: &busy,
        };
        slots.extend(availability::slots(
            &rules,
            service.span(),
            &calendar,
            from,
            to,
        ));
    }
    slots.sort_by(|a, b| {
        a.start
            .cmp(&b.start)
            .then_with(|| a.stylist.cmp(&b.stylist))
    });
    Ok(Some(AvailabilityView {
        time_zone: salon.time_zone,
        slots,
    }))
}

/// A booking as the read model holds it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BookingView {
    pub id: String,
    pub status: String,
    pub deposit_status: String,
    pub service: String,
    pub stylist: String,
    pub start: String,
    pub end: String,
    pub client_name: String,
    pub client_email: String,
    pub client_phone: String,
    pub notes: Option<String>,
    pub price_cents: i64,
    pub deposit_cents: i64,
    pub currency: String,
    pub hold_expires_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub checkout_url: Option<String>,
    pub cancelled_by: Option<String>,
    pub refund_status: Option<String>,
    /// The booking's version: its ETag.
    #[serde(skip)]
    pub version: i64,
}

pub(crate) const BOOKING_COLUMNS: &str = "id, status, deposit_status, service, stylist, start_at, end_at, \
    client_name, client_email, client_phone, notes, price_cents, deposit_cents, currency, hold_expires_at, \
    created_at, updated_at, checkout_url, cancelled_by, refund_status, version";

/// The statuses a booking can have, as the read model spells them.
pub const BOOKING_STATUSES: &[&str] = &[
    "requested",
    "held",
    "confirmed",
    "completed",
    "no_show",
    "cancelled",
];

/// The deposit states a booking can have.
pub const DEPOSIT_STATUSES: &[&str] = &["none", "pending", "paid", "refunded"];

/// Bookings listed with filters, by start time unless asked otherwise.
pub const BOOKING_LIST: ListSpec = ListSpec {
    table: "rm_bookings",
    columns: BOOKING_COLUMNS,
    filters: &[
        Filter::new("id", "id", FilterKind::Exact),
        Filter::new("status", "status", FilterKind::Choice(BOOKING_STATUSES)),
        Filter::new(
            "deposit_status",
            "deposit_status",
            FilterKind::Choice(DEPOSIT_STATUSES),
        ),
        Filter::new("service", "service", FilterKind::Exact),
        Filter::new("stylist", "stylist", FilterKind::Exact),
        Filter::new("start", "start_epoch", FilterKind::Epoch),
        Filter::new("created", "created_at", FilterKind::Rfc3339),
        Filter::new("updated", "updated_at", FilterKind::Rfc3339),
        Filter::new("price_cents", "price_cents", FilterKind::Number),
        Filter::new("deposit_cents", "deposit_cents", FilterKind::Number),
        Filter::new("client_email", "client_email", FilterKind::Exact),
        Filter::new("cancelled_by", "cancelled_by", FilterKind::Exact),
    ],
    search: &["client_name", "client_email", "client_phone", "notes"],
    orderings: &[
        ("start", "start_epoch"),
        ("created", "created_at"),
        ("updated", "updated_at"),
        ("price_cents", "price_cents"),
        ("status", "status"),
        ("client_name", "client_name"),
    ],
    default_ordering: "start",
    key: "id",
};

pub async fn booking(db: &ReadDb, id: &str) -> Result<Option<BookingView>> {
    let sql = format!("SELECT {BOOKING_COLUMNS} FROM rm_bookings WHERE id = $1");
    let row = sqlx::query(&sql)
        .bind(id.to_string())
        .fetch_optional(db.pool())
        .await?;
    row.as_ref().map(booking_from_row).transpose()
}

pub fn booking_from_row(r: &AnyRow) -> Result<BookingView> {
    Ok(BookingView {
        id: r.try_get("id")?,
        status: r.try_get("status")?,
        deposit_status: r.try_get("deposit_status")?,
        service: r.try_get("service")?,
        stylist: r.try_get("stylist")?,
        start: r.try_get("start_at")?,
        end: r.try_get("end_at")?,
        client_name: r.try_get("client_name")?,
        client_email: r.try_get("client_email")?,
        client_phone: r.try_get("client_phone")?,
        notes: r.try_get("notes")?,
        price_cents: r.try_get("price_cents")?,
        deposit_cents: r.try_get("deposit_cents")?,
        currency: r.try_get("currency")?,
        hold_expires_at: r.try_get("hold_expires_at")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        checkout_url: r.try_get("checkout_url")?,
        cancelled_by: r.try_get("cancelled_by")?,
        refund_status: r.try_get("refund_status")?,
        version: r.try_get("version")?,
    })
}

/// An API token found by the hash of its secret.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TokenView {
    pub id: String,
    pub name: String,
    pub scope: String,
    pub revoked: bool,
}

/// An API token as listed to integrators (never its secret or hash).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[schema(as = Token, example = json!({
    "id": "0193b1f0-7a3e-7c4d-9a51-3f0e2b9c8d11",
    "name": "booking-sync",
    "scope": "read",
    "revoked": false,
    "created_at": "2027-03-01T09:12:44.102+00:00",
    "last_used_at": null
}))]
pub struct TokenListing {
    #[schema(format = Uuid)]
    pub id: String,
    /// Unique among tokens in use; the audit trail shows `token:<name>`.
    pub name: String,
    #[schema(pattern = "^(read|write)$", example = "read")]
    pub scope: String,
    pub revoked: bool,
    #[schema(format = DateTime)]
    pub created_at: String,
    /// Recorded at most once a minute.
    #[schema(format = DateTime)]
    pub last_used_at: Option<String>,
}

/// Every token, newest first, with when it was last used.
pub async fn tokens(db: &ReadDb) -> Result<Vec<TokenListing>> {
    let rows = sqlx::query(
        "SELECT t.id, t.name, t.scope, t.revoked, t.created_at, u.last_used_at \
         FROM rm_api_tokens t LEFT JOIN token_usage u ON u.token = t.id \
         ORDER BY t.created_at DESC, t.id",
    )
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(TokenListing {
                id: r.try_get("id")?,
                name: r.try_get("name")?,
                scope: r.try_get("scope")?,
                revoked: r.try_get::<i64, _>("revoked")? != 0,
                created_at: r.try_get("created_at")?,
                last_used_at: r.try_get("last_used_at")?,
            })
        })
        .collect()
}

/// Records that a token was used now.
pub async fn touch_token(db: &ReadDb, id: &str, at: &str) -> Result<()> {
    sqlx::query(
        "INSERT INTO token_usage (token, last_used_at) VALUES ($1, $2) \
         ON CONFLICT (token) DO UPDATE SET last_used_at = excluded.last_used_at",
    )
    .bind(id.to_string())
    .bind(at.to_string())
    .execute(db.pool())
    .await?;
    Ok(())
}

pub async fn token_by_hash(db: &ReadDb, secret_hash: &str) -> Result<Option<TokenView>> {
    let row =
        sqlx::query("SELECT id, name, scope, revoked FROM rm_api_tokens WHERE secret_hash = $1")
            .bind(secret_hash.to_string())
            .fetch_optional(db.pool())
            .await?;
    let Some(r) = row else { return Ok(None) };
    Ok(Some(TokenView {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        scope: r.try_get("scope")?,
        revoked: r.try_get::<i64, _>("revoked")? != 0,
    }))
}

/// Every row of a read-model table as text, in a stable order: what replay tests compare.
pub async fn dump_table(db: &ReadDb, table: &str) -> Result<Vec<Vec<String>>> {
    if !migrations::READ_MODEL_TABLES.contains(&table) {
        return Err(QueryError::Corrupt(format!(
            "{table} is not a read-model table"
        )));
    }
    let rows = sqlx::query(&format!("SELECT * FROM {table} ORDER BY 1"))
        .fetch_all(db.pool())
        .await?;
    Ok(rows.iter().map(crate::replay::render_row).collect())
}
