//! Outgoing webhooks: every event an active subscription asks for becomes one outbox item,
//! `webhook:<subscription>:<log position>`, delivered as a signed JSON POST, retried with the
//! reactors' backoff, each attempt written to the delivery log.
//!
//! **Planning** decides on the subscriptions *as they were at that point of the log*, not as
//! they are now: the planner keeps the subscriptions in memory, built from the log itself
//! (`WebhookSubscription` events before the batch, then the batch's own as they pass by). So an
//! event written before a subscription existed, or while it was paused, is never delivered to
//! it, and planning the same event again (after a crash, or on another server) plans the same
//! items. Catching up costs one small query per batch.
//!
//! **Delivering** looks at the subscription as it is now: its current URL and secret; an item
//! of a subscription paused or deleted meanwhile is dropped (logged as `dropped`).
//!
//! Answers: 2xx is delivered. No answer (timeout, refused connection), 408, 429 and 5xx are
//! retried for as long as it takes. Any other status (other 4xx, 3xx: redirects are not
//! followed) is retried too, but after [`GIVE_UP_AFTER`] attempts the item is done with the
//! outcome `gave up`.

use super::{booking_of, Attempt, Clock, Due, Handler, Item, Planner};
use crate::calendars::Https;
use crate::webhooks::{timestamp, DeliveryRecord, Webhooks};
use chrono::{DateTime, Utc};
use cqrs_es::Aggregate;
use domain::webhook::{WebhookEvent, WebhookSubscription};
use futures::future::BoxFuture;
use http::header::{CONTENT_TYPE, USER_AGENT};
use http_body_util::BodyExt;
use migrations::db::ReadDb;
use migrations::log::StoredEvent;
use migrations::{Backend, LogPosition};
use serde::Serialize;
use serde_json::{json, Value};
use sqlx::Row;
use std::collections::{BTreeMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

pub const WEBHOOK: &str = "webhook";
/// Attempts after which an endpoint that keeps refusing (4xx other than 408/429) is given up on.
pub const GIVE_UP_AFTER: i64 = 10;
/// How long an endpoint has to answer, by default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest error text kept in the delivery log.
const MAX_ERROR_CHARS: usize = 300;
/// Most of an answer's body read (and then dropped, apart from an error's first characters).
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// The subscriptions as of a point in the log.
#[derive(Default)]
struct Index {
    subscriptions: BTreeMap<String, WebhookSubscription>,
    /// Every subscription event up to and including this position is applied.
    through: Option<LogPosition>,
    /// The rest of the batch being planned, in order; when not empty, every subscription event
    /// before its first entry is applied.
    upcoming: VecDeque<LogPosition>,
}

/// Plans the `webhook` channel's items.
pub struct WebhookPlanner {
    db: ReadDb,
    clock: Clock,
    index: tokio::sync::Mutex<Index>,
}

impl WebhookPlanner {
    pub fn new(db: ReadDb, clock: Clock) -> Self {
        Self {
            db,
            clock,
            index: tokio::sync::Mutex::new(Index::default()),
        }
    }

    /// Applies the subscription events after `after` (the start of the log when `None`, which
    /// starts the index over) and before `before`.
    async fn catch_up(
        &self,
        index: &mut Index,
        after: Option<LogPosition>,
        before: LogPosition,
    ) -> Result<(), String> {
        let from = after.unwrap_or(LogPosition::START);
        let rows = match self.db.backend() {
            Backend::Sqlite => {
                sqlx::query(
                    "SELECT aggregate_id, payload FROM events WHERE aggregate_type = $1 \
                     AND position > $2 AND position < $3 ORDER BY position",
                )
                .bind(WebhookSubscription::TYPE)
                .bind(from.position)
                .bind(before.position)
                .fetch_all(self.db.pool())
                .await
            }
            Backend::Postgres => {
                sqlx::query(
                    "SELECT aggregate_id, payload::text AS payload FROM events WHERE aggregate_type = $1 \
                     AND (txid, position) > ($2::text::xid8, $3) AND (txid, position) < ($4::text::xid8, $5) \
                     ORDER BY txid, position",
                )
                .bind(WebhookSubscription::TYPE)
                .bind(from.txid.to_string())
                .bind(from.position)
                .bind(before.txid.to_string())
                .bind(before.position)
                .fetch_all(self.db.pool())
                .await
            }
        }
        .map_err(|e| format!("reading webhook subscriptions: {e}"))?;
        if after.is_none() {
            index.subscriptions.clear();
        }
        for row in rows {
            let id: String = row.try_get("aggregate_id").map_err(|e| e.to_string())?;
            let payload: String = row.try_get("payload").map_err(|e| e.to_string())?;
            match serde_json::from_str::<WebhookEvent>(&payload) {
                Ok(event) => apply(index, &id, event),
                Err(e) => {
                    tracing::warn!(subscription = %id, error = %e, "skipping an unreadable webhook subscription event")
                }
            }
        }
        Ok(())
    }

    /// Makes the index hold every subscription event before `at`.
    async fn reach(&self, index: &mut Index, at: LogPosition) -> Result<(), String> {
        if index.upcoming.front() == Some(&at) {
            index.upcoming.pop_front();
            return Ok(());
        }
        let from = match index.through {
            Some(through) if index.upcoming.is_empty() && through < at => Some(through),
            _ => None,
        };
        index.upcoming.clear();
        // Until the catch-up succeeds the index covers nothing known: start over next time.
        index.through = None;
        self.catch_up(index, from, at).await
    }

    async fn prepare_batch(&self, batch: &[StoredEvent]) -> Result<(), String> {
        let Some(first) = batch.first() else {
            return Ok(());
        };
        let mut index = self.index.lock().await;
        self.reach(&mut index, first.at).await?;
        index.through = None;
        index.upcoming = batch.iter().map(|e| e.at).collect();
        Ok(())
    }

    async fn plan_event(&self, event: &StoredEvent) -> Result<Vec<Item>, String> {
        let mut index = self.index.lock().await;
        self.reach(&mut index, event.at).await?;
        index.through = Some(event.at);
        if event.aggregate_type == WebhookSubscription::TYPE {
            let Ok(decoded) = serde_json::from_value::<WebhookEvent>(event.payload.clone()) else {
                return Ok(Vec::new());
            };
            let pinged = matches!(decoded, WebhookEvent::WebhookPinged { .. });
            apply(&mut index, &event.aggregate_id, decoded);
            let receiving = index
                .subscriptions
                .get(&event.aggregate_id)
                .is_some_and(WebhookSubscription::receiving);
            return Ok(if pinged && receiving {
                vec![self.item(&event.aggregate_id, event)]
            } else {
                Vec::new()
            });
        }
        Ok(index
            .subscriptions
            .iter()
            .filter(|(_, s)| s.wants(&event.event_type))
            .map(|(id, _)| self.item(id, event))
            .collect())
    }

    fn item(&self, subscription: &str, event: &StoredEvent) -> Item {
        // The payload is stored tagged by its type (`{"BookingConfirmed": {…}}`): send the inside.
        let data = match event.payload.as_object() {
            Some(tagged) if tagged.len() == 1 => tagged
                .get(&event.event_type)
                .cloned()
                .unwrap_or_else(|| event.payload.clone()),
            _ => event.payload.clone(),
        };
        Item {
            id: format!("webhook:{subscription}:{}", event.at.position),
            channel: WEBHOOK,
            kind: event.event_type.clone(),
            booking: booking_of(event).map(str::to_string),
            payload: json!({
                "subscription": subscription,
                "type": event.event_type,
                "created": timestamp(event.audit().recorded_at),
                "position": event.at.position,
                "aggregate_type": event.aggregate_type,
                "aggregate_id": event.aggregate_id,
                "data": data,
            }),
            due: self.clock.now(),
        }
    }
}

fn apply(index: &mut Index, id: &str, event: WebhookEvent) {
    index
        .subscriptions
        .entry(id.to_string())
        .or_default()
        .apply(event);
}

impl Planner for WebhookPlanner {
    fn prepare<'a>(&'a self, batch: &'a [StoredEvent]) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(self.prepare_batch(batch))
    }
    fn plan<'a>(&'a self, event: &'a StoredEvent) -> BoxFuture<'a, Result<Vec<Item>, String>> {
        Box::pin(self.plan_event(event))
    }
}

