//! Email over SMTP (lettre): the client's confirmation with an `.ics`, the owner's alert, the
//! reminder before the appointment, cancellation, move, expired-hold and refund notices, and
//! the "how was it?" email with the review link after a completed visit.
//!
//! Messages are written when they are sent, from the booking as it is then, so a reminder for
//! an appointment that was moved or cancelled meanwhile is not sent. Each message has a
//! Message-ID derived from its outbox item: a copy sent again after a crash is recognisable.

use super::plan::{kind, MAIL};
use super::{Attempt, Due, Handler};
use crate::bus::CommandBus;
use crate::calendars::ical::{calendar, AppointmentEvent};
use crate::links::LinkSigner;
use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use domain::booking::{Booking, BookingStatus, DepositStatus};
use domain::ids::{BookingId, WaitlistEntryId};
use domain::service::Service;
use domain::stylist::Stylist;
use futures::future::BoxFuture;
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::fmt;
use std::time::Duration as StdDuration;

/// Mail settings from the environment. `smtp_url` may hold a password: `Debug` hides it.
#[derive(Clone)]
pub struct MailSettings {
    /// `SMTP_URL` (`smtp://user:pass@host:port`, `smtps://…`); without it nothing is sent.
    pub smtp_url: Option<String>,
    /// `SALON_MAIL_FROM`.
    pub from: String,
    /// `SALON_OWNER_EMAIL` and `SALON_PARTNER_EMAIL`: who gets booking alerts.
    pub owners: Vec<String>,
    /// The booking site, for the client's manage link.
    pub public_url: String,
}

impl fmt::Debug for MailSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MailSettings")
            .field("smtp_url", &self.smtp_url.as_ref().map(|_| "***"))
            .field("from", &self.from)
            .field("owners", &self.owners)
            .field("public_url", &self.public_url)
            .finish()
    }
}

impl Default for MailSettings {
    fn default() -> Self {
        Self {
            smtp_url: None,
            from: "salon@localhost".into(),
            owners: Vec::new(),
            public_url: "http://localhost:8080".into(),
        }
    }
}

pub struct Mail {
    bus: CommandBus,
    transport: Option<AsyncSmtpTransport<Tokio1Executor>>,
    from: Mailbox,
    owners: Vec<Mailbox>,
    public_url: String,
    links: LinkSigner,
}

/// Everything a message says about one booking.
struct Context {
    id: BookingId,
    booking: Booking,
    salon: String,
    tz: Tz,
    service: String,
    stylist: String,
}

impl Context {
    fn when(&self, at: DateTime<Utc>) -> String {
        at.with_timezone(&self.tz)
            .format("%A %-d %B %Y at %H:%M")
            .to_string()
    }
    fn start(&self) -> DateTime<Utc> {
        self.booking.start().unwrap_or_default()
    }
    fn client(&self) -> Option<(&str, &str)> {
        self.booking
            .details
            .as_ref()
            .map(|d| (d.client.name.as_str(), d.client.email.as_str()))
    }
    fn money(&self, cents: i64) -> String {
        let currency = self
            .booking
            .details
            .as_ref()
            .map(|d| d.currency.as_str().to_uppercase())
            .unwrap_or_default();
        format!("{}.{:02} {currency}", cents / 100, cents % 100)
    }
    fn ics(&self, cancelled: bool, sequence: u32) -> String {
        let d = self.booking.details.as_ref();
        let event = AppointmentEvent {
            booking: self.id.to_string(),
            start: self.start(),
            end: d.map(|d| d.end).unwrap_or_default(),
            summary: format!("{} with {} at {}", self.service, self.stylist, self.salon),
            description: String::new(),
            location: Some(self.salon.clone()),
            sequence,
            cancelled,
        };
        calendar(&self.salon, &[event], Utc::now())
    }
}

/// A message before addressing.
struct Draft {
    to_client: bool,
    subject: String,
    body: String,
    ics: Option<String>,
}

