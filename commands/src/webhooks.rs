//! Outgoing webhooks for integrators: subscriptions and their signing secrets.
//!
//! A subscription is an aggregate (`domain::webhook`); its signing secret is not. The secret is
//! made here (`whsec_` and 192 random bits, hex), shown once in the answer to create or rotate,
//! and kept in the operational table `webhook_secrets`, sealed with `SALON_SECRET_KEY` when the
//! server has one (XChaCha20-Poly1305, as calendar credentials) and as is otherwise. Events
//! carry only its fingerprint, so no export or replay of the log can sign a delivery.
//!
//! The deliveries are a reactor: see [`crate::reactors::webhooks`].

use crate::bus::{CommandBus, CommandError, Committed};
use crate::calendars::{SealError, Sealer};
use chrono::{DateTime, Utc};
use domain::ids::WebhookSubscriptionId;
use domain::metadata::EventMetadata;
use domain::webhook::{WebhookCommand, WebhookError, WebhookSettings, WebhookSubscription};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::fmt;

pub use crate::store::DeliveryRecord;

/// Prefix that makes a leaked signing secret recognisable (the same as Stripe's).
pub const SECRET_PREFIX: &str = "whsec_";

/// A signing secret. `Debug` hides it; only [`WebhookSecret::expose`] gives it out.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(String);

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WebhookSecret({}…)", self.fingerprint())
    }
}

impl WebhookSecret {
    pub fn generate() -> Self {
        let mut bytes = [0u8; 24];
        rand::thread_rng().fill_bytes(&mut bytes);
        Self(format!("{SECRET_PREFIX}{}", hex::encode(bytes)))
    }

    /// The secret itself: for the one answer that shows it, and for signing.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The first 16 hex digits of the secret's SHA-256: what events and the API show.
    pub fn fingerprint(&self) -> String {
        hex::encode(&Sha256::digest(self.0.as_bytes())[..8])
    }

