//! Throwaway databases for tests and benchmarks: a fresh PostgreSQL database per use (dropped
//! afterwards) or a SQLite file in a temporary directory.

use sqlx::Connection;

/// Where PostgreSQL is, without a database name (`SALON_TEST_PG`, default the local server).
pub fn postgres_base() -> String {
    std::env::var("SALON_TEST_PG").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

/// Creates an empty database named `<prefix>_<random>` and returns its URL.
pub async fn create_postgres(prefix: &str) -> anyhow::Result<String> {
    let base = postgres_base();
    let name = format!("{prefix}_{}", uuid::Uuid::new_v4().simple());
    let mut admin = sqlx::PgConnection::connect(&format!("{base}/postgres")).await?;
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await?;
    admin.close().await?;
    Ok(format!("{base}/{name}"))
}

/// Drops a database made by [`create_postgres`], disconnecting anyone still on it.
pub async fn drop_postgres(url: &str) -> anyhow::Result<()> {
    let base = postgres_base();
    let Some(name) = url
        .rsplit('/')
        .next()
        .filter(|n| n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
    else {
        anyhow::bail!("not a scratch database url");
    };
    let mut admin = sqlx::PgConnection::connect(&format!("{base}/postgres")).await?;
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut admin)
        .await?;
    admin.close().await?;
    Ok(())
}

/// A SQLite URL for a new file in `dir`.
pub fn sqlite_in(dir: &std::path::Path, name: &str) -> String {
    format!("sqlite://{}", dir.join(name).display())
}
