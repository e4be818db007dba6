//! The waitlist of one local date: clients who wanted a day that was full, in the order they
//! joined. When time frees up on that day they are told in that order, and whoever books first
//! gets it (the booking path decides, as for any booking).

use crate::ids::{ServiceId, StylistId, WaitlistEntryId};
use crate::values::Client;
use chrono::{DateTime, NaiveDate, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

/// Most clients one day's list holds.
pub const MAX_ENTRIES: usize = 100;

/// One client waiting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitlistEntry {
    pub id: WaitlistEntryId,
    pub service: ServiceId,
    /// `None`: any stylist will do.
    pub stylist: Option<StylistId>,
    pub client: Client,
    pub joined_at: DateTime<Utc>,
}

impl WaitlistEntry {
    /// Would time freed for `stylist` suit this client?
    pub fn wants(&self, stylist: StylistId) -> bool {
        self.stylist.is_none_or(|s| s == stylist)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Waitlist {
    pub date: Option<NaiveDate>,
    /// In the order they joined.
    pub entries: Vec<WaitlistEntry>,
}

impl Waitlist {
    /// The aggregate id of a date's list.
    pub fn id_for(date: NaiveDate) -> String {
        date.to_string()
    }
    pub fn entry(&self, id: WaitlistEntryId) -> Option<&WaitlistEntry> {
        self.entries.iter().find(|e| e.id == id)
    }
    /// 1-based place in line.
    pub fn place(&self, id: WaitlistEntryId) -> Option<usize> {
        self.entries.iter().position(|e| e.id == id).map(|p| p + 1)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum WaitlistCommand {
    Join {
        date: NaiveDate,
        entry: WaitlistEntry,
    },
    Leave {
        entry: WaitlistEntryId,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum WaitlistEvent {
    WaitlistJoined {
        date: NaiveDate,
        entry: WaitlistEntry,
    },
    WaitlistLeft {
        date: NaiveDate,
        entry: WaitlistEntryId,
    },
}

impl DomainEvent for WaitlistEvent {
    fn event_type(&self) -> String {
        match self {
            Self::WaitlistJoined { .. } => "WaitlistJoined",
            Self::WaitlistLeft { .. } => "WaitlistLeft",
        }
        .into()
    }
    fn event_version(&self) -> String {
        match self {
            // Version 2: the client's contact details are sealed with the client's key.
            Self::WaitlistJoined { .. } => "2",
            Self::WaitlistLeft { .. } => "1",
        }
        .into()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WaitlistError {
    /// The same client already waits for the same service that day: the existing entry.
    #[error("already on the waitlist for this day")]
    AlreadyWaiting { entry: WaitlistEntryId },
    #[error("the waitlist for this day is full")]
    Full,
    #[error("not on this day's waitlist")]
    NotWaiting,
    #[error("the list is for another day")]
    WrongDay,
}

impl Aggregate for Waitlist {
    const TYPE: &'static str = "Waitlist";
    type Command = WaitlistCommand;
    type Event = WaitlistEvent;
    type Error = WaitlistError;
    type Services = ();

    async fn handle(
        &mut self,
        command: WaitlistCommand,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), WaitlistError> {
        match command {
            WaitlistCommand::Join { date, entry } => {
                if self.date.is_some_and(|d| d != date) {
                    return Err(WaitlistError::WrongDay);
                }
                if let Some(existing) = self.entries.iter().find(|e| {
                    e.id == entry.id
                        || (e.service == entry.service
                            && e.client.email.as_str() == entry.client.email.as_str())
                }) {
                    return Err(WaitlistError::AlreadyWaiting { entry: existing.id });
                }
                if self.entries.len() >= MAX_ENTRIES {
                    return Err(WaitlistError::Full);
                }
                sink.write(WaitlistEvent::WaitlistJoined { date, entry }, self)
                    .await;
            }
            WaitlistCommand::Leave { entry } => {
                let date = self.date.ok_or(WaitlistError::NotWaiting)?;
                if self.entry(entry).is_none() {
                    return Err(WaitlistError::NotWaiting);
                }
                sink.write(WaitlistEvent::WaitlistLeft { date, entry }, self)
                    .await;
            }
        }
        Ok(())
    }

    fn apply(&mut self, event: WaitlistEvent) {
        match event {
            WaitlistEvent::WaitlistJoined { date, entry } => {
                self.date = Some(date);
                self.entries.push(entry);
            }
            WaitlistEvent::WaitlistLeft { entry, .. } => self.entries.retain(|e| e.id != entry),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::values::{Email, PersonName, Phone};
    use chrono::TimeZone;
    use cqrs_es::test::TestFramework;
    use uuid::Uuid;

    type WaitlistTest = TestFramework<Waitlist>;

    fn date() -> NaiveDate {
        NaiveDate::from_ymd_opt(2027, 3, 2).unwrap()
    }

    fn entry(n: u128, email: &str, stylist: Option<u128>) -> WaitlistEntry {
        WaitlistEntry {
            id: WaitlistEntryId::from_uuid(Uuid::from_u128(n)),
            service: ServiceId::from_uuid(Uuid::from_u128(50)),
            stylist: stylist.map(|s| StylistId::from_uuid(Uuid::from_u128(s))),
            client: Client {
                name: PersonName::parse("Grace Hopper").unwrap(),
                email: Email::parse(email).unwrap(),
                phone: Phone::parse("212 555 0142").unwrap(),
            },
            joined_at: Utc.with_ymd_and_hms(2027, 2, 20, 9, 0, 0).unwrap(),
        }
    }

    fn joined(e: WaitlistEntry) -> WaitlistEvent {
        WaitlistEvent::WaitlistJoined {
            date: date(),
            entry: e,
        }
    }

    fn join(e: WaitlistEntry) -> WaitlistCommand {
        WaitlistCommand::Join {
            date: date(),
            entry: e,
        }
    }

    #[test]
    fn clients_join_in_order() {
        WaitlistTest::with(())
            .given(vec![joined(entry(1, "a@example.com", None))])
            .when(join(entry(2, "b@example.com", Some(7))))
            .then_expect_events(vec![joined(entry(2, "b@example.com", Some(7)))]);
        let mut list = Waitlist::default();
        list.apply(joined(entry(1, "a@example.com", None)));
        list.apply(joined(entry(2, "b@example.com", Some(7))));
        let second = WaitlistEntryId::from_uuid(Uuid::from_u128(2));
        assert_eq!(list.place(second), Some(2));
    }

    #[test]
    fn joining_twice_for_the_same_service_names_the_first_entry() {
        WaitlistTest::with(())
            .given(vec![joined(entry(1, "a@example.com", None))])
            .when(join(entry(2, "a@example.com", Some(7))))
            .then_expect_error(WaitlistError::AlreadyWaiting {
                entry: WaitlistEntryId::from_uuid(Uuid::from_u128(1)),
            });
    }

    #[test]
    fn a_full_list_takes_no_one_more() {
        let given: Vec<_> = (0..MAX_ENTRIES as u128)
            .map(|n| joined(entry(100 + n, &format!("c{n}@example.com"), None)))
            .collect();
        WaitlistTest::with(())
            .given(given)
            .when(join(entry(1, "late@example.com", None)))
            .then_expect_error(WaitlistError::Full);
    }

    #[test]
    fn a_client_leaves_once() {
        let id = WaitlistEntryId::from_uuid(Uuid::from_u128(1));
        WaitlistTest::with(())
            .given(vec![joined(entry(1, "a@example.com", None))])
            .when(WaitlistCommand::Leave { entry: id })
            .then_expect_events(vec![WaitlistEvent::WaitlistLeft {
                date: date(),
                entry: id,
            }]);
        WaitlistTest::with(())
            .given(vec![
                joined(entry(1, "a@example.com", None)),
                WaitlistEvent::WaitlistLeft {
                    date: date(),
                    entry: id,
                },
            ])
            .when(WaitlistCommand::Leave { entry: id })
            .then_expect_error(WaitlistError::NotWaiting);
    }

    #[test]
    fn a_list_is_for_one_day() {
        WaitlistTest::with(())
            .given(vec![joined(entry(1, "a@example.com", None))])
            .when(WaitlistCommand::Join {
                date: date().succ_opt().unwrap(),
                entry: entry(2, "b@example.com", None),
            })
            .then_expect_error(WaitlistError::WrongDay);
    }

    #[test]
    fn any_stylist_or_the_chosen_one() {
        let any = entry(1, "a@example.com", None);
        let chosen = entry(2, "b@example.com", Some(7));
        let seven = StylistId::from_uuid(Uuid::from_u128(7));
        let eight = StylistId::from_uuid(Uuid::from_u128(8));
        assert!(any.wants(seven) && any.wants(eight));
        assert!(chosen.wants(seven) && !chosen.wants(eight));
    }
}
