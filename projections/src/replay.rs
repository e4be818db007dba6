//! Rebuilding read models while the server keeps answering.
//!
//! A replay builds the chosen projections from position 0 into *shadow tables* on one dedicated
//! connection, where the projections' unqualified table names resolve to the shadows: on
//! PostgreSQL a schema of its own ([`SHADOW_SCHEMA`], first on that connection's `search_path`),
//! on SQLite the connection's `temp` schema (which SQLite searches before `main`). The
//! projection code is the live code, unchanged. Readers keep reading the live tables meanwhile.
//! While they are built, the shadows carry only the indexes the projections' own statements
//! need (unique keys and [`Projection::lookup_indexes`]), and on PostgreSQL they are unlogged:
//! a shadow lost in a crash is rebuilt from the log anyway.
//!
//! The swap is one transaction: it catches the shadows up to the head of the log, puts the
//! shadow rows in place of the live ones and sets the projections' checkpoints to the shadows'
//! position. On PostgreSQL the shadows are made logged and given the readers' indexes first,
//! and the swap renames (the live tables move to [`REPLACED_SCHEMA`], dropped afterwards, and
//! the shadows into their schema): milliseconds at any size. On SQLite, or when readers hold a
//! live table too long for the rename, it copies the rows (seconds at a million events).
//! Readers see the old rows until it commits and the new ones after. The running
//! projections cannot commit a batch during the swap (on PostgreSQL every batch holds
//! [`SWAP_LOCK`] shared and the swap holds it exclusively; on SQLite the swap holds the write
//! lock); a batch that started before it finds its checkpoint moved and is rolled back and read
//! again, so nothing is applied twice or lost.
//!
//! [`verify`] builds the shadows the same way, brings them to exactly the live checkpoint while
//! holding the same lock, and compares the two row for row.

use crate::apply::Projection;
use crate::db::ReadDb;
use crate::log::read_after;
use crate::runner::{self, apply_events, RunError, BATCH};
use migrations::{Backend, LogPosition};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Connection, Row};
use std::time::{Duration, Instant};

/// PostgreSQL advisory lock: held shared by every projection batch, exclusively by a swap or a
/// verification while it compares, so neither sees the live tables half-way through a batch.
pub const SWAP_LOCK: i64 = 0x5a10_0002;
/// PostgreSQL advisory lock held by the one replay that may run at a time on a database.
pub const REPLAY_LOCK: i64 = 0x5a10_0003;
/// The schema holding the shadow tables on PostgreSQL (dropped afterwards; a replay that was
/// killed leaves it behind, and the next one drops it first).
pub const SHADOW_SCHEMA: &str = "salon_replay";
/// The schema the replaced live tables move to in a renaming swap, dropped right after.
pub const REPLACED_SCHEMA: &str = "salon_replaced";
/// How long one attempt at a renaming swap waits for readers of the live tables to let go of
/// them. Short: readers queue behind the waiting swap, and taking an `ACCESS EXCLUSIVE` lock
/// gives the transaction an id (it is logged for standbys), which holds PostgreSQL's xmin
/// horizon back for the whole cluster, and with it every projection's reading of the log.
const RENAME_LOCK_TIMEOUT: &str = "100ms";
/// Attempts at a renaming swap, [`RENAME_PAUSE`] apart, before it copies the rows instead
/// (a reader holding a live table for seconds, a long export say).
const RENAME_ATTEMPTS: usize = 20;
const RENAME_PAUSE: Duration = Duration::from_millis(250);
/// How many times [`verify`] tries to meet the live read models at one position before giving
/// up (each attempt catches both up; only a log growing faster than a rebuild prevents it).
const VERIFY_ATTEMPTS: usize = 50;

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error(transparent)]
    Run(#[from] RunError),
    #[error("another replay is running on this database")]
    Busy,
    #[error("the live read models kept moving; no position to compare them at (try again)")]
    Moving,
}

impl From<sqlx::Error> for ReplayError {
    fn from(e: sqlx::Error) -> Self {
        Self::Run(RunError::Sql(e))
    }
}

