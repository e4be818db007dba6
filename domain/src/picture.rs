//! Pictures (issue 19, part 5): the salon's logo, a stylist's photo, a service's picture. One
//! small aggregate per subject (its id is the subject: `logo`, `stylist:<id>`, `service:<id>`),
//! so a picture never contends with the stylist, service or salon it shows.
//!
//! The events name a picture already stored (re-encoded, content-addressed by the SHA-256 of
//! its bytes, see `commands::pictures`): the bytes are not in the log, only what a view needs to
//! show them (type and size). Whether the stylist or service exists is checked by the caller on
//! their own aggregates before the command is sent.

use crate::ids::{ParseError, ServiceId, StylistId};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use std::fmt;

/// What a picture shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Subject {
    /// The salon's logo.
    Logo,
    /// A stylist's photo.
    Stylist(StylistId),
    /// A service's picture.
    Service(ServiceId),
}

impl Subject {
    /// The longest side a stored picture of this subject may have, in pixels: a logo is shown
    /// small; photos and pictures fill a card on a large screen at most.
    pub fn max_side(self) -> u32 {
        match self {
            Self::Logo => 512,
            Self::Stylist(_) | Self::Service(_) => 1200,
        }
    }

    /// The subject in words, for messages ("the stylist's photo").
    pub fn noun(self) -> &'static str {
        match self {
            Self::Logo => "logo",
            Self::Stylist(_) => "photo",
            Self::Service(_) => "picture",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let bad = || ParseError::new("subject", format!("{raw:?} is not a picture's subject"));
        match raw.split_once(':') {
            None if raw == "logo" => Ok(Self::Logo),
            Some(("stylist", id)) => StylistId::parse(id).map(Self::Stylist).map_err(|_| bad()),
            Some(("service", id)) => ServiceId::parse(id).map(Self::Service).map_err(|_| bad()),
            _ => Err(bad()),
        }
    }
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Logo => f.write_str("logo"),
            Self::Stylist(id) => write!(f, "stylist:{id}"),
            Self::Service(id) => write!(f, "service:{id}"),
        }
    }
}

impl Serialize for Subject {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Subject {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

/// The kinds of stored pictures: what the re-encoder writes.
pub const CONTENT_TYPES: [&str; 2] = ["image/jpeg", "image/png"];

/// A stored picture as events name it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredPicture {
    /// SHA-256 of the stored bytes, 64 lowercase hex digits.
    pub sha256: String,
    /// `image/jpeg` or `image/png`.
    pub content_type: String,
    pub width: u32,
    pub height: u32,
}

impl StoredPicture {
    /// The file name it is served under: `<sha256>.<ext>`.
    pub fn file(&self) -> String {
        file_name(&self.sha256, &self.content_type)
    }

