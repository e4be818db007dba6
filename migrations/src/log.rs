//! Reading the event log in position order from a checkpoint.
//!
//! SQLite serialises writers, so `position > checkpoint` is safe there. PostgreSQL hands out
//! identity values before commit, so a transaction that took position 10 can commit after one
//! that took 11; a reader that had already moved past 11 would skip 10 forever. The reader here
//! only takes rows written by transactions older than the oldest one still running
//! (`txid < pg_snapshot_xmin(pg_current_snapshot())`), ordered by `(txid, position)`, with the
//! checkpoint the pair: every transaction below xmin has finished, so nothing can appear behind
//! the checkpoint later. The price is a little visibility delay while older transactions run.

use crate::db::ReadDb;
use crate::{Backend, LogPosition};
use domain::metadata::EventMetadata;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::Row;

/// One event as the read side sees it.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    pub at: LogPosition,
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub sequence: i64,
    pub event_type: String,
    pub event_version: String,
    pub payload: Value,
    pub metadata: Value,
}

impl StoredEvent {
    /// The audit metadata; events written without it (never by salon) read as `system`.
    pub fn audit(&self) -> EventMetadata {
        EventMetadata::deserialize(&self.metadata)
            .unwrap_or_else(|_| EventMetadata::new("system", domain::metadata::Source::Job))
    }
}

const SQLITE_BATCH: &str =
    "SELECT position, 0 AS tx, aggregate_type, aggregate_id, sequence, event_type, \
     event_version, payload, metadata FROM events WHERE position > $1 ORDER BY position LIMIT $2";

const PG_BATCH: &str = "SELECT position, txid::text AS tx, aggregate_type, aggregate_id, sequence, event_type, \
     event_version, payload::text AS payload, metadata::text AS metadata FROM events \
     WHERE (txid, position) > ($1::text::xid8, $2) AND txid < pg_snapshot_xmin(pg_current_snapshot()) \
     ORDER BY txid, position LIMIT $3";

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error(transparent)]
    Sql(#[from] sqlx::Error),
    #[error("event at position {position} is unreadable: {message}")]
    Corrupt { position: i64, message: String },
}

/// Up to `limit` events after `after`, in log order.
pub async fn read_after(
    db: &ReadDb,
    after: LogPosition,
    limit: i64,
) -> Result<Vec<StoredEvent>, ReadError> {
    let rows = match db.backend() {
        Backend::Sqlite => {
            sqlx::query(SQLITE_BATCH)
                .bind(after.position)
                .bind(limit)
                .fetch_all(db.pool())
                .await?
        }
        Backend::Postgres => {
            sqlx::query(PG_BATCH)
                .bind(after.txid.to_string())
                .bind(after.position)
                .bind(limit)
                .fetch_all(db.pool())
                .await?
        }
    };
    opened(db, rows.iter().map(to_event).collect()).await
}

/// Events as readers see them: upcast to their newest shape, personal data opened (or erased;
/// see [`crate::pii`]).
async fn opened(
    db: &ReadDb,
    events: Result<Vec<StoredEvent>, ReadError>,
) -> Result<Vec<StoredEvent>, ReadError> {
    let mut events = events?;
    crate::pii::open_stored(db, &mut events).await?;
    Ok(events)
}

fn to_event(row: &sqlx::any::AnyRow) -> Result<StoredEvent, ReadError> {
    let position: i64 = row.try_get("position")?;
    let tx: i64 = match row.try_get::<String, _>("tx") {
        Ok(text) => text.parse().map_err(|_| ReadError::Corrupt {
            position,
            message: format!("txid {text:?}"),
        })?,
        Err(_) => row.try_get::<i64, _>("tx")?,
    };
    let corrupt = |m: serde_json::Error| ReadError::Corrupt {
        position,
        message: m.to_string(),
    };
    let payload: String = row.try_get("payload")?;
    let metadata: String = row.try_get("metadata")?;
    Ok(StoredEvent {
        at: LogPosition::new(tx, position),
        aggregate_type: row.try_get("aggregate_type")?,
        aggregate_id: row.try_get("aggregate_id")?,
        sequence: row.try_get("sequence")?,
        event_type: row.try_get("event_type")?,
        event_version: row.try_get("event_version")?,
        payload: serde_json::from_str(&payload).map_err(corrupt)?,
        metadata: serde_json::from_str(&metadata).map_err(corrupt)?,
    })
}

