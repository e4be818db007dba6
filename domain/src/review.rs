//! A client's review of a visit: a rating from 1 to 5, a text and the name to show, written
//! after a completed booking (through a signed link) or entered by the salon; moderated by the
//! owner (approve, hide, reply); archived when deleted. Only approved reviews are public.
//!
//! A review names its client by id only: the client's contact details stay with the client
//! (see `client`), so a review never copies personal data beyond the name the client chose to
//! show.

use crate::booking::BookingStatus;
use crate::ids::{BookingId, ClientId, ParseError, ReviewId, ServiceId, StylistId};
use crate::values::bounded_text;
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewStatus {
    #[default]
    Pending,
    Approved,
    Hidden,
}

impl ReviewStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Hidden => "hidden",
        }
    }
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        match raw.trim() {
            "pending" => Ok(Self::Pending),
            "approved" => Ok(Self::Approved),
            "hidden" => Ok(Self::Hidden),
            other => Err(ParseError::new(
                "status",
                format!("{other:?} is not pending, approved or hidden"),
            )),
        }
    }
}

impl fmt::Display for ReviewStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the reviewer writes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewText {
    /// 1 to 5 stars.
    pub rating: u8,
    #[serde(default)]
    pub text: String,
    /// The name shown with the review ("Ada L.").
    pub display_name: String,
}

impl ReviewText {
    /// Rating 1–5, text up to 2000 characters, a display name of 1–60, all trimmed.
    pub fn validate(mut self) -> Result<Self, Vec<ParseError>> {
        let mut errors = Vec::new();
        if !(1..=5).contains(&self.rating) {
            errors.push(ParseError::new(
                "rating",
                "must be a whole number from 1 to 5",
            ));
        }
        match bounded_text("text", &self.text, 0, 2000) {
            Ok(t) => self.text = t,
            Err(e) => errors.push(e),
        }
        match bounded_text("display_name", &self.display_name, 1, 60) {
            Ok(t) => self.display_name = t,
            Err(e) => errors.push(e),
        }
        if errors.is_empty() {
            Ok(self)
        } else {
            Err(errors)
        }
    }
}

/// The visit a review is about, as the booking knows it (looked up by the write side).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Visit {
    pub booking: BookingId,
    pub status: BookingStatus,
    pub stylist: StylistId,
    pub service: ServiceId,
    pub client: ClientId,
}

