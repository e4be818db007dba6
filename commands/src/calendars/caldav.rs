//! CalDAV (RFC 4791) through libdav: discovery from a principal, a calendar home or a calendar
//! URL; `calendar-query` REPORTs bounded by a time range; ETags so that unchanged resources are
//! not downloaded again; PUT and DELETE for the bookings salon writes back.

use super::ical::{self, ResourceBusy};
use super::SourceError;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use domain::availability::Interval;
use http::header::{HeaderValue, AUTHORIZATION};
use http::{Request, Uri};
use hyper_util::client::legacy::ResponseFuture;
use libdav::caldav::{
    CalendarComponent, FindCalendarHomeSet, FindCalendars, GetCalendarResources,
    ListCalendarResources, TimeRange,
};
use libdav::dav::{Delete, PutResource, WebDavClient, WebDavError};
use libdav::CalDavClient;
use std::collections::HashMap;
use std::task::{Context, Poll};

/// The HTTP client libdav drives: hyper over rustls, adding Basic credentials when there are
/// some. The header value is marked sensitive so that no debug output shows it.
#[derive(Clone)]
pub struct HttpClient {
    inner: super::Https,
    authorization: Option<HeaderValue>,
}

impl tower::Service<Request<String>> for HttpClient {
    type Response = http::Response<hyper::body::Incoming>;
    type Error = hyper_util::client::legacy::Error;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        tower::Service::poll_ready(&mut self.inner, cx)
    }

    fn call(&mut self, mut req: Request<String>) -> Self::Future {
        if let Some(auth) = &self.authorization {
            req.headers_mut().insert(AUTHORIZATION, auth.clone());
        }
        tower::Service::call(&mut self.inner, req)
    }
}

fn http_client(username: Option<&str>, password: Option<&str>) -> Result<HttpClient, SourceError> {
    let inner = super::https_client();
    let authorization = match username {
        Some(user) if !user.is_empty() => {
            use base64::Engine;
            let raw = format!("{user}:{}", password.unwrap_or(""));
            let encoded = base64::engine::general_purpose::STANDARD.encode(raw);
            let mut value = HeaderValue::from_str(&format!("Basic {encoded}")).map_err(|_| {
                SourceError::config("username or password has characters HTTP cannot carry")
            })?;
            value.set_sensitive(true);
            Some(value)
        }
        _ => None,
    };
    Ok(HttpClient {
        inner,
        authorization,
    })
}

fn dav_error<E: std::error::Error>(what: &str, e: WebDavError<E>) -> SourceError {
    match e {
        WebDavError::BadStatusCode(code) if code.as_u16() == 401 || code.as_u16() == 403 => {
            SourceError::config(format!(
                "{what}: the server refused the credentials ({code})"
            ))
        }
        WebDavError::BadStatusCode(code) => {
            SourceError::transient(format!("{what}: the server answered {code}"))
        }
        WebDavError::Request(e) => SourceError::transient(format!("{what}: {e}")),
        other => SourceError::transient(format!("{what}: {other}")),
    }
}

/// One CalDAV account or calendar, with what it has already downloaded.
pub struct CaldavCalendar {
    client: CalDavClient<HttpClient>,
    /// Calendar collection paths, found once and kept.
    calendars: Option<Vec<String>>,
    /// href → (etag, data) of every resource seen in the last sync.
    resources: HashMap<String, (String, String)>,
}

/// What one sync read.
#[derive(Debug, Default)]
pub struct CaldavRead {
    pub busy: Vec<Interval>,
    pub resources: usize,
    pub downloaded: usize,
    pub unreadable: usize,
}

impl CaldavCalendar {
    pub fn new(
        url: &str,
        username: Option<&str>,
        password: Option<&str>,
    ) -> Result<Self, SourceError> {
        let uri: Uri = url
            .trim()
            .parse()
            .map_err(|_| SourceError::config("the CalDAV URL is not a valid URL"))?;
        if uri.host().is_none() {
            return Err(SourceError::config("the CalDAV URL has no host"));
        }
        let webdav = WebDavClient::new(uri, http_client(username, password)?);
        Ok(Self {
            client: CalDavClient::new(webdav),
            calendars: None,
            resources: HashMap::new(),
        })
    }

    fn base_path(&self) -> String {
        self.client
            .base_url()
            .path_and_query()
            .map_or("/".to_string(), |p| p.as_str().to_string())
    }