/// The position of the newest event readers may see now (the head of the log).
pub async fn head(db: &ReadDb) -> Result<LogPosition, ReadError> {
    let sql = match db.backend() {
        Backend::Sqlite => "SELECT 0 AS tx, position FROM events ORDER BY position DESC LIMIT 1",
        Backend::Postgres => {
            "SELECT txid::text AS tx, position FROM events \
             WHERE txid < pg_snapshot_xmin(pg_current_snapshot()) ORDER BY txid DESC, position DESC LIMIT 1"
        }
    };
    let Some(row) = sqlx::query(sql).fetch_optional(db.pool()).await? else {
        return Ok(LogPosition::START);
    };
    let position: i64 = row.try_get("position")?;
    let tx: i64 = match row.try_get::<String, _>("tx") {
        Ok(t) => t.parse().unwrap_or(0),
        Err(_) => row.try_get::<i64, _>("tx")?,
    };
    Ok(LogPosition::new(tx, position))
}

/// Where the event at `position` sits in log order, or `None` when no event has that position.
/// A client that resumes from an event it saw (an SSE `Last-Event-ID`) knows only the position;
/// on PostgreSQL the log is ordered by `(txid, position)`, so resuming needs the writer's
/// transaction id too. Position 0 is the start of the log.
pub async fn locate(db: &ReadDb, position: i64) -> Result<Option<LogPosition>, ReadError> {
    if position == 0 {
        return Ok(Some(LogPosition::START));
    }
    let sql = match db.backend() {
        Backend::Sqlite => "SELECT '0' AS tx FROM events WHERE position = $1",
        Backend::Postgres => "SELECT txid::text AS tx FROM events WHERE position = $1",
    };
    let Some(row) = sqlx::query(sql)
        .bind(position)
        .fetch_optional(db.pool())
        .await?
    else {
        return Ok(None);
    };
    let text: String = row.try_get("tx")?;
    let tx = text.parse().map_err(|_| ReadError::Corrupt {
        position,
        message: format!("txid {text:?}"),
    })?;
    Ok(Some(LogPosition::new(tx, position)))
}

/// One page of the log for export, in position order, after `since`. On PostgreSQL only events
/// of finished transactions are listed, so an export never shows a row that a later export
/// `--since` would then skip because a lower position committed late.
pub async fn export_page(
    db: &ReadDb,
    since: i64,
    limit: i64,
) -> Result<Vec<StoredEvent>, ReadError> {
    let sql = match db.backend() {
        Backend::Sqlite => SQLITE_BATCH,
        Backend::Postgres => {
            "SELECT position, txid::text AS tx, aggregate_type, aggregate_id, sequence, event_type, event_version, \
             payload::text AS payload, metadata::text AS metadata FROM events \
             WHERE position > $1 AND txid < pg_snapshot_xmin(pg_current_snapshot()) ORDER BY position LIMIT $2"
        }
    };
    let rows = sqlx::query(sql)
        .bind(since)
        .bind(limit)
        .fetch_all(db.pool())
        .await?;
    opened(db, rows.iter().map(to_event).collect()).await
}

/// Which events an export or a tail keeps: by event type (any of several), aggregate type and
/// id, actor, recorded time (`from` inclusive, `to` exclusive, to the millisecond) and position
/// (`until` inclusive; where to start is the caller's). An empty filter keeps everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogFilter {
    pub event_types: Vec<String>,
    pub aggregate_type: Option<String>,
    pub aggregate_id: Option<String>,
    pub actor: Option<String>,
    pub from: Option<chrono::DateTime<chrono::Utc>>,
    pub to: Option<chrono::DateTime<chrono::Utc>>,
    pub until: Option<i64>,
}

