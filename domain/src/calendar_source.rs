//! `CalendarSource`: one external calendar (Apple iCloud or any CalDAV server, or a Google
//! calendar) whose busy time keeps a stylist from being booked. The aggregate holds what the
//! last good sync knew; a failing sync never erases it, it only marks the source as failing.
//!
//! Credentials arrive here already sealed (encrypted by the write side with a key from the
//! environment): the domain stores and hands back an opaque string and never sees a password.

use crate::availability::Interval;
use crate::ids::{CalendarSourceId, StylistId};
use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    Caldav,
    Google,
}

impl SourceKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            SourceKind::Caldav => "caldav",
            SourceKind::Google => "google",
        }
    }
}

/// Everything the owner configures about a source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceSettings {
    pub kind: SourceKind,
    pub stylist: StylistId,
    pub name: String,
    /// CalDAV: a principal, calendar-home or calendar collection URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Google: the calendar id (often the owner's address).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calendar_id: Option<String>,
    /// The password (CalDAV) or the OAuth2 credentials (Google), sealed by the write side.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed_credentials: Option<String>,
    /// How often the scheduled sync runs.
    pub sync_minutes: u32,
    /// Confirmed bookings are written into this calendar (CalDAV only).
    #[serde(default)]
    pub write_back: bool,
}

pub const MIN_SYNC_MINUTES: u32 = 1;
pub const MAX_SYNC_MINUTES: u32 = 24 * 60;
pub const DEFAULT_SYNC_MINUTES: u32 = 5;

impl SourceSettings {
    /// Field-level problems, empty when the settings are usable.
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > 120 {
            out.push(("name", "must be 1 to 120 characters".to_string()));
        }
        if !(MIN_SYNC_MINUTES..=MAX_SYNC_MINUTES).contains(&self.sync_minutes) {
            out.push((
                "sync_minutes",
                format!("must be between {MIN_SYNC_MINUTES} and {MAX_SYNC_MINUTES}"),
            ));
        }
        match self.kind {
            SourceKind::Caldav => match self.url.as_deref().map(str::trim) {
                Some(u) if u.starts_with("https://") || u.starts_with("http://") => {
                    if u.len() > 2000 {
                        out.push(("url", "is too long".to_string()));
                    }
                }
                Some(_) => out.push(("url", "must be an http(s) URL".to_string())),
                None => out.push(("url", "is required for a CalDAV source".to_string())),
            },
            SourceKind::Google => {
                match self.calendar_id.as_deref().map(str::trim) {
                    Some(c) if !c.is_empty() && c.len() <= 500 => {}
                    _ => out.push((
                        "calendar_id",
                        "is required for a Google source (1 to 500 characters)".to_string(),
                    )),
                }
                if self.sealed_credentials.is_none() {
                    out.push((
                        "credentials",
                        "are required for a Google source (service account key or refresh token)"
                            .to_string(),
                    ));
                }
                if self.write_back {
                    out.push((
                        "write_back",
                        "is only available for CalDAV sources".to_string(),
                    ));
                }
            }
        }
        out
    }
}

