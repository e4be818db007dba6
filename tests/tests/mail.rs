//! Email from the mail reactor against a real SMTP sink (aiosmtpd), on SQLite and PostgreSQL,
//! with the reactors' clock held still: the confirmation arrives once with a calendar file that
//! parses back; the owner is alerted; a sink that is down delays mail and loses none; the
//! reminder goes out 24 hours ahead; rebuilding the read models sends nothing again.

use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use commands::reactors::mail::MailSettings;
use commands::reactors::Clock;
use migrations::Backend;
use serde_json::Value;
use tests::{booking_body, free_port, ScratchDb, SmtpSink, TestApp, BACKENDS};

struct Fixture {
    app: TestApp,
    clock: Clock,
    port: u16,
    maildir: std::path::PathBuf,
}

async fn fixture(backend: Backend) -> Fixture {
    let port = free_port();
    let maildir =
        std::env::temp_dir().join(format!("salon-mail-{}", uuid::Uuid::new_v4().simple()));
    let clock = Clock::manual(Utc::now());
    let db = ScratchDb::new(backend).await;
    let c = clock.clone();
    let app = TestApp::spawn_with(db, move |config| {
        config.mail = MailSettings {
            smtp_url: Some(format!("smtp://127.0.0.1:{port}")),
            from: "Salon <bookings@salon.test>".into(),
            owners: vec!["owner@salon.test".into(), "partner@salon.test".into()],
            public_url: "http://site.test".into(),
        };
        config.public_url = "http://site.test".into();
        config.clock = c;
        config.run_reactors = false;
    })
    .await;
    Fixture {
        app,
        clock,
        port,
        maildir,
    }
}

impl Fixture {
    async fn sink(&self) -> SmtpSink {
        tests::smtp_sink(self.port, &self.maildir).await
    }

    /// Books Loc Styling (no deposit: confirmed at once) with Keisha.
    async fn book(&self, key: &str) -> Value {
        let service = self.app.service_id("Loc Styling").await;
        let stylist = TestApp::stylist_id("Keisha Brown");
        let slot = self.app.first_slot(&service, &stylist).await;
        let body = booking_body(
            &service,
            &stylist,
            slot["start"].as_str().unwrap(),
            "Ada Lovelace",
        );
        let (status, booking) = self.app.post_booking(&body, Some(key)).await;
        assert_eq!(status, 201, "{booking}");
        assert_eq!(booking["status"], "confirmed");
        booking
    }

    async fn round(&self) -> commands::reactors::Round {
        tests::reactor_round(&self.app).await
    }

    async fn stop(self) {
        let _ = std::fs::remove_dir_all(&self.maildir);
        self.app.stop().await;
    }
}

fn subject(message: &str) -> &str {
    message
        .lines()
        .find_map(|l| l.strip_prefix("Subject: "))
        .unwrap_or("")
}

fn to(message: &str) -> &str {
    message
        .lines()
        .find_map(|l| l.strip_prefix("To: "))
        .unwrap_or("")
}

