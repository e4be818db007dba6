//! What the booking events set in motion: a hold's expiry timer, refunds, the emails to the
//! client and the owner (confirmation, reminder, cancellation, move, refund, and "how was it?"
//! with the review link after a completed visit), and offers to
//! waitlisted clients when time frees up.

use super::{booking_of, Clock, Item, Planner};
use crate::bus::CommandBus;
use chrono::{DateTime, Duration, Utc};
use domain::booking::{Booking, BookingEvent};
use domain::stylist_day::StylistDayEvent;
use futures::future::BoxFuture;
use migrations::log::StoredEvent;
use serde_json::json;

pub const HOLD: &str = "hold";
pub const MAIL: &str = "mail";
pub const REFUND: &str = "refund";

/// Mail kinds.
pub mod kind {
    pub const CONFIRMATION: &str = "confirmation";
    pub const OWNER_ALERT: &str = "owner_alert";
    pub const REMINDER: &str = "reminder";
    pub const CANCELLATION: &str = "cancellation";
    pub const OWNER_CANCELLATION: &str = "owner_cancellation";
    pub const HOLD_EXPIRED: &str = "hold_expired";
    pub const RESCHEDULED: &str = "rescheduled";
    pub const REFUNDED: &str = "refunded";
    pub const WAITLIST_OFFER: &str = "waitlist_offer";
    pub const DEPOSIT_DUE: &str = "deposit_due";
    /// "How was it?" after a completed visit, with the signed review link.
    pub const REVIEW_REQUEST: &str = "review_request";
}

/// Plans the booking reactors' items.
pub struct BookingPlanner {
    pub bus: CommandBus,
    pub clock: Clock,
    /// How long before the appointment the reminder goes out.
    pub reminder_before: Duration,
    /// Is mail configured? Without it no mail is planned (nothing to deliver, and enabling
    /// mail later does not send a backlog of old news).
    pub mail: bool,
}

impl BookingPlanner {
    fn mail(id: String, kind: &str, booking: &str, due: DateTime<Utc>) -> Item {
        Item {
            id,
            channel: MAIL,
            kind: kind.into(),
            booking: Some(booking.into()),
            payload: json!({}),
            due,
        }
    }

    /// The reminder for an appointment at `start`, when it is still ahead. Its id names the
    /// start, so a moved appointment gets a new reminder and the old one finds the start changed.
    fn reminder(&self, booking: &str, start: DateTime<Utc>) -> Option<Item> {
        let due = start - self.reminder_before;
        (due > self.clock.now()).then(|| Item {
            id: format!("mail:reminder:{booking}:{}", start.timestamp()),
            channel: MAIL,
            kind: kind::REMINDER.into(),
            booking: Some(booking.into()),
            payload: json!({ "start": start }),
            due,
        })
    }

    /// Time freed on a stylist's day: an offer to each waiting client it could suit, in the
    /// order they joined (one second apart, so they go out in that order).
    async fn plan_offers(&self, event: &StoredEvent) -> Result<Vec<Item>, String> {
        let Ok(StylistDayEvent::SlotReleased { stylist, date, .. }) =
            serde_json::from_value::<StylistDayEvent>(event.payload.clone())
        else {
            return Ok(Vec::new());
        };
        let list = self.bus.waitlist(date).await.map_err(|e| e.to_string())?;
        let now = self.clock.now();
        Ok(list
            .entries
            .iter()
            .filter(|e| e.wants(stylist))
            .enumerate()
            .map(|(i, e)| Item {
                id: format!(
                    "mail:{}:{}:{}",
                    kind::WAITLIST_OFFER,
                    e.id,
                    event.at.position
                ),
                channel: MAIL,
                kind: kind::WAITLIST_OFFER.into(),
                booking: None,
                payload: json!({ "entry": e.id, "date": date, "stylist": stylist }),
                due: now + Duration::seconds(i as i64),
            })
            .collect())
    }

