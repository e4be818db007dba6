//! `salon bench booking`: booking commands per second through HTTP and the event store, beside a
//! baseline measured in the same run on the same database: raw INSERTs of the same event rows,
//! one transaction per booking (the least durable work one booking needs). For 1 and 16
//! clients, on SQLite and PostgreSQL, with p50/p99 latencies and the ratio.
//!
//! Two modes: `command` answers once the booking's events are durable
//! (`SALON_READ_YOUR_WRITES_MS=0`); `+ryw` (the default configuration) also waits until the
//! bookings and availability read models show it, which adds one projection transaction to each
//! answer when bookings do not overlap in time.
//!
//! The bench salon has many stylists working round the clock on a 15-minute step, and each
//! client books its own stylists' slots in order: the figure is throughput, not contention
//! (the racing tests cover contention).

use crate::app::{self, Config};
use crate::scratch;
use chrono::{Duration as Days, NaiveDate, NaiveTime, TimeZone, Utc};
use commands::CommandBus;
use domain::ids::{ServiceId, StylistId, SALON_ID};
use domain::metadata::{EventMetadata, Source};
use domain::salon::{Salon, SalonCommand};
use domain::schedule::{BookingPolicy, DayHours, DayKey, WeeklyHours};
use domain::service::{Service, ServiceCommand, ServiceDetails};
use domain::stylist::{Stylist, StylistCommand};
use domain::values::{Cents, Currency};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub(crate) const STYLISTS: usize = 64;
/// Slots a stylist has per day: 00:00 to 23:30 (hours close at 23:59, so 23:45 does not fit).
pub(crate) const SLOTS_PER_DAY: i64 = 95;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StoreKind {
    Sqlite,
    Postgres,
}

impl StoreKind {
    pub fn name(self) -> &'static str {
        match self {
            StoreKind::Sqlite => "sqlite",
            StoreKind::Postgres => "postgres",
        }
    }
}

/// Runs `f` with the URL of a scratch store of `kind` (a SQLite file in a temporary directory,
/// or a fresh PostgreSQL database) and removes the store afterwards, whatever `f` returned.
pub(crate) async fn on_scratch<T, F, Fut>(kind: StoreKind, f: F) -> anyhow::Result<T>
where
    F: FnOnce(String) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<T>>,
{
    let dir = std::env::temp_dir().join(format!("salon-bench-{}", uuid::Uuid::new_v4().simple()));
    let url = match kind {
        StoreKind::Sqlite => {
            std::fs::create_dir_all(&dir)?;
            scratch::sqlite_in(&dir, "bench.db")
        }
        StoreKind::Postgres => scratch::create_postgres("salon_bench").await?,
    };
    let result = f(url.clone()).await;
    match kind {
        StoreKind::Sqlite => {
            let _ = std::fs::remove_dir_all(&dir);
        }
        StoreKind::Postgres => scratch::drop_postgres(&url).await?,
    }
    result
}

#[derive(Debug, Clone)]
pub struct Options {
    pub stores: Vec<StoreKind>,
    pub clients: Vec<usize>,
    pub seconds: f64,
}

/// Whether a booking's answer waits for its read models.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Answer once the events are durable (`SALON_READ_YOUR_WRITES_MS=0`): the command path.
    Command,
    /// Answer once the bookings and availability read models show it (the default).
    ReadYourWrites,
}

impl Mode {
    pub const ALL: [Mode; 2] = [Mode::Command, Mode::ReadYourWrites];
    pub fn name(self) -> &'static str {
        match self {
            Mode::Command => "command",
            Mode::ReadYourWrites => "+ryw",
        }
    }
}

/// One measured line.
#[derive(Debug, Clone)]
pub struct Row {
    pub store: &'static str,
    pub mode: Mode,
    pub clients: usize,
    pub raw_rate: f64,
    pub raw_p50_ms: f64,
    pub raw_p99_ms: f64,
    pub http_rate: f64,
    pub http_p50_ms: f64,
    pub http_p99_ms: f64,
    pub http_errors: u64,
    /// `GET /healthz` per second with the same clients: HTTP alone (client, loopback, server),
    /// no database. The ceiling any HTTP command could reach on this machine.
    pub healthz_rate: f64,
}

