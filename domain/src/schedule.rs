//! Working time: the salon's booking policy, a stylist's weekly hours with breaks, and time off.
//! All of it is wall-clock time in the salon's time zone; `availability` turns it into instants.

use crate::ids::{ParseError, TimeOffId};
use chrono::{NaiveDateTime, NaiveTime, Weekday};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How the salon takes bookings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BookingPolicy {
    /// Candidate start times are this many minutes apart, counted from opening time.
    pub slot_step_minutes: u32,
    /// A booking must start at least this long after now.
    pub lead_time_minutes: u32,
    /// How many days ahead (in local dates, today included as day 0) clients may book.
    pub horizon_days: u32,
    /// How long an unpaid deposit holds a slot.
    pub hold_minutes: u32,
    /// Cancellations at least this many hours before the start get the deposit back.
    pub cancellation_window_hours: u32,
}

impl Default for BookingPolicy {
    fn default() -> Self {
        Self {
            slot_step_minutes: 30,
            lead_time_minutes: 120,
            horizon_days: 60,
            hold_minutes: 15,
            cancellation_window_hours: 24,
        }
    }
}

impl BookingPolicy {
    pub fn validate(&self) -> Result<(), ParseError> {
        let check = |field: &'static str, v: u32, lo: u32, hi: u32| {
            if v < lo || v > hi {
                Err(ParseError::new(
                    field,
                    format!("must be between {lo} and {hi}"),
                ))
            } else {
                Ok(())
            }
        };
        check("slot_step_minutes", self.slot_step_minutes, 5, 240)?;
        check("lead_time_minutes", self.lead_time_minutes, 0, 60 * 24 * 14)?;
        check("horizon_days", self.horizon_days, 1, 366)?;
        check("hold_minutes", self.hold_minutes, 1, 24 * 60)?;
        check(
            "cancellation_window_hours",
            self.cancellation_window_hours,
            0,
            24 * 30,
        )?;
        Ok(())
    }
}

/// A stretch of wall-clock time within one day, `start < end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TimeRange {
    /// `HH:MM`, salon time.
    #[serde(with = "hhmm")]
    #[cfg_attr(
        feature = "openapi",
        schema(value_type = String, pattern = r"^([01][0-9]|2[0-3]):[0-5][0-9]$", example = "13:00")
    )]
    pub start: NaiveTime,
    /// `HH:MM`, salon time.
    #[serde(with = "hhmm")]
    #[cfg_attr(
        feature = "openapi",
        schema(value_type = String, pattern = r"^([01][0-9]|2[0-3]):[0-5][0-9]$", example = "13:30")
    )]
    pub end: NaiveTime,
}

impl TimeRange {
    pub fn new(start: NaiveTime, end: NaiveTime) -> Result<Self, ParseError> {
        if start >= end {
            return Err(ParseError::new(
                "hours",
                format!("{start} is not before {end}"),
            ));
        }
        Ok(Self { start, end })
    }
    pub fn parse(start: &str, end: &str) -> Result<Self, ParseError> {
        Self::new(hhmm::parse(start)?, hhmm::parse(end)?)
    }
    fn overlaps(&self, other: &TimeRange) -> bool {
        self.start < other.end && other.start < self.end
    }
}

/// One working day: open and close, with breaks inside.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DayHours {
    /// `HH:MM`, salon time.
    #[serde(with = "hhmm")]
    #[cfg_attr(
        feature = "openapi",
        schema(value_type = String, pattern = r"^([01][0-9]|2[0-3]):[0-5][0-9]$", example = "09:00")
    )]
    pub open: NaiveTime,
    /// `HH:MM`, salon time.
    #[serde(with = "hhmm")]
    #[cfg_attr(
        feature = "openapi",
        schema(value_type = String, pattern = r"^([01][0-9]|2[0-3]):[0-5][0-9]$", example = "18:00")
    )]
    pub close: NaiveTime,
    #[serde(default)]
    pub breaks: Vec<TimeRange>,
}

/// Weekly hours. A weekday that is absent is a day off.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(transparent)]
pub struct WeeklyHours(BTreeMap<DayKey, DayHours>);

/// Weekday as it appears in JSON: `mon` … `sun`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum DayKey {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

impl From<Weekday> for DayKey {
    fn from(w: Weekday) -> Self {
        match w {
            Weekday::Mon => Self::Mon,
            Weekday::Tue => Self::Tue,
            Weekday::Wed => Self::Wed,
            Weekday::Thu => Self::Thu,
            Weekday::Fri => Self::Fri,
            Weekday::Sat => Self::Sat,
            Weekday::Sun => Self::Sun,
        }
    }
}

