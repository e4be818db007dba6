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
use serde::Deserialize;
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
    rows.iter().map(to_event).collect()
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
    rows.iter().map(to_event).collect()
}
