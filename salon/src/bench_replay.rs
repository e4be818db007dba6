//! `salon bench replay`: rebuilding every read model from a large log, beside a raw scan of the
//! same log in the same run, and how far the read models lag after a burst of bookings.
//!
//! The log: `events` events (default 1 000 000) of bookings as the booking path writes them —
//! `BookingRequested`, the stylist's `SlotReserved`, `BookingConfirmed`; every tenth cancelled
//! (`BookingCancelled`, `SlotReleased`), every fourth completed — each client's personal data
//! sealed with their own key as the command bus does, appended straight to the store in large
//! batches (generating them through the command path would take longer than the
//! measurement).
//!
//! - *raw scan*: the log read in the projections' page size and every payload deserialized into
//!   its domain event: the floor any rebuild pays.
//! - *rebuild*: `salon replay --all`'s path, every projection into shadow tables from position 0
//!   (the swap is timed on its own: *prep*, readying the shadows while readers and projections
//!   go on, and *swap*, the transaction they wait for). Target: at least 30 % of the raw
//!   scan's rate.
//! - *burst*: with a server running on that log, 8 writers place `burst` bookings through the
//!   command bus as fast as they can; the lag is the time from the last append to every read
//!   model showing it. Target: at most 2 s.

use crate::app::{self, Config};
use crate::bench::{on_scratch, StoreKind};
use crate::bench_api;
use chrono::{Duration as Days, NaiveTime, Utc};
use cqrs_es::persist::SerializedEvent;
use cqrs_es::DomainEvent;
use domain::availability::Interval;
use domain::booking::{BookingEvent, Party};
use domain::ids::BookingId;
use domain::metadata::{EventMetadata, Source};
use domain::stylist_day::{StylistDayEvent, StylistDayId};
use migrations::LogPosition;
use projections::log::read_after;
use projections::replay::Shadow;
use projections::runner::BATCH;
use projections::{Projection, ReadDb};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Events appended per transaction while generating the log.
const CHUNK: usize = 2_000;

fn serialized<E: DomainEvent>(
    aggregate_type: &str,
    aggregate_id: String,
    sequence: usize,
    event: &E,
    metadata: &serde_json::Value,
) -> anyhow::Result<SerializedEvent> {
    Ok(SerializedEvent {
        aggregate_id,
        sequence,
        aggregate_type: aggregate_type.to_string(),
        event_type: event.event_type(),
        event_version: event.event_version(),
        payload: serde_json::to_value(event)?,
        metadata: metadata.clone(),
    })
}

/// Appends bookings' events until the log holds at least `events` more.
pub async fn generate(store: &commands::Store, events: usize) -> anyhow::Result<usize> {
    let metadata = serde_json::to_value(EventMetadata::new("client", Source::Spa))?;
    let first_day = Utc::now().date_naive() + Days::days(1);
    let mut day_sequence: HashMap<String, usize> = HashMap::new();
    let mut chunk = Vec::with_capacity(CHUNK + 8);
    let mut written = 0;
    let mut i = 0usize;
    while written + chunk.len() < events {
        // 5 stylists, 8 bookings each a day, one an hour from 09:00.
        let per_stylist = i / 5;
        let date = first_day + Days::days((per_stylist / 8) as i64);
        let start = date
            .and_time(
                NaiveTime::from_hms_opt(9 + (per_stylist % 8) as u32, 0, 0).unwrap_or_default(),
            )
            .and_utc();
        let details = bench_api::details(i, start)?;
        let id = BookingId::new();
        let booking = id.to_string();
        let day = StylistDayId::new(details.stylist, date).to_string();
        let blocked = Interval {
            start: details.start,
            end: details.end,
        };
        let stylist = details.stylist;
        let mut seq = 0;
        let mut booking_event = |e: BookingEvent, chunk: &mut Vec<SerializedEvent>| {
            seq += 1;
            chunk.push(serialized("Booking", booking.clone(), seq, &e, &metadata)?);
            anyhow::Ok(())
        };
        let mut day_event = |e: StylistDayEvent, chunk: &mut Vec<SerializedEvent>| {
            let n = day_sequence.entry(day.clone()).or_default();
            *n += 1;
            chunk.push(serialized("StylistDay", day.clone(), *n, &e, &metadata)?);
            anyhow::Ok(())
        };
        booking_event(BookingEvent::BookingRequested { id, details }, &mut chunk)?;
        day_event(
            StylistDayEvent::SlotReserved {
                stylist,
                date,
                booking: id,
                blocked,
            },
            &mut chunk,
        )?;
        booking_event(BookingEvent::BookingConfirmed { id }, &mut chunk)?;
        if i % 10 == 9 {
            booking_event(
                BookingEvent::BookingCancelled {
                    id,
                    by: Some(Party::Client),
                },
                &mut chunk,
            )?;
            day_event(
                StylistDayEvent::SlotReleased {
                    stylist,
                    date,
                    booking: id,
                    blocked,
                },
                &mut chunk,
            )?;
        } else if i % 4 == 1 {
            booking_event(BookingEvent::BookingCompleted { id }, &mut chunk)?;
        }
        i += 1;
        if chunk.len() >= CHUNK {
            written += write(store, &mut chunk).await?;
        }
    }
    if !chunk.is_empty() {
        written += write(store, &mut chunk).await?;
    }
    Ok(written)
}

