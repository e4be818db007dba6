//! The SQLite event repository (the embedded default): cqrs-es's `PersistedEventRepository` on
//! sqlx, WAL journal, `synchronous=NORMAL` (a commit survives a process crash; the last commits
//! before a power cut may be lost, the documented WAL trade-off).
//!
//! Unlike the third-party sqlite-es, every row error is returned, never unwrapped, and a
//! unique-key violation of either kind (1555 primary key, 2067 unique index) is an optimistic
//! lock conflict.

use super::map_sqlx;
use cqrs_es::persist::{
    PersistedEventRepository, PersistenceError, ReplayStream, SerializedEvent, SerializedSnapshot,
};
use cqrs_es::Aggregate;
use migrations::LogPosition;
use serde_json::Value;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{Row, SqlitePool};
use std::str::FromStr;
use std::time::Duration;

/// Rows per INSERT statement (7 parameters each, well under SQLite's parameter limit).
const ROWS_PER_STATEMENT: usize = 100;

#[derive(Clone)]
pub struct SqliteEventRepository {
    pool: SqlitePool,
}

impl SqliteEventRepository {
    pub async fn connect(url: &str) -> Result<Self, sqlx::Error> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(10)
            .test_before_acquire(false)
            .connect_with(options)
            .await?;
        Ok(Self { pool })
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Appends events of any aggregates atomically: one multi-row `INSERT … RETURNING`, which
    /// SQLite runs as one transaction under its single write lock, so positions are handed out
    /// in commit order. Larger batches are split into statements inside `BEGIN IMMEDIATE`.
    pub async fn append(
        &self,
        events: &[SerializedEvent],
    ) -> Result<LogPosition, PersistenceError> {
        if events.len() <= ROWS_PER_STATEMENT {
            let last = Self::insert_rows(&self.pool, events).await?;
            return Ok(LogPosition::new(0, last));
        }
        let mut conn = self.pool.acquire().await.map_err(map_sqlx)?;
        sqlx::query("BEGIN IMMEDIATE")
            .execute(&mut *conn)
            .await
            .map_err(map_sqlx)?;
        let mut result = Ok(0);
        for chunk in events.chunks(ROWS_PER_STATEMENT) {
            result = Self::insert_rows(&mut *conn, chunk).await;
            if result.is_err() {
                break;
            }
        }
        match result {
            Ok(last) => {
                sqlx::query("COMMIT")
                    .execute(&mut *conn)
                    .await
                    .map_err(map_sqlx)?;
                Ok(LogPosition::new(0, last))
            }
            Err(e) => {
                // A failed ROLLBACK leaves the connection unusable; close it rather than return it.
                if sqlx::query("ROLLBACK").execute(&mut *conn).await.is_err() {
                    conn.detach();
                }
                Err(e)
            }
        }
    }

    async fn insert_rows<'c, E>(
        executor: E,
        events: &[SerializedEvent],
    ) -> Result<i64, PersistenceError>
    where
        E: sqlx::Executor<'c, Database = sqlx::Sqlite>,
    {
        let values: Vec<String> = (0..events.len())
            .map(|i| {
                let b = i * 7;
                format!(
                    "(${}, ${}, ${}, ${}, ${}, ${}, ${})",
                    b + 1,
                    b + 2,
                    b + 3,
                    b + 4,
                    b + 5,
                    b + 6,
                    b + 7
                )
            })
            .collect();
        let sql = format!(
            "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata) \
             VALUES {} RETURNING position",
            values.join(", ")
        );
        let mut query = sqlx::query(&sql);
        for e in events {
            query = query
                .bind(&e.aggregate_type)
                .bind(&e.aggregate_id)
                .bind(e.sequence as i64)
                .bind(&e.event_type)
                .bind(&e.event_version)
                .bind(e.payload.to_string())
                .bind(e.metadata.to_string());
        }
        let rows = query.fetch_all(executor).await.map_err(map_sqlx)?;
        let mut last = 0;
        for row in rows {
            last = last.max(row.try_get::<i64, _>(0).map_err(map_sqlx)?);
        }
        Ok(last)
    }

    async fn select(
        &self,
        aggregate_type: &str,
        id: &str,
        after: usize,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        let rows = sqlx::query(
            "SELECT aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata \
             FROM events WHERE aggregate_type = $1 AND aggregate_id = $2 AND sequence > $3 ORDER BY sequence",
        )
        .bind(aggregate_type)
        .bind(id)
        .bind(after as i64)
        .fetch_all(&self.pool)
        .await
        .map_err(map_sqlx)?;
        rows.iter().map(row_to_event).collect()
    }
}

