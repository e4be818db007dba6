//! Deposits through Stripe: the client (checkout sessions, refunds) and the webhook receiver.

pub mod stripe;
pub mod webhook;

pub use self::stripe::{PaymentError, Payments, Session, StripeSettings};
pub use webhook::{Received, SignatureError, StripeWebhooks, WebhookError};
