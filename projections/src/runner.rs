//! Running projections: each follows the log from its checkpoint and commits a batch of rows
//! together with its new checkpoint, so an effect happens exactly once, a crash loses nothing and
//! a restart resumes where the last commit left off.
//!
//! The checkpoint update is conditional on the checkpoint it started from: if anything else
//! advanced the same projection meanwhile (a second process, a replay), the batch is rolled back
//! and re-read, never applied twice.

use crate::apply::{ApplyError, Projection};
use crate::db::ReadDb;
use crate::log::{read_after, ReadError};
use migrations::{Backend, LogPosition, LogSignal};
use sqlx::Row;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Events applied per transaction.
const BATCH: i64 = 500;
/// How often an idle projection looks for events written by other processes.
const IDLE_POLL: Duration = Duration::from_millis(200);
/// Longest pause between retries after an error.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error(transparent)]
    Apply(#[from] ApplyError),
    #[error(transparent)]
    Sql(#[from] sqlx::Error),
}

/// Reads a projection's checkpoint, creating its row at the start of the log if missing.
pub async fn checkpoint(db: &ReadDb, projection: Projection) -> Result<LogPosition, sqlx::Error> {
    sqlx::query(
        "INSERT INTO projection_checkpoints (name, txid, position, updated_at) VALUES ($1, 0, 0, $2) \
         ON CONFLICT (name) DO NOTHING",
    )
    .bind(projection.name().to_string())
    .bind(chrono::Utc::now().to_rfc3339())
    .execute(db.pool())
    .await?;
    let row = sqlx::query("SELECT txid, position FROM projection_checkpoints WHERE name = $1")
        .bind(projection.name().to_string())
        .fetch_one(db.pool())
        .await?;
    Ok(LogPosition::new(row.try_get(0)?, row.try_get(1)?))
}

/// Applies the next batch after `at`. Returns the new checkpoint, or `None` when there was
/// nothing to read (or another runner had moved the checkpoint; the caller re-reads it).
pub async fn step(
    db: &ReadDb,
    projection: Projection,
    at: LogPosition,
) -> Result<Option<LogPosition>, RunError> {
    let events = read_after(db, at, BATCH).await?;
    let Some(last) = events.last().map(|e| e.at) else {
        return Ok(None);
    };
    let mut tx = db.pool().begin().await?;
    if db.backend() == Backend::Postgres {
        // Read models are rebuilt from the log, and the checkpoint commits with the rows, so a
        // crash that loses this commit loses nothing: the batch is simply read again.
        sqlx::query("SET LOCAL synchronous_commit = off")
            .execute(&mut *tx)
            .await?;
    }
    for event in &events {
        match projection.apply(&mut tx, event).await {
            Ok(()) => {}
            Err(e @ ApplyError::Decode { .. }) => {
                // A payload that does not decode will never decode: record it and move on
                // rather than stall every later event.
                tracing::error!(projection = projection.name(), error = %e, "skipping undecodable event");
            }
            Err(e) => return Err(e.into()),
        }
    }
    let moved = sqlx::query(
        "UPDATE projection_checkpoints SET txid = $2, position = $3, updated_at = $4 \
         WHERE name = $1 AND txid = $5 AND position = $6",
    )
    .bind(projection.name().to_string())
    .bind(last.txid)
    .bind(last.position)
    .bind(chrono::Utc::now().to_rfc3339())
    .bind(at.txid)
    .bind(at.position)
    .execute(&mut *tx)
    .await?;
    if moved.rows_affected() != 1 {
        tx.rollback().await?;
        return Ok(None);
    }
    tx.commit().await?;
    Ok(Some(last))
}

/// Applies everything readable now. Returns the final checkpoint.
pub async fn catch_up(db: &ReadDb, projection: Projection) -> Result<LogPosition, RunError> {
    let mut at = checkpoint(db, projection).await?;
    loop {
        match step(db, projection, at).await? {
            Some(next) => at = next,
            None => {
                let now = checkpoint(db, projection).await?;
                if now == at {
                    return Ok(at);
                }
                at = now;
            }
        }
    }
}

/// Clears a projection's tables and checkpoint in one transaction, so it rebuilds from
/// position 0 the next time it runs.
pub async fn reset(db: &ReadDb, projection: Projection) -> Result<(), sqlx::Error> {
    let mut tx = db.pool().begin().await?;
    for table in projection.tables() {
        sqlx::query(&format!("DELETE FROM {table}"))
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query("DELETE FROM projection_checkpoints WHERE name = $1")
        .bind(projection.name().to_string())
        .execute(&mut *tx)
        .await?;
    tx.commit().await
}

/// The running projections of this process.
#[derive(Clone)]
pub struct Projections {
    checkpoints: Arc<HashMap<Projection, watch::Receiver<LogPosition>>>,
}

/// Keeps the projection tasks; dropping it does not stop them, `stop` does.
pub struct Running {
    pub handle: Projections,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Running {
    /// Stops every projection after its current batch and waits for them.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

/// Starts one task per projection.
pub fn start(db: ReadDb, signal: LogSignal) -> Running {
    let (stop, stop_rx) = watch::channel(false);
    let mut checkpoints = HashMap::new();
    let mut tasks = Vec::new();
    for projection in Projection::ALL {
        let (tx, rx) = watch::channel(LogPosition::START);
        checkpoints.insert(projection, rx);
        tasks.push(tokio::spawn(follow(
            db.clone(),
            projection,
            signal.subscribe(),
            tx,
            stop_rx.clone(),
        )));
    }
    Running {
        handle: Projections {
            checkpoints: Arc::new(checkpoints),
        },
        stop,
        tasks,
    }
}

async fn follow(
    db: ReadDb,
    projection: Projection,
    mut appended: watch::Receiver<LogPosition>,
    published: watch::Sender<LogPosition>,
    mut stop: watch::Receiver<bool>,
) {
    let name = projection.name();
    let mut backoff = Duration::from_millis(50);
    let mut at = loop {
        match checkpoint(&db, projection).await {
            Ok(at) => break at,
            Err(e) => {
                tracing::warn!(projection = name, error = %e, "cannot read checkpoint; retrying");
                if sleep_or_stop(&mut stop, backoff).await {
                    return;
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    };
    published.send_replace(at);
    let mut quick = Duration::from_millis(1);
    loop {
        if *stop.borrow() {
            return;
        }
        let latest = *appended.borrow_and_update();
        match step(&db, projection, at).await {
            Ok(Some(next)) => {
                at = next;
                published.send_replace(at);
                backoff = Duration::from_millis(50);
                quick = Duration::from_millis(1);
            }
            Ok(None) => {
                if let Ok(now) = checkpoint(&db, projection).await {
                    if now != at {
                        at = now;
                        published.send_replace(at);
                        continue;
                    }
                }
                // On PostgreSQL an event this process appended may not be readable yet while an
                // older transaction is still open: look again soon, backing off.
                let wait = if latest > at {
                    quick = (quick * 2).min(Duration::from_millis(50));
                    quick
                } else {
                    IDLE_POLL
                };
                tokio::select! {
                    _ = appended.changed() => {}
                    _ = tokio::time::sleep(wait) => {}
                    _ = stop.changed() => return,
                }
            }
            Err(e) => {
                tracing::warn!(projection = name, error = %e, "projection step failed; retrying");
                if sleep_or_stop(&mut stop, backoff).await {
                    return;
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

/// Sleeps, or returns true early when asked to stop.
async fn sleep_or_stop(stop: &mut watch::Receiver<bool>, d: Duration) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(d) => *stop.borrow(),
        _ = stop.changed() => true,
    }
}

impl Projections {
    /// Waits until every projection in `which` has applied the event at `at` (read-your-writes),
    /// at most `timeout`. Returns whether they did.
    pub async fn wait_for(&self, which: &[Projection], at: LogPosition, timeout: Duration) -> bool {
        let all = async {
            for p in which {
                if let Some(rx) = self.checkpoints.get(p) {
                    let mut rx = rx.clone();
                    if rx.wait_for(|c| *c >= at).await.is_err() {
                        return false;
                    }
                }
            }
            true
        };
        tokio::time::timeout(timeout, all).await.unwrap_or(false)
    }

    /// The checkpoint each projection has published.
    pub fn checkpoints(&self) -> Vec<(Projection, LogPosition)> {
        let mut out: Vec<_> = self
            .checkpoints
            .iter()
            .map(|(p, rx)| (*p, *rx.borrow()))
            .collect();
        out.sort_by_key(|(p, _)| p.name());
        out
    }
}
