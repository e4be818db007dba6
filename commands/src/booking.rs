//! The booking path: a client's request becomes a reservation on the stylist's day and a booking,
//! written in one commit.
//!
//! Steps: derive the booking id from the idempotency key; read the salon, service and stylist;
//! load the stylist's day (the consistency boundary); check with the domain's availability rule
//! that the start is a free slot; let the day reserve the blocked time and the booking be placed;
//! append both. Losing a race (another booking appended to the same day first) means deciding
//! again on the fresh day, which then answers "taken" with the nearest free slots.

use crate::bus::{CommandBus, Committed, Loaded};
use chrono::{DateTime, Duration, Utc};
use cqrs_es::persist::PersistenceError;
use domain::availability::{self, local_date, Interval, Rules, Slot, StylistCalendar};
use domain::booking::{Booking, BookingCommand, BookingDetails};
use domain::ids::{BookingId, ServiceId, StylistId, SALON_ID};
use domain::metadata::EventMetadata;
use domain::salon::Salon;
use domain::service::Service;
use domain::stylist::Stylist;
use domain::stylist_day::{StylistDay, StylistDayCommand, StylistDayError, StylistDayId};
use domain::values::Client;
use std::time::Duration as StdDuration;

/// How stale the settings and catalog read for validation may be. Changes by this process are
/// seen at once (they go through the same cache); changes by another server within this window.
pub(crate) const CATALOG_MAX_AGE: StdDuration = StdDuration::from_secs(2);
/// How many losing races a request absorbs before answering "busy". Within one process
/// bookings of one stylist-day are serialised (see `DayLocks`), so races are only lost to other
/// servers; each lost race means another booking landed, so this bounds a very busy day.
pub(crate) const MAX_ATTEMPTS: usize = 32;
/// How many alternatives a "taken" answer lists, and how many days ahead it looks.
const ALTERNATIVES: usize = 5;
const ALTERNATIVE_DAYS: i64 = 7;

/// A client's booking request, parsed.
#[derive(Debug, Clone)]
pub struct PlaceBooking {
    pub service: ServiceId,
    /// Stylists to try in order: one when the client chose, several for "any stylist".
    pub stylists: Vec<StylistId>,
    pub start: DateTime<Utc>,
    pub client: Client,
    pub notes: Option<String>,
    pub idempotency_key: Option<String>,
    /// A digest of the request body, to tell a retry from a reused key.
    pub fingerprint: String,
    /// The salon books it by hand and takes no deposit online: confirmed at once, no hold.
    pub deposit_waived: bool,
}

/// A booking as the store now holds it.
#[derive(Debug, Clone)]
pub struct Placed {
    pub id: BookingId,
    pub booking: Booking,
    /// False when an earlier request with the same idempotency key had already placed it.
    pub created: bool,
    pub committed: Option<Committed>,
}

#[derive(Debug, thiserror::Error)]
pub enum PlaceError {
    #[error("no such service")]
    UnknownService,
    #[error("no such stylist")]
    UnknownStylist,
    #[error("the stylist does not offer this service")]
    NotOffered,
    #[error("that time was just taken")]
    Taken { alternatives: Vec<Slot> },
    #[error("that time is not open for booking")]
    Unavailable { alternatives: Vec<Slot> },
    /// The salon is not open for bookings yet (or paused them): clients cannot book; the owner
    /// and integrators still can.
    #[error("the salon is not taking bookings yet")]
    NotOpen,
    #[error("this idempotency key was already used for a different booking request")]
    KeyReused,
    #[error("too many concurrent bookings for this stylist; try again")]
    Contended,
    #[error("event store: {0}")]
    Store(#[from] PersistenceError),
    #[error("inconsistent booking state: {0}")]
    Inconsistent(String),
}

/// Everything needed to judge one stylist's slots.
pub(crate) struct Judge {
    pub(crate) salon: Salon,
    pub(crate) span: availability::ServiceSpan,
    pub(crate) service: Service,
    pub(crate) stylist: Stylist,
    pub(crate) now: DateTime<Utc>,
}

impl Judge {
    pub(crate) fn rules(&self) -> Rules<'_> {
        Rules {
            time_zone: self.salon.time_zone,
            policy: &self.salon.policy,
            now: self.now,
            opening_hours: &self.salon.opening_hours,
            closures: &self.salon.closures,
        }
    }
    pub(crate) fn calendar<'a>(&'a self, busy: &'a [Interval]) -> StylistCalendar<'a> {
        StylistCalendar {
            stylist: self.stylist.id.unwrap_or_default(),
            hours: &self.stylist.hours,
            time_off: &self.stylist.time_off,
            busy,
        }
    }
}

