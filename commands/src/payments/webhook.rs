//! `POST /webhooks/stripe`: what Stripe tells us about payments.
//!
//! - The `Stripe-Signature` header is checked as Stripe documents it: HMAC-SHA256 of
//!   `"{t}.{body}"` under the endpoint secret, any `v1` entry may match, and `t` must be within
//!   the tolerance of now (a replayed old delivery is refused).
//! - Each Stripe event id is acted on once: a redelivery is answered "duplicate" and changes
//!   nothing. The booking commands are idempotent as well (a second "paid" for a paid booking
//!   adds nothing), which covers two deliveries racing each other.
//! - Events may come in any order. One that depends on something not yet known (a refund of a
//!   payment not yet recorded) is kept as `deferred` and applied again as soon as the booking
//!   it concerns changes.
//! - Unknown event types are acknowledged and recorded, never refused (Stripe would retry them
//!   for days).

use crate::bus::CommandBus;
use crate::lifecycle::ChangeError;
use chrono::{DateTime, Utc};
use domain::booking::{BookingCommand, BookingError};
use domain::ids::BookingId;
use domain::metadata::{EventMetadata, Source};
use domain::values::Cents;
use hmac::{Hmac, Mac};
use migrations::db::ReadDb;
use serde_json::Value;
use sha2::Sha256;
use sqlx::Row;

/// How far the signature's timestamp may be from now (Stripe's libraries use five minutes).
pub const TOLERANCE_SECONDS: i64 = 300;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignatureError {
    #[error("the Stripe-Signature header is missing")]
    Missing,
    #[error("the Stripe-Signature header is malformed")]
    Malformed,
    #[error("no signature matches this payload")]
    Mismatch,
    #[error("the signature is too old or from the future (timestamp {0})")]
    Stale(i64),
}

/// Checks a `Stripe-Signature` header (`t=…,v1=…[,v1=…]`) against the raw body.
pub fn verify(
    payload: &[u8],
    header: Option<&str>,
    secret: &str,
    now: i64,
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let mut timestamp = None;
    let mut candidates = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
            Some(("v1", sig)) => candidates.push(sig),
            _ => {}
        }
    }
    let t = timestamp.ok_or(SignatureError::Malformed)?;
    if candidates.is_empty() {
        return Err(SignatureError::Malformed);
    }
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).map_err(|_| SignatureError::Malformed)?;
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(payload);
    let matches = candidates.iter().any(|candidate| {
        hex::decode(candidate).is_ok_and(|sig| mac.clone().verify_slice(&sig).is_ok())
    });
    if !matches {
        return Err(SignatureError::Mismatch);
    }
    if (now - t).abs() > TOLERANCE_SECONDS {
        return Err(SignatureError::Stale(t));
    }
    Ok(())
}

/// What became of one delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received {
    /// Acted on (the text says what happened).
    Applied(String),
    /// This event id was handled before.
    Duplicate,
    /// Acknowledged, nothing to do.
    Ignored(String),
    /// Kept until what it depends on arrives.
    Deferred(String),
}

impl Received {
    fn outcome(&self) -> String {
        match self {
            Self::Applied(m) => format!("applied: {m}"),
            Self::Duplicate => "duplicate".into(),
            Self::Ignored(m) => format!("ignored: {m}"),
            Self::Deferred(m) => format!("deferred: {m}"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error(transparent)]
    Signature(#[from] SignatureError),
    #[error("the payload is not a Stripe event: {0}")]
    Malformed(String),
    /// The store could not be reached: answer 503 so Stripe delivers again.
    #[error("cannot record the event right now: {0}")]
    Unavailable(String),
}

impl From<sqlx::Error> for WebhookError {
    fn from(e: sqlx::Error) -> Self {
        Self::Unavailable(e.to_string())
    }
}

/// Receives Stripe's webhook deliveries.
#[derive(Clone)]
pub struct StripeWebhooks {
    bus: CommandBus,
    db: ReadDb,
    secret: String,
}

fn text<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut at = v;
    for key in path {
        at = at.get(key)?;
    }
    at.as_str().filter(|s| !s.is_empty())
}

/// A Stripe id field that may be expanded into an object.
fn id_of<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    match v.get(key)? {
        Value::String(s) => Some(s.as_str()),
        Value::Object(o) => o.get("id").and_then(Value::as_str),
        _ => None,
    }
}

impl StripeWebhooks {
    pub fn new(bus: CommandBus, db: ReadDb, secret: String) -> Self {
        Self { bus, db, secret }
    }

