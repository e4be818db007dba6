//! `salon bench chaos`: reliability under failure. The real binary (`salon serve`, as a child
//! process) takes a booking load from several concurrent HTTP clients while something breaks:
//!
//! - `kill`: the server is killed with SIGKILL N times at random moments and started again;
//! - `outage` (PostgreSQL only): the server reaches PostgreSQL through a TCP proxy run here,
//!   which for S seconds drops every open connection and refuses new ones, then lets them
//!   through again.
//!
//! Every booking carries an `Idempotency-Key`; a client whose request fails (connection error,
//! timeout, 5xx) sends the same request with the same key again until it gets an answer, as the
//! booking site does. Two clients ask for each slot (different keys), so the slots are contended.
//!
//! Afterwards, against the event log, the bookings read model and the read API: every booking
//! acknowledged to a client (201 with an id) is present; no idempotency key produced two
//! bookings; no stylist has two live bookings at overlapping times. The run prints its counts
//! and the time the server took to book again after each fault, and fails when anything was
//! lost, duplicated or double-booked.

use crate::bench::{self, StoreKind};
use crate::{app, scratch};
use chrono::{Duration as Days, NaiveDate, NaiveTime, TimeZone, Utc};
use commands::CommandBus;
use domain::metadata::{EventMetadata, Source};
use domain::token::Scope;
use migrations::LogSignal;
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// What breaks during the load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    /// SIGKILL the server N times, restarting it each time.
    Kill,
    /// Cut the server off from PostgreSQL for S seconds (PostgreSQL only).
    Outage,
}

impl Scenario {
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Kill => "kill",
            Scenario::Outage => "outage",
        }
    }
}

/// How hard to shake.
#[derive(Debug, Clone)]
pub struct Options {
    /// The `salon` binary to run as the server.
    pub bin: PathBuf,
    /// SIGKILLs in the `kill` scenario.
    pub kills: usize,
    /// How long the database is unreachable in the `outage` scenario.
    pub outage: Duration,
    /// Concurrent booking clients.
    pub clients: usize,
    /// Load before the first fault and after the last.
    pub settle: Duration,
    /// Longest pause between the server booking again and the next SIGKILL (the pause is random
    /// between a tenth of this and this).
    pub max_gap: Duration,
}

impl Options {
    /// The defaults of `salon bench chaos`, running `bin`.
    pub fn new(bin: impl Into<PathBuf>) -> Self {
        Self {
            bin: bin.into(),
            kills: 20,
            outage: Duration::from_secs(60),
            clients: 8,
            settle: Duration::from_secs(2),
            max_gap: Duration::from_millis(1500),
        }
    }
}

/// What one run saw and found.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub store: &'static str,
    pub scenario: &'static str,
    /// `20 kills`, `60 s`.
    pub faults: String,
    /// Booking requests (idempotency keys) the clients made.
    pub attempted: u64,
    /// Answered 201 with an id.
    pub acknowledged: u64,
    /// Answered 409: the other client of the pair had the slot.
    pub conflicts: u64,
    /// Answered another 4xx (should be 0; the first is in `first_refusal`).
    pub refused: u64,
    pub first_refusal: Option<String>,
    /// Keys sent more than once (after a connection error, a timeout or a 5xx).
    pub retried: u64,
    /// Extra sends in all.
    pub resends: u64,
    /// Why sends failed: no connection or a connection cut (the server down), no answer in
    /// 10 s, an answer 5xx (or 429).
    pub connection_errors: u64,
    pub timeouts: u64,
    pub server_errors: u64,
    /// Keys still without an answer when the load was called off (neither acknowledged nor lost).
    pub unanswered: u64,
    /// Acknowledged bookings found in the log, the bookings read model and the read API.
    pub present: u64,
    /// Acknowledged bookings missing somewhere (ids, with where).
    pub lost: Vec<String>,
    /// Bookings beyond the first for one idempotency key.
    pub duplicates: u64,
    /// Pairs of live bookings of one stylist at overlapping times (log and read model).
    pub double_booked: u64,
    /// Acknowledged bookings fetched one by one from `GET /api/v1/bookings/{id}`.
    pub api_checked: u64,
    /// Events in the log afterwards.
    pub events: u64,
    /// From each fault (the SIGKILL, the end of the outage) to the next acknowledged booking.
    pub recoveries: Vec<Duration>,
    /// Times the server exited without being killed.
    pub unexpected_exits: u64,
    /// How long the load ran.
    pub elapsed: Duration,
}

