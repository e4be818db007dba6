//! What the partner's dashboard reads: bookings and the audit log filtered and paged, the same
//! rows in keyset chunks for streamed CSV exports, the figures (per week, per stylist, per
//! service, by outcome), and how far each read model lags behind the log. Read models only.

use crate::apply::Projection;
use crate::db::ReadDb;
use crate::log;
use crate::queries::{booking_from_row, BookingView, QueryError, BOOKING_COLUMNS};
use migrations::LogPosition;
use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::{Any, Row};

type Result<T> = std::result::Result<T, QueryError>;

/// The booking statuses the read model knows, in lifecycle order.
pub const BOOKING_STATUSES: &[&str] = &[
    "requested",
    "held",
    "confirmed",
    "completed",
    "no_show",
    "cancelled",
];

/// A filter over bookings. Bounds are on the appointment's start (epoch seconds, `to`
/// exclusive); the caller turns the salon's local dates into them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BookingFilter {
    pub from_epoch: Option<i64>,
    pub to_epoch: Option<i64>,
    pub stylist: Option<String>,
    pub service: Option<String>,
    pub status: Option<String>,
    /// Only bookings with a deposit (the payments export).
    pub with_deposit: bool,
}

/// Values bound to a dynamically built statement, in `$n` order.
enum Bind {
    Int(i64),
    Text(String),
}

fn bind_all<'q>(
    mut q: Query<'q, Any, AnyArguments<'q>>,
    binds: &[Bind],
) -> Query<'q, Any, AnyArguments<'q>> {
    for b in binds {
        q = match b {
            Bind::Int(i) => q.bind(*i),
            Bind::Text(t) => q.bind(t.clone()),
        };
    }
    q
}

impl BookingFilter {
    fn clause(&self, binds: &mut Vec<Bind>) -> String {
        let mut parts = vec!["1 = 1".to_string()];
        let mut push = |sql: &str, b: Bind, binds: &mut Vec<Bind>| {
            binds.push(b);
            parts.push(sql.replace('?', &format!("${}", binds.len())));
        };
        if let Some(v) = self.from_epoch {
            push("start_epoch >= ?", Bind::Int(v), binds);
        }
        if let Some(v) = self.to_epoch {
            push("start_epoch < ?", Bind::Int(v), binds);
        }
        if let Some(v) = &self.stylist {
            push("stylist = ?", Bind::Text(v.clone()), binds);
        }
        if let Some(v) = &self.service {
            push("service = ?", Bind::Text(v.clone()), binds);
        }
        if let Some(v) = &self.status {
            push("status = ?", Bind::Text(v.clone()), binds);
        }
        if self.with_deposit {
            parts.push("deposit_cents > 0 AND deposit_status <> 'none'".into());
        }
        parts.join(" AND ")
    }
}

/// One page of bookings, newest appointment first, and how many match in all.
pub async fn bookings_page(
    db: &ReadDb,
    filter: &BookingFilter,
    limit: i64,
    offset: i64,
) -> Result<(i64, Vec<BookingView>)> {
    let mut binds = Vec::new();
    let clause = filter.clause(&mut binds);
    let count_sql = format!("SELECT count(*) AS n FROM rm_bookings WHERE {clause}");
    let count: i64 = bind_all(sqlx::query(&count_sql), &binds)
        .fetch_one(db.pool())
        .await?
        .try_get("n")?;
    let n = binds.len();
    let sql = format!(
        "SELECT {BOOKING_COLUMNS} FROM rm_bookings WHERE {clause} \
         ORDER BY start_epoch DESC, id DESC LIMIT ${} OFFSET ${}",
        n + 1,
        n + 2
    );
    let rows = bind_all(sqlx::query(&sql), &binds)
        .bind(limit)
        .bind(offset)
        .fetch_all(db.pool())
        .await?;
    let list = rows.iter().map(booking_from_row).collect::<Result<_>>()?;
    Ok((count, list))
}

/// Where a chunked read of bookings stopped: the last row's `(start_epoch, id)`.
pub type BookingCursor = Option<(i64, String)>;

