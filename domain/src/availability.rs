//! Free slots: a stylist's weekly hours within the salon's opening hours, on days the salon is
//! not closed, minus breaks, time off and busy time (reservations and,
//! later, external calendars), for a service's duration plus buffers, on the salon's slot step,
//! after the lead time and within the horizon, in the salon's time zone.
//!
//! Pure and deterministic (`now` is an argument), so the read side answering
//! `GET /availability` and the write side checking a booking use the very same rule.
//!
//! Time zones: working hours are wall-clock times; each day's opening and closing are turned into
//! instants with the day's own offset, and candidate starts step in absolute time from opening.
//! On a DST day no slot vanishes or doubles: a slot is an instant, printed with the offset that
//! holds at that instant.

use crate::ids::StylistId;
use crate::salon::Closure;
use crate::schedule::{BookingPolicy, TimeOff, WeeklyHours};
use chrono::{
    DateTime, Datelike, Duration, FixedOffset, LocalResult, NaiveDate, NaiveDateTime, TimeZone,
    Timelike, Utc,
};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// A half-open stretch of absolute time `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Interval {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl Interval {
    pub fn new(start: DateTime<Utc>, end: DateTime<Utc>) -> Self {
        Self { start, end }
    }
    pub fn overlaps(&self, other: &Interval) -> bool {
        self.start < other.end && other.start < self.end
    }
}

/// How much time one appointment of a service takes: the appointment itself and the buffers
/// before (preparation) and after (clean-up) that also keep the stylist busy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServiceSpan {
    pub duration_minutes: u32,
    pub buffer_before_minutes: u32,
    pub buffer_after_minutes: u32,
}

impl ServiceSpan {
    /// The appointment starting at `start`.
    pub fn appointment(&self, start: DateTime<Utc>) -> Interval {
        Interval::new(
            start,
            start + Duration::minutes(self.duration_minutes.into()),
        )
    }
    /// The stylist's time the appointment blocks, buffers included.
    pub fn blocked(&self, start: DateTime<Utc>) -> Interval {
        Interval::new(
            start - Duration::minutes(self.buffer_before_minutes.into()),
            start + Duration::minutes((self.duration_minutes + self.buffer_after_minutes).into()),
        )
    }
}

/// What the salon says about every slot.
#[derive(Debug, Clone, Copy)]
pub struct Rules<'a> {
    pub time_zone: Tz,
    pub policy: &'a BookingPolicy,
    pub now: DateTime<Utc>,
    /// The salon's opening hours: a stylist works only while the salon is open (its breaks
    /// included). Empty: not set, the stylists' hours alone decide.
    pub opening_hours: &'a WeeklyHours,
    /// Days the whole salon is closed.
    pub closures: &'a [Closure],
}

/// No opening hours set: the stylists' hours alone decide.
pub static ALWAYS_OPEN: WeeklyHours = WeeklyHours::empty();

/// One stylist's working time and busy time.
#[derive(Debug, Clone, Copy)]
pub struct StylistCalendar<'a> {
    pub stylist: StylistId,
    pub hours: &'a WeeklyHours,
    pub time_off: &'a [TimeOff],
    /// Blocked intervals already taken: reservations (buffers included) and external busy time.
    pub busy: &'a [Interval],
}

/// A bookable appointment time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "openapi",
    schema(example = json!({
        "start": "2027-03-16T10:00:00-04:00",
        "end": "2027-03-16T11:00:00-04:00",
        "stylist": "0d5c7a5e-3f4b-5b8e-9b65-2f3f8c1d6a41"
    }))
)]
pub struct Slot {
    /// RFC 3339 with the salon's offset.
    pub start: DateTime<FixedOffset>,
    /// When the appointment ends (buffers excluded).
    pub end: DateTime<FixedOffset>,
    #[cfg_attr(feature = "openapi", schema(value_type = uuid::Uuid))]
    pub stylist: StylistId,
}

/// The instant a wall-clock time in `tz` names. A time in a DST gap (one that does not exist)
/// is moved forward to the end of the gap, the first instant the clock shows again (02:30 on a
/// spring-forward night is 03:00); in an overlap (a time that happens twice) the earlier
/// instant is taken. The mapping never runs backwards, so no wall-clock range (a break, time
/// off) that starts in a gap turns into one that ends before it starts.
pub fn local_to_utc(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => t.with_timezone(&Utc),
        LocalResult::Ambiguous(a, _) => a.with_timezone(&Utc),
        LocalResult::None => {
            // Gaps end on a whole minute and last at most a few hours: walk forward from the
            // start of this minute, one minute at a time, to the first time that exists. (A
            // coarser step would overshoot the end of the gap for times not on that step.)
            let mut probe = local
                - Duration::seconds(local.second().into())
                - Duration::nanoseconds(local.nanosecond().into());
            for _ in 0..(4 * 60) {
                probe += Duration::minutes(1);
                if let Some(t) = tz.from_local_datetime(&probe).earliest() {
                    return t.with_timezone(&Utc);
                }
            }
            // No real zone has a gap longer than four hours; treat the wall time as UTC.
            Utc.from_utc_datetime(&local)
        }
    }
}

/// The salon-local date of an instant.
pub fn local_date(tz: Tz, instant: DateTime<Utc>) -> NaiveDate {
    instant.with_timezone(&tz).date_naive()
}

/// An instant shown in the salon's zone with the offset that holds then.
pub fn in_zone(tz: Tz, instant: DateTime<Utc>) -> DateTime<FixedOffset> {
    instant.with_timezone(&tz).fixed_offset()
}

