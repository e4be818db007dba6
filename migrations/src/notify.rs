//! Appends announced across servers on PostgreSQL, through `LISTEN/NOTIFY`.
//!
//! Several `salon serve` processes can share one database. Each one's [`LogSignal`] knows its
//! own appends at once; without this module it learns about the others' only when it next polls
//! the log. With it, every server runs two small tasks:
//!
//! - the **notifier** follows this process's own appends and, after they commit, sends
//!   `pg_notify('salon_events', '<txid>:<position>')` (the newest position; a burst of appends
//!   becomes one notification or a few, never a queue);
//! - the **listener** holds one connection of its own (application name `salon-listener`) that
//!   `LISTEN`s on the channel, and turns each notification into [`LogSignal::noticed`], which
//!   wakes the live alerts, the projections and the reactors. When that connection drops (a
//!   database restart, a terminated session) it reconnects with backoff and then wakes everyone
//!   once ([`LogSignal::wake`]), since notifications sent meanwhile are lost.
//!
//! Why not a trigger on `events` that notifies inside the writer's transaction: PostgreSQL (up to
//! 17 at least) serialises the commits of all notifying transactions behind one lock held through
//! the commit's WAL flush, so concurrent appends lose group commit. Measured here with pgbench, 16
//! writers of one-row inserts: about 5 000 commits/s plain, about 500 with a statement-level
//! `pg_notify` trigger. Sent after the commit, from a connection with `synchronous_commit = off`
//! (the read pool's), a notification costs the writers nothing they wait for.
//!
//! Notifications are hints, never the truth: everyone still reads the log itself, and still
//! polls it (more slowly) for appends nobody announced — by a process that died between its
//! commit and its notification, or while the listener is reconnecting. (CLI commands that
//! append announce once before they exit: [`announce_once`].) A notification whose payload is not a position
//! (an operator's bare `NOTIFY salon_events`) wakes everyone.

use crate::db::ReadDb;
use crate::{LogPosition, LogSignal};
use sqlx::postgres::{PgConnectOptions, PgListener, PgPool, PgPoolOptions};
use std::str::FromStr;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The channel every append is announced on.
pub const CHANNEL: &str = "salon_events";
/// The `application_name` of the listener's session (find it in `pg_stat_activity`).
pub const APPLICATION_NAME: &str = "salon-listener";
/// First pause before reconnecting or re-sending; doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(50);
/// Longest pause between attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// A notification's payload for an append up to `at`: `<txid>:<position>`.
pub fn payload(at: LogPosition) -> String {
    format!("{}:{}", at.txid, at.position)
}

/// The position a payload announces; `None` for anything else (which only wakes).
pub fn parse(payload: &str) -> Option<LogPosition> {
    let (txid, position) = payload.split_once(':')?;
    let txid: i64 = txid.parse().ok()?;
    let position: i64 = position.parse().ok()?;
    (txid >= 0 && position > 0).then_some(LogPosition::new(txid, position))
}

