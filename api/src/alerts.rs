//! Live alerts: one broadcaster per process follows the event log from its head and fans the
//! alert-worthy events (new bookings, payments, cancellations, …) out to every subscriber of
//! `/events/stream` through a `tokio::sync::broadcast` channel. It reads the log when an
//! append is announced: this process's own at once, another server's on PostgreSQL through
//! `LISTEN/NOTIFY` (`migrations::notify`), and anything else at its next poll.
//!
//! A subscriber never depends on the broadcast alone. It subscribes first, then reads the log
//! itself from where it resumes (`Last-Event-ID`, or the head when it connects) until it is
//! caught up, then takes the broadcast, skipping what it already sent. Since the broadcaster
//! only sends what was readable in the log, everything sent before the subscription is covered
//! by that read, and everything after arrives through the channel: no gap and no duplicate at
//! the seam. A subscriber that falls behind the channel's buffer (`Lagged`) goes back to the
//! log from the last position it handled and catches up the same way.
//!
//! Subscribers are pulled by the HTTP body, so a slow client only makes its own subscription
//! lag; the broadcaster never waits for anyone.

use chrono::{DateTime, Utc};
use migrations::{LogPosition, LogSignal};
use projections::log::{head, locate, read_after, ReadError, StoredEvent};
use projections::ReadDb;
use serde::Serialize;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;

/// The events pushed as alerts, as `(aggregate type, event type)`. A pattern ending in `*`
/// matches every name it starts (`"*"` alone matches any). Some of these types do not exist
/// yet; they flow as soon as the write side appends them.
pub const ALERTS: &[(&str, &str)] = &[
    ("Booking", "BookingRequested"),
    ("Booking", "BookingHeld"),
    ("Booking", "BookingConfirmed"),
    ("Booking", "CheckoutStarted"),
    ("Booking", "DepositPaid"),
    ("Booking", "DepositRefunded"),
    ("Booking", "DepositFailed"),
    ("Booking", "BookingCancelled"),
    ("Booking", "BookingRescheduled"),
    ("Booking", "HoldExpired"),
    ("Booking", "BookingCompleted"),
    ("Booking", "BookingNoShow"),
    ("*", "Review*"),
];

/// Messages the broadcast channel keeps for a slow subscriber before it lags.
pub const DEFAULT_CAPACITY: usize = 1024;
/// Events read from the log per query.
const BATCH: i64 = 500;
/// How often the broadcaster looks at the log for events nobody announced (another process's,
/// when no notification carries them; see `migrations::notify`), unless told otherwise.
pub const POLL: Duration = Duration::from_millis(250);
/// Longest pause between retries after a read error.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

fn matches(pattern: &str, value: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => value.starts_with(prefix),
        None => pattern == value,
    }
}

/// Is this event pushed as an alert? Its type must also be a plain name (it becomes the SSE
/// `event:` field, which cannot hold line breaks).
pub fn is_alert(aggregate_type: &str, event_type: &str) -> bool {
    !event_type.is_empty()
        && event_type
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && ALERTS
            .iter()
            .any(|(a, e)| matches(a, aggregate_type) && matches(e, event_type))
}

/// One alert, ready to send.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    /// Where the event sits in the log.
    pub at: LogPosition,
    pub event_type: String,
    /// The SSE `data:` line: `{"position", "event_type", "aggregate_id", "recorded_at",
    /// "actor", "summary", "payload"}` as one line of JSON.
    pub data: String,
}

impl Alert {
    /// The alert for `event`, or `None` when the event is not alert-worthy.
    pub fn of(event: &StoredEvent) -> Option<Self> {
        if !is_alert(&event.aggregate_type, &event.event_type) {
            return None;
        }
        let audit = event.audit();
        let data = AlertData {
            position: event.at.position,
            event_type: &event.event_type,
            aggregate_id: &event.aggregate_id,
            recorded_at: audit.recorded_at,
            actor: &audit.actor,
            summary: projections::summary::summarize(event),
            payload: &event.payload,
        };
        // Compact JSON: string contents are escaped, so this is one line.
        match serde_json::to_string(&data) {
            Ok(data) => Some(Self {
                at: event.at,
                event_type: event.event_type.clone(),
                data,
            }),
            Err(e) => {
                tracing::error!(position = event.at.position, error = %e, "alert not encodable; skipped");
                None
            }
        }
    }
}

