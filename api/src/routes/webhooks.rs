//! `POST /webhooks/stripe`: Stripe's deliveries, verified by `Stripe-Signature` (see
//! `commands::payments::webhook`). Answers 200 for every event it has recorded (applied,
//! duplicate, ignored or deferred), 400 for a forged, stale or unreadable delivery (nothing
//! changes), 503 when the store cannot record it (Stripe delivers again later).

use crate::problem::Problem;
use crate::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use chrono::Utc;
use commands::payments::{Received, WebhookError};
use serde_json::{json, Value};

pub fn router() -> Router<AppState> {
    Router::new().route("/webhooks/stripe", post(stripe))
}

async fn stripe(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, Problem> {
    let Some(webhooks) = &state.stripe_webhooks else {
        return Err(Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "webhooks-not-configured",
            "Stripe webhooks are not configured",
            "Set STRIPE_WEBHOOK_SECRET to receive Stripe events.",
        ));
    };
    let signature = headers
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok());
    match webhooks.receive(&body, signature, Utc::now()).await {
        Ok(received) => {
            let (outcome, detail) = match &received {
                Received::Applied(m) => ("applied", m.as_str()),
                Received::Duplicate => ("duplicate", "already handled"),
                Received::Ignored(m) => ("ignored", m.as_str()),
                Received::Deferred(m) => ("deferred", m.as_str()),
            };
            Ok(Json(
                json!({ "received": true, "outcome": outcome, "detail": detail }),
            ))
        }
        Err(WebhookError::Signature(e)) => {
            tracing::warn!(error = %e, "refused a Stripe webhook delivery");
            Err(Problem::new(
                StatusCode::BAD_REQUEST,
                "bad-signature",
                "The Stripe signature does not verify",
                e.to_string(),
            ))
        }
        Err(WebhookError::Malformed(m)) => {
            Err(Problem::bad_request(format!("Not a Stripe event: {m}")))
        }
        Err(WebhookError::Unavailable(m)) => {
            tracing::warn!(error = %m, "could not record a Stripe event");
            Err(Problem::unavailable(
                "The event cannot be recorded right now; Stripe will deliver it again.",
            ))
        }
    }
}
