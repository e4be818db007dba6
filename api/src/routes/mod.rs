pub mod availability;
pub mod bookings;
pub mod calendars;
pub mod catalog;
pub mod health;
pub mod manage;
pub mod stream;
pub mod webhooks;