/// Shadow copies of some projections' tables on one connection, built from the log.
pub struct Shadow {
    conn: AnyConnection,
    backend: Backend,
    group: Vec<Projection>,
    /// How live tables are named on this connection (`main.` or `"public".`).
    live: String,
    /// How shadow tables are named (`temp.` or `salon_replay.`).
    shadow: String,
    at: LogPosition,
    applied: u64,
    /// On PostgreSQL: events applied when the shadows' statistics were last refreshed.
    analyzed_at: u64,
    /// On PostgreSQL: the live tables' other indexes, made on the shadows before they are
    /// renamed into place.
    deferred: Vec<String>,
}

/// What a swap did.
#[derive(Debug, Clone, Copy)]
pub struct Swapped {
    /// Where the swapped-in read models stand in the log.
    pub position: LogPosition,
    /// Readying the shadows before the swap (PostgreSQL: logging them and building the
    /// readers' indexes), while readers and projections went on.
    pub prepare: Duration,
    /// The swap's transaction: readers saw the old rows until its commit, projections waited
    /// (with a renaming swap, from its first attempt to the commit).
    pub held: Duration,
    /// Whether the shadows were renamed into place (PostgreSQL) rather than copied.
    pub renamed: bool,
}

/// Whether a statement gave up waiting for a lock (`lock_timeout`).
fn lock_timed_out(e: &ReplayError) -> bool {
    matches!(
        e,
        ReplayError::Run(RunError::Sql(sqlx::Error::Database(d)))
            if d.code().as_deref() == Some("55P03")
    )
}

/// What a rebuild did.
#[derive(Debug, Clone, Copy)]
pub struct Rebuilt {
    pub position: LogPosition,
    /// Events read from the log (every event, whichever projection wanted it).
    pub events: u64,
    /// Time spent building the shadows (before the swap).
    pub build: Duration,
    /// Time spent readying the shadows for the swap (readers and projections went on).
    pub prepare: Duration,
    /// Time the swap transaction took (readers saw old rows until its commit).
    pub swap: Duration,
    /// Whether the rebuilt tables were renamed into place rather than copied.
    pub renamed: bool,
}

fn tables(group: &[Projection]) -> Vec<&'static str> {
    group
        .iter()
        .flat_map(|p| p.tables().iter().copied())
        .collect()
}

