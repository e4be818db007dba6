//! A booking's lifecycle: `requested → held → confirmed → completed | no_show | cancelled`, with
//! the deposit `none | pending | paid | refunded` beside it. The time itself is reserved on the
//! stylist's day (see `stylist_day`); this aggregate owns what happens to the appointment.

use crate::ids::{BookingId, ServiceId, StylistId};
use crate::values::{Cents, Client, Currency};
use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BookingStatus {
    #[default]
    Requested,
    Held,
    Confirmed,
    Completed,
    NoShow,
    Cancelled,
}

impl BookingStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Requested => "requested",
            Self::Held => "held",
            Self::Confirmed => "confirmed",
            Self::Completed => "completed",
            Self::NoShow => "no_show",
            Self::Cancelled => "cancelled",
        }
    }
    pub fn is_final(self) -> bool {
        matches!(self, Self::Completed | Self::NoShow | Self::Cancelled)
    }
}

impl fmt::Display for BookingStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DepositStatus {
    #[default]
    None,
    Pending,
    Paid,
    Refunded,
}

impl DepositStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Pending => "pending",
            Self::Paid => "paid",
            Self::Refunded => "refunded",
        }
    }
}

/// What was booked, as the client asked for it. Carried whole by `BookingRequested` so that
/// read models never need to look anything up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BookingDetails {
    pub service: ServiceId,
    pub stylist: StylistId,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub client: Client,
    #[serde(default)]
    pub notes: Option<String>,
    pub price_cents: Cents,
    pub deposit_cents: Cents,
    pub currency: Currency,
    /// The client's idempotency key and a fingerprint of the request it came with, so a reused
    /// key with a different request can be told apart from a retry.
    #[serde(default)]
    pub idempotency_key: Option<String>,
    #[serde(default)]
    pub request_fingerprint: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Booking {
    pub id: Option<BookingId>,
    pub details: Option<BookingDetails>,
    pub status: BookingStatus,
    pub deposit: DepositStatus,
    pub hold_expires_at: Option<DateTime<Utc>>,
}

// One command or event is handled at a time, so the size of `Place` costs nothing; boxing
// `details` would only change the API every crate builds these with.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum BookingCommand {
    /// A client asks for a slot whose time is being reserved in the same commit. With a deposit
    /// due and deposits being collected (`hold_expires_at` is `Some`) the booking is held until
    /// then; otherwise it is confirmed at once (no deposit, or payments are not configured).
    Place {
        id: BookingId,
        details: BookingDetails,
        hold_expires_at: Option<DateTime<Utc>>,
    },
    /// The deposit arrived.
    RecordDepositPaid {
        amount_cents: Cents,
    },
    /// The hold ran out unpaid; `now` must be past its expiry.
    ExpireHold {
        now: DateTime<Utc>,
    },
    Cancel,
    /// The appointment happened; `now` must be after its start.
    Complete {
        now: DateTime<Utc>,
    },
    /// The client did not come; `now` must be after the start.
    MarkNoShow {
        now: DateTime<Utc>,
    },
}

// As for `BookingCommand`: events are handled one at a time, and `BookingRequested` carries the
// whole request on purpose (read models never look anything up).
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum BookingEvent {
    BookingRequested {
        id: BookingId,
        details: BookingDetails,
    },
    BookingHeld {
        id: BookingId,
        hold_expires_at: DateTime<Utc>,
        deposit_cents: Cents,
    },
    BookingConfirmed {
        id: BookingId,
    },
    DepositPaid {
        id: BookingId,
        amount_cents: Cents,
    },
    HoldExpired {
        id: BookingId,
    },
    BookingCancelled {
        id: BookingId,
    },
    BookingCompleted {
        id: BookingId,
    },
    BookingNoShow {
        id: BookingId,
    },
}