impl WeeklyHours {
    /// Builds weekly hours, refusing days whose open is not before close, breaks outside the
    /// day, or breaks that overlap each other.
    pub fn new(days: BTreeMap<DayKey, DayHours>) -> Result<Self, ParseError> {
        for (day, hours) in &days {
            let field = "hours";
            if hours.open >= hours.close {
                return Err(ParseError::new(
                    field,
                    format!("{day:?}: open must be before close"),
                ));
            }
            for (i, b) in hours.breaks.iter().enumerate() {
                if b.start >= b.end {
                    return Err(ParseError::new(
                        field,
                        format!("{day:?}: a break ends before it starts"),
                    ));
                }
                if b.start < hours.open || b.end > hours.close {
                    return Err(ParseError::new(
                        field,
                        format!("{day:?}: a break lies outside working hours"),
                    ));
                }
                if hours.breaks[..i].iter().any(|o| o.overlaps(b)) {
                    return Err(ParseError::new(field, format!("{day:?}: breaks overlap")));
                }
            }
        }
        Ok(Self(days))
    }
    /// No day open.
    pub const fn empty() -> Self {
        Self(BTreeMap::new())
    }
    pub fn day(&self, weekday: Weekday) -> Option<&DayHours> {
        self.0.get(&DayKey::from(weekday))
    }
    pub fn days(&self) -> &BTreeMap<DayKey, DayHours> {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A period a stylist does not work, in salon wall-clock time, end exclusive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TimeOff {
    #[cfg_attr(feature = "openapi", schema(value_type = uuid::Uuid))]
    pub id: TimeOffId,
    /// Salon wall-clock time, without offset.
    #[cfg_attr(
        feature = "openapi",
        schema(value_type = String, example = "2027-03-14T09:00:00")
    )]
    pub start: NaiveDateTime,
    /// Salon wall-clock time, without offset; exclusive.
    #[cfg_attr(
        feature = "openapi",
        schema(value_type = String, example = "2027-03-21T09:00:00")
    )]
    pub end: NaiveDateTime,
    #[serde(default)]
    pub reason: Option<String>,
}

/// `HH:MM` (de)serialisation for wall-clock times.
pub mod hhmm {
    use crate::ids::ParseError;
    use chrono::NaiveTime;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn parse(raw: &str) -> Result<NaiveTime, ParseError> {
        NaiveTime::parse_from_str(raw.trim(), "%H:%M")
            .map_err(|_| ParseError::new("time", format!("{raw:?} is not a time like 09:30")))
    }
    pub fn serialize<S: Serializer>(t: &NaiveTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&t.format("%H:%M").to_string())
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<NaiveTime, D::Error> {
        let raw = String::deserialize(d)?;
        parse(&raw).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(open: &str, close: &str, breaks: &[(&str, &str)]) -> DayHours {
        DayHours {
            open: hhmm::parse(open).unwrap(),
            close: hhmm::parse(close).unwrap(),
            breaks: breaks
                .iter()
                .map(|(a, b)| TimeRange::parse(a, b).unwrap())
                .collect(),
        }
    }

    #[test]
    fn weekly_hours_round_trip_as_json() {
        let hours = WeeklyHours::new(BTreeMap::from([(
            DayKey::Tue,
            day("09:00", "17:00", &[("13:00", "13:30")]),
        )]))
        .unwrap();
        let json = serde_json::to_value(&hours).unwrap();
        assert_eq!(json["tue"]["open"], "09:00");
        assert_eq!(json["tue"]["breaks"][0]["end"], "13:30");
        let back: WeeklyHours = serde_json::from_value(json).unwrap();
        assert_eq!(back, hours);
    }

    #[test]
    fn weekly_hours_refuse_inverted_days_and_bad_breaks() {
        assert!(
            WeeklyHours::new(BTreeMap::from([(DayKey::Mon, day("17:00", "09:00", &[]))])).is_err()
        );
        assert!(WeeklyHours::new(BTreeMap::from([(
            DayKey::Mon,
            day("09:00", "17:00", &[("08:00", "09:30")])
        )]))
        .is_err());
        assert!(WeeklyHours::new(BTreeMap::from([(
            DayKey::Mon,
            day("09:00", "17:00", &[("12:00", "13:00"), ("12:30", "14:00")])
        )]))
        .is_err());
    }

    #[test]
    fn policy_bounds() {
        assert!(BookingPolicy::default().validate().is_ok());
        let bad = BookingPolicy {
            slot_step_minutes: 1,
            ..Default::default()
        };
        assert_eq!(bad.validate().unwrap_err().field, "slot_step_minutes");
    }
}