impl Mail {
    pub fn new(
        bus: CommandBus,
        settings: &MailSettings,
        links: LinkSigner,
    ) -> Result<Self, String> {
        let transport = match &settings.smtp_url {
            Some(url) => Some(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .map_err(|_| "SMTP_URL is not a valid smtp:// or smtps:// URL".to_string())?
                    .timeout(Some(StdDuration::from_secs(15)))
                    .build(),
            ),
            None => None,
        };
        let from = settings
            .from
            .parse()
            .map_err(|_| "SALON_MAIL_FROM is not an email address".to_string())?;
        let owners = settings
            .owners
            .iter()
            .map(|o| {
                o.parse().map_err(|_| {
                    format!("{o:?} (SALON_OWNER_EMAIL/SALON_PARTNER_EMAIL) is not an email address")
                })
            })
            .collect::<Result<Vec<Mailbox>, String>>()?;
        Ok(Self {
            bus,
            transport,
            from,
            owners,
            public_url: settings.public_url.clone(),
            links,
        })
    }

    async fn context(&self, id: BookingId) -> Result<Option<Context>, String> {
        let Some(booking) = self.bus.booking(id).await.map_err(|e| e.to_string())? else {
            return Ok(None);
        };
        let Some(details) = booking.state.details.clone() else {
            return Ok(None);
        };
        let salon = self.bus.salon().await.map_err(|e| e.to_string())?;
        let service = self
            .bus
            .load::<Service>(&details.service.to_string())
            .await
            .map_err(|e| e.to_string())?
            .state
            .details
            .map(|d| d.name)
            .unwrap_or_else(|| "Appointment".into());
        let stylist = self
            .bus
            .load::<Stylist>(&details.stylist.to_string())
            .await
            .map_err(|e| e.to_string())?
            .state
            .name;
        Ok(Some(Context {
            id,
            booking: booking.state,
            salon: if salon.name.is_empty() {
                "the salon".into()
            } else {
                salon.name
            },
            tz: salon.time_zone,
            service,
            stylist,
        }))
    }

