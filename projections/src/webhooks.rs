//! What the API reads about integrators' webhook subscriptions. Never a secret: only the
//! fingerprint of the one in force.

use crate::db::ReadDb;
use crate::queries::QueryError;
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::Row;

type Result<T> = std::result::Result<T, QueryError>;

/// A subscription as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct WebhookView {
    pub id: String,
    pub url: String,
    /// Event type names, or `["*"]`.
    pub events: Vec<String>,
    pub description: String,
    /// `false` while paused.
    pub active: bool,
    /// The first 16 hex digits of the signing secret's SHA-256.
    pub secret_fingerprint: String,
    pub created_at: String,
    pub updated_at: String,
}

const COLUMNS: &str =
    "id, url, events_json, description, active, secret_fingerprint, created_at, updated_at";

fn row_view(r: &AnyRow) -> Result<WebhookView> {
    let events: String = r.try_get("events_json")?;
    Ok(WebhookView {
        id: r.try_get("id")?,
        url: r.try_get("url")?,
        events: serde_json::from_str(&events)
            .map_err(|e| QueryError::Corrupt(format!("webhook events: {e}")))?,
        description: r.try_get("description")?,
        active: r.try_get::<i64, _>("active")? != 0,
        secret_fingerprint: r.try_get("secret_fingerprint")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

/// Subscriptions not deleted, oldest first.
pub async fn webhook_subscriptions(db: &ReadDb) -> Result<Vec<WebhookView>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM rm_webhook_subscriptions WHERE deleted = 0 \
         ORDER BY created_position, id"
    );
    let rows = sqlx::query(&sql).fetch_all(db.pool()).await?;
    rows.iter().map(row_view).collect()
}

/// One subscription; `None` when unknown or deleted.
pub async fn webhook_subscription(db: &ReadDb, id: &str) -> Result<Option<WebhookView>> {
    let sql =
        format!("SELECT {COLUMNS} FROM rm_webhook_subscriptions WHERE id = $1 AND deleted = 0");
    let row = sqlx::query(&sql)
        .bind(id.to_string())
        .fetch_optional(db.pool())
        .await?;
    row.as_ref().map(row_view).transpose()
}
