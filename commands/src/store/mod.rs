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

/// Runs the same sqlx code on whichever pool the store has.
macro_rules! on_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match $store {
            Store::Sqlite(s) => {
                let $pool = s.pool();
                $body
            }
            Store::Postgres(p) => {
                let $pool = p.pool();
                $body
            }
        }
    };
}

mod keys;
mod pictures;
mod webhooks;
pub use keys::SealFailed;
pub use pictures::PictureBytes;
pub use webhooks::DeliveryRecord;

/// One booking event written into an external calendar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrittenEvent {
    pub booking: String,
    pub href: String,
    pub fingerprint: String,
    pub sequence: i64,
    pub start_epoch: i64,
}

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

    /// The events of one aggregate, in sequence order, as readers see them (upcast, personal
    /// data opened).
    pub async fn load<A: Aggregate>(
        &self,
        id: &str,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        let mut events = match self {
            Self::Sqlite(s) => s.get_events::<A>(id).await,
            Self::Postgres(p) => p.repository().get_events::<A>(id).await.map_err(reclassify),
        }?;
        // Upcast to today's shapes and open clients' personal data (or read it as erased).
        self.open(&mut events).await.map_err(map_sqlx)?;
        Ok(events)
    }

    /// Ids of every aggregate of `aggregate_type` that has events (e.g. the calendar sources the
    /// sync job walks), in order of first appearance.
    pub async fn aggregate_ids(&self, aggregate_type: &str) -> Result<Vec<String>, sqlx::Error> {
        const SQL: &str =
            "SELECT aggregate_id FROM events WHERE aggregate_type = $1 AND sequence = 1 \
                           ORDER BY position";
        on_pool!(self, pool => {
            sqlx::query_scalar(SQL)
                .bind(aggregate_type)
                .fetch_all(pool)
                .await
        })
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
        on_pool!(self, pool => {
            sqlx::query(SQL)
                .bind(source)
                .bind(at)
                .bind(error)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// What write-back has written into `source`'s calendar.
    pub async fn written_events(&self, source: &str) -> Result<Vec<WrittenEvent>, sqlx::Error> {
        const SQL: &str = "SELECT booking, href, fingerprint, sequence, start_epoch \
                           FROM calendar_writeback WHERE source = $1 ORDER BY booking";
        let rows: Vec<(String, String, String, i64, i64)> = on_pool!(self, pool => {
            sqlx::query_as(SQL).bind(source).fetch_all(pool).await?
        });
        Ok(rows
            .into_iter()
            .map(
                |(booking, href, fingerprint, sequence, start_epoch)| WrittenEvent {
                    booking,
                    href,
                    fingerprint,
                    sequence,
                    start_epoch,
                },
            )
            .collect())
    }

    pub async fn record_written(
        &self,
        source: &str,
        event: &WrittenEvent,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), sqlx::Error> {
        const SQL: &str = "INSERT INTO calendar_writeback \
             (source, booking, href, fingerprint, sequence, start_epoch, written_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (source, booking) DO UPDATE SET \
             href = excluded.href, fingerprint = excluded.fingerprint, sequence = excluded.sequence, \
             start_epoch = excluded.start_epoch, written_at = excluded.written_at";
        on_pool!(self, pool => {
            sqlx::query(SQL)
                .bind(source)
                .bind(&event.booking)
                .bind(&event.href)
                .bind(&event.fingerprint)
                .bind(event.sequence)
                .bind(event.start_epoch)
                .bind(at.to_rfc3339())
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    pub async fn forget_written(&self, source: &str, booking: &str) -> Result<(), sqlx::Error> {
        const SQL: &str = "DELETE FROM calendar_writeback WHERE source = $1 AND booking = $2";
        on_pool!(self, pool => {
            sqlx::query(SQL).bind(source).bind(booking).execute(pool).await?;
        });
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
