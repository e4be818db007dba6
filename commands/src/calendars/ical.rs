//! iCalendar in and out. In: the busy time of one calendar object resource within a window,
//! with recurrences expanded in the salon's time zone by `calcard` (RRULE, EXDATE, RDATE,
//! RECURRENCE-ID overrides, VTIMEZONE, floating and all-day times). Out: the VEVENTs salon writes
//! into the owner's calendar and publishes in its ICS feeds.

use calcard::icalendar::{
    ICalendar, ICalendarComponentType, ICalendarProperty, ICalendarStatus, ICalendarTransparency,
};
use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use domain::availability::Interval;

/// The property salon puts on the events it writes, so that a sync does not count a booking's
/// own calendar entry as busy time a second time.
pub const OWN_EVENT_PROPERTY: &str = "X-SALON-BOOKING";

/// How many occurrences one resource may expand to. A daily event kept since 1990 is about
/// 13 000 occurrences by 2026; past this the rest is ignored (and counted as an error).
const MAX_OCCURRENCES: usize = 100_000;

/// What a resource holds that keeps its owner busy within `window`.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ResourceBusy {
    pub busy: Vec<Interval>,
    /// Components that could not be understood (missing DTSTART, bad RRULE…): they block
    /// nothing, and the sync reports how many there were.
    pub errors: usize,
}

fn is_own_event(component: &calcard::icalendar::ICalendarComponent) -> bool {
    component.entries.iter().any(|e| match &e.name {
        ICalendarProperty::Other(name) => name.eq_ignore_ascii_case(OWN_EVENT_PROPERTY),
        _ => false,
    })
}

/// A DATE-TIME start with neither DTEND nor DURATION: RFC 5545 gives it no duration (a
/// reminder, not a busy block). calcard stretches it to the end of the day; we do not.
fn is_instant(component: &calcard::icalendar::ICalendarComponent) -> bool {
    let has_end = component.has_property(&ICalendarProperty::Dtend)
        || component.has_property(&ICalendarProperty::Duration);
    let timed_start = component
        .property(&ICalendarProperty::Dtstart)
        .and_then(|e| e.values.first())
        .map(|v| matches!(v, calcard::icalendar::ICalendarValue::PartialDateTime(dt) if dt.has_time()))
        .unwrap_or(false);
    timed_start && !has_end
}

/// Busy time of one iCalendar object resource overlapping `window`, in UTC. Floating times and
/// all-day dates are read in `salon_tz`. Cancelled and transparent events, and salon's own
/// booking events, block nothing.
pub fn busy_in_resource(data: &str, salon_tz: Tz, window: Interval) -> ResourceBusy {
    let ical = match ICalendar::parse(data) {
        Ok(ical) => ical,
        Err(_) => {
            return ResourceBusy {
                busy: Vec::new(),
                errors: 1,
            }
        }
    };
    let expanded = ical.expand_dates(calcard::common::timezone::Tz::Tz(salon_tz), MAX_OCCURRENCES);
    let mut out = ResourceBusy {
        busy: Vec::new(),
        errors: expanded.errors.len(),
    };
    for event in &expanded.events {
        let Some(component) = ical.components.get(event.comp_id as usize) else {
            continue;
        };
        if component.component_type != ICalendarComponentType::VEvent {
            continue;
        }
        if matches!(component.status(), Some(ICalendarStatus::Cancelled))
            || matches!(
                component.transparency(),
                Some(ICalendarTransparency::Transparent)
            )
            || is_own_event(component)
            || is_instant(component)
        {
            continue;
        }
        let (start, end) = event.timestamps();
        let (Some(start), Some(end)) = (
            DateTime::<Utc>::from_timestamp(start, 0),
            DateTime::<Utc>::from_timestamp(end, 0),
        ) else {
            out.errors += 1;
            continue;
        };
        let interval = Interval::new(start, end);
        if start < end && interval.overlaps(&window) {
            out.busy.push(interval);
        }
    }
    out
}

