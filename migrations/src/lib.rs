//! The schema both sides of salon meet at: the event log and the read models, for SQLite and
//! PostgreSQL (SQL files in `sqlite/` and `postgres/`, embedded at compile time), and the
//! position type that orders the log, and the signal that announces appends (within a process,
//! and across servers on PostgreSQL through `LISTEN/NOTIFY`: [`notify`]).

pub mod db;
pub mod log;
pub mod notify;
pub mod pii;

use serde::{Deserialize, Serialize};
use sqlx::migrate::Migrator;
use tokio::sync::watch;

/// Migrations for the embedded SQLite store.
pub static SQLITE: Migrator = sqlx::migrate!("./sqlite");
/// Migrations for PostgreSQL.
pub static POSTGRES: Migrator = sqlx::migrate!("./postgres");

/// Which store a `DATABASE_URL` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn of_url(url: &str) -> Option<Self> {
        if url.starts_with("sqlite:") {
            Some(Self::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Some(Self::Postgres)
        } else {
            None
        }
    }
}

/// Where an event sits in the log, in the order projections read it.
///
/// On SQLite `txid` is always 0 and `position` alone orders the log. On PostgreSQL the order is
/// `(txid, position)`: the writer's transaction id first, because identity values are handed out
/// before commit and a reader must not pass a transaction that has not committed yet.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct LogPosition {
    pub txid: i64,
    pub position: i64,
}

impl LogPosition {
    pub const START: LogPosition = LogPosition {
        txid: 0,
        position: 0,
    };
    pub fn new(txid: i64, position: i64) -> Self {
        Self { txid, position }
    }
}

/// Announces appends, so projections, reactors and live alerts wake at once instead of waiting
/// for their next poll. It is only a hint: they also poll, which catches anything nobody
/// announced.
///
/// It carries two things: this process's own appends ([`LogSignal::appended`], read back by
/// [`LogSignal::last`] for read-your-writes waits), and appends other processes announced on
/// PostgreSQL ([`LogSignal::noticed`], from [`notify`]). Subscribers see both.
#[derive(Debug, Clone)]
pub struct LogSignal {
    own: watch::Sender<LogPosition>,
    any: watch::Sender<LogPosition>,
}

impl Default for LogSignal {
    fn default() -> Self {
        Self {
            own: watch::Sender::new(LogPosition::START),
            any: watch::Sender::new(LogPosition::START),
        }
    }
}

fn raise(tx: &watch::Sender<LogPosition>, at: LogPosition) {
    tx.send_if_modified(|last| {
        if at > *last {
            *last = at;
            true
        } else {
            false
        }
    });
}

impl LogSignal {
    /// This process committed events up to `at`.
    pub fn appended(&self, at: LogPosition) {
        raise(&self.own, at);
        raise(&self.any, at);
    }
    /// Another process says it committed events up to `at`.
    pub fn noticed(&self, at: LogPosition) {
        raise(&self.any, at);
    }
    /// Wakes every subscriber once without a position: something may have been appended that
    /// nobody announced (the notifications' connection was lost and is back).
    pub fn wake(&self) {
        self.any.send_modify(|_| {});
    }
    /// Every announced append, this process's and others': the newest position heard of.
    pub fn subscribe(&self) -> watch::Receiver<LogPosition> {
        self.any.subscribe()
    }
    /// This process's own appends (what the notifier announces to the others).
    pub fn subscribe_own(&self) -> watch::Receiver<LogPosition> {
        self.own.subscribe()
    }
    /// The newest position this process appended (what a read-your-writes wait waits for).
    pub fn last(&self) -> LogPosition {
        *self.own.borrow()
    }
}

/// Applies every pending migration to a SQLite store.
pub async fn migrate_sqlite(pool: &sqlx::SqlitePool) -> Result<(), sqlx::migrate::MigrateError> {
    SQLITE.run(pool).await
}

/// Applies every pending migration to a PostgreSQL store (sqlx holds an advisory lock, so two
/// servers starting together do not both migrate).
pub async fn migrate_postgres(pool: &sqlx::PgPool) -> Result<(), sqlx::migrate::MigrateError> {
    POSTGRES.run(pool).await
}

/// The read-model tables, in the order a full reset clears them.
pub const READ_MODEL_TABLES: &[&str] = &[
    "rm_salon",
    "rm_services",
    "rm_stylists",
    "rm_bookings",
    "rm_reservations",
    "rm_audit_log",
    "rm_api_tokens",
    "rm_external_busy",
    "rm_calendar_sources",
    "rm_webhook_subscriptions",
    "rm_clients",
    "rm_client_bookings",
    "rm_reviews",
    "rm_pictures",
    "projection_checkpoints",
];

/// Database error codes that mean "the database is not available right now" rather than "this
/// request is wrong": PostgreSQL's connection exceptions (class 08), shutdowns and restarts
/// (57P01–57P03), too many connections (53300), read-only or out-of-disk states (25006, 53100);
/// SQLite's busy, locked, I/O, full and cannot-open codes (5, 6, 10, 13, 14 and their extended
/// forms).
pub fn is_unavailable_code(code: &str) -> bool {
    if code.starts_with("08")
        || matches!(
            code,
            "57P01" | "57P02" | "57P03" | "53300" | "53100" | "25006"
        )
    {
        return true;
    }
    match code.parse::<u32>() {
        Ok(n) => matches!(n & 0xff, 5 | 6 | 10 | 13 | 14),
        Err(_) => false,
    }
}

/// Does this driver error mean the database is unreachable or refusing work for now (so the
/// answer is 503, try again), rather than a bug?
pub fn is_unavailable(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Tls(_) => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|c| is_unavailable_code(&c)),
        _ => false,
    }
}