impl Report {
    /// Nothing lost, duplicated or double-booked, and the load booked something.
    pub fn ok(&self) -> bool {
        self.acknowledged > 0
            && self.lost.is_empty()
            && self.present == self.acknowledged
            && self.duplicates == 0
            && self.double_booked == 0
    }

    fn recovery(&self, p: f64) -> f64 {
        let mut v = self.recoveries.clone();
        v.sort();
        if v.is_empty() {
            return 0.0;
        }
        let i = ((v.len() as f64 - 1.0) * p).round() as usize;
        v[i.min(v.len() - 1)].as_secs_f64()
    }
}

pub fn print_header() {
    println!(
        "{:<9} {:<8} {:>9} | {:>9} {:>7} {:>9} {:>7} {:>7} {:>7} {:>10} | {:>7} {:>5} {:>10} {:>13} | {:>9} {:>9}",
        "store",
        "scenario",
        "faults",
        "attempted",
        "acked",
        "conflicts",
        "refused",
        "retried",
        "resends",
        "unanswered",
        "present",
        "lost",
        "duplicates",
        "double-booked",
        "recover50",
        "recoverMax"
    );
}

pub fn print_row(r: &Report) {
    println!(
        "{:<9} {:<8} {:>9} | {:>9} {:>7} {:>9} {:>7} {:>7} {:>7} {:>10} | {:>7} {:>5} {:>10} {:>13} | {:>8.2}s {:>8.2}s",
        r.store,
        r.scenario,
        r.faults,
        r.attempted,
        r.acknowledged,
        r.conflicts,
        r.refused,
        r.retried,
        r.resends,
        r.unanswered,
        r.present,
        r.lost.len(),
        r.duplicates,
        r.double_booked,
        r.recovery(0.5),
        r.recovery(1.0),
    );
    println!(
        "  {:<7} {:<8} sends that failed: {} connection errors, {} timeouts, {} 5xx; {} log events; {} bookings read back through GET /api/v1/bookings/{{id}}; {:.0} s of load",
        r.store,
        r.scenario,
        r.connection_errors,
        r.timeouts,
        r.server_errors,
        r.events,
        r.api_checked,
        r.elapsed.as_secs_f64()
    );
    if let Some(refusal) = &r.first_refusal {
        println!("  first refusal: {refusal}");
    }
    if !r.lost.is_empty() {
        println!(
            "  LOST {} acknowledged bookings, e.g. {:?}",
            r.lost.len(),
            &r.lost[..r.lost.len().min(5)]
        );
    }
    if r.unexpected_exits > 0 {
        println!(
            "  the server exited {} times without being killed",
            r.unexpected_exits
        );
    }
}

/// Runs every scenario on every store (the outage on PostgreSQL only), printing a row each.
pub async fn run(
    stores: &[StoreKind],
    scenarios: &[Scenario],
    options: &Options,
) -> anyhow::Result<Vec<Report>> {
    println!(
        "clients {}, kills {}, outage {:.0} s, server {}",
        options.clients,
        options.kills,
        options.outage.as_secs_f64(),
        options.bin.display()
    );
    print_header();
    let mut out = Vec::new();
    for &store in stores {
        for &scenario in scenarios {
            if scenario == Scenario::Outage && store == StoreKind::Sqlite {
                println!("{:<9} {:<8} skipped: the outage is PostgreSQL's (SQLite is a file in the server's process)", "sqlite", "outage");
                continue;
            }
            let report = run_one(store, scenario, options).await?;
            print_row(&report);
            out.push(report);
        }
    }
    Ok(out)
}