/// The JSON an endpoint receives; field order as documented.
#[derive(Serialize)]
struct Body<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    created: &'a Value,
    position: &'a Value,
    aggregate_type: &'a Value,
    aggregate_id: &'a Value,
    data: &'a Value,
}

/// What one try came to, before it becomes an [`Attempt`] and a delivery-log row.
struct Tried {
    status: Option<u16>,
    error: Option<String>,
    attempt: Attempt,
    outcome: &'static str,
}

impl Tried {
    fn retry(status: Option<u16>, error: String) -> Self {
        Self {
            status,
            attempt: Attempt::Retry(error.clone()),
            error: Some(error),
            outcome: "retry",
        }
    }
    fn done(outcome: &'static str, status: Option<u16>, error: Option<String>) -> Self {
        Self {
            status,
            error,
            attempt: Attempt::Done(outcome.to_string()),
            outcome,
        }
    }
}

/// Delivers the `webhook` channel's items.
pub struct WebhookDelivery {
    webhooks: Webhooks,
    http: Https,
    timeout: Duration,
    /// Subscriptions whose endpoint did not answer in time during the round at this time (a
    /// round hands every item the same `now`). Their further items of that round are put back
    /// without waiting out the timeout again, so one silent endpoint holds a round up for one
    /// timeout, not one per item.
    silent: std::sync::Mutex<(DateTime<Utc>, HashSet<String>)>,
}

