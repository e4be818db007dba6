//! The PostgreSQL event store: loads through postgres-es's `PostgresEventRepository` (the cqrs-es
//! repository trait), appends through [`PgEventStore::append`], which inserts every event with
//! its own aggregate type in one statement and returns the `(txid, position)` of the last one.

use super::map_sqlx;
use cqrs_es::persist::{PersistenceError, SerializedEvent};
use migrations::LogPosition;
use postgres_es::PostgresEventRepository;
use sqlx::postgres::PgPoolOptions;
use sqlx::{PgPool, Row};
use std::time::Duration;

#[derive(Clone)]
pub struct PgEventStore {
    pool: PgPool,
    repository: std::sync::Arc<PostgresEventRepository>,
}

impl PgEventStore {
    pub async fn connect(url: &str) -> Result<Self, sqlx::Error> {
        let pool = PgPoolOptions::new()
            .max_connections(20)
            .acquire_timeout(Duration::from_secs(5))
            // No ping before every use: it doubles the round trips of a one-statement append.
            // A connection that died is dropped on its first error and the pool opens another.
            .test_before_acquire(false)
            .connect(url)
            .await?;
        Ok(Self::from_pool(pool))
    }

    pub fn from_pool(pool: PgPool) -> Self {
        let repository = std::sync::Arc::new(PostgresEventRepository::new(pool.clone()));
        Self { pool, repository }
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    pub fn repository(&self) -> &PostgresEventRepository {
        &self.repository
    }

    /// One `INSERT … SELECT FROM unnest(…) RETURNING` in autocommit: one round trip and one
    /// commit for the whole batch, atomic because it is one statement. A duplicate
    /// (type, id, sequence) raises 23505, which is an optimistic lock conflict.
    pub async fn append(
        &self,
        events: &[SerializedEvent],
    ) -> Result<LogPosition, PersistenceError> {
        let mut types = Vec::with_capacity(events.len());
        let mut ids = Vec::with_capacity(events.len());
        let mut seqs = Vec::with_capacity(events.len());
        let mut event_types = Vec::with_capacity(events.len());
        let mut versions = Vec::with_capacity(events.len());
        let mut payloads = Vec::with_capacity(events.len());
        let mut metas = Vec::with_capacity(events.len());
        for e in events {
            types.push(e.aggregate_type.as_str());
            ids.push(e.aggregate_id.as_str());
            seqs.push(e.sequence as i64);
            event_types.push(e.event_type.as_str());
            versions.push(e.event_version.as_str());
            payloads.push(e.payload.clone());
            metas.push(e.metadata.clone());
        }
        let rows = sqlx::query(
            "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata) \
             SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::jsonb[], $7::jsonb[]) \
             RETURNING position, txid::text AS tx",
        )
        .bind(&types)
        .bind(&ids)
        .bind(&seqs)
        .bind(&event_types)
        .bind(&versions)
        .bind(&payloads)
        .bind(&metas)
        .fetch_all(&self.pool)
        .await
        .map_err(map_sqlx)?;
        let mut last = LogPosition::START;
        for row in rows {
            let position: i64 = row.try_get("position").map_err(map_sqlx)?;
            let tx: String = row.try_get("tx").map_err(map_sqlx)?;
            let txid: i64 = tx
                .parse()
                .map_err(|e| PersistenceError::UnknownError(Box::new(e)))?;
            last = last.max(LogPosition::new(txid, position));
        }
        Ok(last)
    }
}
