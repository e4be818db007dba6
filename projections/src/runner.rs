//! Running projections: each follows the log from its checkpoint and commits a batch of rows
//! together with its new checkpoint, so an effect happens exactly once, a crash loses nothing and
//! a restart resumes where the last commit left off.
//!
//! The checkpoint update is conditional on the checkpoint it started from: if anything else
//! advanced the same projection meanwhile (a second process, a replay), the batch is rolled back
//! and re-read, never applied twice.
//!
//! Several servers on one PostgreSQL: only the server holding a session-level advisory lock
//! ([`LEADER_LOCK`]) advances the projections; the others stand by, report the checkpoints the
//! leader stores (so their read-your-writes waits still end) and try the lock every
//! [`STANDBY_POLL`]. When the leader dies its session ends, the lock is free, and a standby takes
//! over within that poll. Without the lock every server would run every batch; the conditional
//! checkpoint kept that correct, but the servers' batch transactions kept each other's events
//! out of sight (PostgreSQL's visibility horizon) and the read models crawled.

use crate::apply::{ApplyError, Projection};
use crate::db::ReadDb;
use crate::log::{read_after, ReadError};
use crate::writer::Writer;
use migrations::{Backend, LogPosition, LogSignal};
use sqlx::pool::PoolConnection;
use sqlx::{Any, Connection, Row};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Events applied per transaction.
pub const BATCH: i64 = 500;
/// How often an idle projection looks at the log for events nobody announced (another
/// process's, when no notification carries them; see `migrations::notify`), unless told
/// otherwise.
pub const IDLE_POLL: Duration = Duration::from_millis(200);
/// When nobody is waiting to read their own write, the follower lets events gather for up to
/// this long after its last commit, so one transaction applies many of them. A read-your-writes
/// wait cuts the pause short.
const BATCH_WINDOW: Duration = Duration::from_millis(10);
/// How long projections may be unable to read this process's own appends before a warning.
const STALL_WARNING: Duration = Duration::from_secs(10);
/// Longest pause between retries after an error.
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// The PostgreSQL advisory lock whose holder advances the projections (any constant shared by
/// every server of one database).
pub const LEADER_LOCK: i64 = 0x5a10_0001;
/// How often a standby server reads the stored checkpoints and tries to become the leader.
pub const STANDBY_POLL: Duration = Duration::from_millis(100);
/// How often the leader makes sure the session holding its lock is still alive: if that one
/// connection died (terminated, cut) while the others work, the lock is free and another
/// server may lead; this one must stop advancing and stand by.
pub const LEADER_CHECK: Duration = Duration::from_secs(1);

/// Whether the session holding the lock still answers.
async fn still_leading(leader: &mut Option<PoolConnection<Any>>) -> bool {
    match leader.as_mut() {
        Some(conn) => sqlx::query("SELECT 1").execute(&mut **conn).await.is_ok(),
        None => false,
    }
}

/// On PostgreSQL: a connection holding [`LEADER_LOCK`], when this process can take it now.
async fn try_lead(db: &ReadDb) -> Result<Option<PoolConnection<Any>>, sqlx::Error> {
    let mut conn = db.pool().acquire().await?;
    let got: i32 = sqlx::query("SELECT pg_try_advisory_lock($1)::int AS ok")
        .bind(LEADER_LOCK)
        .fetch_one(&mut *conn)
        .await?
        .try_get("ok")?;
    Ok((got == 1).then_some(conn))
}

/// Gives the lock up by closing its session (not returning it to the pool, where the lock would
/// stay held).
async fn resign(leader: &mut Option<PoolConnection<Any>>) {
    if let Some(conn) = leader.take() {
        let _ = conn.detach().close().await;
    }
}

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

/// What one step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Applied a batch; the projections are now at this position.
    Advanced(LogPosition),
    /// Nothing to read after the checkpoint.
    Idle,
    /// Another runner moved a checkpoint meanwhile; nothing was applied. Re-read checkpoints.
    Moved,
}

