//! The read models do not depend on how events are grouped into batches, on SQLite and
//! PostgreSQL: a log applied one event per transaction (as a server does when bookings trickle
//! in) gives the same rows, table for table, as the same log applied in one batch (as a replay
//! does). The clients projection keeps a batch's writes in memory and writes them at its end, so
//! the log below exercises what that buffering must get right: changes to bookings of earlier
//! batches and of the same batch, a client seen twice in one batch, a client registered by hand
//! between two of their bookings, a reschedule, a forfeited deposit, a no-show, an archive.

use chrono::{DateTime, Duration, TimeZone, Utc};
use cqrs_es::persist::SerializedEvent;
use cqrs_es::DomainEvent;
use domain::booking::{BookingDetails, BookingEvent, Party};
use domain::client::{ClientDetails, ClientEvent};
use domain::ids::{BookingId, ClientId, ServiceId, StylistId};
use domain::metadata::{EventMetadata, Source};
use domain::values::{Cents, Client, Currency, Email, PersonName, Phone};
use projections::replay;
use projections::runner;
use projections::{Projection, ReadDb};
use std::collections::HashMap;
use tests::{ScratchDb, BACKENDS};

/// Builds a log event by event, numbering each aggregate's events.
#[derive(Default)]
struct Log {
    events: Vec<SerializedEvent>,
    sequences: HashMap<String, usize>,
}

impl Log {
    fn push<E: DomainEvent>(&mut self, aggregate_type: &str, id: String, event: E) {
        let sequence = self.sequences.entry(id.clone()).or_default();
        *sequence += 1;
        let metadata = EventMetadata::new("owner", Source::Panel);
        self.events.push(SerializedEvent {
            aggregate_id: id,
            sequence: *sequence,
            aggregate_type: aggregate_type.to_string(),
            event_type: event.event_type(),
            event_version: event.event_version(),
            payload: serde_json::to_value(&event).expect("payload"),
            metadata: serde_json::to_value(metadata).expect("metadata"),
        });
    }

    fn booking(&mut self, id: BookingId, event: BookingEvent) {
        self.push("Booking", id.to_string(), event);
    }

    fn client(&mut self, id: ClientId, event: ClientEvent) {
        self.push("Client", id.to_string(), event);
    }
}

fn at(day: u32, hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2031, 3, day, hour, 0, 0)
        .single()
        .expect("time")
}

fn requested(id: BookingId, name: &str, email: &str, start: DateTime<Utc>) -> BookingEvent {
    BookingEvent::BookingRequested {
        id,
        details: BookingDetails {
            service: ServiceId::from_uuid(uuid::Uuid::from_u128(1)),
            stylist: StylistId::from_uuid(uuid::Uuid::from_u128(100)),
            start,
            end: start + Duration::minutes(60),
            client: Client {
                name: PersonName::parse(name).expect("name"),
                email: Email::parse(email).expect("email"),
                phone: Phone::parse("(212) 555-0142").expect("phone"),
            },
            notes: None,
            price_cents: Cents::new(6500).expect("cents"),
            deposit_cents: Cents::new(2000).expect("cents"),
            currency: Currency::usd(),
            idempotency_key: None,
            request_fingerprint: None,
        },
    }
}

fn the_log() -> Log {
    let mut log = Log::default();
    let (ada, bo) = ("ada@example.com", "bo@example.com");
    let b: Vec<BookingId> = (0..6).map(|_| BookingId::new()).collect();
    // Ada books, is confirmed and comes; books again; the salon registers her by hand (her
    // name as the salon knows it), then she books a third time under another spelling.
    log.booking(b[0], requested(b[0], "Ada Lovelace", ada, at(3, 10)));
    log.booking(b[0], BookingEvent::BookingConfirmed { id: b[0] });
    log.booking(b[1], requested(b[1], "Ada Lovelace", ada, at(4, 11)));
    log.booking(b[0], BookingEvent::BookingCompleted { id: b[0] });
    let ada_id = ClientId::for_email(&Email::parse(ada).expect("email"));
    log.client(
        ada_id,
        ClientEvent::ClientRegistered {
            id: ada_id,
            details: ClientDetails {
                name: PersonName::parse("Augusta Ada King").expect("name"),
                email: Email::parse(ada).expect("email"),
                phone: None,
                notes: "Prefers mornings.".into(),
                marketing_consent: None,
            },
        },
    );
    log.booking(b[2], requested(b[2], "A. Lovelace", ada, at(5, 9)));
    // Her second booking moves, then she does not come and keeps no deposit back.
    log.booking(
        b[1],
        BookingEvent::BookingRescheduled {
            id: b[1],
            from_start: at(4, 11),
            from_end: at(4, 12),
            start: at(6, 14),
            end: at(6, 15),
            by: Party::Owner,
        },
    );
    log.booking(
        b[1],
        BookingEvent::DepositForfeited {
            id: b[1],
            amount_cents: Cents::new(2000).expect("cents"),
        },
    );
    log.booking(b[1], BookingEvent::BookingNoShow { id: b[1] });
    // Bo, only ever seen in bookings, under two names; one booking cancelled, one held then
    // confirmed, one whose hold runs out.
    log.booking(b[3], requested(b[3], "Bo Diddley", bo, at(3, 15)));
    log.booking(b[4], requested(b[4], "Bo D.", bo, at(7, 16)));
    log.booking(
        b[3],
        BookingEvent::BookingCancelled {
            id: b[3],
            by: Some(Party::Client),
        },
    );
    log.booking(
        b[4],
        BookingEvent::BookingHeld {
            id: b[4],
            hold_expires_at: at(3, 16),
            deposit_cents: Cents::new(2000).expect("cents"),
        },
    );
    log.booking(b[4], BookingEvent::BookingConfirmed { id: b[4] });
    log.booking(b[5], requested(b[5], "Bo Diddley", bo, at(8, 10)));
    log.booking(b[5], BookingEvent::HoldExpired { id: b[5] });
    log.booking(b[2], BookingEvent::BookingCompleted { id: b[2] });
    log.client(ada_id, ClientEvent::ClientArchived { id: ada_id });
    log
}

