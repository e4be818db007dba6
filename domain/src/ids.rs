//! Identifier newtypes. Every id is a UUID on the wire; the newtype keeps a stylist id from being
//! passed where a service id is expected.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

/// Why a piece of raw input could not become a domain value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ParseError {
    pub field: &'static str,
    pub message: String,
}

impl ParseError {
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            field,
            message: message.into(),
        }
    }
}

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident, $field:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A fresh, time-ordered id (UUID v7).
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }
            pub fn from_uuid(id: Uuid) -> Self {
                Self(id)
            }
            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
            pub fn parse(raw: &str) -> Result<Self, ParseError> {
                Uuid::parse_str(raw.trim())
                    .map(Self)
                    .map_err(|_| ParseError::new($field, format!("{raw:?} is not a UUID")))
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self(Uuid::nil())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = ParseError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }
    };
}

uuid_id!(
    /// A service on the menu (a cut, a retwist…).
    ServiceId, "service"
);
uuid_id!(
    /// A stylist working at the salon.
    StylistId, "stylist"
);
uuid_id!(
    /// One booking, from request to completion.
    BookingId, "booking"
);
uuid_id!(
    /// An API token (the secret itself is never an id).
    TokenId, "token"
);
uuid_id!(
    /// One period of time off in a stylist's calendar.
    TimeOffId, "time_off"
);
uuid_id!(
    /// An external calendar (CalDAV or Google) whose busy time blocks a stylist's slots.
    CalendarSourceId, "calendar_source"
);
uuid_id!(
    /// An integrator's outgoing webhook subscription (its signing secret is never an event).
    WebhookSubscriptionId, "webhook"
);

uuid_id!(
    /// A client waiting for a time to open up on a full day.
    WaitlistEntryId, "waitlist_entry"
);

uuid_id!(
    /// A client of the salon, identified by their normalised email (see [`ClientId::for_email`]).
    ClientId, "client"
);

uuid_id!(
    /// A client's review of a visit (see [`ReviewId::for_booking`]).
    ReviewId, "review"
);

/// Namespace for client ids derived from normalised emails (UUID v5). A fixed random UUID.
const CLIENT_NAMESPACE: Uuid = Uuid::from_u128(0x2f7e_91c4_5a3b_4d6e_9c18_7b2a_0e5f_3d41);
/// Namespace for review ids derived from booking ids (UUID v5). A fixed random UUID.
const REVIEW_NAMESPACE: Uuid = Uuid::from_u128(0x8d3a_5e17_c2b9_4f60_a4e1_6b7c_9d02_1f85);

impl ClientId {
    /// The client an email address stands for. Bookings carry only contact details, so the
    /// clients read model learns clients from them; deriving the id from the normalised email
    /// (trimmed, lower-cased) gives a booking's client and a client registered by hand the same
    /// id, on every server and in every replay.
    pub fn for_email(email: &crate::values::Email) -> Self {
        Self(Uuid::new_v5(&CLIENT_NAMESPACE, email.identity().as_bytes()))
    }
}

impl ReviewId {
    /// The review of a booking: one id per booking makes "one review per booking" a property of
    /// the log (a second review's first event conflicts with the first's).
    pub fn for_booking(booking: BookingId) -> Self {
        Self(Uuid::new_v5(&REVIEW_NAMESPACE, booking.0.as_bytes()))
    }
}

/// Namespace for booking ids derived from idempotency keys (UUID v5). A fixed random UUID.
const IDEMPOTENCY_NAMESPACE: Uuid = Uuid::from_u128(0x6a1c_3f4e_9b2d_4c8a_8e71_5d0f_2b9c_7a13);

impl BookingId {
    /// The booking id that an idempotency key stands for. Deriving the id from the key makes
    /// "same key, same booking" a property of the event log itself: a second append of the
    /// booking's first event conflicts on its sequence number, on any server.
    pub fn from_idempotency_key(key: &str) -> Self {
        Self(Uuid::new_v5(&IDEMPOTENCY_NAMESPACE, key.as_bytes()))
    }
}

/// The salon is a singleton aggregate; this is its id.
pub const SALON_ID: &str = "salon";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_and_reject() {
        let id = StylistId::new();
        assert_eq!(StylistId::parse(&id.to_string()), Ok(id));
        assert_eq!(StylistId::parse("nope").unwrap_err().field, "stylist");
    }

    #[test]
    fn idempotency_key_maps_to_one_booking() {
        assert_eq!(
            BookingId::from_idempotency_key("k1"),
            BookingId::from_idempotency_key("k1")
        );
        assert_ne!(
            BookingId::from_idempotency_key("k1"),
            BookingId::from_idempotency_key("k2")
        );
    }
}
