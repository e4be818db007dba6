//! What happens to a booking after it is placed: payment, expiry, cancellation, reschedule,
//! completion. Each change is one commit: a booking that ends (cancelled, hold expired) gives its
//! time back on the stylist's day in the same commit, and a reschedule reserves the new time and
//! releases the old one together, so the day and the booking never disagree.

use crate::booking::{Judge, CATALOG_MAX_AGE, MAX_ATTEMPTS};
use crate::bus::{CommandBus, Committed, Decision, Loaded};
use chrono::{DateTime, Duration, Utc};
use cqrs_es::persist::PersistenceError;
use domain::availability::{self, local_date, Slot};
use domain::booking::{Booking, BookingCommand, BookingError, BookingStatus, Party, RefundRule};
use domain::ids::{BookingId, SALON_ID};
use domain::metadata::EventMetadata;
use domain::salon::Salon;
use domain::service::Service;
use domain::stylist::Stylist;
use domain::stylist_day::{StylistDay, StylistDayCommand, StylistDayError, StylistDayId};

#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    #[error("no such booking")]
    NotFound,
    #[error(transparent)]
    Refused(BookingError),
    #[error("that time was just taken")]
    Taken { alternatives: Vec<Slot> },
    #[error("that time is not open for booking")]
    Unavailable { alternatives: Vec<Slot> },
    #[error("the service of this booking is no longer offered")]
    ServiceGone,
    #[error("too many concurrent changes to this booking; try again")]
    Contended,
    /// The caller asked for the change only at a version the booking is no longer at.
    #[error("the booking has changed; it is at version {current}")]
    Stale { current: usize },
    #[error("event store: {0}")]
    Store(#[from] PersistenceError),
    #[error("inconsistent booking state: {0}")]
    Inconsistent(String),
}

/// A booking after a change.
#[derive(Debug, Clone)]
pub struct Changed {
    pub booking: Booking,
    /// `None` when the command changed nothing (a repeated payment notice, say).
    pub committed: Option<Committed>,
}