impl DomainEvent for BookingEvent {
    fn event_type(&self) -> String {
        match self {
            Self::BookingRequested { .. } => "BookingRequested",
            Self::BookingHeld { .. } => "BookingHeld",
            Self::BookingConfirmed { .. } => "BookingConfirmed",
            Self::DepositPaid { .. } => "DepositPaid",
            Self::HoldExpired { .. } => "HoldExpired",
            Self::BookingCancelled { .. } => "BookingCancelled",
            Self::BookingCompleted { .. } => "BookingCompleted",
            Self::BookingNoShow { .. } => "BookingNoShow",
        }
        .into()
    }
    fn event_version(&self) -> String {
        "1".into()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BookingError {
    #[error("the booking already exists")]
    AlreadyExists,
    #[error("no such booking")]
    NotFound,
    #[error("a booking must end after it starts")]
    InvalidTimes,
    #[error("a {status} booking cannot be {action}")]
    InvalidTransition {
        status: BookingStatus,
        action: &'static str,
    },
    #[error("the deposit is not pending")]
    NoDepositPending,
    #[error("the hold has not expired yet")]
    HoldNotExpired,
    #[error("the appointment has not started yet")]
    NotStarted,
}

impl Booking {
    fn require(
        &self,
        allowed: &[BookingStatus],
        action: &'static str,
    ) -> Result<BookingId, BookingError> {
        let id = self.id.ok_or(BookingError::NotFound)?;
        if allowed.contains(&self.status) {
            Ok(id)
        } else {
            Err(BookingError::InvalidTransition {
                status: self.status,
                action,
            })
        }
    }
    fn started(&self, now: DateTime<Utc>) -> Result<(), BookingError> {
        match &self.details {
            Some(d) if now >= d.start => Ok(()),
            _ => Err(BookingError::NotStarted),
        }
    }
}

impl Aggregate for Booking {
    const TYPE: &'static str = "Booking";
    type Command = BookingCommand;
    type Event = BookingEvent;
    type Error = BookingError;
    type Services = ();

    async fn handle(
        &mut self,
        command: BookingCommand,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), BookingError> {
        use BookingStatus::*;
        match command {
            BookingCommand::Place {
                id,
                details,
                hold_expires_at,
            } => {
                if self.id.is_some() {
                    return Err(BookingError::AlreadyExists);
                }
                if details.start >= details.end {
                    return Err(BookingError::InvalidTimes);
                }
                let deposit_cents = details.deposit_cents;
                sink.write(BookingEvent::BookingRequested { id, details }, self)
                    .await;
                let hold = hold_expires_at.filter(|_| !deposit_cents.is_zero());
                if let Some(hold_expires_at) = hold {
                    sink.write(
                        BookingEvent::BookingHeld {
                            id,
                            hold_expires_at,
                            deposit_cents,
                        },
                        self,
                    )
                    .await;
                } else {
                    sink.write(BookingEvent::BookingConfirmed { id }, self)
                        .await;
                }
            }
            BookingCommand::RecordDepositPaid { amount_cents } => {
                let id = self.id.ok_or(BookingError::NotFound)?;
                if self.deposit != DepositStatus::Pending {
                    return Err(BookingError::NoDepositPending);
                }
                sink.write(BookingEvent::DepositPaid { id, amount_cents }, self)
                    .await;
                if self.status == Held {
                    sink.write(BookingEvent::BookingConfirmed { id }, self)
                        .await;
                }
            }
            BookingCommand::ExpireHold { now } => {
                let id = self.require(&[Held], "expired")?;
                if self.hold_expires_at.is_some_and(|t| now < t) {
                    return Err(BookingError::HoldNotExpired);
                }
                sink.write(BookingEvent::HoldExpired { id }, self).await;
            }
            BookingCommand::Cancel => {
                let id = self.require(&[Requested, Held, Confirmed], "cancelled")?;
                sink.write(BookingEvent::BookingCancelled { id }, self)
                    .await;
            }
            BookingCommand::Complete { now } => {
                let id = self.require(&[Confirmed], "completed")?;
                self.started(now)?;
                sink.write(BookingEvent::BookingCompleted { id }, self)
                    .await;
            }
            BookingCommand::MarkNoShow { now } => {
                let id = self.require(&[Confirmed], "marked as a no-show")?;
                self.started(now)?;
                sink.write(BookingEvent::BookingNoShow { id }, self).await;
            }
        }
        Ok(())
    }

    fn apply(&mut self, event: BookingEvent) {
        match event {
            BookingEvent::BookingRequested { id, details } => {
                self.id = Some(id);
                self.details = Some(details);
                self.status = BookingStatus::Requested;
            }
            BookingEvent::BookingHeld {
                hold_expires_at, ..
            } => {
                self.status = BookingStatus::Held;
                self.deposit = DepositStatus::Pending;
                self.hold_expires_at = Some(hold_expires_at);
            }
            BookingEvent::BookingConfirmed { .. } => self.status = BookingStatus::Confirmed,
            BookingEvent::DepositPaid { .. } => self.deposit = DepositStatus::Paid,
            BookingEvent::HoldExpired { .. } | BookingEvent::BookingCancelled { .. } => {
                self.status = BookingStatus::Cancelled
            }
            BookingEvent::BookingCompleted { .. } => self.status = BookingStatus::Completed,
            BookingEvent::BookingNoShow { .. } => self.status = BookingStatus::NoShow,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::values::{Email, PersonName, Phone};
    use chrono::{Duration, TimeZone};
    use cqrs_es::test::TestFramework;
    use uuid::Uuid;

    type BookingTest = TestFramework<Booking>;
    use BookingStatus::{Cancelled, Completed, Confirmed, Held, NoShow, Requested};

    fn id() -> BookingId {
        BookingId::from_uuid(Uuid::from_u128(7))
    }

    fn cents(c: i64) -> Cents {
        Cents::new(c).unwrap()
    }

    /// The appointment starts at 15:00 UTC (10:00 in New York) on 2027-03-02.
    fn start() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2027, 3, 2, 15, 0, 0).unwrap()
    }

    /// The hold placed a week before, for fifteen minutes.
    fn hold_expires_at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2027, 2, 23, 12, 15, 0).unwrap()
    }