fn row_to_event(row: &SqliteRow) -> Result<SerializedEvent, PersistenceError> {
    let payload: String = row.try_get("payload").map_err(map_sqlx)?;
    let metadata: String = row.try_get("metadata").map_err(map_sqlx)?;
    let sequence: i64 = row.try_get("sequence").map_err(map_sqlx)?;
    Ok(SerializedEvent {
        aggregate_id: row.try_get("aggregate_id").map_err(map_sqlx)?,
        sequence: usize::try_from(sequence)
            .map_err(|e| PersistenceError::DeserializationError(Box::new(e)))?,
        aggregate_type: row.try_get("aggregate_type").map_err(map_sqlx)?,
        event_type: row.try_get("event_type").map_err(map_sqlx)?,
        event_version: row.try_get("event_version").map_err(map_sqlx)?,
        payload: serde_json::from_str(&payload)?,
        metadata: serde_json::from_str(&metadata)?,
    })
}

impl PersistedEventRepository for SqliteEventRepository {
    async fn get_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        self.select(A::TYPE, aggregate_id, 0).await
    }

    async fn get_last_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
        last_sequence: usize,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        self.select(A::TYPE, aggregate_id, last_sequence).await
    }

    async fn get_snapshot<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<Option<SerializedSnapshot>, PersistenceError> {
        let row = sqlx::query(
            "SELECT aggregate_id, payload, last_sequence, current_snapshot FROM snapshots \
             WHERE aggregate_type = $1 AND aggregate_id = $2",
        )
        .bind(A::TYPE)
        .bind(aggregate_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(map_sqlx)?;
        let Some(row) = row else { return Ok(None) };
        let payload: String = row.try_get("payload").map_err(map_sqlx)?;
        let last: i64 = row.try_get("last_sequence").map_err(map_sqlx)?;
        let current: i64 = row.try_get("current_snapshot").map_err(map_sqlx)?;
        Ok(Some(SerializedSnapshot {
            aggregate_id: row.try_get("aggregate_id").map_err(map_sqlx)?,
            aggregate: serde_json::from_str(&payload)?,
            current_sequence: last.max(0) as usize,
            current_snapshot: current.max(0) as usize,
        }))
    }

    async fn persist<A: Aggregate>(
        &self,
        events: &[SerializedEvent],
        snapshot_update: Option<(String, Value, usize)>,
    ) -> Result<(), PersistenceError> {
        if snapshot_update.is_some() {
            // salon keeps aggregates small (a stylist's day, one booking); snapshots are not used.
            return Err(PersistenceError::UnknownError(
                "snapshots are not supported by this store".into(),
            ));
        }
        self.append(events).await.map(|_| ())
    }

    async fn stream_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<ReplayStream, PersistenceError> {
        let events = self.get_events::<A>(aggregate_id).await?;
        stream_of(events).await
    }

    async fn stream_all_events<A: Aggregate>(&self) -> Result<ReplayStream, PersistenceError> {
        let rows = sqlx::query(
            "SELECT aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata \
             FROM events WHERE aggregate_type = $1 ORDER BY position",
        )
        .bind(A::TYPE)
        .fetch_all(&self.pool)
        .await
        .map_err(map_sqlx)?;
        let events = rows
            .iter()
            .map(row_to_event)
            .collect::<Result<Vec<_>, _>>()?;
        stream_of(events).await
    }
}

/// A replay stream over events already in memory; the feed runs in its own task so a slow
/// consumer does not block the caller.
async fn stream_of(events: Vec<SerializedEvent>) -> Result<ReplayStream, PersistenceError> {
    let (mut feed, stream) = ReplayStream::new(events.len().max(1));
    for e in events {
        feed.push(Ok(e)).await?;
    }
    Ok(stream)
}
