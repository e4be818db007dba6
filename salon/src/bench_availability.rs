//! `salon bench availability`: `GET /api/v1/availability` for 10 stylists over 30 days on a
//! 15-minute step, with 500 and with 50 000 past bookings and 2 000 external busy blocks, beside
//! `GET /healthz` of the same server in the same run. p50/p95 of each, the ratio of the
//! availability p95 to the trivial endpoint's, and of the p95 at 50 000 to the p95 at 500.
//!
//! Past bookings are reservations on past stylist-days and external busy blocks are
//! `ExternalBusyChanged` on future ones, both appended through the aggregates (the same events
//! real bookings and calendar syncs append), then projected before measuring.

use crate::app::{self, Config};
use crate::bench::{drive, healthz_run, hire_stylists, on_scratch, Sample, StoreKind};
use chrono::{Duration as Days, NaiveTime, Utc};
use commands::CommandBus;
use domain::availability::{local_date, local_to_utc, Interval};
use domain::ids::{BookingId, CalendarSourceId, ServiceId, StylistId, SALON_ID};
use domain::metadata::{EventMetadata, Source};
use domain::salon::{Salon, SalonCommand};
use domain::schedule::{BookingPolicy, DayHours, DayKey, WeeklyHours};
use domain::service::{Service, ServiceCommand, ServiceDetails};
use domain::stylist_day::{StylistDay, StylistDayCommand, StylistDayId};
use domain::values::{Cents, Currency};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

const STYLISTS: usize = 10;
const DAYS: i64 = 30;
const BUSY_BLOCKS: usize = 2_000;
const TZ: chrono_tz::Tz = chrono_tz::America::New_York;

fn stylist(i: usize) -> StylistId {
    StylistId::from_uuid(uuid::Uuid::from_u128(
        0xa5a1_0000_0000_0000_0000_0000_0000_0000 + i as u128,
    ))
}

fn service() -> ServiceId {
    ServiceId::from_uuid(uuid::Uuid::from_u128(
        0xa5a1_5e00_0000_0000_0000_0000_0000_0001,
    ))
}

fn err(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow::anyhow!("{e}")
}

async fn seed_catalog(bus: &CommandBus) -> anyhow::Result<()> {
    let meta = EventMetadata::new("system", Source::Cli).with_reason(Some("benchmark".into()));
    let policy = BookingPolicy {
        slot_step_minutes: 15,
        lead_time_minutes: 0,
        horizon_days: 60,
        ..Default::default()
    };
    let configure = SalonCommand::Configure {
        name: "Availability bench".into(),
        time_zone: TZ,
        currency: Currency::usd(),
        policy,
        open: true,
        demo: false,
    };
    bus.execute::<Salon>(SALON_ID, configure, &meta)
        .await
        .map_err(err)?;
    let details = ServiceDetails {
        name: "Retwist".into(),
        description: String::new(),
        duration_minutes: 60,
        buffer_before_minutes: 0,
        buffer_after_minutes: 15,
        price_cents: Cents::new(9000)?,
        deposit_cents: Cents::new(0)?,
        currency: Currency::usd(),
    };
    bus.execute::<Service>(
        &service().to_string(),
        ServiceCommand::Create {
            id: service(),
            details,
        },
        &meta,
    )
    .await
    .map_err(err)?;
    let t = |h| NaiveTime::from_hms_opt(h, 0, 0).unwrap_or(NaiveTime::MIN);
    let day = DayHours {
        open: t(9),
        close: t(19),
        breaks: vec![],
    };
    let week: BTreeMap<DayKey, DayHours> = [
        DayKey::Mon,
        DayKey::Tue,
        DayKey::Wed,
        DayKey::Thu,
        DayKey::Fri,
        DayKey::Sat,
    ]
    .into_iter()
    .map(|d| (d, day.clone()))
    .collect();
    let hours = WeeklyHours::new(week)?;
    hire_stylists(bus, (0..STYLISTS).map(stylist), service(), &hours, &meta).await
}

