//! Operational state of outgoing webhooks, written through the event store's pool (durable
//! commits, unlike the read models' pool): each subscription's signing secret, and the log of
//! delivery attempts. Neither is an event and neither is ever replayed.

use super::Store;
use serde::Serialize;

/// One delivery attempt as the delivery log keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct DeliveryRecord {
    /// The outbox item (`webhook:<subscription>:<log position>`), also sent as `Salon-Event-Id`.
    pub item: String,
    pub subscription: String,
    /// 1 for the first try of the item.
    pub attempt: i64,
    pub event_type: String,
    /// RFC 3339, UTC.
    pub at: String,
    /// The endpoint's HTTP status; absent when it did not answer.
    pub status_code: Option<i64>,
    pub duration_ms: i64,
    pub error: Option<String>,
    /// `delivered`, `retry` (will be tried again), `gave up` or `dropped` (the subscription
    /// was paused or deleted before the delivery).
    pub outcome: String,
}

type Row = (
    String,
    String,
    i64,
    String,
    String,
    Option<i64>,
    i64,
    Option<String>,
    String,
);

impl Store {
    /// Stores (or replaces) a subscription's signing secret as given (sealed or not).
    pub async fn save_webhook_secret(
        &self,
        subscription: &str,
        stored: &str,
        fingerprint: &str,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), sqlx::Error> {
        const SQL: &str = "INSERT INTO webhook_secrets (subscription, secret, fingerprint, updated_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (subscription) DO UPDATE SET \
             secret = excluded.secret, fingerprint = excluded.fingerprint, updated_at = excluded.updated_at";
        on_pool!(self, pool => {
            sqlx::query(SQL)
                .bind(subscription)
                .bind(stored)
                .bind(fingerprint)
                .bind(at.to_rfc3339())
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// A subscription's stored secret (sealed or not).
    pub async fn webhook_secret(&self, subscription: &str) -> Result<Option<String>, sqlx::Error> {
        const SQL: &str = "SELECT secret FROM webhook_secrets WHERE subscription = $1";
        on_pool!(self, pool => {
            sqlx::query_scalar(SQL)
                .bind(subscription)
                .fetch_optional(pool)
                .await
        })
    }

    pub async fn forget_webhook_secret(&self, subscription: &str) -> Result<(), sqlx::Error> {
        const SQL: &str = "DELETE FROM webhook_secrets WHERE subscription = $1";
        on_pool!(self, pool => {
            sqlx::query(SQL).bind(subscription).execute(pool).await?;
        });
        Ok(())
    }

    /// Adds an attempt to the delivery log (an attempt already logged is kept as it was).
    pub async fn record_delivery(&self, record: &DeliveryRecord) -> Result<(), sqlx::Error> {
        const SQL: &str = "INSERT INTO webhook_deliveries \
             (item, subscription, attempt, event_type, at, status_code, duration_ms, error, outcome) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (item, attempt) DO NOTHING";
        on_pool!(self, pool => {
            sqlx::query(SQL)
                .bind(&record.item)
                .bind(&record.subscription)
                .bind(record.attempt)
                .bind(&record.event_type)
                .bind(&record.at)
                .bind(record.status_code)
                .bind(record.duration_ms)
                .bind(&record.error)
                .bind(&record.outcome)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// One page of a subscription's delivery log, newest first, and how many attempts it holds.
    pub async fn deliveries(
        &self,
        subscription: &str,
        limit: i64,
        offset: i64,
    ) -> Result<(i64, Vec<DeliveryRecord>), sqlx::Error> {
        const COUNT: &str = "SELECT COUNT(*) FROM webhook_deliveries WHERE subscription = $1";
        const PAGE: &str = "SELECT item, subscription, attempt, event_type, at, status_code, \
             duration_ms, error, outcome FROM webhook_deliveries WHERE subscription = $1 \
             ORDER BY at DESC, item DESC, attempt DESC LIMIT $2 OFFSET $3";
        let (count, rows): (i64, Vec<Row>) = on_pool!(self, pool => {
            let count = sqlx::query_scalar(COUNT).bind(subscription).fetch_one(pool).await?;
            let rows = sqlx::query_as(PAGE)
                .bind(subscription)
                .bind(limit)
                .bind(offset)
                .fetch_all(pool)
                .await?;
            (count, rows)
        });
        let records = rows
            .into_iter()
            .map(
                |(
                    item,
                    subscription,
                    attempt,
                    event_type,
                    at,
                    status_code,
                    duration_ms,
                    error,
                    outcome,
                )| {
                    DeliveryRecord {
                        item,
                        subscription,
                        attempt,
                        event_type,
                        at,
                        status_code,
                        duration_ms,
                        error,
                        outcome,
                    }
                },
            )
            .collect();
        Ok((count, records))
    }
}
