//! The salon itself (a singleton): name, time zone and booking policy.

use crate::ids::ParseError;
use crate::schedule::BookingPolicy;
use crate::values::{bounded_text, Currency};
use chrono_tz::Tz;
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

/// The salon's settings. The default time zone is New York, where the salon is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Salon {
    pub configured: bool,
    pub name: String,
    pub time_zone: Tz,
    pub currency: Currency,
    pub policy: BookingPolicy,
}

impl Default for Salon {
    fn default() -> Self {
        Self {
            configured: false,
            name: String::new(),
            time_zone: chrono_tz::America::New_York,
            currency: Currency::usd(),
            policy: BookingPolicy::default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum SalonCommand {
    Configure {
        name: String,
        time_zone: Tz,
        currency: Currency,
        policy: BookingPolicy,
    },
    /// Changes whatever is `Some`; unchanged values append nothing.
    Update {
        name: Option<String>,
        time_zone: Option<Tz>,
        policy: Option<BookingPolicy>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum SalonEvent {
    SalonConfigured {
        name: String,
        time_zone: Tz,
        currency: Currency,
        policy: BookingPolicy,
    },
    SalonRenamed {
        name: String,
    },
    TimeZoneChanged {
        time_zone: Tz,
    },
    BookingPolicyChanged {
        policy: BookingPolicy,
    },
}

impl DomainEvent for SalonEvent {
    fn event_type(&self) -> String {
        match self {
            Self::SalonConfigured { .. } => "SalonConfigured",
            Self::SalonRenamed { .. } => "SalonRenamed",
            Self::TimeZoneChanged { .. } => "TimeZoneChanged",
            Self::BookingPolicyChanged { .. } => "BookingPolicyChanged",
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
                    },
                    self,
                )
                .await;
            }
            SalonCommand::Update {
                name,
                time_zone,
                policy,
            } => {
                if !self.configured {
                    return Err(SalonError::NotConfigured);
                }
                let name = name.map(|n| bounded_text("name", &n, 1, 100)).transpose()?;
                if let Some(p) = &policy {
                    p.validate()?;
                }
                if let Some(name) = name.filter(|n| *n != self.name) {
                    sink.write(SalonEvent::SalonRenamed { name }, self).await;
                }
                if let Some(time_zone) = time_zone.filter(|t| *t != self.time_zone) {
                    sink.write(SalonEvent::TimeZoneChanged { time_zone }, self)
                        .await;
                }
                if let Some(policy) = policy.filter(|p| *p != self.policy) {
                    sink.write(SalonEvent::BookingPolicyChanged { policy }, self)
                        .await;
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
            } => {
                self.configured = true;
                self.name = name;
                self.time_zone = time_zone;
                self.currency = currency;
                self.policy = policy;
            }
            SalonEvent::SalonRenamed { name } => self.name = name,
            SalonEvent::TimeZoneChanged { time_zone } => self.time_zone = time_zone,
            SalonEvent::BookingPolicyChanged { policy } => self.policy = policy,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cqrs_es::test::TestFramework;

    type SalonTest = TestFramework<Salon>;

    fn configure(name: &str, policy: BookingPolicy) -> SalonCommand {
        SalonCommand::Configure {
            name: name.into(),
            time_zone: chrono_tz::America::New_York,
            currency: Currency::usd(),
            policy,
        }
    }

    fn configured() -> SalonEvent {
        SalonEvent::SalonConfigured {
            name: "Coils & Co".into(),
            time_zone: chrono_tz::America::New_York,
            currency: Currency::usd(),
            policy: BookingPolicy::default(),
        }
    }

    fn update(
        name: Option<&str>,
        time_zone: Option<Tz>,
        policy: Option<BookingPolicy>,
    ) -> SalonCommand {
        SalonCommand::Update {
            name: name.map(Into::into),
            time_zone,
            policy,
        }
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
}
