//! Refunds: a `RefundRequested` event becomes a Stripe refund, and Stripe's answer becomes
//! `DepositRefunded` (or `RefundFailed` when Stripe refuses for good). The refund's idempotency
//! key is the outbox item, so a retry after a lost answer does not refund twice.

use super::plan::REFUND;
use super::{metadata_for, Attempt, Due, Handler};
use crate::bus::CommandBus;
use crate::payments::{PaymentError, Payments};
use chrono::{DateTime, Utc};
use domain::booking::BookingCommand;
use domain::values::Cents;
use futures::future::BoxFuture;

pub struct Refunds {
    pub bus: CommandBus,
    pub payments: Option<Payments>,
}

impl Refunds {
    async fn refund(&self, item: &Due) -> Attempt {
        let id = match item.booking_id() {
            Ok(id) => id,
            Err(settled) => return settled,
        };
        let Some(payments) = &self.payments else {
            return Attempt::Retry("Stripe is not configured (STRIPE_SECRET_KEY)".into());
        };
        let booking = match self.bus.booking(id).await {
            Ok(Some(b)) => b.state,
            Ok(None) => return Attempt::Done("no such booking".into()),
            Err(e) => return Attempt::Retry(e.to_string()),
        };
        let amount = item
            .payload
            .get("amount_cents")
            .and_then(serde_json::Value::as_i64)
            .unwrap_or(0);
        let metadata = metadata_for(item, "system");
        let Some(payment) = booking.payment.clone() else {
            let failed = BookingCommand::RecordRefundFailed {
                message: "no Stripe payment is recorded for this deposit".into(),
            };
            return match self.bus.change_booking(id, failed, &metadata).await {
                Ok(_) => Attempt::Done("no payment to refund".into()),
                Err(e) => Attempt::Retry(e.to_string()),
            };
        };
        let command = match payments.refund(&payment, amount, &item.id).await {
            Ok(refund_id) => BookingCommand::RecordRefund {
                amount_cents: Cents::new(amount).unwrap_or_default(),
                refund_id,
            },
            Err(PaymentError::Refused { message, .. }) => {
                BookingCommand::RecordRefundFailed { message }
            }
            Err(e) => return Attempt::Retry(e.to_string()),
        };
        let refused = matches!(command, BookingCommand::RecordRefundFailed { .. });
        match self.bus.change_booking(id, command, &metadata).await {
            Ok(_) if refused => Attempt::Done("Stripe refused the refund".into()),
            Ok(_) => Attempt::Done("refunded".into()),
            Err(e) => Attempt::Retry(e.to_string()),
        }
    }
}

impl Handler for Refunds {
    fn channel(&self) -> &'static str {
        REFUND
    }
    fn handle<'a>(&'a self, item: &'a Due, _now: DateTime<Utc>) -> BoxFuture<'a, Attempt> {
        Box::pin(self.refund(item))
    }
}