    fn details(deposit: i64) -> BookingDetails {
        BookingDetails {
            service: ServiceId::from_uuid(Uuid::from_u128(1)),
            stylist: StylistId::from_uuid(Uuid::from_u128(2)),
            start: start(),
            end: start() + Duration::minutes(60),
            client: Client {
                name: PersonName::parse("Grace Hopper").unwrap(),
                email: Email::parse("grace@example.com").unwrap(),
                phone: Phone::parse("212 555 0142").unwrap(),
            },
            notes: None,
            price_cents: cents(8500),
            deposit_cents: cents(deposit),
            currency: Currency::usd(),
            idempotency_key: Some("k1".into()),
            request_fingerprint: Some("f1".into()),
        }
    }

    fn place(details: BookingDetails) -> BookingCommand {
        BookingCommand::Place {
            id: id(),
            details,
            hold_expires_at: Some(hold_expires_at()),
        }
    }

    fn requested(deposit: i64) -> BookingEvent {
        BookingEvent::BookingRequested {
            id: id(),
            details: details(deposit),
        }
    }

    fn held() -> BookingEvent {
        BookingEvent::BookingHeld {
            id: id(),
            hold_expires_at: hold_expires_at(),
            deposit_cents: cents(2000),
        }
    }

    fn confirmed() -> BookingEvent {
        BookingEvent::BookingConfirmed { id: id() }
    }

    fn deposit_paid() -> BookingEvent {
        BookingEvent::DepositPaid {
            id: id(),
            amount_cents: cents(2000),
        }
    }

    /// A booking in `status`, reached by the events that lead there.
    fn history(status: BookingStatus) -> Vec<BookingEvent> {
        let ended = |last: BookingEvent| vec![requested(0), confirmed(), last];
        match status {
            Requested => vec![requested(2000)],
            Held => vec![requested(2000), held()],
            Confirmed => vec![requested(0), confirmed()],
            Completed => ended(BookingEvent::BookingCompleted { id: id() }),
            NoShow => ended(BookingEvent::BookingNoShow { id: id() }),
            Cancelled => ended(BookingEvent::BookingCancelled { id: id() }),
        }
    }

