//! `WebhookSubscription`: an integrator's endpoint that receives salon's events as signed HTTP
//! POSTs (the delivery itself is a reactor on the write side).
//!
//! The signing secret never reaches this aggregate: the write side keeps it out of the log and
//! hands the domain only its fingerprint (the first 16 hex digits of its SHA-256), so the log
//! can say which secret was in force when without holding anything that signs.

use crate::ids::WebhookSubscriptionId;
use crate::values::bounded_text;
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

/// Booking events a subscription may ask for.
pub const BOOKING_EVENTS: &[&str] = &[
    "BookingRequested",
    "BookingHeld",
    "BookingConfirmed",
    "CheckoutStarted",
    "DepositPaid",
    "DepositFailed",
    "HoldExpired",
    "BookingCancelled",
    "BookingRescheduled",
    "RefundRequested",
    "DepositRefunded",
    "RefundFailed",
    "DepositForfeited",
    "BookingCompleted",
    "BookingNoShow",
    "BookingNotesChanged",
];

/// Catalog events (the salon's settings, services, stylists) a subscription may ask for.
pub const CATALOG_EVENTS: &[&str] = &[
    "SalonConfigured",
    "SalonRenamed",
    "TimeZoneChanged",
    "BookingPolicyChanged",
    "ServiceCreated",
    "ServiceUpdated",
    "ServiceArchived",
    "ServiceRestored",
    "StylistHired",
    "StylistProfileUpdated",
    "StylistServicesSet",
    "StylistHoursSet",
    "TimeOffAdded",
    "TimeOffRemoved",
    "StylistArchived",
    "StylistRestored",
];

/// The filter entry that stands for every deliverable event type.
pub const ALL_EVENTS: &str = "*";

/// The test event a ping appends; delivered only to the subscription pinged, whatever its filter.
pub const PING_EVENT: &str = "WebhookPinged";

/// Whether events of this type are ever delivered to subscriptions (internal events, such as a
/// stylist-day's reservations, API tokens and calendar credentials, are not).
pub fn is_deliverable(event_type: &str) -> bool {
    BOOKING_EVENTS.contains(&event_type) || CATALOG_EVENTS.contains(&event_type)
}

pub const MAX_URL_CHARS: usize = 2000;
pub const MAX_DESCRIPTION_CHARS: usize = 500;

/// Checks a delivery URL: `http://` or `https://`, a host, an optional numeric port, no user
/// name or password (they would be written into the log), no spaces.
pub fn check_url(raw: &str) -> Result<String, String> {
    let url = raw.trim();
    if url.is_empty() {
        return Err("is required".into());
    }
    if url.chars().count() > MAX_URL_CHARS {
        return Err(format!("is longer than {MAX_URL_CHARS} characters"));
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("must not contain spaces or control characters".into());
    }
    let lower = url.to_ascii_lowercase();
    let rest = if lower.starts_with("https://") {
        &url["https://".len()..]
    } else if lower.starts_with("http://") {
        &url["http://".len()..]
    } else {
        return Err("must be an http:// or https:// URL".into());
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.contains('@') {
        return Err("must not contain a user name or password".into());
    }
    let bracketed = authority.starts_with('[');
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        match v6.split_once(']') {
            Some((host, tail)) if !host.is_empty() => {
                if !host
                    .chars()
                    .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.')
                {
                    return Err("has an invalid IPv6 host".into());
                }
                match tail {
                    "" => (host, None),
                    _ => match tail.strip_prefix(':') {
                        Some(port) => (host, Some(port)),
                        None => return Err("has an invalid host".into()),
                    },
                }
            }
            _ => return Err("has an invalid IPv6 host".into()),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err("must name a host".into());
    }
    if !bracketed
        && !host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
    {
        return Err("has an invalid host".into());
    }
    if let Some(port) = port {
        match port.parse::<u16>() {
            Ok(p) if p > 0 && port.chars().all(|c| c.is_ascii_digit()) => {}
            _ => return Err("has an invalid port".into()),
        }
    }
    Ok(url.to_string())
}

/// Is `fingerprint` one (16 lowercase hex digits), and not a secret by mistake?
pub fn is_fingerprint(fingerprint: &str) -> bool {
    fingerprint.len() == 16
        && fingerprint
            .chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
}

/// What the integrator configures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookSettings {
    pub url: String,
    /// Event type names, or `["*"]` for every deliverable type.
    pub events: Vec<String>,
    #[serde(default)]
    pub description: String,
}