    /// `Salon-Signature`: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">` (Stripe's
    /// scheme, so integrators can reuse its verifiers).
    pub fn sign(&self, t: i64, body: &[u8]) -> String {
        // HMAC takes a key of any length.
        let mut mac = match Hmac::<Sha256>::new_from_slice(self.0.as_bytes()) {
            Ok(mac) => mac,
            Err(_) => return format!("t={t}"),
        };
        mac.update(t.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WebhooksError {
    #[error(transparent)]
    Command(#[from] CommandError<WebhookError>),
    #[error("webhook secrets: {0}")]
    Sql(#[from] sqlx::Error),
    #[error(transparent)]
    Seal(#[from] SealError),
    #[error("the stored signing secret is sealed, and SALON_SECRET_KEY is not set")]
    NoKey,
}

/// A subscription just created: the secret exists in clear only in this value.
#[derive(Debug)]
pub struct NewWebhook {
    pub id: WebhookSubscriptionId,
    pub secret: WebhookSecret,
    pub committed: Committed,
}

/// Subscriptions' lifecycle where the secret is involved, and the secrets themselves.
#[derive(Clone)]
pub struct Webhooks {
    bus: CommandBus,
    sealer: Option<Sealer>,
}

impl fmt::Debug for Webhooks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Webhooks")
            .field("sealed", &self.sealer.is_some())
            .finish()
    }
}

impl Webhooks {
    /// `sealer`: seal secrets at rest (from `SALON_SECRET_KEY`); `None` stores them as is.
    pub fn new(bus: CommandBus, sealer: Option<Sealer>) -> Self {
        Self { bus, sealer }
    }

    pub fn bus(&self) -> &CommandBus {
        &self.bus
    }

    async fn save(
        &self,
        id: WebhookSubscriptionId,
        secret: &WebhookSecret,
    ) -> Result<(), sqlx::Error> {
        let stored = match &self.sealer {
            Some(sealer) => sealer.seal(secret.expose()),
            None => secret.expose().to_string(),
        };
        self.bus
            .store()
            .save_webhook_secret(&id.to_string(), &stored, &secret.fingerprint(), Utc::now())
            .await
    }

    /// Creates a subscription with a fresh secret. The secret is stored first: a subscription
    /// never exists without one (a refused command leaves a secret nobody uses, removed here).
    pub async fn create(
        &self,
        settings: WebhookSettings,
        metadata: &EventMetadata,
    ) -> Result<NewWebhook, WebhooksError> {
        let id = WebhookSubscriptionId::new();
        let secret = WebhookSecret::generate();
        self.save(id, &secret).await?;
        let command = WebhookCommand::Create {
            id,
            settings,
            secret_fingerprint: secret.fingerprint(),
        };
        match self
            .bus
            .execute::<WebhookSubscription>(&id.to_string(), command, metadata)
            .await
        {
            Ok((committed, _)) => Ok(NewWebhook {
                id,
                secret,
                committed,
            }),
            Err(e) => {
                let _ = self
                    .bus
                    .store()
                    .forget_webhook_secret(&id.to_string())
                    .await;
                Err(e.into())
            }
        }
    }

    /// Replaces the secret. Deliveries from now on are signed with the new one.
    pub async fn rotate(
        &self,
        id: WebhookSubscriptionId,
        metadata: &EventMetadata,
    ) -> Result<(WebhookSecret, Committed), WebhooksError> {
        let loaded = self
            .bus
            .load_fresh::<WebhookSubscription>(&id.to_string())
            .await
            .map_err(CommandError::Store)?;
        if loaded.state.deleted {
            return Err(CommandError::Rejected(WebhookError::Deleted).into());
        }
        if loaded.state.settings.is_none() {
            return Err(CommandError::Rejected(WebhookError::NotFound).into());
        }
        let secret = WebhookSecret::generate();
        self.save(id, &secret).await?;
        let command = WebhookCommand::RotateSecret {
            secret_fingerprint: secret.fingerprint(),
        };
        let (committed, _) = self
            .bus
            .execute::<WebhookSubscription>(&id.to_string(), command, metadata)
            .await?;
        Ok((secret, committed))
    }

    /// Deletes (archives) the subscription and forgets its secret; the log keeps its history.
    pub async fn delete(
        &self,
        id: WebhookSubscriptionId,
        metadata: &EventMetadata,
    ) -> Result<Committed, WebhooksError> {
        let (committed, _) = self
            .bus
            .execute::<WebhookSubscription>(&id.to_string(), WebhookCommand::Delete, metadata)
            .await?;
        if let Err(e) = self
            .bus
            .store()
            .forget_webhook_secret(&id.to_string())
            .await
        {
            tracing::warn!(subscription = %id, error = %e, "could not remove a deleted webhook's secret");
        }
        Ok(committed)
    }

    /// The secret deliveries are signed with now.
    pub async fn secret(&self, id: &str) -> Result<Option<WebhookSecret>, WebhooksError> {
        let Some(stored) = self.bus.store().webhook_secret(id).await? else {
            return Ok(None);
        };
        if stored.starts_with(SECRET_PREFIX) {
            return Ok(Some(WebhookSecret(stored)));
        }
        let sealer = self.sealer.as_ref().ok_or(WebhooksError::NoKey)?;
        Ok(Some(WebhookSecret(sealer.open(&stored)?)))
    }

    /// One page of a subscription's delivery log, newest first, with the total.
    pub async fn deliveries(
        &self,
        id: &str,
        limit: usize,
        offset: usize,
    ) -> Result<(usize, Vec<DeliveryRecord>), WebhooksError> {
        let (count, rows) = self
            .bus
            .store()
            .deliveries(
                id,
                i64::try_from(limit).unwrap_or(i64::MAX),
                i64::try_from(offset).unwrap_or(i64::MAX),
            )
            .await?;
        Ok((usize::try_from(count).unwrap_or(0), rows))
    }

    pub(crate) async fn record(&self, record: &DeliveryRecord) {
        if let Err(e) = self.bus.store().record_delivery(record).await {
            tracing::warn!(item = %record.item, error = %e, "could not write the webhook delivery log");
        }
    }
}

/// RFC 3339 in UTC with milliseconds: sorts as text.
pub(crate) fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_look_like_stripes_and_hide_in_debug() {
        let secret = WebhookSecret::generate();
        assert!(secret.expose().starts_with("whsec_"));
        assert_eq!(secret.expose().len(), 6 + 48);
        assert_ne!(secret, WebhookSecret::generate());
        let shown = format!("{secret:?}");
        assert!(!shown.contains(secret.expose()), "{shown}");
        assert!(domain::webhook::is_fingerprint(&secret.fingerprint()));
    }

    #[test]
    fn signatures_verify_with_the_stripe_verifier() {
        let secret = WebhookSecret("whsec_test".into());
        let body = br#"{"id":"webhook:x:1"}"#;
        let header = secret.sign(1_800_000_000, body);
        assert!(header.starts_with("t=1800000000,v1="));
        assert_eq!(
            crate::payments::webhook::verify(body, Some(&header), "whsec_test", 1_800_000_000),
            Ok(())
        );
        assert!(crate::payments::webhook::verify(
            b"{}",
            Some(&header),
            "whsec_test",
            1_800_000_000
        )
        .is_err());
        assert!(crate::payments::webhook::verify(
            body,
            Some(&header),
            "whsec_other",
            1_800_000_000
        )
        .is_err());
    }
}
