//! The availability rule, in the salon's zone (America/New_York), with a fixed `now`
//! (2027-03-01T00:00:00Z, still 2027-02-28 in New York) and a year's horizon unless a test says
//! otherwise. Dates used: 2027-03-02 is a Tuesday; 2027-03-14 (spring forward, 02:00 → 03:00)
//! and 2027-11-07 (fall back, 02:00 → 01:00) are Sundays.

use super::*;
use crate::ids::TimeOffId;
use crate::schedule::{hhmm, DayHours, DayKey, TimeRange};
use chrono::{Timelike, Weekday};
use chrono_tz::America::New_York;
use std::collections::BTreeSet;
use uuid::Uuid;

const NY: Tz = New_York;

const EVERY_DAY: [DayKey; 7] = [
    DayKey::Mon,
    DayKey::Tue,
    DayKey::Wed,
    DayKey::Thu,
    DayKey::Fri,
    DayKey::Sat,
    DayKey::Sun,
];

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

/// Wall-clock time, `YYYY-MM-DD HH:MM`.
fn local(raw: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(raw, "%Y-%m-%d %H:%M").unwrap()
}

/// An instant written in RFC 3339, offset included.
fn instant(raw: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(raw)
        .unwrap()
        .with_timezone(&Utc)
}

fn day_hours(open: &str, close: &str, breaks: &[(&str, &str)]) -> DayHours {
    DayHours {
        open: hhmm::parse(open).unwrap(),
        close: hhmm::parse(close).unwrap(),
        breaks: breaks
            .iter()
            .map(|(start, end)| TimeRange::parse(start, end).unwrap())
            .collect(),
    }
}

fn weekly(days: &[DayKey], hours: DayHours) -> WeeklyHours {
    WeeklyHours::new(days.iter().map(|d| (*d, hours.clone())).collect()).unwrap()
}

fn span(duration: u32, before: u32, after: u32) -> ServiceSpan {
    ServiceSpan {
        duration_minutes: duration,
        buffer_before_minutes: before,
        buffer_after_minutes: after,
    }
}

fn time_off(n: u128, start: &str, end: &str) -> TimeOff {
    TimeOff {
        id: TimeOffId::from_uuid(Uuid::from_u128(n)),
        start: local(start),
        end: local(end),
        reason: None,
    }
}

fn stylist() -> StylistId {
    StylistId::from_uuid(Uuid::from_u128(1))
}

/// One stylist's calendar and the salon's rules, with the fixtures' defaults: open every day
/// 09:00–17:00, a 30-minute step, no lead time, a year's horizon, a 60-minute service without
/// buffers, nothing taken.
struct Setup {
    policy: BookingPolicy,
    now: DateTime<Utc>,
    hours: WeeklyHours,
    time_off: Vec<TimeOff>,
    busy: Vec<Interval>,
    span: ServiceSpan,
    opening_hours: WeeklyHours,
    closures: Vec<crate::salon::Closure>,
}

impl Setup {
    fn new() -> Self {
        Self {
            policy: BookingPolicy {
                slot_step_minutes: 30,
                lead_time_minutes: 0,
                horizon_days: 366,
                ..BookingPolicy::default()
            },
            now: instant("2027-03-01T00:00:00Z"),
            hours: weekly(&EVERY_DAY, day_hours("09:00", "17:00", &[])),
            time_off: vec![],
            busy: vec![],
            span: span(60, 0, 0),
            opening_hours: WeeklyHours::default(),
            closures: vec![],
        }
    }

    /// Opens every day from `open` to `close`, with `breaks`.
    fn open(mut self, open: &str, close: &str, breaks: &[(&str, &str)]) -> Self {
        self.hours = weekly(&EVERY_DAY, day_hours(open, close, breaks));
        self
    }

