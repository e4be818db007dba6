//! A stylist: profile, the services they do, weekly hours with breaks, and time off.

use crate::ids::{ParseError, ServiceId, StylistId, TimeOffId};
use crate::schedule::{TimeOff, WeeklyHours};
use crate::values::bounded_text;
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Stylist {
    pub id: Option<StylistId>,
    pub name: String,
    pub bio: String,
    pub services: Vec<ServiceId>,
    pub hours: WeeklyHours,
    pub time_off: Vec<TimeOff>,
    pub archived: bool,
}

impl Stylist {
    pub fn offers(&self, service: ServiceId) -> bool {
        self.services.contains(&service)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum StylistCommand {
    Hire {
        id: StylistId,
        name: String,
        bio: String,
        services: Vec<ServiceId>,
    },
    UpdateProfile {
        name: String,
        bio: String,
    },
    SetServices {
        services: Vec<ServiceId>,
    },
    SetHours {
        hours: WeeklyHours,
    },
    AddTimeOff {
        time_off: TimeOff,
    },
    RemoveTimeOff {
        id: TimeOffId,
    },
    /// Changes any of profile, services, hours and (with `active`) archives or restores, each
    /// decided on the stylist as it is now; what does not change appends nothing.
    Change(StylistPatch),
    Archive,
    Restore,
}

/// Some of a stylist's settings to change; `None` keeps the current value.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StylistPatch {
    pub name: Option<String>,
    pub bio: Option<String>,
    pub services: Option<Vec<ServiceId>>,
    pub hours: Option<WeeklyHours>,
    /// `false` archives, `true` restores.
    pub active: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum StylistEvent {
    StylistHired {
        id: StylistId,
        name: String,
        bio: String,
        services: Vec<ServiceId>,
    },
    StylistProfileUpdated {
        id: StylistId,
        name: String,
        bio: String,
    },
    StylistServicesSet {
        id: StylistId,
        services: Vec<ServiceId>,
    },
    StylistHoursSet {
        id: StylistId,
        hours: WeeklyHours,
    },
    TimeOffAdded {
        id: StylistId,
        time_off: TimeOff,
    },
    TimeOffRemoved {
        id: StylistId,
        time_off: TimeOffId,
    },
    StylistArchived {
        id: StylistId,
    },
    StylistRestored {
        id: StylistId,
    },
}

impl DomainEvent for StylistEvent {
    fn event_type(&self) -> String {
        match self {
            Self::StylistHired { .. } => "StylistHired",
            Self::StylistProfileUpdated { .. } => "StylistProfileUpdated",
            Self::StylistServicesSet { .. } => "StylistServicesSet",
            Self::StylistHoursSet { .. } => "StylistHoursSet",
            Self::TimeOffAdded { .. } => "TimeOffAdded",
            Self::TimeOffRemoved { .. } => "TimeOffRemoved",
            Self::StylistArchived { .. } => "StylistArchived",
            Self::StylistRestored { .. } => "StylistRestored",
        }
        .into()
    }
    fn event_version(&self) -> String {
        "1".into()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StylistError {
    #[error("the stylist already exists")]
    AlreadyExists,
    #[error("no such stylist")]
    NotFound,
    #[error("time off must end after it starts")]
    TimeOffInverted,
    #[error("this time off overlaps time off already booked")]
    TimeOffOverlaps,
    #[error("no such time off")]
    UnknownTimeOff,
    #[error("the stylist is already archived")]
    AlreadyArchived,
    #[error("the stylist is not archived")]
    NotArchived,
    #[error(transparent)]
    Invalid(#[from] ParseError),
}

fn dedup(mut services: Vec<ServiceId>) -> Vec<ServiceId> {
    services.sort();
    services.dedup();
    services
}

impl Stylist {
    async fn change(
        &mut self,
        id: StylistId,
        patch: StylistPatch,
        sink: &EventSink<Self>,
    ) -> Result<(), StylistError> {
        let name = match &patch.name {
            Some(n) => bounded_text("name", n, 1, 100)?,
            None => self.name.clone(),
        };
        let bio = match &patch.bio {
            Some(b) => bounded_text("bio", b, 0, 2000)?,
            None => self.bio.clone(),
        };
        let mut events = Vec::new();
        if name != self.name || bio != self.bio {
            events.push(StylistEvent::StylistProfileUpdated { id, name, bio });
        }
        if let Some(services) = patch.services.map(dedup) {
            if services != self.services {
                events.push(StylistEvent::StylistServicesSet { id, services });
            }
        }
        if let Some(hours) = patch.hours {
            if hours != self.hours {
                events.push(StylistEvent::StylistHoursSet { id, hours });
            }
        }
        match patch.active {
            Some(false) if !self.archived => events.push(StylistEvent::StylistArchived { id }),
            Some(true) if self.archived => events.push(StylistEvent::StylistRestored { id }),
            _ => {}
        }
        for event in events {
            sink.write(event, self).await;
        }
        Ok(())
    }
}

impl Aggregate for Stylist {
    const TYPE: &'static str = "Stylist";
    type Command = StylistCommand;
    type Event = StylistEvent;
    type Error = StylistError;
    type Services = ();

    async fn handle(
        &mut self,
        command: StylistCommand,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), StylistError> {
        if let StylistCommand::Hire {
            id,
            name,
            bio,
            services,
        } = command
        {
            if self.id.is_some() {
                return Err(StylistError::AlreadyExists);
            }
            let name = bounded_text("name", &name, 1, 100)?;
            let bio = bounded_text("bio", &bio, 0, 2000)?;
            let services = dedup(services);
            sink.write(
                StylistEvent::StylistHired {
                    id,
                    name,
                    bio,
                    services,
                },
                self,
            )
            .await;
            return Ok(());
        }
        let id = self.id.ok_or(StylistError::NotFound)?;
        if let StylistCommand::Change(patch) = command {
            return self.change(id, patch, sink).await;
        }
        let event = match command {
            StylistCommand::Hire { .. } | StylistCommand::Change(_) => {
                unreachable!("handled above")
            }
            StylistCommand::UpdateProfile { name, bio } => {
                let name = bounded_text("name", &name, 1, 100)?;
                let bio = bounded_text("bio", &bio, 0, 2000)?;
                (name != self.name || bio != self.bio)
                    .then_some(StylistEvent::StylistProfileUpdated { id, name, bio })
            }
            StylistCommand::SetServices { services } => {
                let services = dedup(services);
                (services != self.services)
                    .then_some(StylistEvent::StylistServicesSet { id, services })
            }
            StylistCommand::SetHours { hours } => {
                (hours != self.hours).then_some(StylistEvent::StylistHoursSet { id, hours })
            }
            StylistCommand::AddTimeOff { time_off } => {
                if time_off.start >= time_off.end {
                    return Err(StylistError::TimeOffInverted);
                }
                if let Some(reason) = &time_off.reason {
                    bounded_text("reason", reason, 0, 500)?;
                }
                if self
                    .time_off
                    .iter()
                    .any(|t| t.start < time_off.end && time_off.start < t.end)
                {
                    return Err(StylistError::TimeOffOverlaps);
                }
                Some(StylistEvent::TimeOffAdded { id, time_off })
            }
            StylistCommand::RemoveTimeOff { id: time_off } => {
                if !self.time_off.iter().any(|t| t.id == time_off) {
                    return Err(StylistError::UnknownTimeOff);
                }
                Some(StylistEvent::TimeOffRemoved { id, time_off })
            }
            StylistCommand::Archive => {
                if self.archived {
                    return Err(StylistError::AlreadyArchived);
                }
                Some(StylistEvent::StylistArchived { id })
            }
            StylistCommand::Restore => {
                if !self.archived {
                    return Err(StylistError::NotArchived);
                }
                Some(StylistEvent::StylistRestored { id })
            }
        };
        if let Some(event) = event {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: StylistEvent) {
        match event {
            StylistEvent::StylistHired {
                id,
                name,
                bio,
                services,
            } => {
                self.id = Some(id);
                self.name = name;
                self.bio = bio;
                self.services = services;
            }
            StylistEvent::StylistProfileUpdated { name, bio, .. } => {
                self.name = name;
                self.bio = bio;
            }
            StylistEvent::StylistServicesSet { services, .. } => self.services = services,
            StylistEvent::StylistHoursSet { hours, .. } => self.hours = hours,
            StylistEvent::TimeOffAdded { time_off, .. } => {
                self.time_off.push(time_off);
                self.time_off.sort_by_key(|t| t.start);
            }
            StylistEvent::TimeOffRemoved { time_off, .. } => {
                self.time_off.retain(|t| t.id != time_off)
            }
            StylistEvent::StylistArchived { .. } => self.archived = true,
            StylistEvent::StylistRestored { .. } => self.archived = false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::{hhmm, DayHours, DayKey};
    use chrono::NaiveDateTime;
    use cqrs_es::test::TestFramework;
    use std::collections::BTreeMap;
    use uuid::Uuid;

    type StylistTest = TestFramework<Stylist>;

    fn id() -> StylistId {
        StylistId::from_uuid(Uuid::from_u128(1))
    }

    fn service(n: u128) -> ServiceId {
        ServiceId::from_uuid(Uuid::from_u128(n))
    }

    fn time_off_id(n: u128) -> TimeOffId {
        TimeOffId::from_uuid(Uuid::from_u128(n))
    }

    fn hired() -> StylistEvent {
        StylistEvent::StylistHired {
            id: id(),
            name: "Ada".into(),
            bio: "Locs and twists.".into(),
            services: vec![service(1), service(2)],
        }
    }

    fn local(raw: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(raw, "%Y-%m-%d %H:%M").unwrap()
    }

    fn time_off(n: u128, start: &str, end: &str) -> TimeOff {
        TimeOff {
            id: time_off_id(n),
            start: local(start),
            end: local(end),
            reason: Some("Vacation".into()),
        }
    }

    fn vacation() -> TimeOff {
        time_off(1, "2027-03-10 00:00", "2027-03-13 00:00")
    }

    fn vacation_added() -> StylistEvent {
        StylistEvent::TimeOffAdded {
            id: id(),
            time_off: vacation(),
        }
    }

    fn add(time_off: TimeOff) -> StylistCommand {
        StylistCommand::AddTimeOff { time_off }
    }

    fn tuesdays(open: &str, close: &str) -> WeeklyHours {
        WeeklyHours::new(BTreeMap::from([(
            DayKey::Tue,
            DayHours {
                open: hhmm::parse(open).unwrap(),
                close: hhmm::parse(close).unwrap(),
                breaks: vec![],
            },
        )]))
        .unwrap()
    }

    fn profile(name: &str, bio: &str) -> StylistCommand {
        StylistCommand::UpdateProfile {
            name: name.into(),
            bio: bio.into(),
        }
    }

    #[test]
    fn hiring_records_the_trimmed_profile_and_each_service_once() {
        StylistTest::with(())
            .given_no_previous_events()
            .when(StylistCommand::Hire {
                id: id(),
                name: " Ada ".into(),
                bio: "Locs and twists.  ".into(),
                services: vec![service(2), service(1), service(2)],
            })
            .then_expect_events(vec![hired()]);
    }

    #[test]
    fn hiring_an_existing_stylist_is_refused() {
        StylistTest::with(())
            .given(vec![hired()])
            .when(StylistCommand::Hire {
                id: id(),
                name: "Ada".into(),
                bio: String::new(),
                services: vec![],
            })
            .then_expect_error(StylistError::AlreadyExists);
    }

    #[test]
    fn hiring_without_a_name_is_refused() {
        StylistTest::with(())
            .given_no_previous_events()
            .when(StylistCommand::Hire {
                id: id(),
                name: "  ".into(),
                bio: String::new(),
                services: vec![],
            })
            .then_expect_error(StylistError::Invalid(ParseError::new(
                "name",
                "is required",
            )));
    }

    #[test]
    fn hiring_with_a_bio_over_2000_characters_is_refused() {
        StylistTest::with(())
            .given_no_previous_events()
            .when(StylistCommand::Hire {
                id: id(),
                name: "Ada".into(),
                bio: "x".repeat(2001),
                services: vec![],
            })
            .then_expect_error(StylistError::Invalid(ParseError::new(
                "bio",
                "is longer than 2000 characters",
            )));
    }

    #[test]
    fn every_command_but_hire_is_refused_for_an_unknown_stylist() {
        let commands = [
            profile("Ada", ""),
            StylistCommand::SetServices { services: vec![] },
            StylistCommand::SetHours {
                hours: WeeklyHours::default(),
            },
            add(vacation()),
            StylistCommand::RemoveTimeOff { id: time_off_id(1) },
            StylistCommand::Archive,
            StylistCommand::Restore,
        ];
        for command in commands {
            StylistTest::with(())
                .given_no_previous_events()
                .when(command)
                .then_expect_error(StylistError::NotFound);
        }
    }

    #[test]
    fn updating_the_profile_records_it() {
        StylistTest::with(())
            .given(vec![hired()])
            .when(profile("Ada Obi", "Locs, twists and silk presses."))
            .then_expect_events(vec![StylistEvent::StylistProfileUpdated {
                id: id(),
                name: "Ada Obi".into(),
                bio: "Locs, twists and silk presses.".into(),
            }]);
    }

    #[test]
    fn an_unchanged_profile_appends_nothing() {
        StylistTest::with(())
            .given(vec![hired()])
            .when(profile("  Ada", "Locs and twists. "))
            .then_expect_events(vec![]);
    }

    #[test]
    fn a_profile_without_a_name_is_refused() {
        StylistTest::with(())
            .given(vec![hired()])
            .when(profile("", "Locs and twists."))
            .then_expect_error(StylistError::Invalid(ParseError::new(
                "name",
                "is required",
            )));
    }

    #[test]
    fn setting_services_records_each_once_in_order() {
        StylistTest::with(())
            .given(vec![hired()])
            .when(StylistCommand::SetServices {
                services: vec![service(3), service(1), service(3)],
            })
            .then_expect_events(vec![StylistEvent::StylistServicesSet {
                id: id(),
                services: vec![service(1), service(3)],
            }]);
    }

    #[test]
    fn setting_the_same_services_in_another_order_appends_nothing() {
        StylistTest::with(())
            .given(vec![hired()])
            .when(StylistCommand::SetServices {
                services: vec![service(2), service(1), service(1)],
            })
            .then_expect_events(vec![]);
    }

    #[test]
    fn setting_hours_records_them() {
        StylistTest::with(())
            .given(vec![hired()])
            .when(StylistCommand::SetHours {
                hours: tuesdays("09:00", "17:00"),
            })
            .then_expect_events(vec![StylistEvent::StylistHoursSet {
                id: id(),
                hours: tuesdays("09:00", "17:00"),
            }]);
    }

    #[test]
    fn setting_unchanged_hours_appends_nothing() {
        StylistTest::with(())
            .given(vec![
                hired(),
                StylistEvent::StylistHoursSet {
                    id: id(),
                    hours: tuesdays("09:00", "17:00"),
                },
            ])
            .when(StylistCommand::SetHours {
                hours: tuesdays("09:00", "17:00"),
            })
            .then_expect_events(vec![]);
    }

    #[test]
    fn adding_time_off_records_it() {
        StylistTest::with(())
            .given(vec![hired()])
            .when(add(vacation()))
            .then_expect_events(vec![vacation_added()]);
    }

    #[test]
    fn time_off_ending_before_it_starts_is_refused() {
        StylistTest::with(())
            .given(vec![hired()])
            .when(add(time_off(2, "2027-03-10 12:00", "2027-03-10 11:00")))
            .then_expect_error(StylistError::TimeOffInverted);
    }

    #[test]
    fn time_off_ending_when_it_starts_is_refused() {
        StylistTest::with(())
            .given(vec![hired()])
            .when(add(time_off(2, "2027-03-10 12:00", "2027-03-10 12:00")))
            .then_expect_error(StylistError::TimeOffInverted);
    }

    #[test]
    fn time_off_overlapping_earlier_time_off_is_refused() {
        StylistTest::with(())
            .given(vec![hired(), vacation_added()])
            .when(add(time_off(2, "2027-03-12 18:00", "2027-03-14 00:00")))
            .then_expect_error(StylistError::TimeOffOverlaps);
    }

    #[test]
    fn time_off_inside_earlier_time_off_is_refused() {
        StylistTest::with(())
            .given(vec![hired(), vacation_added()])
            .when(add(time_off(2, "2027-03-11 10:00", "2027-03-11 11:00")))
            .then_expect_error(StylistError::TimeOffOverlaps);
    }

    #[test]
    fn time_off_right_after_earlier_time_off_is_accepted() {
        let next = time_off(2, "2027-03-13 00:00", "2027-03-14 00:00");
        StylistTest::with(())
            .given(vec![hired(), vacation_added()])
            .when(add(next.clone()))
            .then_expect_events(vec![StylistEvent::TimeOffAdded {
                id: id(),
                time_off: next,
            }]);
    }

    #[test]
    fn time_off_with_a_reason_over_500_characters_is_refused() {
        let mut long = vacation();
        long.reason = Some("x".repeat(501));
        StylistTest::with(())
            .given(vec![hired()])
            .when(add(long))
            .then_expect_error(StylistError::Invalid(ParseError::new(
                "reason",
                "is longer than 500 characters",
            )));
    }

    #[test]
    fn removing_time_off_records_it() {
        StylistTest::with(())
            .given(vec![hired(), vacation_added()])
            .when(StylistCommand::RemoveTimeOff { id: time_off_id(1) })
            .then_expect_events(vec![StylistEvent::TimeOffRemoved {
                id: id(),
                time_off: time_off_id(1),
            }]);
    }

    #[test]
    fn removing_unknown_time_off_is_refused() {
        StylistTest::with(())
            .given(vec![hired(), vacation_added()])
            .when(StylistCommand::RemoveTimeOff { id: time_off_id(9) })
            .then_expect_error(StylistError::UnknownTimeOff);
    }

    #[test]
    fn removing_time_off_twice_is_refused() {
        StylistTest::with(())
            .given(vec![
                hired(),
                vacation_added(),
                StylistEvent::TimeOffRemoved {
                    id: id(),
                    time_off: time_off_id(1),
                },
            ])
            .when(StylistCommand::RemoveTimeOff { id: time_off_id(1) })
            .then_expect_error(StylistError::UnknownTimeOff);
    }

    #[test]
    fn removed_time_off_no_longer_blocks_new_time_off() {
        let again = time_off(2, "2027-03-11 00:00", "2027-03-12 00:00");
        StylistTest::with(())
            .given(vec![
                hired(),
                vacation_added(),
                StylistEvent::TimeOffRemoved {
                    id: id(),
                    time_off: time_off_id(1),
                },
            ])
            .when(add(again.clone()))
            .then_expect_events(vec![StylistEvent::TimeOffAdded {
                id: id(),
                time_off: again,
            }]);
    }

    #[test]
    fn archiving_records_it() {
        StylistTest::with(())
            .given(vec![hired()])
            .when(StylistCommand::Archive)
            .then_expect_events(vec![StylistEvent::StylistArchived { id: id() }]);
    }

    #[test]
    fn archiving_twice_is_refused() {
        StylistTest::with(())
            .given(vec![hired(), StylistEvent::StylistArchived { id: id() }])
            .when(StylistCommand::Archive)
            .then_expect_error(StylistError::AlreadyArchived);
    }

    #[test]
    fn restoring_an_archived_stylist_records_it() {
        StylistTest::with(())
            .given(vec![hired(), StylistEvent::StylistArchived { id: id() }])
            .when(StylistCommand::Restore)
            .then_expect_events(vec![StylistEvent::StylistRestored { id: id() }]);
    }

    #[test]
    fn restoring_a_stylist_who_is_not_archived_is_refused() {
        StylistTest::with(())
            .given(vec![hired()])
            .when(StylistCommand::Restore)
            .then_expect_error(StylistError::NotArchived);
    }

    #[test]
    fn offers_only_the_services_set() {
        let mut stylist = Stylist::default();
        stylist.apply(hired());
        assert!(stylist.offers(service(1)));
        assert!(!stylist.offers(service(3)));
    }

    #[test]
    fn a_change_records_each_aspect_that_changed() {
        let patch = StylistPatch {
            bio: Some("Locs, twists and colour.".into()),
            services: Some(vec![service(2), service(1), service(3)]),
            hours: Some(tuesdays("09:00", "17:00")),
            ..Default::default()
        };
        StylistTest::with(())
            .given(vec![hired()])
            .when(StylistCommand::Change(patch))
            .then_expect_events(vec![
                StylistEvent::StylistProfileUpdated {
                    id: id(),
                    name: "Ada".into(),
                    bio: "Locs, twists and colour.".into(),
                },
                StylistEvent::StylistServicesSet {
                    id: id(),
                    services: vec![service(1), service(2), service(3)],
                },
                StylistEvent::StylistHoursSet {
                    id: id(),
                    hours: tuesdays("09:00", "17:00"),
                },
            ]);
    }

    #[test]
    fn a_change_to_nothing_new_appends_nothing() {
        let patch = StylistPatch {
            name: Some(" Ada ".into()),
            services: Some(vec![service(2), service(1)]),
            active: Some(true),
            ..Default::default()
        };
        StylistTest::with(())
            .given(vec![hired()])
            .when(StylistCommand::Change(patch))
            .then_expect_events(vec![]);
    }

    #[test]
    fn a_change_with_an_empty_name_is_refused() {
        let patch = StylistPatch {
            name: Some("  ".into()),
            ..Default::default()
        };
        StylistTest::with(())
            .given(vec![hired()])
            .when(StylistCommand::Change(patch))
            .then_expect_error(StylistError::Invalid(ParseError::new(
                "name",
                "is required",
            )));
    }

    #[test]
    fn a_change_can_archive_and_restore() {
        let archive = StylistPatch {
            active: Some(false),
            ..Default::default()
        };
        StylistTest::with(())
            .given(vec![hired()])
            .when(StylistCommand::Change(archive))
            .then_expect_events(vec![StylistEvent::StylistArchived { id: id() }]);
        let restore = StylistPatch {
            active: Some(true),
            ..Default::default()
        };
        StylistTest::with(())
            .given(vec![hired(), StylistEvent::StylistArchived { id: id() }])
            .when(StylistCommand::Change(restore))
            .then_expect_events(vec![StylistEvent::StylistRestored { id: id() }]);
    }

    #[test]
    fn changing_an_unknown_stylist_is_refused() {
        StylistTest::with(())
            .given_no_previous_events()
            .when(StylistCommand::Change(StylistPatch::default()))
            .then_expect_error(StylistError::NotFound);
    }
}
