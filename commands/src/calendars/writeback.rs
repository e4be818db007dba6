//! Write-back: every confirmed booking of a stylist appears in the stylist's CalDAV calendar
//! (sources with `write_back`), as a VEVENT whose UID is the booking id; it is updated when the
//! booking moves and deleted when it is cancelled. The sync recognises these events by their
//! `X-SALON-BOOKING` property and never counts them as busy time a second time.
//!
//! It reconciles state rather than replaying events: what should be in the calendar (confirmed
//! reservations on the stylist's days, from today to the horizon) against what was written (the
//! `calendar_writeback` table). So it is idempotent, catches up after an outage of the calendar
//! server, and a replay of read models writes nothing again.

use super::caldav::CaldavCalendar;
use super::ical::{calendar, horizon_window, AppointmentEvent};
use super::sync::{CalendarSync, Client, SyncError};
use crate::store::WrittenEvent;
use chrono::{DateTime, Duration, Utc};
use cqrs_es::persist::PersistenceError;
use domain::availability::local_date;
use domain::booking::{Booking, BookingStatus};
use domain::calendar_source::{SourceKind, SourceSettings};
use domain::ids::{CalendarSourceId, SALON_ID};
use domain::salon::Salon;
use domain::service::Service;
use domain::stylist_day::{StylistDay, StylistDayId};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// What one write-back pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct WriteBackReport {
    pub written: usize,
    pub deleted: usize,
    pub unchanged: usize,
    pub errors: Vec<String>,
}

fn store_error(e: sqlx::Error) -> SyncError {
    SyncError::Store(PersistenceError::UnknownError(Box::new(e)))
}

fn fingerprint(e: &AppointmentEvent) -> String {
    let mut h = Sha256::new();
    h.update(format!(
        "{}|{}|{}|{}|{:?}",
        e.start.timestamp(),
        e.end.timestamp(),
        e.summary,
        e.description,
        e.location
    ));
    hex::encode(&h.finalize()[..16])
}

impl CalendarSync {
    /// Write-back for every source that asks for it.
    pub async fn write_back_all(&self, now: DateTime<Utc>) -> Result<(), SyncError> {
        for (id, settings) in self.live_sources().await? {
            if settings.write_back && settings.kind == SourceKind::Caldav {
                let report = self.write_back(id, &settings, now).await?;
                for e in &report.errors {
                    tracing::warn!(source = %id, error = %e, "calendar write-back failed; will retry");
                }
            }
        }
        Ok(())
    }

    /// Write-back for one source now (the sync endpoint and tests).
    pub async fn write_back_now(&self, id: CalendarSourceId) -> Result<WriteBackReport, SyncError> {
        let source = self
            .bus
            .load_fresh::<domain::calendar_source::CalendarSource>(&id.to_string())
            .await?;
        let Some(settings) = source.state.settings.filter(|_| !source.state.removed) else {
            return Err(SyncError::NotFound);
        };
        if !settings.write_back || settings.kind != SourceKind::Caldav {
            return Ok(WriteBackReport::default());
        }
        self.write_back(id, &settings, Utc::now()).await
    }

