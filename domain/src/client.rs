//! A client of the salon: who they are (name, email, phone) and the owner's notes about them.
//!
//! A client is identified by their normalised email ([`ClientId::for_email`]): bookings carry
//! only contact details, and the clients read model learns clients from them under the same id,
//! so a client first seen in a booking and later registered by hand is one client.
//!
//! Personal data lives in one value, [`ClientDetails`], carried whole by the events that set it:
//! that is the one place to seal per client (issue 8). The events that carry it are at version 2:
//! the write side seals the details with the client's own key before appending, and readers
//! open them (see `migrations::pii`). [`ClientCommand::Forget`] records that the client's key
//! was deleted: from then on every reader shows the client as erased.

use crate::ids::{ClientId, ParseError};
use crate::values::{bounded_text, Email, PersonName, Phone};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

/// Everything personal about a client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientDetails {
    pub name: PersonName,
    pub email: Email,
    #[serde(default)]
    pub phone: Option<Phone>,
    /// The owner's notes (preferences, allergies); never shown to the client.
    #[serde(default)]
    pub notes: String,
    /// Whether the client agreed to marketing emails; `None` when nobody asked (every event
    /// written before imports existed reads so, hence optional without a new version).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub marketing_consent: Option<bool>,
}

impl ClientDetails {
    /// Trims the notes and checks their length (up to 2000 characters).
    pub fn validate(mut self) -> Result<Self, ParseError> {
        self.notes = bounded_text("notes", &self.notes, 0, 2000)?;
        Ok(self)
    }
    pub fn id(&self) -> ClientId {
        ClientId::for_email(&self.email)
    }
}