/// One scenario on a fresh database of `store`, dropped afterwards (its server's log is kept
/// and named when the run fails).
pub async fn run_one(
    store: StoreKind,
    scenario: Scenario,
    options: &Options,
) -> anyhow::Result<Report> {
    anyhow::ensure!(options.clients > 0, "at least one client");
    anyhow::ensure!(
        scenario == Scenario::Kill || store == StoreKind::Postgres,
        "the outage scenario needs PostgreSQL"
    );
    let dir = std::env::temp_dir().join(format!("salon-chaos-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir)?;
    let url = match store {
        StoreKind::Sqlite => scratch::sqlite_in(&dir, "salon.db"),
        StoreKind::Postgres => scratch::create_postgres("salon_chaos").await?,
    };
    let result = run_on(&url, &dir, store, scenario, options).await;
    if store == StoreKind::Postgres {
        if let Err(e) = scratch::drop_postgres(&url).await {
            eprintln!("could not drop the scratch database: {e}");
        }
    }
    match &result {
        Ok(r) if r.ok() => {
            let _ = std::fs::remove_dir_all(&dir);
        }
        _ => eprintln!(
            "the server's log is in {}",
            dir.join("server.log").display()
        ),
    }
    result
}

async fn run_on(
    url: &str,
    dir: &Path,
    store: StoreKind,
    scenario: Scenario,
    options: &Options,
) -> anyhow::Result<Report> {
    let token = seed(url).await?;
    // The outage cuts the server's way to PostgreSQL; the harness checks on a direct one.
    let proxy = match scenario {
        Scenario::Outage => Some(Proxy::start(upstream(url)?).await?),
        Scenario::Kill => None,
    };
    let server_url = match &proxy {
        Some(p) => through(url, p.addr)?,
        None => url.to_string(),
    };
    let addr = SocketAddr::from(([127, 0, 0, 1], free_port()?));
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .connect_timeout(Duration::from_secs(2))
        .build()?;
    let mut server = ServerProcess::start(
        &options.bin,
        &server_url,
        addr,
        &dir.join("server.log"),
        false,
    )?;
    server.wait_ready(&http, Duration::from_secs(120)).await?;
    let base = format!("http://{addr}");

    let load = Arc::new(Load::new());
    let first_day = Utc::now().date_naive() + Days::days(1);
    let run = uuid::Uuid::new_v4().simple().to_string()[..8].to_string();
    let clients: Vec<_> = (0..options.clients)
        .map(|_| {
            tokio::spawn(client(
                load.clone(),
                http.clone(),
                base.clone(),
                run.clone(),
                first_day,
            ))
        })
        .collect();

    let mut report = Report {
        store: match store {
            StoreKind::Sqlite => "sqlite",
            StoreKind::Postgres => "postgres",
        },
        scenario: scenario.name(),
        ..Default::default()
    };
    let faults = async {
        watch_for(&mut server, &mut report, options.settle, &http).await?;
        match scenario {
            Scenario::Kill => {
                for _ in 0..options.kills {
                    let gap = options.max_gap.mul_f64(0.1 + 0.9 * rand::random::<f64>());
                    watch_for(&mut server, &mut report, gap, &http).await?;
                    let (mark, at) = load.mark();
                    server.kill()?;
                    server.spawn()?;
                    let took =
                        recovered(&load, mark, at, &mut server, &mut report.unexpected_exits)
                            .await?;
                    report.recoveries.push(took);
                }
                report.faults = format!("{} kills", options.kills);
            }
            Scenario::Outage => {
                let proxy = proxy.as_ref().ok_or_else(|| anyhow::anyhow!("no proxy"))?;
                proxy.cut();
                let cut = Instant::now();
                // The load goes on against a server without its database. Should the server
                // give up and exit, it is started again once the database is back.
                while cut.elapsed() < options.outage {
                    if let Some(status) = server.exited() {
                        report.unexpected_exits += 1;
                        eprintln!("the server exited during the outage ({status})");
                        while cut.elapsed() < options.outage {
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                let (mark, at) = load.mark();
                proxy.restore();
                if !server.running() {
                    server.spawn()?;
                }
                let took =
                    recovered(&load, mark, at, &mut server, &mut report.unexpected_exits).await?;
                report.recoveries.push(took);
                report.faults = format!("{:.0} s", options.outage.as_secs_f64());
            }
        }
        watch_for(&mut server, &mut report, options.settle, &http).await?;
        anyhow::Ok(())
    }
    .await;
    // Call the load off: each client finishes the request it has (with retries), then stops.
    load.stop.store(true, Ordering::SeqCst);
    let called_off = Instant::now();
    for c in clients {
        let left = Duration::from_secs(60).saturating_sub(called_off.elapsed());
        if tokio::time::timeout(left, c).await.is_err() {
            load.abandon.store(true, Ordering::SeqCst);
        }
    }
    load.abandon.store(true, Ordering::SeqCst);
    faults?;
    report.elapsed = load.started.elapsed();

    let acked = load.acked.lock().map(|a| a.clone()).unwrap_or_default();
    report.attempted = load.attempted.load(Ordering::SeqCst);
    report.acknowledged = acked.len() as u64;
    report.conflicts = load.conflicts.load(Ordering::SeqCst);
    report.refused = load.refused.load(Ordering::SeqCst);
    report.first_refusal = load.first_refusal.lock().ok().and_then(|r| r.clone());
    report.retried = load.retried.load(Ordering::SeqCst);
    report.resends = load.resends.load(Ordering::SeqCst);
    report.unanswered = load.unanswered.load(Ordering::SeqCst);
    report.connection_errors = load.connection_errors.load(Ordering::SeqCst);
    report.timeouts = load.timeouts.load(Ordering::SeqCst);
    report.server_errors = load.server_errors.load(Ordering::SeqCst);

    if !server.running() {
        report.unexpected_exits += 1;
        server.spawn()?;
    }
    server.wait_ready(&http, Duration::from_secs(120)).await?;
    verify(url, &base, &token, &http, &acked, &mut report).await?;
    server.kill()?;
    Ok(report)
}

/// Seeds the bench salon (64 stylists, round the clock, 15-minute slots, a year ahead) and
/// returns a read token for the checks.
async fn seed(url: &str) -> anyhow::Result<String> {
    let store = app::open_store(url).await?;
    let bus = CommandBus::new(store.clone(), LogSignal::default());
    bench::seed(&bus).await?;
    let meta = EventMetadata::new("owner", Source::Cli).with_reason(Some("chaos bench".into()));
    let token = bus
        .create_token("chaos", Scope::Read, &meta)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    store.close().await;
    Ok(token.secret)
}

/// The `j`-th slot: stylists in turn, then 15-minute steps through each day from `first_day`.
fn slot(first_day: NaiveDate, j: u64) -> (domain::ids::StylistId, chrono::DateTime<Utc>) {
    let stylists = bench::STYLISTS as u64;
    let stylist = bench::stylist((j % stylists) as usize);
    let k = (j / stylists) as i64;
    let day = first_day + Days::days(k / bench::SLOTS_PER_DAY);
    let start = Utc.from_utc_datetime(&day.and_time(NaiveTime::MIN))
        + Days::minutes(15 * (k % bench::SLOTS_PER_DAY));
    (stylist, start)
}

/// An acknowledged booking.
#[derive(Debug, Clone)]
struct Ack {
    id: String,
    retried: bool,
    /// When the request that got the answer was sent, and when the answer came (µs from the
    /// start of the load).
    sent_us: u64,
    acked_us: u64,
}

/// The load's shared counters.
struct Load {
    started: Instant,
    next: AtomicU64,
    stop: AtomicBool,
    abandon: AtomicBool,
    attempted: AtomicU64,
    conflicts: AtomicU64,
    refused: AtomicU64,
    retried: AtomicU64,
    resends: AtomicU64,
    unanswered: AtomicU64,
    connection_errors: AtomicU64,
    timeouts: AtomicU64,
    server_errors: AtomicU64,
    first_refusal: Mutex<Option<String>>,
    acked: Mutex<Vec<Ack>>,
}

impl Load {
    fn new() -> Self {
        Self {
            started: Instant::now(),
            next: AtomicU64::new(0),
            stop: AtomicBool::new(false),
            abandon: AtomicBool::new(false),
            attempted: AtomicU64::new(0),
            conflicts: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            retried: AtomicU64::new(0),
            resends: AtomicU64::new(0),
            unanswered: AtomicU64::new(0),
            connection_errors: AtomicU64::new(0),
            timeouts: AtomicU64::new(0),
            server_errors: AtomicU64::new(0),
            first_refusal: Mutex::new(None),
            acked: Mutex::new(Vec::new()),
        }
    }

    fn now_us(&self) -> u64 {
        self.started.elapsed().as_micros() as u64
    }

    /// Where the acknowledgements stand now, and the time: a fault's mark.
    fn mark(&self) -> (usize, u64) {
        let len = self.acked.lock().map(|a| a.len()).unwrap_or(0);
        (len, self.now_us())
    }

    /// The first acknowledgement of a request sent after `at`, if any yet.
    fn acked_after(&self, from: usize, at: u64) -> Option<u64> {
        let acked = self.acked.lock().ok()?;
        acked
            .get(from..)?
            .iter()
            .filter(|a| a.sent_us > at)
            .map(|a| a.acked_us)
            .min()
    }
}

/// One client: books slot after slot (each slot asked for by two keys in a row), retrying each
/// key until it gets an answer.
async fn client(
    load: Arc<Load>,
    http: reqwest::Client,
    base: String,
    run: String,
    first_day: NaiveDate,
) {
    let url = format!("{base}/api/v1/bookings");
    let service = bench::service().to_string();
    while !load.stop.load(Ordering::SeqCst) {
        let k = load.next.fetch_add(1, Ordering::SeqCst);
        let (stylist, start) = slot(first_day, k / 2);
        let key = format!("chaos-{run}-{k}");
        let body = json!({
            "service": service, "stylist": stylist, "start": start.to_rfc3339(),
            "client": {"name": format!("Chaos Client {k}"), "email": "chaos@example.com", "phone": "+12125550100"},
        });
        load.attempted.fetch_add(1, Ordering::SeqCst);
        let mut sends = 0u64;
        let mut backoff = Duration::from_millis(20);
        loop {
            sends += 1;
            let sent_us = load.now_us();
            let answer = http
                .post(&url)
                .header("Idempotency-Key", &key)
                .json(&body)
                .send()
                .await;
            let retry = match answer {
                Ok(r) if r.status().as_u16() == 201 => match r.json::<Value>().await {
                    Ok(v) => match v["id"].as_str() {
                        Some(id) => {
                            let ack = Ack {
                                id: id.to_string(),
                                retried: sends > 1,
                                sent_us,
                                acked_us: load.now_us(),
                            };
                            if let Ok(mut acked) = load.acked.lock() {
                                acked.push(ack);
                            }
                            false
                        }
                        None => {
                            refuse(&load, format!("201 without an id: {v}"));
                            false
                        }
                    },
                    // The body was cut off (the server died while answering): ask again.
                    Err(_) => {
                        load.connection_errors.fetch_add(1, Ordering::SeqCst);
                        true
                    }
                },
                Ok(r) if r.status().as_u16() == 409 => {
                    load.conflicts.fetch_add(1, Ordering::SeqCst);
                    false
                }
                Ok(r) if r.status().is_server_error() || r.status().as_u16() == 429 => {
                    load.server_errors.fetch_add(1, Ordering::SeqCst);
                    true
                }
                Ok(r) => {
                    let status = r.status();
                    let text = r.text().await.unwrap_or_default();
                    refuse(&load, format!("{status}: {text}"));
                    false
                }
                Err(e) => {
                    if e.is_timeout() {
                        load.timeouts.fetch_add(1, Ordering::SeqCst);
                    } else {
                        load.connection_errors.fetch_add(1, Ordering::SeqCst);
                    }
                    true
                }
            };
            if !retry {
                break;
            }
            if load.abandon.load(Ordering::SeqCst) {
                load.unanswered.fetch_add(1, Ordering::SeqCst);
                break;
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_millis(500));
        }
        if sends > 1 {
            load.retried.fetch_add(1, Ordering::SeqCst);
            load.resends.fetch_add(sends - 1, Ordering::SeqCst);
        }
    }
}

fn refuse(load: &Load, what: String) {
    load.refused.fetch_add(1, Ordering::SeqCst);
    if let Ok(mut first) = load.first_refusal.lock() {
        first.get_or_insert(what);
    }
}

/// Lets the load run for `d`, starting the server again should it exit by itself.
async fn watch_for(
    server: &mut ServerProcess,
    report: &mut Report,
    d: Duration,
    http: &reqwest::Client,
) -> anyhow::Result<()> {
    let until = Instant::now() + d;
    while Instant::now() < until {
        if let Some(status) = server.exited() {
            report.unexpected_exits += 1;
            eprintln!("the server exited by itself ({status}); starting it again");
            server.spawn()?;
            server.wait_ready(http, Duration::from_secs(120)).await?;
        }
        tokio::time::sleep(Duration::from_millis(20).min(until - Instant::now())).await;
    }
    Ok(())
}

/// Waits until a request sent after the fault at `at` is acknowledged; returns how long after
/// the fault that was.
async fn recovered(
    load: &Load,
    mark: usize,
    at: u64,
    server: &mut ServerProcess,
    exits: &mut u64,
) -> anyhow::Result<Duration> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Some(acked) = load.acked_after(mark, at) {
            return Ok(Duration::from_micros(acked.saturating_sub(at)));
        }
        if let Some(status) = server.exited() {
            *exits += 1;
            eprintln!("the server exited by itself ({status}); starting it again");
            server.spawn()?;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "no booking was acknowledged within 120 s of the fault"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// One booking as the log or the read model holds it.
struct Held {
    id: String,
    stylist: String,
    start: i64,
    end: i64,
}

/// Pairs of bookings of one stylist at overlapping times.
fn overlaps(mut held: Vec<Held>) -> HashSet<(String, String)> {
    held.sort_by(|a, b| (&a.stylist, a.start).cmp(&(&b.stylist, b.start)));
    let mut out = HashSet::new();
    let mut i = 0;
    while i < held.len() {
        let mut j = i + 1;
        while j < held.len() && held[j].stylist == held[i].stylist && held[j].start < held[i].end {
            let (a, b) = (held[i].id.clone(), held[j].id.clone());
            out.insert(if a < b { (a, b) } else { (b, a) });
            j += 1;
        }
        i += 1;
    }
    out
}

fn epoch(text: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.timestamp())
}

/// The `details` of a `BookingRequested` payload (`{"BookingRequested": {"details": …}}`).
fn details(payload: &Value) -> Option<&Value> {
    payload
        .get("details")
        .or_else(|| payload.as_object()?.values().find_map(|v| v.get("details")))
}

/// The checks, on a direct connection to the database and through the read API.
async fn verify(
    url: &str,
    base: &str,
    token: &str,
    http: &reqwest::Client,
    acked: &[Ack],
    report: &mut Report,
) -> anyhow::Result<()> {
    let db = projections::ReadDb::connect(url).await?;
    // The read models first catch up with the log.
    let waiting = Instant::now();
    loop {
        let (_, rows) = projections::runner::status(&db).await?;
        let behind: Vec<_> = rows
            .iter()
            .filter(|r| r.kind == "projection" && r.lag > 0)
            .map(|r| format!("{} ({} events)", r.name, r.lag))
            .collect();
        if behind.is_empty() {
            break;
        }
        anyhow::ensure!(
            waiting.elapsed() < Duration::from_secs(180),
            "the read models did not catch up within 180 s: {}",
            behind.join(", ")
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The log: every booking requested, by id and by idempotency key.
    let mut requested: HashMap<String, Held> = HashMap::new();
    let mut per_key: HashMap<String, u64> = HashMap::new();
    let mut ended: HashSet<String> = HashSet::new();
    let mut since = 0;
    loop {
        let page = projections::log::export_page(&db, since, 10_000).await?;
        if page.is_empty() {
            break;
        }
        for e in &page {
            since = e.at.position;
            report.events += 1;
            match e.event_type.as_str() {
                "BookingRequested" => {
                    let d = details(&e.payload).ok_or_else(|| {
                        anyhow::anyhow!("BookingRequested at {} has no details", e.at.position)
                    })?;
                    if let Some(key) = d["idempotency_key"].as_str() {
                        *per_key.entry(key.to_string()).or_default() += 1;
                    }
                    let (Some(start), Some(end)) = (
                        d["start"].as_str().and_then(epoch),
                        d["end"].as_str().and_then(epoch),
                    ) else {
                        anyhow::bail!("BookingRequested at {} has no times", e.at.position);
                    };
                    requested.insert(
                        e.aggregate_id.clone(),
                        Held {
                            id: e.aggregate_id.clone(),
                            stylist: d["stylist"].as_str().unwrap_or("").to_string(),
                            start,
                            end,
                        },
                    );
                }
                "BookingCancelled" | "HoldExpired" => {
                    ended.insert(e.aggregate_id.clone());
                }
                _ => {}
            }
        }
    }
    report.duplicates = per_key.values().map(|n| n - 1).sum();

    // The bookings read model.
    let rows: Vec<(String, String, String, String, String)> =
        sqlx::query_as("SELECT id, stylist, start_at, end_at, status FROM rm_bookings")
            .fetch_all(db.pool())
            .await?;
    db.close().await;
    let read_ids: HashSet<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    let read_live: Vec<Held> = rows
        .iter()
        .filter(|r| r.4 != "cancelled")
        .filter_map(|r| {
            Some(Held {
                id: r.0.clone(),
                stylist: r.1.clone(),
                start: epoch(&r.2)?,
                end: epoch(&r.3)?,
            })
        })
        .collect();
    let log_live: Vec<Held> = requested
        .values()
        .filter(|h| !ended.contains(&h.id))
        .map(|h| Held {
            id: h.id.clone(),
            stylist: h.stylist.clone(),
            start: h.start,
            end: h.end,
        })
        .collect();
    let mut double = overlaps(log_live);
    double.extend(overlaps(read_live));
    report.double_booked = double.len() as u64;

    // Every acknowledged booking in the log and the read model; through the read API, every
    // one that needed a retry and a sample of the rest.
    let mut lost = Vec::new();
    let mut sampled = 0;
    for (i, a) in acked.iter().enumerate() {
        if !requested.contains_key(&a.id) {
            lost.push(format!("{} (not in the log)", a.id));
            continue;
        }
        if !read_ids.contains(a.id.as_str()) {
            lost.push(format!("{} (not in the bookings read model)", a.id));
            continue;
        }
        if a.retried || i % 50 == 0 {
            sampled += 1;
            let r = http
                .get(format!("{base}/api/v1/bookings/{}", a.id))
                .bearer_auth(token)
                .send()
                .await?;
            let status = r.status();
            let body: Value = r.json().await.unwrap_or(Value::Null);
            if status.as_u16() != 200 || body["id"].as_str() != Some(a.id.as_str()) {
                lost.push(format!("{} (GET answered {status})", a.id));
                continue;
            }
        }
    }
    report.api_checked = sampled;
    report.present = acked.len() as u64 - lost.len() as u64;
    report.lost = lost;
    Ok(())
}

/// A free TCP port on loopback (free when asked; the server binds it next).
pub fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Where PostgreSQL behind `url` listens (`host:port`).
fn upstream(url: &str) -> anyhow::Result<String> {
    let parsed = reqwest::Url::parse(url)?;
    let host = parsed
        .host_str()
        .ok_or_else(|| anyhow::anyhow!("the database URL names no host"))?;
    Ok(format!("{host}:{}", parsed.port().unwrap_or(5432)))
}

/// `url` with its host and port replaced by the proxy's.
fn through(url: &str, proxy: SocketAddr) -> anyhow::Result<String> {
    let mut parsed = reqwest::Url::parse(url)?;
    parsed
        .set_host(Some(&proxy.ip().to_string()))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    parsed
        .set_port(Some(proxy.port()))
        .map_err(|_| anyhow::anyhow!("cannot set the port"))?;
    Ok(parsed.to_string())
}

/// `salon serve` as a child process, on one address and database across restarts; its
/// standard error goes to a log file. Killed (SIGKILL) and reaped on drop.
pub struct ServerProcess {
    bin: PathBuf,
    url: String,
    pub addr: SocketAddr,
    log: PathBuf,
    demo: bool,
    child: Option<Child>,
}

impl ServerProcess {
    /// Starts `bin serve` on `addr` with `DATABASE_URL=url`, the booking rate limits lifted,
    /// without Stripe or SMTP; with the demo salon when `demo`.
    pub fn start(
        bin: &Path,
        url: &str,
        addr: SocketAddr,
        log: &Path,
        demo: bool,
    ) -> anyhow::Result<Self> {
        let mut server = Self {
            bin: bin.to_path_buf(),
            url: url.to_string(),
            addr,
            log: log.to_path_buf(),
            demo,
            child: None,
        };
        server.spawn()?;
        Ok(server)
    }

    /// Starts the process (again).
    pub fn spawn(&mut self) -> anyhow::Result<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)?;
        let mut cmd = Command::new(&self.bin);
        cmd.arg("serve").arg("--addr").arg(self.addr.to_string());
        if self.demo {
            cmd.arg("--demo");
        }
        cmd.env("DATABASE_URL", &self.url)
            .env("SALON_RATE_BOOKINGS", u32::MAX.to_string())
            .env("SALON_RATE_TOKENS", u32::MAX.to_string())
            .env("SALON_LOG", "warn,sqlx=error")
            .env_remove("SALON_LOG_FORMAT")
            .env_remove("STRIPE_SECRET_KEY")
            .env_remove("SMTP_URL")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        let child = cmd
            .spawn()
            .map_err(|e| anyhow::anyhow!("starting {}: {e}", self.bin.display()))?;
        self.child = Some(child);
        Ok(())
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// SIGKILL, and reap.
    pub fn kill(&mut self) -> anyhow::Result<()> {
        if let Some(mut child) = self.child.take() {
            child.kill()?;
            child.wait()?;
        }
        Ok(())
    }

    /// How the process ended, if it did by itself (it is then reaped and forgotten).
    pub fn exited(&mut self) -> Option<ExitStatus> {
        let status = self.child.as_mut()?.try_wait().ok()??;
        self.child = None;
        Some(status)
    }

    pub fn running(&mut self) -> bool {
        self.exited();
        self.child.is_some()
    }

    /// Waits until `GET /readyz` answers 200; fails if the process exits first.
    pub async fn wait_ready(
        &mut self,
        http: &reqwest::Client,
        timeout: Duration,
    ) -> anyhow::Result<Duration> {
        let started = Instant::now();
        let url = format!("http://{}/readyz", self.addr);
        loop {
            if let Some(status) = self.exited() {
                anyhow::bail!(
                    "the server exited ({status}) before it was ready; its log: {}",
                    self.log.display()
                );
            }
            anyhow::ensure!(self.child.is_some(), "the server is not running");
            if let Ok(r) = http.get(&url).send().await {
                if r.status().as_u16() == 200 {
                    return Ok(started.elapsed());
                }
            }
            anyhow::ensure!(
                started.elapsed() < timeout,
                "the server was not ready within {:.0} s; its log: {}",
                timeout.as_secs_f64(),
                self.log.display()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.kill();
    }
}

/// A TCP proxy to PostgreSQL that can cut the line: while cut it drops every connection it
/// carries and refuses new ones (its port is closed), as a database outage or a network
/// partition would look to the server.
pub struct Proxy {
    pub addr: SocketAddr,
    open: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Proxy {
    /// Listens on a free loopback port and forwards to `upstream` (`host:port`).
    pub async fn start(upstream: String) -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (open, state) = watch::channel(true);
        let task = tokio::spawn(serve_proxy(listener, addr, upstream, state));
        Ok(Self { addr, open, task })
    }

    /// Drops every open connection and refuses new ones.
    pub fn cut(&self) {
        self.open.send_replace(false);
    }

    /// Lets connections through again.
    pub fn restore(&self) {
        self.open.send_replace(true);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve_proxy(
    first: TcpListener,
    addr: SocketAddr,
    upstream: String,
    mut state: watch::Receiver<bool>,
) {
    let mut listener = Some(first);
    loop {
        match &listener {
            Some(l) => {
                tokio::select! {
                    accepted = l.accept() => {
                        if let Ok((inbound, _)) = accepted {
                            tokio::spawn(pipe(inbound, upstream.clone(), state.clone()));
                        }
                    }
                    changed = state.changed() => {
                        if changed.is_err() {
                            return;
                        }
                        if !*state.borrow_and_update() {
                            // Closing the port: new connections are refused.
                            listener = None;
                        }
                    }
                }
            }
            None => {
                if state.changed().await.is_err() {
                    return;
                }
                if *state.borrow_and_update() {
                    for _ in 0..200 {
                        match TcpListener::bind(addr).await {
                            Ok(l) => {
                                listener = Some(l);
                                break;
                            }
                            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
                        }
                    }
                    if listener.is_none() {
                        eprintln!("the proxy could not listen on {addr} again");
                        return;
                    }
                }
            }
        }
    }
}

/// Carries one connection until either side closes it or the line is cut.
async fn pipe(mut inbound: TcpStream, upstream: String, mut state: watch::Receiver<bool>) {
    if !*state.borrow_and_update() {
        return;
    }
    let Ok(mut outbound) = TcpStream::connect(upstream.as_str()).await else {
        return;
    };
    let _ = inbound.set_nodelay(true);
    let _ = outbound.set_nodelay(true);
    let cut = async {
        loop {
            if !*state.borrow_and_update() || state.changed().await.is_err() {
                return;
            }
        }
    };
    tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
        _ = cut => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(id: &str, stylist: &str, start: i64, end: i64) -> Held {
        Held {
            id: id.into(),
            stylist: stylist.into(),
            start,
            end,
        }
    }

    #[test]
    fn overlapping_bookings_of_one_stylist_are_found() {
        let found = overlaps(vec![
            held("a", "s1", 0, 900),
            held("b", "s1", 900, 1800),
            held("c", "s2", 0, 900),
            held("d", "s1", 1700, 2000),
            held("e", "s1", 0, 3000),
        ]);
        let mut found: Vec<_> = found.into_iter().collect();
        found.sort();
        assert_eq!(
            found,
            vec![
                ("a".into(), "e".into()),
                ("b".into(), "d".into()),
                ("b".into(), "e".into()),
                ("d".into(), "e".into()),
            ]
        );
    }

    #[test]
    fn slots_do_not_repeat() {
        let day = NaiveDate::from_ymd_opt(2030, 1, 1).expect("date");
        let all: HashSet<_> = (0..10_000).map(|j| slot(day, j)).collect();
        assert_eq!(all.len(), 10_000);
    }

    #[test]
    fn the_proxy_url_keeps_everything_but_the_address() {
        let url = "postgres://postgres:secret@db.example:6543/salon_x?sslmode=disable";
        assert_eq!(upstream(url).expect("upstream"), "db.example:6543");
        assert_eq!(
            through(url, "127.0.0.1:7000".parse().expect("addr")).expect("through"),
            "postgres://postgres:secret@127.0.0.1:7000/salon_x?sslmode=disable"
        );
        assert_eq!(
            upstream("postgres://postgres@127.0.0.1/x").expect("upstream"),
            "127.0.0.1:5432"
        );
    }
}
