//! Stripe: the Checkout Session that collects a deposit, its expiry when the hold runs out, and
//! refunds (async-stripe). The base URL is configurable (`STRIPE_API_BASE`) so tests talk to a
//! local stub that speaks Stripe's wire format.
//!
//! Every write carries an idempotency key derived from the booking (or the refund's outbox
//! item), so a retry after a lost answer never opens a second session or refunds twice.

use chrono::{DateTime, Duration, Utc};
use domain::booking::Booking;
use std::collections::HashMap;
use std::fmt;
use stripe::{Client, ClientBuilder, StripeError};
use stripe_checkout::checkout_session::{
    CreateCheckoutSession, CreateCheckoutSessionLineItems, CreateCheckoutSessionLineItemsPriceData,
    CreateCheckoutSessionPaymentIntentData, ExpireCheckoutSession, ProductData,
    RetrieveCheckoutSession,
};
use stripe_client_core::{CustomizableStripeRequest, RequestStrategy, StripeRequest};
use stripe_shared::{CheckoutSession, CheckoutSessionMode};

/// Stripe's shortest Checkout Session life.
const MIN_SESSION_LIFE: Duration = Duration::minutes(30);

/// Stripe settings from the environment. The keys are secrets: `Debug` hides them.
#[derive(Clone)]
pub struct StripeSettings {
    pub secret_key: String,
    /// `STRIPE_WEBHOOK_SECRET`, to verify `Stripe-Signature` on `/webhooks/stripe`.
    pub webhook_secret: Option<String>,
    /// `STRIPE_API_BASE`, e.g. `http://127.0.0.1:12111/` for a local stub.
    pub api_base: Option<String>,
    /// Where the client returns after paying or giving up (the booking site).
    pub public_url: String,
}

impl fmt::Debug for StripeSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StripeSettings")
            .field("secret_key", &"***")
            .field(
                "webhook_secret",
                &self.webhook_secret.as_ref().map(|_| "***"),
            )
            .field("api_base", &self.api_base)
            .field("public_url", &self.public_url)
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PaymentError {
    /// Stripe did not answer, or answered 5xx/429: try again later.
    #[error("Stripe is unreachable or busy: {0}")]
    Unavailable(String),
    /// Stripe refused the request (4xx); trying again will not help.
    #[error("Stripe refused: {message}")]
    Refused {
        code: Option<String>,
        message: String,
    },
    #[error("Stripe is not configured correctly: {0}")]
    Config(String),
}

impl PaymentError {
    fn of(err: StripeError) -> Self {
        match err {
            StripeError::Stripe(api, status) if status == 429 || status >= 500 => {
                Self::Unavailable(format!(
                    "status {status}: {}",
                    api.message.clone().unwrap_or_default()
                ))
            }
            StripeError::Stripe(api, _) => Self::Refused {
                code: api.code.as_ref().map(|c| c.as_str().to_string()),
                message: api
                    .message
                    .clone()
                    .unwrap_or_else(|| "no message".to_string()),
            },
            StripeError::ConfigError(m) => Self::Config(m),
            StripeError::JSONDeserialize(m) => Self::Unavailable(format!("unreadable answer: {m}")),
            StripeError::ClientError(m) => Self::Unavailable(m),
            StripeError::Timeout => Self::Unavailable("timed out".into()),
        }
    }
}

/// A Checkout Session as salon needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: String,
    pub url: Option<String>,
    /// `open`, `complete` or `expired`.
    pub status: String,
    /// `paid`, `unpaid` or `no_payment_required`.
    pub payment_status: String,
    pub amount_total: Option<i64>,
    pub payment_intent: Option<String>,
}

impl From<CheckoutSession> for Session {
    fn from(s: CheckoutSession) -> Self {
        Self {
            id: s.id.as_str().to_string(),
            url: s.url,
            status: s.status.map(|x| x.as_str().to_string()).unwrap_or_default(),
            payment_status: s.payment_status.as_str().to_string(),
            amount_total: s.amount_total,
            payment_intent: s.payment_intent.map(|p| p.id().as_str().to_string()),
        }
    }
}

/// The Stripe client of one process.
#[derive(Clone)]
pub struct Payments {
    client: Client,
    settings: StripeSettings,
}

impl fmt::Debug for Payments {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Payments")
            .field("settings", &self.settings)
            .finish()
    }
}

