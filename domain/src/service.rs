//! A service on the salon's menu: how long it takes, the buffers around it, what it costs and
//! the deposit it needs.

use crate::availability::ServiceSpan;
use crate::ids::{ParseError, ServiceId};
use crate::values::{bounded_text, Cents, Currency};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

/// Everything the owner edits about a service. Parsed with [`ServiceDetails::validate`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceDetails {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub duration_minutes: u32,
    #[serde(default)]
    pub buffer_before_minutes: u32,
    #[serde(default)]
    pub buffer_after_minutes: u32,
    pub price_cents: Cents,
    #[serde(default)]
    pub deposit_cents: Cents,
    #[serde(default)]
    pub currency: Currency,
}

impl ServiceDetails {
    /// Checks the rules every service obeys and trims text. Durations run from 5 minutes to
    /// 12 hours in 5-minute steps; buffers up to 4 hours; the deposit never exceeds the price.
    pub fn validate(mut self) -> Result<Self, ParseError> {
        self.name = bounded_text("name", &self.name, 1, 100)?;
        self.description = bounded_text("description", &self.description, 0, 2000)?;
        if !(5..=720).contains(&self.duration_minutes) || !self.duration_minutes.is_multiple_of(5) {
            return Err(ParseError::new(
                "duration_minutes",
                "must be 5 to 720 minutes in steps of 5",
            ));
        }
        if self.buffer_before_minutes > 240 {
            return Err(ParseError::new(
                "buffer_before_minutes",
                "must be at most 240",
            ));
        }
        if self.buffer_after_minutes > 240 {
            return Err(ParseError::new(
                "buffer_after_minutes",
                "must be at most 240",
            ));
        }
        if self.deposit_cents > self.price_cents {
            return Err(ParseError::new(
                "deposit_cents",
                "must not exceed the price",
            ));
        }
        Ok(self)
    }
    pub fn span(&self) -> ServiceSpan {
        ServiceSpan {
            duration_minutes: self.duration_minutes,
            buffer_before_minutes: self.buffer_before_minutes,
            buffer_after_minutes: self.buffer_after_minutes,
        }
    }
}

/// Some fields of a service to change; those left `None` keep their value. Applied by the
/// aggregate to its own current details, so two changes to different fields made at the same
/// time both land (neither overwrites the other with what it read before).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServicePatch {
    pub name: Option<String>,
    pub description: Option<String>,
    pub duration_minutes: Option<u32>,
    pub buffer_before_minutes: Option<u32>,
    pub buffer_after_minutes: Option<u32>,
    pub price_cents: Option<Cents>,
    pub deposit_cents: Option<Cents>,
    pub currency: Option<Currency>,
    /// `false` archives, `true` restores.
    pub active: Option<bool>,
}

