//! Reviews on the write side: a review of a visit is decided on the booking as the log holds it
//! now (is it completed? whose visit was it?), not on a read model that may lag behind.

use crate::bus::{CommandBus, CommandError, Committed};
use cqrs_es::persist::PersistenceError;
use domain::ids::{BookingId, ClientId, ReviewId, ServiceId, StylistId};
use domain::metadata::EventMetadata;
use domain::review::{Review, ReviewCommand, ReviewError, ReviewText, Visit};

#[derive(Debug, thiserror::Error)]
pub enum ReviewSubmitError {
    #[error("no such booking")]
    BookingNotFound,
    #[error(transparent)]
    Command(#[from] CommandError<ReviewError>),
    #[error("event store: {0}")]
    Store(#[from] PersistenceError),
}

/// What a new review is about: a booking (the usual case), or, for a review the salon enters
/// without one, a stylist and optionally a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reviewed {
    Booking(BookingId),
    Stylist {
        stylist: StylistId,
        service: Option<ServiceId>,
    },
}

impl CommandBus {
    /// Records a review. A booking's review has the id [`ReviewId::for_booking`], so a second
    /// one is refused (`AlreadyReviewed`) however it arrives.
    pub async fn submit_review(
        &self,
        reviewed: Reviewed,
        text: ReviewText,
        metadata: &EventMetadata,
    ) -> Result<(Committed, ReviewId), ReviewSubmitError> {
        let (id, visit, stylist, service) = match reviewed {
            Reviewed::Booking(booking) => {
                let loaded = self
                    .booking(booking)
                    .await?
                    .ok_or(ReviewSubmitError::BookingNotFound)?;
                let details = loaded
                    .state
                    .details
                    .as_ref()
                    .ok_or(ReviewSubmitError::BookingNotFound)?;
                let visit = Visit {
                    booking,
                    status: loaded.state.status,
                    stylist: details.stylist,
                    service: details.service,
                    client: ClientId::for_email(&details.client.email),
                };
                (ReviewId::for_booking(booking), Some(visit), None, None)
            }
            Reviewed::Stylist { stylist, service } => {
                (ReviewId::new(), None, Some(stylist), service)
            }
        };
        let command = ReviewCommand::Submit {
            id,
            text,
            visit,
            stylist,
            service,
        };
        let (committed, _) = self
            .execute::<Review>(&id.to_string(), command, metadata)
            .await?;
        Ok((committed, id))
    }
}