    fn rules(&self) -> Rules<'_> {
        Rules {
            time_zone: NY,
            policy: &self.policy,
            now: self.now,
            opening_hours: &self.opening_hours,
            closures: &self.closures,
        }
    }

    fn calendar(&self) -> StylistCalendar<'_> {
        StylistCalendar {
            stylist: stylist(),
            hours: &self.hours,
            time_off: &self.time_off,
            busy: &self.busy,
        }
    }

    fn slots(&self, from: NaiveDate, to: NaiveDate) -> Vec<Slot> {
        slots(&self.rules(), self.span, &self.calendar(), from, to)
    }

    fn slots_on(&self, day: NaiveDate) -> Vec<Slot> {
        self.slots(day, day)
    }

    /// The local start times (`HH:MM`) offered on `day`.
    fn starts(&self, day: NaiveDate) -> Vec<String> {
        self.slots_on(day)
            .iter()
            .map(|s| s.start.format("%H:%M").to_string())
            .collect()
    }

    /// The local start times offered on `day`, with their offsets (`HH:MM±hh:mm`).
    fn starts_with_offsets(&self, day: NaiveDate) -> Vec<String> {
        self.slots_on(day)
            .iter()
            .map(|s| s.start.format("%H:%M%:z").to_string())
            .collect()
    }

    fn is_free(&self, start: DateTime<Utc>) -> bool {
        is_free(&self.rules(), self.span, &self.calendar(), start)
    }
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// Starts strictly increase (so none is offered twice), every slot lasts the service's
/// duration, and each is printed with the wall-clock time and offset New York has at that
/// instant.
fn assert_well_formed(slots: &[Slot], duration_minutes: i64) {
    for pair in slots.windows(2) {
        assert!(
            pair[0].start < pair[1].start,
            "{} is not before {}",
            pair[0].start,
            pair[1].start
        );
    }
    for slot in slots {
        for at in [slot.start, slot.end] {
            let in_ny = at.with_timezone(&NY);
            assert_eq!(at.naive_local(), in_ny.naive_local(), "{at}");
            assert_eq!(at.offset(), in_ny.fixed_offset().offset(), "{at}");
        }
        assert_eq!(slot.end - slot.start, Duration::minutes(duration_minutes));
        assert_eq!(slot.stylist, stylist());
    }
}

// Hours and the step

#[test]
fn slots_start_at_opening_on_the_step_and_end_by_closing() {
    let setup = Setup::new().open("09:00", "12:00", &[]);
    let tuesday = date(2027, 3, 2);
    assert_eq!(
        setup.starts(tuesday),
        strings(&["09:00", "09:30", "10:00", "10:30", "11:00"])
    );
    let slots = setup.slots_on(tuesday);
    assert_eq!(slots[0].start.to_rfc3339(), "2027-03-02T09:00:00-05:00");
    assert_eq!(slots[0].end.to_rfc3339(), "2027-03-02T10:00:00-05:00");
    assert_eq!(slots[4].end.to_rfc3339(), "2027-03-02T12:00:00-05:00");
    assert_well_formed(&slots, 60);
}

#[test]
fn the_step_counts_from_opening_not_from_the_hour() {
    let mut setup = Setup::new().open("09:10", "12:00", &[]);
    setup.span = span(45, 0, 0);
    assert_eq!(
        setup.starts(date(2027, 3, 2)),
        strings(&["09:10", "09:40", "10:10", "10:40", "11:10"])
    );
}

#[test]
fn an_appointment_that_would_end_after_closing_is_not_offered() {
    let mut setup = Setup::new().open("09:00", "12:00", &[]);
    setup.span = span(45, 0, 0);
    // 11:30 would end at 12:15.
    assert_eq!(
        setup.starts(date(2027, 3, 2)),
        strings(&["09:00", "09:30", "10:00", "10:30", "11:00"])
    );
}

#[test]
fn an_appointment_may_end_exactly_at_closing() {
    let mut setup = Setup::new().open("09:00", "12:00", &[]);
    setup.span = span(180, 0, 0);
    assert_eq!(setup.starts(date(2027, 3, 2)), strings(&["09:00"]));
    setup.span = span(185, 0, 0);
    assert!(setup.starts(date(2027, 3, 2)).is_empty());
}

