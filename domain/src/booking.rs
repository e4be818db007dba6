//! A booking's lifecycle: `requested → held → confirmed → completed | no_show | cancelled`, with
//! the deposit `none | pending | paid | refunded` beside it. The time itself is reserved on the
//! stylist's day (see `stylist_day`); this aggregate owns what happens to the appointment.

use crate::ids::{BookingId, ServiceId, StylistId};
use crate::values::{Cents, Client, Currency};
use chrono::{DateTime, Duration, Utc};
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

/// Who ended or moved a booking; the policy differs (a client late to cancel forfeits the
/// deposit, the owner decides).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Party {
    Client,
    Owner,
    System,
}

impl Party {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Client => "client",
            Self::Owner => "owner",
            Self::System => "system",
        }
    }
}

/// What happens to a paid deposit when a booking is cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefundRule {
    /// The client cancels: refunded when at least `window` before the start, kept after.
    Policy {
        window: Duration,
    },
    /// The owner (or an integrator) decides.
    Refund,
    Keep,
}

/// Why a refund is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefundReason {
    /// Cancelled in time, or the owner chose to refund.
    Cancelled,
    /// The money arrived after the booking had already ended (hold expired, cancelled).
    PaidTooLate,
}

/// The Stripe Checkout Session collecting the deposit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkout {
    pub session_id: String,
    pub url: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Booking {
    pub id: Option<BookingId>,
    pub details: Option<BookingDetails>,
    pub status: BookingStatus,
    pub deposit: DepositStatus,
    pub hold_expires_at: Option<DateTime<Utc>>,
    pub checkout: Option<Checkout>,
    /// The payment (Stripe PaymentIntent) that paid the deposit, which a refund names.
    pub payment: Option<String>,
    pub deposit_paid_cents: Option<Cents>,
    /// A refund was asked for and not yet confirmed by the payment provider.
    pub refund_pending: bool,
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
    /// A checkout session was opened for the pending deposit.
    StartCheckout { session_id: String, url: String },
    /// The deposit arrived. Recording it again is a no-op (providers retry).
    RecordDepositPaid {
        amount_cents: Cents,
        payment: Option<String>,
    },
    /// A payment attempt failed; the hold stands until it expires.
    RecordPaymentFailed { message: String },
    /// The hold ran out unpaid; `now` must be past its expiry.
    ExpireHold { now: DateTime<Utc> },
    /// The checkout session closed unpaid: the hold ends now.
    AbandonCheckout { session_id: String },
    /// Cancels the booking; a paid deposit is refunded or kept by `refund`.
    Cancel {
        by: Party,
        refund: RefundRule,
        now: DateTime<Utc>,
    },
    /// Moves the appointment (the new time is reserved in the same commit). A client may move
    /// it only up to `window` before the start.
    Reschedule {
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        by: Party,
        window: Duration,
        now: DateTime<Utc>,
    },
    /// The payment provider refunded the deposit. Recording it again is a no-op.
    RecordRefund {
        amount_cents: Cents,
        refund_id: String,
    },
    /// The payment provider refused the refund for good.
    RecordRefundFailed { message: String },
    /// The appointment happened; `now` must be after its start.
    Complete { now: DateTime<Utc> },
    /// The client did not come; `now` must be after the start. A paid deposit is kept.
    MarkNoShow { now: DateTime<Utc> },
    /// The salon changes the booking's notes (`None` clears them); the same notes again is a
    /// no-op.
    ChangeNotes { notes: Option<String> },
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
    CheckoutStarted {
        id: BookingId,
        session_id: String,
        url: String,
    },
    DepositPaid {
        id: BookingId,
        amount_cents: Cents,
        #[serde(default)]
        payment: Option<String>,
    },
    DepositFailed {
        id: BookingId,
        message: String,
    },
    HoldExpired {
        id: BookingId,
    },
    BookingCancelled {
        id: BookingId,
        /// Absent in events written before cancellations recorded who made them.
        #[serde(default)]
        by: Option<Party>,
    },
    BookingRescheduled {
        id: BookingId,
        from_start: DateTime<Utc>,
        from_end: DateTime<Utc>,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        by: Party,
    },
    RefundRequested {
        id: BookingId,
        amount_cents: Cents,
        reason: RefundReason,
    },
    DepositRefunded {
        id: BookingId,
        amount_cents: Cents,
        refund_id: String,
    },
    RefundFailed {
        id: BookingId,
        message: String,
    },
    /// A paid deposit stays with the salon (late cancellation, no-show).
    DepositForfeited {
        id: BookingId,
        amount_cents: Cents,
    },
    BookingCompleted {
        id: BookingId,
    },
    BookingNoShow {
        id: BookingId,
    },
    BookingNotesChanged {
        id: BookingId,
        notes: Option<String>,
    },
}

