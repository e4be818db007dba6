//! External calendars: reading busy time from CalDAV and Google, syncing it into the stylists'
//! days, and the iCalendar salon writes.

pub mod ical;