#[tokio::test]
async fn one_event_per_batch_and_one_batch_give_the_same_read_models() {
    for backend in BACKENDS {
        let db = ScratchDb::new(backend).await;
        let store = salon::app::open_store(&db.url).await.expect("store");
        let read = ReadDb::connect(&db.url).await.expect("read db");
        let log = the_log();
        let total = log.events.len();
        // Live: each event its own append and its own projection batch.
        for event in log.events {
            let mut one = vec![event];
            store.seal(&mut one).await.expect("seal");
            store.append(&one).await.expect("append");
            for p in Projection::ALL {
                runner::catch_up(&read, p).await.expect("catch up");
            }
        }
        // Replay: the whole log in one batch (it is far shorter than a batch), compared row
        // for row with what the event-at-a-time path built.
        assert!(total < runner::BATCH as usize);
        let (_, diffs) = replay::verify(&read, &Projection::ALL)
            .await
            .expect("verify");
        let differing: Vec<_> = diffs.iter().filter(|d| !d.same()).collect();
        assert!(
            differing.is_empty(),
            "{backend:?}: batching changed the read models: {differing:#?}"
        );
        // And the figures are what the story says (so the comparison compares something).
        let row = sqlx::query_as::<_, (String, i64, i64, i64, i64, i64, i64, i64)>(
            "SELECT name, registered, archived, bookings_count, completed, no_shows, \
             total_spent_cents, upcoming FROM rm_clients WHERE email_key = 'ada@example.com'",
        )
        .fetch_one(read.pool())
        .await
        .expect("ada");
        assert_eq!(
            row,
            ("Augusta Ada King".into(), 1, 1, 3, 2, 1, 6500 * 2 + 2000, 0),
            "{backend:?}"
        );
        let row = sqlx::query_as::<_, (String, i64, i64, i64, i64)>(
            "SELECT name, registered, bookings_count, cancellations, upcoming \
             FROM rm_clients WHERE email_key = 'bo@example.com'",
        )
        .fetch_one(read.pool())
        .await
        .expect("bo");
        assert_eq!(row, ("Bo Diddley".into(), 0, 3, 2, 1), "{backend:?}");
        let moved: (String, i64) = sqlx::query_as(
            "SELECT start_at, kept_cents FROM rm_client_bookings WHERE start_epoch = $1",
        )
        .bind(at(6, 14).timestamp())
        .fetch_one(read.pool())
        .await
        .expect("rescheduled booking");
        assert_eq!(moved, (at(6, 14).to_rfc3339(), 2000), "{backend:?}");
        read.close().await;
        store.close().await;
        db.drop_db().await;
    }
}

/// A rebuild's shadow tables carry only the unique indexes and those each projection names as
/// looked up by its own statements (`Projection::lookup_indexes`): a name there that no
/// migration creates (a renamed index) would leave a rebuild scanning whole tables.
#[tokio::test]
async fn the_indexes_projections_look_up_by_exist() {
    for backend in BACKENDS {
        let db = ScratchDb::new(backend).await;
        let _store = salon::app::open_store(&db.url).await.expect("store");
        let read = ReadDb::connect(&db.url).await.expect("read db");
        let sql = match backend {
            migrations::Backend::Postgres => {
                "SELECT count(*) FROM pg_indexes WHERE indexname = $1 AND tablename = $2 \
                 AND schemaname = current_schema()"
            }
            migrations::Backend::Sqlite => {
                "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = $1 \
                 AND tbl_name = $2"
            }
        };
        let mut named = 0;
        for p in Projection::ALL {
            for index in p.lookup_indexes() {
                let mut found = 0;
                for table in p.tables() {
                    found += sqlx::query_scalar::<_, i64>(sql)
                        .bind(*index)
                        .bind(*table)
                        .fetch_one(read.pool())
                        .await
                        .expect("index");
                }
                assert_eq!(found, 1, "{backend:?}: {} looks up by {index}", p.name());
                named += 1;
            }
        }
        assert!(named >= 4, "{backend:?}");
        db.drop_db().await;
    }
}
