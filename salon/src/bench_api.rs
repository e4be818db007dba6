//! `salon bench api`: the integrator API's list endpoints over 100 000 bookings. For
//! `GET /api/v1/bookings` (default order, and filtered and ordered by creation) and
//! `GET /api/v1/audit`, the first, middle and last page of 100, each measured for a few seconds
//! on one client, beside `GET /healthz` of the same server in the same run: p50/p95 of each,
//! the ratio of the last page's p95 to the first's (target ≤ 3) and of the first page's to the
//! trivial endpoint's.
//!
//! The bookings are placed through the `Booking` aggregate (the same `BookingRequested` and
//! `BookingConfirmed` events a real booking appends; the stylists' days are left out, lists
//! never read them), then projected before measuring.

use crate::app::{self, Config};
use crate::bench::{drive, healthz_run, on_scratch, Sample, StoreKind};
use chrono::{DateTime, Duration as Days, Utc};
use commands::CommandBus;
use domain::booking::{Booking, BookingCommand, BookingDetails};
use domain::ids::{BookingId, ServiceId, StylistId};
use domain::metadata::{EventMetadata, Source};
use domain::token::Scope;
use domain::values::{Cents, Client, Currency, Email, PersonName, Phone};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Places `count` confirmed bookings, spread over a year from today on 5 stylists and 3
/// services, with 8 concurrent writers.
pub(crate) async fn seed(bus: &CommandBus, count: usize) -> anyhow::Result<()> {
    let next = Arc::new(AtomicUsize::new(0));
    let start = Utc::now() + Days::days(1);
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (bus, next) = (bus.clone(), next.clone());
            tokio::spawn(async move {
                let meta = EventMetadata::new("client", Source::Spa);
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= count {
                        return Ok::<(), anyhow::Error>(());
                    }
                    let details = details(i, start + Days::minutes(5 * i as i64))?;
                    let id = BookingId::new();
                    let place = BookingCommand::Place {
                        id,
                        details,
                        hold_expires_at: None,
                    };
                    bus.execute::<Booking>(&id.to_string(), place, &meta)
                        .await
                        .map_err(|e| anyhow::anyhow!("{e}"))?;
                }
            })
        })
        .collect();
    for t in tasks {
        t.await??;
    }
    Ok(())
}

/// The `i`-th bench booking, at `at` for an hour: one of 3 services and 5 stylists, its own
/// client, no deposit.
pub(crate) fn details(i: usize, at: DateTime<Utc>) -> anyhow::Result<BookingDetails> {
    Ok(BookingDetails {
        service: ServiceId::from_uuid(uuid::Uuid::from_u128(1 + (i % 3) as u128)),
        stylist: StylistId::from_uuid(uuid::Uuid::from_u128(100 + (i % 5) as u128)),
        start: at,
        end: at + Days::minutes(60),
        client: Client {
            name: PersonName::parse(&format!("Client {i}"))?,
            email: Email::parse(&format!("client{i}@example.com"))?,
            phone: Phone::parse("(212) 555-0142")?,
        },
        notes: i.is_multiple_of(10).then(|| "first visit".to_string()),
        price_cents: Cents::new(5000 + 100 * (i % 50) as i64)?,
        deposit_cents: Cents::new(0)?,
        currency: Currency::usd(),
        idempotency_key: None,
        request_fingerprint: None,
    })
}

/// One list request measured.
pub struct Row {
    pub store: &'static str,
    pub list: &'static str,
    pub page: &'static str,
    pub sample: Sample,
}

async fn list_run(
    base: &str,
    path: String,
    token: &str,
    seconds: f64,
) -> anyhow::Result<(Sample, u64)> {
    let http = reqwest::Client::new();
    let url = Arc::new(format!("{base}{path}"));
    let token = Arc::new(token.to_string());
    let probe: serde_json::Value = http
        .get(url.as_str())
        .bearer_auth(token.as_str())
        .send()
        .await?
        .json()
        .await?;
    let count = probe["count"].as_u64().unwrap_or(0);
    anyhow::ensure!(
        probe["results"].as_array().is_some_and(|r| !r.is_empty()),
        "{path} answered no results: {probe}"
    );
    let op = move |_, _| {
        let (http, url, token) = (http.clone(), url.clone(), token.clone());
        async move {
            let r = http
                .get(url.as_str())
                .bearer_auth(token.as_str())
                .send()
                .await
                .map_err(|e| e.to_string())?;
            if r.status().as_u16() != 200 {
                return Err(format!("{} answered {}", url, r.status()));
            }
            r.bytes().await.map_err(|e| e.to_string())?;
            Ok(())
        }
    };
    let _ = drive(1, 0.3, op.clone()).await?;
    Ok((drive(1, seconds, op).await?, count))
}

