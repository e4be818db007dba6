//! Reactors: the parts of the write side that follow the log and act on the world (hold expiry,
//! mail, refunds, outgoing webhooks).
//!
//! They work in two steps, so that nothing is done twice and nothing is lost:
//!
//! 1. **Plan.** One follower reads the log from its own checkpoint (`reactor_checkpoints`, not a
//!    read model: replaying the read models never touches it). Each planner turns an event into
//!    outbox items whose ids are derived from the event (`mail:confirmation:<booking>`), and the
//!    items and the new checkpoint are committed together, `ON CONFLICT DO NOTHING`: a crash
//!    re-reads the batch and plans the same ids again, which adds nothing.
//! 2. **Deliver.** Per channel, a handler takes the items that are due, claims each one (a
//!    conditional update, so two servers never take the same item), acts, and marks it done, or
//!    pushes it back with a growing delay when the world is not answering (SMTP down, Stripe
//!    5xx). A server killed between acting and marking acts again after the claim's lease runs
//!    out: at least once, and an item is never done twice by design.
//!
//! Timers are items too: a hold's expiry and a reminder are items due at a time. Time comes from
//! a [`Clock`], which tests hold still and move by hand ("paused time").

pub mod holds;
pub mod mail;
pub mod plan;
pub mod refunds;
pub mod webhooks;

use chrono::{DateTime, Duration, TimeZone, Utc};
use futures::future::BoxFuture;
use migrations::db::ReadDb;
use migrations::log::{head, read_after, ReadError, StoredEvent};
use migrations::{LogPosition, LogSignal};
use serde_json::Value;
use sqlx::Row;
use std::sync::{Arc, Mutex};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The follower's checkpoint name.
const FOLLOWER: &str = "reactors";
/// Events planned per transaction.
const BATCH: i64 = 200;
/// Items taken per channel per round.
const DUE_BATCH: i64 = 50;
/// How long a claimed item is left alone before another round (or server) may retry it.
const LEASE_SECONDS: i64 = 300;
/// Longest sleep between rounds when nothing is due (catches other servers' events).
const IDLE_POLL: std::time::Duration = std::time::Duration::from_millis(500);

/// Where reactors get the time: the system clock, or a clock that stands still until a test
/// moves it.
#[derive(Debug, Clone, Default)]
pub enum Clock {
    #[default]
    System,
    Manual(Arc<Mutex<DateTime<Utc>>>),
}

impl Clock {
    pub fn manual(at: DateTime<Utc>) -> Self {
        Self::Manual(Arc::new(Mutex::new(at)))
    }
    pub fn now(&self) -> DateTime<Utc> {
        match self {
            Self::System => Utc::now(),
            Self::Manual(at) => *at.lock().unwrap_or_else(|p| p.into_inner()),
        }
    }
    /// Moves a manual clock forward (the system clock moves by itself).
    pub fn advance(&self, by: Duration) {
        if let Self::Manual(at) = self {
            *at.lock().unwrap_or_else(|p| p.into_inner()) += by;
        }
    }
}

/// One piece of work planned from an event.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// Derived from the event, so planning the same event twice yields the same id.
    pub id: String,
    pub channel: &'static str,
    pub kind: String,
    pub booking: Option<String>,
    pub payload: Value,
    /// Not before.
    pub due: DateTime<Utc>,
}

/// An item as stored, ready to act on.
#[derive(Debug, Clone)]
pub struct Due {
    pub id: String,
    pub kind: String,
    pub booking: Option<String>,
    pub payload: Value,
    pub position: i64,
    /// Tries so far, this one included.
    pub attempts: i64,
}

/// What acting on an item came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// Done; the text says how (kept as the item's outcome).
    Done(String),
    /// The world did not answer; try again later.
    Retry(String),
    /// Try again at this time (a timer that is not due yet after all).
    At(DateTime<Utc>),
}

/// Turns events into items. Planners must be deterministic in the ids they give.
pub trait Planner: Send + Sync {
    /// Called with each batch before its events are planned one by one, in the same order. A
    /// planner that keeps state derived from the log catches up here. Does nothing by default.
    fn prepare<'a>(&'a self, _batch: &'a [StoredEvent]) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async { Ok(()) })
    }
    fn plan<'a>(&'a self, event: &'a StoredEvent) -> BoxFuture<'a, Result<Vec<Item>, String>>;
}