/// Undoes quoted-printable (soft line breaks and `=XX` escapes).
fn unquote(text: &str) -> String {
    let joined = text.replace("=\r\n", "").replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'=', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The body of the MIME part whose content type starts with `content_type`, decoded.
fn part(message: &str, content_type: &str) -> Option<String> {
    let at = message.find(&format!("Content-Type: {content_type}"))?;
    let rest = &message[at..];
    let head_end = rest
        .find("\r\n\r\n")
        .map(|i| (i, 4))
        .or_else(|| rest.find("\n\n").map(|i| (i, 2)))?;
    let headers = &rest[..head_end.0];
    let body: Vec<&str> = rest[head_end.0 + head_end.1..]
        .lines()
        .take_while(|l| !l.starts_with("--"))
        .collect();
    if headers.contains("Content-Transfer-Encoding: base64") {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(body.join("").trim())
            .ok()?;
        String::from_utf8(bytes).ok()
    } else if headers.contains("Content-Transfer-Encoding: quoted-printable") {
        Some(unquote(&body.join("\n")))
    } else {
        Some(body.join("\n"))
    }
}

fn calendar_part(message: &str) -> Option<String> {
    part(message, "text/calendar")
}

#[tokio::test]
async fn the_confirmation_arrives_once_with_a_calendar_file_and_the_owner_is_alerted() {
    for backend in BACKENDS {
        let f = fixture(backend).await;
        let sink = f.sink().await;
        let booking = f.book("mail-1").await;
        f.round().await;
        f.round().await;
        let messages = sink.messages();
        assert_eq!(messages.len(), 2, "client confirmation and owner alert");
        let client = messages
            .iter()
            .find(|m| to(m).contains("client@example.com"))
            .expect("the client's confirmation");
        assert!(
            subject(client).starts_with("Booked: Loc Styling with Keisha Brown"),
            "{}",
            subject(client)
        );
        let text = part(client, "text/plain").expect("a text part");
        assert!(text.contains("Crown & Coil Locs \u{2014} Harlem"), "{text}");
        let link = format!(
            "http://site.test/?manage={}&token=",
            booking["id"].as_str().unwrap()
        );
        assert!(text.contains(&link), "the manage link in {text}");
        let ics = calendar_part(client).unwrap_or_else(|| panic!("an .ics attachment in {client}"));
        let parsed = calcard::icalendar::ICalendar::parse(&ics).expect("the .ics parses");
        let start: DateTime<Utc> = DateTime::parse_from_rfc3339(booking["start"].as_str().unwrap())
            .unwrap()
            .with_timezone(&Utc);
        let stamp = start.format("DTSTART:%Y%m%dT%H%M%SZ").to_string();
        assert!(ics.contains(&stamp), "{ics}");
        assert!(ics.contains(&format!("UID:{}", booking["id"].as_str().unwrap())));
        assert!(!parsed.components.is_empty());
        let owner = messages
            .iter()
            .find(|m| to(m).contains("owner@salon.test"))
            .expect("the owner's alert");
        assert!(to(owner).contains("partner@salon.test"));
        assert!(subject(owner).starts_with("New booking: Ada Lovelace"));
        // Nothing is sent twice, however many rounds run.
        f.clock.advance(Duration::minutes(5));
        f.round().await;
        assert_eq!(sink.messages().len(), 2);
        drop(sink);
        f.stop().await;
    }
}

#[tokio::test]
async fn mail_waits_while_the_smtp_server_is_down_and_none_is_lost() {
    for backend in BACKENDS {
        let f = fixture(backend).await;
        f.book("down-1").await;
        f.book("down-2").await;
        // No SMTP server yet: every message is retried later.
        let round = f.round().await;
        assert!(round.retried >= 4, "{round:?}");
        let pending: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM outbox WHERE channel = 'mail' AND done_at IS NULL AND last_error IS NOT NULL",
        )
        .fetch_one(f.app.server.state.read.pool())
        .await
        .unwrap();
        assert_eq!(pending, 4, "two confirmations and two alerts wait");
        let sink = f.sink().await;
        // Not before the backoff has passed...
        f.round().await;
        assert_eq!(sink.messages().len(), 0);
        // ...then all of them, once.
        f.clock.advance(Duration::seconds(11));
        f.round().await;
        assert_eq!(sink.messages().len(), 4);
        f.clock.advance(Duration::hours(1));
        f.round().await;
        assert_eq!(sink.messages().len(), 4);
        drop(sink);
        f.stop().await;
    }
}

