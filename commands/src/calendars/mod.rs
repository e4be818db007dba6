//! External calendars: reading busy time from CalDAV and Google, syncing it into the stylists'
//! days, writing confirmed bookings back, and the iCalendar salon writes.
//!
//! - `ical`: busy time out of iCalendar data (recurrences expanded), VEVENTs in.
//! - `caldav`, `google`: the two adapters.
//! - `seal`: credentials encrypted at rest.
//! - `sync`: the job that pulls busy time on a schedule and on demand.

pub mod caldav;
pub mod google;
pub mod ical;
pub mod seal;
pub mod sync;
pub mod writeback;

pub use seal::{SealError, Sealer};
pub use sync::{CalendarSettings, CalendarSync, SyncError, SyncReport};
pub use writeback::WriteBackReport;

/// Why a source could not be read. `config` errors need the owner (wrong URL, password,
/// calendar id); `transient` ones heal by themselves (timeouts, 5xx, quota).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SourceError {
    pub message: String,
    pub transient: bool,
}

impl SourceError {
    pub fn config(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            transient: false,
        }
    }
    pub fn transient(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            transient: true,
        }
    }
}

/// rustls needs a process-wide crypto provider; salon uses ring (no C toolchain needed).
pub(crate) fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The HTTP client both adapters use: hyper over rustls (ring, webpki roots), HTTP/1.1.
pub(crate) type Https = hyper_util::client::legacy::Client<
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
    String,
>;

pub(crate) fn https_client() -> Https {
    install_crypto_provider();
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_webpki_roots()
        .https_or_http()
        .enable_http1()
        .build();
    hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build(https)
}