impl CommandBus {
    /// Places a booking (see the module comment). `now` is the request time.
    pub async fn place_booking(
        &self,
        request: PlaceBooking,
        metadata: &EventMetadata,
        now: DateTime<Utc>,
    ) -> Result<Placed, PlaceError> {
        let id = match &request.idempotency_key {
            Some(key) => BookingId::from_idempotency_key(key),
            None => BookingId::new(),
        };
        let salon = self
            .load_recent::<Salon>(SALON_ID, CATALOG_MAX_AGE)
            .await?
            .state;
        if !salon.open && metadata.actor == "client" {
            return Err(PlaceError::NotOpen);
        }
        let service = self
            .load_recent::<Service>(&request.service.to_string(), CATALOG_MAX_AGE)
            .await?
            .state;
        if service.id.is_none() || service.archived {
            return Err(PlaceError::UnknownService);
        }
        if request.stylists.is_empty() {
            return Err(PlaceError::UnknownStylist);
        }
        let mut last_refusal = None;
        let mut contended = false;
        for stylist_id in &request.stylists {
            let stylist = self
                .load_recent::<Stylist>(&stylist_id.to_string(), CATALOG_MAX_AGE)
                .await?
                .state;
            if stylist.id.is_none() || stylist.archived {
                last_refusal.get_or_insert(PlaceError::UnknownStylist);
                continue;
            }
            if !stylist.offers(request.service) {
                last_refusal.get_or_insert(PlaceError::NotOffered);
                continue;
            }
            let Some(details) = service.details.clone() else {
                return Err(PlaceError::UnknownService);
            };
            let judge = Judge {
                span: details.span(),
                salon: salon.clone(),
                service: service.clone(),
                stylist,
                now,
            };
            match self.place_with(&judge, id, &request, metadata).await {
                Ok(placed) => return Ok(placed),
                Err(PlaceError::Contended) => contended = true,
                Err(e @ (PlaceError::Taken { .. } | PlaceError::Unavailable { .. })) => {
                    // Prefer reporting "taken" (with its alternatives) over "unavailable".
                    if !matches!(last_refusal, Some(PlaceError::Taken { .. })) {
                        last_refusal = Some(e);
                    }
                }
                Err(e) => return Err(e),
            }
        }
        if contended {
            return Err(PlaceError::Contended);
        }
        Err(last_refusal.unwrap_or(PlaceError::UnknownStylist))
    }

