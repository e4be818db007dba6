//! `StylistDay`: every reservation of one stylist's time on one local date. This aggregate is the
//! consistency boundary against double booking: two reservations whose blocked intervals
//! (appointment plus buffers) overlap are never both accepted. Racing requests for one slot are
//! decided by optimistic concurrency on this aggregate's sequence: exactly one append wins.

use crate::availability::Interval;
use crate::ids::{BookingId, ParseError, StylistId};
use chrono::NaiveDate;
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use std::fmt;

/// `<stylist uuid>:<YYYY-MM-DD>`: the aggregate id of a stylist's day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StylistDayId {
    pub stylist: StylistId,
    pub date: NaiveDate,
}

impl StylistDayId {
    pub fn new(stylist: StylistId, date: NaiveDate) -> Self {
        Self { stylist, date }
    }
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let (s, d) = raw
            .split_once(':')
            .ok_or_else(|| ParseError::new("stylist_day", "expected <stylist>:<date>"))?;
        let date = NaiveDate::parse_from_str(d, "%Y-%m-%d")
            .map_err(|_| ParseError::new("stylist_day", "bad date"))?;
        Ok(Self {
            stylist: StylistId::parse(s)?,
            date,
        })
    }
}

impl fmt::Display for StylistDayId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.stylist, self.date.format("%Y-%m-%d"))
    }
}

/// One booking's hold on the stylist's time, buffers included.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reservation {
    pub booking: BookingId,
    pub blocked: Interval,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct StylistDay {
    pub reservations: Vec<Reservation>,
}

impl StylistDay {
    pub fn reservation(&self, booking: BookingId) -> Option<&Reservation> {
        self.reservations.iter().find(|r| r.booking == booking)
    }
    pub fn busy(&self) -> Vec<Interval> {
        self.reservations.iter().map(|r| r.blocked).collect()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum StylistDayCommand {
    /// Reserve `blocked` (appointment plus buffers) for `booking`.
    Reserve {
        day: StylistDayId,
        booking: BookingId,
        blocked: Interval,
    },
    /// Give the time of `booking` back (cancellation, expiry, reschedule).
    Release {
        day: StylistDayId,
        booking: BookingId,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum StylistDayEvent {
    SlotReserved {
        stylist: StylistId,
        date: NaiveDate,
        booking: BookingId,
        blocked: Interval,
    },
    SlotReleased {
        stylist: StylistId,
        date: NaiveDate,
        booking: BookingId,
        blocked: Interval,
    },
}

impl DomainEvent for StylistDayEvent {
    fn event_type(&self) -> String {
        match self {
            Self::SlotReserved { .. } => "SlotReserved",
            Self::SlotReleased { .. } => "SlotReleased",
        }
        .into()
    }
    fn event_version(&self) -> String {
        "1".into()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StylistDayError {
    #[error("that time is already taken")]
    SlotTaken { by: BookingId },
    /// The booking already holds time on this day: a retried request, not a new one.
    #[error("the booking already holds time on this day")]
    AlreadyReserved { blocked: Interval },
    #[error("the booking holds no time on this day")]
    NotReserved,
    #[error("a reservation must end after it starts")]
    EmptyInterval,
}

impl Aggregate for StylistDay {
    const TYPE: &'static str = "StylistDay";
    type Command = StylistDayCommand;
    type Event = StylistDayEvent;
    type Error = StylistDayError;
    type Services = ();

    async fn handle(
        &mut self,
        command: StylistDayCommand,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), StylistDayError> {
        match command {
            StylistDayCommand::Reserve {
                day,
                booking,
                blocked,
            } => {
                if blocked.start >= blocked.end {
                    return Err(StylistDayError::EmptyInterval);
                }
                if let Some(existing) = self.reservation(booking) {
                    return Err(StylistDayError::AlreadyReserved {
                        blocked: existing.blocked,
                    });
                }
                if let Some(taken) = self
                    .reservations
                    .iter()
                    .find(|r| r.blocked.overlaps(&blocked))
                {
                    return Err(StylistDayError::SlotTaken { by: taken.booking });
                }
                let event = StylistDayEvent::SlotReserved {
                    stylist: day.stylist,
                    date: day.date,
                    booking,
                    blocked,
                };
                sink.write(event, self).await;
            }
            StylistDayCommand::Release { day, booking } => {
                let blocked = self
                    .reservation(booking)
                    .ok_or(StylistDayError::NotReserved)?
                    .blocked;
                let event = StylistDayEvent::SlotReleased {
                    stylist: day.stylist,
                    date: day.date,
                    booking,
                    blocked,
                };
                sink.write(event, self).await;
            }
        }
        Ok(())
    }

    fn apply(&mut self, event: StylistDayEvent) {
        match event {
            StylistDayEvent::SlotReserved {
                booking, blocked, ..
            } => {
                self.reservations.push(Reservation { booking, blocked });
            }
            StylistDayEvent::SlotReleased { booking, .. } => {
                self.reservations.retain(|r| r.booking != booking)
            }
        }
    }
}