impl WebhookSettings {
    /// The settings trimmed and checked: URL as [`check_url`]; events a non-empty list of
    /// deliverable type names (duplicates dropped, order kept) or `*` alone; description up to
    /// 500 characters. Problems come per field.
    pub fn normalized(&self) -> Result<Self, Vec<(&'static str, String)>> {
        let mut problems = Vec::new();
        let url = check_url(&self.url).unwrap_or_else(|m| {
            problems.push(("url", m));
            String::new()
        });
        let mut events: Vec<String> = Vec::new();
        for raw in &self.events {
            let name = raw.trim();
            if name != ALL_EVENTS && !is_deliverable(name) {
                problems.push((
                    "events",
                    format!("{name:?} is not an event type that webhooks deliver"),
                ));
            } else if !events.iter().any(|e| e == name) {
                events.push(name.to_string());
            }
        }
        if self.events.is_empty() {
            problems.push((
                "events",
                "must name at least one event type, or \"*\" for all".to_string(),
            ));
        } else if events.len() > 1 && events.iter().any(|e| e == ALL_EVENTS) {
            problems.push((
                "events",
                "\"*\" already means every event type; send it alone".to_string(),
            ));
        }
        let description = bounded_text("description", &self.description, 0, MAX_DESCRIPTION_CHARS)
            .unwrap_or_else(|e| {
                problems.push(("description", e.message));
                String::new()
            });
        if problems.is_empty() {
            Ok(Self {
                url,
                events,
                description,
            })
        } else {
            Err(problems)
        }
    }