    /// Verifies and handles one delivery.
    pub async fn receive(
        &self,
        payload: &[u8],
        signature: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Received, WebhookError> {
        verify(payload, signature, &self.secret, now.timestamp())?;
        let event: Value =
            serde_json::from_slice(payload).map_err(|e| WebhookError::Malformed(e.to_string()))?;
        let (Some(id), Some(kind)) = (text(&event, &["id"]), text(&event, &["type"])) else {
            return Err(WebhookError::Malformed("no id or type".into()));
        };
        let object = event
            .get("data")
            .and_then(|d| d.get("object"))
            .ok_or_else(|| WebhookError::Malformed("no data.object".into()))?;

        let seen: Option<String> =
            sqlx::query_scalar("SELECT outcome FROM stripe_events WHERE id = $1")
                .bind(id.to_string())
                .fetch_optional(self.db.pool())
                .await?;
        if seen.as_deref().is_some_and(|o| !o.starts_with("deferred")) {
            return Ok(Received::Duplicate);
        }
        let (received, key) = self.apply(id, kind, object).await?;
        self.record(id, kind, key.as_deref(), &received, payload, now)
            .await?;
        if let (Received::Applied(_), Some(key)) = (&received, key) {
            self.retry_deferred(&key).await?;
        }
        Ok(received)
    }

    async fn record(
        &self,
        id: &str,
        kind: &str,
        key: Option<&str>,
        received: &Received,
        payload: &[u8],
        now: DateTime<Utc>,
    ) -> Result<(), WebhookError> {
        sqlx::query(
            "INSERT INTO stripe_events (id, type, booking, outcome, received_at, payload) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO UPDATE SET \
             outcome = excluded.outcome, booking = excluded.booking",
        )
        .bind(id.to_string())
        .bind(kind.to_string())
        .bind(key.map(str::to_string))
        .bind(received.outcome())
        .bind(now.to_rfc3339())
        .bind(String::from_utf8_lossy(payload).into_owned())
        .execute(self.db.pool())
        .await?;
        Ok(())
    }

    /// Deferred events waiting on `key` (a booking id, or `pi:<payment>`), applied again.
    async fn retry_deferred(&self, key: &str) -> Result<(), WebhookError> {
        let mut keys = vec![key.to_string()];
        if let Ok(payments) = sqlx::query_scalar::<_, String>(
            "SELECT payment FROM stripe_payments WHERE booking = $1",
        )
        .bind(key.to_string())
        .fetch_all(self.db.pool())
        .await
        {
            keys.extend(payments.into_iter().map(|p| format!("pi:{p}")));
        }
        for key in keys {
            let rows = sqlx::query(
                "SELECT id, type, payload FROM stripe_events WHERE booking = $1 \
                 AND outcome LIKE 'deferred%' ORDER BY received_at",
            )
            .bind(key)
            .fetch_all(self.db.pool())
            .await?;
            for row in rows {
                let id: String = row.try_get("id")?;
                let kind: String = row.try_get("type")?;
                let payload: String = row.try_get("payload")?;
                let Ok(event) = serde_json::from_str::<Value>(&payload) else {
                    continue;
                };
                let Some(object) = event.get("data").and_then(|d| d.get("object")) else {
                    continue;
                };
                let (received, booking) = self.apply(&id, &kind, object).await?;
                sqlx::query("UPDATE stripe_events SET outcome = $2, booking = $3 WHERE id = $1")
                    .bind(id.clone())
                    .bind(received.outcome())
                    .bind(booking)
                    .execute(self.db.pool())
                    .await?;
            }
        }
        Ok(())
    }

    fn metadata(event_id: &str) -> EventMetadata {
        EventMetadata::new("stripe", Source::Webhook).with_causation(format!("stripe:{event_id}"))
    }

    /// Runs a booking command for a Stripe event; `Ok(None)` when the booking does not exist.
    async fn command(
        &self,
        event_id: &str,
        booking: BookingId,
        command: BookingCommand,
    ) -> Result<Result<bool, BookingError>, WebhookError> {
        match self
            .bus
            .change_booking(booking, command, &Self::metadata(event_id))
            .await
        {
            Ok(changed) => Ok(Ok(changed.committed.is_some())),
            Err(ChangeError::Refused(e)) => Ok(Err(e)),
            Err(ChangeError::NotFound) => Ok(Err(BookingError::NotFound)),
            Err(e) => Err(WebhookError::Unavailable(e.to_string())),
        }
    }

    /// Acts on one event; returns what happened and the key it concerns.
    async fn apply(
        &self,
        event_id: &str,
        kind: &str,
        object: &Value,
    ) -> Result<(Received, Option<String>), WebhookError> {
        let booking_of = |o: &Value| {
            text(o, &["metadata", "booking_id"])
                .or_else(|| text(o, &["client_reference_id"]))
                .and_then(|b| BookingId::parse(b).ok())
        };
        match kind {
            "checkout.session.completed" | "checkout.session.async_payment_succeeded" => {
                let Some(booking) = booking_of(object) else {
                    return Ok((Received::Ignored("not a salon checkout".into()), None));
                };
                let key = Some(booking.to_string());
                if text(object, &["payment_status"]) != Some("paid") {
                    return Ok((Received::Ignored("not paid yet".into()), key));
                }
                let amount = object
                    .get("amount_total")
                    .and_then(Value::as_i64)
                    .and_then(|c| Cents::new(c).ok());
                let Some(amount) = amount else {
                    return Err(WebhookError::Malformed("amount_total".into()));
                };
                let payment = id_of(object, "payment_intent").map(str::to_string);
                if let Some(payment) = &payment {
                    sqlx::query(
                        "INSERT INTO stripe_payments (payment, booking) VALUES ($1, $2) \
                         ON CONFLICT (payment) DO NOTHING",
                    )
                    .bind(payment.clone())
                    .bind(booking.to_string())
                    .execute(self.db.pool())
                    .await?;
                }
                let paid = BookingCommand::RecordDepositPaid {
                    amount_cents: amount,
                    payment,
                };
                Ok(match self.command(event_id, booking, paid).await? {
                    Ok(true) => (Received::Applied("deposit paid".into()), key),
                    Ok(false) => (Received::Ignored("deposit already recorded".into()), key),
                    Err(BookingError::NotFound) => {
                        (Received::Ignored("no such booking".into()), key)
                    }
                    Err(e) => (Received::Ignored(e.to_string()), key),
                })
            }
            "checkout.session.expired" => {
                let Some(booking) = booking_of(object) else {
                    return Ok((Received::Ignored("not a salon checkout".into()), None));
                };
                let Some(session_id) = text(object, &["id"]) else {
                    return Err(WebhookError::Malformed("session id".into()));
                };
                let abandon = BookingCommand::AbandonCheckout {
                    session_id: session_id.to_string(),
                };
                let key = Some(booking.to_string());
                Ok(match self.command(event_id, booking, abandon).await? {
                    Ok(true) => (Received::Applied("hold released".into()), key),
                    Ok(false) => (Received::Ignored("hold already ended".into()), key),
                    Err(e) => (Received::Ignored(e.to_string()), key),
                })
            }
            "charge.refunded" => {
                let payment = id_of(object, "payment_intent");
                let mut booking = booking_of(object);
                if booking.is_none() {
                    if let Some(payment) = payment {
                        booking = sqlx::query_scalar::<_, String>(
                            "SELECT booking FROM stripe_payments WHERE payment = $1",
                        )
                        .bind(payment.to_string())
                        .fetch_optional(self.db.pool())
                        .await?
                        .and_then(|b| BookingId::parse(&b).ok());
                    }
                }
                let Some(booking) = booking else {
                    return Ok(match payment {
                        Some(p) => (
                            Received::Deferred("payment not recorded yet".into()),
                            Some(format!("pi:{p}")),
                        ),
                        None => (Received::Ignored("no payment named".into()), None),
                    });
                };
                let key = Some(booking.to_string());
                let amount = object
                    .get("amount_refunded")
                    .and_then(Value::as_i64)
                    .and_then(|c| Cents::new(c).ok());
                let Some(amount) = amount else {
                    return Err(WebhookError::Malformed("amount_refunded".into()));
                };
                let refund_id = object
                    .get("refunds")
                    .and_then(|r| r.get("data"))
                    .and_then(Value::as_array)
                    .and_then(|d| d.first())
                    .and_then(|r| r.get("id"))
                    .and_then(Value::as_str)
                    .or_else(|| text(object, &["id"]))
                    .unwrap_or("refund")
                    .to_string();
                let record = BookingCommand::RecordRefund {
                    amount_cents: amount,
                    refund_id,
                };
                Ok(match self.command(event_id, booking, record).await? {
                    Ok(true) => (Received::Applied("refund recorded".into()), key),
                    Ok(false) => (Received::Ignored("refund already recorded".into()), key),
                    Err(BookingError::NoDepositPaid) => {
                        (Received::Deferred("deposit not recorded yet".into()), key)
                    }
                    Err(e) => (Received::Ignored(e.to_string()), key),
                })
            }
            "payment_intent.payment_failed" => {
                let Some(booking) = booking_of(object) else {
                    return Ok((Received::Ignored("not a salon payment".into()), None));
                };
                let message = text(object, &["last_payment_error", "message"])
                    .unwrap_or("the payment failed")
                    .chars()
                    .take(300)
                    .collect::<String>();
                let failed = BookingCommand::RecordPaymentFailed { message };
                let key = Some(booking.to_string());
                Ok(match self.command(event_id, booking, failed).await? {
                    Ok(true) => (Received::Applied("payment failure recorded".into()), key),
                    Ok(false) => (Received::Ignored("no deposit pending".into()), key),
                    Err(e) => (Received::Ignored(e.to_string()), key),
                })
            }
            other => Ok((Received::Ignored(format!("{other} is not used")), None)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign(payload: &str, secret: &str, t: i64) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(format!("{t}.{payload}").as_bytes());
        format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
    }

    const BODY: &str = r#"{"id":"evt_1","type":"charge.refunded"}"#;

    #[test]
    fn a_signature_made_with_the_secret_verifies() {
        let header = sign(BODY, "whsec_x", 1_000);
        assert_eq!(
            verify(BODY.as_bytes(), Some(&header), "whsec_x", 1_100),
            Ok(())
        );
    }

    #[test]
    fn any_of_several_v1_signatures_may_match() {
        let good = sign(BODY, "whsec_x", 1_000);
        let header = format!("t=1000,v1=00ff,{},v0=abc", good.split(',').nth(1).unwrap());
        assert_eq!(
            verify(BODY.as_bytes(), Some(&header), "whsec_x", 1_000),
            Ok(())
        );
    }

    #[test]
    fn forged_altered_stale_and_missing_signatures_are_refused() {
        let header = sign(BODY, "whsec_x", 1_000);
        assert_eq!(
            verify(BODY.as_bytes(), Some(&header), "whsec_other", 1_000),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(b"{\"id\":\"evt_2\"}", Some(&header), "whsec_x", 1_000),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(BODY.as_bytes(), Some(&header), "whsec_x", 1_000 + 301),
            Err(SignatureError::Stale(1_000))
        );
        assert_eq!(
            verify(BODY.as_bytes(), None, "whsec_x", 1_000),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            verify(BODY.as_bytes(), Some("v1=abc"), "whsec_x", 1_000),
            Err(SignatureError::Malformed)
        );
        // A signature for another timestamp does not verify with this one.
        let moved = header.replace("t=1000", "t=1001");
        assert_eq!(
            verify(BODY.as_bytes(), Some(&moved), "whsec_x", 1_000),
            Err(SignatureError::Mismatch)
        );
    }
}
