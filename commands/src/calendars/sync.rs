//! The sync job: for each calendar source, on its schedule and on demand, read the busy time of
//! the booking horizon and, when it changed, record it on the source and on every stylist-day it
//! touches, in one commit. A failing source keeps its last good busy time (the days are not
//! touched) and the failure is recorded; a slot is never offered over busy time a good sync knew.

use super::caldav::CaldavCalendar;
use super::google::{GoogleCalendar, GoogleConfig};
use super::ical::horizon_window;
use super::{Sealer, SourceError};
use crate::bus::{CommandBus, Pending};
use chrono::{DateTime, Duration as ChronoDuration, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;
use cqrs_es::persist::PersistenceError;
use domain::availability::{local_date, local_to_utc, Interval};
use domain::calendar_source::{
    normalize_busy, CalendarSource, CalendarSourceCommand, CalendarSourceEvent, SourceKind,
    SourceSettings,
};
use domain::ids::{CalendarSourceId, SALON_ID};
use domain::metadata::{EventMetadata, Source};
use domain::salon::Salon;
use domain::stylist_day::{StylistDay, StylistDayCommand, StylistDayId};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// How the job runs (from the environment, see the README).
#[derive(Debug, Clone)]
pub struct CalendarSettings {
    /// `SALON_SECRET_KEY`: without it, sources with credentials cannot be added.
    pub sealer: Option<Sealer>,
    pub google: GoogleConfig,
    /// A source's read is abandoned (and counted as a failure) after this long.
    pub timeout: Duration,
    /// How often the scheduler looks for sources that are due.
    pub tick: Duration,
}

impl Default for CalendarSettings {
    fn default() -> Self {
        Self {
            sealer: None,
            google: GoogleConfig::default(),
            timeout: Duration::from_secs(30),
            tick: Duration::from_secs(15),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("no such calendar source")]
    NotFound,
    #[error("event store: {0}")]
    Store(#[from] PersistenceError),
    #[error("too many concurrent changes; try again")]
    Contended,
}

/// What one sync did.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct SyncReport {
    #[schema(format = Uuid)]
    pub source: String,
    /// `true` when the busy set changed and was recorded.
    pub changed: bool,
    pub busy_blocks: usize,
    pub window_start: DateTime<Utc>,
    pub window_end: DateTime<Utc>,
    /// Stylist-days whose busy time changed.
    pub days_changed: usize,
    /// Set when the source could not be read; the last good busy time stays in force.
    pub error: Option<String>,
}

pub(super) enum Client {
    Caldav(Box<CaldavCalendar>),
    Google(Box<GoogleCalendar>),
}

pub(super) struct Connection {
    settings: SourceSettings,
    pub(super) client: Client,
}

type Slot = Arc<Mutex<Option<Connection>>>;

pub struct CalendarSync {
    pub(super) bus: CommandBus,
    settings: CalendarSettings,
    connections: Mutex<HashMap<CalendarSourceId, Slot>>,
    last_attempt: std::sync::Mutex<HashMap<CalendarSourceId, Instant>>,
}

fn fingerprint(busy: &[Interval]) -> String {
    let mut h = Sha256::new();
    for b in busy {
        h.update(format!("{}-{};", b.start.timestamp(), b.end.timestamp()));
    }
    hex::encode(&h.finalize()[..16])
}

/// Splits busy time into the local days it touches, clipped to each day.
fn by_day(tz: Tz, busy: &[Interval]) -> BTreeMap<NaiveDate, Vec<Interval>> {
    let mut out: BTreeMap<NaiveDate, Vec<Interval>> = BTreeMap::new();
    for b in busy {
        let mut day = local_date(tz, b.start);
        let last = local_date(tz, b.end - ChronoDuration::seconds(1));
        while day <= last {
            let day_start = local_to_utc(tz, day.and_time(NaiveTime::MIN));
            let next = day + ChronoDuration::days(1);
            let day_end = local_to_utc(tz, next.and_time(NaiveTime::MIN));
            let clipped = Interval::new(b.start.max(day_start), b.end.min(day_end));
            if clipped.start < clipped.end {
                out.entry(day).or_default().push(clipped);
            }
            day = next;
        }
    }
    out
}

impl CalendarSync {
    pub fn new(bus: CommandBus, settings: CalendarSettings) -> Self {
        Self {
            bus,
            settings,
            connections: Mutex::new(HashMap::new()),
            last_attempt: std::sync::Mutex::new(HashMap::new()),
        }
    }

    pub fn settings(&self) -> &CalendarSettings {
        &self.settings
    }

    fn metadata(id: CalendarSourceId) -> EventMetadata {
        EventMetadata::new(format!("calendar:{id}"), Source::Job)
    }

    fn connect(&self, settings: &SourceSettings) -> Result<Client, SourceError> {
        let secret = match &settings.sealed_credentials {
            Some(sealed) => {
                let sealer = self.settings.sealer.as_ref().ok_or_else(|| {
                    SourceError::config(
                        "SALON_SECRET_KEY is not set, so the stored credentials cannot be read",
                    )
                })?;
                Some(
                    sealer
                        .open(sealed)
                        .map_err(|e| SourceError::config(e.to_string()))?,
                )
            }
            None => None,
        };
        match settings.kind {
            SourceKind::Caldav => Ok(Client::Caldav(Box::new(CaldavCalendar::new(
                settings.url.as_deref().unwrap_or_default(),
                settings.username.as_deref(),
                secret.as_deref(),
            )?))),
            SourceKind::Google => Ok(Client::Google(Box::new(GoogleCalendar::new(
                self.settings.google.clone(),
                settings.calendar_id.as_deref().unwrap_or_default(),
                secret.as_deref().unwrap_or_default(),
                self.settings.timeout,
            )?))),
        }
    }

    /// The source's connection (one at a time: a sync and a write-back never overlap), made
    /// anew when its settings changed.
    pub(super) async fn connection(
        &self,
        id: CalendarSourceId,
        settings: &SourceSettings,
    ) -> Result<tokio::sync::OwnedMutexGuard<Option<Connection>>, SourceError> {
        let slot = {
            let mut connections = self.connections.lock().await;
            connections.entry(id).or_default().clone()
        };
        let mut guard = slot.lock_owned().await;
        if guard.as_ref().map(|c| &c.settings) != Some(settings) {
            *guard = Some(Connection {
                settings: settings.clone(),
                client: self.connect(settings)?,
            });
        }
        Ok(guard)
    }

    async fn read(
        &self,
        id: CalendarSourceId,
        settings: &SourceSettings,
        tz: Tz,
        window: Interval,
    ) -> Result<Vec<Interval>, SourceError> {
        let mut guard = self.connection(id, settings).await?;
        let Some(connection) = guard.as_mut() else {
            return Err(SourceError::config("no connection"));
        };
        let read = async {
            match &mut connection.client {
                Client::Caldav(c) => c.read(tz, window).await.map(|r| r.busy),
                Client::Google(g) => g.read(window).await,
            }
        };
        match tokio::time::timeout(self.settings.timeout, read).await {
            Ok(result) => result,
            Err(_) => Err(SourceError::transient(format!(
                "no answer within {} s",
                self.settings.timeout.as_secs()
            ))),
        }
    }

    /// Syncs one source now.
    pub async fn sync(&self, id: CalendarSourceId) -> Result<SyncReport, SyncError> {
        self.sync_at(id, Utc::now()).await
    }

    /// Syncs one source as of `now` (tests pass a fixed time).
    pub async fn sync_at(
        &self,
        id: CalendarSourceId,
        now: DateTime<Utc>,
    ) -> Result<SyncReport, SyncError> {
        let key = id.to_string();
        if let Ok(mut last) = self.last_attempt.lock() {
            last.insert(id, Instant::now());
        }
        let source = self.bus.load_fresh::<CalendarSource>(&key).await?;
        let Some(settings) = source
            .state
            .settings
            .clone()
            .filter(|_| !source.state.removed)
        else {
            return Err(SyncError::NotFound);
        };
        let salon = self.bus.load_fresh::<Salon>(SALON_ID).await?.state;
        let tz = salon.time_zone;
        let window = horizon_window(tz, now, salon.policy.horizon_days);
        let mut report = SyncReport {
            source: key.clone(),
            changed: false,
            busy_blocks: 0,
            window_start: window.start,
            window_end: window.end,
            days_changed: 0,
            error: None,
        };
        let busy = match self.read(id, &settings, tz, window).await {
            Ok(busy) => busy,
            Err(e) => {
                tracing::warn!(source = %key, error = %e.message, "calendar sync failed; keeping the last good busy time");
                let command = CalendarSourceCommand::RecordFailure {
                    error: e.message.clone(),
                    at: now,
                };
                // A failure to record the failure is only logged: the busy time is unchanged.
                if let Err(err) = self
                    .bus
                    .execute::<CalendarSource>(&key, command, &Self::metadata(id))
                    .await
                {
                    tracing::warn!(source = %key, error = %err, "could not record the sync failure");
                }
                self.status(&key, now, Some(&e.message)).await;
                report.error = Some(e.message);
                return Ok(report);
            }
        };
        let busy = normalize_busy(
            busy.into_iter()
                .filter_map(|b| {
                    let clipped = Interval::new(b.start.max(window.start), b.end.min(window.end));
                    (clipped.start < clipped.end).then_some(clipped)
                })
                .collect(),
        );
        report.busy_blocks = busy.len();
        let print = fingerprint(&busy);
        for _ in 0..8 {
            match self
                .commit_sync(id, &settings, tz, window, &busy, &print, now)
                .await
            {
                Ok((changed, days)) => {
                    report.changed = changed;
                    report.days_changed = days;
                    self.status(&key, now, None).await;
                    return Ok(report);
                }
                Err(SyncError::Store(PersistenceError::OptimisticLockError)) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(SyncError::Contended)
    }

    #[allow(clippy::too_many_arguments)]
    async fn commit_sync(
        &self,
        id: CalendarSourceId,
        settings: &SourceSettings,
        tz: Tz,
        window: Interval,
        busy: &[Interval],
        print: &str,
        now: DateTime<Utc>,
    ) -> Result<(bool, usize), SyncError> {
        let key = id.to_string();
        let source = self.bus.load::<CalendarSource>(&key).await?;
        let decision = self
            .bus
            .decide(
                &source,
                &key,
                CalendarSourceCommand::RecordSync {
                    window,
                    busy: busy.to_vec(),
                    fingerprint: print.to_string(),
                    at: now,
                },
                &(),
            )
            .await
            .map_err(|_| SyncError::NotFound)?;
        // The days to touch: those the old or the new busy time covers, from today on (the
        // past is history and stays as it was).
        let today = local_date(tz, window.start);
        let new_days = by_day(tz, busy);
        let old_days = by_day(tz, &source.state.busy);
        let mut days: Vec<NaiveDate> = new_days
            .keys()
            .chain(old_days.keys())
            .copied()
            .filter(|d| *d >= today)
            .collect();
        days.sort();
        days.dedup();
        let day_decisions = self
            .day_decisions(id, settings.stylist, days, &new_days)
            .await?;
        let changed = decision
            .events()
            .iter()
            .any(|e| matches!(e, CalendarSourceEvent::ExternalBusySynced { .. }));
        let days_changed = day_decisions.len();
        let mut pending: Vec<&dyn Pending> = vec![&decision];
        pending.extend(day_decisions.iter().map(|d| d as &dyn Pending));
        self.bus.commit(&pending, &Self::metadata(id)).await?;
        Ok((changed, days_changed))
    }

    /// Decisions setting `source`'s busy time on each of `days` of `stylist` to what `busy`
    /// holds for it (nothing when absent); days where nothing changes are left out.
    async fn day_decisions(
        &self,
        source: CalendarSourceId,
        stylist: domain::ids::StylistId,
        days: impl IntoIterator<Item = NaiveDate>,
        busy: &BTreeMap<NaiveDate, Vec<Interval>>,
    ) -> Result<Vec<crate::bus::Decision<StylistDay>>, SyncError> {
        let mut out = Vec::new();
        for date in days {
            let day = StylistDayId::new(stylist, date);
            let day_key = day.to_string();
            let loaded = self.bus.load::<StylistDay>(&day_key).await?;
            let command = StylistDayCommand::SetExternalBusy {
                day,
                source,
                busy: busy.get(&date).cloned().unwrap_or_default(),
            };
            if let Ok(d) = self.bus.decide(&loaded, &day_key, command, &()).await {
                if !d.is_empty() {
                    out.push(d);
                }
            }
        }
        Ok(out)
    }

    async fn status(&self, key: &str, at: DateTime<Utc>, error: Option<&str>) {
        if let Err(e) = self.bus.store().record_sync_status(key, at, error).await {
            tracing::warn!(source = %key, error = %e, "could not record the sync status");
        }
    }

    /// Removes a source: its busy time leaves every stylist-day in the same commit.
    pub async fn remove(
        &self,
        id: CalendarSourceId,
        metadata: &EventMetadata,
    ) -> Result<(), SyncError> {
        let key = id.to_string();
        for _ in 0..8 {
            let source = self.bus.load::<CalendarSource>(&key).await?;
            let Some(settings) = source
                .state
                .settings
                .clone()
                .filter(|_| !source.state.removed)
            else {
                return Err(SyncError::NotFound);
            };
            let decision = self
                .bus
                .decide(&source, &key, CalendarSourceCommand::Remove, &())
                .await
                .map_err(|_| SyncError::NotFound)?;
            let salon = self.bus.load_fresh::<Salon>(SALON_ID).await?.state;
            let days = by_day(salon.time_zone, &source.state.busy).into_keys();
            let day_decisions = self
                .day_decisions(id, settings.stylist, days, &BTreeMap::new())
                .await?;
            let mut pending: Vec<&dyn Pending> = vec![&decision];
            pending.extend(day_decisions.iter().map(|d| d as &dyn Pending));
            match self.bus.commit(&pending, metadata).await {
                Ok(_) => {
                    self.connections.lock().await.remove(&id);
                    return Ok(());
                }
                Err(PersistenceError::OptimisticLockError) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(SyncError::Contended)
    }

    /// Every source not removed, with its settings.
    pub(super) async fn live_sources(
        &self,
    ) -> Result<Vec<(CalendarSourceId, SourceSettings)>, SyncError> {
        let ids = self
            .bus
            .store()
            .aggregate_ids("CalendarSource")
            .await
            .map_err(|e| SyncError::Store(PersistenceError::UnknownError(Box::new(e))))?;
        let mut out = Vec::new();
        for raw in ids {
            let Ok(id) = CalendarSourceId::parse(&raw) else {
                continue;
            };
            let source = self.bus.load::<CalendarSource>(&raw).await?;
            if let Some(settings) = source.state.settings.filter(|_| !source.state.removed) {
                out.push((id, settings));
            }
        }
        Ok(out)
    }

    /// Sources that are due: never tried by this process, or tried `sync_minutes` ago.
    async fn due(&self) -> Result<Vec<CalendarSourceId>, SyncError> {
        let mut due = Vec::new();
        for (id, settings) in self.live_sources().await? {
            let period = Duration::from_secs(u64::from(settings.sync_minutes) * 60);
            let last = self
                .last_attempt
                .lock()
                .ok()
                .and_then(|m| m.get(&id).copied());
            if last.is_none_or(|t| t.elapsed() >= period) {
                due.push(id);
            }
        }
        Ok(due)
    }

    /// Runs the schedule until `shutdown` turns true.
    pub async fn run(self: Arc<Self>, mut shutdown: tokio::sync::watch::Receiver<bool>) {
        loop {
            match self.due().await {
                Ok(due) => {
                    for id in due {
                        if *shutdown.borrow() {
                            return;
                        }
                        if let Err(e) = self.sync(id).await {
                            tracing::warn!(source = %id, error = %e, "calendar sync could not run");
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "calendar sources could not be listed"),
            }
            if let Err(e) = self.write_back_all(Utc::now()).await {
                tracing::warn!(error = %e, "calendar write-back could not run");
            }
            tokio::select! {
                _ = tokio::time::sleep(self.settings.tick) => {}
                _ = shutdown.changed() => return,
            }
            if *shutdown.borrow() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use chrono_tz::America::New_York;

    #[test]
    fn busy_time_is_split_at_local_midnight() {
        let start = New_York
            .with_ymd_and_hms(2027, 3, 13, 22, 0, 0)
            .unwrap()
            .with_timezone(&Utc);
        let end = New_York
            .with_ymd_and_hms(2027, 3, 15, 2, 0, 0)
            .unwrap()
            .with_timezone(&Utc);
        let days = by_day(New_York, &[Interval::new(start, end)]);
        let dates: Vec<String> = days.keys().map(|d| d.to_string()).collect();
        assert_eq!(dates, ["2027-03-13", "2027-03-14", "2027-03-15"]);
        // 2027-03-14 is the DST day: 23 hours long.
        let dst = &days[&NaiveDate::from_ymd_opt(2027, 3, 14).unwrap()][0];
        assert_eq!(dst.end - dst.start, ChronoDuration::hours(23));
        assert_eq!(fingerprint(&[]), fingerprint(&[]));
        assert_ne!(fingerprint(&[Interval::new(start, end)]), fingerprint(&[]));
    }
}