impl WebhookDelivery {
    /// `timeout`: how long an endpoint has to answer (connection and body included).
    pub fn new(webhooks: Webhooks, timeout: Duration) -> Self {
        Self {
            webhooks,
            http: crate::calendars::https_client(),
            timeout,
            silent: std::sync::Mutex::new((DateTime::<Utc>::MIN_UTC, HashSet::new())),
        }
    }

    async fn deliver(&self, item: &Due, now: DateTime<Utc>) -> Attempt {
        let Some(subscription) = item.payload.get("subscription").and_then(Value::as_str) else {
            return Attempt::Done("no subscription named".into());
        };
        let started = Instant::now();
        let tried = self.try_once(subscription, item, now).await;
        let error = tried
            .error
            .as_deref()
            .map(|e| e.chars().take(MAX_ERROR_CHARS).collect::<String>());
        self.webhooks
            .record(&DeliveryRecord {
                item: item.id.clone(),
                subscription: subscription.to_string(),
                attempt: item.attempts,
                event_type: item.kind.clone(),
                at: timestamp(now),
                status_code: tried.status.map(i64::from),
                duration_ms: i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX),
                error,
                outcome: tried.outcome.to_string(),
            })
            .await;
        tried.attempt
    }

    async fn try_once(&self, subscription: &str, item: &Due, now: DateTime<Utc>) -> Tried {
        let state = match self
            .webhooks
            .bus()
            .load_recent::<WebhookSubscription>(subscription, Duration::from_secs(2))
            .await
        {
            Ok(loaded) => loaded.state,
            Err(e) => return Tried::retry(None, format!("loading the subscription: {e}")),
        };
        let Some(settings) = state.settings.as_ref() else {
            return Tried::done("dropped", None, Some("no such subscription".into()));
        };
        if state.deleted {
            return Tried::done("dropped", None, Some("the subscription was deleted".into()));
        }
        if !state.active {
            return Tried::done("dropped", None, Some("the subscription is paused".into()));
        }
        if self.was_silent(subscription, now) {
            return Tried::retry(
                None,
                "not sent: the endpoint did not answer another delivery of this round".into(),
            );
        }
        let secret = match self.webhooks.secret(subscription).await {
            Ok(Some(secret)) => secret,
            Ok(None) => return Tried::retry(None, "the subscription has no signing secret".into()),
            Err(e) => return Tried::retry(None, e.to_string()),
        };
        let p = &item.payload;
        let body = Body {
            id: &item.id,
            kind: p.get("type").and_then(Value::as_str).unwrap_or(&item.kind),
            created: p.get("created").unwrap_or(&Value::Null),
            position: p.get("position").unwrap_or(&Value::Null),
            aggregate_type: p.get("aggregate_type").unwrap_or(&Value::Null),
            aggregate_id: p.get("aggregate_id").unwrap_or(&Value::Null),
            data: p.get("data").unwrap_or(&Value::Null),
        };
        let body = match serde_json::to_string(&body) {
            Ok(body) => body,
            Err(e) => return Tried::done("gave up", None, Some(format!("encoding: {e}"))),
        };
        let signature = secret.sign(now.timestamp(), body.as_bytes());
        let request = http::Request::post(settings.url.as_str())
            .header(CONTENT_TYPE, "application/json")
            .header(
                USER_AGENT,
                concat!("salon-webhooks/", env!("CARGO_PKG_VERSION")),
            )
            .header("Salon-Event-Id", item.id.as_str())
            .header("Salon-Signature", signature)
            .body(body);
        let request = match request {
            Ok(r) => r,
            // The URL was checked when it was set; one that http still refuses cannot be sent.
            Err(e) => return Tried::done("gave up", None, Some(format!("unusable URL: {e}"))),
        };
        match tokio::time::timeout(self.timeout, self.send(request)).await {
            Err(_) => {
                self.mark_silent(subscription, now);
                Tried::retry(None, format!("no answer within {:?}", self.timeout))
            }
            Ok(Err(e)) => Tried::retry(None, e),
            Ok(Ok((status, answer))) => classify(status, &answer, item.attempts),
        }
    }

    fn was_silent(&self, subscription: &str, now: DateTime<Utc>) -> bool {
        let silent = self.silent.lock().unwrap_or_else(|p| p.into_inner());
        silent.0 == now && silent.1.contains(subscription)
    }

    fn mark_silent(&self, subscription: &str, now: DateTime<Utc>) {
        let mut silent = self.silent.lock().unwrap_or_else(|p| p.into_inner());
        if silent.0 != now {
            *silent = (now, HashSet::new());
        }
        silent.1.insert(subscription.to_string());
    }

    /// Sends and reads (a bounded part of) the answer.
    async fn send(&self, request: http::Request<String>) -> Result<(u16, String), String> {
        let response = self
            .http
            .request(request)
            .await
            .map_err(|e| error_chain(&e))?;
        let status = response.status().as_u16();
        let limited = http_body_util::Limited::new(response.into_body(), MAX_ANSWER_BYTES);
        let answer = match limited.collect().await {
            Ok(collected) => String::from_utf8_lossy(&collected.to_bytes()).into_owned(),
            Err(_) => String::new(),
        };
        Ok((status, answer))
    }
}

