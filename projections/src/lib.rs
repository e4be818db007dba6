//! The read side of salon. Map:
//! - `db`: the read database (sqlx `Any`, one code path for SQLite and PostgreSQL).
//! - `log`: reading the event log in order from a checkpoint, without skipping late commits.
//! - `apply`, `summary`: what each projection does with each event.
//! - `runner`: following the log, checkpoints, read-your-writes waits.
//! - `replay`: rebuilding read models into shadow tables and swapping them in; verifying them.
//! - `queries`: what the API and pages read (`calendars`, `webhooks`, `clients`, `reviews`:
//!   those resources' reads; `clients` and `reviews` also hold their projections' writes).
//!
//! It never imports the write side; the two meet at the log.

pub mod apply;
pub mod calendars;
pub mod clients;
pub mod dashboard;
pub mod history;
pub mod list;
pub mod queries;
pub mod replay;
pub mod reviews;
pub mod runner;
pub mod summary;
pub mod webhooks;
pub mod writer;

/// The read database and the log reader live with the schema (`migrations`), where the write
/// side's reactors reach them too.
pub use migrations::{db, log};

pub use apply::Projection;
pub use db::ReadDb;
pub use runner::Projections;
