//! The salon itself (a singleton): its name, contact details, time zone, currency, opening
//! hours and closures, booking policy, and whether it takes bookings yet.
//!
//! A salon starts *unconfigured*. The first-run setup (or the demo seed) configures it; until
//! the owner opens it for bookings, clients see an "opening soon" page and cannot book, while
//! the owner can already enter appointments by hand. Changing the time zone or the currency of
//! a salon that already has bookings moves every wall-clock time or re-labels every amount, so
//! it needs the owner's explicit confirmation.

use crate::ids::ParseError;
use crate::schedule::{BookingPolicy, WeeklyHours};
use crate::values::{bounded_text, Currency, Email, Phone};
use chrono::NaiveDate;
use chrono_tz::Tz;
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

/// How people reach the salon; each part may be empty.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Contact {
    /// Street address as it should appear on the site and in e-mails (lines separated by
    /// newlines).
    #[serde(default)]
    pub address: String,
    /// The salon's public phone number, E.164.
    #[serde(default)]
    pub phone: String,
    /// The salon's public e-mail address.
    #[serde(default)]
    pub email: String,
}

impl Contact {
    /// The contact with each part checked and normalised (phone to E.164, e-mail lower-cased
    /// domain); empty parts stay empty.
    pub fn checked(&self) -> Result<Self, ParseError> {
        let address = self.address.trim();
        if address.chars().count() > 300 {
            return Err(ParseError::new("address", "is longer than 300 characters"));
        }
        let phone = match self.phone.trim() {
            "" => String::new(),
            p => Phone::parse(p)?.as_str().to_string(),
        };
        let email = match self.email.trim() {
            "" => String::new(),
            e => Email::parse(e)?.as_str().to_string(),
        };
        Ok(Self {
            address: address.replace("\r\n", "\n"),
            phone,
            email,
        })
    }
}

/// Days the whole salon is closed (a holiday, a week away), salon dates, both inclusive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Closure {
    /// First closed day.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Date, example = "2027-12-24"))]
    pub from: NaiveDate,
    /// Last closed day (the same as `from` for one day).
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Date, example = "2027-12-26"))]
    pub to: NaiveDate,
    /// What clients are told, e.g. "Christmas".
    #[serde(default)]
    pub label: String,
}

impl Closure {
    pub fn covers(&self, date: NaiveDate) -> bool {
        self.from <= date && date <= self.to
    }
}

/// At most this many closures are kept (years of holidays).
pub const MAX_CLOSURES: usize = 200;

/// Checks closures (order, length, labels) and returns them sorted by their first day.
pub fn checked_closures(closures: &[Closure]) -> Result<Vec<Closure>, ParseError> {
    if closures.len() > MAX_CLOSURES {
        return Err(ParseError::new(
            "closures",
            format!("at most {MAX_CLOSURES} closures"),
        ));
    }
    let mut out = Vec::with_capacity(closures.len());
    for (i, c) in closures.iter().enumerate() {
        let n = i + 1;
        if c.to < c.from {
            return Err(ParseError::new(
                "closures",
                format!("closure {n}: ends ({}) before it starts ({})", c.to, c.from),
            ));
        }
        if (c.to - c.from).num_days() > 366 {
            return Err(ParseError::new(
                "closures",
                format!("closure {n}: longer than a year"),
            ));
        }
        let label = c.label.trim();
        if label.chars().count() > 100 {
            return Err(ParseError::new(
                "closures",
                format!("closure {n}: the label is longer than 100 characters"),
            ));
        }
        out.push(Closure {
            from: c.from,
            to: c.to,
            label: label.to_string(),
        });
    }
    out.sort_by_key(|c| (c.from, c.to));
    Ok(out)
}

/// The longest cancellation policy text.
pub const MAX_POLICY_TEXT: usize = 2000;

