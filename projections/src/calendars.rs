//! What the API and pages read about external calendars: the sources, how fresh their busy
//! time is, and the bookings a stylist's ICS feed publishes.

use crate::db::ReadDb;
use crate::queries::{booking_from_row, BookingView, QueryError, BOOKING_COLUMNS};
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::Row;

type Result<T> = std::result::Result<T, QueryError>;

/// A calendar source as integrators and the owner see it. Never carries credentials.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[schema(as = CalendarSource, example = json!({
    "id": "0193b1f0-8c2d-7e11-b3a4-6d5e4f3a2b10",
    "kind": "caldav",
    "name": "Amara's iCloud",
    "stylist": "c44e923e-60e5-58b4-a805-a80b72143357",
    "url": "https://caldav.icloud.com/",
    "username": "owner@icloud.com",
    "has_credentials": true,
    "sync_minutes": 5,
    "write_back": true,
    "busy_count": 4,
    "window_start": "2027-03-01T05:00:00+00:00",
    "window_end": "2027-05-01T04:00:00+00:00",
    "last_changed_at": "2027-03-01T09:15:02+00:00",
    "last_attempt_at": "2027-03-01T09:15:02+00:00",
    "last_success_at": "2027-03-01T09:15:02+00:00",
    "status": "ok",
    "last_error": null,
    "failing_since": null,
    "created_at": "2027-03-01T09:14:58+00:00"
}))]
pub struct CalendarSourceView {
    #[schema(format = Uuid)]
    pub id: String,
    /// `caldav` or `google`.
    #[schema(pattern = "^(caldav|google)$")]
    pub kind: String,
    pub name: String,
    #[schema(format = Uuid)]
    pub stylist: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub calendar_id: Option<String>,
    pub has_credentials: bool,
    pub sync_minutes: i64,
    pub write_back: bool,
    /// Busy blocks the last good sync found in its window.
    pub busy_count: i64,
    #[schema(format = DateTime)]
    pub window_start: Option<String>,
    #[schema(format = DateTime)]
    pub window_end: Option<String>,
    /// When the busy set last changed.
    #[schema(format = DateTime)]
    pub last_changed_at: Option<String>,
    /// When the sync job last tried, and last got an answer.
    #[schema(format = DateTime)]
    pub last_attempt_at: Option<String>,
    #[schema(format = DateTime)]
    pub last_success_at: Option<String>,
    /// `pending` (never synced), `ok`, `stale` (no good answer for over two sync periods) or
    /// `failing`.
    #[schema(pattern = "^(pending|ok|stale|failing)$")]
    pub status: String,
    pub last_error: Option<String>,
    #[schema(format = DateTime)]
    pub failing_since: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
}

const COLUMNS: &str = "s.id, s.kind, s.name, s.stylist, s.url, s.username, s.calendar_id, s.has_credentials, \
    s.sync_minutes, s.write_back, s.busy_count, s.window_start, s.window_end, s.last_changed_at, \
    s.failing_error, s.failing_since, s.created_at, c.last_attempt_at, c.last_success_at, c.last_error";

fn parse_time(raw: &Option<String>) -> Option<DateTime<Utc>> {
    raw.as_deref()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
}

fn row_view(r: &AnyRow, now: DateTime<Utc>) -> Result<CalendarSourceView> {
    let sync_minutes: i64 = r.try_get("sync_minutes")?;
    let failing_error: Option<String> = r.try_get("failing_error")?;
    let last_success_at: Option<String> = r.try_get("last_success_at")?;
    let last_changed_at: Option<String> = r.try_get("last_changed_at")?;
    let created_at: String = r.try_get("created_at")?;
    let fresh_since = parse_time(&last_success_at)
        .or_else(|| parse_time(&last_changed_at))
        .or_else(|| parse_time(&Some(created_at.clone())));
    let stale = fresh_since
        .map(|t| now - t > Duration::minutes(2 * sync_minutes.max(1) + 1))
        .unwrap_or(true);
    let never_synced = last_success_at.is_none() && last_changed_at.is_none();
    let status = if failing_error.is_some() {
        "failing"
    } else if stale && !never_synced {
        "stale"
    } else if never_synced {
        "pending"
    } else {
        "ok"
    };
    let last_error: Option<String> = r.try_get("last_error")?;
    Ok(CalendarSourceView {
        id: r.try_get("id")?,
        kind: r.try_get("kind")?,
        name: r.try_get("name")?,
        stylist: r.try_get("stylist")?,
        url: r.try_get("url")?,
        username: r.try_get("username")?,
        calendar_id: r.try_get("calendar_id")?,
        has_credentials: r.try_get::<i64, _>("has_credentials")? != 0,
        sync_minutes,
        write_back: r.try_get::<i64, _>("write_back")? != 0,
        busy_count: r.try_get("busy_count")?,
        window_start: r.try_get("window_start")?,
        window_end: r.try_get("window_end")?,
        last_changed_at,
        last_attempt_at: r.try_get("last_attempt_at")?,
        last_success_at,
        status: status.to_string(),
        last_error: failing_error.or(last_error),
        failing_since: r.try_get("failing_since")?,
        created_at,
    })
}

/// Sources not removed, oldest first; optionally one stylist's.
pub async fn calendar_sources(
    db: &ReadDb,
    stylist: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Vec<CalendarSourceView>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM rm_calendar_sources s LEFT JOIN calendar_sync_status c ON c.source = s.id \
         WHERE s.removed = 0 AND ($1 = '' OR s.stylist = $1) ORDER BY s.created_position, s.id"
    );
    let rows = sqlx::query(&sql)
        .bind(stylist.unwrap_or("").to_string())
        .fetch_all(db.pool())
        .await?;
    rows.iter().map(|r| row_view(r, now)).collect()
}

/// One source, `None` when unknown or removed.
pub async fn calendar_source(
    db: &ReadDb,
    id: &str,
    now: DateTime<Utc>,
) -> Result<Option<CalendarSourceView>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM rm_calendar_sources s LEFT JOIN calendar_sync_status c ON c.source = s.id \
         WHERE s.id = $1 AND s.removed = 0"
    );
    let row = sqlx::query(&sql)
        .bind(id.to_string())
        .fetch_optional(db.pool())
        .await?;
    row.map(|r| row_view(&r, now)).transpose()
}

/// A stylist's bookings that hold time (held, confirmed, completed) starting from `from`, for the
/// stylist's ICS feed; at most `limit`.
pub async fn stylist_bookings(
    db: &ReadDb,
    stylist: &str,
    from: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<BookingView>> {
    let sql = format!(
        "SELECT {BOOKING_COLUMNS} FROM rm_bookings WHERE stylist = $1 AND start_epoch >= $2 \
         AND status IN ('held', 'confirmed', 'completed') ORDER BY start_epoch, id LIMIT $3"
    );
    let rows = sqlx::query(&sql)
        .bind(stylist.to_string())
        .bind(from.timestamp())
        .bind(limit)
        .fetch_all(db.pool())
        .await?;
    rows.iter().map(booking_from_row).collect()
}