impl Row {
    pub fn ratio(&self) -> f64 {
        if self.raw_rate > 0.0 {
            self.http_rate / self.raw_rate
        } else {
            0.0
        }
    }
}

pub struct Sample {
    done: u64,
    errors: u64,
    latencies: Vec<Duration>,
    elapsed: Duration,
}

impl Sample {
    fn merge(samples: Vec<Sample>, elapsed: Duration) -> Sample {
        let mut out = Sample {
            done: 0,
            errors: 0,
            latencies: Vec::new(),
            elapsed,
        };
        for s in samples {
            out.done += s.done;
            out.errors += s.errors;
            out.latencies.extend(s.latencies);
        }
        out.latencies.sort();
        out
    }
    pub fn rate(&self) -> f64 {
        self.done as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
    pub fn percentile_ms(&self, p: f64) -> f64 {
        if self.latencies.is_empty() {
            return 0.0;
        }
        let i = ((self.latencies.len() as f64 - 1.0) * p).round() as usize;
        self.latencies[i.min(self.latencies.len() - 1)].as_secs_f64() * 1000.0
    }
}

pub(crate) fn stylist(i: usize) -> StylistId {
    StylistId::from_uuid(uuid::Uuid::from_u128(
        0xbe00_0000_0000_0000_0000_0000_0000_0000 + i as u128,
    ))
}

pub(crate) fn service() -> ServiceId {
    ServiceId::from_uuid(uuid::Uuid::from_u128(
        0xbe5e_0000_0000_0000_0000_0000_0000_0001,
    ))
}

/// The bench salon: UTC, a 15-minute step, no lead time, a year ahead; [`STYLISTS`] stylists
/// working round the clock, each offering one 15-minute service.
pub(crate) async fn seed(bus: &CommandBus) -> anyhow::Result<()> {
    let meta = EventMetadata::new("system", Source::Cli).with_reason(Some("benchmark".into()));
    let policy = BookingPolicy {
        slot_step_minutes: 15,
        lead_time_minutes: 0,
        horizon_days: 366,
        ..Default::default()
    };
    let configure = SalonCommand::Configure {
        name: "Bench salon".into(),
        time_zone: chrono_tz::UTC,
        currency: Currency::usd(),
        policy,
        open: true,
        demo: false,
    };
    bus.execute::<Salon>(SALON_ID, configure, &meta)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let details = ServiceDetails {
        name: "Bench cut".into(),
        description: String::new(),
        duration_minutes: 15,
        buffer_before_minutes: 0,
        buffer_after_minutes: 0,
        price_cents: Cents::new(5000)?,
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
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let all_day = DayHours {
        open: NaiveTime::MIN,
        close: NaiveTime::from_hms_opt(23, 59, 0).unwrap_or(NaiveTime::MIN),
        breaks: vec![],
    };
    let week: BTreeMap<DayKey, DayHours> = [
        DayKey::Mon,
        DayKey::Tue,
        DayKey::Wed,
        DayKey::Thu,
        DayKey::Fri,
        DayKey::Sat,
        DayKey::Sun,
    ]
    .into_iter()
    .map(|d| (d, all_day.clone()))
    .collect();
    let hours = WeeklyHours::new(week)?;
    hire_stylists(bus, (0..STYLISTS).map(stylist), service(), &hours, &meta).await
}

/// Hires the bench stylists ("Stylist 0", "Stylist 1", …), each offering `service` with
/// `hours`. Shared by the benchmarks.
pub(crate) async fn hire_stylists(
    bus: &CommandBus,
    ids: impl IntoIterator<Item = StylistId>,
    service: ServiceId,
    hours: &WeeklyHours,
    meta: &EventMetadata,
) -> anyhow::Result<()> {
    for (i, id) in ids.into_iter().enumerate() {
        let hire = StylistCommand::Hire {
            id,
            name: format!("Stylist {i}"),
            bio: String::new(),
            services: vec![service],
        };
        bus.execute::<Stylist>(&id.to_string(), hire, meta)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let set = StylistCommand::SetHours {
            hours: hours.clone(),
        };
        bus.execute::<Stylist>(&id.to_string(), set, meta)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    Ok(())
}

/// The n-th slot a client books: its own stylists, day by day from tomorrow.
fn slot(
    first_day: NaiveDate,
    client: usize,
    clients: usize,
    n: u64,
) -> (StylistId, chrono::DateTime<Utc>) {
    let per_client = (STYLISTS / clients).max(1);
    let stylist_index = client + clients * ((n as usize) % per_client);
    let k = (n as usize / per_client) as i64;
    let day = first_day + Days::days(k / SLOTS_PER_DAY);
    let start = Utc.from_utc_datetime(&day.and_time(NaiveTime::MIN))
        + Days::minutes(15 * (k % SLOTS_PER_DAY));
    (stylist(stylist_index % STYLISTS), start)
}

/// Runs `op` in a loop on `clients` tasks for `seconds`; `op(client, n)` does one unit of work.
/// The first failure of each task is printed.
pub(crate) async fn drive<F, Fut>(clients: usize, seconds: f64, op: F) -> anyhow::Result<Sample>
where
    F: Fn(usize, u64) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<(), String>> + Send,
{
    let op = Arc::new(op);
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|c| {
            let (op, stop) = (op.clone(), stop.clone());
            tokio::spawn(async move {
                let mut s = Sample {
                    done: 0,
                    errors: 0,
                    latencies: Vec::new(),
                    elapsed: Duration::ZERO,
                };
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let t = Instant::now();
                    match op(c, n).await {
                        Ok(()) => {
                            s.done += 1;
                            s.latencies.push(t.elapsed());
                        }
                        Err(e) => {
                            if s.errors == 0 {
                                eprintln!("failed: {e}");
                            }
                            s.errors += 1;
                        }
                    }
                    n += 1;
                }
                s
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let mut samples = Vec::new();
    for t in tasks {
        samples.push(t.await?);
    }
    Ok(Sample::merge(samples, started.elapsed()))
}

async fn http_run(
    addr: std::net::SocketAddr,
    clients: usize,
    seconds: f64,
    round: u64,
) -> anyhow::Result<Sample> {
    let first_day = Utc::now().date_naive() + Days::days(1 + (round as i64) * 40);
    let url = Arc::new(format!("http://{addr}/api/v1/bookings"));
    let http = reqwest::Client::new();
    drive(clients, seconds, move |c, n| {
        let (http, url) = (http.clone(), url.clone());
        async move {
            let (stylist, start) = slot(first_day, c, clients, n);
            let body = serde_json::json!({
                "service": service(), "stylist": stylist, "start": start.to_rfc3339(),
                "client": {"name": "Bench Client", "email": "bench@example.com", "phone": "+12125550100"},
            });
            let r = http.post(url.as_str()).json(&body).send().await.map_err(|e| e.to_string())?;
            if r.status().as_u16() == 201 {
                Ok(())
            } else {
                Err(format!("booking answered {}: {}", r.status(), r.text().await.unwrap_or_default()))
            }
        }
    })
    .await
}

pub(crate) async fn healthz_run(
    addr: std::net::SocketAddr,
    clients: usize,
    seconds: f64,
) -> anyhow::Result<Sample> {
    let url = Arc::new(format!("http://{addr}/healthz"));
    let http = reqwest::Client::new();
    drive(clients, seconds, move |_, _| {
        let (http, url) = (http.clone(), url.clone());
        async move {
            let r = http
                .get(url.as_str())
                .send()
                .await
                .map_err(|e| e.to_string())?;
            r.bytes().await.map_err(|e| e.to_string())?;
            Ok(())
        }
    })
    .await
}

/// The rows one booking appends, taken from a real booking so sizes match.
async fn template(
    db: &projections::ReadDb,
) -> anyhow::Result<Vec<(String, String, String, String)>> {
    let head = projections::log::head(db).await?;
    let events = projections::log::export_page(db, (head.position - 1000).max(0), 100_000).await?;
    let booking_id = events
        .iter()
        .rev()
        .find(|e| e.event_type == "BookingRequested")
        .map(|e| e.aggregate_id.clone())
        .ok_or_else(|| anyhow::anyhow!("no booking to copy"))?;
    let reserved = events
        .iter()
        .rev()
        .find(|e| e.event_type == "SlotReserved" && e.payload.to_string().contains(&booking_id))
        .ok_or_else(|| anyhow::anyhow!("no reservation to copy"))?;
    let mut rows = vec![(
        reserved.aggregate_type.clone(),
        reserved.event_type.clone(),
        reserved.payload.to_string(),
        reserved.metadata.to_string(),
    )];
    for e in events.iter().filter(|e| e.aggregate_id == booking_id) {
        rows.push((
            e.aggregate_type.clone(),
            e.event_type.clone(),
            e.payload.to_string(),
            e.metadata.to_string(),
        ));
    }
    Ok(rows)
}

/// A copy of the event log's table (same columns, keys and indexes) for the baseline, so its
/// rows do not reach the projections.
async fn create_baseline_table(store: &commands::Store) -> anyhow::Result<()> {
    match store {
        commands::Store::Postgres(pg) => {
            sqlx::query("CREATE TABLE IF NOT EXISTS bench_events (LIKE events INCLUDING ALL)")
                .execute(pg.pool())
                .await?;
        }
        commands::Store::Sqlite(repo) => {
            sqlx::query(
                "CREATE TABLE IF NOT EXISTS bench_events (position INTEGER PRIMARY KEY AUTOINCREMENT, \
                 aggregate_type TEXT NOT NULL, aggregate_id TEXT NOT NULL, \
                 sequence INTEGER NOT NULL CHECK (sequence >= 1), event_type TEXT NOT NULL, \
                 event_version TEXT NOT NULL, payload TEXT NOT NULL, metadata TEXT NOT NULL, \
                 UNIQUE (aggregate_type, aggregate_id, sequence))",
            )
            .execute(repo.pool())
            .await?;
            sqlx::query(
                "CREATE INDEX IF NOT EXISTS bench_events_event_type ON bench_events (event_type, position)",
            )
            .execute(repo.pool())
            .await?;
        }
    }
    Ok(())
}

async fn raw_run(
    url: &str,
    kind: StoreKind,
    rows: Arc<Vec<(String, String, String, String)>>,
    clients: usize,
    seconds: f64,
) -> anyhow::Result<Sample> {
    let store = commands::Store::connect(url).await?;
    create_baseline_table(&store).await?;
    let cast = if kind == StoreKind::Postgres {
        "::jsonb"
    } else {
        ""
    };
    let values: Vec<String> = (0..rows.len())
        .map(|i| {
            let b = i * 5;
            format!(
                "(${}, ${}, 1, ${}, '1', ${}{cast}, ${}{cast})",
                b + 1,
                b + 2,
                b + 3,
                b + 4,
                b + 5
            )
        })
        .collect();
    let sql = Arc::new(format!(
        "INSERT INTO bench_events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata) \
         VALUES {}",
        values.join(", ")
    ));
    let runner = store.clone();
    let sample = drive(clients, seconds, move |_, _| {
        let (store, rows, sql) = (runner.clone(), rows.clone(), sql.clone());
        async move {
            // The same rows as one booking, fresh ids, one statement (one transaction).
            macro_rules! bound {
                () => {{
                    let mut q = sqlx::query(sql.as_str());
                    for (agg, event_type, payload, meta) in rows.iter() {
                        q = q
                            .bind(agg.clone())
                            .bind(uuid::Uuid::new_v4().to_string())
                            .bind(event_type.clone())
                            .bind(payload.clone())
                            .bind(meta.clone());
                    }
                    q
                }};
            }
            let result = match &store {
                commands::Store::Sqlite(repo) => bound!().execute(repo.pool()).await.map(|_| ()),
                commands::Store::Postgres(pg) => bound!().execute(pg.pool()).await.map(|_| ()),
            };
            result.map_err(|e| format!("baseline insert: {e}"))
        }
    })
    .await?;
    store.close().await;
    Ok(sample)
}

/// Runs the booking benchmark and returns its rows (also printed as they come).
pub async fn booking(options: &Options) -> anyhow::Result<Vec<Row>> {
    let mut out = Vec::new();
    for kind in &options.stores {
        let rows = on_scratch(*kind, |url| async move {
            bench_store(&url, *kind, options).await
        })
        .await?;
        out.extend(rows);
    }
    Ok(out)
}

async fn bench_store(url: &str, kind: StoreKind, options: &Options) -> anyhow::Result<Vec<Row>> {
    let store_name = match kind {
        StoreKind::Sqlite => "sqlite",
        StoreKind::Postgres => "postgres",
    };
    let mut out = Vec::new();
    let rounds_per_mode = options.clients.len() as u64 + 1;
    for (m, mode) in Mode::ALL.into_iter().enumerate() {
        let mut config = Config::new(url, "127.0.0.1:0".parse()?);
        config.booking_rate = api::limit::Rate::UNLIMITED;
        config.token_rate = api::limit::Rate::UNLIMITED;
        config.seed_demo = false;
        // As `salon serve`: `SALON_NOTIFY=off` measures without LISTEN/NOTIFY.
        config.notify = !std::env::var("SALON_NOTIFY").is_ok_and(|v| v.trim() == "off");
        config.read_your_writes = match mode {
            Mode::Command => Duration::ZERO,
            Mode::ReadYourWrites => Duration::from_secs(2),
        };
        let server = app::start(config).await?;
        if m == 0 {
            seed(&server.state.bus).await?;
        }
        let first_round = m as u64 * rounds_per_mode;
        // Warm up (connections, caches) and make one booking to copy rows from.
        let warm = http_run(server.addr, 1, 0.5, first_round + rounds_per_mode - 1).await?;
        anyhow::ensure!(
            warm.done > 0,
            "warm-up booked nothing ({} errors)",
            warm.errors
        );
        let rows = Arc::new(template(&server.state.read).await?);
        for (round, &clients) in options.clients.iter().enumerate() {
            let raw = raw_run(url, kind, rows.clone(), clients, options.seconds).await?;
            let http = http_run(
                server.addr,
                clients,
                options.seconds,
                first_round + round as u64,
            )
            .await?;
            let healthz = healthz_run(server.addr, clients, options.seconds / 2.0).await?;
            let row = Row {
                store: store_name,
                mode,
                clients,
                raw_rate: raw.rate(),
                raw_p50_ms: raw.percentile_ms(0.5),
                raw_p99_ms: raw.percentile_ms(0.99),
                http_rate: http.rate(),
                http_p50_ms: http.percentile_ms(0.5),
                http_p99_ms: http.percentile_ms(0.99),
                http_errors: http.errors,
                healthz_rate: healthz.rate(),
            };
            print_row(&row);
            out.push(row);
        }
        server.shutdown().await?;
    }
    Ok(out)
}

pub fn print_header() {
    println!(
        "{:<9} {:<8} {:>7} | {:>11} {:>8} {:>8} | {:>11} {:>8} {:>8} {:>6} | {:>6} | {:>10}",
        "store",
        "mode",
        "clients",
        "raw/s",
        "p50 ms",
        "p99 ms",
        "booking/s",
        "p50 ms",
        "p99 ms",
        "errors",
        "ratio",
        "healthz/s"
    );
}

pub fn print_row(r: &Row) {
    println!(
        "{:<9} {:<8} {:>7} | {:>11.0} {:>8.2} {:>8.2} | {:>11.0} {:>8.2} {:>8.2} {:>6} | {:>5.0}% | {:>10.0}",
        r.store,
        r.mode.name(),
        r.clients,
        r.raw_rate,
        r.raw_p50_ms,
        r.raw_p99_ms,
        r.http_rate,
        r.http_p50_ms,
        r.http_p99_ms,
        r.http_errors,
        r.ratio() * 100.0,
        r.healthz_rate
    );
}