/// `count` past bookings: hourly reservations from 9:00 to 18:00 on past days, going back from
/// yesterday; 8 concurrent writers, each filling whole stylist-days (so they never contend).
async fn seed_past(bus: &CommandBus, count: usize) -> anyhow::Result<()> {
    const PER_DAY: usize = 9;
    let today = local_date(TZ, Utc::now());
    let units = count.div_ceil(PER_DAY);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (bus, next) = (bus.clone(), next.clone());
            tokio::spawn(async move {
                let meta = EventMetadata::new("system", Source::Cli);
                loop {
                    let u = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if u >= units {
                        return Ok::<(), anyhow::Error>(());
                    }
                    let date = today - Days::days(1 + (u / STYLISTS) as i64);
                    let day = StylistDayId::new(stylist(u % STYLISTS), date);
                    let here = PER_DAY.min(count - u * PER_DAY);
                    for k in 0..here {
                        let hour = 9 + k as u32;
                        let start = local_to_utc(
                            TZ,
                            date.and_time(
                                NaiveTime::from_hms_opt(hour, 0, 0).unwrap_or(NaiveTime::MIN),
                            ),
                        );
                        let reserve = StylistDayCommand::Reserve {
                            day,
                            booking: BookingId::new(),
                            blocked: Interval::new(start, start + Days::minutes(60)),
                        };
                        bus.execute::<StylistDay>(&day.to_string(), reserve, &meta)
                            .await
                            .map_err(err)?;
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        t.await??;
    }
    Ok(())
}

/// 2 000 external busy blocks on the coming days: 4 half-hours on each of 500 stylist-days.
async fn seed_busy(bus: &CommandBus) -> anyhow::Result<()> {
    let meta = EventMetadata::new("calendar:bench", Source::Job);
    let source = CalendarSourceId::from_uuid(uuid::Uuid::from_u128(0xa5a1_ca1e));
    let today = local_date(TZ, Utc::now());
    let per_day = 4;
    for n in 0..BUSY_BLOCKS / per_day {
        let s = n % STYLISTS;
        let date = today + Days::days(1 + (n / STYLISTS) as i64);
        let busy = [10u32, 12, 14, 16]
            .iter()
            .map(|h| {
                let start = local_to_utc(
                    TZ,
                    date.and_time(NaiveTime::from_hms_opt(*h, 15, 0).unwrap_or(NaiveTime::MIN)),
                );
                Interval::new(start, start + Days::minutes(30))
            })
            .collect();
        let day = StylistDayId::new(stylist(s), date);
        let set = StylistDayCommand::SetExternalBusy { day, source, busy };
        bus.execute::<StylistDay>(&day.to_string(), set, &meta)
            .await
            .map_err(err)?;
    }
    Ok(())
}

/// One measured configuration.
pub struct Row {
    pub store: &'static str,
    pub past_bookings: usize,
    pub trivial: Sample,
    /// Every answer computed (the answer cache off).
    pub availability: Sample,
    /// The same request repeated with the answer cache on (what clients mostly see).
    pub cached: Sample,
    /// The same, from a client that accepts gzip (browsers): the cached gzip encoding.
    pub cached_gzip: Sample,
    pub slots: usize,
    pub bytes: usize,
}

impl Row {
    pub fn ratio(&self) -> f64 {
        self.availability.percentile_ms(0.95) / self.trivial.percentile_ms(0.95).max(1e-9)
    }
    pub fn cached_ratio(&self) -> f64 {
        self.cached.percentile_ms(0.95) / self.trivial.percentile_ms(0.95).max(1e-9)
    }
    pub fn gzip_ratio(&self) -> f64 {
        self.cached_gzip.percentile_ms(0.95) / self.trivial.percentile_ms(0.95).max(1e-9)
    }
}

async fn measure(url: &str, store: &'static str, past: usize, seconds: f64) -> anyhow::Result<Row> {
    let mut config = Config::new(url, "127.0.0.1:0".parse()?);
    config.booking_rate = api::limit::Rate::UNLIMITED;
    config.token_rate = api::limit::Rate::UNLIMITED;
    config.seed_demo = false;
    config.calendar_schedule = false;
    let server = app::start(config).await?;
    let bus = server.state.bus.clone();
    let seeding = Instant::now();
    seed_catalog(&bus).await?;
    seed_past(&bus, past).await?;
    seed_busy(&bus).await?;
    let head = bus.signal().last();
    let all = projections::Projection::ALL;
    anyhow::ensure!(
        server
            .state
            .projections
            .wait_for(&all, head, Duration::from_secs(600))
            .await,
        "projections did not catch up"
    );
    eprintln!(
        "{store}: seeded {past} past bookings and {BUSY_BLOCKS} busy blocks in {:.1} s",
        seeding.elapsed().as_secs_f64()
    );
    let from = local_date(TZ, Utc::now()) + Days::days(1);
    let to = from + Days::days(DAYS - 1);
    let url = Arc::new(format!(
        "http://{}/api/v1/availability?service={}&from={from}&to={to}",
        server.addr,
        service()
    ));
    let http = reqwest::Client::new();
    let probe: serde_json::Value = http.get(url.as_str()).send().await?.json().await?;
    let slots = probe["slots"].as_array().map_or(0, Vec::len);
    let bytes = probe.to_string().len();
    anyhow::ensure!(slots > 0, "availability returned no slots: {probe}");
    // Warm up both paths, then measure them one after the other on one client.
    let _ = healthz_run(server.addr, 1, 0.3).await?;
    // `gzip`: the client sends `Accept-Encoding: gzip` as browsers do (and, like the trivial
    // endpoint's client, reads the bytes without decoding them).
    let request = move |gzip: bool| {
        let (http, url) = (http.clone(), url.clone());
        move |_, _| {
            let (http, url) = (http.clone(), url.clone());
            async move {
                let mut req = http.get(url.as_str());
                if gzip {
                    req = req.header("Accept-Encoding", "gzip");
                }
                let r = req.send().await.map_err(|e| e.to_string())?;
                if r.status().as_u16() != 200 {
                    return Err(format!("availability answered {}", r.status()));
                }
                r.bytes().await.map_err(|e| e.to_string())?;
                Ok(())
            }
        }
    };
    let availability_once = request(false);
    let _ = drive(1, 0.3, availability_once.clone()).await?;
    // Where the time goes: the read-model query and slot computation alone, and with the JSON
    // encoding of the answer (no HTTP).
    let (mut query_ms, mut encode_ms) = (Vec::new(), Vec::new());
    for _ in 0..30 {
        let t = Instant::now();
        let view = projections::queries::availability(
            &server.state.read,
            &service().to_string(),
            None,
            from,
            to,
            Utc::now(),
        )
        .await?
        .ok_or_else(|| anyhow::anyhow!("no availability"))?;
        query_ms.push(t.elapsed().as_secs_f64() * 1000.0);
        let t = Instant::now();
        let body = serde_json::to_vec(&view)?;
        encode_ms.push(t.elapsed().as_secs_f64() * 1000.0);
        std::hint::black_box(body);
    }
    query_ms.sort_by(f64::total_cmp);
    encode_ms.sort_by(f64::total_cmp);
    eprintln!(
        "{store} {past}: in-process median: query+slots {:.2} ms, JSON encoding {:.2} ms",
        query_ms[15], encode_ms[15]
    );
    let trivial = healthz_run(server.addr, 1, seconds).await?;
    server.state.answers.set_enabled(false);
    let availability = drive(1, seconds, availability_once.clone()).await?;
    server.state.answers.set_enabled(true);
    let cached = drive(1, seconds, availability_once).await?;
    let cached_gzip = drive(1, seconds, request(true)).await?;
    server.shutdown().await?;
    Ok(Row {
        store,
        past_bookings: past,
        trivial,
        availability,
        cached,
        cached_gzip,
        slots,
        bytes,
    })
}

pub fn print_header() {
    println!(
        "{:<8} {:>6} | {:>8} {:>8} | {:>8} {:>8} {:>6} | {:>8} {:>8} {:>6} | {:>8} {:>8} {:>6} | {:>5} {:>5}",
        "store",
        "past",
        "triv p50",
        "triv p95",
        "cold p50",
        "cold p95",
        "÷triv",
        "hit p50",
        "hit p95",
        "÷triv",
        "gz p50",
        "gz p95",
        "÷triv",
        "slots",
        "KB"
    );
}

pub fn print_row(r: &Row) {
    println!(
        "{:<8} {:>6} | {:>8.3} {:>8.3} | {:>8.3} {:>8.3} {:>5.0}x | {:>8.3} {:>8.3} {:>5.1}x | {:>8.3} {:>8.3} {:>5.1}x | {:>5} {:>5}",
        r.store,
        r.past_bookings,
        r.trivial.percentile_ms(0.5),
        r.trivial.percentile_ms(0.95),
        r.availability.percentile_ms(0.5),
        r.availability.percentile_ms(0.95),
        r.ratio(),
        r.cached.percentile_ms(0.5),
        r.cached.percentile_ms(0.95),
        r.cached_ratio(),
        r.cached_gzip.percentile_ms(0.5),
        r.cached_gzip.percentile_ms(0.95),
        r.gzip_ratio(),
        r.slots,
        r.bytes / 1024
    );
}

/// Runs the benchmark on each store with each count of past bookings.
pub async fn run(stores: &[StoreKind], past: &[usize], seconds: f64) -> anyhow::Result<Vec<Row>> {
    print_header();
    let mut out = Vec::new();
    for kind in stores {
        let name = kind.name();
        let mut rows: Vec<Row> = Vec::new();
        for &n in past {
            let row = on_scratch(
                *kind,
                |url| async move { measure(&url, name, n, seconds).await },
            )
            .await?;
            print_row(&row);
            rows.push(row);
        }
        if let (Some(first), Some(last)) = (rows.first(), rows.last()) {
            if rows.len() > 1 {
                println!(
                    "{name}: p95 at {} past bookings is {:.2}x the p95 at {}",
                    last.past_bookings,
                    last.availability.percentile_ms(0.95)
                        / first.availability.percentile_ms(0.95).max(1e-9),
                    first.past_bookings
                );
            }
        }
        out.extend(rows);
    }
    Ok(out)
}