async fn measure(
    url: &str,
    store: &'static str,
    bookings: usize,
    seconds: f64,
) -> anyhow::Result<(Sample, Vec<Row>)> {
    let mut config = Config::new(url, "127.0.0.1:0".parse()?);
    config.booking_rate = api::limit::Rate::UNLIMITED;
    config.token_rate = api::limit::Rate::UNLIMITED;
    config.calendar_schedule = false;
    let server = app::start(config).await?;
    let bus = server.state.bus.clone();
    let seeding = Instant::now();
    seed(&bus, bookings).await?;
    let meta = EventMetadata::new("owner", Source::Cli);
    let token = bus
        .create_token("bench", Scope::Read, &meta)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let head = bus.signal().last();
    anyhow::ensure!(
        server
            .state
            .projections
            .wait_for(
                &projections::Projection::ALL,
                head,
                Duration::from_secs(1800)
            )
            .await,
        "projections did not catch up"
    );
    eprintln!(
        "{store}: placed and projected {bookings} bookings in {:.1} s",
        seeding.elapsed().as_secs_f64()
    );
    let base = format!("http://{}", server.addr);
    let _ = healthz_run(server.addr, 1, 0.3).await?;
    let trivial = healthz_run(server.addr, 1, seconds).await?;
    let mut rows = Vec::new();
    let lists: [(&'static str, &str); 3] = [
        ("bookings", "/api/v1/bookings?"),
        (
            "bookings -created, confirmed",
            "/api/v1/bookings?status=confirmed&ordering=-created&",
        ),
        ("audit", "/api/v1/audit?"),
    ];
    for (name, path) in lists {
        let (first, count) = list_run(
            &base,
            format!("{path}limit=100&offset=0"),
            &token.secret,
            seconds,
        )
        .await?;
        rows.push(Row {
            store,
            list: name,
            page: "first",
            sample: first,
        });
        let count = usize::try_from(count)?;
        for (page, offset) in [
            ("middle", (count / 2) / 100 * 100),
            ("last", count.saturating_sub(100)),
        ] {
            let (sample, _) = list_run(
                &base,
                format!("{path}limit=100&offset={offset}"),
                &token.secret,
                seconds,
            )
            .await?;
            rows.push(Row {
                store,
                list: name,
                page,
                sample,
            });
        }
    }
    server.shutdown().await?;
    Ok((trivial, rows))
}

/// Runs the benchmark on each store and prints one line per page, with the ratios.
pub async fn run(stores: &[StoreKind], bookings: usize, seconds: f64) -> anyhow::Result<()> {
    println!(
        "{:<9} {:<30} {:<7} | {:>8} {:>8} | {:>8} {:>8}",
        "store", "list (100 a page)", "page", "p50 ms", "p95 ms", "÷first", "÷triv"
    );
    for kind in stores {
        let name = kind.name();
        let (trivial, rows) = on_scratch(*kind, |url| async move {
            measure(&url, name, bookings, seconds).await
        })
        .await?;
        let triv = trivial.percentile_ms(0.95).max(1e-9);
        println!(
            "{:<9} {:<30} {:<7} | {:>8.3} {:>8.3} | {:>8} {:>7.1}x",
            name,
            "GET /healthz",
            "",
            trivial.percentile_ms(0.5),
            trivial.percentile_ms(0.95),
            "",
            1.0
        );
        let mut first = 1e-9;
        for r in &rows {
            let p95 = r.sample.percentile_ms(0.95);
            if r.page == "first" {
                first = p95.max(1e-9);
            }
            println!(
                "{:<9} {:<30} {:<7} | {:>8.3} {:>8.3} | {:>7.2}x {:>7.1}x",
                r.store,
                r.list,
                r.page,
                r.sample.percentile_ms(0.5),
                p95,
                p95 / first,
                p95 / triv
            );
        }
    }
    Ok(())
}