    async fn plan_event(&self, event: &StoredEvent) -> Result<Vec<Item>, String> {
        // The demo salon's made-up past visits: nobody to email, nothing to expire.
        if event.metadata.get("reason").and_then(|r| r.as_str()) == Some(crate::demo::DEMO_REASON) {
            return Ok(Vec::new());
        }
        if event.aggregate_type == "StylistDay" {
            if !self.mail {
                return Ok(Vec::new());
            }
            return self.plan_offers(event).await;
        }
        let Some(booking) = booking_of(event) else {
            return Ok(Vec::new());
        };
        let decoded: BookingEvent = match serde_json::from_value(event.payload.clone()) {
            Ok(e) => e,
            // An event this version does not know: nothing to do for it.
            Err(_) => return Ok(Vec::new()),
        };
        let now = self.clock.now();
        let position = event.at.position;
        let mut items = Vec::new();
        match decoded {
            BookingEvent::BookingHeld {
                hold_expires_at, ..
            } => items.push(Item {
                id: format!("hold:expire:{booking}"),
                channel: HOLD,
                kind: "expire".into(),
                booking: Some(booking.into()),
                payload: json!({ "hold_expires_at": hold_expires_at }),
                due: hold_expires_at,
            }),
            BookingEvent::BookingConfirmed { .. } => {
                for kind in [kind::CONFIRMATION, kind::OWNER_ALERT] {
                    items.push(Self::mail(
                        format!("mail:{kind}:{booking}"),
                        kind,
                        booking,
                        now,
                    ));
                }
                let state = self
                    .bus
                    .load::<Booking>(booking)
                    .await
                    .map_err(|e| e.to_string())?;
                if let Some(start) = state.state.start() {
                    items.extend(self.reminder(booking, start));
                }
            }
            BookingEvent::BookingCancelled { .. } => {
                for kind in [kind::CANCELLATION, kind::OWNER_CANCELLATION] {
                    items.push(Self::mail(
                        format!("mail:{kind}:{booking}"),
                        kind,
                        booking,
                        now,
                    ));
                }
            }
            // The payment link by email too: the client may have left the page (or booked
            // through the intake while the API was down).
            BookingEvent::CheckoutStarted { session_id, .. } => items.push(Self::mail(
                format!("mail:{}:{booking}:{session_id}", kind::DEPOSIT_DUE),
                kind::DEPOSIT_DUE,
                booking,
                now,
            )),
            BookingEvent::HoldExpired { .. } => items.push(Self::mail(
                format!("mail:{}:{booking}", kind::HOLD_EXPIRED),
                kind::HOLD_EXPIRED,
                booking,
                now,
            )),
            BookingEvent::BookingRescheduled {
                from_start, start, ..
            } => {
                let mut moved = Self::mail(
                    format!("mail:{}:{booking}:{position}", kind::RESCHEDULED),
                    kind::RESCHEDULED,
                    booking,
                    now,
                );
                moved.payload = json!({ "from_start": from_start, "start": start });
                items.push(moved);
                items.extend(self.reminder(booking, start));
            }
            BookingEvent::BookingCompleted { .. } => items.push(Self::mail(
                format!("mail:{}:{booking}", kind::REVIEW_REQUEST),
                kind::REVIEW_REQUEST,
                booking,
                now,
            )),
            BookingEvent::RefundRequested { amount_cents, .. } => items.push(Item {
                id: format!("refund:{booking}:{position}"),
                channel: REFUND,
                kind: "refund".into(),
                booking: Some(booking.into()),
                payload: json!({ "amount_cents": amount_cents }),
                due: now,
            }),
            BookingEvent::DepositRefunded { refund_id, .. } => {
                let mut refunded = Self::mail(
                    format!("mail:{}:{booking}:{refund_id}", kind::REFUNDED),
                    kind::REFUNDED,
                    booking,
                    now,
                );
                refunded.payload = event.payload["DepositRefunded"].clone();
                items.push(refunded);
            }
            _ => {}
        }
        if !self.mail {
            items.retain(|i| i.channel != MAIL);
        }
        Ok(items)
    }
}

impl Planner for BookingPlanner {
    fn plan<'a>(&'a self, event: &'a StoredEvent) -> BoxFuture<'a, Result<Vec<Item>, String>> {
        Box::pin(self.plan_event(event))
    }
}
