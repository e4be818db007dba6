//! `StylistDay`: every reservation of one stylist's time on one local date. This aggregate is the
//! consistency boundary against double booking: two reservations whose blocked intervals
//! (appointment plus buffers) overlap are never both accepted. Racing requests for one slot are
//! decided by optimistic concurrency on this aggregate's sequence: exactly one append wins.

use crate::availability::Interval;
use crate::ids::{BookingId, CalendarSourceId, ParseError, StylistId};
use chrono::NaiveDate;
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
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
    /// Busy time from the stylist's external calendars on this day, per source, as the last
    /// good sync of each source knew it.
    #[serde(default)]
    pub external: BTreeMap<CalendarSourceId, Vec<Interval>>,
}

impl StylistDay {
    pub fn reservation(&self, booking: BookingId) -> Option<&Reservation> {
        self.reservations.iter().find(|r| r.booking == booking)
    }
    /// Everything that keeps the stylist from a new booking: reservations and external busy time.
    pub fn busy(&self) -> Vec<Interval> {
        self.reservations
            .iter()
            .map(|r| r.blocked)
            .chain(self.external.values().flatten().copied())
            .collect()
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
    /// Move `booking`'s reservation to `blocked` on the same day (a reschedule within the day);
    /// the booking's own old time does not stand in its way.
    Move {
        day: StylistDayId,
        booking: BookingId,
        blocked: Interval,
    },
    /// Give the time of `booking` back (cancellation, expiry, reschedule).
    Release {
        day: StylistDayId,
        booking: BookingId,
    },
    /// Replace what external calendar `source` says is busy on this day.
    SetExternalBusy {
        day: StylistDayId,
        source: CalendarSourceId,
        busy: Vec<Interval>,
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
    /// An external calendar's busy time on this day changed (empty: nothing busy any more).
    ExternalBusyChanged {
        stylist: StylistId,
        date: NaiveDate,
        source: CalendarSourceId,
        busy: Vec<Interval>,
    },
}

impl DomainEvent for StylistDayEvent {
    fn event_type(&self) -> String {
        match self {
            Self::SlotReserved { .. } => "SlotReserved",
            Self::SlotReleased { .. } => "SlotReleased",
            Self::ExternalBusyChanged { .. } => "ExternalBusyChanged",
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
    #[error("the stylist's own calendar is busy then")]
    CalendarBusy { calendar: CalendarSourceId },
}

impl StylistDay {
    /// Refuses `blocked` when another reservation (not `except`'s) or an external calendar
    /// overlaps it.
    fn check_free(
        &self,
        blocked: &Interval,
        except: Option<BookingId>,
    ) -> Result<(), StylistDayError> {
        if let Some(taken) = self
            .reservations
            .iter()
            .find(|r| Some(r.booking) != except && r.blocked.overlaps(blocked))
        {
            return Err(StylistDayError::SlotTaken { by: taken.booking });
        }
        if let Some((source, _)) = self
            .external
            .iter()
            .find(|(_, busy)| busy.iter().any(|b| b.overlaps(blocked)))
        {
            return Err(StylistDayError::CalendarBusy { calendar: *source });
        }
        Ok(())
    }
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
                self.check_free(&blocked, None)?;
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
            StylistDayCommand::Move {
                day,
                booking,
                blocked,
            } => {
                if blocked.start >= blocked.end {
                    return Err(StylistDayError::EmptyInterval);
                }
                let old = self
                    .reservation(booking)
                    .ok_or(StylistDayError::NotReserved)?
                    .blocked;
                self.check_free(&blocked, Some(booking))?;
                let (stylist, date) = (day.stylist, day.date);
                let released = StylistDayEvent::SlotReleased {
                    stylist,
                    date,
                    booking,
                    blocked: old,
                };
                sink.write(released, self).await;
                let reserved = StylistDayEvent::SlotReserved {
                    stylist,
                    date,
                    booking,
                    blocked,
                };
                sink.write(reserved, self).await;
            }
            StylistDayCommand::SetExternalBusy { day, source, busy } => {
                let mut busy = busy;
                busy.retain(|i| i.start < i.end);
                busy.sort_by_key(|i| (i.start, i.end));
                let current = self.external.get(&source).map(Vec::as_slice).unwrap_or(&[]);
                if current != busy.as_slice() {
                    let event = StylistDayEvent::ExternalBusyChanged {
                        stylist: day.stylist,
                        date: day.date,
                        source,
                        busy,
                    };
                    sink.write(event, self).await;
                }
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
            StylistDayEvent::ExternalBusyChanged { source, busy, .. } => {
                if busy.is_empty() {
                    self.external.remove(&source);
                } else {
                    self.external.insert(source, busy);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::availability::ServiceSpan;
    use chrono::{DateTime, TimeZone, Utc};
    use cqrs_es::test::TestFramework;
    use uuid::Uuid;

    type DayTest = TestFramework<StylistDay>;

    fn day() -> StylistDayId {
        StylistDayId::new(
            StylistId::from_uuid(Uuid::from_u128(1)),
            NaiveDate::from_ymd_opt(2027, 3, 2).unwrap(),
        )
    }

    fn booking(n: u128) -> BookingId {
        BookingId::from_uuid(Uuid::from_u128(n))
    }

    /// 2027-03-02 at `h:m` UTC.
    fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2027, 3, 2, h, m, 0).unwrap()
    }

    fn interval(from: (u32, u32), to: (u32, u32)) -> Interval {
        Interval::new(at(from.0, from.1), at(to.0, to.1))
    }

    fn source() -> CalendarSourceId {
        CalendarSourceId::from_uuid(Uuid::from_u128(9))
    }

    fn external(busy: Vec<Interval>) -> StylistDayEvent {
        StylistDayEvent::ExternalBusyChanged {
            stylist: day().stylist,
            date: day().date,
            source: source(),
            busy,
        }
    }

    #[test]
    fn external_busy_time_is_recorded_when_it_changes_and_only_then() {
        let set = |busy| StylistDayCommand::SetExternalBusy {
            day: day(),
            source: source(),
            busy,
        };
        DayTest::with(())
            .given_no_previous_events()
            .when(set(vec![interval((16, 0), (17, 0))]))
            .then_expect_events(vec![external(vec![interval((16, 0), (17, 0))])]);
        DayTest::with(())
            .given(vec![external(vec![interval((16, 0), (17, 0))])])
            .when(set(vec![interval((16, 0), (17, 0))]))
            .then_expect_events(vec![]);
        DayTest::with(())
            .given(vec![external(vec![interval((16, 0), (17, 0))])])
            .when(set(vec![]))
            .then_expect_events(vec![external(vec![])]);
        DayTest::with(())
            .given_no_previous_events()
            .when(set(vec![]))
            .then_expect_events(vec![]);
    }

    #[test]
    fn a_reservation_over_external_busy_time_is_refused_and_beside_it_accepted() {
        DayTest::with(())
            .given(vec![external(vec![interval((16, 0), (17, 0))])])
            .when(reserve(1, interval((16, 30), (17, 30))))
            .then_expect_error(StylistDayError::CalendarBusy { calendar: source() });
        DayTest::with(())
            .given(vec![external(vec![interval((16, 0), (17, 0))])])
            .when(reserve(1, interval((17, 0), (18, 0))))
            .then_expect_events(vec![StylistDayEvent::SlotReserved {
                stylist: day().stylist,
                date: day().date,
                booking: booking(1),
                blocked: interval((17, 0), (18, 0)),
            }]);
        let mut state = StylistDay::default();
        state.apply(external(vec![interval((16, 0), (17, 0))]));
        assert_eq!(state.busy(), vec![interval((16, 0), (17, 0))]);
        state.apply(external(vec![]));
        assert!(state.busy().is_empty());
    }

    fn reserve(n: u128, blocked: Interval) -> StylistDayCommand {
        StylistDayCommand::Reserve {
            day: day(),
            booking: booking(n),
            blocked,
        }
    }

    fn release(n: u128) -> StylistDayCommand {
        StylistDayCommand::Release {
            day: day(),
            booking: booking(n),
        }
    }

    fn reserved(n: u128, blocked: Interval) -> StylistDayEvent {
        StylistDayEvent::SlotReserved {
            stylist: day().stylist,
            date: day().date,
            booking: booking(n),
            blocked,
        }
    }

    fn released(n: u128, blocked: Interval) -> StylistDayEvent {
        StylistDayEvent::SlotReleased {
            stylist: day().stylist,
            date: day().date,
            booking: booking(n),
            blocked,
        }
    }

    fn ten_to_eleven() -> Interval {
        interval((15, 0), (16, 0))
    }

    #[test]
    fn reserving_free_time_records_it() {
        DayTest::with(())
            .given_no_previous_events()
            .when(reserve(1, ten_to_eleven()))
            .then_expect_events(vec![reserved(1, ten_to_eleven())]);
    }

    #[test]
    fn a_reservation_starting_when_another_ends_is_accepted() {
        DayTest::with(())
            .given(vec![reserved(1, ten_to_eleven())])
            .when(reserve(2, interval((16, 0), (17, 0))))
            .then_expect_events(vec![reserved(2, interval((16, 0), (17, 0)))]);
    }

    #[test]
    fn a_reservation_ending_when_another_starts_is_accepted() {
        DayTest::with(())
            .given(vec![reserved(1, ten_to_eleven())])
            .when(reserve(2, interval((14, 0), (15, 0))))
            .then_expect_events(vec![reserved(2, interval((14, 0), (15, 0)))]);
    }

    #[test]
    fn an_overlapping_reservation_is_refused() {
        DayTest::with(())
            .given(vec![reserved(1, ten_to_eleven())])
            .when(reserve(2, interval((15, 30), (16, 30))))
            .then_expect_error(StylistDayError::SlotTaken { by: booking(1) });
    }

    #[test]
    fn a_reservation_enclosing_another_is_refused() {
        DayTest::with(())
            .given(vec![reserved(1, ten_to_eleven())])
            .when(reserve(2, interval((14, 0), (17, 0))))
            .then_expect_error(StylistDayError::SlotTaken { by: booking(1) });
    }

    #[test]
    fn overlapping_reservation_including_buffers_is_refused() {
        // The appointments themselves only touch (15:00–16:00, then 16:00–17:00), but the first
        // service's clean-up and the second's preparation both need the stylist.
        let first = ServiceSpan {
            duration_minutes: 60,
            buffer_before_minutes: 0,
            buffer_after_minutes: 15,
        };
        let second = ServiceSpan {
            duration_minutes: 60,
            buffer_before_minutes: 10,
            buffer_after_minutes: 0,
        };
        assert!(!first
            .appointment(at(15, 0))
            .overlaps(&second.appointment(at(16, 0))));
        DayTest::with(())
            .given(vec![reserved(1, first.blocked(at(15, 0)))])
            .when(reserve(2, second.blocked(at(16, 0))))
            .then_expect_error(StylistDayError::SlotTaken { by: booking(1) });
    }

    #[test]
    fn overlap_only_via_the_earlier_buffer_is_refused() {
        let with_cleanup = ServiceSpan {
            duration_minutes: 60,
            buffer_before_minutes: 0,
            buffer_after_minutes: 15,
        };
        DayTest::with(())
            .given(vec![reserved(1, with_cleanup.blocked(at(15, 0)))])
            .when(reserve(2, interval((16, 0), (17, 0))))
            .then_expect_error(StylistDayError::SlotTaken { by: booking(1) });
    }

    #[test]
    fn reserving_twice_for_the_same_booking_is_refused_as_already_reserved() {
        DayTest::with(())
            .given(vec![reserved(1, ten_to_eleven())])
            .when(reserve(1, interval((18, 0), (19, 0))))
            .then_expect_error(StylistDayError::AlreadyReserved {
                blocked: ten_to_eleven(),
            });
    }

    #[test]
    fn a_retried_identical_reservation_is_already_reserved_not_taken() {
        DayTest::with(())
            .given(vec![reserved(1, ten_to_eleven())])
            .when(reserve(1, ten_to_eleven()))
            .then_expect_error(StylistDayError::AlreadyReserved {
                blocked: ten_to_eleven(),
            });
    }

    #[test]
    fn an_empty_interval_is_refused() {
        DayTest::with(())
            .given_no_previous_events()
            .when(reserve(1, interval((15, 0), (15, 0))))
            .then_expect_error(StylistDayError::EmptyInterval);
    }

    #[test]
    fn an_inverted_interval_is_refused() {
        DayTest::with(())
            .given_no_previous_events()
            .when(reserve(1, interval((16, 0), (15, 0))))
            .then_expect_error(StylistDayError::EmptyInterval);
    }

    #[test]
    fn releasing_records_the_time_given_back() {
        DayTest::with(())
            .given(vec![reserved(1, ten_to_eleven())])
            .when(release(1))
            .then_expect_events(vec![released(1, ten_to_eleven())]);
    }

    #[test]
    fn releasing_an_unknown_booking_is_refused() {
        DayTest::with(())
            .given(vec![reserved(1, ten_to_eleven())])
            .when(release(2))
            .then_expect_error(StylistDayError::NotReserved);
    }

    #[test]
    fn releasing_twice_is_refused() {
        DayTest::with(())
            .given(vec![
                reserved(1, ten_to_eleven()),
                released(1, ten_to_eleven()),
            ])
            .when(release(1))
            .then_expect_error(StylistDayError::NotReserved);
    }

    #[test]
    fn released_time_can_be_reserved_by_another_booking() {
        DayTest::with(())
            .given(vec![
                reserved(1, ten_to_eleven()),
                released(1, ten_to_eleven()),
            ])
            .when(reserve(2, ten_to_eleven()))
            .then_expect_events(vec![reserved(2, ten_to_eleven())]);
    }

    #[test]
    fn a_booking_can_reserve_again_after_releasing() {
        DayTest::with(())
            .given(vec![
                reserved(1, ten_to_eleven()),
                released(1, ten_to_eleven()),
            ])
            .when(reserve(1, interval((17, 0), (18, 0))))
            .then_expect_events(vec![reserved(1, interval((17, 0), (18, 0)))]);
    }

    #[test]
    fn releasing_one_booking_keeps_the_others() {
        let mut state = StylistDay::default();
        state.apply(reserved(1, ten_to_eleven()));
        state.apply(reserved(2, interval((16, 0), (17, 0))));
        state.apply(released(1, ten_to_eleven()));
        assert_eq!(state.busy(), vec![interval((16, 0), (17, 0))]);
        assert!(state.reservation(booking(1)).is_none());
    }

    #[test]
    fn day_ids_round_trip_through_text() {
        let text = day().to_string();
        assert_eq!(text, "00000000-0000-0000-0000-000000000001:2027-03-02");
        assert_eq!(StylistDayId::parse(&text), Ok(day()));
        assert!(StylistDayId::parse("no-colon").is_err());
        assert!(StylistDayId::parse("00000000-0000-0000-0000-000000000001:2027-02-30").is_err());
    }

    // Move

    fn move_to(n: u128, blocked: Interval) -> StylistDayCommand {
        StylistDayCommand::Move {
            day: day(),
            booking: booking(n),
            blocked,
        }
    }

    #[test]
    fn a_booking_moves_within_its_day_even_over_its_own_old_time() {
        let old = interval((15, 0), (16, 0));
        let new = interval((15, 30), (16, 30));
        DayTest::with(())
            .given(vec![reserved(1, old)])
            .when(move_to(1, new))
            .then_expect_events(vec![released(1, old), reserved(1, new)]);
    }

    #[test]
    fn a_move_onto_another_booking_or_busy_calendar_time_is_refused() {
        let mine = interval((15, 0), (16, 0));
        let theirs = interval((17, 0), (18, 0));
        DayTest::with(())
            .given(vec![reserved(1, mine), reserved(2, theirs)])
            .when(move_to(1, interval((17, 30), (18, 30))))
            .then_expect_error(StylistDayError::SlotTaken { by: booking(2) });
        DayTest::with(())
            .given(vec![reserved(1, mine), external(vec![theirs])])
            .when(move_to(1, theirs))
            .then_expect_error(StylistDayError::CalendarBusy { calendar: source() });
    }

    #[test]
    fn moving_a_booking_that_holds_no_time_is_refused() {
        DayTest::with(())
            .given_no_previous_events()
            .when(move_to(1, interval((15, 0), (16, 0))))
            .then_expect_error(StylistDayError::NotReserved);
    }
}