/// Applies the next batch after `at` to every projection in `group` (all at `at`), in one
/// transaction with their new checkpoints.
pub async fn step_group(
    db: &ReadDb,
    group: &[Projection],
    at: LogPosition,
) -> Result<Step, RunError> {
    let events = read_after(db, at, BATCH).await?;
    let Some(last) = events.last().map(|e| e.at) else {
        return Ok(Step::Idle);
    };
    // On PostgreSQL these commits do not wait for fsync (set per connection in `db`).
    let mut tx = db.pool().begin().await?;
    if db.backend() == Backend::Postgres {
        // Keeps a replay's swap (which holds it exclusively) from interleaving with this batch.
        sqlx::query("SELECT pg_advisory_xact_lock_shared($1)")
            .bind(crate::replay::SWAP_LOCK)
            .execute(&mut *tx)
            .await?;
    } else {
        // The write lock first, so no swap commits between the check below and this batch's
        // writes (a read snapshot taken before a swap could not write after it).
        sqlx::query("UPDATE projection_checkpoints SET name = name WHERE 0 = 1")
            .execute(&mut *tx)
            .await?;
    }
    // A replay's swap (or another process) may have moved the checkpoints since `at` was read:
    // applying from `at` then would write rows the swap already holds (duplicate keys). Start
    // again from what is stored instead.
    let params: Vec<String> = (0..group.len()).map(|i| format!("${}", i + 1)).collect();
    let sql = format!(
        "SELECT txid, position FROM projection_checkpoints WHERE name IN ({})",
        params.join(", ")
    );
    let mut query = sqlx::query(&sql);
    for p in group {
        query = query.bind(p.name().to_string());
    }
    for row in query.fetch_all(&mut *tx).await? {
        if LogPosition::new(row.try_get(0)?, row.try_get(1)?) != at {
            tx.rollback().await?;
            return Ok(Step::Moved);
        }
    }
    apply_events(&mut tx, group, &events).await?;
    let names: Vec<String> = (0..group.len()).map(|i| format!("${}", i + 6)).collect();
    let sql = format!(
        "UPDATE projection_checkpoints SET txid = $1, position = $2, updated_at = $3 \
         WHERE txid = $4 AND position = $5 AND name IN ({})",
        names.join(", ")
    );
    let mut query = sqlx::query(&sql)
        .bind(last.txid)
        .bind(last.position)
        .bind(chrono::Utc::now().to_rfc3339())
        .bind(at.txid)
        .bind(at.position);
    for p in group {
        query = query.bind(p.name().to_string());
    }
    let moved = query.execute(&mut *tx).await?;
    if moved.rows_affected() != group.len() as u64 {
        tx.rollback().await?;
        return Ok(Step::Moved);
    }
    tx.commit().await?;
    Ok(Step::Advanced(last))
}

/// Applies `events` to every projection in `group` on `conn` (inside the caller's transaction).
pub(crate) async fn apply_events(
    conn: &mut sqlx::AnyConnection,
    group: &[Projection],
    events: &[crate::log::StoredEvent],
) -> Result<(), RunError> {
    let mut writer = Writer::new(conn);
    for projection in group {
        for event in events {
            match projection.apply(&mut writer, event).await {
                Ok(()) => {}
                Err(e @ ApplyError::Decode { .. }) => {
                    // A payload that does not decode will never decode: record it and move on
                    // rather than stall every later event.
                    tracing::error!(projection = projection.name(), error = %e, "skipping undecodable event");
                }
                Err(e) => return Err(e.into()),
            }
        }
        projection.finish(&mut writer).await?;
    }
    writer.flush().await?;
    Ok(())
}

/// Applies the next batch after `at` to one projection.
pub async fn step(db: &ReadDb, projection: Projection, at: LogPosition) -> Result<Step, RunError> {
    step_group(db, &[projection], at).await
}