#[tokio::test]
async fn the_reminder_goes_out_a_day_ahead_and_not_for_a_cancelled_booking() {
    for backend in BACKENDS {
        let f = fixture(backend).await;
        let sink = f.sink().await;
        let kept = f.book("remind-1").await;
        let gone = f.book("remind-2").await;
        f.round().await;
        assert_eq!(sink.messages().len(), 4);
        let gone_id = domain::ids::BookingId::parse(gone["id"].as_str().unwrap()).unwrap();
        let meta = domain::metadata::EventMetadata::new("owner", domain::metadata::Source::Panel);
        f.app
            .server
            .state
            .bus
            .cancel_booking(
                gone_id,
                domain::booking::Party::Owner,
                None,
                Utc::now(),
                &meta,
            )
            .await
            .expect("cancel");
        let start: DateTime<Utc> = DateTime::parse_from_rfc3339(kept["start"].as_str().unwrap())
            .unwrap()
            .with_timezone(&Utc);
        // Just before 24 hours ahead: no reminder.
        let until_due = start - Duration::hours(24) - f.clock.now();
        f.clock.advance(until_due - Duration::minutes(1));
        f.round().await;
        assert!(!sink
            .messages()
            .iter()
            .any(|m| subject(m).starts_with("Reminder")));
        f.clock.advance(Duration::minutes(2));
        f.round().await;
        let reminders: Vec<_> = sink
            .messages()
            .into_iter()
            .filter(|m| subject(m).starts_with("Reminder"))
            .collect();
        assert_eq!(reminders.len(), 1);
        assert!(to(&reminders[0]).contains("client@example.com"));
        let text = part(&reminders[0], "text/plain").expect("text");
        assert!(
            text.contains(kept["id"].as_str().unwrap()),
            "the kept booking's reminder: {text}"
        );
        // Past the cancelled booking's reminder time too: still only the one.
        let gone_start: DateTime<Utc> =
            DateTime::parse_from_rfc3339(gone["start"].as_str().unwrap())
                .unwrap()
                .with_timezone(&Utc);
        if gone_start - Duration::hours(23) > f.clock.now() {
            f.clock
                .advance(gone_start - Duration::hours(23) - f.clock.now());
        }
        f.round().await;
        let reminders = sink
            .messages()
            .into_iter()
            .filter(|m| subject(m).starts_with("Reminder"))
            .count();
        assert_eq!(reminders, 1, "no reminder for a cancelled booking");
        drop(sink);
        f.stop().await;
    }
}