    fn state(events: Vec<BookingEvent>) -> Booking {
        let mut booking = Booking::default();
        for event in events {
            booking.apply(event);
        }
        booking
    }

    fn refused(status: BookingStatus, action: &'static str) -> BookingError {
        BookingError::InvalidTransition { status, action }
    }

    fn pay() -> BookingCommand {
        BookingCommand::RecordDepositPaid {
            amount_cents: cents(2000),
        }
    }

    // Place

    #[test]
    fn a_booking_with_a_deposit_is_held_until_paid() {
        BookingTest::with(())
            .given_no_previous_events()
            .when(place(details(2000)))
            .then_expect_events(vec![requested(2000), held()]);
    }

    #[test]
    fn a_deposit_is_not_held_for_when_payments_are_off() {
        let command = BookingCommand::Place {
            id: id(),
            details: details(2000),
            hold_expires_at: None,
        };
        BookingTest::with(())
            .given_no_previous_events()
            .when(command)
            .then_expect_events(vec![requested(2000), confirmed()]);
    }

    #[test]
    fn a_held_booking_has_its_deposit_pending() {
        let booking = state(history(Held));
        assert_eq!(booking.status, Held);
        assert_eq!(booking.deposit, DepositStatus::Pending);
        assert_eq!(booking.hold_expires_at, Some(hold_expires_at()));
    }

    #[test]
    fn a_booking_without_a_deposit_is_confirmed_at_once() {
        BookingTest::with(())
            .given_no_previous_events()
            .when(place(details(0)))
            .then_expect_events(vec![requested(0), confirmed()]);
        let booking = state(history(Confirmed));
        assert_eq!(booking.status, Confirmed);
        assert_eq!(booking.deposit, DepositStatus::None);
        assert_eq!(booking.hold_expires_at, None);
    }

    #[test]
    fn placing_an_existing_booking_is_refused() {
        BookingTest::with(())
            .given(history(Confirmed))
            .when(place(details(0)))
            .then_expect_error(BookingError::AlreadyExists);
    }

    #[test]
    fn a_booking_ending_before_it_starts_is_refused() {
        let mut inverted = details(0);
        inverted.end = inverted.start - Duration::minutes(60);
        BookingTest::with(())
            .given_no_previous_events()
            .when(place(inverted))
            .then_expect_error(BookingError::InvalidTimes);
    }

    #[test]
    fn a_booking_ending_when_it_starts_is_refused() {
        let mut empty = details(0);
        empty.end = empty.start;
        BookingTest::with(())
            .given_no_previous_events()
            .when(place(empty))
            .then_expect_error(BookingError::InvalidTimes);
    }

    // RecordDepositPaid

    #[test]
    fn paying_the_deposit_of_a_held_booking_confirms_it() {
        BookingTest::with(())
            .given(history(Held))
            .when(pay())
            .then_expect_events(vec![deposit_paid(), confirmed()]);
        let mut events = history(Held);
        events.extend([deposit_paid(), confirmed()]);
        let booking = state(events);
        assert_eq!(booking.status, Confirmed);
        assert_eq!(booking.deposit, DepositStatus::Paid);
    }

    #[test]
    fn paying_when_no_deposit_is_due_is_refused() {
        BookingTest::with(())
            .given(history(Confirmed))
            .when(pay())
            .then_expect_error(BookingError::NoDepositPending);
    }

    #[test]
    fn paying_the_deposit_twice_is_refused() {
        let mut events = history(Held);
        events.extend([deposit_paid(), confirmed()]);
        BookingTest::with(())
            .given(events)
            .when(pay())
            .then_expect_error(BookingError::NoDepositPending);
    }

    #[test]
    fn paying_for_an_unknown_booking_is_refused() {
        BookingTest::with(())
            .given_no_previous_events()
            .when(pay())
            .then_expect_error(BookingError::NotFound);
    }

    #[test]
    fn a_deposit_paid_after_the_hold_expired_is_recorded_but_does_not_confirm() {
        let mut events = history(Held);
        events.push(BookingEvent::HoldExpired { id: id() });
        BookingTest::with(())
            .given(events)
            .when(pay())
            .then_expect_events(vec![deposit_paid()]);
    }