/// The next `limit` bookings after `after`, in appointment order: exports read the table in
/// chunks like this, so no connection is held (and no SQLite reader pins the WAL) for the whole
/// download and memory stays one chunk whatever the table's size.
pub async fn bookings_chunk(
    db: &ReadDb,
    filter: &BookingFilter,
    after: &BookingCursor,
    limit: i64,
) -> Result<(Vec<BookingView>, Vec<i64>)> {
    let mut binds = Vec::new();
    let mut clause = filter.clause(&mut binds);
    if let Some((epoch, id)) = after {
        binds.push(Bind::Int(*epoch));
        let e = binds.len();
        binds.push(Bind::Text(id.clone()));
        let i = binds.len();
        clause.push_str(&format!(
            " AND (start_epoch > ${e} OR (start_epoch = ${e} AND id > ${i}))"
        ));
    }
    let sql = format!(
        "SELECT {BOOKING_COLUMNS}, start_epoch FROM rm_bookings WHERE {clause} \
         ORDER BY start_epoch, id LIMIT ${}",
        binds.len() + 1
    );
    let rows = bind_all(sqlx::query(&sql), &binds)
        .bind(limit)
        .fetch_all(db.pool())
        .await?;
    let mut list = Vec::with_capacity(rows.len());
    let mut epochs = Vec::with_capacity(rows.len());
    for r in &rows {
        list.push(booking_from_row(r)?);
        epochs.push(r.try_get::<i64, _>("start_epoch")?);
    }
    Ok((list, epochs))
}

/// The newest bookings by when they were made (the overview's live list).
pub async fn recent_bookings(db: &ReadDb, limit: i64) -> Result<Vec<BookingView>> {
    let sql = format!(
        "SELECT {BOOKING_COLUMNS} FROM rm_bookings ORDER BY created_at DESC, id DESC LIMIT $1"
    );
    let rows = sqlx::query(&sql).bind(limit).fetch_all(db.pool()).await?;
    rows.iter().map(booking_from_row).collect()
}

/// Bookings whose appointment starts within `[from, to)` (today's list), in time order.
pub async fn bookings_between(db: &ReadDb, from: i64, to: i64) -> Result<Vec<BookingView>> {
    let sql = format!(
        "SELECT {BOOKING_COLUMNS} FROM rm_bookings WHERE start_epoch >= $1 AND start_epoch < $2 \
         ORDER BY start_epoch, id LIMIT 200"
    );
    let rows = sqlx::query(&sql)
        .bind(from)
        .bind(to)
        .fetch_all(db.pool())
        .await?;
    rows.iter().map(booking_from_row).collect()
}

/// One row of the audit log.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    pub position: i64,
    pub recorded_at: String,
    pub actor: String,
    pub source: String,
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub event_type: String,
    pub summary: String,
    pub reason: Option<String>,
    pub request_id: Option<String>,
    pub correlation_id: Option<String>,
    pub causation_id: Option<String>,
}

const AUDIT_COLUMNS: &str = "position, recorded_at, actor, source, aggregate_type, aggregate_id, \
    event_type, summary, reason, request_id, correlation_id, causation_id";

fn audit_from_row(r: &sqlx::any::AnyRow) -> Result<AuditEntry> {
    Ok(AuditEntry {
        position: r.try_get("position")?,
        recorded_at: r.try_get("recorded_at")?,
        actor: r.try_get("actor")?,
        source: r.try_get("source")?,
        aggregate_type: r.try_get("aggregate_type")?,
        aggregate_id: r.try_get("aggregate_id")?,
        event_type: r.try_get("event_type")?,
        summary: r.try_get("summary")?,
        reason: r.try_get("reason")?,
        request_id: r.try_get("request_id")?,
        correlation_id: r.try_get("correlation_id")?,
        causation_id: r.try_get("causation_id")?,
    })
}