#[tokio::test]
async fn a_cancellation_is_announced_and_rebuilding_read_models_sends_nothing_again() {
    for backend in BACKENDS {
        let f = fixture(backend).await;
        let sink = f.sink().await;
        let booking = f.book("cancel-1").await;
        f.round().await;
        let id = booking["id"].as_str().unwrap();
        let token = booking["manage_url"]
            .as_str()
            .unwrap()
            .split("token=")
            .nth(1)
            .unwrap()
            .to_string();
        let r = f
            .app
            .http
            .post(
                f.app
                    .url(&format!("/api/v1/bookings/{id}/cancel?token={token}")),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        f.round().await;
        let messages = sink.messages();
        assert_eq!(
            messages.len(),
            4,
            "confirmation, alert, and two cancellation notices"
        );
        assert!(messages
            .iter()
            .any(|m| subject(m).starts_with("Cancelled: Loc Styling")
                && to(m).contains("client@example.com")));
        // Rebuild every read model from the start of the log, as `salon replay --all` does.
        for projection in projections::Projection::ALL {
            projections::runner::reset(&f.app.server.state.read, projection)
                .await
                .expect("reset");
        }
        for projection in projections::Projection::ALL {
            projections::runner::catch_up(&f.app.server.state.read, projection)
                .await
                .expect("rebuild");
        }
        f.clock.advance(Duration::minutes(10));
        f.round().await;
        f.round().await;
        assert_eq!(sink.messages().len(), 4, "a replay sends nothing again");
        drop(sink);
        f.stop().await;
    }
}

/// Books every free time of `stylist` for `service` on `date`; returns the booking ids.
async fn fill_day(f: &Fixture, service: &str, stylist: &str, date: &str) -> Vec<String> {
    let mut ids = Vec::new();
    for n in 0..40 {
        let slots = f.app.slots(service, Some(stylist), date, date).await;
        let Some(slot) = slots.first() else {
            return ids;
        };
        let body = booking_body(
            service,
            stylist,
            slot["start"].as_str().unwrap(),
            "Filler Client",
        );
        let (status, booking) = f.app.post_booking(&body, Some(&format!("fill-{n}"))).await;
        assert_eq!(status, 201, "{booking}");
        ids.push(booking["id"].as_str().unwrap().to_string());
    }
    panic!("the day never filled up");
}

async fn join(f: &Fixture, service: &str, stylist: &str, date: &str, email: &str) -> (u16, Value) {
    let r = f
        .app
        .http
        .post(f.app.url("/api/v1/waitlist"))
        .json(&serde_json::json!({
            "service": service,
            "stylist": stylist,
            "date": date,
            "client": {"name": "Wait Ing", "email": email, "phone": "212 555 0100"},
        }))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn waitlisted_clients_hear_in_order_when_time_frees_up_and_can_leave() {
    for backend in BACKENDS {
        let f = fixture(backend).await;
        let sink = f.sink().await;
        let service = f.app.service_id("Loc Repair").await;
        let stylist = TestApp::stylist_id("Keisha Brown");
        let first = f.app.first_slot(&service, &stylist).await;
        let date = &first["start"].as_str().unwrap()[..10];
        // A day with room: book instead.
        let (status, body) = join(&f, &service, &stylist, date, "early@example.com").await;
        assert_eq!(status, 409, "{body}");
        assert!(body["type"].as_str().unwrap().ends_with("day-has-room"));
        assert!(!body["alternatives"].as_array().unwrap().is_empty());

        let booked = fill_day(&f, &service, &stylist, date).await;
        assert!(!booked.is_empty());
        let (status, one) = join(&f, &service, &stylist, date, "first@example.com").await;
        assert_eq!(status, 201, "{one}");
        assert_eq!(one["place"], 1);
        let (status, two) = join(&f, &service, &stylist, date, "second@example.com").await;
        assert_eq!(status, 201, "{two}");
        assert_eq!(two["place"], 2);
        let (status, again) = join(&f, &service, &stylist, date, "first@example.com").await;
        assert_eq!(status, 200, "already waiting: {again}");
        assert_eq!(again["id"], one["id"]);
        f.round().await;
        let before = sink.messages().len();

        // A booking that day is cancelled: both hear, first in line first.
        let cancel = |id: &str| {
            let id = domain::ids::BookingId::parse(id).unwrap();
            let meta =
                domain::metadata::EventMetadata::new("owner", domain::metadata::Source::Panel);
            let bus = f.app.server.state.bus.clone();
            async move {
                bus.cancel_booking(id, domain::booking::Party::Owner, None, Utc::now(), &meta)
                    .await
                    .expect("cancel")
            }
        };
        cancel(&booked[0]).await;
        f.round().await;
        f.clock.advance(Duration::seconds(5));
        f.round().await;
        let offers: Vec<String> = sink
            .messages()
            .into_iter()
            .filter(|m| subject(m).starts_with("A time opened up"))
            .collect();
        assert_eq!(offers.len(), 2, "{} messages before", before);
        let order: Vec<String> = sqlx::query_scalar(
            "SELECT payload FROM outbox WHERE kind = 'waitlist_offer' ORDER BY due_epoch, id",
        )
        .fetch_all(f.app.server.state.read.pool())
        .await
        .unwrap();
        assert!(order[0].contains(one["id"].as_str().unwrap()), "{order:?}");
        assert!(order[1].contains(two["id"].as_str().unwrap()), "{order:?}");
        let text = part(&offers[0], "text/plain").unwrap();
        assert!(
            text.contains(&format!("date={date}")),
            "a link to book that day: {text}"
        );

        // The first leaves through the link in the email (a page that asks, then a POST).
        let leave = one["leave_url"]
            .as_str()
            .unwrap()
            .replace("http://site.test", &f.app.base);
        let page = f.app.http.get(&leave).send().await.unwrap();
        assert_eq!(page.status().as_u16(), 200);
        assert!(page
            .text()
            .await
            .unwrap()
            .contains("<form method=\"post\">"));
        let left = f.app.http.post(&leave).send().await.unwrap();
        assert_eq!(left.status().as_u16(), 200);
        assert!(left
            .text()
            .await
            .unwrap()
            .contains("You have left the waitlist"));
        let forged = leave.replace("token=", "token=00");
        assert_eq!(
            f.app
                .http
                .post(&forged)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16(),
            403
        );

        // Another cancellation: only the second client hears.
        cancel(&booked[1]).await;
        f.round().await;
        f.clock.advance(Duration::seconds(5));
        f.round().await;
        let offers: Vec<String> = sink
            .messages()
            .into_iter()
            .filter(|m| subject(m).starts_with("A time opened up"))
            .collect();
        assert_eq!(offers.len(), 3);
        assert_eq!(
            offers
                .iter()
                .filter(|m| to(m).contains("second@example.com"))
                .count(),
            2
        );
        drop(sink);
        f.stop().await;
    }
}