    // ExpireHold

    #[test]
    fn a_hold_past_its_expiry_expires() {
        BookingTest::with(())
            .given(history(Held))
            .when(BookingCommand::ExpireHold {
                now: hold_expires_at() + Duration::minutes(1),
            })
            .then_expect_events(vec![BookingEvent::HoldExpired { id: id() }]);
    }

    #[test]
    fn a_hold_expires_at_its_expiry_instant() {
        BookingTest::with(())
            .given(history(Held))
            .when(BookingCommand::ExpireHold {
                now: hold_expires_at(),
            })
            .then_expect_events(vec![BookingEvent::HoldExpired { id: id() }]);
    }

    #[test]
    fn an_expired_hold_cancels_the_booking() {
        let mut events = history(Held);
        events.push(BookingEvent::HoldExpired { id: id() });
        assert_eq!(state(events).status, Cancelled);
    }

    #[test]
    fn expiring_a_hold_before_its_expiry_is_refused() {
        BookingTest::with(())
            .given(history(Held))
            .when(BookingCommand::ExpireHold {
                now: hold_expires_at() - Duration::seconds(1),
            })
            .then_expect_error(BookingError::HoldNotExpired);
    }

    #[test]
    fn expiring_a_confirmed_booking_is_refused() {
        BookingTest::with(())
            .given(history(Confirmed))
            .when(BookingCommand::ExpireHold {
                now: hold_expires_at() + Duration::days(1),
            })
            .then_expect_error(refused(Confirmed, "expired"));
    }

    #[test]
    fn expiring_a_hold_twice_is_refused() {
        let mut events = history(Held);
        events.push(BookingEvent::HoldExpired { id: id() });
        BookingTest::with(())
            .given(events)
            .when(BookingCommand::ExpireHold {
                now: hold_expires_at() + Duration::days(1),
            })
            .then_expect_error(refused(Cancelled, "expired"));
    }

    #[test]
    fn expiring_an_unknown_booking_is_refused() {
        BookingTest::with(())
            .given_no_previous_events()
            .when(BookingCommand::ExpireHold {
                now: hold_expires_at(),
            })
            .then_expect_error(BookingError::NotFound);
    }

    // Cancel

    #[test]
    fn a_requested_booking_can_be_cancelled() {
        BookingTest::with(())
            .given(history(Requested))
            .when(BookingCommand::Cancel)
            .then_expect_events(vec![BookingEvent::BookingCancelled { id: id() }]);
    }

    #[test]
    fn a_held_booking_can_be_cancelled() {
        BookingTest::with(())
            .given(history(Held))
            .when(BookingCommand::Cancel)
            .then_expect_events(vec![BookingEvent::BookingCancelled { id: id() }]);
    }

    #[test]
    fn a_confirmed_booking_can_be_cancelled() {
        BookingTest::with(())
            .given(history(Confirmed))
            .when(BookingCommand::Cancel)
            .then_expect_events(vec![BookingEvent::BookingCancelled { id: id() }]);
    }

    #[test]
    fn cancelling_a_completed_booking_is_refused() {
        BookingTest::with(())
            .given(history(Completed))
            .when(BookingCommand::Cancel)
            .then_expect_error(refused(Completed, "cancelled"));
    }

    #[test]
    fn cancelling_a_no_show_is_refused() {
        BookingTest::with(())
            .given(history(NoShow))
            .when(BookingCommand::Cancel)
            .then_expect_error(refused(NoShow, "cancelled"));
    }

    #[test]
    fn cancelling_twice_is_refused() {
        BookingTest::with(())
            .given(history(Cancelled))
            .when(BookingCommand::Cancel)
            .then_expect_error(refused(Cancelled, "cancelled"));
    }

    #[test]
    fn cancelling_an_unknown_booking_is_refused() {
        BookingTest::with(())
            .given_no_previous_events()
            .when(BookingCommand::Cancel)
            .then_expect_error(BookingError::NotFound);
    }

    // Complete