    fn validate(&self, max_side: u32) -> Result<(), ParseError> {
        let hex = self.sha256.len() == 64
            && self
                .sha256
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !hex {
            return Err(ParseError::new("sha256", "is not 64 lowercase hex digits"));
        }
        if !CONTENT_TYPES.contains(&self.content_type.as_str()) {
            return Err(ParseError::new(
                "content_type",
                format!("{:?} is not a stored picture's type", self.content_type),
            ));
        }
        if self.width == 0 || self.height == 0 || self.width.max(self.height) > max_side {
            return Err(ParseError::new(
                "size",
                format!(
                    "{}×{} is not within 1–{max_side} pixels a side",
                    self.width, self.height
                ),
            ));
        }
        Ok(())
    }
}

/// `<sha256>.<ext>` for a stored picture's type (`jpg`, `png`).
pub fn file_name(sha256: &str, content_type: &str) -> String {
    let ext = match content_type {
        "image/png" => "png",
        "image/webp" => "webp",
        _ => "jpg",
    };
    format!("{sha256}.{ext}")
}

/// The picture a subject shows now, if any.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Picture {
    pub current: Option<StoredPicture>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum PictureCommand {
    /// Shows `picture` for `subject` (the same picture again changes nothing).
    Set {
        subject: Subject,
        picture: StoredPicture,
    },
    /// Shows no picture (none shown already: nothing changes).
    Remove { subject: Subject },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PictureEvent {
    PictureSet {
        subject: Subject,
        sha256: String,
        content_type: String,
        width: u32,
        height: u32,
    },
    PictureRemoved {
        subject: Subject,
    },
}

impl DomainEvent for PictureEvent {
    fn event_type(&self) -> String {
        match self {
            Self::PictureSet { .. } => "PictureSet",
            Self::PictureRemoved { .. } => "PictureRemoved",
        }
        .into()
    }
    fn event_version(&self) -> String {
        "1".into()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PictureError {
    #[error(transparent)]
    Invalid(#[from] ParseError),
}

impl Aggregate for Picture {
    const TYPE: &'static str = "Picture";
    type Command = PictureCommand;
    type Event = PictureEvent;
    type Error = PictureError;
    type Services = ();

    async fn handle(
        &mut self,
        command: PictureCommand,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), PictureError> {
        match command {
            PictureCommand::Set { subject, picture } => {
                picture.validate(subject.max_side())?;
                if self.current.as_ref() == Some(&picture) {
                    return Ok(());
                }
                let StoredPicture {
                    sha256,
                    content_type,
                    width,
                    height,
                } = picture;
                sink.write(
                    PictureEvent::PictureSet {
                        subject,
                        sha256,
                        content_type,
                        width,
                        height,
                    },
                    self,
                )
                .await;
            }
            PictureCommand::Remove { subject } => {
                if self.current.is_some() {
                    sink.write(PictureEvent::PictureRemoved { subject }, self)
                        .await;
                }
            }
        }
        Ok(())
    }

    fn apply(&mut self, event: PictureEvent) {
        match event {
            PictureEvent::PictureSet {
                sha256,
                content_type,
                width,
                height,
                ..
            } => {
                self.current = Some(StoredPicture {
                    sha256,
                    content_type,
                    width,
                    height,
                })
            }
            PictureEvent::PictureRemoved { .. } => self.current = None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cqrs_es::test::TestFramework;

    type PictureTest = TestFramework<Picture>;

    fn stylist() -> Subject {
        Subject::Stylist(StylistId::parse("c44e923e-60e5-58b4-a805-a80b72143357").unwrap())
    }

    fn picture(sha: char, side: u32) -> StoredPicture {
        StoredPicture {
            sha256: sha.to_string().repeat(64),
            content_type: "image/jpeg".into(),
            width: side,
            height: side * 3 / 4,
        }
    }

    fn set(p: &StoredPicture) -> PictureEvent {
        PictureEvent::PictureSet {
            subject: stylist(),
            sha256: p.sha256.clone(),
            content_type: p.content_type.clone(),
            width: p.width,
            height: p.height,
        }
    }

    #[test]
    fn a_picture_is_set() {
        let p = picture('a', 800);
        PictureTest::with(())
            .given_no_previous_events()
            .when(PictureCommand::Set {
                subject: stylist(),
                picture: p.clone(),
            })
            .then_expect_events(vec![set(&p)]);
    }

    #[test]
    fn the_same_picture_again_changes_nothing() {
        let p = picture('a', 800);
        PictureTest::with(())
            .given(vec![set(&p)])
            .when(PictureCommand::Set {
                subject: stylist(),
                picture: p,
            })
            .then_expect_events(vec![]);
    }

    #[test]
    fn another_picture_replaces_it() {
        let (a, b) = (picture('a', 800), picture('b', 600));
        PictureTest::with(())
            .given(vec![set(&a)])
            .when(PictureCommand::Set {
                subject: stylist(),
                picture: b.clone(),
            })
            .then_expect_events(vec![set(&b)]);
    }

    #[test]
    fn removing_a_picture_and_removing_none() {
        PictureTest::with(())
            .given(vec![set(&picture('a', 800))])
            .when(PictureCommand::Remove { subject: stylist() })
            .then_expect_events(vec![PictureEvent::PictureRemoved { subject: stylist() }]);
        PictureTest::with(())
            .given(vec![
                set(&picture('a', 800)),
                PictureEvent::PictureRemoved { subject: stylist() },
            ])
            .when(PictureCommand::Remove { subject: stylist() })
            .then_expect_events(vec![]);
    }

    #[test]
    fn a_picture_that_is_not_a_stored_one_is_refused() {
        let mut bad_hash = picture('a', 800);
        bad_hash.sha256 = "A".repeat(64);
        let mut bad_type = picture('a', 800);
        bad_type.content_type = "image/gif".into();
        let too_big_for_a_logo = picture('a', 800);
        for (subject, p) in [
            (stylist(), bad_hash),
            (stylist(), bad_type),
            (Subject::Logo, too_big_for_a_logo),
            (stylist(), picture('a', 0)),
        ] {
            let result = PictureTest::with(())
                .given_no_previous_events()
                .when(PictureCommand::Set {
                    subject,
                    picture: p.clone(),
                })
                .inspect_result();
            assert!(matches!(result, Err(PictureError::Invalid(_))), "{p:?}");
        }
    }

    #[test]
    fn subjects_read_and_write_as_text() {
        for s in [
            Subject::Logo,
            stylist(),
            Subject::Service(ServiceId::parse("77d5de2f-6c6f-5291-90df-5ba039e90a05").unwrap()),
        ] {
            assert_eq!(Subject::parse(&s.to_string()), Ok(s));
            let json = serde_json::to_string(&s).unwrap();
            assert_eq!(serde_json::from_str::<Subject>(&json).unwrap(), s);
        }
        for bad in [
            "",
            "logo:1",
            "stylist:",
            "stylist:nope",
            "client:77d5de2f-6c6f-5291-90df-5ba039e90a05",
        ] {
            assert!(Subject::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(picture('a', 8).file(), format!("{}.jpg", "a".repeat(64)));
    }
}