/// Acts on the due items of one channel.
pub trait Handler: Send + Sync {
    fn channel(&self) -> &'static str;
    fn handle<'a>(&'a self, item: &'a Due, now: DateTime<Utc>) -> BoxFuture<'a, Attempt>;
}

#[derive(Debug, thiserror::Error)]
pub enum ReactorError {
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error(transparent)]
    Sql(#[from] sqlx::Error),
    #[error("planning failed: {0}")]
    Plan(String),
}

/// Delays between tries: `base` doubling up to `max`.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub base: Duration,
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            base: Duration::seconds(10),
            max: Duration::minutes(30),
        }
    }
}

impl Backoff {
    pub fn after(&self, attempts: i64) -> Duration {
        let doublings = attempts.clamp(1, 20) - 1;
        let delay = self.base.num_milliseconds().saturating_mul(1 << doublings);
        Duration::milliseconds(delay.min(self.max.num_milliseconds()))
    }
}

/// What one round did (tests read it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Round {
    pub events: usize,
    pub planned: usize,
    pub done: usize,
    pub retried: usize,
}

/// The follower and the channel handlers of one process.
pub struct Reactors {
    db: ReadDb,
    clock: Clock,
    backoff: Backoff,
    planners: Vec<Arc<dyn Planner>>,
    handlers: Vec<Arc<dyn Handler>>,
    /// Serialises rounds within the process (the background loop and a test's explicit round).
    turn: tokio::sync::Mutex<()>,
}

impl Reactors {
    pub fn new(db: ReadDb, clock: Clock, backoff: Backoff) -> Self {
        Self {
            db,
            clock,
            backoff,
            planners: Vec::new(),
            handlers: Vec::new(),
            turn: tokio::sync::Mutex::new(()),
        }
    }
    pub fn plan_with(mut self, planner: Arc<dyn Planner>) -> Self {
        self.planners.push(planner);
        self
    }
    pub fn handle_with(mut self, handler: Arc<dyn Handler>) -> Self {
        self.handlers.push(handler);
        self
    }
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// Plans every event readable now, then acts on every item due now.
    pub async fn round(&self) -> Result<Round, ReactorError> {
        let _turn = self.turn.lock().await;
        let mut round = Round::default();
        loop {
            let (events, planned) = self.follow().await?;
            round.events += events;
            round.planned += planned;
            if events == 0 {
                break;
            }
        }
        let now = self.clock.now();
        for handler in &self.handlers {
            let (done, retried) = self.deliver(handler.as_ref(), now).await?;
            round.done += done;
            round.retried += retried;
        }
        Ok(round)
    }

    /// Makes sure the follower has a checkpoint (call before serving requests: a new follower
    /// starts at the head of the log, and what is appended after this is planned).
    pub async fn init(&self) -> Result<LogPosition, ReactorError> {
        self.checkpoint().await
    }

    /// The checkpoint; a new follower starts at the head of the log, so adding reactors to a
    /// store with history does not mail every booking ever made.
    async fn checkpoint(&self) -> Result<LogPosition, ReactorError> {
        let row = sqlx::query("SELECT txid, position FROM reactor_checkpoints WHERE name = $1")
            .bind(FOLLOWER)
            .fetch_optional(self.db.pool())
            .await?;
        if let Some(row) = row {
            return Ok(LogPosition::new(row.try_get(0)?, row.try_get(1)?));
        }
        let at = head(&self.db).await?;
        sqlx::query(
            "INSERT INTO reactor_checkpoints (name, txid, position, updated_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO NOTHING",
        )
        .bind(FOLLOWER)
        .bind(at.txid)
        .bind(at.position)
        .bind(Utc::now().to_rfc3339())
        .execute(self.db.pool())
        .await?;
        Box::pin(self.checkpoint()).await
    }