    async fn place_with(
        &self,
        judge: &Judge,
        id: BookingId,
        request: &PlaceBooking,
        metadata: &EventMetadata,
    ) -> Result<Placed, PlaceError> {
        let stylist = judge.stylist.id.unwrap_or_default();
        let tz = judge.salon.time_zone;
        let day = StylistDayId::new(stylist, local_date(tz, request.start));
        let day_key = day.to_string();
        // Serialise this process's bookings of one stylist-day: they would otherwise all decide
        // on the same state and all but one lose the append and decide again.
        let _turn = self.day_lock(&day_key).await;
        let Some(details) = judge.service.details.as_ref() else {
            return Err(PlaceError::UnknownService);
        };
        for _ in 0..MAX_ATTEMPTS {
            let loaded_day = self.load::<StylistDay>(&day_key).await?;
            if loaded_day.state.reservation(id).is_some() {
                return self.existing(id, request).await;
            }
            let busy = loaded_day.state.busy();
            let rules = judge.rules();
            if !availability::is_free(&rules, judge.span, &judge.calendar(&busy), request.start) {
                let open_when_empty =
                    availability::is_free(&rules, judge.span, &judge.calendar(&[]), request.start);
                let alternatives = self.alternatives(judge, request.start, &loaded_day).await?;
                return Err(if open_when_empty {
                    PlaceError::Taken { alternatives }
                } else {
                    PlaceError::Unavailable { alternatives }
                });
            }
            let blocked = judge.span.blocked(request.start);
            let reserve = StylistDayCommand::Reserve {
                day,
                booking: id,
                blocked,
            };
            let day_decision = match self.decide(&loaded_day, &day_key, reserve, &()).await {
                Ok(d) => d,
                Err(StylistDayError::AlreadyReserved { .. }) => {
                    return self.existing(id, request).await
                }
                Err(e) => return Err(PlaceError::Inconsistent(e.to_string())),
            };
            let booking_details = BookingDetails {
                service: request.service,
                stylist,
                start: request.start,
                end: judge.span.appointment(request.start).end,
                client: request.client.clone(),
                notes: request.notes.clone(),
                price_cents: details.price_cents,
                deposit_cents: details.deposit_cents,
                // One salon, one currency: prices are read in the salon's.
                currency: judge.salon.currency.clone(),
                idempotency_key: request.idempotency_key.clone(),
                request_fingerprint: Some(request.fingerprint.clone()),
            };
            let hold_expires_at = (self.collects_deposits() && !request.deposit_waived)
                .then(|| judge.now + Duration::minutes(judge.salon.policy.hold_minutes.into()));
            let place = BookingCommand::Place {
                id,
                details: booking_details,
                hold_expires_at,
            };
            let new_booking = Loaded {
                state: Booking::default(),
                version: 0,
            };
            let booking_decision = self
                .decide(&new_booking, &id.to_string(), place, &())
                .await
                .map_err(|e| PlaceError::Inconsistent(e.to_string()))?;
            match self
                .commit(&[&day_decision, &booking_decision], metadata)
                .await
            {
                Ok(committed) => {
                    return Ok(Placed {
                        id,
                        booking: booking_decision.state().clone(),
                        created: true,
                        committed: Some(committed),
                    })
                }
                Err(PersistenceError::OptimisticLockError) => {
                    // Either the day moved on (decide again on the fresh day) or this booking id
                    // exists already (the same key, placed elsewhere): look before retrying.
                    let booking = self.load_fresh::<Booking>(&id.to_string()).await?;
                    if booking.version > 0 {
                        return self.existing(id, request).await;
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(PlaceError::Contended)
    }

    /// The booking an idempotency key already placed, if the request matches it.
    async fn existing(&self, id: BookingId, request: &PlaceBooking) -> Result<Placed, PlaceError> {
        let loaded = self.load_fresh::<Booking>(&id.to_string()).await?;
        let Some(details) = loaded.state.details.as_ref() else {
            return Err(PlaceError::Inconsistent(format!(
                "booking {id} holds time but has no events"
            )));
        };
        if details.request_fingerprint.as_deref() != Some(request.fingerprint.as_str()) {
            return Err(PlaceError::KeyReused);
        }
        Ok(Placed {
            id,
            booking: loaded.state,
            created: false,
            committed: None,
        })
    }

    /// Free slots of the same stylist nearest to `wanted`: that day (from the day just loaded,
    /// the truth) and the following days.
    pub(crate) async fn alternatives(
        &self,
        judge: &Judge,
        wanted: DateTime<Utc>,
        today: &Loaded<StylistDay>,
    ) -> Result<Vec<Slot>, PersistenceError> {
        let tz = judge.salon.time_zone;
        let rules = judge.rules();
        let first = local_date(tz, wanted);
        let stylist = judge.stylist.id.unwrap_or_default();
        let mut found = Vec::new();
        for offset in 0..ALTERNATIVE_DAYS {
            let date = first + Duration::days(offset);
            let busy = if offset == 0 {
                today.state.busy()
            } else {
                self.load::<StylistDay>(&StylistDayId::new(stylist, date).to_string())
                    .await?
                    .state
                    .busy()
            };
            found.extend(availability::slots(
                &rules,
                judge.span,
                &judge.calendar(&busy),
                date,
                date,
            ));
            if found.len() >= ALTERNATIVES * 3 {
                break;
            }
        }
        found.sort_by_key(|s| (s.start.with_timezone(&Utc) - wanted).num_seconds().abs());
        found.truncate(ALTERNATIVES);
        found.sort_by_key(|s| s.start);
        Ok(found)
    }
}
