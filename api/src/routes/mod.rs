pub mod availability;
pub mod bookings;
pub mod calendars;
pub mod catalog;
pub mod health;
pub mod stream;