    /// Plans one batch; returns (events read, items planned).
    async fn follow(&self) -> Result<(usize, usize), ReactorError> {
        let at = self.checkpoint().await?;
        let events = read_after(&self.db, at, BATCH).await?;
        let Some(last) = events.last().map(|e| e.at) else {
            return Ok((0, 0));
        };
        for planner in &self.planners {
            planner.prepare(&events).await.map_err(ReactorError::Plan)?;
        }
        let mut items: Vec<(i64, Item)> = Vec::new();
        for event in &events {
            for planner in &self.planners {
                let planned = planner.plan(event).await.map_err(ReactorError::Plan)?;
                items.extend(planned.into_iter().map(|i| (event.at.position, i)));
            }
        }
        let now = Utc::now().to_rfc3339();
        let mut tx = self.db.pool().begin().await?;
        let mut planned = 0;
        for (position, item) in &items {
            let inserted = sqlx::query(
                "INSERT INTO outbox (id, channel, kind, booking, payload, position, created_at, due_epoch) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO NOTHING",
            )
            .bind(item.id.clone())
            .bind(item.channel)
            .bind(item.kind.clone())
            .bind(item.booking.clone())
            .bind(item.payload.to_string())
            .bind(*position)
            .bind(now.clone())
            .bind(item.due.timestamp())
            .execute(&mut *tx)
            .await?;
            planned += inserted.rows_affected() as usize;
        }
        let moved = sqlx::query(
            "UPDATE reactor_checkpoints SET txid = $2, position = $3, updated_at = $4 \
             WHERE name = $1 AND txid = $5 AND position = $6",
        )
        .bind(FOLLOWER)
        .bind(last.txid)
        .bind(last.position)
        .bind(now)
        .bind(at.txid)
        .bind(at.position)
        .execute(&mut *tx)
        .await?;
        if moved.rows_affected() == 0 {
            // Another server planned this batch first: its items are the same ones.
            tx.rollback().await?;
            return Ok((events.len(), 0));
        }
        tx.commit().await?;
        Ok((events.len(), planned))
    }

    /// Acts on the due items of one channel; returns (done, retried).
    async fn deliver(
        &self,
        handler: &dyn Handler,
        now: DateTime<Utc>,
    ) -> Result<(usize, usize), ReactorError> {
        let rows = sqlx::query(
            "SELECT id, kind, booking, payload, position, due_epoch, attempts FROM outbox \
             WHERE channel = $1 AND done_at IS NULL AND due_epoch <= $2 \
             ORDER BY due_epoch, position, id LIMIT $3",
        )
        .bind(handler.channel())
        .bind(now.timestamp())
        .bind(DUE_BATCH)
        .fetch_all(self.db.pool())
        .await?;
        let (mut done, mut retried) = (0, 0);
        for row in rows {
            let id: String = row.try_get("id")?;
            let due_epoch: i64 = row.try_get("due_epoch")?;
            let claimed = sqlx::query(
                "UPDATE outbox SET due_epoch = $2, attempts = attempts + 1 \
                 WHERE id = $1 AND done_at IS NULL AND due_epoch = $3",
            )
            .bind(id.clone())
            .bind(now.timestamp() + LEASE_SECONDS)
            .bind(due_epoch)
            .execute(self.db.pool())
            .await?;
            if claimed.rows_affected() == 0 {
                continue;
            }
            let payload: String = row.try_get("payload")?;
            let item = Due {
                id: id.clone(),
                kind: row.try_get("kind")?,
                booking: row.try_get("booking")?,
                payload: serde_json::from_str(&payload).unwrap_or(Value::Null),
                position: row.try_get("position")?,
                attempts: row.try_get::<i64, _>("attempts")? + 1,
            };
            match handler.handle(&item, now).await {
                Attempt::Done(outcome) => {
                    tracing::debug!(item = %id, outcome = %outcome, "reactor item done");
                    sqlx::query(
                        "UPDATE outbox SET done_at = $2, outcome = $3, last_error = NULL WHERE id = $1",
                    )
                    .bind(id)
                    .bind(now.to_rfc3339())
                    .bind(outcome)
                    .execute(self.db.pool())
                    .await?;
                    done += 1;
                }
                Attempt::Retry(error) => {
                    let next = now + self.backoff.after(item.attempts);
                    tracing::warn!(item = %id, attempts = item.attempts, error = %error, retry_at = %next, "reactor item failed; will retry");
                    self.push_back(&id, next, Some(&error)).await?;
                    retried += 1;
                }
                Attempt::At(at) => self.push_back(&id, at, None).await?,
            }
        }
        Ok((done, retried))
    }

