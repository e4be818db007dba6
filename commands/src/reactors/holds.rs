//! Unpaid holds run out: at the hold's expiry the booking is cancelled and its time released.
//!
//! With Stripe, the Checkout Session is closed first, so it cannot be paid after the slot was
//! given away. If Stripe says it was paid meanwhile, the payment is recorded (confirming the
//! booking) instead. If Stripe does not answer, the hold waits a little; after a few tries it
//! expires anyway, and a payment that still arrives later is refunded automatically.

use super::plan::HOLD;
use super::{metadata_for, Attempt, Due, Handler};
use crate::bus::CommandBus;
use crate::lifecycle::ChangeError;
use crate::payments::Payments;
use chrono::{DateTime, Utc};
use domain::booking::{BookingCommand, BookingError};
use domain::ids::BookingId;
use domain::values::Cents;
use futures::future::BoxFuture;

/// Tries at closing the Checkout Session before the hold expires without it.
const STRIPE_TRIES: i64 = 3;

pub struct HoldExpiry {
    pub bus: CommandBus,
    pub payments: Option<Payments>,
}

impl HoldExpiry {
    async fn expire(&self, item: &Due, now: DateTime<Utc>) -> Attempt {
        let id = match item.booking_id() {
            Ok(id) => id,
            Err(settled) => return settled,
        };
        let metadata = metadata_for(item, "system");
        if let Some(attempt) = self.close_checkout(item, id).await {
            return attempt;
        }
        let metadata = metadata.with_reason(Some("deposit not paid in time".into()));
        match self
            .bus
            .change_booking(id, BookingCommand::ExpireHold { now }, &metadata)
            .await
        {
            Ok(_) => Attempt::Done("hold expired".into()),
            Err(ChangeError::Refused(BookingError::HoldNotExpired)) => {
                // Not yet (a clock a little behind the one that set the hold).
                match self.bus.booking(id).await {
                    Ok(Some(b)) => match b.state.hold_expires_at {
                        Some(at) if at > now => Attempt::At(at),
                        _ => Attempt::Retry("hold not expired yet".into()),
                    },
                    _ => Attempt::Retry("hold not expired yet".into()),
                }
            }
            // Paid, cancelled or expired already: nothing to do.
            Err(ChangeError::Refused(e)) => Attempt::Done(format!("nothing to expire: {e}")),
            Err(ChangeError::NotFound) => Attempt::Done("no such booking".into()),
            Err(e) => Attempt::Retry(e.to_string()),
        }
    }
}

impl HoldExpiry {
    /// Closes the booking's Checkout Session. `Some` when the item is settled or must wait:
    /// paid meanwhile (recorded now), or Stripe not answering (retry).
    async fn close_checkout(&self, item: &Due, id: BookingId) -> Option<Attempt> {
        let payments = self.payments.as_ref()?;
        let booking = match self.bus.booking(id).await {
            Ok(Some(b)) => b.state,
            Ok(None) => return Some(Attempt::Done("no such booking".into())),
            Err(e) => return Some(Attempt::Retry(e.to_string())),
        };
        let checkout = booking.checkout.as_ref()?;
        match payments.expire(&checkout.session_id).await {
            Ok(session) if session.payment_status == "paid" => {
                let paid = BookingCommand::RecordDepositPaid {
                    amount_cents: Cents::new(session.amount_total.unwrap_or(0)).unwrap_or_default(),
                    payment: session.payment_intent,
                };
                let metadata = metadata_for(item, "stripe");
                Some(match self.bus.change_booking(id, paid, &metadata).await {
                    Ok(_) => Attempt::Done("paid before the hold ran out".into()),
                    Err(e) => Attempt::Retry(e.to_string()),
                })
            }
            Ok(_) => None,
            Err(e) if item.attempts < STRIPE_TRIES => {
                Some(Attempt::Retry(format!("closing the checkout session: {e}")))
            }
            Err(e) => {
                tracing::warn!(booking = %id, error = %e, "could not close the checkout session; expiring the hold anyway");
                None
            }
        }
    }
}

impl Handler for HoldExpiry {
    fn channel(&self) -> &'static str {
        HOLD
    }
    fn handle<'a>(&'a self, item: &'a Due, now: DateTime<Utc>) -> BoxFuture<'a, Attempt> {
        Box::pin(self.expire(item, now))
    }
}