#[test]
fn a_weekday_absent_from_weekly_hours_has_no_slots() {
    let mut setup = Setup::new();
    let weekdays = &EVERY_DAY[..6];
    setup.hours = weekly(weekdays, day_hours("09:00", "17:00", &[]));
    let sunday = date(2027, 3, 7);
    assert_eq!(sunday.weekday(), Weekday::Sun);
    assert!(setup.slots_on(sunday).is_empty());
    let week = setup.slots(date(2027, 3, 1), sunday);
    let dates: BTreeSet<NaiveDate> = week.iter().map(|s| s.start.date_naive()).collect();
    assert_eq!(dates.len(), 6);
    assert!(!dates.contains(&sunday));
}

#[test]
fn slots_run_over_every_date_from_first_to_last_inclusive() {
    let setup = Setup::new().open("09:00", "10:00", &[]);
    let slots = setup.slots(date(2027, 3, 2), date(2027, 3, 4));
    let starts: Vec<String> = slots.iter().map(|s| s.start.to_rfc3339()).collect();
    assert_eq!(
        starts,
        strings(&[
            "2027-03-02T09:00:00-05:00",
            "2027-03-03T09:00:00-05:00",
            "2027-03-04T09:00:00-05:00",
        ])
    );
    assert!(setup.slots(date(2027, 3, 4), date(2027, 3, 2)).is_empty());
}

// Breaks and time off

#[test]
fn no_appointment_overlaps_a_break() {
    let setup = Setup::new().open("09:00", "13:00", &[("11:00", "11:30")]);
    // 10:00 ends as the break starts; 11:30 starts as it ends.
    assert_eq!(
        setup.starts(date(2027, 3, 2)),
        strings(&["09:00", "09:30", "10:00", "11:30", "12:00"])
    );
}

#[test]
fn time_off_removes_the_slots_it_overlaps() {
    let mut setup = Setup::new().open("09:00", "13:00", &[]);
    setup.time_off = vec![time_off(1, "2027-03-02 10:00", "2027-03-02 11:00")];
    assert_eq!(
        setup.starts(date(2027, 3, 2)),
        strings(&["09:00", "11:00", "11:30", "12:00"])
    );
    // The next day is untouched.
    assert_eq!(setup.starts(date(2027, 3, 3)).len(), 7);
}

#[test]
fn time_off_is_wall_clock_time_in_the_salon_zone() {
    // 10:00–11:00 in New York; read as UTC it would be 05:00–06:00, before opening.
    let mut setup = Setup::new().open("09:00", "13:00", &[]);
    setup.time_off = vec![time_off(1, "2027-03-16 10:00", "2027-03-16 11:00")];
    assert_eq!(
        setup.starts_with_offsets(date(2027, 3, 16)),
        strings(&["09:00-04:00", "11:00-04:00", "11:30-04:00", "12:00-04:00"])
    );
}

#[test]
fn time_off_over_whole_days_leaves_those_days_without_slots() {
    let mut setup = Setup::new();
    setup.time_off = vec![time_off(1, "2027-03-10 00:00", "2027-03-13 00:00")];
    for day in 10..=12 {
        assert!(
            setup.slots_on(date(2027, 3, day)).is_empty(),
            "2027-03-{day}"
        );
    }
    assert_eq!(setup.slots_on(date(2027, 3, 9)).len(), 15);
    assert_eq!(setup.slots_on(date(2027, 3, 13)).len(), 15);
}

#[test]
fn time_off_across_the_spring_change_ends_at_its_wall_clock_time() {
    let mut setup = Setup::new();
    setup.time_off = vec![time_off(1, "2027-03-13 12:00", "2027-03-14 12:00")];
    let starts = setup.starts_with_offsets(date(2027, 3, 14));
    assert_eq!(starts.first().map(String::as_str), Some("12:00-04:00"));
    assert_eq!(starts.len(), 9);
}

#[test]
fn a_break_starting_inside_the_spring_gap_starts_when_the_clock_resumes() {
    // 02:20 does not exist on 2027-03-14: the break runs 03:00–03:30 EDT that night, so the last
    // appointment before it ends at 03:00 (01:00 EST plus an hour) and none ends in the break.
    let mut setup = Setup::new().open("00:00", "06:00", &[("02:20", "03:30")]);
    setup.policy.slot_step_minutes = 5;
    let starts = setup.starts_with_offsets(date(2027, 3, 14));
    let last_before = starts.iter().position(|s| s == "01:00-05:00").unwrap();
    assert_eq!(starts[last_before + 1], "03:30-04:00");
    assert_eq!(starts.len(), 13 + 19);
}

