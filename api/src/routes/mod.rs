pub mod availability;
pub mod bookings;
pub mod catalog;
pub mod health;