    /// Calendar collections at the URL: the calendar itself, the calendars of a home set, or
    /// those of the principal the server names for these credentials.
    pub async fn discover(&mut self) -> Result<Vec<String>, SourceError> {
        if let Some(found) = &self.calendars {
            return Ok(found.clone());
        }
        let base = self.base_path();
        let direct = self
            .client
            .request(FindCalendars::new(&base))
            .await
            .map_err(|e| dav_error("finding calendars", e))?;
        let mut found: Vec<String> = direct.calendars.into_iter().map(|c| c.href).collect();
        if found.is_empty() {
            let principal = self
                .client
                .find_current_user_principal()
                .await
                .map_err(|e| SourceError::transient(format!("finding the principal: {e}")))?
                .ok_or_else(|| {
                    SourceError::config(
                        "the server names no principal and the URL holds no calendar",
                    )
                })?;
            let homes = self
                .client
                .request(FindCalendarHomeSet::new(principal.path()))
                .await
                .map_err(|e| dav_error("finding the calendar home", e))?;
            for home in homes.home_sets {
                let calendars = self
                    .client
                    .request(FindCalendars::new(home.path()))
                    .await
                    .map_err(|e| dav_error("listing calendars", e))?;
                found.extend(calendars.calendars.into_iter().map(|c| c.href));
            }
        }
        found.sort();
        found.dedup();
        if found.is_empty() {
            return Err(SourceError::config("no calendar found at that URL"));
        }
        self.calendars = Some(found.clone());
        Ok(found)
    }

    /// Busy time in `window` across the source's calendars. Resources whose ETag did not change
    /// since the last sync are not downloaded again.
    pub async fn read(&mut self, tz: Tz, window: Interval) -> Result<CaldavRead, SourceError> {
        let calendars = self.discover().await?;
        let range = TimeRange::Between(
            stamp(window.start)
                .parse()
                .map_err(|_| SourceError::config("bad window"))?,
            stamp(window.end)
                .parse()
                .map_err(|_| SourceError::config("bad window"))?,
        );
        let mut out = CaldavRead::default();
        let mut seen: HashMap<String, (String, String)> = HashMap::new();
        for calendar in &calendars {
            let listed = self
                .client
                .request(
                    ListCalendarResources::new(calendar)
                        .with_component_and_time_range(CalendarComponent::VEvent, range.clone()),
                )
                .await
                .map_err(|e| dav_error("querying events", e))?;
            let mut wanted = Vec::new();
            for r in listed.resources {
                let etag = r.etag.unwrap_or_default();
                match self.resources.get(&r.href) {
                    Some((known, data)) if !etag.is_empty() && *known == etag => {
                        seen.insert(r.href, (etag, data.clone()));
                    }
                    _ => wanted.push(r.href),
                }
            }
            if !wanted.is_empty() {
                let fetched = self
                    .client
                    .request(GetCalendarResources::new(calendar).with_hrefs(&wanted))
                    .await
                    .map_err(|e| dav_error("downloading events", e))?;
                for r in fetched.resources {
                    match r.content {
                        Ok(content) => {
                            out.downloaded += 1;
                            seen.insert(r.href, (content.etag, content.data));
                        }
                        Err(_) => out.unreadable += 1,
                    }
                }
            }
        }
        for (_, data) in seen.values() {
            let ResourceBusy { busy, errors } = ical::busy_in_resource(data, tz, window);
            out.busy.extend(busy);
            out.unreadable += errors;
        }
        out.resources = seen.len();
        self.resources = seen;
        Ok(out)
    }

    /// Writes (creates or replaces) the event of a booking in the first calendar of the source.
    /// Returns the resource's path.
    pub async fn put_event(&mut self, uid: &str, data: &str) -> Result<String, SourceError> {
        let calendars = self.discover().await?;
        let calendar = calendars
            .first()
            .ok_or_else(|| SourceError::config("no calendar to write into"))?;
        let href = format!("{}{uid}.ics", with_slash(calendar));
        let content_type = "text/calendar; charset=utf-8";
        let created = self
            .client
            .request(PutResource::new(&href).create(data, content_type))
            .await;
        match created {
            Ok(_) => Ok(href),
            Err(WebDavError::PreconditionFailed(_)) | Err(WebDavError::BadStatusCode(_)) => {
                // Already there (a retry, or a reschedule): replace it at its current ETag.
                let etag = self
                    .client
                    .request(libdav::dav::GetEtag::new(&href))
                    .await
                    .map_err(|e| dav_error("reading the event's ETag", e))?
                    .etag;
                self.client
                    .request(PutResource::new(&href).update(data, content_type, etag))
                    .await
                    .map_err(|e| dav_error("updating the event", e))?;
                Ok(href)
            }
            Err(e) => Err(dav_error("writing the event", e)),
        }
    }

    /// Deletes the event of a booking; an event already gone is not an error.
    pub async fn delete_event(&mut self, uid: &str) -> Result<(), SourceError> {
        let calendars = self.discover().await?;
        let Some(calendar) = calendars.first() else {
            return Ok(());
        };
        let href = format!("{}{uid}.ics", with_slash(calendar));
        match self.client.request(Delete::new(&href).force()).await {
            Ok(_) => Ok(()),
            Err(WebDavError::BadStatusCode(code)) if code.as_u16() == 404 => Ok(()),
            Err(e) => Err(dav_error("deleting the event", e)),
        }
    }
}

fn with_slash(path: &str) -> String {
    if path.ends_with('/') {
        path.to_string()
    } else {
        format!("{path}/")
    }
}

fn stamp(t: DateTime<Utc>) -> String {
    t.format("%Y%m%dT%H%M%SZ").to_string()
}