/// What an answer means for the item.
fn classify(status: u16, answer: &str, attempts: i64) -> Tried {
    if (200..300).contains(&status) {
        return Tried::done("delivered", Some(status), None);
    }
    let snippet: String = answer
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(200)
        .collect();
    let error = match snippet.trim() {
        "" => format!("HTTP {status}"),
        text => format!("HTTP {status}: {text}"),
    };
    let transient = status == 408 || status == 429 || status >= 500;
    if !transient && attempts >= GIVE_UP_AFTER {
        return Tried::done("gave up", Some(status), Some(error));
    }
    Tried::retry(Some(status), error)
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut msg = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        msg = format!("{msg}: {cause}");
        source = cause.source();
    }
    msg
}

impl Handler for WebhookDelivery {
    fn channel(&self) -> &'static str {
        WEBHOOK
    }
    fn handle<'a>(&'a self, item: &'a Due, now: DateTime<Utc>) -> BoxFuture<'a, Attempt> {
        Box::pin(self.deliver(item, now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_classified_as_documented() {
        let outcome = |status, attempts| {
            let t = classify(status, "", attempts);
            (t.outcome, matches!(t.attempt, Attempt::Retry(_)))
        };
        assert_eq!(outcome(200, 1), ("delivered", false));
        assert_eq!(outcome(204, 9), ("delivered", false));
        for transient in [408, 429, 500, 502, 503] {
            assert_eq!(outcome(transient, 50), ("retry", true), "{transient}");
        }
        for refused in [301, 400, 401, 404, 410] {
            assert_eq!(outcome(refused, 9), ("retry", true), "{refused}");
            assert_eq!(outcome(refused, 10), ("gave up", false), "{refused}");
        }
        let t = classify(500, "boom\nat line 3", 1);
        assert_eq!(t.error.as_deref(), Some("HTTP 500: boom at line 3"));
        assert_eq!(t.status, Some(500));
    }
}