// Busy time and buffers

#[test]
fn busy_time_blocks_the_appointment_and_its_buffers() {
    let mut setup = Setup::new().open("09:00", "14:00", &[]);
    setup.busy = vec![Interval::new(
        instant("2027-03-02T11:00:00-05:00"),
        instant("2027-03-02T12:00:00-05:00"),
    )];
    setup.span = span(60, 0, 0);
    assert_eq!(
        setup.starts(date(2027, 3, 2)),
        strings(&["09:00", "09:30", "10:00", "12:00", "12:30", "13:00"])
    );
    // With 15 minutes before and after, 10:00 (clean-up until 11:15) and 12:00 (preparation
    // from 11:45) touch the busy block only through their buffers, and are gone too.
    setup.span = span(60, 15, 15);
    assert_eq!(
        setup.starts(date(2027, 3, 2)),
        strings(&["09:00", "09:30", "12:30", "13:00"])
    );
}

#[test]
fn busy_time_ending_where_a_buffer_starts_leaves_the_slot() {
    let mut setup = Setup::new().open("09:00", "11:00", &[]);
    setup.span = span(60, 15, 15);
    // 10:00 is blocked 09:45–11:15; busy time until 09:45 and from 11:15 only touches it.
    setup.busy = vec![
        Interval::new(
            instant("2027-03-02T09:00:00-05:00"),
            instant("2027-03-02T09:45:00-05:00"),
        ),
        Interval::new(
            instant("2027-03-02T11:15:00-05:00"),
            instant("2027-03-02T12:00:00-05:00"),
        ),
    ];
    assert_eq!(setup.starts(date(2027, 3, 2)), strings(&["10:00"]));
}

// Lead time and horizon

#[test]
fn slots_within_the_lead_time_are_not_offered() {
    let mut setup = Setup::new().open("09:00", "13:00", &[]);
    setup.now = instant("2027-03-02T09:40:00-05:00");
    setup.policy.lead_time_minutes = 60;
    assert_eq!(
        setup.starts(date(2027, 3, 2)),
        strings(&["11:00", "11:30", "12:00"])
    );
}

#[test]
fn a_slot_exactly_at_the_lead_time_is_offered() {
    let mut setup = Setup::new().open("09:00", "13:00", &[]);
    setup.now = instant("2027-03-02T09:40:00-05:00");
    setup.policy.lead_time_minutes = 80;
    assert_eq!(
        setup.starts(date(2027, 3, 2)),
        strings(&["11:00", "11:30", "12:00"])
    );
    setup.policy.lead_time_minutes = 81;
    assert_eq!(setup.starts(date(2027, 3, 2)), strings(&["11:30", "12:00"]));
}

#[test]
fn the_horizon_counts_local_dates_with_today_as_day_zero() {
    let mut setup = Setup::new();
    setup.policy.horizon_days = 3;
    // `now` is 2027-03-01 in UTC but 2027-02-28 in New York.
    assert_eq!(local_date(NY, setup.now), date(2027, 2, 28));
    assert_eq!(horizon_end(&setup.rules()), date(2027, 3, 3));
    assert_eq!(setup.slots_on(date(2027, 3, 3)).len(), 15);
    assert!(setup.slots_on(date(2027, 3, 4)).is_empty());
    let last = setup.slots(date(2027, 3, 1), date(2027, 3, 31)).pop();
    assert_eq!(
        last.map(|s| s.start.to_rfc3339()),
        Some("2027-03-03T16:00:00-05:00".to_string())
    );
}

#[test]
fn the_year_long_horizon_reaches_the_fall_change() {
    let setup = Setup::new();
    assert_eq!(horizon_end(&setup.rules()), date(2028, 2, 29));
    assert!(!setup.slots_on(date(2027, 11, 7)).is_empty());
}

// Daylight saving time

