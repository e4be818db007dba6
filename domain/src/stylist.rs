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
    Archive,
    Restore,
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
        let event = match command {
            StylistCommand::Hire { .. } => unreachable!("handled above"),
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
