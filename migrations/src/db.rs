//! The read database: the same database as the log, reached through sqlx's `Any` driver so
//! every projection and query is written once for SQLite and PostgreSQL. The read models use
//! only types both share (TEXT, BIGINT).

use crate::Backend;
use sqlx::any::AnyPoolOptions;
use sqlx::AnyConnection;
use sqlx::{AnyPool, Executor};
use std::time::Duration;

#[derive(Clone, Debug)]
pub struct ReadDb {
    pool: AnyPool,
    backend: Backend,
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("DATABASE_URL must start with sqlite: or postgres:")]
    UnknownUrl,
    #[error(transparent)]
    Sql(#[from] sqlx::Error),
}

impl ReadDb {
    pub async fn connect(url: &str) -> Result<Self, DbError> {
        sqlx::any::install_default_drivers();
        let backend = Backend::of_url(url).ok_or(DbError::UnknownUrl)?;
        let pool = AnyPoolOptions::new()
            .max_connections(if backend == Backend::Sqlite { 8 } else { 10 })
            .acquire_timeout(Duration::from_secs(5))
            // As on the write side: no ping round trip before every use.
            .test_before_acquire(false)
            .after_connect(move |conn: &mut AnyConnection, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // Per-connection settings matching the write side (WAL is per file and
                        // already on). Read models can be rebuilt from the log, so NORMAL is ample.
                        conn.execute("PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000;")
                            .await?;
                    } else {
                        // This pool writes only read models, which are rebuilt from the log, and
                        // each checkpoint commits with its rows: a crash that loses the last
                        // commits loses nothing, the batch is read again. So no fsync wait.
                        conn.execute("SET synchronous_commit = off").await?;
                        // Every statement here is short (a batch's writes, a page of a list),
                        // but the planner's cost of some (the clients' figures: a dozen
                        // correlated subqueries) passes the JIT threshold on large tables, and
                        // compiling them took 1-2.4 s per batch where running them takes 30 ms
                        // (measured by `salon bench replay`, 200 000 events).
                        conn.execute("SET jit = off").await?;
                    }
                    Ok(())
                })
            })
            .connect(url)
            .await?;
        Ok(Self { pool, backend })
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub async fn close(&self) {
        self.pool.close().await
    }
}
