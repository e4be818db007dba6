//! The write side of salon. Map:
//! - `store`: the event log on SQLite (our cqrs-es repository on sqlx) and PostgreSQL
//!   (postgres-es), behind one `Store` with an atomic multi-aggregate append.
//! - `bus`: the command executor (load, decide, append with audit metadata, retry on conflict).
//! - `booking`: the booking path across `StylistDay` and `Booking`.
//! - `lifecycle`: payment, expiry, cancellation and reschedule of a placed booking.
//! - `payments`: Stripe Checkout, refunds and the webhook receiver.
//! - `reactors`: hold expiry, mail, refunds, outgoing webhooks: following the log and acting on
//!   the world.
//! - `webhooks`: integrators' webhook subscriptions and their signing secrets.
//! - `links`: signed links that let clients manage their bookings and review their visits.
//! - `reviews`: a review decided on the booking it is about.
//! - `clients`: forgetting a client (their key deleted, `ClientForgotten` recorded).
//! - `pictures`: uploads checked by content, re-encoded without metadata, stored by hash, and
//!   shown by the logo, a stylist or a service.
//! - `tokens`, `demo`: API token creation and demo data.
//! - `import`: a client list from another booking product (CSV), previewed, then committed.
//!
//! It never imports the read side; the two meet at the log.

pub mod booking;
pub mod bus;
pub mod calendars;
pub mod clients;
pub mod demo;
pub mod import;
pub mod lifecycle;
pub mod links;
pub mod payments;
pub mod pictures;
pub mod reactors;
pub mod reviews;
pub mod store;
pub mod tokens;
pub mod waitlist;
pub mod webhooks;

pub use bus::{CommandBus, CommandError, Committed};
pub use store::Store;