    async fn push_back(
        &self,
        id: &str,
        at: DateTime<Utc>,
        error: Option<&str>,
    ) -> Result<(), ReactorError> {
        sqlx::query("UPDATE outbox SET due_epoch = $2, last_error = $3 WHERE id = $1")
            .bind(id.to_string())
            .bind(at.timestamp())
            .bind(error.map(str::to_string))
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    /// When the next pending item falls due.
    async fn next_due(&self) -> Result<Option<DateTime<Utc>>, ReactorError> {
        let next: Option<i64> =
            sqlx::query_scalar("SELECT MIN(due_epoch) FROM outbox WHERE done_at IS NULL")
                .fetch_one(self.db.pool())
                .await?;
        Ok(next.and_then(|s| Utc.timestamp_opt(s, 0).single()))
    }

    /// Runs rounds in the background: on every append this process announces, when an item
    /// falls due, and at least every half second (events of other servers).
    pub fn start(self: Arc<Self>, signal: &LogSignal) -> RunningReactors {
        let (stop_tx, mut stop) = watch::channel(false);
        let mut appended = signal.subscribe();
        let task = tokio::spawn(async move {
            let mut failures: i64 = 0;
            loop {
                let pause = match self.round().await {
                    Ok(_) => {
                        failures = 0;
                        match self.next_due().await {
                            Ok(Some(at)) => (at - self.clock.now())
                                .to_std()
                                .unwrap_or_default()
                                .clamp(std::time::Duration::from_millis(20), IDLE_POLL),
                            _ => IDLE_POLL,
                        }
                    }
                    Err(e) => {
                        failures += 1;
                        tracing::warn!(error = %e, "reactors could not run a round; retrying");
                        self.backoff
                            .after(failures)
                            .to_std()
                            .unwrap_or(IDLE_POLL)
                            .min(std::time::Duration::from_secs(5))
                    }
                };
                tokio::select! {
                    _ = stop.changed() => break,
                    _ = appended.changed() => {}
                    _ = tokio::time::sleep(pause) => {}
                }
            }
        });
        RunningReactors {
            stop: stop_tx,
            task,
        }
    }
}

/// The background loop of [`Reactors::start`].
pub struct RunningReactors {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl RunningReactors {
    /// Stops after the current round.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

/// The booking id of a Booking event, if it is one.
pub fn booking_of(event: &StoredEvent) -> Option<&str> {
    (event.aggregate_type == "Booking").then_some(event.aggregate_id.as_str())
}

impl Due {
    /// The booking this item is about; an item naming none is settled as such.
    pub fn booking_id(&self) -> Result<domain::ids::BookingId, Attempt> {
        self.booking
            .as_deref()
            .and_then(|b| domain::ids::BookingId::parse(b).ok())
            .ok_or_else(|| Attempt::Done("no booking named".into()))
    }
}

/// The audit metadata of what a reactor does because of an item.
pub fn metadata_for(item: &Due, actor: &str) -> domain::metadata::EventMetadata {
    domain::metadata::EventMetadata::new(actor, domain::metadata::Source::Job)
        .with_causation(format!("outbox:{}", item.id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_ceiling() {
        let b = Backoff {
            base: Duration::seconds(10),
            max: Duration::seconds(60),
        };
        let delays: Vec<i64> = (1..=6).map(|n| b.after(n).num_seconds()).collect();
        assert_eq!(delays, vec![10, 20, 40, 60, 60, 60]);
        assert_eq!(b.after(0).num_seconds(), 10);
        assert_eq!(b.after(i64::MAX).num_seconds(), 60);
    }

    #[test]
    fn a_manual_clock_moves_only_when_told() {
        let at = Utc.with_ymd_and_hms(2027, 3, 1, 12, 0, 0).unwrap();
        let clock = Clock::manual(at);
        assert_eq!(clock.now(), at);
        clock.advance(Duration::minutes(16));
        assert_eq!(clock.now(), at + Duration::minutes(16));
    }
}