/// Free slots of one stylist on each local date from `from` to `to`, both inclusive.
pub fn slots(
    rules: &Rules<'_>,
    span: ServiceSpan,
    calendar: &StylistCalendar<'_>,
    from: NaiveDate,
    to: NaiveDate,
) -> Vec<Slot> {
    let mut out = Vec::new();
    let mut date = from;
    while date <= to {
        slots_on(rules, span, calendar, date, &mut out);
        match date.succ_opt() {
            Some(next) => date = next,
            None => break,
        }
    }
    out
}

/// Is `start` one of the free slots of its local date?
pub fn is_free(
    rules: &Rules<'_>,
    span: ServiceSpan,
    calendar: &StylistCalendar<'_>,
    start: DateTime<Utc>,
) -> bool {
    // Checks the one candidate instead of listing the day: the booking path asks this on every
    // request, against a day that may hold dozens of reservations.
    let date = local_date(rules.time_zone, start);
    let Some(day) = Day::of(rules, calendar, date) else {
        return false;
    };
    let offset = (start - day.open).num_seconds();
    let step = i64::from(rules.policy.slot_step_minutes.max(1)) * 60;
    offset >= 0 && offset % step == 0 && day.admits(rules, span, calendar, start)
}

/// The last local date clients may book, counting today as day 0.
pub fn horizon_end(rules: &Rules<'_>) -> NaiveDate {
    let today = local_date(rules.time_zone, rules.now);
    today + Duration::days(rules.policy.horizon_days.into())
}

/// One working day of a stylist, turned into instants.
struct Day {
    open: DateTime<Utc>,
    close: DateTime<Utc>,
    breaks: Vec<Interval>,
    time_off: Vec<Interval>,
}

impl Day {
    /// The stylist's working day on `date`, or `None` (day off, or past the horizon).
    fn of(rules: &Rules<'_>, calendar: &StylistCalendar<'_>, date: NaiveDate) -> Option<Self> {
        let tz = rules.time_zone;
        if date > horizon_end(rules) {
            return None;
        }
        if rules.closures.iter().any(|c| c.covers(date)) {
            return None;
        }
        let hours = calendar.hours.day(date.weekday())?;
        let salon = if rules.opening_hours.is_empty() {
            None
        } else {
            Some(rules.opening_hours.day(date.weekday())?)
        };
        let (open_at, close_at) = match salon {
            Some(s) => (hours.open.max(s.open), hours.close.min(s.close)),
            None => (hours.open, hours.close),
        };
        if open_at >= close_at {
            return None;
        }
        let open = local_to_utc(tz, date.and_time(open_at));
        let close = local_to_utc(tz, date.and_time(close_at));
        let breaks = hours
            .breaks
            .iter()
            .chain(salon.into_iter().flat_map(|s| s.breaks.iter()))
            .map(|b| {
                Interval::new(
                    local_to_utc(tz, date.and_time(b.start)),
                    local_to_utc(tz, date.and_time(b.end)),
                )
            })
            .collect();
        let time_off = calendar
            .time_off
            .iter()
            .map(|t| Interval::new(local_to_utc(tz, t.start), local_to_utc(tz, t.end)))
            .filter(|t| t.start < close && open < t.end)
            .collect();
        Some(Self {
            open,
            close,
            breaks,
            time_off,
        })
    }

    /// Is an appointment starting at `start` (on this day's grid) free? The appointment must
    /// lie within working hours and miss every break; with its buffers it must miss time off and
    /// busy time; and it must start after the lead time.
    fn admits(
        &self,
        rules: &Rules<'_>,
        span: ServiceSpan,
        calendar: &StylistCalendar<'_>,
        start: DateTime<Utc>,
    ) -> bool {
        let appointment = span.appointment(start);
        let blocked = span.blocked(start);
        let earliest = rules.now + Duration::minutes(rules.policy.lead_time_minutes.into());
        start >= self.open
            && appointment.end <= self.close
            && start >= earliest
            && !self.breaks.iter().any(|b| b.overlaps(&appointment))
            && !self.time_off.iter().any(|t| t.overlaps(&blocked))
            && !calendar.busy.iter().any(|b| b.overlaps(&blocked))
    }
}

fn slots_on(
    rules: &Rules<'_>,
    span: ServiceSpan,
    calendar: &StylistCalendar<'_>,
    date: NaiveDate,
    out: &mut Vec<Slot>,
) {
    let Some(day) = Day::of(rules, calendar, date) else {
        return;
    };
    // Only busy time near this day can block its slots: checking each candidate against the
    // day's few blocks instead of the whole range's keeps a month of slots linear.
    let reach = Interval::new(
        day.open - Duration::minutes(span.buffer_after_minutes.into()),
        day.close + Duration::minutes(span.buffer_before_minutes.into()),
    );
    let nearby: Vec<Interval> = calendar
        .busy
        .iter()
        .filter(|b| b.overlaps(&reach))
        .copied()
        .collect();
    let calendar = &StylistCalendar {
        stylist: calendar.stylist,
        hours: calendar.hours,
        time_off: calendar.time_off,
        busy: &nearby,
    };
    let tz = rules.time_zone;
    let step = Duration::minutes(rules.policy.slot_step_minutes.max(1).into());
    let mut start = day.open;
    while start + Duration::minutes(span.duration_minutes.into()) <= day.close {
        if day.admits(rules, span, calendar, start) {
            out.push(Slot {
                start: in_zone(tz, start),
                end: in_zone(tz, span.appointment(start).end),
                stylist: calendar.stylist,
            });
        }
        start += step;
    }
}

#[cfg(test)]
mod tests;
