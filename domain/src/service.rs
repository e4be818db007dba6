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
        if !(5..=720).contains(&self.duration_minutes) || self.duration_minutes % 5 != 0 {
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