/// The SQL for an event's `metadata.recorded_at` as epoch milliseconds (truncated), so a time
/// range compares as time does whatever the fraction's digits.
pub fn recorded_ms_sql(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => {
            "CAST(ROUND((julianday(json_extract(metadata, '$.recorded_at')) - 2440587.5) * 86400000.0) AS INTEGER)"
        }
        Backend::Postgres => {
            "CAST(FLOOR(EXTRACT(EPOCH FROM CAST(metadata->>'recorded_at' AS timestamptz)) * 1000) AS BIGINT)"
        }
    }
}

/// The SQL for an event's `metadata.actor`.
pub fn actor_sql(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "json_extract(metadata, '$.actor')",
        Backend::Postgres => "(metadata->>'actor')",
    }
}

/// A value bound to a filter's placeholder.
enum Arg {
    Text(String),
    Int(i64),
}

impl LogFilter {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// Whether `e` passes (the same rules as the SQL of [`export_filtered`]).
    pub fn matches(&self, e: &StoredEvent) -> bool {
        if !self.event_types.is_empty() && !self.event_types.contains(&e.event_type) {
            return false;
        }
        if self
            .aggregate_type
            .as_ref()
            .is_some_and(|t| *t != e.aggregate_type)
            || self
                .aggregate_id
                .as_ref()
                .is_some_and(|i| *i != e.aggregate_id)
            || self.until.is_some_and(|u| e.at.position > u)
        {
            return false;
        }
        if let Some(actor) = &self.actor {
            if e.metadata.get("actor").and_then(Value::as_str) != Some(actor.as_str()) {
                return false;
            }
        }
        if self.from.is_some() || self.to.is_some() {
            let Some(ms) = e
                .metadata
                .get("recorded_at")
                .and_then(Value::as_str)
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.timestamp_millis())
            else {
                return false;
            };
            if self.from.is_some_and(|f| ms < f.timestamp_millis())
                || self.to.is_some_and(|t| ms >= t.timestamp_millis())
            {
                return false;
            }
        }
        true
    }

    /// `AND …` conditions with placeholders numbered from `first`, and their values.
    fn sql(&self, backend: Backend, first: usize) -> (String, Vec<Arg>) {
        let mut sql = String::new();
        let mut args = Vec::new();
        let mark = |arg: Arg, args: &mut Vec<Arg>| -> String {
            args.push(arg);
            format!("${}", first + args.len() - 1)
        };
        if !self.event_types.is_empty() {
            let marks: Vec<String> = self
                .event_types
                .iter()
                .map(|t| mark(Arg::Text(t.clone()), &mut args))
                .collect();
            sql.push_str(&format!(" AND event_type IN ({})", marks.join(", ")));
        }
        if let Some(t) = &self.aggregate_type {
            let m = mark(Arg::Text(t.clone()), &mut args);
            sql.push_str(&format!(" AND aggregate_type = {m}"));
        }
        if let Some(i) = &self.aggregate_id {
            let m = mark(Arg::Text(i.clone()), &mut args);
            sql.push_str(&format!(" AND aggregate_id = {m}"));
        }
        if let Some(a) = &self.actor {
            let m = mark(Arg::Text(a.clone()), &mut args);
            sql.push_str(&format!(" AND {} = {m}", actor_sql(backend)));
        }
        if let Some(f) = self.from {
            let m = mark(Arg::Int(f.timestamp_millis()), &mut args);
            sql.push_str(&format!(" AND {} >= {m}", recorded_ms_sql(backend)));
        }
        if let Some(t) = self.to {
            let m = mark(Arg::Int(t.timestamp_millis()), &mut args);
            sql.push_str(&format!(" AND {} < {m}", recorded_ms_sql(backend)));
        }
        if let Some(u) = self.until {
            let m = mark(Arg::Int(u), &mut args);
            sql.push_str(&format!(" AND position <= {m}"));
        }
        (sql, args)
    }
}