/// The salon's settings. The default time zone is New York, where the demo salon is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Salon {
    pub configured: bool,
    pub name: String,
    pub time_zone: Tz,
    pub currency: Currency,
    pub policy: BookingPolicy,
    pub contact: Contact,
    /// When the salon is open; a weekday that is absent is closed. Empty: not set, the
    /// stylists' hours alone decide.
    pub opening_hours: WeeklyHours,
    pub closures: Vec<Closure>,
    /// The deposit and cancellation policy in the owner's words, shown before paying.
    pub policy_text: String,
    /// Clients can book (the owner opened the salon for bookings).
    pub open: bool,
    /// The demo salon, seeded on request: every page says so.
    pub demo: bool,
}

impl Default for Salon {
    fn default() -> Self {
        Self {
            configured: false,
            name: String::new(),
            time_zone: chrono_tz::America::New_York,
            currency: Currency::usd(),
            policy: BookingPolicy::default(),
            contact: Contact::default(),
            opening_hours: WeeklyHours::default(),
            closures: Vec::new(),
            policy_text: String::new(),
            open: false,
            demo: false,
        }
    }
}

impl Salon {
    /// Whether the whole salon is closed on a salon date.
    pub fn closed_on(&self, date: NaiveDate) -> bool {
        self.closures.iter().any(|c| c.covers(date))
    }
}

