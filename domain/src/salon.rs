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