/// Escapes a TEXT value (RFC 5545 §3.3.11).
fn escape_text(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Folds a content line at 75 octets (RFC 5545 §3.1), never inside a UTF-8 character.
fn fold(line: &str, out: &mut String) {
    let mut width = 0;
    for c in line.chars() {
        let len = c.len_utf8();
        if width + len > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += len;
    }
    out.push_str("\r\n");
}

fn utc_stamp(t: DateTime<Utc>) -> String {
    t.format("%Y%m%dT%H%M%SZ").to_string()
}

/// One appointment as a VEVENT.
#[derive(Debug, Clone)]
pub struct AppointmentEvent {
    /// The booking id: the event's UID, and the marker that makes it ours.
    pub booking: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub summary: String,
    pub description: String,
    pub location: Option<String>,
    /// Bumped on every change (reschedule), as calendar clients expect.
    pub sequence: u32,
    pub cancelled: bool,
}

fn write_event(e: &AppointmentEvent, now: DateTime<Utc>, out: &mut String) {
    fold("BEGIN:VEVENT", out);
    fold(&format!("UID:{}", escape_text(&e.booking)), out);
    fold(&format!("DTSTAMP:{}", utc_stamp(now)), out);
    fold(&format!("DTSTART:{}", utc_stamp(e.start)), out);
    fold(&format!("DTEND:{}", utc_stamp(e.end)), out);
    fold(&format!("SEQUENCE:{}", e.sequence), out);
    fold(&format!("SUMMARY:{}", escape_text(&e.summary)), out);
    if !e.description.is_empty() {
        fold(&format!("DESCRIPTION:{}", escape_text(&e.description)), out);
    }
    if let Some(location) = &e.location {
        fold(&format!("LOCATION:{}", escape_text(location)), out);
    }
    fold(
        if e.cancelled {
            "STATUS:CANCELLED"
        } else {
            "STATUS:CONFIRMED"
        },
        out,
    );
    fold("TRANSP:OPAQUE", out);
    fold(
        &format!("{OWN_EVENT_PROPERTY}:{}", escape_text(&e.booking)),
        out,
    );
    fold("END:VEVENT", out);
}

/// A whole VCALENDAR holding `events` (one for write-back, many for a feed).
pub fn calendar(name: &str, events: &[AppointmentEvent], now: DateTime<Utc>) -> String {
    let mut out = String::new();
    fold("BEGIN:VCALENDAR", &mut out);
    fold("VERSION:2.0", &mut out);
    fold("PRODID:-//salon//bookings//EN", &mut out);
    fold("CALSCALE:GREGORIAN", &mut out);
    fold("METHOD:PUBLISH", &mut out);
    fold(&format!("X-WR-CALNAME:{}", escape_text(name)), &mut out);
    fold("REFRESH-INTERVAL;VALUE=DURATION:PT15M", &mut out);
    for e in events {
        write_event(e, now, &mut out);
    }
    fold("END:VCALENDAR", &mut out);
    out
}

/// The local days `[start of today, today + days]` in `tz`, as a UTC window.
pub fn horizon_window(tz: Tz, now: DateTime<Utc>, days: u32) -> Interval {
    let today = domain::availability::local_date(tz, now);
    let start = domain::availability::local_to_utc(tz, today.and_time(chrono::NaiveTime::MIN));
    let last = today + Duration::days(i64::from(days) + 1);
    let end = domain::availability::local_to_utc(tz, last.and_time(chrono::NaiveTime::MIN));
    Interval::new(start, end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use chrono_tz::America::New_York;

    fn window() -> Interval {
        Interval::new(
            Utc.with_ymd_and_hms(2027, 3, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(2027, 4, 1, 0, 0, 0).unwrap(),
        )
    }

    fn ny(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        New_York
            .with_ymd_and_hms(y, m, d, h, min, 0)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn wrap(body: &str) -> String {
        format!("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n{body}END:VCALENDAR\r\n")
    }

    #[test]
    fn weekly_rule_with_exdate_and_a_moved_occurrence_across_dst() {
        // Tuesdays 10:00–11:00 New York from 2027-03-02, four times; the 9th is skipped, the
        // 16th (after the 2027-03-14 DST change) is moved to 15:00.
        let data = wrap(
            "BEGIN:VEVENT\r\nUID:weekly\r\nDTSTART;TZID=America/New_York:20270302T100000\r\n\
             DTEND;TZID=America/New_York:20270302T110000\r\nRRULE:FREQ=WEEKLY;BYDAY=TU;COUNT=4\r\n\
             EXDATE;TZID=America/New_York:20270309T100000\r\nSUMMARY:Gym\r\nEND:VEVENT\r\n\
             BEGIN:VEVENT\r\nUID:weekly\r\nRECURRENCE-ID;TZID=America/New_York:20270316T100000\r\n\
             DTSTART;TZID=America/New_York:20270316T150000\r\nDTEND;TZID=America/New_York:20270316T160000\r\n\
             SUMMARY:Gym moved\r\nEND:VEVENT\r\n",
        );
        let mut got = busy_in_resource(&data, New_York, window()).busy;
        got.sort_by_key(|i| i.start);
        assert_eq!(
            got,
            vec![
                Interval::new(ny(2027, 3, 2, 10, 0), ny(2027, 3, 2, 11, 0)),
                Interval::new(ny(2027, 3, 16, 15, 0), ny(2027, 3, 16, 16, 0)),
                Interval::new(ny(2027, 3, 23, 10, 0), ny(2027, 3, 23, 11, 0)),
            ]
        );
        // After the change New York is UTC-4: 10:00 local is 14:00 UTC.
        assert_eq!(
            ny(2027, 3, 23, 10, 0),
            Utc.with_ymd_and_hms(2027, 3, 23, 14, 0, 0).unwrap()
        );
    }

    #[test]
    fn all_day_transparent_cancelled_floating_and_foreign_zone_events() {
        let data = wrap(
            "BEGIN:VEVENT\r\nUID:allday\r\nDTSTART;VALUE=DATE:20270305\r\nDTEND;VALUE=DATE:20270306\r\nEND:VEVENT\r\n\
             BEGIN:VEVENT\r\nUID:free\r\nDTSTART:20270304T150000Z\r\nDTEND:20270304T160000Z\r\nTRANSP:TRANSPARENT\r\nEND:VEVENT\r\n\
             BEGIN:VEVENT\r\nUID:gone\r\nDTSTART:20270304T170000Z\r\nDTEND:20270304T180000Z\r\nSTATUS:CANCELLED\r\nEND:VEVENT\r\n\
             BEGIN:VEVENT\r\nUID:floating\r\nDTSTART:20270308T090000\r\nDTEND:20270308T093000\r\nEND:VEVENT\r\n\
             BEGIN:VEVENT\r\nUID:berlin\r\nDTSTART;TZID=Europe/Berlin:20270310T180000\r\nDTEND;TZID=Europe/Berlin:20270310T190000\r\nEND:VEVENT\r\n",
        );
        let mut got = busy_in_resource(&data, New_York, window()).busy;
        got.sort_by_key(|i| i.start);
        assert_eq!(
            got,
            vec![
                Interval::new(ny(2027, 3, 5, 0, 0), ny(2027, 3, 6, 0, 0)),
                Interval::new(ny(2027, 3, 8, 9, 0), ny(2027, 3, 8, 9, 30)),
                // 18:00 in Berlin (UTC+1) is 17:00 UTC, 12:00 in New York (UTC-5 before DST).
                Interval::new(ny(2027, 3, 10, 12, 0), ny(2027, 3, 10, 13, 0)),
            ]
        );
    }

    #[test]
    fn custom_vtimezone_and_rdate_and_cancelled_override() {
        // A VTIMEZONE with a non-IANA name (as Outlook writes) for US Eastern.
        let data = wrap(
            "BEGIN:VTIMEZONE\r\nTZID:Eastern Standard Time\r\nBEGIN:STANDARD\r\nDTSTART:16011104T020000\r\n\
             RRULE:FREQ=YEARLY;BYDAY=1SU;BYMONTH=11\r\nTZOFFSETFROM:-0400\r\nTZOFFSETTO:-0500\r\nEND:STANDARD\r\n\
             BEGIN:DAYLIGHT\r\nDTSTART:16010311T020000\r\nRRULE:FREQ=YEARLY;BYDAY=2SU;BYMONTH=3\r\n\
             TZOFFSETFROM:-0500\r\nTZOFFSETTO:-0400\r\nEND:DAYLIGHT\r\nEND:VTIMEZONE\r\n\
             BEGIN:VEVENT\r\nUID:daily\r\nDTSTART;TZID=Eastern Standard Time:20270312T080000\r\n\
             DTEND;TZID=Eastern Standard Time:20270312T083000\r\nRRULE:FREQ=DAILY;UNTIL=20270315T235959Z\r\n\
             RDATE;TZID=Eastern Standard Time:20270320T080000\r\nEND:VEVENT\r\n\
             BEGIN:VEVENT\r\nUID:daily\r\nRECURRENCE-ID;TZID=Eastern Standard Time:20270313T080000\r\n\
             DTSTART;TZID=Eastern Standard Time:20270313T080000\r\nDTEND;TZID=Eastern Standard Time:20270313T083000\r\n\
             STATUS:CANCELLED\r\nEND:VEVENT\r\n",
        );
        let mut got = busy_in_resource(&data, New_York, window()).busy;
        got.sort_by_key(|i| i.start);
        let at8 = |d| Interval::new(ny(2027, 3, d, 8, 0), ny(2027, 3, d, 8, 30));
        assert_eq!(got, vec![at8(12), at8(14), at8(15), at8(20)]);
    }

    #[test]
    fn our_own_events_and_instants_block_nothing_and_what_we_write_parses_back() {
        let event = AppointmentEvent {
            booking: "0f8e2c1a-0000-4000-8000-000000000001".into(),
            start: ny(2027, 3, 2, 10, 0),
            end: ny(2027, 3, 2, 11, 0),
            summary: "Retwist; Ana, \"VIP\"".into(),
            description: "Booked online\nphone +1 212 555 0100".into(),
            location: Some("Crown & Coil, Harlem".into()),
            sequence: 2,
            cancelled: false,
        };
        let ics = calendar(
            "Ana — salon",
            std::slice::from_ref(&event),
            ny(2027, 3, 1, 9, 0),
        );
        assert!(ics.lines().all(|l| l.len() <= 76), "{ics}");
        let parsed = ICalendar::parse(&ics).expect("parses");
        let vevent = parsed
            .components
            .iter()
            .find(|c| c.component_type == ICalendarComponentType::VEvent)
            .expect("one event");
        assert_eq!(vevent.uid(), Some(event.booking.as_str()));
        assert!(busy_in_resource(&ics, New_York, window()).busy.is_empty());
        let instant = wrap("BEGIN:VEVENT\r\nUID:i\r\nDTSTART:20270304T150000Z\r\nEND:VEVENT\r\n");
        assert!(busy_in_resource(&instant, New_York, window())
            .busy
            .is_empty());
    }

    #[test]
    fn garbage_blocks_nothing_and_is_counted() {
        let got = busy_in_resource("not a calendar", New_York, window());
        assert!(got.busy.is_empty());
        assert_eq!(got.errors, 1);
    }
}