/// A filter over the audit log. `from`/`to` bound `recorded_at` (RFC 3339 UTC text as the
/// projection writes it, so text order is time order; `to` exclusive).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub from: Option<String>,
    pub to: Option<String>,
    /// Exact actor (`client`, `owner`, `token:<name>`, …).
    pub actor: Option<String>,
    /// The path: spa, panel, api, webhook, intake, cli, job, import.
    pub source: Option<String>,
    /// What it was about: Booking, Service, Stylist, …
    pub aggregate_type: Option<String>,
    /// One booking, stylist, … by id.
    pub aggregate_id: Option<String>,
}

impl AuditFilter {
    fn clause(&self, binds: &mut Vec<Bind>) -> String {
        let mut parts = vec!["1 = 1".to_string()];
        let fields = [
            ("recorded_at >= ?", &self.from),
            ("recorded_at < ?", &self.to),
            ("actor = ?", &self.actor),
            ("source = ?", &self.source),
            ("aggregate_type = ?", &self.aggregate_type),
            ("aggregate_id = ?", &self.aggregate_id),
        ];
        for (sql, value) in fields {
            if let Some(v) = value {
                binds.push(Bind::Text(v.clone()));
                parts.push(sql.replace('?', &format!("${}", binds.len())));
            }
        }
        parts.join(" AND ")
    }
}

/// One page of the audit log, newest first, and how many entries match.
pub async fn audit_page(
    db: &ReadDb,
    filter: &AuditFilter,
    limit: i64,
    offset: i64,
) -> Result<(i64, Vec<AuditEntry>)> {
    let mut binds = Vec::new();
    let clause = filter.clause(&mut binds);
    let count_sql = format!("SELECT count(*) AS n FROM rm_audit_log WHERE {clause}");
    let count: i64 = bind_all(sqlx::query(&count_sql), &binds)
        .fetch_one(db.pool())
        .await?
        .try_get("n")?;
    let n = binds.len();
    let sql = format!(
        "SELECT {AUDIT_COLUMNS} FROM rm_audit_log WHERE {clause} \
         ORDER BY position DESC LIMIT ${} OFFSET ${}",
        n + 1,
        n + 2
    );
    let rows = bind_all(sqlx::query(&sql), &binds)
        .bind(limit)
        .bind(offset)
        .fetch_all(db.pool())
        .await?;
    let list = rows.iter().map(audit_from_row).collect::<Result<_>>()?;
    Ok((count, list))
}

/// The next `limit` audit entries after position `after`, oldest first (exports).
pub async fn audit_chunk(
    db: &ReadDb,
    filter: &AuditFilter,
    after: i64,
    limit: i64,
) -> Result<Vec<AuditEntry>> {
    let mut binds = Vec::new();
    let clause = filter.clause(&mut binds);
    binds.push(Bind::Int(after));
    let sql = format!(
        "SELECT {AUDIT_COLUMNS} FROM rm_audit_log WHERE {clause} AND position > ${} \
         ORDER BY position LIMIT ${}",
        binds.len(),
        binds.len() + 1
    );
    let rows = bind_all(sqlx::query(&sql), &binds)
        .bind(limit)
        .fetch_all(db.pool())
        .await?;
    rows.iter().map(audit_from_row).collect()
}

/// The values an audit filter can choose from: the distinct actors, sources (paths) or
/// aggregate types in the log, at most 200.
pub async fn audit_choices(db: &ReadDb, column: AuditColumn) -> Result<Vec<String>> {
    let c = match column {
        AuditColumn::Actor => "actor",
        AuditColumn::Source => "source",
        AuditColumn::AggregateType => "aggregate_type",
    };
    let sql = format!("SELECT DISTINCT {c} AS v FROM rm_audit_log ORDER BY 1 LIMIT 200");
    let rows = sqlx::query(&sql).fetch_all(db.pool()).await?;
    rows.iter()
        .map(|r| Ok(r.try_get::<String, _>("v")?))
        .collect()
}

/// A column of the audit log with a short list of values (a closed set: it goes into the SQL).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditColumn {
    Actor,
    Source,
    AggregateType,
}

/// Bookings and money in one week (weeks are numbered from the first Monday of 1970 in the
/// salon's offset; the caller turns the number back into a date).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WeekFigures {
    pub week: i64,
    pub bookings: i64,
    /// Price of the appointments that stand (confirmed or completed).
    pub revenue_cents: i64,
    /// Deposits received and kept (paid, not refunded).
    pub deposits_cents: i64,
    /// Deposits paid back.
    pub refunded_cents: i64,
}

