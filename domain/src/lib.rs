//! The salon domain, pure: aggregates (cqrs-es `Aggregate`), their commands and events, value
//! types parsed at the edge, and the availability rule. No I/O lives here: no database, no HTTP,
//! no clock (times come in as arguments), so every rule is tested as given events, when command,
//! then events.
//!
//! Map:
//! - `ids`, `values`, `schedule`: parsed newtypes (ids, email, phone, money, hours, policy).
//! - `availability`: free slots from hours, breaks, time off and busy time, DST-correct.
//! - `salon`, `service`, `stylist`, `token`: the catalog and settings aggregates.
//! - `stylist_day`: the consistency boundary against double booking.
//! - `booking`: a booking's lifecycle and deposit.
//! - `client`, `review`: the salon's clients (one per email) and their reviews of visits.
//! - `picture`: the salon's logo, stylists' photos and services' pictures (which stored
//!   picture each shows).
//! - `webhook`: integrators' outgoing webhook subscriptions and which events they may receive.
//! - `metadata`: the audit fields every event carries.

pub mod availability;
pub mod booking;
pub mod calendar_source;
pub mod client;
pub mod ids;
pub mod metadata;
pub mod money;
pub mod picture;
pub mod review;
pub mod salon;
pub mod schedule;
pub mod service;
pub mod stylist;
pub mod stylist_day;
pub mod token;
pub mod values;
pub mod waitlist;
pub mod webhook;

pub use ids::ParseError;
