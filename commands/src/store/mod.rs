//! The event store: one type above two backends. Both implement cqrs-es's
//! `PersistedEventRepository` (PostgreSQL through postgres-es, SQLite through our own sqlx
//! repository), and both add [`Store::append`]: an atomic append of events that may belong to
//! several aggregates, returning where the last one landed in the log.
//!
//! Why our own append beside `persist`: a booking reserves time on the stylist's day and creates
//! the booking in one commit, so there is never a reservation without its booking nor the
//! reverse. postgres-es's `persist` writes every event under the single aggregate type it is
//! called with, so it cannot carry such a commit; and neither `persist` reports the position,
//! which read-your-writes needs.

pub mod postgres;
pub mod sqlite;

use cqrs_es::persist::{PersistedEventRepository, PersistenceError, SerializedEvent};
use cqrs_es::Aggregate;
use migrations::{Backend, LogPosition};

/// The event store the application runs on.
#[derive(Clone)]
pub enum Store {
    Sqlite(sqlite::SqliteEventRepository),
    Postgres(postgres::PgEventStore),
}

impl Store {
    /// Connects to `DATABASE_URL`, creating the SQLite file when missing. Does not migrate.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        match Backend::of_url(url) {
            Some(Backend::Sqlite) => Ok(Self::Sqlite(
                sqlite::SqliteEventRepository::connect(url).await?,
            )),
            Some(Backend::Postgres) => {
                Ok(Self::Postgres(postgres::PgEventStore::connect(url).await?))
            }
            None => Err(StoreError::UnknownUrl),
        }
    }

    pub fn backend(&self) -> Backend {
        match self {
            Self::Sqlite(_) => Backend::Sqlite,
            Self::Postgres(_) => Backend::Postgres,
        }
    }

    /// Applies pending migrations (event log and read models).
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match self {
            Self::Sqlite(s) => migrations::migrate_sqlite(s.pool()).await?,
            Self::Postgres(p) => migrations::migrate_postgres(p.pool()).await?,
        }
        Ok(())
    }

    /// Appends `events` (any aggregates) in one transaction. Fails with
    /// `PersistenceError::OptimisticLockError` when any (type, id, sequence) already exists,
    /// in which case nothing is written.
    pub async fn append(
        &self,
        events: &[SerializedEvent],
    ) -> Result<LogPosition, PersistenceError> {
        match self {
            Self::Sqlite(s) => s.append(events).await,
            Self::Postgres(p) => p.append(events).await,
        }
    }

    /// The events of one aggregate, in sequence order.
    pub async fn load<A: Aggregate>(
        &self,
        id: &str,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        match self {
            Self::Sqlite(s) => s.get_events::<A>(id).await,
            Self::Postgres(p) => p.repository().get_events::<A>(id).await.map_err(reclassify),
        }
    }

    /// Ids of every aggregate of `aggregate_type` that has events (e.g. the calendar sources the
    /// sync job walks), in order of first appearance.
    pub async fn aggregate_ids(&self, aggregate_type: &str) -> Result<Vec<String>, sqlx::Error> {
        const SQL: &str =
            "SELECT aggregate_id FROM events WHERE aggregate_type = $1 AND sequence = 1 \
                           ORDER BY position";
        match self {
            Self::Sqlite(s) => {
                sqlx::query_scalar(SQL)
                    .bind(aggregate_type)
                    .fetch_all(s.pool())
                    .await
            }
            Self::Postgres(p) => {
                sqlx::query_scalar(SQL)
                    .bind(aggregate_type)
                    .fetch_all(p.pool())
                    .await
            }
        }
    }

    /// Operational state of the calendar sync job (not an event: tries are not history).
    pub async fn record_sync_status(
        &self,
        source: &str,
        at: chrono::DateTime<chrono::Utc>,
        error: Option<&str>,
    ) -> Result<(), sqlx::Error> {
        const SQL: &str = "INSERT INTO calendar_sync_status \
             (source, last_attempt_at, last_success_at, last_error, consecutive_failures) \
             VALUES ($1, $2, CASE WHEN $3 IS NULL THEN $2 ELSE NULL END, $3, CASE WHEN $3 IS NULL THEN 0 ELSE 1 END) \
             ON CONFLICT (source) DO UPDATE SET last_attempt_at = excluded.last_attempt_at, \
             last_success_at = COALESCE(excluded.last_success_at, calendar_sync_status.last_success_at), \
             last_error = excluded.last_error, \
             consecutive_failures = CASE WHEN excluded.last_error IS NULL THEN 0 \
             ELSE calendar_sync_status.consecutive_failures + 1 END";
        let at = at.to_rfc3339();
        match self {
            Self::Sqlite(s) => {
                sqlx::query(SQL)
                    .bind(source)
                    .bind(at)
                    .bind(error)
                    .execute(s.pool())
                    .await?;
            }
            Self::Postgres(p) => {
                sqlx::query(SQL)
                    .bind(source)
                    .bind(at)
                    .bind(error)
                    .execute(p.pool())
                    .await?;
            }
        }
        Ok(())
    }

    /// Is the store reachable? (`/readyz`)
    pub async fn ping(&self) -> bool {
        match self {
            Self::Sqlite(s) => sqlx::query("SELECT 1").execute(s.pool()).await.is_ok(),
            Self::Postgres(p) => sqlx::query("SELECT 1").execute(p.pool()).await.is_ok(),
        }
    }

    /// Closes the pool (graceful shutdown).
    pub async fn close(&self) {
        match self {
            Self::Sqlite(s) => s.pool().close().await,
            Self::Postgres(p) => p.pool().close().await,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("DATABASE_URL must start with sqlite: or postgres:")]
    UnknownUrl,
    #[error("cannot open the database: {0}")]
    Connect(#[from] sqlx::Error),
    #[error("cannot migrate the database: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// SQLite's extended result codes for constraint violations on a key, and PostgreSQL's
/// unique_violation.
const SQLITE_CONSTRAINT_PRIMARYKEY: &str = "1555";
const SQLITE_CONSTRAINT_UNIQUE: &str = "2067";
const PG_UNIQUE_VIOLATION: &str = "23505";

/// Maps a driver error to cqrs-es's persistence error: a duplicate key is an optimistic lock
/// conflict (someone appended that sequence first); lost connections are connection errors.
pub(crate) fn map_sqlx(err: sqlx::Error) -> PersistenceError {
    match &err {
        sqlx::Error::Database(db) => match db.code().as_deref() {
            Some(SQLITE_CONSTRAINT_PRIMARYKEY | SQLITE_CONSTRAINT_UNIQUE | PG_UNIQUE_VIOLATION) => {
                PersistenceError::OptimisticLockError
            }
            Some(code) if migrations::is_unavailable_code(code) => {
                PersistenceError::ConnectionError(Box::new(err))
            }
            _ => PersistenceError::UnknownError(Box::new(err)),
        },
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Tls(_) => PersistenceError::ConnectionError(Box::new(err)),
        _ => PersistenceError::UnknownError(Box::new(err)),
    }
}

/// postgres-es reports every database error but a duplicate key as "unknown"; an outage (a
/// killed connection, a restarting server) is a connection error to us, answered 503.
fn reclassify(err: PersistenceError) -> PersistenceError {
    match err {
        PersistenceError::UnknownError(inner) => match inner.downcast::<sqlx::Error>() {
            Ok(sqlx_error) => map_sqlx(*sqlx_error),
            Err(other) => PersistenceError::UnknownError(other),
        },
        other => other,
    }
}