    /// Does the filter take events of this type?
    pub fn matches(&self, event_type: &str) -> bool {
        is_deliverable(event_type)
            && self
                .events
                .iter()
                .any(|e| e == ALL_EVENTS || e == event_type)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct WebhookSubscription {
    pub id: Option<WebhookSubscriptionId>,
    pub settings: Option<WebhookSettings>,
    /// Paused subscriptions receive nothing until resumed.
    pub active: bool,
    /// Deleted (archived): receives nothing, cannot change; its history stays in the log.
    pub deleted: bool,
    pub secret_fingerprint: Option<String>,
}

impl WebhookSubscription {
    fn live(&self) -> Result<&WebhookSettings, WebhookError> {
        if self.deleted {
            return Err(WebhookError::Deleted);
        }
        self.settings.as_ref().ok_or(WebhookError::NotFound)
    }

    /// Should an event of this type be delivered here now?
    pub fn wants(&self, event_type: &str) -> bool {
        self.active
            && !self.deleted
            && self
                .settings
                .as_ref()
                .is_some_and(|s| s.matches(event_type))
    }

    /// Is it receiving deliveries at all (created, active, not deleted)?
    pub fn receiving(&self) -> bool {
        self.active && !self.deleted && self.settings.is_some()
    }
}

/// What an update may change; `None` leaves a field as it is.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WebhookChanges {
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    pub description: Option<String>,
    /// `false` pauses, `true` resumes.
    pub active: Option<bool>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum WebhookCommand {
    Create {
        id: WebhookSubscriptionId,
        settings: WebhookSettings,
        secret_fingerprint: String,
    },
    /// Changes what is given; nothing given, or nothing different, appends nothing.
    Update(WebhookChanges),
    RotateSecret {
        secret_fingerprint: String,
    },
    /// Asks for a test delivery.
    Ping,
    Delete,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum WebhookEvent {
    WebhookSubscriptionCreated {
        id: WebhookSubscriptionId,
        settings: WebhookSettings,
        secret_fingerprint: String,
    },
    WebhookSubscriptionUpdated {
        id: WebhookSubscriptionId,
        settings: WebhookSettings,
    },
    WebhookSubscriptionPaused {
        id: WebhookSubscriptionId,
    },
    WebhookSubscriptionResumed {
        id: WebhookSubscriptionId,
    },
    WebhookSecretRotated {
        id: WebhookSubscriptionId,
        secret_fingerprint: String,
    },
    WebhookPinged {
        id: WebhookSubscriptionId,
    },
    WebhookSubscriptionDeleted {
        id: WebhookSubscriptionId,
    },
}

impl DomainEvent for WebhookEvent {
    fn event_type(&self) -> String {
        match self {
            Self::WebhookSubscriptionCreated { .. } => "WebhookSubscriptionCreated",
            Self::WebhookSubscriptionUpdated { .. } => "WebhookSubscriptionUpdated",
            Self::WebhookSubscriptionPaused { .. } => "WebhookSubscriptionPaused",
            Self::WebhookSubscriptionResumed { .. } => "WebhookSubscriptionResumed",
            Self::WebhookSecretRotated { .. } => "WebhookSecretRotated",
            Self::WebhookPinged { .. } => PING_EVENT,
            Self::WebhookSubscriptionDeleted { .. } => "WebhookSubscriptionDeleted",
        }
        .into()
    }
    fn event_version(&self) -> String {
        "1".into()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    #[error("the webhook subscription already exists")]
    AlreadyExists,
    #[error("no such webhook subscription")]
    NotFound,
    #[error("the webhook subscription was deleted")]
    Deleted,
    #[error("the webhook subscription is paused; resume it first")]
    Paused,
    #[error("invalid webhook subscription: {}", .0.iter().map(|(f, m)| format!("{f} {m}")).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<(&'static str, String)>),
    #[error("a secret fingerprint must be 16 lowercase hex digits")]
    BadFingerprint,
}

impl Aggregate for WebhookSubscription {
    const TYPE: &'static str = "WebhookSubscription";
    type Command = WebhookCommand;
    type Event = WebhookEvent;
    type Error = WebhookError;
    type Services = ();

    async fn handle(
        &mut self,
        command: WebhookCommand,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), WebhookError> {
        match command {
            WebhookCommand::Create {
                id,
                settings,
                secret_fingerprint,
            } => {
                if self.id.is_some() {
                    return Err(WebhookError::AlreadyExists);
                }
                if !is_fingerprint(&secret_fingerprint) {
                    return Err(WebhookError::BadFingerprint);
                }
                let settings = settings.normalized().map_err(WebhookError::Invalid)?;
                let event = WebhookEvent::WebhookSubscriptionCreated {
                    id,
                    settings,
                    secret_fingerprint,
                };
                sink.write(event, self).await;
            }
            WebhookCommand::Update(WebhookChanges {
                url,
                events,
                description,
                active,
            }) => {
                let current = self.live()?;
                let id = self.id.ok_or(WebhookError::NotFound)?;
                let mut next = current.clone();
                if let Some(url) = url {
                    next.url = url;
                }
                if let Some(events) = events {
                    next.events = events;
                }
                if let Some(description) = description {
                    next.description = description;
                }
                let next = next.normalized().map_err(WebhookError::Invalid)?;
                if &next != current {
                    let event = WebhookEvent::WebhookSubscriptionUpdated { id, settings: next };
                    sink.write(event, self).await;
                }
                match active {
                    Some(true) if !self.active => {
                        sink.write(WebhookEvent::WebhookSubscriptionResumed { id }, self)
                            .await
                    }
                    Some(false) if self.active => {
                        sink.write(WebhookEvent::WebhookSubscriptionPaused { id }, self)
                            .await
                    }
                    _ => {}
                }
            }
            WebhookCommand::RotateSecret { secret_fingerprint } => {
                self.live()?;
                let id = self.id.ok_or(WebhookError::NotFound)?;
                if !is_fingerprint(&secret_fingerprint) {
                    return Err(WebhookError::BadFingerprint);
                }
                let event = WebhookEvent::WebhookSecretRotated {
                    id,
                    secret_fingerprint,
                };
                sink.write(event, self).await;
            }
            WebhookCommand::Ping => {
                self.live()?;
                let id = self.id.ok_or(WebhookError::NotFound)?;
                if !self.active {
                    return Err(WebhookError::Paused);
                }
                sink.write(WebhookEvent::WebhookPinged { id }, self).await;
            }
            WebhookCommand::Delete => {
                self.live()?;
                let id = self.id.ok_or(WebhookError::NotFound)?;
                sink.write(WebhookEvent::WebhookSubscriptionDeleted { id }, self)
                    .await;
            }
        }
        Ok(())
    }

    fn apply(&mut self, event: WebhookEvent) {
        match event {
            WebhookEvent::WebhookSubscriptionCreated {
                id,
                settings,
                secret_fingerprint,
            } => {
                self.id = Some(id);
                self.settings = Some(settings);
                self.active = true;
                self.secret_fingerprint = Some(secret_fingerprint);
            }
            WebhookEvent::WebhookSubscriptionUpdated { settings, .. } => {
                self.settings = Some(settings);
            }
            WebhookEvent::WebhookSubscriptionPaused { .. } => self.active = false,
            WebhookEvent::WebhookSubscriptionResumed { .. } => self.active = true,
            WebhookEvent::WebhookSecretRotated {
                secret_fingerprint, ..
            } => self.secret_fingerprint = Some(secret_fingerprint),
            WebhookEvent::WebhookPinged { .. } => {}
            WebhookEvent::WebhookSubscriptionDeleted { .. } => {
                self.deleted = true;
                self.active = false;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cqrs_es::test::TestFramework;
    use uuid::Uuid;

    type WebhookTest = TestFramework<WebhookSubscription>;

    const FP: &str = "0123456789abcdef";
    const FP2: &str = "fedcba9876543210";

    fn id() -> WebhookSubscriptionId {
        WebhookSubscriptionId::from_uuid(Uuid::from_u128(9))
    }
    fn settings() -> WebhookSettings {
        WebhookSettings {
            url: "https://crm.example.com/hooks/salon".into(),
            events: vec!["BookingConfirmed".into(), "BookingCancelled".into()],
            description: "CRM".into(),
        }
    }
    fn create(settings: WebhookSettings) -> WebhookCommand {
        WebhookCommand::Create {
            id: id(),
            settings,
            secret_fingerprint: FP.into(),
        }
    }
    fn created() -> WebhookEvent {
        WebhookEvent::WebhookSubscriptionCreated {
            id: id(),
            settings: settings(),
            secret_fingerprint: FP.into(),
        }
    }
    fn update() -> WebhookCommand {
        WebhookCommand::Update(WebhookChanges::default())
    }
    fn deleted() -> WebhookEvent {
        WebhookEvent::WebhookSubscriptionDeleted { id: id() }
    }

    #[test]
    fn creating_records_trimmed_settings_and_only_the_fingerprint() {
        let raw = WebhookSettings {
            url: "  https://crm.example.com/hooks/salon ".into(),
            events: vec![
                " BookingConfirmed".into(),
                "BookingCancelled".into(),
                "BookingConfirmed".into(),
            ],
            description: " CRM ".into(),
        };
        WebhookTest::with(())
            .given_no_previous_events()
            .when(create(raw))
            .then_expect_events(vec![created()]);
    }

    #[test]
    fn creating_twice_is_refused() {
        WebhookTest::with(())
            .given(vec![created()])
            .when(create(settings()))
            .then_expect_error(WebhookError::AlreadyExists);
    }

    #[test]
    fn a_raw_secret_in_place_of_the_fingerprint_is_refused() {
        WebhookTest::with(())
            .given_no_previous_events()
            .when(WebhookCommand::Create {
                id: id(),
                settings: settings(),
                secret_fingerprint: "whsec_0123456789abcdef0123456789abcdef".into(),
            })
            .then_expect_error(WebhookError::BadFingerprint);
        WebhookTest::with(())
            .given(vec![created()])
            .when(WebhookCommand::RotateSecret {
                secret_fingerprint: "0123456789ABCDEF".into(),
            })
            .then_expect_error(WebhookError::BadFingerprint);
    }

    #[test]
    fn urls_must_be_http_or_https_with_a_host_and_no_credentials() {
        for bad in [
            "",
            "ftp://example.com/x",
            "example.com/hook",
            "https://",
            "https:///path",
            "https://user:pass@example.com/hook",
            "https://example.com:99999/hook",
            "https://example.com:/hook",
            "https://exa mple.com/hook",
            "https://[::1/hook",
            "https://a:b:80/hook",
        ] {
            assert!(check_url(bad).is_err(), "{bad:?} was accepted");
        }
        for good in [
            "http://127.0.0.1:8080/hook",
            "https://crm.example.com/hooks/salon?tenant=4#x",
            "HTTPS://EXAMPLE.COM",
            "http://[::1]:9000/hook",
            "http://localhost",
        ] {
            assert_eq!(check_url(good).as_deref(), Ok(good), "{good:?} was refused");
        }
    }

    #[test]
    fn invalid_settings_are_refused_field_by_field() {
        let bad = WebhookSettings {
            url: "mailto:owner@example.com".into(),
            events: vec!["BookingConfirmed".into(), "TokenCreated".into()],
            description: "x".repeat(501),
        };
        let result = WebhookTest::with(())
            .given_no_previous_events()
            .when(create(bad))
            .inspect_result();
        let Err(WebhookError::Invalid(problems)) = result else {
            panic!("expected invalid settings, got {result:?}");
        };
        let fields: Vec<&str> = problems.iter().map(|(f, _)| *f).collect();
        assert_eq!(fields, vec!["url", "events", "description"]);
        assert!(problems[1].1.contains("TokenCreated"), "{problems:?}");
    }

    #[test]
    fn the_filter_is_a_list_of_deliverable_types_or_a_lone_star() {
        let with = |events: Vec<&str>| WebhookSettings {
            events: events.into_iter().map(String::from).collect(),
            ..settings()
        };
        assert!(with(vec![]).normalized().is_err());
        assert!(with(vec!["*", "BookingConfirmed"]).normalized().is_err());
        assert!(with(vec!["SlotReserved"]).normalized().is_err());
        let all = with(vec!["*"]).normalized().expect("star");
        assert!(all.matches("BookingRequested"));
        assert!(all.matches("ServiceCreated"));
        assert!(!all.matches("SlotReserved"), "internal events never match");
        assert!(!all.matches("TokenCreated"));
        assert!(
            !all.matches(PING_EVENT),
            "pings go to their own subscription only"
        );
        let some = settings().normalized().expect("settings");
        assert!(some.matches("BookingConfirmed"));
        assert!(!some.matches("BookingRequested"));
    }

    #[test]
    fn updating_changes_only_what_is_given_and_pausing_is_its_own_event() {
        let mut moved = settings();
        moved.url = "https://crm.example.com/v2".into();
        WebhookTest::with(())
            .given(vec![created()])
            .when(WebhookCommand::Update(WebhookChanges {
                url: Some(" https://crm.example.com/v2".into()),
                active: Some(false),
                ..WebhookChanges::default()
            }))
            .then_expect_events(vec![
                WebhookEvent::WebhookSubscriptionUpdated {
                    id: id(),
                    settings: moved,
                },
                WebhookEvent::WebhookSubscriptionPaused { id: id() },
            ]);
        WebhookTest::with(())
            .given(vec![
                created(),
                WebhookEvent::WebhookSubscriptionPaused { id: id() },
            ])
            .when(WebhookCommand::Update(WebhookChanges {
                active: Some(true),
                ..WebhookChanges::default()
            }))
            .then_expect_events(vec![WebhookEvent::WebhookSubscriptionResumed { id: id() }]);
    }

    #[test]
    fn an_update_that_changes_nothing_appends_nothing() {
        WebhookTest::with(())
            .given(vec![created()])
            .when(WebhookCommand::Update(WebhookChanges {
                description: Some("CRM ".into()),
                active: Some(true),
                ..WebhookChanges::default()
            }))
            .then_expect_events(vec![]);
    }

    #[test]
    fn an_invalid_update_is_refused() {
        WebhookTest::with(())
            .given(vec![created()])
            .when(WebhookCommand::Update(WebhookChanges {
                events: Some(vec![]),
                ..WebhookChanges::default()
            }))
            .then_expect_error(WebhookError::Invalid(vec![(
                "events",
                "must name at least one event type, or \"*\" for all".into(),
            )]));
    }

    #[test]
    fn rotating_records_the_new_fingerprint() {
        WebhookTest::with(())
            .given(vec![created()])
            .when(WebhookCommand::RotateSecret {
                secret_fingerprint: FP2.into(),
            })
            .then_expect_events(vec![WebhookEvent::WebhookSecretRotated {
                id: id(),
                secret_fingerprint: FP2.into(),
            }]);
    }

    #[test]
    fn a_paused_subscription_cannot_be_pinged_and_wants_nothing() {
        let paused = WebhookEvent::WebhookSubscriptionPaused { id: id() };
        WebhookTest::with(())
            .given(vec![created(), paused.clone()])
            .when(WebhookCommand::Ping)
            .then_expect_error(WebhookError::Paused);
        WebhookTest::with(())
            .given(vec![created()])
            .when(WebhookCommand::Ping)
            .then_expect_events(vec![WebhookEvent::WebhookPinged { id: id() }]);
        let mut state = WebhookSubscription::default();
        state.apply(created());
        assert!(state.wants("BookingConfirmed"));
        state.apply(paused);
        assert!(!state.wants("BookingConfirmed"));
        assert!(!state.receiving());
    }

    #[test]
    fn deleting_archives_and_then_nothing_changes_it() {
        WebhookTest::with(())
            .given(vec![created()])
            .when(WebhookCommand::Delete)
            .then_expect_events(vec![deleted()]);
        for command in [
            WebhookCommand::Delete,
            WebhookCommand::Ping,
            update(),
            WebhookCommand::RotateSecret {
                secret_fingerprint: FP2.into(),
            },
        ] {
            WebhookTest::with(())
                .given(vec![created(), deleted()])
                .when(command)
                .then_expect_error(WebhookError::Deleted);
        }
        let mut state = WebhookSubscription::default();
        state.apply(created());
        state.apply(deleted());
        assert!(!state.wants("BookingConfirmed"));
    }

    #[test]
    fn commands_on_an_unknown_subscription_are_refused() {
        WebhookTest::with(())
            .given_no_previous_events()
            .when(WebhookCommand::Ping)
            .then_expect_error(WebhookError::NotFound);
    }

    #[test]
    fn the_lists_name_real_event_types() {
        use crate::booking::BookingEvent;
        use cqrs_es::DomainEvent as _;
        let booking = BookingEvent::BookingConfirmed {
            id: crate::ids::BookingId::new(),
        };
        assert!(BOOKING_EVENTS.contains(&booking.event_type().as_str()));
        assert_eq!(BOOKING_EVENTS.len(), 16);
        assert!(CATALOG_EVENTS.iter().all(|e| !BOOKING_EVENTS.contains(e)));
    }
}