/// Seals the clients' personal data with their keys (as the command bus does), appends the
/// events in one transaction and empties `chunk`. Returns how many were written.
async fn write(store: &commands::Store, chunk: &mut Vec<SerializedEvent>) -> anyhow::Result<usize> {
    store
        .seal(chunk)
        .await
        .map_err(|e| anyhow::anyhow!("seal: {e}"))?;
    store
        .append(chunk)
        .await
        .map_err(|e| anyhow::anyhow!("append: {e}"))?;
    let n = chunk.len();
    chunk.clear();
    Ok(n)
}

/// Reads the whole log as the projections do and deserializes every payload.
async fn raw_scan(db: &ReadDb) -> anyhow::Result<usize> {
    let mut at = LogPosition::START;
    let mut n = 0;
    loop {
        let events = read_after(db, at, BATCH).await?;
        let Some(last) = events.last() else {
            return Ok(n);
        };
        at = last.at;
        for e in &events {
            match e.aggregate_type.as_str() {
                "Booking" => {
                    let _: BookingEvent = serde::Deserialize::deserialize(&e.payload)?;
                }
                "StylistDay" => {
                    let _: StylistDayEvent = serde::Deserialize::deserialize(&e.payload)?;
                }
                _ => {
                    let _: serde_json::Value = serde::Deserialize::deserialize(&e.payload)?;
                }
            }
            let _ = e.audit();
        }
        n += events.len();
    }
}

struct Figures {
    events: usize,
    generate: Duration,
    raw: Duration,
    rebuild: Duration,
    prepare: Duration,
    swap: Duration,
    burst_events: i64,
    burst: Duration,
    lag: Duration,
}

fn rate(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64().max(1e-9)
}

async fn measure(url: &str, events: usize, burst: usize) -> anyhow::Result<Figures> {
    let store = app::open_store(url).await?;
    let started = Instant::now();
    let written = generate(&store, events).await?;
    let generate = started.elapsed();
    store.close().await;
    let db = ReadDb::connect(url).await?;

    let started = Instant::now();
    let scanned = raw_scan(&db).await?;
    let raw = started.elapsed();

    let started = Instant::now();
    let mut shadow = Shadow::open(&db, &Projection::ALL).await?;
    let at = shadow.catch_up(&db).await?;
    let rebuild = started.elapsed();
    let swapped = shadow.swap(&db).await?;
    anyhow::ensure!(at.position > 0, "the rebuild read nothing");
    db.close().await;

    // A server on that log, read models at the head; then a burst of bookings.
    let mut config = Config::new(url, "127.0.0.1:0".parse()?);
    config.booking_rate = api::limit::Rate::UNLIMITED;
    config.token_rate = api::limit::Rate::UNLIMITED;
    config.calendar_schedule = false;
    // The reactors (mail, webhooks, calendars) would start at position 0 of a log that never
    // had a server; a real server's stand at the head. Only the projections are measured.
    config.run_reactors = false;
    let server = app::start(config).await?;
    let bus = server.state.bus.clone();
    let head = projections::log::head(&server.state.read).await?;
    anyhow::ensure!(
        server
            .state
            .projections
            .wait_for(&Projection::ALL, head, Duration::from_secs(600))
            .await,
        "the server's read models did not reach the head before the burst"
    );
    let started = Instant::now();
    bench_api::seed(&bus, burst).await?;
    let burst_took = started.elapsed();
    let last = bus.signal().last();
    let appended = Instant::now();
    anyhow::ensure!(
        server
            .state
            .projections
            .wait_for(&Projection::ALL, last, Duration::from_secs(600))
            .await,
        "the read models did not catch up after the burst"
    );
    let lag = appended.elapsed();
    let burst_events = projections::log::head(&server.state.read).await?.position - head.position;
    server.shutdown().await?;
    anyhow::ensure!(
        scanned >= written,
        "the scan read {scanned} of {written} events"
    );
    Ok(Figures {
        events: scanned,
        generate,
        raw,
        rebuild,
        prepare: swapped.prepare,
        swap: swapped.held,
        burst_events,
        burst: burst_took,
        lag,
    })
}

pub async fn run(stores: &[StoreKind], events: usize, burst: usize) -> anyhow::Result<()> {
    println!(
        "{:<9} {:>9} | {:>12} {:>12} {:>8} | {:>8} {:>8} | {:>13} {:>8} {:>8}",
        "store",
        "events",
        "raw ev/s",
        "rebuild ev/s",
        "÷raw",
        "prep ms",
        "swap ms",
        "burst events",
        "burst s",
        "lag ms"
    );
    for kind in stores {
        let f = on_scratch(
            *kind,
            |url| async move { measure(&url, events, burst).await },
        )
        .await?;
        let raw = rate(f.events, f.raw);
        let rebuilt = rate(f.events, f.rebuild);
        eprintln!(
            "{}: generated {} events in {:.1} s; raw scan {:.1} s, rebuild {:.1} s",
            kind.name(),
            f.events,
            f.generate.as_secs_f64(),
            f.raw.as_secs_f64(),
            f.rebuild.as_secs_f64()
        );
        println!(
            "{:<9} {:>9} | {:>12.0} {:>12.0} {:>7.0}% | {:>8} {:>8} | {:>13} {:>8.2} {:>8}",
            kind.name(),
            f.events,
            raw,
            rebuilt,
            100.0 * rebuilt / raw.max(1e-9),
            f.prepare.as_millis(),
            f.swap.as_millis(),
            f.burst_events,
            f.burst.as_secs_f64(),
            f.lag.as_millis()
        );
    }
    Ok(())
}