/// A review as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewDetails {
    /// The visit reviewed; `None` for a review the salon entered without one (a review left
    /// by phone, or carried over from the old system).
    #[serde(default)]
    pub booking: Option<BookingId>,
    pub stylist: StylistId,
    #[serde(default)]
    pub service: Option<ServiceId>,
    #[serde(default)]
    pub client: Option<ClientId>,
    #[serde(flatten)]
    pub text: ReviewText,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Review {
    pub id: Option<ReviewId>,
    pub details: Option<ReviewDetails>,
    pub status: ReviewStatus,
    pub reply: Option<String>,
    pub archived: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ReviewCommand {
    /// A review of `visit` (which must be completed), or, without a visit, of `stylist`'s work.
    Submit {
        id: ReviewId,
        text: ReviewText,
        visit: Option<Visit>,
        /// Only without a visit: whose work is reviewed, and which service.
        stylist: Option<StylistId>,
        service: Option<ServiceId>,
    },
    /// The owner's moderation: a new status (approved or hidden) and/or a reply (`Some("")`
    /// removes it). Unchanged values append nothing.
    Moderate {
        status: Option<ReviewStatus>,
        reply: Option<String>,
    },
    Archive,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReviewEvent {
    ReviewSubmitted {
        id: ReviewId,
        details: ReviewDetails,
    },
    ReviewApproved {
        id: ReviewId,
    },
    ReviewHidden {
        id: ReviewId,
    },
    ReviewReplied {
        id: ReviewId,
        reply: String,
    },
    ReviewReplyRemoved {
        id: ReviewId,
    },
    ReviewArchived {
        id: ReviewId,
    },
}

impl DomainEvent for ReviewEvent {
    fn event_type(&self) -> String {
        match self {
            Self::ReviewSubmitted { .. } => "ReviewSubmitted",
            Self::ReviewApproved { .. } => "ReviewApproved",
            Self::ReviewHidden { .. } => "ReviewHidden",
            Self::ReviewReplied { .. } => "ReviewReplied",
            Self::ReviewReplyRemoved { .. } => "ReviewReplyRemoved",
            Self::ReviewArchived { .. } => "ReviewArchived",
        }
        .into()
    }
    fn event_version(&self) -> String {
        "1".into()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReviewError {
    #[error("this visit has been reviewed already")]
    AlreadyReviewed,
    #[error("no such review")]
    NotFound,
    #[error("a visit can be reviewed once it is completed; this booking is {0}")]
    VisitNotCompleted(BookingStatus),
    #[error("{}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<ParseError>),
}

impl Review {
    fn live(&self) -> Result<ReviewId, ReviewError> {
        match self.id {
            Some(id) if !self.archived => Ok(id),
            _ => Err(ReviewError::NotFound),
        }
    }
}

impl Aggregate for Review {
    const TYPE: &'static str = "Review";
    type Command = ReviewCommand;
    type Event = ReviewEvent;
    type Error = ReviewError;
    type Services = ();

    async fn handle(
        &mut self,
        command: ReviewCommand,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), ReviewError> {
        match command {
            ReviewCommand::Submit {
                id,
                text,
                visit,
                stylist,
                service,
            } => {
                if self.id.is_some() {
                    return Err(ReviewError::AlreadyReviewed);
                }
                let mut errors = Vec::new();
                let text = text.validate().map_err(|e| errors.extend(e)).ok();
                let details = match visit {
                    Some(v) if v.status != BookingStatus::Completed => {
                        return Err(ReviewError::VisitNotCompleted(v.status));
                    }
                    Some(v) => text.map(|text| ReviewDetails {
                        booking: Some(v.booking),
                        stylist: v.stylist,
                        service: Some(v.service),
                        client: Some(v.client),
                        text,
                    }),
                    None => {
                        if stylist.is_none() {
                            errors.push(ParseError::new(
                                "stylist",
                                "is required for a review without a booking",
                            ));
                        }
                        match (text, stylist) {
                            (Some(text), Some(stylist)) => Some(ReviewDetails {
                                booking: None,
                                stylist,
                                service,
                                client: None,
                                text,
                            }),
                            _ => None,
                        }
                    }
                };
                match details {
                    Some(details) if errors.is_empty() => {
                        sink.write(ReviewEvent::ReviewSubmitted { id, details }, self)
                            .await
                    }
                    _ => return Err(ReviewError::Invalid(errors)),
                }
            }
            ReviewCommand::Moderate { status, reply } => {
                let id = self.live()?;
                let reply = match reply {
                    Some(r) => Some(
                        bounded_text("reply", &r, 0, 2000)
                            .map_err(|e| ReviewError::Invalid(vec![e]))?,
                    ),
                    None => None,
                };
                match status {
                    Some(ReviewStatus::Pending) if self.status != ReviewStatus::Pending => {
                        return Err(ReviewError::Invalid(vec![ParseError::new(
                            "status",
                            "a moderated review can be approved or hidden, not pending again",
                        )]));
                    }
                    Some(s) if s == self.status => {}
                    Some(ReviewStatus::Approved) => {
                        sink.write(ReviewEvent::ReviewApproved { id }, self).await
                    }
                    Some(ReviewStatus::Hidden) => {
                        sink.write(ReviewEvent::ReviewHidden { id }, self).await
                    }
                    Some(ReviewStatus::Pending) | None => {}
                }
                match reply {
                    Some(r) if r.is_empty() && self.reply.is_some() => {
                        sink.write(ReviewEvent::ReviewReplyRemoved { id }, self)
                            .await
                    }
                    Some(r) if !r.is_empty() && self.reply.as_ref() != Some(&r) => {
                        sink.write(ReviewEvent::ReviewReplied { id, reply: r }, self)
                            .await
                    }
                    _ => {}
                }
            }
            ReviewCommand::Archive => {
                let id = self.live()?;
                sink.write(ReviewEvent::ReviewArchived { id }, self).await;
            }
        }
        Ok(())
    }

    fn apply(&mut self, event: ReviewEvent) {
        match event {
            ReviewEvent::ReviewSubmitted { id, details } => {
                self.id = Some(id);
                self.details = Some(details);
                self.status = ReviewStatus::Pending;
            }
            ReviewEvent::ReviewApproved { .. } => self.status = ReviewStatus::Approved,
            ReviewEvent::ReviewHidden { .. } => self.status = ReviewStatus::Hidden,
            ReviewEvent::ReviewReplied { reply, .. } => self.reply = Some(reply),
            ReviewEvent::ReviewReplyRemoved { .. } => self.reply = None,
            ReviewEvent::ReviewArchived { .. } => self.archived = true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cqrs_es::test::TestFramework;
    use uuid::Uuid;

    type ReviewTest = TestFramework<Review>;

    fn booking() -> BookingId {
        BookingId::from_uuid(Uuid::from_u128(7))
    }
    fn id() -> ReviewId {
        ReviewId::for_booking(booking())
    }
    fn stylist() -> StylistId {
        StylistId::from_uuid(Uuid::from_u128(2))
    }
    fn service() -> ServiceId {
        ServiceId::from_uuid(Uuid::from_u128(3))
    }
    fn client() -> ClientId {
        ClientId::from_uuid(Uuid::from_u128(4))
    }
    fn text() -> ReviewText {
        ReviewText {
            rating: 5,
            text: "Best retwist I've had.".into(),
            display_name: "Ada L.".into(),
        }
    }
    fn visit(status: BookingStatus) -> Visit {
        Visit {
            booking: booking(),
            status,
            stylist: stylist(),
            service: service(),
            client: client(),
        }
    }
    fn submit(text: ReviewText, visit: Option<Visit>) -> ReviewCommand {
        ReviewCommand::Submit {
            id: id(),
            text,
            visit,
            stylist: None,
            service: None,
        }
    }
    fn submitted() -> ReviewEvent {
        ReviewEvent::ReviewSubmitted {
            id: id(),
            details: ReviewDetails {
                booking: Some(booking()),
                stylist: stylist(),
                service: Some(service()),
                client: Some(client()),
                text: text(),
            },
        }
    }
    fn moderate(status: Option<ReviewStatus>, reply: Option<&str>) -> ReviewCommand {
        ReviewCommand::Moderate {
            status,
            reply: reply.map(str::to_string),
        }
    }
    fn approved() -> ReviewEvent {
        ReviewEvent::ReviewApproved { id: id() }
    }

    #[test]
    fn a_completed_visit_can_be_reviewed_with_trimmed_text() {
        let raw = ReviewText {
            text: "  Best retwist I've had. ".into(),
            display_name: " Ada L.".into(),
            ..text()
        };
        ReviewTest::with(())
            .given_no_previous_events()
            .when(submit(raw, Some(visit(BookingStatus::Completed))))
            .then_expect_events(vec![submitted()]);
    }

    #[test]
    fn a_visit_not_completed_cannot_be_reviewed() {
        for status in [
            BookingStatus::Confirmed,
            BookingStatus::Cancelled,
            BookingStatus::NoShow,
        ] {
            ReviewTest::with(())
                .given_no_previous_events()
                .when(submit(text(), Some(visit(status))))
                .then_expect_error(ReviewError::VisitNotCompleted(status));
        }
    }

    #[test]
    fn a_visit_is_reviewed_once() {
        ReviewTest::with(())
            .given(vec![submitted()])
            .when(submit(text(), Some(visit(BookingStatus::Completed))))
            .then_expect_error(ReviewError::AlreadyReviewed);
    }

    #[test]
    fn a_rating_outside_one_to_five_and_a_blank_name_are_refused_together() {
        ReviewTest::with(())
            .given_no_previous_events()
            .when(submit(
                ReviewText {
                    rating: 6,
                    display_name: " ".into(),
                    ..text()
                },
                Some(visit(BookingStatus::Completed)),
            ))
            .then_expect_error(ReviewError::Invalid(vec![
                ParseError::new("rating", "must be a whole number from 1 to 5"),
                ParseError::new("display_name", "is required"),
            ]));
        ReviewTest::with(())
            .given_no_previous_events()
            .when(submit(
                ReviewText {
                    rating: 0,
                    ..text()
                },
                Some(visit(BookingStatus::Completed)),
            ))
            .then_expect_error(ReviewError::Invalid(vec![ParseError::new(
                "rating",
                "must be a whole number from 1 to 5",
            )]));
    }

    #[test]
    fn a_text_over_2000_characters_is_refused() {
        ReviewTest::with(())
            .given_no_previous_events()
            .when(submit(
                ReviewText {
                    text: "x".repeat(2001),
                    ..text()
                },
                Some(visit(BookingStatus::Completed)),
            ))
            .then_expect_error(ReviewError::Invalid(vec![ParseError::new(
                "text",
                "is longer than 2000 characters",
            )]));
    }

    #[test]
    fn the_salon_may_enter_a_review_without_a_visit_naming_the_stylist() {
        ReviewTest::with(())
            .given_no_previous_events()
            .when(ReviewCommand::Submit {
                id: id(),
                text: text(),
                visit: None,
                stylist: Some(stylist()),
                service: None,
            })
            .then_expect_events(vec![ReviewEvent::ReviewSubmitted {
                id: id(),
                details: ReviewDetails {
                    booking: None,
                    stylist: stylist(),
                    service: None,
                    client: None,
                    text: text(),
                },
            }]);
    }

    #[test]
    fn a_review_without_a_visit_needs_a_stylist() {
        ReviewTest::with(())
            .given_no_previous_events()
            .when(submit(text(), None))
            .then_expect_error(ReviewError::Invalid(vec![ParseError::new(
                "stylist",
                "is required for a review without a booking",
            )]));
    }

    #[test]
    fn approving_records_it() {
        ReviewTest::with(())
            .given(vec![submitted()])
            .when(moderate(Some(ReviewStatus::Approved), None))
            .then_expect_events(vec![approved()]);
    }

    #[test]
    fn approving_an_approved_review_appends_nothing() {
        ReviewTest::with(())
            .given(vec![submitted(), approved()])
            .when(moderate(Some(ReviewStatus::Approved), None))
            .then_expect_events(vec![]);
    }

    #[test]
    fn hiding_records_it() {
        ReviewTest::with(())
            .given(vec![submitted(), approved()])
            .when(moderate(Some(ReviewStatus::Hidden), None))
            .then_expect_events(vec![ReviewEvent::ReviewHidden { id: id() }]);
    }

    #[test]
    fn a_moderated_review_cannot_go_back_to_pending() {
        ReviewTest::with(())
            .given(vec![submitted(), approved()])
            .when(moderate(Some(ReviewStatus::Pending), None))
            .then_expect_error(ReviewError::Invalid(vec![ParseError::new(
                "status",
                "a moderated review can be approved or hidden, not pending again",
            )]));
    }

    #[test]
    fn pending_for_a_pending_review_appends_nothing() {
        ReviewTest::with(())
            .given(vec![submitted()])
            .when(moderate(Some(ReviewStatus::Pending), None))
            .then_expect_events(vec![]);
    }

    #[test]
    fn replying_with_approval_records_both() {
        ReviewTest::with(())
            .given(vec![submitted()])
            .when(moderate(
                Some(ReviewStatus::Approved),
                Some(" Thank you, Ada! "),
            ))
            .then_expect_events(vec![
                approved(),
                ReviewEvent::ReviewReplied {
                    id: id(),
                    reply: "Thank you, Ada!".into(),
                },
            ]);
    }

    #[test]
    fn the_same_reply_again_appends_nothing() {
        ReviewTest::with(())
            .given(vec![
                submitted(),
                ReviewEvent::ReviewReplied {
                    id: id(),
                    reply: "Thanks!".into(),
                },
            ])
            .when(moderate(None, Some("Thanks!")))
            .then_expect_events(vec![]);
    }

    #[test]
    fn an_empty_reply_removes_the_reply() {
        ReviewTest::with(())
            .given(vec![
                submitted(),
                ReviewEvent::ReviewReplied {
                    id: id(),
                    reply: "Thanks!".into(),
                },
            ])
            .when(moderate(None, Some("  ")))
            .then_expect_events(vec![ReviewEvent::ReviewReplyRemoved { id: id() }]);
    }

    #[test]
    fn an_empty_reply_without_a_reply_appends_nothing() {
        ReviewTest::with(())
            .given(vec![submitted()])
            .when(moderate(None, Some("")))
            .then_expect_events(vec![]);
    }

    #[test]
    fn a_reply_over_2000_characters_is_refused() {
        ReviewTest::with(())
            .given(vec![submitted()])
            .when(moderate(None, Some(&"x".repeat(2001))))
            .then_expect_error(ReviewError::Invalid(vec![ParseError::new(
                "reply",
                "is longer than 2000 characters",
            )]));
    }

    #[test]
    fn moderating_an_unknown_review_is_refused() {
        ReviewTest::with(())
            .given_no_previous_events()
            .when(moderate(Some(ReviewStatus::Approved), None))
            .then_expect_error(ReviewError::NotFound);
    }

    #[test]
    fn moderating_an_archived_review_is_refused() {
        ReviewTest::with(())
            .given(vec![submitted(), ReviewEvent::ReviewArchived { id: id() }])
            .when(moderate(Some(ReviewStatus::Approved), None))
            .then_expect_error(ReviewError::NotFound);
    }

    #[test]
    fn archiving_records_it() {
        ReviewTest::with(())
            .given(vec![submitted()])
            .when(ReviewCommand::Archive)
            .then_expect_events(vec![ReviewEvent::ReviewArchived { id: id() }]);
    }

    #[test]
    fn archiving_twice_is_refused() {
        ReviewTest::with(())
            .given(vec![submitted(), ReviewEvent::ReviewArchived { id: id() }])
            .when(ReviewCommand::Archive)
            .then_expect_error(ReviewError::NotFound);
    }

    #[test]
    fn archiving_an_unknown_review_is_refused() {
        ReviewTest::with(())
            .given_no_previous_events()
            .when(ReviewCommand::Archive)
            .then_expect_error(ReviewError::NotFound);
    }

    #[test]
    fn an_archived_visit_review_still_blocks_a_second_review() {
        ReviewTest::with(())
            .given(vec![submitted(), ReviewEvent::ReviewArchived { id: id() }])
            .when(submit(text(), Some(visit(BookingStatus::Completed))))
            .then_expect_error(ReviewError::AlreadyReviewed);
    }

    #[test]
    fn statuses_parse() {
        assert_eq!(ReviewStatus::parse("approved"), Ok(ReviewStatus::Approved));
        assert!(ReviewStatus::parse("gone").is_err());
    }
}
