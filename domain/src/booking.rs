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

#[derive(Debug, Clone, PartialEq)]
pub enum BookingCommand {
    /// A client asks for a slot whose time is being reserved in the same commit. With a deposit
    /// due the booking is held until `hold_expires_at`; without one it is confirmed at once.
    Place {
        id: BookingId,
        details: BookingDetails,
        hold_expires_at: DateTime<Utc>,
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
                if deposit_cents.is_zero() {
                    sink.write(BookingEvent::BookingConfirmed { id }, self)
                        .await;
                } else {
                    sink.write(
                        BookingEvent::BookingHeld {
                            id,
                            hold_expires_at,
                            deposit_cents,
                        },
                        self,
                    )
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