/// What an update changes: every `Some` part. Unchanged values append nothing.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SalonChanges {
    pub name: Option<String>,
    pub time_zone: Option<Tz>,
    pub currency: Option<Currency>,
    pub policy: Option<BookingPolicy>,
    pub contact: Option<Contact>,
    pub opening_hours: Option<WeeklyHours>,
    pub closures: Option<Vec<Closure>>,
    pub policy_text: Option<String>,
    /// The salon already has bookings (the caller looked): a new time zone or currency then
    /// needs `confirmed`.
    pub has_bookings: bool,
    /// The owner confirmed a change of time zone or currency despite existing bookings.
    pub confirmed: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum SalonCommand {
    Configure {
        name: String,
        time_zone: Tz,
        currency: Currency,
        policy: BookingPolicy,
        /// Clients can book at once (the demo); a real salon opens after its setup.
        open: bool,
        demo: bool,
    },
    /// Changes whatever is `Some`; unchanged values append nothing.
    Update(Box<SalonChanges>),
    /// Starts taking bookings from clients.
    OpenForBookings,
    /// Stops taking bookings from clients (the site says so); the owner can still book.
    CloseForBookings,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum SalonEvent {
    SalonConfigured {
        name: String,
        time_zone: Tz,
        currency: Currency,
        policy: BookingPolicy,
        /// Salons configured before setup existed took bookings at once.
        #[serde(default = "yes")]
        open: bool,
        #[serde(default)]
        demo: bool,
    },
    SalonRenamed {
        name: String,
    },
    TimeZoneChanged {
        time_zone: Tz,
    },
    CurrencyChanged {
        currency: Currency,
    },
    BookingPolicyChanged {
        policy: BookingPolicy,
    },
    ContactChanged {
        contact: Contact,
    },
    OpeningHoursChanged {
        hours: WeeklyHours,
    },
    ClosuresChanged {
        closures: Vec<Closure>,
    },
    PolicyTextChanged {
        text: String,
    },
    OpenedForBookings,
    ClosedForBookings,
}

impl DomainEvent for SalonEvent {
    fn event_type(&self) -> String {
        match self {
            Self::SalonConfigured { .. } => "SalonConfigured",
            Self::SalonRenamed { .. } => "SalonRenamed",
            Self::TimeZoneChanged { .. } => "TimeZoneChanged",
            Self::CurrencyChanged { .. } => "CurrencyChanged",
            Self::BookingPolicyChanged { .. } => "BookingPolicyChanged",
            Self::ContactChanged { .. } => "ContactChanged",
            Self::OpeningHoursChanged { .. } => "OpeningHoursChanged",
            Self::ClosuresChanged { .. } => "ClosuresChanged",
            Self::PolicyTextChanged { .. } => "PolicyTextChanged",
            Self::OpenedForBookings => "OpenedForBookings",
            Self::ClosedForBookings => "ClosedForBookings",
        }
        .into()
    }
    fn event_version(&self) -> String {
        "1".into()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SalonError {
    #[error("the salon is already configured")]
    AlreadyConfigured,
    #[error("the salon is not configured yet")]
    NotConfigured,
    /// A change that moves existing bookings (`time_zone`) or re-labels their amounts
    /// (`currency`) was asked for without confirmation.
    #[error("the salon has bookings: confirm the change of {0}")]
    NeedsConfirmation(&'static str),
    #[error(transparent)]
    Invalid(#[from] ParseError),
}

impl Aggregate for Salon {
    const TYPE: &'static str = "Salon";
    type Command = SalonCommand;
    type Event = SalonEvent;
    type Error = SalonError;
    type Services = ();

    async fn handle(
        &mut self,
        command: SalonCommand,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), SalonError> {
        match command {
            SalonCommand::Configure {
                name,
                time_zone,
                currency,
                policy,
                open,
                demo,
            } => {
                if self.configured {
                    return Err(SalonError::AlreadyConfigured);
                }
                let name = bounded_text("name", &name, 1, 100)?;
                policy.validate()?;
                sink.write(
                    SalonEvent::SalonConfigured {
                        name,
                        time_zone,
                        currency,
                        policy,
                        open,
                        demo,
                    },
                    self,
                )
                .await;
            }
            SalonCommand::Update(changes) => {
                if !self.configured {
                    return Err(SalonError::NotConfigured);
                }
                for event in self.events_for(*changes)? {
                    sink.write(event, self).await;
                }
            }
            SalonCommand::OpenForBookings => {
                if !self.configured {
                    return Err(SalonError::NotConfigured);
                }
                if !self.open {
                    sink.write(SalonEvent::OpenedForBookings, self).await;
                }
            }
            SalonCommand::CloseForBookings => {
                if !self.configured {
                    return Err(SalonError::NotConfigured);
                }
                if self.open {
                    sink.write(SalonEvent::ClosedForBookings, self).await;
                }
            }
        }
        Ok(())
    }

    fn apply(&mut self, event: SalonEvent) {
        match event {
            SalonEvent::SalonConfigured {
                name,
                time_zone,
                currency,
                policy,
                open,
                demo,
            } => {
                self.configured = true;
                self.name = name;
                self.time_zone = time_zone;
                self.currency = currency;
                self.policy = policy;
                self.open = open;
                self.demo = demo;
            }
            SalonEvent::SalonRenamed { name } => self.name = name,
            SalonEvent::TimeZoneChanged { time_zone } => self.time_zone = time_zone,
            SalonEvent::CurrencyChanged { currency } => self.currency = currency,
            SalonEvent::BookingPolicyChanged { policy } => self.policy = policy,
            SalonEvent::ContactChanged { contact } => self.contact = contact,
            SalonEvent::OpeningHoursChanged { hours } => self.opening_hours = hours,
            SalonEvent::ClosuresChanged { closures } => self.closures = closures,
            SalonEvent::PolicyTextChanged { text } => self.policy_text = text,
            SalonEvent::OpenedForBookings => self.open = true,
            SalonEvent::ClosedForBookings => self.open = false,
        }
    }
}

impl Salon {
    /// The events an update appends: every part checked first (nothing is written when one is
    /// invalid), then one event per part that differs from the current settings.
    pub fn events_for(&self, c: SalonChanges) -> Result<Vec<SalonEvent>, SalonError> {
        let name = c
            .name
            .map(|n| bounded_text("name", &n, 1, 100))
            .transpose()?;
        if let Some(p) = &c.policy {
            p.validate()?;
        }
        let contact = c.contact.map(|k| k.checked()).transpose()?;
        let opening_hours = c
            .opening_hours
            .map(|h| {
                WeeklyHours::new(h.days().clone())
                    .map_err(|e| ParseError::new("opening_hours", e.message))
            })
            .transpose()?;
        let closures = c.closures.map(|k| checked_closures(&k)).transpose()?;
        let policy_text = match c.policy_text {
            Some(t) if t.trim().chars().count() > MAX_POLICY_TEXT => {
                return Err(ParseError::new(
                    "policy_text",
                    format!("is longer than {MAX_POLICY_TEXT} characters"),
                )
                .into())
            }
            other => other.map(|t| t.trim().replace("\r\n", "\n")),
        };
        let time_zone = c.time_zone.filter(|t| *t != self.time_zone);
        let currency = c.currency.filter(|k| *k != self.currency);
        if c.has_bookings && !c.confirmed {
            if time_zone.is_some() {
                return Err(SalonError::NeedsConfirmation("time_zone"));
            }
            if currency.is_some() {
                return Err(SalonError::NeedsConfirmation("currency"));
            }
        }
        let mut out = Vec::new();
        if let Some(name) = name.filter(|n| *n != self.name) {
            out.push(SalonEvent::SalonRenamed { name });
        }
        if let Some(time_zone) = time_zone {
            out.push(SalonEvent::TimeZoneChanged { time_zone });
        }
        if let Some(currency) = currency {
            out.push(SalonEvent::CurrencyChanged { currency });
        }
        if let Some(policy) = c.policy.filter(|p| *p != self.policy) {
            out.push(SalonEvent::BookingPolicyChanged { policy });
        }
        if let Some(contact) = contact.filter(|k| *k != self.contact) {
            out.push(SalonEvent::ContactChanged { contact });
        }
        if let Some(hours) = opening_hours.filter(|h| *h != self.opening_hours) {
            out.push(SalonEvent::OpeningHoursChanged { hours });
        }
        if let Some(closures) = closures.filter(|k| *k != self.closures) {
            out.push(SalonEvent::ClosuresChanged { closures });
        }
        if let Some(text) = policy_text.filter(|t| *t != self.policy_text) {
            out.push(SalonEvent::PolicyTextChanged { text });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::{DayHours, DayKey};
    use chrono::NaiveTime;
    use cqrs_es::test::TestFramework;
    use std::collections::BTreeMap;

    type SalonTest = TestFramework<Salon>;

    fn configure(name: &str, policy: BookingPolicy) -> SalonCommand {
        SalonCommand::Configure {
            name: name.into(),
            time_zone: chrono_tz::America::New_York,
            currency: Currency::usd(),
            policy,
            open: false,
            demo: false,
        }
    }

    fn configured() -> SalonEvent {
        SalonEvent::SalonConfigured {
            name: "Coils & Co".into(),
            time_zone: chrono_tz::America::New_York,
            currency: Currency::usd(),
            policy: BookingPolicy::default(),
            open: false,
            demo: false,
        }
    }

    fn update(
        name: Option<&str>,
        time_zone: Option<Tz>,
        policy: Option<BookingPolicy>,
    ) -> SalonCommand {
        SalonCommand::Update(Box::new(SalonChanges {
            name: name.map(Into::into),
            time_zone,
            policy,
            ..SalonChanges::default()
        }))
    }

    fn longer_hold() -> BookingPolicy {
        BookingPolicy {
            hold_minutes: 30,
            ..BookingPolicy::default()
        }
    }

    fn bad_step() -> BookingPolicy {
        BookingPolicy {
            slot_step_minutes: 1,
            ..BookingPolicy::default()
        }
    }

    fn bad_step_error() -> SalonError {
        SalonError::Invalid(ParseError::new(
            "slot_step_minutes",
            "must be between 5 and 240",
        ))
    }

    #[test]
    fn configuring_a_new_salon_records_its_trimmed_settings() {
        SalonTest::with(())
            .given_no_previous_events()
            .when(configure("  Coils & Co  ", BookingPolicy::default()))
            .then_expect_events(vec![configured()]);
    }

    #[test]
    fn configuring_twice_is_refused() {
        SalonTest::with(())
            .given(vec![configured()])
            .when(configure("Another name", BookingPolicy::default()))
            .then_expect_error(SalonError::AlreadyConfigured);
    }

    #[test]
    fn configuring_with_a_blank_name_is_refused() {
        SalonTest::with(())
            .given_no_previous_events()
            .when(configure("   ", BookingPolicy::default()))
            .then_expect_error(SalonError::Invalid(ParseError::new("name", "is required")));
    }

    #[test]
    fn configuring_with_a_name_over_100_characters_is_refused() {
        SalonTest::with(())
            .given_no_previous_events()
            .when(configure(&"x".repeat(101), BookingPolicy::default()))
            .then_expect_error(SalonError::Invalid(ParseError::new(
                "name",
                "is longer than 100 characters",
            )));
    }

    #[test]
    fn configuring_with_an_invalid_policy_is_refused() {
        SalonTest::with(())
            .given_no_previous_events()
            .when(configure("Coils & Co", bad_step()))
            .then_expect_error(bad_step_error());
    }

    #[test]
    fn updating_before_configuring_is_refused() {
        SalonTest::with(())
            .given_no_previous_events()
            .when(update(Some("Coils & Co"), None, None))
            .then_expect_error(SalonError::NotConfigured);
    }

    #[test]
    fn renaming_records_the_trimmed_new_name() {
        SalonTest::with(())
            .given(vec![configured()])
            .when(update(Some(" Coils & Crowns "), None, None))
            .then_expect_events(vec![SalonEvent::SalonRenamed {
                name: "Coils & Crowns".into(),
            }]);
    }

    #[test]
    fn changing_the_time_zone_records_it() {
        SalonTest::with(())
            .given(vec![configured()])
            .when(update(None, Some(chrono_tz::America::Chicago), None))
            .then_expect_events(vec![SalonEvent::TimeZoneChanged {
                time_zone: chrono_tz::America::Chicago,
            }]);
    }

    #[test]
    fn changing_the_booking_policy_records_it() {
        SalonTest::with(())
            .given(vec![configured()])
            .when(update(None, None, Some(longer_hold())))
            .then_expect_events(vec![SalonEvent::BookingPolicyChanged {
                policy: longer_hold(),
            }]);
    }

    #[test]
    fn an_update_changing_everything_records_one_event_per_change() {
        SalonTest::with(())
            .given(vec![configured()])
            .when(update(
                Some("Coils & Crowns"),
                Some(chrono_tz::America::Chicago),
                Some(longer_hold()),
            ))
            .then_expect_events(vec![
                SalonEvent::SalonRenamed {
                    name: "Coils & Crowns".into(),
                },
                SalonEvent::TimeZoneChanged {
                    time_zone: chrono_tz::America::Chicago,
                },
                SalonEvent::BookingPolicyChanged {
                    policy: longer_hold(),
                },
            ]);
    }

    #[test]
    fn an_update_repeating_the_current_settings_appends_nothing() {
        SalonTest::with(())
            .given(vec![configured()])
            .when(update(
                Some("  Coils & Co "),
                Some(chrono_tz::America::New_York),
                Some(BookingPolicy::default()),
            ))
            .then_expect_events(vec![]);
    }

    #[test]
    fn an_empty_update_appends_nothing() {
        SalonTest::with(())
            .given(vec![configured()])
            .when(update(None, None, None))
            .then_expect_events(vec![]);
    }

    #[test]
    fn an_update_is_compared_with_the_latest_settings() {
        SalonTest::with(())
            .given(vec![
                configured(),
                SalonEvent::SalonRenamed {
                    name: "Coils & Crowns".into(),
                },
                SalonEvent::BookingPolicyChanged {
                    policy: longer_hold(),
                },
            ])
            .when(update(Some("Coils & Crowns"), None, Some(longer_hold())))
            .then_expect_events(vec![]);
    }

    #[test]
    fn updating_with_an_invalid_policy_is_refused_and_nothing_else_changes() {
        SalonTest::with(())
            .given(vec![configured()])
            .when(update(Some("Coils & Crowns"), None, Some(bad_step())))
            .then_expect_error(bad_step_error());
    }

    #[test]
    fn renaming_to_a_blank_name_is_refused() {
        SalonTest::with(())
            .given(vec![configured()])
            .when(update(Some(" "), None, None))
            .then_expect_error(SalonError::Invalid(ParseError::new("name", "is required")));
    }

    fn changes(c: SalonChanges) -> SalonCommand {
        SalonCommand::Update(Box::new(c))
    }

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn hours(open: &str, close: &str) -> WeeklyHours {
        let t = |s: &str| NaiveTime::parse_from_str(s, "%H:%M").unwrap();
        WeeklyHours::new(BTreeMap::from([(
            DayKey::Tue,
            DayHours {
                open: t(open),
                close: t(close),
                breaks: vec![],
            },
        )]))
        .unwrap_or_default()
    }

    #[test]
    fn an_old_configured_event_without_open_reads_as_an_open_salon() {
        let old = serde_json::json!({"SalonConfigured": {"name": "Coils", "time_zone": "America/New_York",
            "currency": "USD", "policy": BookingPolicy::default()}});
        let event: SalonEvent = serde_json::from_value(old).unwrap();
        let mut salon = Salon::default();
        salon.apply(event);
        assert!(
            salon.open,
            "salons configured before setup existed took bookings"
        );
        assert!(!salon.demo);
    }

    #[test]
    fn opening_for_bookings_records_it_once() {
        SalonTest::with(())
            .given(vec![configured()])
            .when(SalonCommand::OpenForBookings)
            .then_expect_events(vec![SalonEvent::OpenedForBookings]);
        SalonTest::with(())
            .given(vec![configured(), SalonEvent::OpenedForBookings])
            .when(SalonCommand::OpenForBookings)
            .then_expect_events(vec![]);
    }

    #[test]
    fn opening_an_unconfigured_salon_is_refused() {
        SalonTest::with(())
            .given_no_previous_events()
            .when(SalonCommand::OpenForBookings)
            .then_expect_error(SalonError::NotConfigured);
    }

    #[test]
    fn contact_details_are_normalised() {
        SalonTest::with(())
            .given(vec![configured()])
            .when(changes(SalonChanges {
                contact: Some(Contact {
                    address: " 1 Main St\r\nHarlem ".into(),
                    phone: "(212) 555-0100".into(),
                    email: "Hello@Coils.EXAMPLE".into(),
                }),
                ..SalonChanges::default()
            }))
            .then_expect_events(vec![SalonEvent::ContactChanged {
                contact: Contact {
                    address: "1 Main St\nHarlem".into(),
                    phone: "+12125550100".into(),
                    email: "Hello@coils.example".into(),
                },
            }]);
    }

    #[test]
    fn a_bad_public_email_is_refused() {
        SalonTest::with(())
            .given(vec![configured()])
            .when(changes(SalonChanges {
                contact: Some(Contact {
                    email: "not an email".into(),
                    ..Contact::default()
                }),
                ..SalonChanges::default()
            }))
            .then_expect_error(SalonError::Invalid(ParseError::new(
                "email",
                "must not contain spaces",
            )));
    }

    #[test]
    fn opening_hours_that_close_before_they_open_are_refused() {
        let t = |s: &str| NaiveTime::parse_from_str(s, "%H:%M").unwrap();
        let days = BTreeMap::from([(
            DayKey::Mon,
            DayHours {
                open: t("18:00"),
                close: t("09:00"),
                breaks: vec![],
            },
        )]);
        // Deserialised hours skip WeeklyHours::new: the aggregate checks them again.
        let unchecked: WeeklyHours =
            serde_json::from_value(serde_json::to_value(&days).unwrap()).unwrap();
        SalonTest::with(())
            .given(vec![configured()])
            .when(changes(SalonChanges {
                opening_hours: Some(unchecked),
                ..SalonChanges::default()
            }))
            .then_expect_error(SalonError::Invalid(ParseError::new(
                "opening_hours",
                "Mon: open must be before close",
            )));
    }

    #[test]
    fn new_opening_hours_are_recorded() {
        SalonTest::with(())
            .given(vec![configured()])
            .when(changes(SalonChanges {
                opening_hours: Some(hours("09:00", "18:00")),
                ..SalonChanges::default()
            }))
            .then_expect_events(vec![SalonEvent::OpeningHoursChanged {
                hours: hours("09:00", "18:00"),
            }]);
    }

    #[test]
    fn closures_are_recorded_sorted_and_a_backwards_one_is_refused() {
        let xmas = Closure {
            from: date("2027-12-24"),
            to: date("2027-12-26"),
            label: " Christmas ".into(),
        };
        let july = Closure {
            from: date("2027-07-04"),
            to: date("2027-07-04"),
            label: String::new(),
        };
        SalonTest::with(())
            .given(vec![configured()])
            .when(changes(SalonChanges {
                closures: Some(vec![xmas.clone(), july.clone()]),
                ..SalonChanges::default()
            }))
            .then_expect_events(vec![SalonEvent::ClosuresChanged {
                closures: vec![
                    july,
                    Closure {
                        label: "Christmas".into(),
                        ..xmas
                    },
                ],
            }]);
        SalonTest::with(())
            .given(vec![configured()])
            .when(changes(SalonChanges {
                closures: Some(vec![Closure {
                    from: date("2027-12-26"),
                    to: date("2027-12-24"),
                    label: String::new(),
                }]),
                ..SalonChanges::default()
            }))
            .then_expect_error(SalonError::Invalid(ParseError::new(
                "closures",
                "closure 1: ends (2027-12-24) before it starts (2027-12-26)",
            )));
    }

    #[test]
    fn a_new_currency_with_bookings_needs_confirmation() {
        let eur = Currency::parse("EUR").unwrap();
        SalonTest::with(())
            .given(vec![configured()])
            .when(changes(SalonChanges {
                currency: Some(eur.clone()),
                has_bookings: true,
                ..SalonChanges::default()
            }))
            .then_expect_error(SalonError::NeedsConfirmation("currency"));
        SalonTest::with(())
            .given(vec![configured()])
            .when(changes(SalonChanges {
                currency: Some(eur.clone()),
                has_bookings: true,
                confirmed: true,
                ..SalonChanges::default()
            }))
            .then_expect_events(vec![SalonEvent::CurrencyChanged { currency: eur }]);
    }

    #[test]
    fn a_new_time_zone_with_bookings_needs_confirmation_but_the_same_one_does_not() {
        SalonTest::with(())
            .given(vec![configured()])
            .when(changes(SalonChanges {
                time_zone: Some(chrono_tz::Europe::Madrid),
                has_bookings: true,
                ..SalonChanges::default()
            }))
            .then_expect_error(SalonError::NeedsConfirmation("time_zone"));
        SalonTest::with(())
            .given(vec![configured()])
            .when(changes(SalonChanges {
                time_zone: Some(chrono_tz::America::New_York),
                has_bookings: true,
                ..SalonChanges::default()
            }))
            .then_expect_events(vec![]);
    }

    #[test]
    fn a_salon_without_bookings_changes_currency_without_confirmation() {
        let eur = Currency::parse("EUR").unwrap();
        SalonTest::with(())
            .given(vec![configured()])
            .when(changes(SalonChanges {
                currency: Some(eur.clone()),
                ..SalonChanges::default()
            }))
            .then_expect_events(vec![SalonEvent::CurrencyChanged { currency: eur }]);
    }

    #[test]
    fn the_policy_text_is_trimmed_and_bounded() {
        SalonTest::with(())
            .given(vec![configured()])
            .when(changes(SalonChanges {
                policy_text: Some("  Deposits are kept for no-shows.  ".into()),
                ..SalonChanges::default()
            }))
            .then_expect_events(vec![SalonEvent::PolicyTextChanged {
                text: "Deposits are kept for no-shows.".into(),
            }]);
        SalonTest::with(())
            .given(vec![configured()])
            .when(changes(SalonChanges {
                policy_text: Some("x".repeat(MAX_POLICY_TEXT + 1)),
                ..SalonChanges::default()
            }))
            .then_expect_error(SalonError::Invalid(ParseError::new(
                "policy_text",
                format!("is longer than {MAX_POLICY_TEXT} characters"),
            )));
    }
}