impl DomainEvent for BookingEvent {
    fn event_type(&self) -> String {
        match self {
            Self::BookingRequested { .. } => "BookingRequested",
            Self::BookingHeld { .. } => "BookingHeld",
            Self::BookingConfirmed { .. } => "BookingConfirmed",
            Self::CheckoutStarted { .. } => "CheckoutStarted",
            Self::DepositPaid { .. } => "DepositPaid",
            Self::DepositFailed { .. } => "DepositFailed",
            Self::HoldExpired { .. } => "HoldExpired",
            Self::BookingCancelled { .. } => "BookingCancelled",
            Self::BookingRescheduled { .. } => "BookingRescheduled",
            Self::RefundRequested { .. } => "RefundRequested",
            Self::DepositRefunded { .. } => "DepositRefunded",
            Self::RefundFailed { .. } => "RefundFailed",
            Self::DepositForfeited { .. } => "DepositForfeited",
            Self::BookingCompleted { .. } => "BookingCompleted",
            Self::BookingNoShow { .. } => "BookingNoShow",
            Self::BookingNotesChanged { .. } => "BookingNotesChanged",
        }
        .into()
    }
    fn event_version(&self) -> String {
        match self {
            // Version 2: the client's contact details and notes are sealed with the client's
            // key in the log (`migrations::pii`).
            Self::BookingRequested { .. } => "2",
            _ => "1",
        }
        .into()
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
    #[error("no deposit was paid")]
    NoDepositPaid,
    #[error("the hold has not expired yet")]
    HoldNotExpired,
    #[error("the appointment has not started yet")]
    NotStarted,
    #[error(
        "it is too late to move this appointment online: the salon needs {hours} hours' notice"
    )]
    TooLateToMove { hours: i64 },
    #[error("the appointment already is at that time")]
    SameTime,
    #[error(transparent)]
    Invalid(#[from] crate::ids::ParseError),
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
    /// The paid deposit still with the salon (not refunded, no refund under way).
    pub fn refundable_cents(&self) -> Option<Cents> {
        (self.deposit == DepositStatus::Paid && !self.refund_pending)
            .then_some(self.deposit_paid_cents)
            .flatten()
            .filter(|c| !c.is_zero())
    }
    pub fn start(&self) -> Option<DateTime<Utc>> {
        self.details.as_ref().map(|d| d.start)
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
            BookingCommand::StartCheckout { session_id, url } => {
                let id = self.require(&[Held], "sent to checkout")?;
                if self.deposit != DepositStatus::Pending {
                    return Err(BookingError::NoDepositPending);
                }
                if self.checkout.as_ref().map(|c| &c.session_id) != Some(&session_id) {
                    sink.write(
                        BookingEvent::CheckoutStarted {
                            id,
                            session_id,
                            url,
                        },
                        self,
                    )
                    .await;
                }
            }
            BookingCommand::RecordDepositPaid {
                amount_cents,
                payment,
            } => {
                let id = self.id.ok_or(BookingError::NotFound)?;
                match self.deposit {
                    DepositStatus::None => return Err(BookingError::NoDepositPending),
                    // The provider told us again (retries, duplicates): already recorded.
                    DepositStatus::Paid | DepositStatus::Refunded => return Ok(()),
                    DepositStatus::Pending => {}
                }
                sink.write(
                    BookingEvent::DepositPaid {
                        id,
                        amount_cents,
                        payment,
                    },
                    self,
                )
                .await;
                match self.status {
                    Held => {
                        sink.write(BookingEvent::BookingConfirmed { id }, self)
                            .await
                    }
                    // The booking ended before the money came: give it back.
                    Cancelled if !amount_cents.is_zero() => {
                        sink.write(
                            BookingEvent::RefundRequested {
                                id,
                                amount_cents,
                                reason: RefundReason::PaidTooLate,
                            },
                            self,
                        )
                        .await
                    }
                    _ => {}
                }
            }
            BookingCommand::RecordPaymentFailed { message } => {
                let id = self.id.ok_or(BookingError::NotFound)?;
                if self.status == Held && self.deposit == DepositStatus::Pending {
                    sink.write(BookingEvent::DepositFailed { id, message }, self)
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
            BookingCommand::AbandonCheckout { session_id } => {
                let id = self.id.ok_or(BookingError::NotFound)?;
                let ours = self.checkout.as_ref().map(|c| &c.session_id) == Some(&session_id);
                if self.status == Held && ours {
                    sink.write(BookingEvent::HoldExpired { id }, self).await;
                }
            }
            BookingCommand::Cancel { by, refund, now } => {
                let id = self.require(&[Requested, Held, Confirmed], "cancelled")?;
                sink.write(BookingEvent::BookingCancelled { id, by: Some(by) }, self)
                    .await;
                if let Some(amount_cents) = self.refundable_cents() {
                    let give_back = match refund {
                        RefundRule::Refund => true,
                        RefundRule::Keep => false,
                        RefundRule::Policy { window } => {
                            self.start().is_some_and(|start| now + window <= start)
                        }
                    };
                    let event = if give_back {
                        BookingEvent::RefundRequested {
                            id,
                            amount_cents,
                            reason: RefundReason::Cancelled,
                        }
                    } else {
                        BookingEvent::DepositForfeited { id, amount_cents }
                    };
                    sink.write(event, self).await;
                }
            }
            BookingCommand::Reschedule {
                start,
                end,
                by,
                window,
                now,
            } => {
                let id = self.require(&[Held, Confirmed], "moved")?;
                if start >= end {
                    return Err(BookingError::InvalidTimes);
                }
                let Some(details) = &self.details else {
                    return Err(BookingError::NotFound);
                };
                if details.start == start && details.end == end {
                    return Err(BookingError::SameTime);
                }
                if by == Party::Client && now + window > details.start {
                    return Err(BookingError::TooLateToMove {
                        hours: window.num_hours(),
                    });
                }
                let (from_start, from_end) = (details.start, details.end);
                sink.write(
                    BookingEvent::BookingRescheduled {
                        id,
                        from_start,
                        from_end,
                        start,
                        end,
                        by,
                    },
                    self,
                )
                .await;
            }
            BookingCommand::RecordRefund {
                amount_cents,
                refund_id,
            } => {
                let id = self.id.ok_or(BookingError::NotFound)?;
                match self.deposit {
                    DepositStatus::Refunded => return Ok(()),
                    DepositStatus::Paid => {}
                    DepositStatus::None | DepositStatus::Pending => {
                        return Err(BookingError::NoDepositPaid)
                    }
                }
                sink.write(
                    BookingEvent::DepositRefunded {
                        id,
                        amount_cents,
                        refund_id,
                    },
                    self,
                )
                .await;
            }
            BookingCommand::RecordRefundFailed { message } => {
                let id = self.id.ok_or(BookingError::NotFound)?;
                if self.refund_pending {
                    sink.write(BookingEvent::RefundFailed { id, message }, self)
                        .await;
                }
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
                if let Some(amount_cents) = self.refundable_cents() {
                    sink.write(BookingEvent::DepositForfeited { id, amount_cents }, self)
                        .await;
                }
            }
            BookingCommand::ChangeNotes { notes } => {
                let id = self.id.ok_or(BookingError::NotFound)?;
                let notes = match notes.as_deref().map(str::trim) {
                    None | Some("") => None,
                    Some(n) => Some(crate::values::bounded_text("notes", n, 0, 1000)?),
                };
                let current = self.details.as_ref().and_then(|d| d.notes.clone());
                if notes != current {
                    sink.write(BookingEvent::BookingNotesChanged { id, notes }, self)
                        .await;
                }
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
            BookingEvent::CheckoutStarted {
                session_id, url, ..
            } => self.checkout = Some(Checkout { session_id, url }),
            BookingEvent::DepositPaid {
                amount_cents,
                payment,
                ..
            } => {
                self.deposit = DepositStatus::Paid;
                self.deposit_paid_cents = Some(amount_cents);
                self.payment = payment;
            }
            BookingEvent::DepositFailed { .. } | BookingEvent::DepositForfeited { .. } => {}
            BookingEvent::HoldExpired { .. } | BookingEvent::BookingCancelled { .. } => {
                self.status = BookingStatus::Cancelled
            }
            BookingEvent::BookingRescheduled { start, end, .. } => {
                if let Some(d) = self.details.as_mut() {
                    d.start = start;
                    d.end = end;
                }
            }
            BookingEvent::RefundRequested { .. } => self.refund_pending = true,
            BookingEvent::DepositRefunded { .. } => {
                self.deposit = DepositStatus::Refunded;
                self.refund_pending = false;
            }
            BookingEvent::RefundFailed { .. } => self.refund_pending = false,
            BookingEvent::BookingCompleted { .. } => self.status = BookingStatus::Completed,
            BookingEvent::BookingNoShow { .. } => self.status = BookingStatus::NoShow,
            BookingEvent::BookingNotesChanged { notes, .. } => {
                if let Some(d) = self.details.as_mut() {
                    d.notes = notes;
                }
            }
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
            payment: Some("pi_1".into()),
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
            Cancelled => ended(cancelled()),
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
            payment: Some("pi_1".into()),
        }
    }

    fn cancelled() -> BookingEvent {
        BookingEvent::BookingCancelled {
            id: id(),
            by: Some(Party::Client),
        }
    }

    /// The client cancels two days ahead (inside a 24-hour policy: refundable).
    fn cancel() -> BookingCommand {
        cancel_at(start() - Duration::hours(48), Party::Client, policy())
    }

    fn cancel_at(now: DateTime<Utc>, by: Party, refund: RefundRule) -> BookingCommand {
        BookingCommand::Cancel { by, refund, now }
    }

    fn policy() -> RefundRule {
        RefundRule::Policy {
            window: Duration::hours(24),
        }
    }

    fn paid() -> Vec<BookingEvent> {
        let mut events = history(Held);
        events.extend([deposit_paid(), confirmed()]);
        events
    }

    fn refund_requested(reason: RefundReason) -> BookingEvent {
        BookingEvent::RefundRequested {
            id: id(),
            amount_cents: cents(2000),
            reason,
        }
    }

    fn forfeited() -> BookingEvent {
        BookingEvent::DepositForfeited {
            id: id(),
            amount_cents: cents(2000),
        }
    }

    fn refunded() -> BookingEvent {
        BookingEvent::DepositRefunded {
            id: id(),
            amount_cents: cents(2000),
            refund_id: "re_1".into(),
        }
    }

    fn record_refund() -> BookingCommand {
        BookingCommand::RecordRefund {
            amount_cents: cents(2000),
            refund_id: "re_1".into(),
        }
    }

    fn reschedule(by: Party, now: DateTime<Utc>, hours_later: i64) -> BookingCommand {
        BookingCommand::Reschedule {
            start: start() + Duration::hours(hours_later),
            end: start() + Duration::hours(hours_later) + Duration::minutes(60),
            by,
            window: Duration::hours(24),
            now,
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
    fn paying_the_deposit_twice_records_it_once() {
        BookingTest::with(())
            .given(paid())
            .when(pay())
            .then_expect_events(vec![]);
    }

    #[test]
    fn paying_for_an_unknown_booking_is_refused() {
        BookingTest::with(())
            .given_no_previous_events()
            .when(pay())
            .then_expect_error(BookingError::NotFound);
    }

    #[test]
    fn a_deposit_paid_after_the_hold_expired_is_recorded_and_given_back() {
        let mut events = history(Held);
        events.push(BookingEvent::HoldExpired { id: id() });
        BookingTest::with(())
            .given(events)
            .when(pay())
            .then_expect_events(vec![
                deposit_paid(),
                refund_requested(RefundReason::PaidTooLate),
            ]);
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
            .when(cancel())
            .then_expect_events(vec![cancelled()]);
    }

    #[test]
    fn a_held_booking_can_be_cancelled() {
        BookingTest::with(())
            .given(history(Held))
            .when(cancel())
            .then_expect_events(vec![cancelled()]);
    }

    #[test]
    fn a_confirmed_booking_can_be_cancelled() {
        BookingTest::with(())
            .given(history(Confirmed))
            .when(cancel())
            .then_expect_events(vec![cancelled()]);
    }

    #[test]
    fn cancelling_a_completed_booking_is_refused() {
        BookingTest::with(())
            .given(history(Completed))
            .when(cancel())
            .then_expect_error(refused(Completed, "cancelled"));
    }

    #[test]
    fn cancelling_a_no_show_is_refused() {
        BookingTest::with(())
            .given(history(NoShow))
            .when(cancel())
            .then_expect_error(refused(NoShow, "cancelled"));
    }

    #[test]
    fn cancelling_twice_is_refused() {
        BookingTest::with(())
            .given(history(Cancelled))
            .when(cancel())
            .then_expect_error(refused(Cancelled, "cancelled"));
    }

    #[test]
    fn cancelling_an_unknown_booking_is_refused() {
        BookingTest::with(())
            .given_no_previous_events()
            .when(cancel())
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

    // Deposits around cancellation, no-shows and refunds

    #[test]
    fn a_client_cancelling_in_time_gets_the_deposit_back() {
        BookingTest::with(())
            .given(paid())
            .when(cancel_at(
                start() - Duration::hours(24),
                Party::Client,
                policy(),
            ))
            .then_expect_events(vec![cancelled(), refund_requested(RefundReason::Cancelled)]);
    }

    #[test]
    fn a_client_cancelling_late_forfeits_the_deposit() {
        BookingTest::with(())
            .given(paid())
            .when(cancel_at(
                start() - Duration::hours(23),
                Party::Client,
                policy(),
            ))
            .then_expect_events(vec![cancelled(), forfeited()]);
    }

    #[test]
    fn the_owner_cancels_with_or_without_a_refund() {
        let by_owner = BookingEvent::BookingCancelled {
            id: id(),
            by: Some(Party::Owner),
        };
        let late = start() - Duration::hours(1);
        BookingTest::with(())
            .given(paid())
            .when(cancel_at(late, Party::Owner, RefundRule::Refund))
            .then_expect_events(vec![
                by_owner.clone(),
                refund_requested(RefundReason::Cancelled),
            ]);
        BookingTest::with(())
            .given(paid())
            .when(cancel_at(late, Party::Owner, RefundRule::Keep))
            .then_expect_events(vec![by_owner, forfeited()]);
    }

    #[test]
    fn cancelling_an_unpaid_hold_refunds_nothing() {
        BookingTest::with(())
            .given(history(Held))
            .when(cancel_at(start(), Party::Client, RefundRule::Refund))
            .then_expect_events(vec![cancelled()]);
    }

    #[test]
    fn a_no_show_keeps_the_deposit() {
        BookingTest::with(())
            .given(paid())
            .when(BookingCommand::MarkNoShow {
                now: start() + Duration::minutes(30),
            })
            .then_expect_events(vec![BookingEvent::BookingNoShow { id: id() }, forfeited()]);
    }

    #[test]
    fn a_refund_is_recorded_once() {
        let mut events = paid();
        events.extend([cancelled(), refund_requested(RefundReason::Cancelled)]);
        BookingTest::with(())
            .given(events.clone())
            .when(record_refund())
            .then_expect_events(vec![refunded()]);
        events.push(refunded());
        BookingTest::with(())
            .given(events.clone())
            .when(record_refund())
            .then_expect_events(vec![]);
        let booking = state(events);
        assert_eq!(booking.deposit, DepositStatus::Refunded);
        assert!(!booking.refund_pending);
        assert_eq!(booking.refundable_cents(), None);
    }

    #[test]
    fn a_refund_made_outside_salon_is_recorded_too() {
        BookingTest::with(())
            .given(paid())
            .when(record_refund())
            .then_expect_events(vec![refunded()]);
    }

    #[test]
    fn a_refund_without_a_paid_deposit_is_refused() {
        BookingTest::with(())
            .given(history(Held))
            .when(record_refund())
            .then_expect_error(BookingError::NoDepositPaid);
    }

    #[test]
    fn a_refused_refund_is_recorded_and_can_be_asked_again() {
        let mut events = paid();
        events.extend([cancelled(), refund_requested(RefundReason::Cancelled)]);
        let failed = BookingEvent::RefundFailed {
            id: id(),
            message: "charge_already_refunded".into(),
        };
        BookingTest::with(())
            .given(events.clone())
            .when(BookingCommand::RecordRefundFailed {
                message: "charge_already_refunded".into(),
            })
            .then_expect_events(vec![failed.clone()]);
        events.push(failed);
        assert_eq!(state(events).refundable_cents(), Some(cents(2000)));
    }

    // Checkout

    #[test]
    fn a_checkout_is_recorded_once_per_session() {
        let started = BookingEvent::CheckoutStarted {
            id: id(),
            session_id: "cs_1".into(),
            url: "https://checkout.example/cs_1".into(),
        };
        let start_checkout = BookingCommand::StartCheckout {
            session_id: "cs_1".into(),
            url: "https://checkout.example/cs_1".into(),
        };
        BookingTest::with(())
            .given(history(Held))
            .when(start_checkout.clone())
            .then_expect_events(vec![started.clone()]);
        let mut events = history(Held);
        events.push(started);
        BookingTest::with(())
            .given(events)
            .when(start_checkout.clone())
            .then_expect_events(vec![]);
        BookingTest::with(())
            .given(history(Confirmed))
            .when(start_checkout)
            .then_expect_error(refused(Confirmed, "sent to checkout"));
    }

    #[test]
    fn an_abandoned_checkout_ends_the_hold_of_its_own_session_only() {
        let mut events = history(Held);
        events.push(BookingEvent::CheckoutStarted {
            id: id(),
            session_id: "cs_1".into(),
            url: "u".into(),
        });
        BookingTest::with(())
            .given(events.clone())
            .when(BookingCommand::AbandonCheckout {
                session_id: "cs_other".into(),
            })
            .then_expect_events(vec![]);
        BookingTest::with(())
            .given(events)
            .when(BookingCommand::AbandonCheckout {
                session_id: "cs_1".into(),
            })
            .then_expect_events(vec![BookingEvent::HoldExpired { id: id() }]);
    }

    #[test]
    fn a_failed_payment_is_recorded_while_held_only() {
        let failed = BookingCommand::RecordPaymentFailed {
            message: "card_declined".into(),
        };
        BookingTest::with(())
            .given(history(Held))
            .when(failed.clone())
            .then_expect_events(vec![BookingEvent::DepositFailed {
                id: id(),
                message: "card_declined".into(),
            }]);
        BookingTest::with(())
            .given(paid())
            .when(failed)
            .then_expect_events(vec![]);
    }

    // Reschedule

    #[test]
    fn a_client_moves_a_booking_ahead_of_the_window() {
        BookingTest::with(())
            .given(history(Confirmed))
            .when(reschedule(Party::Client, start() - Duration::hours(48), 2))
            .then_expect_events(vec![BookingEvent::BookingRescheduled {
                id: id(),
                from_start: start(),
                from_end: start() + Duration::minutes(60),
                start: start() + Duration::hours(2),
                end: start() + Duration::hours(2) + Duration::minutes(60),
                by: Party::Client,
            }]);
        let mut events = history(Confirmed);
        events.push(BookingEvent::BookingRescheduled {
            id: id(),
            from_start: start(),
            from_end: start() + Duration::minutes(60),
            start: start() + Duration::hours(2),
            end: start() + Duration::hours(3),
            by: Party::Client,
        });
        assert_eq!(state(events).start(), Some(start() + Duration::hours(2)));
    }

    #[test]
    fn a_client_cannot_move_a_booking_inside_the_window_but_the_owner_can() {
        let late = start() - Duration::hours(2);
        BookingTest::with(())
            .given(history(Confirmed))
            .when(reschedule(Party::Client, late, 2))
            .then_expect_error(BookingError::TooLateToMove { hours: 24 });
        BookingTest::with(())
            .given(history(Confirmed))
            .when(reschedule(Party::Owner, late, 2))
            .then_expect_events(vec![BookingEvent::BookingRescheduled {
                id: id(),
                from_start: start(),
                from_end: start() + Duration::minutes(60),
                start: start() + Duration::hours(2),
                end: start() + Duration::hours(3),
                by: Party::Owner,
            }]);
    }

    #[test]
    fn moving_to_the_same_time_or_a_finished_booking_is_refused() {
        BookingTest::with(())
            .given(history(Confirmed))
            .when(reschedule(Party::Owner, start(), 0))
            .then_expect_error(BookingError::SameTime);
        BookingTest::with(())
            .given(history(Cancelled))
            .when(reschedule(Party::Owner, start(), 2))
            .then_expect_error(refused(Cancelled, "moved"));
    }

    // ChangeNotes

    #[test]
    fn changing_notes_records_them_trimmed() {
        BookingTest::with(())
            .given(history(Confirmed))
            .when(BookingCommand::ChangeNotes {
                notes: Some("  prefers the window seat ".into()),
            })
            .then_expect_events(vec![BookingEvent::BookingNotesChanged {
                id: id(),
                notes: Some("prefers the window seat".into()),
            }]);
    }

    #[test]
    fn the_same_notes_again_append_nothing() {
        BookingTest::with(())
            .given(history(Confirmed))
            .when(BookingCommand::ChangeNotes {
                notes: Some("  ".into()),
            })
            .then_expect_events(vec![]);
    }

    #[test]
    fn notes_over_1000_characters_are_refused() {
        BookingTest::with(())
            .given(history(Confirmed))
            .when(BookingCommand::ChangeNotes {
                notes: Some("x".repeat(1001)),
            })
            .then_expect_error(BookingError::Invalid(crate::ids::ParseError::new(
                "notes",
                "is longer than 1000 characters",
            )));
    }

    #[test]
    fn notes_of_an_unknown_booking_are_refused() {
        BookingTest::with(())
            .given_no_previous_events()
            .when(BookingCommand::ChangeNotes { notes: None })
            .then_expect_error(BookingError::NotFound);
    }
}