/// What a commit came to: the changed booking, `None` to decide again after losing a race, or
/// the store's error.
fn settle(
    result: Result<Committed, PersistenceError>,
    decision: &Decision<Booking>,
) -> Result<Option<Changed>, ChangeError> {
    match result {
        Ok(committed) => Ok(Some(Changed {
            booking: decision.state().clone(),
            committed: Some(committed),
        })),
        Err(PersistenceError::OptimisticLockError) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

impl CommandBus {
    /// Loads a booking to change: from the cache, or, when the caller names the version it
    /// read (`If-Match`), fresh from the store and only at that version.
    async fn booking_to_change(
        &self,
        key: &str,
        expected: Option<usize>,
    ) -> Result<Loaded<Booking>, ChangeError> {
        match expected {
            None => Ok(self.load::<Booking>(key).await?),
            Some(v) => {
                let loaded = self.load_fresh::<Booking>(key).await?;
                if loaded.version != v && loaded.version != 0 {
                    return Err(ChangeError::Stale {
                        current: loaded.version,
                    });
                }
                Ok(loaded)
            }
        }
    }

    /// After a lost race: decide again, unless the caller asked for one version only (which
    /// the race just moved past).
    async fn retry_or_stale(&self, key: &str, expected: Option<usize>) -> Result<(), ChangeError> {
        match expected {
            None => Ok(()),
            Some(_) => Err(ChangeError::Stale {
                current: self.load_fresh::<Booking>(key).await?.version,
            }),
        }
    }

    /// Applies `command` to booking `id`. A command that ends the booking releases its time.
    pub async fn change_booking(
        &self,
        id: BookingId,
        command: BookingCommand,
        metadata: &EventMetadata,
    ) -> Result<Changed, ChangeError> {
        self.change_booking_at(id, command, metadata, None).await
    }

    /// As [`CommandBus::change_booking`], only on the booking at version `expected` when given.
    pub async fn change_booking_at(
        &self,
        id: BookingId,
        command: BookingCommand,
        metadata: &EventMetadata,
        expected: Option<usize>,
    ) -> Result<Changed, ChangeError> {
        let key = id.to_string();
        for _ in 0..MAX_ATTEMPTS {
            let booking = self.booking_to_change(&key, expected).await?;
            let Some(details) = booking.state.details.clone() else {
                return Err(ChangeError::NotFound);
            };
            let decision = self
                .decide(&booking, &key, command.clone(), &())
                .await
                .map_err(ChangeError::Refused)?;
            if decision.is_empty() {
                return Ok(Changed {
                    booking: booking.state,
                    committed: None,
                });
            }
            let ends = booking.state.status != BookingStatus::Cancelled
                && decision.state().status == BookingStatus::Cancelled;
            let result = if ends {
                let salon = self.salon().await?;
                let day =
                    StylistDayId::new(details.stylist, local_date(salon.time_zone, details.start));
                let day_key = day.to_string();
                let _turn = self.day_lock(&day_key).await;
                let loaded_day = self.load::<StylistDay>(&day_key).await?;
                let release = StylistDayCommand::Release { day, booking: id };
                match self.decide(&loaded_day, &day_key, release, &()).await {
                    Ok(release) => self.commit(&[&decision, &release], metadata).await,
                    // Nothing reserved (never was, or released already): end the booking alone.
                    Err(_) => self.commit(&[&decision], metadata).await,
                }
            } else {
                self.commit(&[&decision], metadata).await
            };
            if let Some(changed) = settle(result, &decision)? {
                return Ok(changed);
            }
            self.retry_or_stale(&key, expected).await?;
        }
        Err(ChangeError::Contended)
    }

    /// Cancels a booking and gives its time back. A client's paid deposit follows the salon's
    /// cancellation window; the owner refunds unless `refund` is `Some(false)`.
    pub async fn cancel_booking(
        &self,
        id: BookingId,
        by: Party,
        refund: Option<bool>,
        now: DateTime<Utc>,
        metadata: &EventMetadata,
    ) -> Result<Changed, ChangeError> {
        self.cancel_booking_at(id, by, refund, now, metadata, None)
            .await
    }

    /// As [`CommandBus::cancel_booking`], only on the booking at version `expected` when given.
    pub async fn cancel_booking_at(
        &self,
        id: BookingId,
        by: Party,
        refund: Option<bool>,
        now: DateTime<Utc>,
        metadata: &EventMetadata,
        expected: Option<usize>,
    ) -> Result<Changed, ChangeError> {
        let rule = match (by, refund) {
            (Party::Client, _) => {
                let salon = self.salon().await?;
                RefundRule::Policy {
                    window: Duration::hours(salon.policy.cancellation_window_hours.into()),
                }
            }
            (_, Some(false)) => RefundRule::Keep,
            (_, _) => RefundRule::Refund,
        };
        self.change_booking_at(
            id,
            BookingCommand::Cancel {
                by,
                refund: rule,
                now,
            },
            metadata,
            expected,
        )
        .await
    }

    /// Moves a booking to `start` with the same stylist: the new time must be a free slot (the
    /// booking's own time does not count against it); it is reserved and the old time released
    /// in one commit.
    pub async fn reschedule_booking(
        &self,
        id: BookingId,
        start: DateTime<Utc>,
        by: Party,
        now: DateTime<Utc>,
        metadata: &EventMetadata,
    ) -> Result<Changed, ChangeError> {
        self.reschedule_booking_at(id, start, by, now, metadata, None)
            .await
    }

    /// As [`CommandBus::reschedule_booking`], only on the booking at version `expected` when
    /// given.
    pub async fn reschedule_booking_at(
        &self,
        id: BookingId,
        start: DateTime<Utc>,
        by: Party,
        now: DateTime<Utc>,
        metadata: &EventMetadata,
        expected: Option<usize>,
    ) -> Result<Changed, ChangeError> {
        let key = id.to_string();
        for _ in 0..MAX_ATTEMPTS {
            let booking = self.booking_to_change(&key, expected).await?;
            let Some(details) = booking.state.details.clone() else {
                return Err(ChangeError::NotFound);
            };
            let salon = self.salon().await?;
            let service = self
                .load_recent::<Service>(&details.service.to_string(), CATALOG_MAX_AGE)
                .await?
                .state;
            let Some(service_details) = service.details.clone() else {
                return Err(ChangeError::ServiceGone);
            };
            let stylist = self
                .load_recent::<Stylist>(&details.stylist.to_string(), CATALOG_MAX_AGE)
                .await?
                .state;
            let tz = salon.time_zone;
            let window = Duration::hours(salon.policy.cancellation_window_hours.into());
            let judge = Judge {
                span: service_details.span(),
                salon,
                service,
                stylist,
                now,
            };
            let end = judge.span.appointment(start).end;
            let move_it = BookingCommand::Reschedule {
                start,
                end,
                by,
                window,
                now,
            };
            // The booking decides first: a refused move (too late, finished) needs no day.
            let decision = self
                .decide(&booking, &key, move_it, &())
                .await
                .map_err(ChangeError::Refused)?;

            let old_day = StylistDayId::new(details.stylist, local_date(tz, details.start));
            let new_day = StylistDayId::new(details.stylist, local_date(tz, start));
            let (old_key, new_key) = (old_day.to_string(), new_day.to_string());
            // Take both days' turns in a fixed order, so two moves between the same days
            // cannot wait on each other.
            let mut keys = [old_key.clone(), new_key.clone()];
            keys.sort();
            let _first = self.day_lock(&keys[0]).await;
            let _second = if keys[0] != keys[1] {
                Some(self.day_lock(&keys[1]).await)
            } else {
                None
            };

            let loaded_new = self.load::<StylistDay>(&new_key).await?;
            let own = loaded_new.state.reservation(id).map(|r| r.blocked);
            let busy: Vec<_> = loaded_new
                .state
                .busy()
                .into_iter()
                .filter(|b| Some(*b) != own)
                .collect();
            let rules = judge.rules();
            if !availability::is_free(&rules, judge.span, &judge.calendar(&busy), start) {
                let open_when_empty =
                    availability::is_free(&rules, judge.span, &judge.calendar(&[]), start);
                let alternatives = self.alternatives(&judge, start, &loaded_new).await?;
                return Err(if open_when_empty {
                    ChangeError::Taken { alternatives }
                } else {
                    ChangeError::Unavailable { alternatives }
                });
            }
            let blocked = judge.span.blocked(start);
            let day_error = |e: StylistDayError| match e {
                StylistDayError::SlotTaken { .. } | StylistDayError::CalendarBusy { .. } => {
                    ChangeError::Taken {
                        alternatives: Vec::new(),
                    }
                }
                other => ChangeError::Inconsistent(other.to_string()),
            };
            let result = if old_key == new_key {
                let moved = StylistDayCommand::Move {
                    day: new_day,
                    booking: id,
                    blocked,
                };
                let moved = self
                    .decide(&loaded_new, &new_key, moved, &())
                    .await
                    .map_err(day_error)?;
                self.commit(&[&decision, &moved], metadata).await
            } else {
                let reserve = StylistDayCommand::Reserve {
                    day: new_day,
                    booking: id,
                    blocked,
                };
                let reserved = self
                    .decide(&loaded_new, &new_key, reserve, &())
                    .await
                    .map_err(day_error)?;
                let loaded_old = self.load::<StylistDay>(&old_key).await?;
                let release = StylistDayCommand::Release {
                    day: old_day,
                    booking: id,
                };
                let released: Option<Decision<StylistDay>> =
                    self.decide(&loaded_old, &old_key, release, &()).await.ok();
                match &released {
                    Some(r) => self.commit(&[&decision, &reserved, r], metadata).await,
                    None => self.commit(&[&decision, &reserved], metadata).await,
                }
            };
            if let Some(changed) = settle(result, &decision)? {
                return Ok(changed);
            }
            self.retry_or_stale(&key, expected).await?;
        }
        Err(ChangeError::Contended)
    }

    /// The salon's settings, as recent as validation needs.
    pub async fn salon(&self) -> Result<Salon, PersistenceError> {
        Ok(self
            .load_recent::<Salon>(SALON_ID, CATALOG_MAX_AGE)
            .await?
            .state)
    }

    /// A booking as the store holds it now (`None` when there is no such booking).
    pub async fn booking(
        &self,
        id: BookingId,
    ) -> Result<Option<Loaded<Booking>>, PersistenceError> {
        let loaded = self.load_fresh::<Booking>(&id.to_string()).await?;
        Ok((loaded.version > 0).then_some(loaded))
    }
}