/// The notifier and the listener of one server.
pub struct Fanout {
    stop: watch::Sender<bool>,
    listening: watch::Receiver<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Fanout {
    /// Starts announcing this process's appends (through `db`'s pool) and listening for the
    /// others' (on a connection of its own to `url`). PostgreSQL only.
    pub fn start(url: &str, db: ReadDb, signal: LogSignal) -> Self {
        let (stop, stop_rx) = watch::channel(false);
        let (listening_tx, listening) = watch::channel(false);
        let tasks = vec![
            tokio::spawn(announce(db, signal.subscribe_own(), stop_rx.clone())),
            tokio::spawn(listen(url.to_string(), signal, listening_tx, stop_rx)),
        ];
        Self {
            stop,
            listening,
            tasks,
        }
    }

    /// Whether the listener is connected and listening, now and as it changes.
    pub fn listening(&self) -> watch::Receiver<bool> {
        self.listening.clone()
    }

    /// Stops both tasks and closes the listener's connection.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
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

/// The notifier: announces the newest own append whenever it moves. Appends made while a
/// notification is being sent are announced together by the next one.
async fn announce(
    db: ReadDb,
    mut own: watch::Receiver<LogPosition>,
    mut stop: watch::Receiver<bool>,
) {
    // Appends made before this started (the demo seed) are announced once too.
    let mut pending = *own.borrow_and_update() != LogPosition::START;
    loop {
        if !pending {
            tokio::select! {
                changed = own.changed() => {
                    if changed.is_err() {
                        return;
                    }
                }
                _ = stop.changed() => return,
            }
        }
        if *stop.borrow() {
            return;
        }
        let at = *own.borrow_and_update();
        pending = false;
        let mut backoff = FIRST_BACKOFF;
        let mut failures = 0u32;
        loop {
            // The read pool's sessions run with `synchronous_commit = off`: this tiny
            // transaction does not wait for a disk flush.
            let sent = sqlx::query("SELECT pg_notify($1, $2)::text AS sent")
                .bind(CHANNEL)
                .bind(payload(at))
                .execute(db.pool())
                .await;
            match sent {
                Ok(_) => {
                    if failures > 0 {
                        tracing::info!("announcing appends to the other servers again");
                    }
                    break;
                }
                Err(e) => {
                    if failures == 0 {
                        tracing::warn!(error = %e, "cannot announce appends to the other servers (they will find them by polling); retrying");
                    }
                    failures += 1;
                    if sleep_or_stop(&mut stop, backoff).await {
                        return;
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    // Announce the newest position, not a stale one.
                    if own.has_changed().unwrap_or(false) {
                        pending = true;
                        break;
                    }
                }
            }
        }
    }
}

/// Announces once that this process appended up to `at`, on a connection of its own, for a
/// short-lived process that runs no notifier (a CLI command): the servers see its events at
/// once instead of at their next poll. Does nothing on SQLite or when nothing was appended;
/// a failure is only logged (the servers' poll still finds the events).
pub async fn announce_once(url: &str, at: LogPosition) {
    use sqlx::Connection;
    if crate::Backend::of_url(url) != Some(crate::Backend::Postgres) || at == LogPosition::START {
        return;
    }
    let sent = async {
        let mut conn = sqlx::PgConnection::connect(url).await?;
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANNEL)
            .bind(payload(at))
            .execute(&mut conn)
            .await?;
        conn.close().await
    }
    .await;
    if let Err(e) = sent {
        tracing::warn!(error = %e, "cannot announce the appends to the servers (they will find them by polling)");
    }
}

/// Opens the listener's session and subscribes to [`CHANNEL`].
async fn connect(url: &str) -> Result<(PgPool, PgListener), sqlx::Error> {
    let options = PgConnectOptions::from_str(url)?.application_name(APPLICATION_NAME);
    // A pool of one, only to open the session: no lifetime or idle limits (the session lives as
    // long as it works), no retry inside sqlx (this module reconnects with its own backoff).
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .min_connections(0)
        .max_lifetime(None)
        .idle_timeout(None)
        .acquire_timeout(Duration::from_secs(5))
        .connect_lazy_with(options);
    let mut listener = match PgListener::connect_with(&pool).await {
        Ok(l) => l,
        Err(e) => {
            pool.close().await;
            return Err(e);
        }
    };
    // A lost connection returns at once (`Ok(None)`), so the loop below decides when to retry.
    listener.eager_reconnect(false);
    if let Err(e) = listener.listen(CHANNEL).await {
        drop(listener);
        pool.close().await;
        return Err(e);
    }
    Ok((pool, listener))
}

/// The listener: notifications become wake-ups; a lost session is opened again with backoff,
/// and everyone is woken once it is back.
async fn listen(
    url: String,
    signal: LogSignal,
    listening: watch::Sender<bool>,
    mut stop: watch::Receiver<bool>,
) {
    let mut backoff = FIRST_BACKOFF;
    let mut failures = 0u32;
    let mut ever = false;
    loop {
        if *stop.borrow() {
            return;
        }
        let opened = tokio::select! {
            opened = connect(&url) => opened,
            _ = stop.changed() => return,
        };
        match opened {
            Ok((pool, mut listener)) => {
                if failures > 0 || ever {
                    tracing::info!("listening for other servers' appends again");
                } else {
                    tracing::debug!(channel = CHANNEL, "listening for other servers' appends");
                }
                ever = true;
                failures = 0;
                backoff = FIRST_BACKOFF;
                listening.send_replace(true);
                // Anything appended while nobody listened was not announced here: look now.
                signal.wake();
                let stopped = loop {
                    tokio::select! {
                        received = listener.try_recv() => match received {
                            Ok(Some(n)) => match parse(n.payload()) {
                                Some(at) => signal.noticed(at),
                                None => signal.wake(),
                            },
                            Ok(None) => {
                                tracing::warn!("lost the connection that listens for other servers' appends; reconnecting (polling meanwhile)");
                                break false;
                            }
                            Err(e) => {
                                tracing::warn!(error = %e, "the connection that listens for other servers' appends failed; reconnecting (polling meanwhile)");
                                break false;
                            }
                        },
                        _ = stop.changed() => break true,
                    }
                };
                listening.send_replace(false);
                drop(listener);
                pool.close().await;
                if stopped {
                    return;
                }
            }
            Err(e) => {
                if failures == 0 {
                    tracing::warn!(error = %e, "cannot listen for other servers' appends (polling meanwhile); retrying");
                } else {
                    tracing::debug!(error = %e, failures, "still cannot listen for other servers' appends");
                }
                failures += 1;
            }
        }
        if sleep_or_stop(&mut stop, backoff).await {
            return;
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_round_trip_and_junk_only_wakes() {
        let at = LogPosition::new(812, 1043);
        assert_eq!(payload(at), "812:1043");
        assert_eq!(parse(&payload(at)), Some(at));
        assert_eq!(parse("0:7"), Some(LogPosition::new(0, 7)));
        for junk in [
            "", "1043", "a:b", "1:", ":2", "-1:5", "3:0", "1:2:3", " 1:2",
        ] {
            assert_eq!(parse(junk), None, "{junk:?}");
        }
    }

    #[test]
    fn the_signal_keeps_own_and_noticed_appends_apart() {
        let signal = LogSignal::default();
        let mut all = signal.subscribe();
        let mut own = signal.subscribe_own();
        signal.noticed(LogPosition::new(5, 10));
        assert!(all.has_changed().unwrap());
        assert!(!own.has_changed().unwrap());
        assert_eq!(
            signal.last(),
            LogPosition::START,
            "not this process's write"
        );
        assert_eq!(*all.borrow_and_update(), LogPosition::new(5, 10));
        // An older position heard of later wakes nobody.
        signal.noticed(LogPosition::new(5, 9));
        assert!(!all.has_changed().unwrap());
        signal.appended(LogPosition::new(6, 11));
        assert!(own.has_changed().unwrap());
        assert_eq!(*own.borrow_and_update(), LogPosition::new(6, 11));
        assert_eq!(signal.last(), LogPosition::new(6, 11));
        assert_eq!(*all.borrow_and_update(), LogPosition::new(6, 11));
        // A wake without a position.
        signal.wake();
        assert!(all.has_changed().unwrap());
        assert_eq!(*all.borrow_and_update(), LogPosition::new(6, 11));
    }
}