    /// The confirmed bookings salon should have in the stylist's calendar, by booking id.
    async fn wanted(
        &self,
        settings: &SourceSettings,
        now: DateTime<Utc>,
    ) -> Result<BTreeMap<String, AppointmentEvent>, SyncError> {
        let salon = self.bus.load::<Salon>(SALON_ID).await?.state;
        let window = horizon_window(salon.time_zone, now, salon.policy.horizon_days);
        let mut wanted = BTreeMap::new();
        let mut day = local_date(salon.time_zone, window.start);
        let last = local_date(salon.time_zone, window.end);
        while day < last {
            let key = StylistDayId::new(settings.stylist, day).to_string();
            let loaded = self.bus.load::<StylistDay>(&key).await?;
            for reservation in &loaded.state.reservations {
                let booking_key = reservation.booking.to_string();
                let booking = self.bus.load::<Booking>(&booking_key).await?.state;
                let Some(details) = booking.details.as_ref() else {
                    continue;
                };
                if booking.status != BookingStatus::Confirmed {
                    continue;
                }
                let service = self
                    .bus
                    .load::<Service>(&details.service.to_string())
                    .await?
                    .state
                    .details
                    .map(|d| d.name)
                    .unwrap_or_else(|| "Appointment".into());
                let client = &details.client;
                let mut description = format!(
                    "Client: {}\nPhone: {}\nEmail: {}",
                    client.name.as_str(),
                    client.phone.as_str(),
                    client.email.as_str()
                );
                if let Some(notes) = &details.notes {
                    description.push_str(&format!("\nNotes: {notes}"));
                }
                wanted.insert(
                    booking_key.clone(),
                    AppointmentEvent {
                        booking: booking_key,
                        start: details.start,
                        end: details.end,
                        summary: format!("{service} — {}", client.name.as_str()),
                        description,
                        location: Some(salon.name.clone()),
                        sequence: 0,
                        cancelled: false,
                    },
                );
            }
            day += Duration::days(1);
        }
        Ok(wanted)
    }

    /// One pass for one source: PUT what is new or changed, DELETE what is no longer wanted.
    /// Failures of the calendar server are reported and retried on the next pass.
    pub async fn write_back(
        &self,
        id: CalendarSourceId,
        settings: &SourceSettings,
        now: DateTime<Utc>,
    ) -> Result<WriteBackReport, SyncError> {
        let key = id.to_string();
        let wanted = self.wanted(settings, now).await?;
        let written: BTreeMap<String, WrittenEvent> = self
            .bus
            .store()
            .written_events(&key)
            .await
            .map_err(store_error)?
            .into_iter()
            .map(|w| (w.booking.clone(), w))
            .collect();
        let mut report = WriteBackReport::default();
        let mut todo_put = Vec::new();
        for (booking, event) in &wanted {
            let print = fingerprint(event);
            match written.get(booking) {
                Some(w) if w.fingerprint == print => report.unchanged += 1,
                Some(w) => todo_put.push((event.clone(), print, w.sequence + 1)),
                None => todo_put.push((event.clone(), print, 0)),
            }
        }
        // Bookings written before and no longer wanted: cancelled, moved to another stylist, or
        // no longer confirmed. Past appointments stay in the calendar as history.
        let todo_delete: Vec<&WrittenEvent> = written
            .values()
            .filter(|w| !wanted.contains_key(&w.booking) && w.start_epoch >= now.timestamp())
            .collect();
        if todo_put.is_empty() && todo_delete.is_empty() {
            return Ok(report);
        }
        let mut guard = match self.connection(id, settings).await {
            Ok(guard) => guard,
            Err(e) => {
                report.errors.push(e.message);
                return Ok(report);
            }
        };
        let Some(Client::Caldav(caldav)) = guard.as_mut().map(|c| &mut c.client) else {
            return Ok(report);
        };
        let caldav: &mut CaldavCalendar = caldav;
        for (mut event, print, sequence) in todo_put {
            event.sequence = u32::try_from(sequence).unwrap_or(u32::MAX);
            let ics = calendar(&settings.name, std::slice::from_ref(&event), now);
            match caldav.put_event(&event.booking, &ics).await {
                Ok(href) => {
                    let row = WrittenEvent {
                        booking: event.booking.clone(),
                        href,
                        fingerprint: print,
                        sequence,
                        start_epoch: event.start.timestamp(),
                    };
                    self.bus
                        .store()
                        .record_written(&key, &row, now)
                        .await
                        .map_err(store_error)?;
                    report.written += 1;
                }
                Err(e) => report.errors.push(e.message),
            }
        }
        for w in todo_delete {
            match caldav.delete_event(&w.booking).await {
                Ok(()) => {
                    self.bus
                        .store()
                        .forget_written(&key, &w.booking)
                        .await
                        .map_err(store_error)?;
                    report.deleted += 1;
                }
                Err(e) => report.errors.push(e.message),
            }
        }
        Ok(report)
    }
}