fn quote(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

/// SQLite's stored `CREATE INDEX [IF NOT EXISTS] name ON …` with the index put in `temp`.
fn temp_index(sql: &str) -> Option<String> {
    let (head, rest) = if let Some(rest) = sql.strip_prefix("CREATE UNIQUE INDEX ") {
        ("CREATE UNIQUE INDEX ", rest)
    } else {
        ("CREATE INDEX ", sql.strip_prefix("CREATE INDEX ")?)
    };
    let (exists, rest) = match rest.strip_prefix("IF NOT EXISTS ") {
        Some(r) => ("IF NOT EXISTS ", r),
        None => ("", rest),
    };
    Some(format!("{head}{exists}temp.{}", rest.trim_start()))
}

/// PostgreSQL's definition of an index (`pg_get_indexdef`: `CREATE [UNIQUE] INDEX name ON
/// [ONLY] schema.table USING …`) made on `table` instead; the index keeps its name, in the
/// table's schema.
fn shadow_index(def: &str, table: &str) -> Option<String> {
    let on = def.find(" ON ")?;
    let using = on + def[on..].find(" USING ")?;
    Some(format!("{} ON {table}{}", &def[..on], &def[using..]))
}

impl Shadow {
    /// Makes empty shadows of `group`'s tables on a connection of their own.
    pub async fn open(db: &ReadDb, group: &[Projection]) -> Result<Self, ReplayError> {
        let mut conn = db.pool().acquire().await?.detach();
        let backend = db.backend();
        let lookups: Vec<&str> = group
            .iter()
            .flat_map(|p| p.lookup_indexes().iter().copied())
            .collect();
        let mut deferred = Vec::new();
        let (live, shadow) = match backend {
            Backend::Postgres => {
                let got: i32 = sqlx::query("SELECT pg_try_advisory_lock($1)::int AS ok")
                    .bind(REPLAY_LOCK)
                    .fetch_one(&mut conn)
                    .await?
                    .try_get("ok")?;
                if got != 1 {
                    let _ = conn.close().await;
                    return Err(ReplayError::Busy);
                }
                let schema: String = sqlx::query("SELECT current_schema()::text AS s")
                    .fetch_one(&mut conn)
                    .await?
                    .try_get("s")?;
                let live = quote(&schema);
                let shadow = quote(SHADOW_SCHEMA);
                sqlx::raw_sql(&format!(
                    "DROP SCHEMA IF EXISTS {shadow} CASCADE; CREATE SCHEMA {shadow}"
                ))
                .execute(&mut conn)
                .await?;
                for t in tables(group) {
                    // Unlogged: a shadow is rebuilt from the log if anything goes wrong, so its
                    // writes need not go through the write-ahead log (it is made logged before
                    // a swap renames it into place).
                    sqlx::raw_sql(&format!(
                        "CREATE UNLOGGED TABLE {shadow}.{t} \
                         (LIKE {live}.{t} INCLUDING ALL EXCLUDING INDEXES)"
                    ))
                    .execute(&mut conn)
                    .await?;
                    // The keys, as constraints under the live tables' names (a renaming swap
                    // makes the shadow the live table).
                    let keys = sqlx::query(
                        "SELECT c.conname::text AS name, pg_get_constraintdef(c.oid) AS def \
                         FROM pg_constraint c JOIN pg_class r ON r.oid = c.conrelid \
                         JOIN pg_namespace n ON n.oid = r.relnamespace \
                         WHERE n.nspname = current_schema() AND r.relname = $1 \
                         AND c.contype IN ('p', 'u') ORDER BY c.contype, c.conname",
                    )
                    .bind(t)
                    .fetch_all(&mut conn)
                    .await?;
                    for row in keys {
                        let name: String = row.try_get("name")?;
                        let def: String = row.try_get("def")?;
                        sqlx::raw_sql(&format!(
                            "ALTER TABLE {shadow}.{t} ADD CONSTRAINT {} {def}",
                            quote(&name)
                        ))
                        .execute(&mut conn)
                        .await?;
                    }
                    let indexes = sqlx::query(
                        "SELECT i.relname::text AS name, pg_get_indexdef(i.oid) AS def, \
                         x.indisunique::int AS uniq \
                         FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid \
                         JOIN pg_class r ON r.oid = x.indrelid \
                         JOIN pg_namespace n ON n.oid = r.relnamespace \
                         WHERE n.nspname = current_schema() AND r.relname = $1 \
                         AND NOT EXISTS \
                         (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid) \
                         ORDER BY i.relname",
                    )
                    .bind(t)
                    .fetch_all(&mut conn)
                    .await?;
                    for row in indexes {
                        let name: String = row.try_get("name")?;
                        let def: String = row.try_get("def")?;
                        let unique: i32 = row.try_get("uniq")?;
                        let Some(sql) = shadow_index(&def, &format!("{shadow}.{t}")) else {
                            continue;
                        };
                        if unique == 0 && !lookups.contains(&name.as_str()) {
                            // Built just before a swap that renames (see `swap`).
                            deferred.push(sql);
                        } else {
                            sqlx::raw_sql(&sql).execute(&mut conn).await?;
                        }
                    }
                }
                sqlx::raw_sql(&format!("SET search_path TO {shadow}, {live}"))
                    .execute(&mut conn)
                    .await?;
                (format!("{live}."), format!("{shadow}."))
            }
            Backend::Sqlite => {
                for t in tables(group) {
                    let rows = sqlx::query(
                        "SELECT type, sql, name FROM main.sqlite_master \
                         WHERE tbl_name = $1 AND sql IS NOT NULL ORDER BY type = 'index'",
                    )
                    .bind(t)
                    .fetch_all(&mut conn)
                    .await?;
                    for row in rows {
                        let kind: String = row.try_get(0)?;
                        let sql: String = row.try_get(1)?;
                        let name: String = row.try_get(2)?;
                        let temp = match kind.as_str() {
                            "table" => sql.replacen("CREATE TABLE ", "CREATE TEMP TABLE ", 1),
                            // Stored index statements are the non-unique ones (a table's keys
                            // come with its own statement): only those the projection looks
                            // rows up by.
                            "index" if !lookups.contains(&name.as_str()) => continue,
                            "index" => match temp_index(&sql) {
                                Some(s) => s,
                                None => continue,
                            },
                            _ => continue,
                        };
                        sqlx::raw_sql(&temp).execute(&mut conn).await?;
                    }
                }
                ("main.".to_string(), "temp.".to_string())
            }
        };
        Ok(Self {
            conn,
            backend,
            group: group.to_vec(),
            live,
            shadow,
            at: LogPosition::START,
            applied: 0,
            analyzed_at: 0,
            deferred,
        })
    }

    pub fn position(&self) -> LogPosition {
        self.at
    }

    /// Applies the next batch after the shadows' position (up to `limit` when given) in the
    /// transaction open on `conn`. Returns whether there was anything.
    async fn step_in(
        conn: &mut AnyConnection,
        db: &ReadDb,
        group: &[Projection],
        at: &mut LogPosition,
        applied: &mut u64,
        limit: Option<LogPosition>,
    ) -> Result<bool, RunError> {
        let mut events = read_after(db, *at, BATCH).await?;
        if let Some(limit) = limit {
            events.retain(|e| e.at <= limit);
        }
        let Some(last) = events.last().map(|e| e.at) else {
            return Ok(false);
        };
        apply_events(conn, group, &events).await?;
        *at = last;
        *applied += events.len() as u64;
        Ok(true)
    }

    /// Builds the shadows up to everything readable now, one transaction per batch. The next
    /// page of the log is read (and its personal data opened) on another connection while
    /// this one is applied.
    pub async fn catch_up(&mut self, db: &ReadDb) -> Result<LogPosition, RunError> {
        let mut events = read_after(db, self.at, BATCH).await?;
        loop {
            let Some(last) = events.last().map(|e| e.at) else {
                return Ok(self.at);
            };
            let next = tokio::spawn({
                let db = db.clone();
                async move { read_after(&db, last, BATCH).await }
            });
            let mut tx = self.conn.begin().await?;
            apply_events(&mut tx, &self.group, &events).await?;
            tx.commit().await?;
            self.at = last;
            self.applied += events.len() as u64;
            self.refresh_statistics().await?;
            events = match next.await {
                Ok(read) => read?,
                Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                // Not cancelled by anyone; read it here if it ever were.
                Err(_) => read_after(db, last, BATCH).await?,
            };
        }
    }

    /// On PostgreSQL, the planner knows nothing of the new shadow tables until autovacuum
    /// samples them: it guesses that a lookup of a hundred keys matches most of the rows and
    /// scans the whole table every batch (1.6 s a batch at 1 000 000 events). Sampling them
    /// each time they have grown fourfold keeps its estimates right at a small cost.
    async fn refresh_statistics(&mut self) -> Result<(), sqlx::Error> {
        if self.backend != Backend::Postgres || self.applied < 4 * self.analyzed_at.max(500) {
            return Ok(());
        }
        for t in tables(&self.group) {
            sqlx::raw_sql(&format!("ANALYZE {}{t}", self.shadow))
                .execute(&mut self.conn)
                .await?;
        }
        self.analyzed_at = self.applied;
        Ok(())
    }

    /// Takes the lock that keeps projection batches out, as the first statement of the
    /// transaction (on SQLite a write, so the transaction holds the write lock from here on).
    async fn lock(conn: &mut AnyConnection, backend: Backend) -> Result<(), sqlx::Error> {
        match backend {
            Backend::Postgres => {
                sqlx::query("SELECT pg_advisory_xact_lock($1)")
                    .bind(SWAP_LOCK)
                    .execute(conn)
                    .await?;
            }
            Backend::Sqlite => {
                sqlx::query("UPDATE main.projection_checkpoints SET name = name WHERE 0 = 1")
                    .execute(conn)
                    .await?;
            }
        }
        Ok(())
    }

    /// Swaps the shadows in for the live tables (see the module documentation) and drops them.
    ///
    /// On PostgreSQL the shadows are first made logged and given the live tables' other indexes
    /// (while readers and projections go on), and the swap renames: the live tables move to
    /// [`REPLACED_SCHEMA`] and the shadows into their place, so the lock is held for
    /// milliseconds whatever the size. If readers keep holding a live table through
    /// [`RENAME_ATTEMPTS`] short attempts, it copies the rows instead, as on SQLite.
    pub async fn swap(mut self, db: &ReadDb) -> Result<Swapped, ReplayError> {
        self.catch_up(db).await?;
        let renaming = self.backend == Backend::Postgres;
        let prepared = Instant::now();
        if renaming {
            self.prepare_rename().await?;
            self.catch_up(db).await?;
        }
        let prepare = prepared.elapsed();
        let started = Instant::now();
        let mut renamed = false;
        for attempt in 1..=if renaming { RENAME_ATTEMPTS } else { 0 } {
            if attempt > 1 {
                tokio::time::sleep(RENAME_PAUSE).await;
            }
            let before = (self.at, self.applied);
            match self.swap_in(db, true).await {
                Ok(()) => {
                    renamed = true;
                    break;
                }
                Err(e) if lock_timed_out(&e) => (self.at, self.applied) = before,
                Err(e) => return Err(e),
            }
        }
        if !renamed {
            if renaming {
                tracing::warn!(
                    "readers kept holding the live tables; copying the rebuilt rows instead of \
                     renaming"
                );
            }
            self.swap_in(db, false).await?;
        }
        let held = started.elapsed();
        if renaming {
            let dropped = sqlx::raw_sql(&format!(
                "DROP SCHEMA IF EXISTS {} CASCADE",
                quote(REPLACED_SCHEMA)
            ))
            .execute(&mut self.conn)
            .await;
            if let Err(e) = dropped {
                // The swap stands; the next replay drops the replaced tables.
                tracing::warn!(error = %e, "dropping the replaced tables failed");
            }
        }
        if self.backend == Backend::Postgres {
            // The planner's statistics still describe the rows the swap replaced (often none):
            // refresh them now rather than whenever autovacuum gets there.
            for t in tables(&self.group) {
                let analyzed = sqlx::raw_sql(&format!("ANALYZE {}{t}", self.live))
                    .execute(&mut self.conn)
                    .await;
                if let Err(e) = analyzed {
                    // The swap stands; only the planner's estimates wait for autovacuum.
                    tracing::warn!(table = t, error = %e, "ANALYZE after the swap failed");
                }
            }
        }
        let position = self.at;
        self.close().await;
        Ok(Swapped {
            position,
            prepare,
            held,
            renamed,
        })
    }

    /// Readies the shadows on PostgreSQL to become the live tables: logged (a rewrite), with
    /// the live tables' indexes, and an empty schema for the tables they replace.
    async fn prepare_rename(&mut self) -> Result<(), sqlx::Error> {
        for t in tables(&self.group) {
            sqlx::raw_sql(&format!("ALTER TABLE {}{t} SET LOGGED", self.shadow))
                .execute(&mut self.conn)
                .await?;
        }
        for sql in std::mem::take(&mut self.deferred) {
            sqlx::raw_sql(&sql).execute(&mut self.conn).await?;
        }
        let replaced = quote(REPLACED_SCHEMA);
        sqlx::raw_sql(&format!(
            "DROP SCHEMA IF EXISTS {replaced} CASCADE; CREATE SCHEMA {replaced}"
        ))
        .execute(&mut self.conn)
        .await?;
        Ok(())
    }

    /// The swap's transaction: the events appended since, the checkpoints, and the shadows in
    /// place of the live tables, renamed or copied.
    async fn swap_in(&mut self, db: &ReadDb, rename: bool) -> Result<(), ReplayError> {
        let mut tx = self.conn.begin().await?;
        Self::lock(&mut tx, self.backend).await?;
        if rename {
            // The live tables' locks first, waiting at most RENAME_LOCK_TIMEOUT (see there).
            let live: Vec<String> = tables(&self.group)
                .iter()
                .map(|t| format!("{}{t}", self.live))
                .collect();
            sqlx::raw_sql(&format!(
                "SET LOCAL lock_timeout = '{RENAME_LOCK_TIMEOUT}'; \
                 LOCK TABLE {} IN ACCESS EXCLUSIVE MODE",
                live.join(", ")
            ))
            .execute(&mut *tx)
            .await?;
        }
        // Events appended since: into the shadows, inside the lock.
        while Self::step_in(
            &mut tx,
            db,
            &self.group,
            &mut self.at,
            &mut self.applied,
            None,
        )
        .await?
        {}
        let now = chrono::Utc::now().to_rfc3339();
        for p in &self.group {
            sqlx::query(&format!(
                "INSERT INTO {}projection_checkpoints (name, txid, position, updated_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO UPDATE \
                 SET txid = $2, position = $3, updated_at = $4",
                self.live
            ))
            .bind(p.name().to_string())
            .bind(self.at.txid)
            .bind(self.at.position)
            .bind(now.clone())
            .execute(&mut *tx)
            .await?;
        }
        let live_schema = self.live.trim_end_matches('.');
        for t in tables(&self.group) {
            let sql = if rename {
                format!(
                    "ALTER TABLE {live}{t} SET SCHEMA {replaced}; \
                     ALTER TABLE {shadow}{t} SET SCHEMA {live_schema}",
                    live = self.live,
                    shadow = self.shadow,
                    replaced = quote(REPLACED_SCHEMA),
                )
            } else {
                format!(
                    "DELETE FROM {live}{t}; INSERT INTO {live}{t} SELECT * FROM {shadow}{t}",
                    live = self.live,
                    shadow = self.shadow
                )
            };
            sqlx::raw_sql(&sql).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Drops the shadows (and on PostgreSQL gives the replay lock back) by closing the
    /// connection.
    pub async fn close(mut self) {
        if self.backend == Backend::Postgres {
            let _ = sqlx::raw_sql(&format!(
                "DROP SCHEMA IF EXISTS {} CASCADE",
                quote(SHADOW_SCHEMA)
            ))
            .execute(&mut self.conn)
            .await;
        }
        let _ = self.conn.close().await;
    }

    /// Compares every shadow table with its live table inside the open transaction `conn`.
    async fn compare(
        conn: &mut AnyConnection,
        group: &[Projection],
        live_prefix: &str,
        shadow_prefix: &str,
    ) -> Result<Vec<TableDiff>, sqlx::Error> {
        let mut out = Vec::new();
        for t in tables(group) {
            let live = format!("{live_prefix}{t}");
            let shadow = format!("{shadow_prefix}{t}");
            let count = |table: &str| format!("SELECT count(*) AS n FROM {table}");
            let live_rows: i64 = sqlx::query(&count(&live))
                .fetch_one(&mut *conn)
                .await?
                .try_get("n")?;
            let rebuilt_rows: i64 = sqlx::query(&count(&shadow))
                .fetch_one(&mut *conn)
                .await?
                .try_get("n")?;
            let mut sides = Vec::new();
            for (a, b) in [(&live, &shadow), (&shadow, &live)] {
                let except = format!("SELECT * FROM {a} EXCEPT SELECT * FROM {b}");
                let n: i64 = sqlx::query(&format!("SELECT count(*) AS n FROM ({except}) d"))
                    .fetch_one(&mut *conn)
                    .await?
                    .try_get("n")?;
                let samples = sqlx::query(&format!("{except} LIMIT 3"))
                    .fetch_all(&mut *conn)
                    .await?
                    .iter()
                    .map(render_row)
                    .collect();
                sides.push((n as u64, samples));
            }
            let (only_rebuilt, rebuilt_samples) = sides.pop().unwrap_or_default();
            let (only_live, live_samples) = sides.pop().unwrap_or_default();
            out.push(TableDiff {
                table: t.to_string(),
                live_rows: live_rows as u64,
                rebuilt_rows: rebuilt_rows as u64,
                only_live,
                only_rebuilt,
                live_samples,
                rebuilt_samples,
            });
        }
        Ok(out)
    }
}

/// One row as text, column by column (`NULL` for null).
pub fn render_row(row: &AnyRow) -> Vec<String> {
    (0..row.len())
        .map(|i| {
            row.try_get::<Option<String>, _>(i)
                .map(|v| v.unwrap_or_else(|| "NULL".into()))
                .or_else(|_| {
                    row.try_get::<Option<i64>, _>(i)
                        .map(|v| v.map_or("NULL".into(), |n| n.to_string()))
                })
                .or_else(|_| {
                    row.try_get::<Option<f64>, _>(i)
                        .map(|v| v.map_or("NULL".into(), |n| n.to_string()))
                })
                .unwrap_or_else(|_| "?".into())
        })
        .collect()
}

/// How one live table compares with its rebuild.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TableDiff {
    pub table: String,
    pub live_rows: u64,
    pub rebuilt_rows: u64,
    /// Rows in the live table that the rebuild does not have.
    pub only_live: u64,
    /// Rows the rebuild has that the live table does not.
    pub only_rebuilt: u64,
    /// Up to three of each, as text.
    pub live_samples: Vec<Vec<String>>,
    pub rebuilt_samples: Vec<Vec<String>>,
}

impl TableDiff {
    pub fn same(&self) -> bool {
        self.only_live == 0 && self.only_rebuilt == 0 && self.live_rows == self.rebuilt_rows
    }
}

/// Rebuilds `group` from position 0 into shadow tables while the live ones keep serving, then
/// swaps them in atomically.
pub async fn rebuild(db: &ReadDb, group: &[Projection]) -> Result<Rebuilt, ReplayError> {
    let started = Instant::now();
    let mut shadow = Shadow::open(db, group).await?;
    let built = shadow.catch_up(db).await;
    if let Err(e) = built {
        shadow.close().await;
        return Err(e.into());
    }
    let build = started.elapsed();
    let events_before = shadow.applied;
    let swapped = shadow.swap(db).await?;
    Ok(Rebuilt {
        position: swapped.position,
        events: events_before,
        build,
        prepare: swapped.prepare,
        swap: swapped.held,
        renamed: swapped.renamed,
    })
}

/// Rebuilds `group` into shadow tables and compares them with the live tables at one position,
/// row for row. Changes nothing (beyond catching the live read models up to the log's head).
pub async fn verify(
    db: &ReadDb,
    group: &[Projection],
) -> Result<(LogPosition, Vec<TableDiff>), ReplayError> {
    let mut shadow = Shadow::open(db, group).await?;
    let result = verify_with(db, &mut shadow).await;
    shadow.close().await;
    result
}

async fn verify_with(
    db: &ReadDb,
    shadow: &mut Shadow,
) -> Result<(LogPosition, Vec<TableDiff>), ReplayError> {
    for _ in 0..VERIFY_ATTEMPTS {
        // The live read models may lag (no server running): catch them up. Beside a running
        // server this competes harmlessly with it (conditional checkpoints).
        for p in shadow.group.clone() {
            runner::catch_up(db, p).await?;
        }
        shadow.catch_up(db).await?;
        let mut tx = shadow.conn.begin().await?;
        Shadow::lock(&mut tx, shadow.backend).await?;
        let mut live = Vec::new();
        for p in &shadow.group {
            let row = sqlx::query(&format!(
                "SELECT txid, position FROM {}projection_checkpoints WHERE name = $1",
                shadow.live
            ))
            .bind(p.name().to_string())
            .fetch_optional(&mut *tx)
            .await?;
            live.push(match row {
                Some(r) => LogPosition::new(r.try_get(0)?, r.try_get(1)?),
                None => LogPosition::START,
            });
        }
        let target = live[0];
        if live.iter().all(|l| *l == target) && target >= shadow.at {
            while shadow.at < target
                && Shadow::step_in(
                    &mut tx,
                    db,
                    &shadow.group,
                    &mut shadow.at,
                    &mut shadow.applied,
                    Some(target),
                )
                .await?
            {}
            if shadow.at == target {
                let diffs =
                    Shadow::compare(&mut tx, &shadow.group, &shadow.live, &shadow.shadow).await?;
                tx.commit().await?;
                return Ok((target, diffs));
            }
        }
        tx.commit().await?;
    }
    Err(ReplayError::Moving)
}

#[cfg(test)]
mod tests {
    use super::{shadow_index, temp_index};

    #[test]
    fn indexes_move_to_the_shadow_schema() {
        assert_eq!(
            shadow_index(
                "CREATE UNIQUE INDEX rm_clients_pkey ON public.rm_clients USING btree (id)",
                "\"salon_replay\".rm_clients"
            )
            .as_deref(),
            Some(
                "CREATE UNIQUE INDEX rm_clients_pkey ON \"salon_replay\".rm_clients USING btree (id)"
            )
        );
        assert_eq!(
            shadow_index(
                "CREATE INDEX a ON \"My Schema\".t USING btree (x) WHERE (y IS NULL)",
                "s.t"
            )
            .as_deref(),
            Some("CREATE INDEX a ON s.t USING btree (x) WHERE (y IS NULL)")
        );
        assert_eq!(shadow_index("nonsense", "s.t"), None);
    }

    #[test]
    fn indexes_move_to_temp() {
        assert_eq!(
            temp_index("CREATE INDEX rm_b_day ON rm_bookings (day)").as_deref(),
            Some("CREATE INDEX temp.rm_b_day ON rm_bookings (day)")
        );
        assert_eq!(
            temp_index("CREATE UNIQUE INDEX IF NOT EXISTS u ON t (a, b)").as_deref(),
            Some("CREATE UNIQUE INDEX IF NOT EXISTS temp.u ON t (a, b)")
        );
        assert_eq!(temp_index("CREATE TABLE t (a)"), None);
    }
}