#[test]
fn the_spring_forward_day_offers_the_same_slots_as_the_sunday_before() {
    let setup = Setup::new();
    let before = setup.starts_with_offsets(date(2027, 3, 7));
    let change = setup.starts_with_offsets(date(2027, 3, 14));
    let expected = |offset: &str| -> Vec<String> {
        (9..=16)
            .flat_map(|h| [format!("{h:02}:00{offset}"), format!("{h:02}:30{offset}")])
            .take(15)
            .collect()
    };
    assert_eq!(before, expected("-05:00"));
    assert_eq!(change, expected("-04:00"));
    assert_eq!(
        setup.starts(date(2027, 3, 21)),
        setup.starts(date(2027, 3, 14))
    );
    assert_well_formed(&setup.slots_on(date(2027, 3, 14)), 60);
}

#[test]
fn the_fall_back_day_offers_the_same_slots_as_the_sunday_before() {
    let setup = Setup::new();
    let before = setup.starts_with_offsets(date(2027, 10, 31));
    let change = setup.starts_with_offsets(date(2027, 11, 7));
    assert_eq!(before.len(), 15);
    assert_eq!(change.len(), 15);
    assert!(before.iter().all(|s| s.ends_with("-04:00")), "{before:?}");
    assert!(change.iter().all(|s| s.ends_with("-05:00")), "{change:?}");
    assert_eq!(
        setup.starts(date(2027, 10, 31)),
        setup.starts(date(2027, 11, 7))
    );
    assert_well_formed(&setup.slots_on(date(2027, 11, 7)), 60);
}

#[test]
fn hours_across_the_spring_gap_skip_the_missing_hour() {
    // Open 00:00–06:00 on a day with only 5 hours between them.
    let setup = Setup::new().open("00:00", "06:00", &[]);
    let day = date(2027, 3, 14);
    assert_eq!(
        setup.starts_with_offsets(day),
        strings(&[
            "00:00-05:00",
            "00:30-05:00",
            "01:00-05:00",
            "01:30-05:00",
            "03:00-04:00",
            "03:30-04:00",
            "04:00-04:00",
            "04:30-04:00",
            "05:00-04:00",
        ])
    );
    let slots = setup.slots_on(day);
    // 01:30 EST plus an hour is 03:30 EDT.
    assert_eq!(slots[3].end.to_rfc3339(), "2027-03-14T03:30:00-04:00");
    assert_well_formed(&slots, 60);
}

#[test]
fn hours_across_the_fall_overlap_offer_the_repeated_hour_twice_at_different_instants() {
    // Open 00:00–06:00 on a day with 7 hours between them; 01:00–02:00 happens twice.
    let setup = Setup::new().open("00:00", "06:00", &[]);
    let day = date(2027, 11, 7);
    assert_eq!(
        setup.starts_with_offsets(day),
        strings(&[
            "00:00-04:00",
            "00:30-04:00",
            "01:00-04:00",
            "01:30-04:00",
            "01:00-05:00",
            "01:30-05:00",
            "02:00-05:00",
            "02:30-05:00",
            "03:00-05:00",
            "03:30-05:00",
            "04:00-05:00",
            "04:30-05:00",
            "05:00-05:00",
        ])
    );
    let slots = setup.slots_on(day);
    let instants: BTreeSet<DateTime<Utc>> =
        slots.iter().map(|s| s.start.with_timezone(&Utc)).collect();
    assert_eq!(instants.len(), slots.len());
    assert_well_formed(&slots, 60);
}

// `is_free` and `slots` are one rule

/// For every 5-minute instant of `day` and the day after, `is_free` says yes exactly for the
/// starts `slots` offers.
fn assert_is_free_agrees_with_slots(setup: &Setup, day: NaiveDate) {
    let next = day.succ_opt().unwrap();
    let offered: BTreeSet<DateTime<Utc>> = setup
        .slots(day, next)
        .iter()
        .map(|s| s.start.with_timezone(&Utc))
        .collect();
    let midnight = |d: NaiveDate| local_to_utc(NY, d.and_hms_opt(0, 0, 0).unwrap());
    let end = midnight(next.succ_opt().unwrap());
    let mut at = midnight(day);
    while at < end {
        assert_eq!(
            setup.is_free(at),
            offered.contains(&at),
            "{}",
            in_zone(NY, at)
        );
        at += Duration::minutes(5);
    }
    assert!(offered.iter().all(|s| setup.is_free(*s)));
}