/// What an update changes; `None` leaves a field as it is. `phone: Some(None)` removes it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ClientChanges {
    pub name: Option<PersonName>,
    /// The email identifies the client: only its spelling may change (case), not the address.
    pub email: Option<Email>,
    pub phone: Option<Option<Phone>>,
    pub notes: Option<String>,
    pub marketing_consent: Option<Option<bool>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Client {
    pub id: Option<ClientId>,
    pub details: Option<ClientDetails>,
    pub archived: bool,
    /// The client's personal data was erased (their key deleted); their details are gone.
    #[serde(default)]
    pub forgotten: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ClientCommand {
    /// Registers a client by hand; the aggregate's id must be `details.id()`.
    Register {
        details: ClientDetails,
    },
    /// Changes the client's details. `learned` is what the bookings taught the read model about
    /// a client never registered by hand: such a client is registered with it first, in the
    /// same commit, so integrators can edit every client they can list.
    Update {
        changes: ClientChanges,
        learned: Option<ClientDetails>,
    },
    /// Archives the client (history stays); `learned` as for `Update`.
    Archive {
        learned: Option<ClientDetails>,
    },
    Restore,
    /// Records that the client's personal data was erased: the caller deleted the client's
    /// key first. Works for a client only seen in bookings too (`id` is the aggregate's id).
    Forget {
        id: ClientId,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClientEvent {
    ClientRegistered {
        id: ClientId,
        details: ClientDetails,
    },
    /// The client's details as they are after the change (whole, so views need nothing else).
    ClientUpdated {
        id: ClientId,
        details: ClientDetails,
    },
    ClientArchived {
        id: ClientId,
    },
    ClientRestored {
        id: ClientId,
    },
    /// The client's key was deleted: every earlier event's personal data about them reads as
    /// erased from now on. Carries no personal data itself.
    ClientForgotten {
        id: ClientId,
    },
}

impl DomainEvent for ClientEvent {
    fn event_type(&self) -> String {
        match self {
            Self::ClientRegistered { .. } => "ClientRegistered",
            Self::ClientUpdated { .. } => "ClientUpdated",
            Self::ClientArchived { .. } => "ClientArchived",
            Self::ClientRestored { .. } => "ClientRestored",
            Self::ClientForgotten { .. } => "ClientForgotten",
        }
        .into()
    }
    fn event_version(&self) -> String {
        match self {
            // Version 2: `details` is sealed with the client's key in the log.
            Self::ClientRegistered { .. } | Self::ClientUpdated { .. } => "2",
            _ => "1",
        }
        .into()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    #[error("a client with this email already exists")]
    AlreadyExists,
    #[error("no such client")]
    NotFound,
    #[error("the client is already archived")]
    AlreadyArchived,
    #[error("the client is not archived")]
    NotArchived,
    #[error("the client's personal data was erased")]
    Forgotten,
    #[error("the client's personal data was already erased")]
    AlreadyForgotten,
    #[error(
        "the email identifies the client and cannot change; register the new address as a client"
    )]
    EmailIsIdentity,
    #[error(transparent)]
    Invalid(#[from] ParseError),
}

impl Client {
    /// The registered client, or the one `learned` from bookings registered now.
    async fn existing_or_learned(
        &mut self,
        learned: Option<ClientDetails>,
        sink: &EventSink<Self>,
    ) -> Result<(ClientId, ClientDetails), ClientError> {
        if self.forgotten {
            return Err(ClientError::Forgotten);
        }
        if let (Some(id), Some(details)) = (self.id, &self.details) {
            return Ok((id, details.clone()));
        }
        let details = learned.ok_or(ClientError::NotFound)?.validate()?;
        let id = details.id();
        sink.write(
            ClientEvent::ClientRegistered {
                id,
                details: details.clone(),
            },
            self,
        )
        .await;
        Ok((id, details))
    }
}

impl Aggregate for Client {
    const TYPE: &'static str = "Client";
    type Command = ClientCommand;
    type Event = ClientEvent;
    type Error = ClientError;
    type Services = ();

    async fn handle(
        &mut self,
        command: ClientCommand,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), ClientError> {
        match command {
            ClientCommand::Register { details } => {
                // A forgotten client who comes back registers anew.
                if self.id.is_some() && !self.forgotten {
                    return Err(ClientError::AlreadyExists);
                }
                let details = details.validate()?;
                let id = details.id();
                sink.write(ClientEvent::ClientRegistered { id, details }, self)
                    .await;
            }
            ClientCommand::Update { changes, learned } => {
                let (id, current) = self.existing_or_learned(learned, sink).await?;
                let mut next = current.clone();
                if let Some(email) = changes.email {
                    if email.identity() != current.email.identity() {
                        return Err(ClientError::EmailIsIdentity);
                    }
                    next.email = email;
                }
                if let Some(name) = changes.name {
                    next.name = name;
                }
                if let Some(phone) = changes.phone {
                    next.phone = phone;
                }
                if let Some(notes) = changes.notes {
                    next.notes = notes;
                }
                if let Some(consent) = changes.marketing_consent {
                    next.marketing_consent = consent;
                }
                let next = next.validate()?;
                if next != current {
                    sink.write(ClientEvent::ClientUpdated { id, details: next }, self)
                        .await;
                }
            }
            ClientCommand::Archive { learned } => {
                let (id, _) = self.existing_or_learned(learned, sink).await?;
                if self.archived {
                    return Err(ClientError::AlreadyArchived);
                }
                sink.write(ClientEvent::ClientArchived { id }, self).await;
            }
            ClientCommand::Restore => {
                let id = self.id.ok_or(ClientError::NotFound)?;
                if !self.archived {
                    return Err(ClientError::NotArchived);
                }
                sink.write(ClientEvent::ClientRestored { id }, self).await;
            }
            ClientCommand::Forget { id } => {
                if self.forgotten {
                    return Err(ClientError::AlreadyForgotten);
                }
                sink.write(ClientEvent::ClientForgotten { id }, self).await;
            }
        }
        Ok(())
    }

    fn apply(&mut self, event: ClientEvent) {
        match event {
            ClientEvent::ClientRegistered { id, details } => {
                self.id = Some(id);
                self.details = Some(details);
                self.forgotten = false;
            }
            ClientEvent::ClientUpdated { details, .. } => self.details = Some(details),
            ClientEvent::ClientArchived { .. } => self.archived = true,
            ClientEvent::ClientRestored { .. } => self.archived = false,
            ClientEvent::ClientForgotten { id } => {
                self.id = Some(id);
                self.details = None;
                self.forgotten = true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cqrs_es::test::TestFramework;

    type ClientTest = TestFramework<Client>;

    fn details() -> ClientDetails {
        ClientDetails {
            name: PersonName::parse("Ada Lovelace").unwrap(),
            email: Email::parse("Ada@Example.com").unwrap(),
            phone: Some(Phone::parse("(212) 555-0142").unwrap()),
            notes: "Prefers mornings.".into(),
            marketing_consent: None,
        }
    }

    fn id() -> ClientId {
        details().id()
    }

    fn registered() -> ClientEvent {
        ClientEvent::ClientRegistered {
            id: id(),
            details: details(),
        }
    }

    fn update(changes: ClientChanges) -> ClientCommand {
        ClientCommand::Update {
            changes,
            learned: None,
        }
    }

    #[test]
    fn the_id_is_the_same_for_any_case_of_the_email() {
        let upper = Email::parse("ADA@EXAMPLE.COM").unwrap();
        assert_eq!(ClientId::for_email(&upper), id());
        let other = Email::parse("ada2@example.com").unwrap();
        assert_ne!(ClientId::for_email(&other), id());
    }

    #[test]
    fn registering_records_the_trimmed_details() {
        ClientTest::with(())
            .given_no_previous_events()
            .when(ClientCommand::Register {
                details: ClientDetails {
                    notes: "  Prefers mornings. ".into(),
                    ..details()
                },
            })
            .then_expect_events(vec![registered()]);
    }

    #[test]
    fn details_without_marketing_consent_read_as_before() {
        // Events written before consent existed have no such field.
        let old = serde_json::json!({"name": "Ada Lovelace", "email": "ada@example.com",
            "phone": null, "notes": ""});
        let details: ClientDetails = serde_json::from_value(old.clone()).unwrap();
        assert_eq!(details.marketing_consent, None);
        assert_eq!(serde_json::to_value(&details).unwrap(), old);
        let agreed = ClientDetails {
            marketing_consent: Some(true),
            ..details
        };
        let text = serde_json::to_value(&agreed).unwrap();
        assert_eq!(text["marketing_consent"], true);
        assert_eq!(
            serde_json::from_value::<ClientDetails>(text).unwrap(),
            agreed
        );
    }

    #[test]
    fn registering_twice_is_refused() {
        ClientTest::with(())
            .given(vec![registered()])
            .when(ClientCommand::Register { details: details() })
            .then_expect_error(ClientError::AlreadyExists);
    }

    #[test]
    fn notes_over_2000_characters_are_refused() {
        ClientTest::with(())
            .given_no_previous_events()
            .when(ClientCommand::Register {
                details: ClientDetails {
                    notes: "x".repeat(2001),
                    ..details()
                },
            })
            .then_expect_error(ClientError::Invalid(ParseError::new(
                "notes",
                "is longer than 2000 characters",
            )));
    }

    #[test]
    fn updating_records_the_details_after_the_change() {
        let changed = ClientDetails {
            phone: None,
            notes: "Allergic to lavender.".into(),
            ..details()
        };
        ClientTest::with(())
            .given(vec![registered()])
            .when(update(ClientChanges {
                phone: Some(None),
                notes: Some(" Allergic to lavender.".into()),
                ..Default::default()
            }))
            .then_expect_events(vec![ClientEvent::ClientUpdated {
                id: id(),
                details: changed,
            }]);
    }

    #[test]
    fn an_update_that_changes_nothing_appends_nothing() {
        ClientTest::with(())
            .given(vec![registered()])
            .when(update(ClientChanges {
                name: Some(PersonName::parse("Ada Lovelace").unwrap()),
                notes: Some("Prefers mornings.  ".into()),
                ..Default::default()
            }))
            .then_expect_events(vec![]);
    }

    #[test]
    fn the_email_may_change_case_but_not_address() {
        let recased = Email::parse("ADA@example.com").unwrap();
        ClientTest::with(())
            .given(vec![registered()])
            .when(update(ClientChanges {
                email: Some(recased.clone()),
                ..Default::default()
            }))
            .then_expect_events(vec![ClientEvent::ClientUpdated {
                id: id(),
                details: ClientDetails {
                    email: recased,
                    ..details()
                },
            }]);
        ClientTest::with(())
            .given(vec![registered()])
            .when(update(ClientChanges {
                email: Some(Email::parse("grace@example.com").unwrap()),
                ..Default::default()
            }))
            .then_expect_error(ClientError::EmailIsIdentity);
    }

    #[test]
    fn invalid_notes_in_an_update_are_refused() {
        ClientTest::with(())
            .given(vec![registered()])
            .when(update(ClientChanges {
                notes: Some("a\u{0}b".into()),
                ..Default::default()
            }))
            .then_expect_error(ClientError::Invalid(ParseError::new(
                "notes",
                "contains control characters",
            )));
    }

    #[test]
    fn updating_an_unknown_client_is_refused() {
        ClientTest::with(())
            .given_no_previous_events()
            .when(update(ClientChanges::default()))
            .then_expect_error(ClientError::NotFound);
    }

    #[test]
    fn updating_a_client_learned_from_bookings_registers_it_first() {
        let learned = ClientDetails {
            notes: String::new(),
            ..details()
        };
        ClientTest::with(())
            .given_no_previous_events()
            .when(ClientCommand::Update {
                changes: ClientChanges {
                    notes: Some("Prefers mornings.".into()),
                    ..Default::default()
                },
                learned: Some(learned.clone()),
            })
            .then_expect_events(vec![
                ClientEvent::ClientRegistered {
                    id: id(),
                    details: learned,
                },
                ClientEvent::ClientUpdated {
                    id: id(),
                    details: details(),
                },
            ]);
    }

    #[test]
    fn what_bookings_taught_is_ignored_once_registered() {
        let learned = ClientDetails {
            name: PersonName::parse("Someone Else").unwrap(),
            ..details()
        };
        ClientTest::with(())
            .given(vec![registered()])
            .when(ClientCommand::Update {
                changes: ClientChanges::default(),
                learned: Some(learned),
            })
            .then_expect_events(vec![]);
    }

    #[test]
    fn archiving_records_it() {
        ClientTest::with(())
            .given(vec![registered()])
            .when(ClientCommand::Archive { learned: None })
            .then_expect_events(vec![ClientEvent::ClientArchived { id: id() }]);
    }

    #[test]
    fn archiving_a_learned_client_registers_and_archives_it() {
        ClientTest::with(())
            .given_no_previous_events()
            .when(ClientCommand::Archive {
                learned: Some(details()),
            })
            .then_expect_events(vec![registered(), ClientEvent::ClientArchived { id: id() }]);
    }

    #[test]
    fn archiving_twice_is_refused() {
        ClientTest::with(())
            .given(vec![registered(), ClientEvent::ClientArchived { id: id() }])
            .when(ClientCommand::Archive { learned: None })
            .then_expect_error(ClientError::AlreadyArchived);
    }

    #[test]
    fn archiving_an_unknown_client_is_refused() {
        ClientTest::with(())
            .given_no_previous_events()
            .when(ClientCommand::Archive { learned: None })
            .then_expect_error(ClientError::NotFound);
    }

    #[test]
    fn restoring_an_archived_client_records_it() {
        ClientTest::with(())
            .given(vec![registered(), ClientEvent::ClientArchived { id: id() }])
            .when(ClientCommand::Restore)
            .then_expect_events(vec![ClientEvent::ClientRestored { id: id() }]);
    }

    #[test]
    fn restoring_a_client_that_is_not_archived_is_refused() {
        ClientTest::with(())
            .given(vec![registered()])
            .when(ClientCommand::Restore)
            .then_expect_error(ClientError::NotArchived);
    }

    #[test]
    fn forgetting_a_registered_client_records_it_without_personal_data() {
        ClientTest::with(())
            .given(vec![registered()])
            .when(ClientCommand::Forget { id: id() })
            .then_expect_events(vec![ClientEvent::ClientForgotten { id: id() }]);
        let text = serde_json::to_string(&ClientEvent::ClientForgotten { id: id() }).unwrap();
        assert!(
            !text.contains("Ada") && !text.contains("example.com"),
            "{text}"
        );
        assert_eq!(
            ClientEvent::ClientForgotten { id: id() }.event_version(),
            "1"
        );
        assert_eq!(registered().event_version(), "2");
    }

    #[test]
    fn forgetting_a_client_only_seen_in_bookings_records_it() {
        ClientTest::with(())
            .given_no_previous_events()
            .when(ClientCommand::Forget { id: id() })
            .then_expect_events(vec![ClientEvent::ClientForgotten { id: id() }]);
    }

    #[test]
    fn forgetting_twice_is_refused() {
        ClientTest::with(())
            .given(vec![
                registered(),
                ClientEvent::ClientForgotten { id: id() },
            ])
            .when(ClientCommand::Forget { id: id() })
            .then_expect_error(ClientError::AlreadyForgotten);
    }

    #[test]
    fn a_forgotten_client_cannot_be_updated_or_archived() {
        let forgotten = vec![registered(), ClientEvent::ClientForgotten { id: id() }];
        ClientTest::with(())
            .given(forgotten.clone())
            .when(update(ClientChanges {
                notes: Some("again".into()),
                ..Default::default()
            }))
            .then_expect_error(ClientError::Forgotten);
        ClientTest::with(())
            .given(forgotten)
            .when(ClientCommand::Archive {
                learned: Some(details()),
            })
            .then_expect_error(ClientError::Forgotten);
    }

    #[test]
    fn a_forgotten_client_who_comes_back_registers_anew() {
        ClientTest::with(())
            .given(vec![
                registered(),
                ClientEvent::ClientForgotten { id: id() },
            ])
            .when(ClientCommand::Register { details: details() })
            .then_expect_events(vec![registered()]);
    }

    #[test]
    fn restoring_an_unknown_client_is_refused() {
        ClientTest::with(())
            .given_no_previous_events()
            .when(ClientCommand::Restore)
            .then_expect_error(ClientError::NotFound);
    }
}