/// Applies everything readable now. Returns the final checkpoint.
pub async fn catch_up(db: &ReadDb, projection: Projection) -> Result<LogPosition, RunError> {
    let mut at = checkpoint(db, projection).await?;
    loop {
        match step(db, projection, at).await? {
            Step::Advanced(next) => at = next,
            Step::Moved => at = checkpoint(db, projection).await?,
            Step::Idle => {
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
    urgency: Arc<Urgency>,
}

/// How many read-your-writes waits are pending, and a way to hurry the follower for them.
#[derive(Default)]
struct Urgency {
    waiters: std::sync::atomic::AtomicUsize,
    wake: tokio::sync::Notify,
    /// Whether this process advances the projections now (always on SQLite; on PostgreSQL
    /// while it holds [`LEADER_LOCK`]).
    leading: std::sync::atomic::AtomicBool,
}

/// Counts one pending wait for as long as it lives.
struct Waiting<'a>(&'a Urgency);

impl<'a> Waiting<'a> {
    fn new(u: &'a Urgency) -> Self {
        u.waiters.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        u.wake.notify_one();
        Self(u)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0
            .waiters
            .fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
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

/// Starts the projections: one task follows the log for all of them. Projections at the same
/// checkpoint (the usual case) share each batch read and each transaction; one that is behind
/// (just reset) runs on its own until it catches up and joins the others.
pub fn start(db: ReadDb, signal: LogSignal) -> Running {
    start_polling(db, signal, IDLE_POLL)
}

/// As [`start`], an idle leader looking at the log every `idle_poll` for events nobody
/// announced.
pub fn start_polling(db: ReadDb, signal: LogSignal, idle_poll: Duration) -> Running {
    let (stop, stop_rx) = watch::channel(false);
    let mut checkpoints = HashMap::new();
    let mut senders = HashMap::new();
    for projection in Projection::ALL {
        let (tx, rx) = watch::channel(LogPosition::START);
        checkpoints.insert(projection, rx);
        senders.insert(projection, tx);
    }
    let urgency = Arc::new(Urgency::default());
    let task = tokio::spawn(follow(
        db,
        signal.subscribe(),
        senders,
        stop_rx,
        urgency.clone(),
        idle_poll,
    ));
    Running {
        handle: Projections {
            checkpoints: Arc::new(checkpoints),
            urgency,
        },
        stop,
        tasks: vec![task],
    }
}

/// The stored checkpoints, published as this process's positions (None when stopped).
async fn reload(
    db: &ReadDb,
    stop: &mut watch::Receiver<bool>,
    published: &HashMap<Projection, watch::Sender<LogPosition>>,
) -> Option<HashMap<Projection, LogPosition>> {
    let fresh = load_all(db, stop).await?;
    for (p, pos) in &fresh {
        published[p].send_replace(*pos);
    }
    Some(fresh)
}

async fn load_all(
    db: &ReadDb,
    stop: &mut watch::Receiver<bool>,
) -> Option<HashMap<Projection, LogPosition>> {
    let mut backoff = Duration::from_millis(50);
    loop {
        let mut all = HashMap::new();
        let mut failed = None;
        for p in Projection::ALL {
            match checkpoint(db, p).await {
                Ok(at) => {
                    all.insert(p, at);
                }
                Err(e) => failed = Some(e),
            }
        }
        match failed {
            None => return Some(all),
            Some(e) => {
                tracing::warn!(error = %e, "cannot read projection checkpoints; retrying");
                if sleep_or_stop(stop, backoff).await {
                    return None;
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

/// Projections grouped by checkpoint, furthest behind first.
fn groups(at: &HashMap<Projection, LogPosition>) -> Vec<(LogPosition, Vec<Projection>)> {
    let mut by: Vec<(LogPosition, Vec<Projection>)> = Vec::new();
    for p in Projection::ALL {
        let pos = at[&p];
        match by.iter_mut().find(|(q, _)| *q == pos) {
            Some((_, members)) => members.push(p),
            None => by.push((pos, vec![p])),
        }
    }
    by.sort_by_key(|(pos, _)| *pos);
    by
}

async fn follow(
    db: ReadDb,
    appended: watch::Receiver<LogPosition>,
    published: HashMap<Projection, watch::Sender<LogPosition>>,
    stop: watch::Receiver<bool>,
    urgency: Arc<Urgency>,
    idle_poll: Duration,
) {
    let mut leader = None;
    follow_leading(
        &db,
        appended,
        published,
        stop,
        urgency.clone(),
        &mut leader,
        idle_poll,
    )
    .await;
    urgency
        .leading
        .store(false, std::sync::atomic::Ordering::SeqCst);
    resign(&mut leader).await;
}

/// Waits as a standby: reports the stored checkpoints until this process takes the lock.
/// Returns the checkpoints to go on from, or `None` when stopped.
async fn stand_by(
    db: &ReadDb,
    published: &HashMap<Projection, watch::Sender<LogPosition>>,
    stop: &mut watch::Receiver<bool>,
    urgency: &Urgency,
    leader: &mut Option<PoolConnection<Any>>,
) -> Option<HashMap<Projection, LogPosition>> {
    let mut backoff = Duration::from_millis(50);
    let mut standing_by = false;
    loop {
        match try_lead(db).await {
            Ok(Some(conn)) => {
                if standing_by {
                    tracing::info!("this server now advances the projections (the leader is gone)");
                }
                *leader = Some(conn);
                // Go on from what the last leader stored.
                let fresh = load_all(db, stop).await?;
                for (p, pos) in &fresh {
                    published[p].send_replace(*pos);
                }
                return Some(fresh);
            }
            Ok(None) => {
                if !standing_by {
                    tracing::info!("another server advances the projections; this one stands by");
                    standing_by = true;
                }
                let fresh = load_all(db, stop).await?;
                for (p, pos) in &fresh {
                    published[p].send_replace(*pos);
                }
                backoff = Duration::from_millis(50);
                tokio::select! {
                    _ = tokio::time::sleep(STANDBY_POLL) => {}
                    _ = urgency.wake.notified() => {
                        // Someone waits to read their write: look again soon, not at once in a
                        // tight loop.
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                    _ = stop.changed() => return None,
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot take the projections' lock; retrying");
                if sleep_or_stop(stop, backoff).await {
                    return None;
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

async fn follow_leading(
    db: &ReadDb,
    mut appended: watch::Receiver<LogPosition>,
    published: HashMap<Projection, watch::Sender<LogPosition>>,
    mut stop: watch::Receiver<bool>,
    urgency: Arc<Urgency>,
    leader: &mut Option<PoolConnection<Any>>,
    idle_poll: Duration,
) {
    let db = db.clone();
    let shared = db.backend() == Backend::Postgres;
    let mut last_commit = tokio::time::Instant::now();
    let Some(mut at) = load_all(&db, &mut stop).await else {
        return;
    };
    for (p, pos) in &at {
        published[p].send_replace(*pos);
    }
    let mut backoff = Duration::from_millis(50);
    let mut quick = Duration::from_millis(1);
    let mut stalled_since: Option<tokio::time::Instant> = None;
    let mut checked = tokio::time::Instant::now();
    loop {
        if *stop.borrow() {
            return;
        }
        if shared && leader.is_some() && checked.elapsed() >= LEADER_CHECK {
            checked = tokio::time::Instant::now();
            if !still_leading(leader).await {
                tracing::warn!("the session holding the projections' lock is gone; standing by");
                resign(leader).await;
            }
        }
        if shared && leader.is_none() {
            urgency
                .leading
                .store(false, std::sync::atomic::Ordering::SeqCst);
            match stand_by(&db, &published, &mut stop, &urgency, leader).await {
                Some(fresh) => at = fresh,
                None => return,
            }
            checked = tokio::time::Instant::now();
        }
        urgency
            .leading
            .store(true, std::sync::atomic::Ordering::SeqCst);
        // Let events gather unless someone waits to read their own write.
        let since = last_commit.elapsed();
        if since < BATCH_WINDOW && urgency.waiters.load(std::sync::atomic::Ordering::SeqCst) == 0 {
            tokio::select! {
                _ = tokio::time::sleep(BATCH_WINDOW - since) => {}
                _ = urgency.wake.notified() => {}
                _ = stop.changed() => return,
            }
        }
        let latest = *appended.borrow_and_update();
        let mut progressed = false;
        let mut failed = false;
        for (pos, members) in groups(&at) {
            match step_group(&db, &members, pos).await {
                Ok(Step::Advanced(next)) => {
                    progressed = true;
                    last_commit = tokio::time::Instant::now();
                    for p in members {
                        at.insert(p, next);
                        published[&p].send_replace(next);
                    }
                }
                Ok(Step::Idle) => {}
                Ok(Step::Moved) => {
                    // Someone else (a replay, another process) moved a checkpoint: start again
                    // from what is stored.
                    progressed = true;
                    match reload(&db, &mut stop, &published).await {
                        Some(fresh) => at = fresh,
                        None => return,
                    }
                    break;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "projection step failed; retrying");
                    failed = true;
                    // The lock's session may be gone with the error (a database restart): take
                    // the lock again, or stand by if another server took it meanwhile.
                    resign(leader).await;
                    break;
                }
            }
        }
        if failed {
            if sleep_or_stop(&mut stop, backoff).await {
                return;
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
            // Whatever failed, go on from the stored checkpoints (a standby reads them anyway).
            if !shared {
                match reload(&db, &mut stop, &published).await {
                    Some(fresh) => at = fresh,
                    None => return,
                }
            }
            continue;
        }
        backoff = Duration::from_millis(50);
        if progressed {
            stalled_since = None;
            quick = Duration::from_millis(1);
            continue;
        }
        // Nothing readable. On PostgreSQL an event announced (by this process, or by another
        // server through `LISTEN/NOTIFY`) may not be readable yet while an older transaction is
        // still open: look again soon, backing off. Otherwise wait for the next announced
        // append, or poll for appends nobody announced.
        let behind = at.values().min().copied().unwrap_or(LogPosition::START);
        if latest > behind {
            // Events announced as written are not readable yet. On PostgreSQL that means an older
            // transaction is still open somewhere in the cluster (the xmin horizon is
            // cluster-wide): say so once it lasts, since it delays every read model.
            let since = *stalled_since.get_or_insert_with(tokio::time::Instant::now);
            if since.elapsed() > STALL_WARNING {
                tracing::warn!(
                    behind = behind.position,
                    written = latest.position,
                    "projections cannot advance: an older transaction is still open in the database \
                     (look for long-running or idle-in-transaction sessions in pg_stat_activity)"
                );
                stalled_since = Some(tokio::time::Instant::now());
            }
        } else {
            stalled_since = None;
        }
        let wait = if latest > behind {
            quick = (quick * 2).min(Duration::from_millis(50));
            quick
        } else {
            idle_poll
        };
        tokio::select! {
            _ = appended.changed() => {}
            _ = tokio::time::sleep(wait) => {}
            _ = stop.changed() => return,
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
        if which
            .iter()
            .all(|p| self.checkpoints.get(p).is_some_and(|rx| *rx.borrow() >= at))
        {
            return true;
        }
        let _waiting = Waiting::new(&self.urgency);
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

    /// Whether this process advances the projections now (on PostgreSQL only one server of a
    /// database does at a time).
    pub fn leading(&self) -> bool {
        self.urgency
            .leading
            .load(std::sync::atomic::Ordering::SeqCst)
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

/// Where the read models and the reactors stand: the head of the log and, for every projection
/// (one that never ran at checkpoint 0) and every reactor that has a checkpoint, its position
/// and lag in events. Reads only; used by `salon projections` and `/metrics`.
pub async fn status(db: &ReadDb) -> Result<(LogPosition, Vec<crate::log::Progress>), ReadError> {
    let (head, total, mut rows) = crate::log::progress(db).await?;
    for p in Projection::ALL {
        if !rows
            .iter()
            .any(|r| r.kind == "projection" && r.name == p.name())
        {
            rows.push(crate::log::Progress {
                name: p.name().to_string(),
                kind: "projection",
                checkpoint: 0,
                lag: total,
                updated_at: None,
            });
        }
    }
    rows.sort_by(|a, b| (a.kind, &a.name).cmp(&(b.kind, &b.name)));
    Ok((head, rows))
}