#[test]
fn is_free_agrees_with_slots_around_breaks_time_off_and_busy_time() {
    let mut setup = Setup::new().open("09:10", "17:00", &[("12:40", "13:10")]);
    setup.span = span(45, 10, 5);
    setup.time_off = vec![time_off(1, "2027-03-02 15:00", "2027-03-02 15:20")];
    setup.busy = vec![Interval::new(
        instant("2027-03-02T10:00:00-05:00"),
        instant("2027-03-02T10:50:00-05:00"),
    )];
    setup.now = instant("2027-03-02T09:00:00-05:00");
    setup.policy.lead_time_minutes = 90;
    assert_is_free_agrees_with_slots(&setup, date(2027, 3, 2));
}

#[test]
fn is_free_agrees_with_slots_on_dst_days() {
    for (open, close) in [("00:00", "06:00"), ("09:00", "17:00")] {
        let setup = Setup::new().open(open, close, &[]);
        assert_is_free_agrees_with_slots(&setup, date(2027, 3, 14));
        assert_is_free_agrees_with_slots(&setup, date(2027, 11, 7));
    }
}

#[test]
fn is_free_agrees_with_slots_at_the_horizon() {
    let mut setup = Setup::new();
    setup.policy.horizon_days = 3;
    assert_is_free_agrees_with_slots(&setup, date(2027, 3, 3));
    assert!(setup.is_free(instant("2027-03-03T16:00:00-05:00")));
    assert!(!setup.is_free(instant("2027-03-04T09:00:00-05:00")));
}

#[test]
fn a_start_off_the_step_is_not_free() {
    let setup = Setup::new();
    assert!(setup.is_free(instant("2027-03-02T09:30:00-05:00")));
    assert!(!setup.is_free(instant("2027-03-02T09:15:00-05:00")));
}

// Local time to instants

#[test]
fn an_ordinary_local_time_maps_with_the_day_s_offset() {
    assert_eq!(
        local_to_utc(NY, local("2027-03-02 09:00")),
        instant("2027-03-02T14:00:00Z")
    );
    assert_eq!(
        local_to_utc(NY, local("2027-07-02 09:00")),
        instant("2027-07-02T13:00:00Z")
    );
}

#[test]
fn a_nonexistent_local_time_moves_forward_to_the_end_of_the_gap() {
    for raw in [
        "2027-03-14 02:00",
        "2027-03-14 02:07",
        "2027-03-14 02:30",
        "2027-03-14 02:59",
    ] {
        assert_eq!(
            local_to_utc(NY, local(raw)),
            instant("2027-03-14T03:00:00-04:00"),
            "{raw}"
        );
    }
    let just_before_three = local("2027-03-14 02:59").with_second(59).unwrap();
    assert_eq!(
        local_to_utc(NY, just_before_three),
        instant("2027-03-14T03:00:00-04:00")
    );
}

#[test]
fn local_to_utc_never_runs_backwards_across_the_spring_gap() {
    let mut previous = local_to_utc(NY, local("2027-03-14 00:00"));
    let mut wall = local("2027-03-14 00:01");
    while wall <= local("2027-03-14 05:00") {
        let now = local_to_utc(NY, wall);
        assert!(now >= previous, "{wall} maps before the minute before it");
        previous = now;
        wall += Duration::minutes(1);
    }
}

#[test]
fn an_ambiguous_local_time_takes_the_earlier_instant() {
    assert_eq!(
        local_to_utc(NY, local("2027-11-07 01:30")),
        instant("2027-11-07T01:30:00-04:00")
    );
    assert_eq!(
        local_to_utc(NY, local("2027-11-07 01:30")),
        instant("2027-11-07T05:30:00Z")
    );
}

#[test]
fn instants_are_shown_with_the_offset_that_holds_then() {
    assert_eq!(
        in_zone(NY, instant("2027-03-14T06:59:00Z")).to_rfc3339(),
        "2027-03-14T01:59:00-05:00"
    );
    assert_eq!(
        in_zone(NY, instant("2027-03-14T07:00:00Z")).to_rfc3339(),
        "2027-03-14T03:00:00-04:00"
    );
    assert_eq!(
        local_date(NY, instant("2027-03-15T03:00:00Z")),
        date(2027, 3, 14)
    );
}