impl ServicePatch {
    fn apply_to(&self, d: &ServiceDetails) -> ServiceDetails {
        let mut d = d.clone();
        if let Some(v) = &self.name {
            d.name = v.clone();
        }
        if let Some(v) = &self.description {
            d.description = v.clone();
        }
        if let Some(v) = self.duration_minutes {
            d.duration_minutes = v;
        }
        if let Some(v) = self.buffer_before_minutes {
            d.buffer_before_minutes = v;
        }
        if let Some(v) = self.buffer_after_minutes {
            d.buffer_after_minutes = v;
        }
        if let Some(v) = self.price_cents {
            d.price_cents = v;
        }
        if let Some(v) = self.deposit_cents {
            d.deposit_cents = v;
        }
        if let Some(v) = &self.currency {
            d.currency = v.clone();
        }
        d
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Service {
    pub id: Option<ServiceId>,
    pub details: Option<ServiceDetails>,
    pub archived: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ServiceCommand {
    Create {
        id: ServiceId,
        details: ServiceDetails,
    },
    Update {
        details: ServiceDetails,
    },
    /// Changes some fields (and archives or restores with `active`); a patch that changes
    /// nothing appends nothing.
    Change(ServicePatch),
    Archive,
    Restore,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ServiceEvent {
    ServiceCreated {
        id: ServiceId,
        details: ServiceDetails,
    },
    ServiceUpdated {
        id: ServiceId,
        details: ServiceDetails,
    },
    ServiceArchived {
        id: ServiceId,
    },
    ServiceRestored {
        id: ServiceId,
    },
}

impl DomainEvent for ServiceEvent {
    fn event_type(&self) -> String {
        match self {
            Self::ServiceCreated { .. } => "ServiceCreated",
            Self::ServiceUpdated { .. } => "ServiceUpdated",
            Self::ServiceArchived { .. } => "ServiceArchived",
            Self::ServiceRestored { .. } => "ServiceRestored",
        }
        .into()
    }
    fn event_version(&self) -> String {
        "1".into()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServiceError {
    #[error("the service already exists")]
    AlreadyExists,
    #[error("no such service")]
    NotFound,
    #[error("the service is already archived")]
    AlreadyArchived,
    #[error("the service is not archived")]
    NotArchived,
    #[error(transparent)]
    Invalid(#[from] ParseError),
}

impl Service {
    fn existing(&self) -> Result<ServiceId, ServiceError> {
        self.id.ok_or(ServiceError::NotFound)
    }
}

impl Aggregate for Service {
    const TYPE: &'static str = "Service";
    type Command = ServiceCommand;
    type Event = ServiceEvent;
    type Error = ServiceError;
    type Services = ();

    async fn handle(
        &mut self,
        command: ServiceCommand,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), ServiceError> {
        match command {
            ServiceCommand::Create { id, details } => {
                if self.id.is_some() {
                    return Err(ServiceError::AlreadyExists);
                }
                let details = details.validate()?;
                sink.write(ServiceEvent::ServiceCreated { id, details }, self)
                    .await;
            }
            ServiceCommand::Update { details } => {
                let id = self.existing()?;
                let details = details.validate()?;
                if self.details.as_ref() != Some(&details) {
                    sink.write(ServiceEvent::ServiceUpdated { id, details }, self)
                        .await;
                }
            }
            ServiceCommand::Change(patch) => {
                let id = self.existing()?;
                let current = self.details.clone().ok_or(ServiceError::NotFound)?;
                let details = patch.apply_to(&current).validate()?;
                if details != current {
                    sink.write(ServiceEvent::ServiceUpdated { id, details }, self)
                        .await;
                }
                match patch.active {
                    Some(false) if !self.archived => {
                        sink.write(ServiceEvent::ServiceArchived { id }, self).await
                    }
                    Some(true) if self.archived => {
                        sink.write(ServiceEvent::ServiceRestored { id }, self).await
                    }
                    _ => {}
                }
            }
            ServiceCommand::Archive => {
                let id = self.existing()?;
                if self.archived {
                    return Err(ServiceError::AlreadyArchived);
                }
                sink.write(ServiceEvent::ServiceArchived { id }, self).await;
            }
            ServiceCommand::Restore => {
                let id = self.existing()?;
                if !self.archived {
                    return Err(ServiceError::NotArchived);
                }
                sink.write(ServiceEvent::ServiceRestored { id }, self).await;
            }
        }
        Ok(())
    }

    fn apply(&mut self, event: ServiceEvent) {
        match event {
            ServiceEvent::ServiceCreated { id, details } => {
                self.id = Some(id);
                self.details = Some(details);
            }
            ServiceEvent::ServiceUpdated { details, .. } => self.details = Some(details),
            ServiceEvent::ServiceArchived { .. } => self.archived = true,
            ServiceEvent::ServiceRestored { .. } => self.archived = false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cqrs_es::test::TestFramework;
    use uuid::Uuid;

    type ServiceTest = TestFramework<Service>;

    fn id() -> ServiceId {
        ServiceId::from_uuid(Uuid::from_u128(1))
    }

    fn cents(c: i64) -> Cents {
        Cents::new(c).unwrap()
    }

    fn details() -> ServiceDetails {
        ServiceDetails {
            name: "Silk press".into(),
            description: "Wash, blow-dry and press.".into(),
            duration_minutes: 90,
            buffer_before_minutes: 10,
            buffer_after_minutes: 15,
            price_cents: cents(8500),
            deposit_cents: cents(2000),
            currency: Currency::usd(),
        }
    }

    fn created() -> ServiceEvent {
        ServiceEvent::ServiceCreated {
            id: id(),
            details: details(),
        }
    }

    fn create(details: ServiceDetails) -> ServiceCommand {
        ServiceCommand::Create { id: id(), details }
    }

    fn invalid(field: &'static str, message: &str) -> ServiceError {
        ServiceError::Invalid(ParseError::new(field, message))
    }

    fn duration_error() -> ServiceError {
        invalid("duration_minutes", "must be 5 to 720 minutes in steps of 5")
    }

    fn with_duration(duration_minutes: u32) -> ServiceDetails {
        ServiceDetails {
            duration_minutes,
            ..details()
        }
    }

    #[test]
    fn creating_a_service_records_its_trimmed_details() {
        let raw = ServiceDetails {
            name: "  Silk press ".into(),
            description: " Wash, blow-dry and press.  ".into(),
            ..details()
        };
        ServiceTest::with(())
            .given_no_previous_events()
            .when(create(raw))
            .then_expect_events(vec![created()]);
    }

    #[test]
    fn creating_an_existing_service_is_refused() {
        ServiceTest::with(())
            .given(vec![created()])
            .when(create(details()))
            .then_expect_error(ServiceError::AlreadyExists);
    }

    #[test]
    fn a_service_without_a_name_is_refused() {
        ServiceTest::with(())
            .given_no_previous_events()
            .when(create(ServiceDetails {
                name: " ".into(),
                ..details()
            }))
            .then_expect_error(invalid("name", "is required"));
    }

    #[test]
    fn a_description_over_2000_characters_is_refused() {
        ServiceTest::with(())
            .given_no_previous_events()
            .when(create(ServiceDetails {
                description: "x".repeat(2001),
                ..details()
            }))
            .then_expect_error(invalid("description", "is longer than 2000 characters"));
    }

    #[test]
    fn a_five_minute_service_is_the_shortest_accepted() {
        ServiceTest::with(())
            .given_no_previous_events()
            .when(create(with_duration(5)))
            .then_expect_events(vec![ServiceEvent::ServiceCreated {
                id: id(),
                details: with_duration(5),
            }]);
    }

    #[test]
    fn a_twelve_hour_service_is_the_longest_accepted() {
        ServiceTest::with(())
            .given_no_previous_events()
            .when(create(with_duration(720)))
            .then_expect_events(vec![ServiceEvent::ServiceCreated {
                id: id(),
                details: with_duration(720),
            }]);
    }

    #[test]
    fn a_duration_under_five_minutes_is_refused() {
        ServiceTest::with(())
            .given_no_previous_events()
            .when(create(with_duration(0)))
            .then_expect_error(duration_error());
    }

    #[test]
    fn a_duration_over_twelve_hours_is_refused() {
        ServiceTest::with(())
            .given_no_previous_events()
            .when(create(with_duration(725)))
            .then_expect_error(duration_error());
    }

    #[test]
    fn a_duration_off_the_five_minute_step_is_refused() {
        ServiceTest::with(())
            .given_no_previous_events()
            .when(create(with_duration(32)))
            .then_expect_error(duration_error());
    }

    #[test]
    fn buffers_of_four_hours_are_accepted() {
        let long_buffers = ServiceDetails {
            buffer_before_minutes: 240,
            buffer_after_minutes: 240,
            ..details()
        };
        ServiceTest::with(())
            .given_no_previous_events()
            .when(create(long_buffers.clone()))
            .then_expect_events(vec![ServiceEvent::ServiceCreated {
                id: id(),
                details: long_buffers,
            }]);
    }

    #[test]
    fn a_buffer_before_over_four_hours_is_refused() {
        ServiceTest::with(())
            .given_no_previous_events()
            .when(create(ServiceDetails {
                buffer_before_minutes: 241,
                ..details()
            }))
            .then_expect_error(invalid("buffer_before_minutes", "must be at most 240"));
    }

    #[test]
    fn a_buffer_after_over_four_hours_is_refused() {
        ServiceTest::with(())
            .given_no_previous_events()
            .when(create(ServiceDetails {
                buffer_after_minutes: 241,
                ..details()
            }))
            .then_expect_error(invalid("buffer_after_minutes", "must be at most 240"));
    }

    #[test]
    fn a_deposit_above_the_price_is_refused() {
        ServiceTest::with(())
            .given_no_previous_events()
            .when(create(ServiceDetails {
                deposit_cents: cents(8501),
                ..details()
            }))
            .then_expect_error(invalid("deposit_cents", "must not exceed the price"));
    }

    #[test]
    fn a_deposit_equal_to_the_price_is_accepted() {
        let full_deposit = ServiceDetails {
            deposit_cents: cents(8500),
            ..details()
        };
        ServiceTest::with(())
            .given_no_previous_events()
            .when(create(full_deposit.clone()))
            .then_expect_events(vec![ServiceEvent::ServiceCreated {
                id: id(),
                details: full_deposit,
            }]);
    }

    #[test]
    fn updating_records_the_new_details() {
        let cheaper = ServiceDetails {
            price_cents: cents(7500),
            ..details()
        };
        ServiceTest::with(())
            .given(vec![created()])
            .when(ServiceCommand::Update {
                details: cheaper.clone(),
            })
            .then_expect_events(vec![ServiceEvent::ServiceUpdated {
                id: id(),
                details: cheaper,
            }]);
    }

    #[test]
    fn an_update_with_no_change_appends_nothing() {
        ServiceTest::with(())
            .given(vec![created()])
            .when(ServiceCommand::Update {
                details: ServiceDetails {
                    name: " Silk press  ".into(),
                    ..details()
                },
            })
            .then_expect_events(vec![]);
    }

    #[test]
    fn an_invalid_update_is_refused() {
        ServiceTest::with(())
            .given(vec![created()])
            .when(ServiceCommand::Update {
                details: ServiceDetails {
                    price_cents: cents(1000),
                    ..details()
                },
            })
            .then_expect_error(invalid("deposit_cents", "must not exceed the price"));
    }

    #[test]
    fn updating_an_unknown_service_is_refused() {
        ServiceTest::with(())
            .given_no_previous_events()
            .when(ServiceCommand::Update { details: details() })
            .then_expect_error(ServiceError::NotFound);
    }

    #[test]
    fn archiving_records_it() {
        ServiceTest::with(())
            .given(vec![created()])
            .when(ServiceCommand::Archive)
            .then_expect_events(vec![ServiceEvent::ServiceArchived { id: id() }]);
    }

    #[test]
    fn archiving_twice_is_refused() {
        ServiceTest::with(())
            .given(vec![created(), ServiceEvent::ServiceArchived { id: id() }])
            .when(ServiceCommand::Archive)
            .then_expect_error(ServiceError::AlreadyArchived);
    }

    #[test]
    fn archiving_an_unknown_service_is_refused() {
        ServiceTest::with(())
            .given_no_previous_events()
            .when(ServiceCommand::Archive)
            .then_expect_error(ServiceError::NotFound);
    }

    #[test]
    fn restoring_an_archived_service_records_it() {
        ServiceTest::with(())
            .given(vec![created(), ServiceEvent::ServiceArchived { id: id() }])
            .when(ServiceCommand::Restore)
            .then_expect_events(vec![ServiceEvent::ServiceRestored { id: id() }]);
    }

    #[test]
    fn restoring_a_service_that_is_not_archived_is_refused() {
        ServiceTest::with(())
            .given(vec![created()])
            .when(ServiceCommand::Restore)
            .then_expect_error(ServiceError::NotArchived);
    }

    #[test]
    fn restoring_twice_is_refused() {
        ServiceTest::with(())
            .given(vec![
                created(),
                ServiceEvent::ServiceArchived { id: id() },
                ServiceEvent::ServiceRestored { id: id() },
            ])
            .when(ServiceCommand::Restore)
            .then_expect_error(ServiceError::NotArchived);
    }

    #[test]
    fn restoring_an_unknown_service_is_refused() {
        ServiceTest::with(())
            .given_no_previous_events()
            .when(ServiceCommand::Restore)
            .then_expect_error(ServiceError::NotFound);
    }

    #[test]
    fn the_span_carries_duration_and_buffers() {
        assert_eq!(
            details().span(),
            ServiceSpan {
                duration_minutes: 90,
                buffer_before_minutes: 10,
                buffer_after_minutes: 15,
            }
        );
    }

    #[test]
    fn a_change_updates_only_the_fields_it_names() {
        let patch = ServicePatch {
            price_cents: Some(cents(9000)),
            name: Some("  Silk press deluxe ".into()),
            ..Default::default()
        };
        ServiceTest::with(())
            .given(vec![created()])
            .when(ServiceCommand::Change(patch))
            .then_expect_events(vec![ServiceEvent::ServiceUpdated {
                id: id(),
                details: ServiceDetails {
                    name: "Silk press deluxe".into(),
                    price_cents: cents(9000),
                    ..details()
                },
            }]);
    }

    #[test]
    fn a_change_to_nothing_new_appends_nothing() {
        let patch = ServicePatch {
            duration_minutes: Some(90),
            active: Some(true),
            ..Default::default()
        };
        ServiceTest::with(())
            .given(vec![created()])
            .when(ServiceCommand::Change(patch))
            .then_expect_events(vec![]);
    }

    #[test]
    fn a_change_is_checked_against_the_current_details() {
        // The deposit alone is fine; above the stored price it is not.
        let patch = ServicePatch {
            deposit_cents: Some(cents(9000)),
            ..Default::default()
        };
        ServiceTest::with(())
            .given(vec![created()])
            .when(ServiceCommand::Change(patch))
            .then_expect_error(invalid("deposit_cents", "must not exceed the price"));
    }

    #[test]
    fn a_change_can_archive_and_restore() {
        let archive = ServicePatch {
            active: Some(false),
            ..Default::default()
        };
        ServiceTest::with(())
            .given(vec![created()])
            .when(ServiceCommand::Change(archive))
            .then_expect_events(vec![ServiceEvent::ServiceArchived { id: id() }]);
        let restore = ServicePatch {
            active: Some(true),
            description: Some("New words.".into()),
            ..Default::default()
        };
        ServiceTest::with(())
            .given(vec![created(), ServiceEvent::ServiceArchived { id: id() }])
            .when(ServiceCommand::Change(restore))
            .then_expect_events(vec![
                ServiceEvent::ServiceUpdated {
                    id: id(),
                    details: ServiceDetails {
                        description: "New words.".into(),
                        ..details()
                    },
                },
                ServiceEvent::ServiceRestored { id: id() },
            ]);
    }

    #[test]
    fn changing_an_unknown_service_is_refused() {
        ServiceTest::with(())
            .given_no_previous_events()
            .when(ServiceCommand::Change(ServicePatch::default()))
            .then_expect_error(ServiceError::NotFound);
    }
}