/// Sorts busy intervals and merges the ones that overlap or touch; empty ones are dropped.
pub fn normalize_busy(mut busy: Vec<Interval>) -> Vec<Interval> {
    busy.retain(|i| i.start < i.end);
    busy.sort_by_key(|i| (i.start, i.end));
    let mut out: Vec<Interval> = Vec::with_capacity(busy.len());
    for i in busy {
        match out.last_mut() {
            Some(last) if i.start <= last.end => {
                if i.end > last.end {
                    last.end = i.end;
                }
            }
            _ => out.push(i),
        }
    }
    out
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CalendarSource {
    pub id: Option<CalendarSourceId>,
    pub settings: Option<SourceSettings>,
    pub removed: bool,
    /// The busy time the last good sync knew, normalised.
    pub busy: Vec<Interval>,
    pub window: Option<Interval>,
    pub fingerprint: Option<String>,
    pub last_changed_at: Option<DateTime<Utc>>,
    /// The error of the current run of failures, if the source is failing.
    pub failing: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum CalendarSourceCommand {
    Register {
        id: CalendarSourceId,
        settings: SourceSettings,
    },
    Update {
        settings: SourceSettings,
    },
    Remove,
    /// A sync succeeded and found `busy` within `window`.
    RecordSync {
        window: Interval,
        busy: Vec<Interval>,
        fingerprint: String,
        at: DateTime<Utc>,
    },
    /// A sync failed; the last good busy set stays in force.
    RecordFailure {
        error: String,
        at: DateTime<Utc>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CalendarSourceEvent {
    CalendarSourceRegistered {
        id: CalendarSourceId,
        settings: SourceSettings,
    },
    CalendarSourceUpdated {
        settings: SourceSettings,
    },
    CalendarSourceRemoved {
        stylist: StylistId,
    },
    /// The busy set changed (only then is this appended).
    ExternalBusySynced {
        stylist: StylistId,
        window: Interval,
        busy: Vec<Interval>,
        fingerprint: String,
        synced_at: DateTime<Utc>,
    },
    /// A sync succeeded again after failures, and the busy set had not changed.
    CalendarSyncRecovered {
        at: DateTime<Utc>,
    },
    /// A sync failed (appended when a run of failures starts or its error changes).
    CalendarSyncFailed {
        error: String,
        failed_at: DateTime<Utc>,
    },
}

impl DomainEvent for CalendarSourceEvent {
    fn event_type(&self) -> String {
        match self {
            Self::CalendarSourceRegistered { .. } => "CalendarSourceRegistered",
            Self::CalendarSourceUpdated { .. } => "CalendarSourceUpdated",
            Self::CalendarSourceRemoved { .. } => "CalendarSourceRemoved",
            Self::ExternalBusySynced { .. } => "ExternalBusySynced",
            Self::CalendarSyncRecovered { .. } => "CalendarSyncRecovered",
            Self::CalendarSyncFailed { .. } => "CalendarSyncFailed",
        }
        .into()
    }
    fn event_version(&self) -> String {
        "1".into()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarSourceError {
    #[error("the calendar source already exists")]
    AlreadyRegistered,
    #[error("no such calendar source")]
    NotRegistered,
    #[error("the calendar source was removed")]
    Removed,
    #[error("invalid calendar source: {}", .0.iter().map(|(f, m)| format!("{f} {m}")).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<(&'static str, String)>),
    #[error("the stylist of a calendar source cannot change; remove it and add a new one")]
    StylistChanged,
    #[error("a sync window must end after it starts")]
    EmptyWindow,
}

impl CalendarSource {
    pub fn stylist(&self) -> Option<StylistId> {
        self.settings.as_ref().map(|s| s.stylist)
    }
    fn live(&self) -> Result<&SourceSettings, CalendarSourceError> {
        if self.removed {
            return Err(CalendarSourceError::Removed);
        }
        self.settings
            .as_ref()
            .ok_or(CalendarSourceError::NotRegistered)
    }
}

/// Error texts are stored in the log and shown to the owner: keep them short and one line.
fn clean_error(error: &str) -> String {
    let one_line: String = error
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let trimmed = one_line.trim();
    if trimmed.chars().count() > 500 {
        trimmed.chars().take(500).collect::<String>() + "…"
    } else {
        trimmed.to_string()
    }
}

impl Aggregate for CalendarSource {
    const TYPE: &'static str = "CalendarSource";
    type Command = CalendarSourceCommand;
    type Event = CalendarSourceEvent;
    type Error = CalendarSourceError;
    type Services = ();

    async fn handle(
        &mut self,
        command: CalendarSourceCommand,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), CalendarSourceError> {
        match command {
            CalendarSourceCommand::Register { id, mut settings } => {
                if self.settings.is_some() {
                    return Err(CalendarSourceError::AlreadyRegistered);
                }
                settings.name = settings.name.trim().to_string();
                let problems = settings.problems();
                if !problems.is_empty() {
                    return Err(CalendarSourceError::Invalid(problems));
                }
                let event = CalendarSourceEvent::CalendarSourceRegistered { id, settings };
                sink.write(event, self).await;
            }
            CalendarSourceCommand::Update { mut settings } => {
                let current = self.live()?;
                if current.stylist != settings.stylist || current.kind != settings.kind {
                    return Err(CalendarSourceError::StylistChanged);
                }
                settings.name = settings.name.trim().to_string();
                let problems = settings.problems();
                if !problems.is_empty() {
                    return Err(CalendarSourceError::Invalid(problems));
                }
                if &settings != current {
                    let event = CalendarSourceEvent::CalendarSourceUpdated { settings };
                    sink.write(event, self).await;
                }
            }
            CalendarSourceCommand::Remove => {
                let stylist = self.live()?.stylist;
                let event = CalendarSourceEvent::CalendarSourceRemoved { stylist };
                sink.write(event, self).await;
            }
            CalendarSourceCommand::RecordSync {
                window,
                busy,
                fingerprint,
                at,
            } => {
                let stylist = self.live()?.stylist;
                if window.start >= window.end {
                    return Err(CalendarSourceError::EmptyWindow);
                }
                let busy = normalize_busy(busy);
                if self.fingerprint.as_deref() != Some(fingerprint.as_str()) || self.busy != busy {
                    let event = CalendarSourceEvent::ExternalBusySynced {
                        stylist,
                        window,
                        busy,
                        fingerprint,
                        synced_at: at,
                    };
                    sink.write(event, self).await;
                } else if self.failing.is_some() {
                    let event = CalendarSourceEvent::CalendarSyncRecovered { at };
                    sink.write(event, self).await;
                }
            }
            CalendarSourceCommand::RecordFailure { error, at } => {
                self.live()?;
                let error = clean_error(&error);
                if self.failing.as_deref() != Some(error.as_str()) {
                    let event = CalendarSourceEvent::CalendarSyncFailed {
                        error,
                        failed_at: at,
                    };
                    sink.write(event, self).await;
                }
            }
        }
        Ok(())
    }

    fn apply(&mut self, event: CalendarSourceEvent) {
        match event {
            CalendarSourceEvent::CalendarSourceRegistered { id, settings } => {
                self.id = Some(id);
                self.settings = Some(settings);
            }
            CalendarSourceEvent::CalendarSourceUpdated { settings } => {
                self.settings = Some(settings);
            }
            CalendarSourceEvent::CalendarSourceRemoved { .. } => {
                self.removed = true;
                self.busy.clear();
                self.fingerprint = None;
            }
            CalendarSourceEvent::ExternalBusySynced {
                window,
                busy,
                fingerprint,
                synced_at,
                ..
            } => {
                self.window = Some(window);
                self.busy = busy;
                self.fingerprint = Some(fingerprint);
                self.last_changed_at = Some(synced_at);
                self.failing = None;
            }
            CalendarSourceEvent::CalendarSyncRecovered { .. } => {
                self.failing = None;
            }
            CalendarSourceEvent::CalendarSyncFailed { error, .. } => {
                self.failing = Some(error);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use cqrs_es::test::TestFramework;
    use uuid::Uuid;

    type SourceTest = TestFramework<CalendarSource>;

    fn id() -> CalendarSourceId {
        CalendarSourceId::from_uuid(Uuid::from_u128(7))
    }
    fn stylist() -> StylistId {
        StylistId::from_uuid(Uuid::from_u128(1))
    }
    fn at(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2027, 3, 2, h, 0, 0).unwrap()
    }
    fn iv(a: u32, b: u32) -> Interval {
        Interval::new(at(a), at(b))
    }
    fn caldav() -> SourceSettings {
        SourceSettings {
            kind: SourceKind::Caldav,
            stylist: stylist(),
            name: "iCloud".into(),
            url: Some("https://caldav.icloud.com/".into()),
            username: Some("owner@example.com".into()),
            calendar_id: None,
            sealed_credentials: Some("v1:sealed".into()),
            sync_minutes: 5,
            write_back: true,
        }
    }
    fn registered() -> CalendarSourceEvent {
        CalendarSourceEvent::CalendarSourceRegistered {
            id: id(),
            settings: caldav(),
        }
    }
    fn synced(busy: Vec<Interval>, fp: &str) -> CalendarSourceEvent {
        CalendarSourceEvent::ExternalBusySynced {
            stylist: stylist(),
            window: iv(0, 23),
            busy,
            fingerprint: fp.into(),
            synced_at: at(1),
        }
    }
    fn sync(busy: Vec<Interval>, fp: &str) -> CalendarSourceCommand {
        CalendarSourceCommand::RecordSync {
            window: iv(0, 23),
            busy,
            fingerprint: fp.into(),
            at: at(1),
        }
    }

    #[test]
    fn registers_a_caldav_source() {
        SourceTest::with(())
            .given_no_previous_events()
            .when(CalendarSourceCommand::Register {
                id: id(),
                settings: caldav(),
            })
            .then_expect_events(vec![registered()]);
    }

    #[test]
    fn refuses_a_caldav_source_without_a_url_and_a_google_source_without_credentials() {
        let mut bad = caldav();
        bad.url = Some("ftp://x".into());
        SourceTest::with(())
            .given_no_previous_events()
            .when(CalendarSourceCommand::Register {
                id: id(),
                settings: bad,
            })
            .then_expect_error(CalendarSourceError::Invalid(vec![(
                "url",
                "must be an http(s) URL".into(),
            )]));
        let google = SourceSettings {
            kind: SourceKind::Google,
            url: None,
            username: None,
            calendar_id: Some("owner@gmail.com".into()),
            sealed_credentials: None,
            write_back: false,
            ..caldav()
        };
        let result = SourceTest::with(())
            .given_no_previous_events()
            .when(CalendarSourceCommand::Register {
                id: id(),
                settings: google,
            })
            .inspect_result();
        assert!(matches!(result, Err(CalendarSourceError::Invalid(p)) if p[0].0 == "credentials"));
    }

    #[test]
    fn a_changed_busy_set_is_recorded_merged_and_sorted() {
        SourceTest::with(())
            .given(vec![registered()])
            .when(sync(vec![iv(10, 11), iv(9, 10), iv(14, 15)], "a"))
            .then_expect_events(vec![synced(vec![iv(9, 11), iv(14, 15)], "a")]);
    }

    #[test]
    fn an_unchanged_busy_set_appends_nothing() {
        SourceTest::with(())
            .given(vec![registered(), synced(vec![iv(9, 11)], "a")])
            .when(sync(vec![iv(9, 11)], "a"))
            .then_expect_events(vec![]);
    }

    #[test]
    fn a_failure_keeps_the_busy_set_and_is_recorded_once_per_error() {
        let failed = CalendarSourceEvent::CalendarSyncFailed {
            error: "timed out".into(),
            failed_at: at(2),
        };
        SourceTest::with(())
            .given(vec![registered(), synced(vec![iv(9, 11)], "a")])
            .when(CalendarSourceCommand::RecordFailure {
                error: "timed out\n".into(),
                at: at(2),
            })
            .then_expect_events(vec![failed.clone()]);
        SourceTest::with(())
            .given(vec![
                registered(),
                synced(vec![iv(9, 11)], "a"),
                failed.clone(),
            ])
            .when(CalendarSourceCommand::RecordFailure {
                error: "timed out".into(),
                at: at(3),
            })
            .then_expect_events(vec![]);
        let mut state = CalendarSource::default();
        for e in [registered(), synced(vec![iv(9, 11)], "a"), failed] {
            state.apply(e);
        }
        assert_eq!(state.busy, vec![iv(9, 11)]);
        assert_eq!(state.failing.as_deref(), Some("timed out"));
    }

    #[test]
    fn a_success_after_failures_with_the_same_set_records_recovery() {
        SourceTest::with(())
            .given(vec![
                registered(),
                synced(vec![iv(9, 11)], "a"),
                CalendarSourceEvent::CalendarSyncFailed {
                    error: "500".into(),
                    failed_at: at(2),
                },
            ])
            .when(sync(vec![iv(9, 11)], "a"))
            .then_expect_events(vec![CalendarSourceEvent::CalendarSyncRecovered {
                at: at(1),
            }]);
    }

    #[test]
    fn a_removed_source_takes_no_syncs_and_its_stylist_cannot_change() {
        SourceTest::with(())
            .given(vec![
                registered(),
                CalendarSourceEvent::CalendarSourceRemoved { stylist: stylist() },
            ])
            .when(sync(vec![], "x"))
            .then_expect_error(CalendarSourceError::Removed);
        let mut other = caldav();
        other.stylist = StylistId::from_uuid(Uuid::from_u128(2));
        SourceTest::with(())
            .given(vec![registered()])
            .when(CalendarSourceCommand::Update { settings: other })
            .then_expect_error(CalendarSourceError::StylistChanged);
    }

    #[test]
    fn normalize_merges_touching_and_drops_empty() {
        assert_eq!(
            normalize_busy(vec![iv(12, 13), iv(9, 10), iv(10, 11), iv(5, 5)]),
            vec![iv(9, 11), iv(12, 13)]
        );
    }
}