// Intervals and spans

#[test]
fn intervals_are_half_open() {
    let ten_to_eleven = Interval::new(
        instant("2027-03-02T10:00:00Z"),
        instant("2027-03-02T11:00:00Z"),
    );
    let eleven_to_noon = Interval::new(
        instant("2027-03-02T11:00:00Z"),
        instant("2027-03-02T12:00:00Z"),
    );
    let half_ten_to_half_eleven = Interval::new(
        instant("2027-03-02T10:30:00Z"),
        instant("2027-03-02T11:30:00Z"),
    );
    assert!(!ten_to_eleven.overlaps(&eleven_to_noon));
    assert!(!eleven_to_noon.overlaps(&ten_to_eleven));
    assert!(ten_to_eleven.overlaps(&half_ten_to_half_eleven));
    assert!(half_ten_to_half_eleven.overlaps(&eleven_to_noon));
}

#[test]
fn a_span_blocks_its_buffers_around_the_appointment() {
    let start = instant("2027-03-02T15:00:00Z");
    let span = span(60, 10, 15);
    assert_eq!(
        span.appointment(start),
        Interval::new(start, instant("2027-03-02T16:00:00Z"))
    );
    assert_eq!(
        span.blocked(start),
        Interval::new(
            instant("2027-03-02T14:50:00Z"),
            instant("2027-03-02T16:15:00Z")
        )
    );
}

#[test]
fn a_stylist_works_only_while_the_salon_is_open() {
    let mut setup = Setup::new().open("08:00", "18:00", &[]);
    setup.span = span(60, 0, 0);
    setup.opening_hours = weekly(&EVERY_DAY, day_hours("10:00", "13:00", &[]));
    assert_eq!(
        setup.starts(date(2027, 3, 2)),
        strings(&["10:00", "10:30", "11:00", "11:30", "12:00"])
    );
}

#[test]
fn the_salons_breaks_block_every_stylist() {
    let mut setup = Setup::new().open("09:00", "12:00", &[]);
    setup.opening_hours = weekly(
        &EVERY_DAY,
        day_hours("09:00", "17:00", &[("10:00", "11:00")]),
    );
    assert_eq!(setup.starts(date(2027, 3, 2)), strings(&["09:00", "11:00"]));
}

#[test]
fn a_weekday_the_salon_is_closed_has_no_slots_though_the_stylist_works() {
    let mut setup = Setup::new();
    // Open on Mondays only; 2027-03-02 is a Tuesday.
    setup.opening_hours = weekly(&[DayKey::Mon], day_hours("09:00", "17:00", &[]));
    assert!(setup.starts(date(2027, 3, 2)).is_empty());
    assert!(!setup.starts(date(2027, 3, 1)).is_empty());
    assert!(!setup.is_free(instant("2027-03-02T15:00:00Z")));
}

#[test]
fn a_closure_blocks_each_of_its_days_and_no_other() {
    let mut setup = Setup::new();
    setup.closures = vec![crate::salon::Closure {
        from: date(2027, 3, 2),
        to: date(2027, 3, 3),
        label: "Away".into(),
    }];
    assert!(setup.starts(date(2027, 3, 1)).len() > 1);
    assert!(setup.starts(date(2027, 3, 2)).is_empty());
    assert!(setup.starts(date(2027, 3, 3)).is_empty());
    assert!(setup.starts(date(2027, 3, 4)).len() > 1);
    // 10:00 in New York on the closed day.
    assert!(!setup.is_free(instant("2027-03-02T15:00:00Z")));
    assert!(setup.is_free(instant("2027-03-04T15:00:00Z")));
}

#[test]
fn salon_hours_that_do_not_meet_the_stylists_leave_the_day_empty() {
    let mut setup = Setup::new().open("09:00", "12:00", &[]);
    setup.opening_hours = weekly(&EVERY_DAY, day_hours("13:00", "17:00", &[]));
    assert!(setup.starts(date(2027, 3, 2)).is_empty());
}