/// Seconds from the epoch (a Thursday) to the first Monday, 1970-01-05.
pub const FIRST_MONDAY: i64 = 4 * 86_400;
pub const WEEK: i64 = 7 * 86_400;

/// Figures per week for appointments within `[from, to)`; `offset` is the salon's UTC offset in
/// seconds, so weeks start on the local Monday.
pub async fn weekly(db: &ReadDb, from: i64, to: i64, offset: i64) -> Result<Vec<WeekFigures>> {
    let rows = sqlx::query(
        "SELECT CAST((start_epoch + $3 - $4) / $5 AS BIGINT) AS week, count(*) AS n, \
           CAST(sum(CASE WHEN status IN ('confirmed', 'completed') THEN price_cents ELSE 0 END) AS BIGINT) AS revenue, \
           CAST(sum(CASE WHEN deposit_status = 'paid' THEN deposit_cents ELSE 0 END) AS BIGINT) AS deposits, \
           CAST(sum(CASE WHEN deposit_status = 'refunded' THEN deposit_cents ELSE 0 END) AS BIGINT) AS refunded \
         FROM rm_bookings WHERE start_epoch >= $1 AND start_epoch < $2 \
         GROUP BY 1 ORDER BY 1",
    )
    .bind(from)
    .bind(to)
    .bind(offset)
    .bind(FIRST_MONDAY)
    .bind(WEEK)
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(WeekFigures {
                week: r.try_get("week")?,
                bookings: r.try_get("n")?,
                revenue_cents: r.try_get("revenue")?,
                deposits_cents: r.try_get("deposits")?,
                refunded_cents: r.try_get("refunded")?,
            })
        })
        .collect()
}

/// How many bookings per value of `column` (stylist, service or status) within `[from, to)`.
pub async fn counts_by(
    db: &ReadDb,
    column: CountBy,
    from: i64,
    to: i64,
) -> Result<Vec<(String, i64)>> {
    let c = column.column();
    let sql = format!(
        "SELECT {c} AS k, count(*) AS n FROM rm_bookings \
         WHERE start_epoch >= $1 AND start_epoch < $2 GROUP BY {c} ORDER BY count(*) DESC, {c}"
    );
    let rows = sqlx::query(&sql)
        .bind(from)
        .bind(to)
        .fetch_all(db.pool())
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("k")?, r.try_get("n")?)))
        .collect()
}

/// What [`counts_by`] groups by (a closed set: the column name goes into the SQL).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CountBy {
    Stylist,
    Service,
    Status,
}

impl CountBy {
    fn column(self) -> &'static str {
        match self {
            Self::Stylist => "stylist",
            Self::Service => "service",
            Self::Status => "status",
        }
    }
}

/// How far a read model is behind the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lag {
    pub checkpoint: LogPosition,
    pub head: LogPosition,
}

impl Lag {
    pub fn is_stale(&self) -> bool {
        self.checkpoint < self.head
    }
}

/// The checkpoint of each of `which` against the head of the log; the furthest behind.
pub async fn lag(db: &ReadDb, which: &[Projection]) -> Result<Lag> {
    let head = log::head(db).await.map_err(|e| match e {
        log::ReadError::Sql(s) => QueryError::Sql(s),
        other => QueryError::Corrupt(other.to_string()),
    })?;
    let mut lowest: Option<LogPosition> = None;
    for p in which {
        let row = sqlx::query("SELECT txid, position FROM projection_checkpoints WHERE name = $1")
            .bind(p.name().to_string())
            .fetch_optional(db.pool())
            .await?;
        let at = match row {
            Some(r) => LogPosition::new(r.try_get("txid")?, r.try_get("position")?),
            None => LogPosition::START,
        };
        lowest = Some(lowest.map_or(at, |l| l.min(at)));
    }
    Ok(Lag {
        checkpoint: lowest.unwrap_or(head),
        head,
    })
}
