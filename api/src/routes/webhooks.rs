//! `POST /webhooks/stripe`: Stripe's deliveries, verified by `Stripe-Signature` (see
//! `commands::payments::webhook`). Answers 200 for every event it has recorded (applied,
//! duplicate, ignored or deferred), 400 for a forged, stale or unreadable delivery (nothing
//! changes), 503 when the store cannot record it (Stripe delivers again later).

use crate::extract::ApiBody;
use crate::problem::Problem;
use crate::AppState;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use chrono::Utc;
use commands::payments::{Received, WebhookError};
use serde::Serialize;

pub fn router() -> Router<AppState> {
    Router::new().route("/webhooks/stripe", post(stripe))
}

/// What was done with a delivery.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = StripeWebhookOutcome, example = json!({"received": true, "outcome": "applied", "detail": "deposit paid; booking confirmed"}))]
pub(crate) struct Outcome {
    received: bool,
    /// `applied`, `duplicate` (already handled), `ignored` (a type salon does not act on) or
    /// `deferred` (waits for an earlier event).
    #[schema(schema_with = crate::openapi::webhook_outcome)]
    outcome: &'static str,
    detail: String,
}

/// Stripe's event deliveries (`checkout.session.completed`, `checkout.session.expired`,
/// `charge.refunded`, `payment_intent.payment_failed`; other types are acknowledged).
///
/// Each event id is acted on once.
#[utoipa::path(
    post,
    path = "/webhooks/stripe",
    operation_id = "stripe_webhook",
    tag = "payments",
    params(("Stripe-Signature" = String, Header, description = "`t=<unix time>,v1=<HMAC-SHA256 of \"{t}.{body}\" under the endpoint secret>`; older than 5 minutes is refused")),
    request_body(content = Object, content_type = "application/json", description = "A Stripe event object, byte for byte as Stripe sent it"),
    responses(
        (status = 200, description = "Recorded (applied, a duplicate, ignored or deferred)", body = Outcome),
        (status = 400, description = "A forged, altered, stale or missing signature, or not a Stripe event; nothing changed", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 413, response = crate::openapi::TooLarge),
        (status = 503, description = "Webhooks are not configured (`STRIPE_WEBHOOK_SECRET`), or the event cannot be recorded now (Stripe delivers it again)", body = crate::problem::Problem, content_type = "application/problem+json"),
    ),
)]
pub(crate) async fn stripe(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiBody(body): ApiBody,
) -> Result<Json<Outcome>, Problem> {
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
            Ok(Json(Outcome {
                received: true,
                outcome,
                detail: detail.to_string(),
            }))
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