    #[test]
    fn a_confirmed_booking_is_completed_once_started() {
        BookingTest::with(())
            .given(history(Confirmed))
            .when(BookingCommand::Complete {
                now: start() + Duration::minutes(45),
            })
            .then_expect_events(vec![BookingEvent::BookingCompleted { id: id() }]);
    }

    #[test]
    fn completing_at_the_start_instant_is_accepted() {
        BookingTest::with(())
            .given(history(Confirmed))
            .when(BookingCommand::Complete { now: start() })
            .then_expect_events(vec![BookingEvent::BookingCompleted { id: id() }]);
    }

    #[test]
    fn completing_before_the_start_is_refused() {
        BookingTest::with(())
            .given(history(Confirmed))
            .when(BookingCommand::Complete {
                now: start() - Duration::seconds(1),
            })
            .then_expect_error(BookingError::NotStarted);
    }

    #[test]
    fn completing_a_held_booking_is_refused() {
        BookingTest::with(())
            .given(history(Held))
            .when(BookingCommand::Complete {
                now: start() + Duration::hours(1),
            })
            .then_expect_error(refused(Held, "completed"));
    }

    #[test]
    fn completing_a_cancelled_booking_is_refused() {
        BookingTest::with(())
            .given(history(Cancelled))
            .when(BookingCommand::Complete {
                now: start() + Duration::hours(1),
            })
            .then_expect_error(refused(Cancelled, "completed"));
    }

    #[test]
    fn completing_twice_is_refused() {
        BookingTest::with(())
            .given(history(Completed))
            .when(BookingCommand::Complete {
                now: start() + Duration::hours(1),
            })
            .then_expect_error(refused(Completed, "completed"));
    }

    #[test]
    fn completing_an_unknown_booking_is_refused() {
        BookingTest::with(())
            .given_no_previous_events()
            .when(BookingCommand::Complete { now: start() })
            .then_expect_error(BookingError::NotFound);
    }

    // MarkNoShow

    #[test]
    fn a_confirmed_booking_is_marked_no_show_once_started() {
        BookingTest::with(())
            .given(history(Confirmed))
            .when(BookingCommand::MarkNoShow {
                now: start() + Duration::minutes(20),
            })
            .then_expect_events(vec![BookingEvent::BookingNoShow { id: id() }]);
    }

    #[test]
    fn a_no_show_before_the_start_is_refused() {
        BookingTest::with(())
            .given(history(Confirmed))
            .when(BookingCommand::MarkNoShow {
                now: start() - Duration::minutes(5),
            })
            .then_expect_error(BookingError::NotStarted);
    }

    #[test]
    fn a_no_show_for_a_held_booking_is_refused() {
        BookingTest::with(())
            .given(history(Held))
            .when(BookingCommand::MarkNoShow {
                now: start() + Duration::hours(1),
            })
            .then_expect_error(refused(Held, "marked as a no-show"));
    }

    #[test]
    fn a_no_show_for_a_completed_booking_is_refused() {
        BookingTest::with(())
            .given(history(Completed))
            .when(BookingCommand::MarkNoShow {
                now: start() + Duration::hours(1),
            })
            .then_expect_error(refused(Completed, "marked as a no-show"));
    }

    #[test]
    fn marking_a_no_show_twice_is_refused() {
        BookingTest::with(())
            .given(history(NoShow))
            .when(BookingCommand::MarkNoShow {
                now: start() + Duration::hours(1),
            })
            .then_expect_error(refused(NoShow, "marked as a no-show"));
    }

    #[test]
    fn a_no_show_for_an_unknown_booking_is_refused() {
        BookingTest::with(())
            .given_no_previous_events()
            .when(BookingCommand::MarkNoShow { now: start() })
            .then_expect_error(BookingError::NotFound);
    }

    #[test]
    fn final_states_are_completed_no_show_and_cancelled() {
        assert!([Completed, NoShow, Cancelled].iter().all(|s| s.is_final()));
        assert!(![Requested, Held, Confirmed].iter().any(|s| s.is_final()));
        assert_eq!(NoShow.to_string(), "no_show");
    }
}