    /// What to send for `item`, or why nothing is sent.
    fn draft(&self, item: &Due, c: &Context) -> Result<Draft, String> {
        let (name, _) = c.client().ok_or("booking without a client")?;
        let when = c.when(c.start());
        let manage = self.links.manage_url(&self.public_url, c.id);
        let what = format!("{} with {}", c.service, c.stylist);
        let b = &c.booking;
        let client = |subject: String, body: String, ics: Option<String>| Draft {
            to_client: true,
            subject,
            body,
            ics,
        };
        let owner = |subject: String, body: String| Draft {
            to_client: false,
            subject,
            body,
            ics: None,
        };
        let deposit_line = match (b.deposit, b.deposit_paid_cents) {
            (DepositStatus::Paid, Some(cents)) => {
                format!("\nDeposit paid: {}.", c.money(cents.get()))
            }
            _ => String::new(),
        };
        Ok(match item.kind.as_str() {
            kind::CONFIRMATION => client(
                format!("Booked: {what}, {when}"),
                format!(
                    "Hello {name},\n\nyour appointment at {} is confirmed:\n\n  {what}\n  {when}\n{deposit_line}\n\
                     The attached calendar file adds it to your calendar.\n\n\
                     To cancel or move it, use this link:\n{manage}\n",
                    c.salon
                ),
                Some(c.ics(false, 0)),
            ),
            kind::DEPOSIT_DUE => {
                let (Some(checkout), Some(until)) = (b.checkout.as_ref(), b.hold_expires_at) else {
                    return Err("not sent: no payment page".into());
                };
                if b.status != BookingStatus::Held || b.deposit != DepositStatus::Pending {
                    return Err(format!("not sent: the booking is {} and its deposit {}", b.status, b.deposit.as_str()));
                }
                let deposit = b
                    .details
                    .as_ref()
                    .map(|d| c.money(d.deposit_cents.get()))
                    .unwrap_or_default();
                client(
                    format!("Pay the deposit to confirm: {what}, {when}"),
                    format!(
                        "Hello {name},\n\nwe are holding this time for you at {}:\n\n  {what}\n  {when}\n\n\
                         To confirm it, pay the deposit of {deposit} before {}:\n{}\n\n\
                         If it is not paid by then, the time is released. Manage the booking here:\n{manage}\n",
                        c.salon,
                        c.when(until),
                        checkout.url
                    ),
                    None,
                )
            }
            kind::OWNER_ALERT => {
                let d = b.details.as_ref().ok_or("booking without details")?;
                owner(
                    format!("New booking: {name}, {what}, {when}"),
                    format!(
                        "New booking {}\n\n  Client: {name} <{}>, {}\n  {what}\n  {when}\n  Notes: {}{deposit_line}\n",
                        c.id,
                        d.client.email.as_str(),
                        d.client.phone.as_str(),
                        d.notes.as_deref().unwrap_or("none"),
                    ),
                )
            }
            kind::REMINDER => {
                let planned = item.payload.get("start").and_then(|s| s.as_str());
                let planned = planned.and_then(|s| DateTime::parse_from_rfc3339(s).ok());
                if b.status != BookingStatus::Confirmed {
                    return Err(format!("not sent: the booking is {}", b.status));
                }
                if planned.map(|p| p.with_timezone(&Utc)) != b.start() {
                    return Err("not sent: the appointment was moved".into());
                }
                client(
                    format!("Reminder: {what}, {when}"),
                    format!(
                        "Hello {name},\n\na reminder of your appointment at {}:\n\n  {what}\n  {when}\n\n\
                         Cannot make it? Cancel or move it here:\n{manage}\n",
                        c.salon
                    ),
                    None,
                )
            }
            kind::CANCELLATION => {
                let money = if b.refund_pending || b.deposit == DepositStatus::Refunded {
                    b.deposit_paid_cents
                        .map(|c2| format!("\nYour deposit of {} is being refunded.", c.money(c2.get())))
                        .unwrap_or_default()
                } else {
                    match (b.deposit, b.deposit_paid_cents) {
                        (DepositStatus::Paid, Some(c2)) => format!(
                            "\nAs the cancellation came within the salon's cancellation window, the deposit of {} is kept.",
                            c.money(c2.get())
                        ),
                        _ => String::new(),
                    }
                };
                client(
                    format!("Cancelled: {what}, {when}"),
                    format!(
                        "Hello {name},\n\nyour appointment at {} is cancelled:\n\n  {what}\n  {when}\n{money}\n\n\
                         You are welcome to book again at {}\n",
                        c.salon, self.public_url
                    ),
                    Some(c.ics(true, 1)),
                )
            }
            kind::OWNER_CANCELLATION => owner(
                format!("Cancelled: {name}, {what}, {when}"),
                format!("Booking {} was cancelled.\n\n  {name}\n  {what}\n  {when}\n", c.id),
            ),
            kind::HOLD_EXPIRED => client(
                format!("Not booked: {what}, {when}"),
                format!(
                    "Hello {name},\n\nwe did not receive the deposit for your appointment at {} in time, \
                     so the time was released:\n\n  {what}\n  {when}\n\nYou are welcome to book again at {}\n",
                    c.salon, self.public_url
                ),
                None,
            ),
            kind::RESCHEDULED => {
                let from = item
                    .payload
                    .get("from_start")
                    .and_then(|s| s.as_str())
                    .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
                    .map(|t| c.when(t.with_timezone(&Utc)))
                    .unwrap_or_default();
                client(
                    format!("Moved: {what}, now {when}"),
                    format!(
                        "Hello {name},\n\nyour appointment at {} has moved:\n\n  {what}\n  from {from}\n  to   {when}\n\n\
                         The attached calendar file updates your calendar.\n\nManage it here:\n{manage}\n",
                        c.salon
                    ),
                    Some(c.ics(false, u32::try_from(item.position).unwrap_or(1))),
                )
            }
            kind::REFUNDED => {
                let cents = item
                    .payload
                    .get("amount_cents")
                    .and_then(|v| v.as_i64())
                    .unwrap_or(0);
                client(
                    format!("Refunded: your deposit for {what}"),
                    format!(
                        "Hello {name},\n\nyour deposit of {} for {what} ({when}) has been refunded. \
                         It may take a few days to show on your statement.\n",
                        c.money(cents)
                    ),
                    None,
                )
            }
            kind::REVIEW_REQUEST => {
                if b.status != BookingStatus::Completed {
                    return Err(format!("not sent: the booking is {}", b.status));
                }
                let review = self.links.review_url(&self.public_url, c.id);
                client(
                    format!("How was it? {what}"),
                    format!(
                        "Hello {name},\n\nthank you for visiting {}:\n\n  {what}\n  {when}\n\n\
                         How was it? Tell us and other clients in a short review (one per visit; \
                         the salon reads each one before it is shown):\n{review}\n",
                        c.salon
                    ),
                    None,
                )
            }
            other => return Err(format!("unknown mail kind {other}")),
        })
    }