fn idempotent<T>(request: CustomizableStripeRequest<T>, key: &str) -> CustomizableStripeRequest<T> {
    match stripe_client_core::IdempotencyKey::new(key) {
        Ok(key) => request.request_strategy(RequestStrategy::Idempotent(key)),
        Err(_) => request,
    }
}

impl Payments {
    pub fn new(settings: StripeSettings) -> Result<Self, PaymentError> {
        let mut builder = ClientBuilder::new(settings.secret_key.clone())
            .timeout(std::time::Duration::from_secs(20))
            .app_info("salon", Some(env!("CARGO_PKG_VERSION").into()), None);
        if let Some(base) = &settings.api_base {
            let base = if base.ends_with('/') {
                base.clone()
            } else {
                format!("{base}/")
            };
            builder = builder.url(base);
        }
        let client = builder.build().map_err(PaymentError::of)?;
        Ok(Self { client, settings })
    }

    pub fn settings(&self) -> &StripeSettings {
        &self.settings
    }

    /// Opens the Checkout Session for a held booking's deposit. It lives until the hold ends
    /// (at least Stripe's 30 minutes; the hold's expiry closes it first, see `expire`).
    pub async fn open_checkout(
        &self,
        booking: &Booking,
        what: &str,
        now: DateTime<Utc>,
    ) -> Result<Session, PaymentError> {
        let (Some(id), Some(details)) = (booking.id, booking.details.as_ref()) else {
            return Err(PaymentError::Config("booking without details".into()));
        };
        let currency: stripe_types::Currency = details
            .currency
            .as_str()
            .to_lowercase()
            .parse()
            .map_err(|_| PaymentError::Config(format!("currency {}", details.currency.as_str())))?;
        let mut price = CreateCheckoutSessionLineItemsPriceData::new(currency);
        price.unit_amount = Some(details.deposit_cents.get());
        price.product_data = Some(ProductData::new(format!("Deposit: {what}")));
        let mut line = CreateCheckoutSessionLineItems::new();
        line.price_data = Some(price);
        line.quantity = Some(1);
        let metadata: HashMap<String, String> =
            HashMap::from([("booking_id".to_string(), id.to_string())]);
        let mut intent = CreateCheckoutSessionPaymentIntentData::new();
        intent.metadata = Some(metadata.clone());
        let base = self.settings.public_url.trim_end_matches('/');
        let expires = booking
            .hold_expires_at
            .unwrap_or(now)
            .max(now + MIN_SESSION_LIFE + Duration::seconds(30));
        let request = CreateCheckoutSession::new()
            .mode(CheckoutSessionMode::Payment)
            .client_reference_id(id.to_string())
            .customer_email(details.client.email.as_str())
            .metadata(metadata)
            .payment_intent_data(intent)
            .line_items(vec![line])
            .success_url(format!("{base}/?booking={id}&paid=1"))
            .cancel_url(format!("{base}/?booking={id}&paid=0"))
            .expires_at(expires.timestamp());
        let session = idempotent(request.customize(), &format!("salon-checkout-{id}"))
            .send(&self.client)
            .await
            .map_err(PaymentError::of)?;
        Ok(session.into())
    }

    /// The session as Stripe has it now.
    pub async fn session(&self, session_id: &str) -> Result<Session, PaymentError> {
        let session = RetrieveCheckoutSession::new(session_id)
            .send(&self.client)
            .await
            .map_err(PaymentError::of)?;
        Ok(session.into())
    }

    /// Closes an open session so it can no longer be paid. A session that was paid meanwhile
    /// cannot be closed: the answer is the session as it is.
    pub async fn expire(&self, session_id: &str) -> Result<Session, PaymentError> {
        match ExpireCheckoutSession::new(session_id)
            .send(&self.client)
            .await
            .map_err(PaymentError::of)
        {
            Ok(session) => Ok(session.into()),
            Err(PaymentError::Refused { .. }) => self.session(session_id).await,
            Err(e) => Err(e),
        }
    }

    /// Refunds `amount_cents` of `payment` (a PaymentIntent id); returns the refund id.
    pub async fn refund(
        &self,
        payment: &str,
        amount_cents: i64,
        key: &str,
    ) -> Result<String, PaymentError> {
        let request = stripe_core::refund::CreateRefund::new()
            .payment_intent(payment)
            .amount(amount_cents)
            .reason(stripe_core::refund::CreateRefundReason::RequestedByCustomer);
        let refund = idempotent(request.customize(), &format!("salon-refund-{key}"))
            .send(&self.client)
            .await
            .map_err(PaymentError::of)?;
        Ok(refund.id.as_str().to_string())
    }
}