/// The `data:` of one alert on `GET /events/stream` (one line of JSON).
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Alert, example = json!({
    "position": 1042,
    "event_type": "BookingConfirmed",
    "aggregate_id": "0193b1f2-1c9e-7d3a-8f21-5b6a7c8d9e0f",
    "recorded_at": "2027-03-02T14:12:09.411Z",
    "actor": "client",
    "summary": "Booking confirmed",
    "payload": {"BookingConfirmed": {}}
}))]
pub(crate) struct AlertData<'a> {
    /// The event's log position (also the SSE `id:`).
    position: i64,
    /// Also the SSE `event:`.
    event_type: &'a str,
    aggregate_id: &'a str,
    recorded_at: DateTime<Utc>,
    /// Who did it (`client`, `token:<name>`, `system`, …).
    actor: &'a str,
    /// The audit log's sentence.
    summary: String,
    /// The event as stored (client details included).
    #[schema(value_type = Object)]
    payload: &'a serde_json::Value,
}

/// The process's broadcaster and the way to subscribe to it.
pub struct Alerts {
    read: ReadDb,
    sender: broadcast::Sender<Arc<Alert>>,
    followed: watch::Receiver<LogPosition>,
    stop: watch::Sender<bool>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Alerts {
    /// Starts the broadcaster at the current head of the log: it alerts about what is appended
    /// from now on (subscribers replay older events from the log themselves).
    pub async fn start(read: ReadDb, signal: &LogSignal) -> Result<Arc<Self>, ReadError> {
        Self::start_with(read, signal, DEFAULT_CAPACITY).await
    }

    /// As [`Alerts::start`], keeping `capacity` messages for slow subscribers.
    pub async fn start_with(
        read: ReadDb,
        signal: &LogSignal,
        capacity: usize,
    ) -> Result<Arc<Self>, ReadError> {
        Self::start_polling(read, signal, capacity, POLL).await
    }

    /// As [`Alerts::start_with`], looking at the log every `poll` for events nobody announced.
    pub async fn start_polling(
        read: ReadDb,
        signal: &LogSignal,
        capacity: usize,
        poll: Duration,
    ) -> Result<Arc<Self>, ReadError> {
        let at = head(&read).await?;
        let (sender, _) = broadcast::channel(capacity.max(1));
        let (followed_tx, followed) = watch::channel(at);
        let (stop, stop_rx) = watch::channel(false);
        let task = tokio::spawn(broadcast_log(
            read.clone(),
            at,
            signal.subscribe(),
            sender.clone(),
            followed_tx,
            stop_rx,
            poll,
        ));
        Ok(Arc::new(Self {
            read,
            sender,
            followed,
            stop,
            task: Mutex::new(Some(task)),
        }))
    }

    /// How far the broadcaster has read the log.
    pub fn followed(&self) -> LogPosition {
        *self.followed.borrow()
    }

    /// Where a subscriber starts: after the event at `last_event_id` when given (0: the start
    /// of the log), else at the head of the log now. An id that names no event (it did not come
    /// from this log) starts at the head, like a fresh connection.
    pub async fn resume_point(&self, last_event_id: Option<i64>) -> Result<LogPosition, ReadError> {
        if let Some(id) = last_event_id {
            if let Some(at) = locate(&self.read, id).await? {
                return Ok(at);
            }
            tracing::debug!(
                last_event_id = id,
                "Last-Event-ID names no event; starting at the head"
            );
        }
        head(&self.read).await
    }

    /// Every alert after `from`, in log order, first from the log and then live, until the
    /// broadcaster stops.
    pub fn subscribe(&self, from: LogPosition) -> Subscription {
        Subscription {
            read: self.read.clone(),
            live: self.sender.subscribe(),
            stop: self.stop.subscribe(),
            cursor: from,
            catching_up: true,
            pending: VecDeque::new(),
            backoff: Duration::from_millis(50),
        }
    }

    /// Ends every subscription and stops the broadcaster (on server shutdown: open streams
    /// would otherwise keep the graceful shutdown waiting).
    pub fn stop(&self) {
        let _ = self.stop.send(true);
    }

    /// Stops and waits for the broadcaster task.
    pub async fn shutdown(&self) {
        self.stop();
        let task = self.task.lock().ok().and_then(|mut t| t.take());
        if let Some(task) = task {
            let _ = task.await;
        }
    }
}

/// The broadcaster: reads the log after `at` whenever an append is announced (this process's,
/// or another server's through `LISTEN/NOTIFY`) and at least every `poll` (appends nobody
/// announced), and sends each alert.
async fn broadcast_log(
    read: ReadDb,
    mut at: LogPosition,
    mut appended: watch::Receiver<LogPosition>,
    sender: broadcast::Sender<Arc<Alert>>,
    followed: watch::Sender<LogPosition>,
    mut stop: watch::Receiver<bool>,
    poll: Duration,
) {
    let mut backoff = Duration::from_millis(50);
    let mut quick = Duration::from_millis(1);
    let mut signal_alive = true;
    loop {
        if *stop.borrow_and_update() {
            return;
        }
        let latest = *appended.borrow_and_update();
        match read_after(&read, at, BATCH).await {
            Ok(events) => {
                backoff = Duration::from_millis(50);
                for event in &events {
                    if let Some(alert) = Alert::of(event) {
                        // No subscribers is not an error.
                        let _ = sender.send(Arc::new(alert));
                    }
                }
                if let Some(last) = events.last() {
                    at = last.at;
                    followed.send_replace(at);
                    quick = Duration::from_millis(1);
                    if events.len() as i64 == BATCH {
                        continue;
                    }
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "alerts: reading the log failed; retrying");
                if sleep_or_stop(&mut stop, backoff).await {
                    return;
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
        }
        // Something was appended that is not readable yet (on PostgreSQL an older transaction
        // is still open): look again soon. Otherwise wait for the next append or poll.
        let wait = if latest > at {
            quick = (quick * 2).min(Duration::from_millis(50));
            quick
        } else {
            poll
        };
        tokio::select! {
            changed = appended.changed(), if signal_alive => {
                // The write side is gone (only in odd wiring): keep polling.
                signal_alive = changed.is_ok();
            }
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

/// One subscriber's view: the alerts after its cursor, from the log while it is behind, then
/// from the broadcast.
pub struct Subscription {
    read: ReadDb,
    live: broadcast::Receiver<Arc<Alert>>,
    stop: watch::Receiver<bool>,
    /// The last log position handled (sent, or read and found not alert-worthy).
    cursor: LogPosition,
    catching_up: bool,
    /// Alerts read from the log and not handed out yet (all at or before `cursor`).
    pending: VecDeque<Arc<Alert>>,
    backoff: Duration,
}

impl Subscription {
    /// The next alert, or `None` once the broadcaster stops.
    pub async fn next(&mut self) -> Option<Arc<Alert>> {
        loop {
            if let Some(alert) = self.pending.pop_front() {
                return Some(alert);
            }
            if *self.stop.borrow_and_update() {
                return None;
            }
            if self.catching_up {
                self.catch_up().await?;
                continue;
            }
            tokio::select! {
                received = self.live.recv() => match received {
                    Ok(alert) => {
                        // Already read from the log while catching up: skip.
                        if alert.at > self.cursor {
                            self.cursor = alert.at;
                            return Some(alert);
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        tracing::debug!(missed, "alert subscriber lagged; reading the log");
                        self.catching_up = true;
                    }
                    Err(broadcast::error::RecvError::Closed) => return None,
                },
                _ = self.stop.changed() => return None,
            }
        }
    }

    /// Reads one batch of the log after the cursor; caught up when the batch is not full.
    /// Returns `None` when asked to stop while retrying a failed read.
    async fn catch_up(&mut self) -> Option<()> {
        match read_after(&self.read, self.cursor, BATCH).await {
            Ok(events) => {
                self.backoff = Duration::from_millis(50);
                self.pending
                    .extend(events.iter().filter_map(Alert::of).map(Arc::new));
                if let Some(last) = events.last() {
                    self.cursor = last.at;
                }
                if (events.len() as i64) < BATCH {
                    self.catching_up = false;
                }
                Some(())
            }
            Err(e) => {
                tracing::warn!(error = %e, "alert subscriber: reading the log failed; retrying");
                if sleep_or_stop(&mut self.stop, self.backoff).await {
                    return None;
                }
                self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
                Some(())
            }
        }
    }

    /// The alerts as a stream (for the HTTP body).
    pub fn into_stream(self) -> impl futures::Stream<Item = Arc<Alert>> + Send + 'static {
        futures::stream::unfold(self, |mut s| async move {
            let alert = s.next().await?;
            Some((alert, s))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alert_worthy_events() {
        assert!(is_alert("Booking", "BookingConfirmed"));
        assert!(is_alert("Booking", "DepositRefunded"));
        assert!(is_alert("Review", "ReviewSubmitted"));
        assert!(!is_alert("Booking", "Review\nevent: x"));
        assert!(!is_alert("StylistDay", "SlotReserved"));
        assert!(!is_alert("Service", "BookingConfirmed"));
        assert!(!is_alert("Booking", "BookingConfirmedSoon"));
        assert!(!is_alert("ApiToken", "TokenCreated"));
    }
}