/// One page of the events that pass `filter`, in position order, after `since` (as
/// [`export_page`]: on PostgreSQL only events of finished transactions). Page on by passing the
/// last position returned; an empty page is the end.
pub async fn export_filtered(
    db: &ReadDb,
    filter: &LogFilter,
    since: i64,
    limit: i64,
) -> Result<Vec<StoredEvent>, ReadError> {
    if filter.until.is_some_and(|u| u <= since) {
        return Ok(Vec::new());
    }
    let (settled, columns) = match db.backend() {
        Backend::Sqlite => (
            "",
            "position, 0 AS tx, aggregate_type, aggregate_id, sequence, event_type, event_version, \
             payload, metadata",
        ),
        Backend::Postgres => (
            " AND txid < pg_snapshot_xmin(pg_current_snapshot())",
            "position, txid::text AS tx, aggregate_type, aggregate_id, sequence, event_type, \
             event_version, payload::text AS payload, metadata::text AS metadata",
        ),
    };
    let (conditions, args) = filter.sql(db.backend(), 2);
    let sql = format!(
        "SELECT {columns} FROM events WHERE position > $1{settled}{conditions} \
         ORDER BY position LIMIT ${}",
        args.len() + 2
    );
    let mut query = sqlx::query(&sql).bind(since);
    for a in args {
        query = match a {
            Arg::Text(t) => query.bind(t),
            Arg::Int(i) => query.bind(i),
        };
    }
    let rows = query.bind(limit).fetch_all(db.pool()).await?;
    opened(db, rows.iter().map(to_event).collect()).await
}

/// Where each projection or reactor has read the log to, and how far behind the head it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Progress {
    pub name: String,
    /// `projection` (a read model) or `reactor` (acts on the world: mail, holds, webhooks…).
    pub kind: &'static str,
    /// The position of the last event it applied (0: none yet).
    pub checkpoint: i64,
    /// Events readable now that it has not applied yet.
    pub lag: i64,
    /// When it last moved (RFC 3339), if it ever ran.
    pub updated_at: Option<String>,
}

/// Where every checkpoint named in `projection_checkpoints` and `reactor_checkpoints` stands,
/// with the head of the log and how many events are readable in all (the lag of a reader that
/// has not started). Reads only.
pub async fn progress(db: &ReadDb) -> Result<(LogPosition, i64, Vec<Progress>), ReadError> {
    let head = head(db).await?;
    let total_sql = match db.backend() {
        Backend::Sqlite => "SELECT COUNT(*) FROM events",
        Backend::Postgres => {
            "SELECT COUNT(*) FROM events WHERE txid < pg_snapshot_xmin(pg_current_snapshot())"
        }
    };
    let total: i64 = sqlx::query(total_sql)
        .fetch_one(db.pool())
        .await?
        .try_get(0)?;
    let lag_sql = match db.backend() {
        Backend::Sqlite => "(SELECT COUNT(*) FROM events e WHERE e.position > c.position)",
        Backend::Postgres => {
            "(SELECT COUNT(*) FROM events e WHERE (e.txid, e.position) > (c.txid::text::xid8, c.position) \
             AND e.txid < pg_snapshot_xmin(pg_current_snapshot()))"
        }
    };
    let mut out = Vec::new();
    for (table, kind) in [
        ("projection_checkpoints", "projection"),
        ("reactor_checkpoints", "reactor"),
    ] {
        let sql = format!(
            "SELECT name, position, CAST({lag_sql} AS BIGINT) AS lag, updated_at FROM {table} c ORDER BY name"
        );
        for row in sqlx::query(&sql).fetch_all(db.pool()).await? {
            out.push(Progress {
                name: row.try_get("name")?,
                kind,
                checkpoint: row.try_get("position")?,
                lag: row.try_get("lag")?,
                updated_at: row.try_get("updated_at").ok(),
            });
        }
    }
    Ok((head, total, out))
}