    fn message(&self, item: &Due, to: Vec<Mailbox>, draft: Draft) -> Result<Message, String> {
        let tag: String = item
            .id
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '.'
                }
            })
            .collect();
        let mut builder = Message::builder()
            .from(self.from.clone())
            .subject(draft.subject)
            .message_id(Some(format!("<{tag}@salon>")));
        for mailbox in to {
            builder = builder.to(mailbox);
        }
        let text = SinglePart::builder()
            .header(ContentType::TEXT_PLAIN)
            .body(draft.body);
        let built = match draft.ics {
            Some(ics) => {
                let content_type =
                    ContentType::parse("text/calendar; charset=utf-8; method=PUBLISH")
                        .map_err(|e| e.to_string())?;
                let attachment = Attachment::new("appointment.ics".into()).body(ics, content_type);
                builder.multipart(MultiPart::mixed().singlepart(text).singlepart(attachment))
            }
            None => builder.singlepart(text),
        };
        built.map_err(|e| format!("building the email: {e}"))
    }

    /// A time opened up on a day a waiting client wanted: tell them, unless it is gone again
    /// or they left the list.
    async fn offer(&self, item: &Due, transport: &AsyncSmtpTransport<Tokio1Executor>) -> Attempt {
        let entry_id = item
            .payload
            .get("entry")
            .and_then(|v| v.as_str())
            .and_then(|v| WaitlistEntryId::parse(v).ok());
        let date = item
            .payload
            .get("date")
            .and_then(|v| v.as_str())
            .and_then(|v| NaiveDate::parse_from_str(v, "%Y-%m-%d").ok());
        let (Some(entry_id), Some(date)) = (entry_id, date) else {
            return Attempt::Done("not sent: unreadable offer".into());
        };
        let list = match self.bus.waitlist(date).await {
            Ok(l) => l,
            Err(e) => return Attempt::Retry(e.to_string()),
        };
        let Some(entry) = list.entry(entry_id).cloned() else {
            return Attempt::Done("not sent: no longer waiting".into());
        };
        let slots = match self
            .bus
            .free_slots_on(entry.service, entry.stylist, date, Utc::now())
            .await
        {
            Ok(s) => s,
            Err(crate::waitlist::WaitlistFailure::Store(e)) => {
                return Attempt::Retry(e.to_string())
            }
            Err(e) => return Attempt::Done(format!("not sent: {e}")),
        };
        if slots.is_empty() {
            return Attempt::Done("not sent: the time was taken again".into());
        }
        let salon = match self.bus.salon().await {
            Ok(s) => s,
            Err(e) => return Attempt::Retry(e.to_string()),
        };
        let service = match self.bus.load::<Service>(&entry.service.to_string()).await {
            Ok(s) => s.state.details.map(|d| d.name).unwrap_or_default(),
            Err(e) => return Attempt::Retry(e.to_string()),
        };
        let mut times = Vec::new();
        for slot in slots.iter().take(6) {
            let who = match self.bus.load::<Stylist>(&slot.stylist.to_string()).await {
                Ok(s) => s.state.name,
                Err(e) => return Attempt::Retry(e.to_string()),
            };
            times.push(format!("  {} with {who}", slot.start.format("%H:%M")));
        }
        let base = self.public_url.trim_end_matches('/');
        let mut book = format!("{base}/?service={}&date={date}", entry.service);
        if let Some(stylist) = entry.stylist {
            book.push_str(&format!("&stylist={stylist}"));
        }
        let leave = format!(
            "{base}/api/v1/waitlist/{}/leave?date={date}&token={}",
            entry.id,
            self.links.sign_waitlist(entry.id)
        );
        let day = date.format("%A %-d %B %Y");
        let draft = Draft {
            to_client: true,
            subject: format!("A time opened up: {service}, {day}"),
            body: format!(
                "Hello {},\n\na time opened up at {} on {day}, the day you are waiting for:\n\n{}\n\n\
                 First come, first served: book it here before someone else does:\n{book}\n\n\
                 No longer interested? Leave the waitlist:\n{leave}\n",
                entry.client.name.as_str(),
                salon.name,
                times.join("\n"),
            ),
            ics: None,
        };
        let address = format!(
            "{} <{}>",
            entry.client.name.as_str(),
            entry.client.email.as_str()
        );
        let to: Mailbox = match address
            .parse()
            .or_else(|_| entry.client.email.as_str().parse())
        {
            Ok(m) => m,
            Err(_) => return Attempt::Done("not sent: the client's address is not usable".into()),
        };
        let message = match self.message(item, vec![to], draft) {
            Ok(m) => m,
            Err(e) => return Attempt::Done(format!("not sent: {e}")),
        };
        match transport.send(message).await {
            Ok(_) => Attempt::Done("offer sent".into()),
            Err(e) => Attempt::Retry(format!("smtp: {e}").chars().take(300).collect()),
        }
    }

    async fn send(&self, item: &Due) -> Attempt {
        if item.kind == kind::WAITLIST_OFFER {
            return match &self.transport {
                Some(transport) => self.offer(item, transport).await,
                None => Attempt::Done("not sent: SMTP_URL is not set".into()),
            };
        }
        let id = match item.booking_id() {
            Ok(id) => id,
            Err(settled) => return settled,
        };
        let Some(transport) = &self.transport else {
            return Attempt::Done("not sent: SMTP_URL is not set".into());
        };
        let context = match self.context(id).await {
            Ok(Some(c)) => c,
            Ok(None) => return Attempt::Done("no such booking".into()),
            Err(e) => return Attempt::Retry(e),
        };
        let draft = match self.draft(item, &context) {
            Ok(d) => d,
            Err(why) => return Attempt::Done(why),
        };
        let to: Vec<Mailbox> = if draft.to_client {
            let Some(mailbox) = context.client().and_then(|(name, email)| {
                format!("{name} <{email}>")
                    .parse()
                    .or_else(|_| email.parse())
                    .ok()
            }) else {
                return Attempt::Done("not sent: the client's address is not usable".into());
            };
            vec![mailbox]
        } else if self.owners.is_empty() {
            return Attempt::Done("not sent: SALON_OWNER_EMAIL is not set".into());
        } else {
            self.owners.clone()
        };
        let recipients = to.len();
        let message = match self.message(item, to, draft) {
            Ok(m) => m,
            Err(e) => return Attempt::Done(format!("not sent: {e}")),
        };
        match transport.send(message).await {
            Ok(_) => Attempt::Done(format!("sent to {recipients} recipient(s)")),
            // lettre's errors carry no credentials; keep them short.
            Err(e) => Attempt::Retry(format!("smtp: {e}").chars().take(300).collect()),
        }
    }
}

impl Handler for Mail {
    fn channel(&self) -> &'static str {
        MAIL
    }
    fn handle<'a>(&'a self, item: &'a Due, _now: DateTime<Utc>) -> BoxFuture<'a, Attempt> {
        Box::pin(self.send(item))
    }
}
