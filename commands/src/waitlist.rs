//! The waitlist on the write side: joining a full day (refused while the day still has room),
//! leaving, and the free times a freed slot opened (what the offer email lists; checked again
//! when it is sent, since the time may be taken by then).

use crate::booking::{Judge, CATALOG_MAX_AGE, MAX_ATTEMPTS};
use crate::bus::{CommandBus, Loaded};
use chrono::{DateTime, NaiveDate, Utc};
use cqrs_es::persist::PersistenceError;
use domain::availability::{self, Slot};
use domain::ids::{ServiceId, StylistId, WaitlistEntryId};
use domain::metadata::EventMetadata;
use domain::service::Service;
use domain::stylist::Stylist;
use domain::stylist_day::{StylistDay, StylistDayId};
use domain::values::Client;
use domain::waitlist::{Waitlist, WaitlistCommand, WaitlistEntry, WaitlistError};

#[derive(Debug, thiserror::Error)]
pub enum WaitlistFailure {
    #[error("no such service")]
    UnknownService,
    #[error("no such stylist")]
    UnknownStylist,
    #[error("the stylist does not offer this service")]
    NotOffered,
    #[error("that day still has free times")]
    DayHasRoom { slots: Vec<Slot> },
    #[error("that day cannot be booked (past, or beyond the booking horizon)")]
    OutOfRange,
    #[error(transparent)]
    Refused(WaitlistError),
    #[error("too many changes to this waitlist at once; try again")]
    Contended,
    #[error("event store: {0}")]
    Store(#[from] PersistenceError),
}

/// A client on a day's list.
#[derive(Debug, Clone)]
pub struct Joined {
    pub date: NaiveDate,
    pub entry: WaitlistEntry,
    /// 1-based place in line.
    pub place: usize,
    /// False when the client was already waiting (this is that entry).
    pub created: bool,
}

impl CommandBus {
    /// The stylists who could do `service`: the chosen one, or every one offering it.
    async fn stylists_for(
        &self,
        service: ServiceId,
        stylist: Option<StylistId>,
    ) -> Result<Vec<Stylist>, WaitlistFailure> {
        let ids: Vec<String> =
            match stylist {
                Some(s) => vec![s.to_string()],
                None => self.store().aggregate_ids("Stylist").await.map_err(|e| {
                    WaitlistFailure::Store(PersistenceError::UnknownError(Box::new(e)))
                })?,
            };
        let mut found = Vec::new();
        for id in ids {
            let s = self
                .load_recent::<Stylist>(&id, CATALOG_MAX_AGE)
                .await?
                .state;
            if s.id.is_none() || s.archived {
                if stylist.is_some() {
                    return Err(WaitlistFailure::UnknownStylist);
                }
                continue;
            }
            if !s.offers(service) {
                if stylist.is_some() {
                    return Err(WaitlistFailure::NotOffered);
                }
                continue;
            }
            found.push(s);
        }
        Ok(found)
    }

    /// Free times for `service` on `date` (with `stylist`, or anyone offering it), from the
    /// stylists' days as the store holds them now.
    pub async fn free_slots_on(
        &self,
        service: ServiceId,
        stylist: Option<StylistId>,
        date: NaiveDate,
        now: DateTime<Utc>,
    ) -> Result<Vec<Slot>, WaitlistFailure> {
        let salon = self.salon().await?;
        let service = self
            .load_recent::<Service>(&service.to_string(), CATALOG_MAX_AGE)
            .await?
            .state;
        let Some(details) = service.details.clone().filter(|_| !service.archived) else {
            return Err(WaitlistFailure::UnknownService);
        };
        let service_id = service.id.ok_or(WaitlistFailure::UnknownService)?;
        let mut slots = Vec::new();
        for s in self.stylists_for(service_id, stylist).await? {
            let day = StylistDayId::new(s.id.unwrap_or_default(), date);
            let busy = self
                .load::<StylistDay>(&day.to_string())
                .await?
                .state
                .busy();
            let judge = Judge {
                span: details.span(),
                salon: salon.clone(),
                service: service.clone(),
                stylist: s,
                now,
            };
            slots.extend(availability::slots(
                &judge.rules(),
                judge.span,
                &judge.calendar(&busy),
                date,
                date,
            ));
        }
        slots.sort_by_key(|s| s.start);
        Ok(slots)
    }

    /// Puts a client on `date`'s list, if that day has no free time for what they want.
    pub async fn join_waitlist(
        &self,
        date: NaiveDate,
        service: ServiceId,
        stylist: Option<StylistId>,
        client: Client,
        now: DateTime<Utc>,
        metadata: &EventMetadata,
    ) -> Result<Joined, WaitlistFailure> {
        let salon = self.salon().await?;
        let today = availability::local_date(salon.time_zone, now);
        let last = today + chrono::Duration::days(salon.policy.horizon_days.into());
        if date < today || date > last {
            return Err(WaitlistFailure::OutOfRange);
        }
        let free = self.free_slots_on(service, stylist, date, now).await?;
        if !free.is_empty() {
            return Err(WaitlistFailure::DayHasRoom { slots: free });
        }
        let key = Waitlist::id_for(date);
        let entry = WaitlistEntry {
            id: WaitlistEntryId::new(),
            service,
            stylist,
            client,
            joined_at: now,
        };
        for _ in 0..MAX_ATTEMPTS {
            let list: Loaded<Waitlist> = self.load(&key).await?;
            let join = WaitlistCommand::Join {
                date,
                entry: entry.clone(),
            };
            let decision = match self.decide(&list, &key, join, &()).await {
                Ok(d) => d,
                Err(WaitlistError::AlreadyWaiting { entry: existing }) => {
                    let found = list.state.entry(existing).cloned();
                    let place = list.state.place(existing).unwrap_or(0);
                    return match found {
                        Some(entry) => Ok(Joined {
                            date,
                            entry,
                            place,
                            created: false,
                        }),
                        None => Err(WaitlistFailure::Refused(WaitlistError::NotWaiting)),
                    };
                }
                Err(e) => return Err(WaitlistFailure::Refused(e)),
            };
            match self.commit(&[&decision], metadata).await {
                Ok(_) => {
                    let place = decision.state().place(entry.id).unwrap_or(0);
                    return Ok(Joined {
                        date,
                        entry,
                        place,
                        created: true,
                    });
                }
                Err(PersistenceError::OptimisticLockError) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(WaitlistFailure::Contended)
    }

    /// Takes a client off `date`'s list.
    pub async fn leave_waitlist(
        &self,
        date: NaiveDate,
        entry: WaitlistEntryId,
        metadata: &EventMetadata,
    ) -> Result<(), WaitlistFailure> {
        let key = Waitlist::id_for(date);
        for _ in 0..MAX_ATTEMPTS {
            let list: Loaded<Waitlist> = self.load(&key).await?;
            let decision = self
                .decide(&list, &key, WaitlistCommand::Leave { entry }, &())
                .await
                .map_err(WaitlistFailure::Refused)?;
            match self.commit(&[&decision], metadata).await {
                Ok(_) => return Ok(()),
                Err(PersistenceError::OptimisticLockError) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(WaitlistFailure::Contended)
    }

    /// A day's list as the store holds it now.
    pub async fn waitlist(&self, date: NaiveDate) -> Result<Waitlist, PersistenceError> {
        Ok(self
            .load_fresh::<Waitlist>(&Waitlist::id_for(date))
            .await?
            .state)
    }
}
