//! `salon`: one binary for the whole platform. `salon --help` lists the subcommands.

use anyhow::Context;
use clap::{Parser, Subcommand};
use salon::app::{self, Config};
use salon::bench;
use salon::export::{self, Format};
use salon::intake::{self, IntakeConfig};
use salon::status;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "salon",
    version,
    about = "Event-sourced booking and management for a hair salon"
)]
struct Cli {
    /// Database: sqlite://FILE (embedded default) or postgres://…
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://salon.db",
        global = true,
        hide_env_values = true
    )]
    database_url: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server: migrations, projections, HTTP. On an empty store it starts an
    /// unconfigured salon and logs a one-time setup link; with --demo it seeds the demo salon
    Serve {
        /// Address to listen on
        #[arg(long, env = "SALON_ADDR", default_value = "127.0.0.1:8080")]
        addr: SocketAddr,
        /// Seed the demo salon (a loc salon in Harlem, marked as a demo on every page) into an
        /// empty store: true/false, 1/0, yes/no, on/off
        #[arg(long, env = "SALON_DEMO", value_parser = on_off, num_args = 0..=1, default_value = "false", default_missing_value = "true")]
        demo: bool,
        /// Longest wait, in milliseconds, for read models after a write before answering
        #[arg(long, env = "SALON_READ_YOUR_WRITES_MS", default_value_t = 2000)]
        read_your_writes_ms: u64,
        /// Where the booking site calls the API, when not on this server's origin
        #[arg(long, env = "SALON_PUBLIC_API_BASE")]
        public_api_base: Option<String>,
        /// Base URL of `salon intake`, to which the site also posts every booking
        #[arg(long, env = "SALON_PUBLIC_INTAKE_URL")]
        public_intake_url: Option<String>,
        /// Origins (comma-separated) allowed to call the API from a browser (CORS)
        #[arg(long, env = "SALON_SITE_ORIGIN")]
        site_origin: Option<String>,
        /// Bookings per minute per client address, optionally with a burst: 30/10
        #[arg(long, env = "SALON_RATE_BOOKINGS", default_value = "30/10", value_parser = api::limit::Rate::parse)]
        rate_bookings: api::limit::Rate,
        /// API calls per minute per token, optionally with a burst: 600/120
        #[arg(long, env = "SALON_RATE_TOKENS", default_value = "600/120", value_parser = api::limit::Rate::parse)]
        rate_tokens: api::limit::Rate,
        /// Take the client address from X-Forwarded-For (only behind a proxy that sets it)
        #[arg(long, env = "SALON_TRUST_FORWARDED")]
        trust_forwarded: bool,
        /// On PostgreSQL, announce appends to the other servers and listen for theirs
        /// (LISTEN/NOTIFY): on or off (off behind a pooler that cannot hold a LISTEN)
        #[arg(long, env = "SALON_NOTIFY", default_value = "on", value_parser = on_off)]
        notify: bool,
        /// How often, in milliseconds, live alerts and projections look at the log for appends
        /// nobody announced (default: 1000 with notifications, else 250)
        #[arg(long, env = "SALON_LOG_POLL_MS", value_parser = clap::value_parser!(u64).range(10..=600_000))]
        log_poll_ms: Option<u64>,
    },
    /// Run the intake: a second path for bookings, with its own SQLite log; it stores each
    /// submission, emails the owner (SMTP_URL, SALON_OWNER_EMAIL) and forwards it to the API
    Intake {
        /// Address to listen on
        #[arg(long, env = "SALON_INTAKE_ADDR", default_value = "127.0.0.1:8081")]
        addr: SocketAddr,
        /// The intake's own log: sqlite://FILE
        #[arg(long, env = "SALON_INTAKE_DB", default_value = "sqlite://intake.db")]
        db: String,
        /// Base URL of the API the intake forwards to (http://127.0.0.1:8080)
        #[arg(long, env = "SALON_API_URL")]
        api_url: Option<String>,
    },
    /// Write the booking site's static files into DIR, for a CDN or any static file server
    ExportSite {
        /// Directory to write into (created if missing)
        dir: PathBuf,
        /// Where the exported site calls the API (https://api.example.com)
        #[arg(long, env = "SALON_PUBLIC_API_BASE")]
        api_base: Option<String>,
        /// Base URL of `salon intake`, to which the site also posts every booking
        #[arg(long, env = "SALON_PUBLIC_INTAKE_URL")]
        intake_url: Option<String>,
    },
    /// Apply pending database migrations and exit
    Migrate,
    /// Seed the demo salon (a loc salon in Harlem) into an empty store; refuses a store whose
    /// salon is set up
    #[command(alias = "seed-demo")]
    Demo,
    /// Print a one-time link that opens the first-run setup in the owner's panel (valid until
    /// used, while no owner account exists)
    SetupLink {
        /// The public address the link starts with
        #[arg(
            long,
            env = "SALON_PUBLIC_URL",
            default_value = "http://localhost:8080"
        )]
        public_url: String,
    },
    /// Manage API tokens for integrators
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Manage the owner accounts of the panel (/admin)
    Owner {
        #[command(subcommand)]
        command: OwnerCommand,
    },
    /// Manage clients' personal data
    Clients {
        #[command(subcommand)]
        command: ClientsCommand,
    },
    /// Import clients from another booking product's export (preview; --commit writes)
    Import {
        #[command(subcommand)]
        command: salon::import::ImportCommand,
    },
    /// Read the event log
    Events {
        #[command(subcommand)]
        command: EventsCommand,
    },
    /// List every projection and reactor: its checkpoint, the head of the log, and its lag
    Projections {
        /// One JSON object instead of a table
        #[arg(long)]
        json: bool,
    },
    /// Rebuild read models from position 0 into shadow tables and swap them in atomically (the
    /// server may keep running), or with --verify compare a rebuild with the live tables
    Replay {
        /// One projection: catalog, bookings, availability, audit, tokens, calendars, webhooks,
        /// clients, reviews or pictures
        #[arg(long, conflicts_with = "all")]
        projection: Option<String>,
        /// Every projection
        #[arg(long)]
        all: bool,
        /// Rebuild, compare row for row with the live tables and report differences; change
        /// nothing. Exits with status 1 when they differ.
        #[arg(long)]
        verify: bool,
        /// With --verify: one JSON object instead of a table
        #[arg(long, requires = "verify")]
        json: bool,
    },
    /// Measure performance and print figures beside a baseline from the same run
    Bench {
        #[command(subcommand)]
        command: BenchCommand,
    },
}

#[derive(Subcommand)]
enum OwnerCommand {
    /// Create an owner account, or set a new name and password for one. The password comes
    /// from SALON_ADMIN_PASSWORD, else from the first line of standard input.
    Add {
        #[arg(long)]
        email: String,
        #[arg(long, default_value = "Owner")]
        name: String,
    },
    /// List the owner accounts (email, name)
    List,
    /// Remove an owner account and end its sessions
    Remove { email: String },
}

#[derive(Subcommand)]
enum ClientsCommand {
    /// Erase a client's personal data (by id or email): deletes their key, so their name,
    /// email, phone and notes read as erased everywhere, replays included; bookings and
    /// figures stay. Cannot be undone.
    Forget {
        /// The client's id, or their email address
        client: String,
        /// Why (recorded in the audit trail)
        #[arg(long)]
        reason: Option<String>,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create a token and print it once on standard output (only its hash is stored)
    Create {
        #[arg(long)]
        name: String,
        #[arg(long, default_value = "read", value_parser = ["read", "write"])]
        scope: String,
    },
    /// List tokens (id, name, scope, state, created, last used); never their secrets
    List,
    /// Revoke a token by id: it gets 401 from then on
    Revoke {
        id: String,
        /// Why (recorded in the audit trail)
        #[arg(long)]
        reason: Option<String>,
    },
}

#[derive(Subcommand)]
enum EventsCommand {
    /// Write the log to standard output, one event per line (NDJSON) or as CSV
    Export {
        #[arg(long, value_enum, default_value = "ndjson")]
        format: Format,
        /// Only events after this position
        #[arg(long, default_value_t = 0)]
        since: i64,
        #[command(flatten)]
        filter: EventFilter,
    },
    /// Follow the log: print each new event as one NDJSON line as it is written, until ctrl-c
    /// or SIGTERM
    Tail {
        /// Start after this position (its events are printed first); default: at the head,
        /// only events written from now on
        #[arg(long)]
        since: Option<i64>,
        /// How often to look for new events, in milliseconds, when the last look found none
        #[arg(long, default_value_t = 100)]
        poll_ms: u64,
        #[command(flatten)]
        filter: EventFilter,
    },
}

/// Which events `events export` and `events tail` keep; given together, all must hold.
#[derive(clap::Args, Debug, Clone)]
struct EventFilter {
    /// Only these event types (repeat the flag or separate with commas): BookingConfirmed,…
    #[arg(long = "type", value_name = "TYPE", value_delimiter = ',')]
    event_types: Vec<String>,
    /// Only events of this aggregate type: Booking, Service, Stylist, StylistDay, …
    #[arg(long)]
    aggregate_type: Option<String>,
    /// Only events of this aggregate (its id)
    #[arg(long)]
    aggregate_id: Option<String>,
    /// Only events by this actor: owner, client, token:NAME, stripe, system, …
    #[arg(long)]
    actor: Option<String>,
    /// Only events recorded at or after this instant (RFC 3339, e.g. 2027-03-01T00:00:00Z)
    #[arg(long, value_parser = rfc3339)]
    from: Option<chrono::DateTime<chrono::Utc>>,
    /// Only events recorded before this instant (RFC 3339)
    #[arg(long, value_parser = rfc3339)]
    to: Option<chrono::DateTime<chrono::Utc>>,
    /// Only events up to and including this position
    #[arg(long)]
    until: Option<i64>,
}

impl EventFilter {
    fn into_filter(self) -> projections::log::LogFilter {
        projections::log::LogFilter {
            event_types: self
                .event_types
                .into_iter()
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty())
                .collect(),
            aggregate_type: self.aggregate_type,
            aggregate_id: self.aggregate_id,
            actor: self.actor,
            from: self.from,
            to: self.to,
            until: self.until,
        }
    }
}

fn rfc3339(raw: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    chrono::DateTime::parse_from_rfc3339(raw.trim())
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|e| format!("{raw:?} is not an RFC 3339 time with an offset ({e})"))
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Rebuild every read model from a large log beside a raw scan of it (rate, ratio), and
    /// the read models' lag after a burst of bookings
    Replay {
        /// Stores to measure
        #[arg(
            long,
            value_enum,
            value_delimiter = ',',
            default_value = "sqlite,postgres"
        )]
        stores: Vec<bench::StoreKind>,
        /// Events in the log
        #[arg(long, default_value_t = 1_000_000)]
        events: usize,
        /// Bookings placed in the burst
        #[arg(long, default_value_t = 2_000)]
        burst: usize,
    },
    /// List endpoints (bookings, audit) over 100 000 bookings: first, middle and last page of
    /// 100 beside GET /healthz; p50/p95 and the last page's p95 over the first's
    Api {
        /// Stores to measure
        #[arg(
            long,
            value_enum,
            value_delimiter = ',',
            default_value = "sqlite,postgres"
        )]
        stores: Vec<bench::StoreKind>,
        /// Bookings to seed
        #[arg(long, default_value_t = 100_000)]
        bookings: usize,
        /// Seconds per measurement
        #[arg(long, default_value_t = 3.0)]
        seconds: f64,
    },
    /// GET /api/v1/availability (10 stylists, 30 days, 15-minute step) with 500 and 50 000
    /// past bookings and 2 000 external busy blocks, beside GET /healthz; p50/p95 and ratios
    Availability {
        /// Stores to measure
        #[arg(
            long,
            value_enum,
            value_delimiter = ',',
            default_value = "sqlite,postgres"
        )]
        stores: Vec<bench::StoreKind>,
        /// Past bookings to seed, one fresh database each
        #[arg(long, value_delimiter = ',', default_value = "500,50000")]
        past: Vec<usize>,
        /// Seconds per measurement
        #[arg(long, default_value_t = 5.0)]
        seconds: f64,
    },
    /// Booking commands per second through HTTP vs raw INSERTs, 1 and 16 clients, both stores
    Booking {
        /// Stores to measure
        #[arg(
            long,
            value_enum,
            value_delimiter = ',',
            default_value = "sqlite,postgres"
        )]
        stores: Vec<bench::StoreKind>,
        /// Client counts
        #[arg(long, value_delimiter = ',', default_value = "1,16")]
        clients: Vec<usize>,
        /// Seconds per measurement
        #[arg(long, default_value_t = 5.0)]
        seconds: f64,
    },
    /// Reliability under failure: a booking load (several clients, each booking with an
    /// Idempotency-Key, retried with the same key on a connection error or 5xx) against
    /// `salon serve` while it is SIGKILLed N times (kill), or while PostgreSQL is cut off for S
    /// seconds (outage, PostgreSQL only). Then checks every acknowledged booking is present, no
    /// key booked twice and no slot is double-booked; exits non-zero if one is not so
    Chaos {
        /// Stores to run on
        #[arg(
            long,
            value_enum,
            value_delimiter = ',',
            default_value = "sqlite,postgres"
        )]
        stores: Vec<bench::StoreKind>,
        /// Scenarios to run
        #[arg(long, value_enum, value_delimiter = ',', default_value = "kill,outage")]
        scenarios: Vec<salon::bench_chaos::Scenario>,
        /// SIGKILLs in the kill scenario
        #[arg(long, default_value_t = 20)]
        kills: usize,
        /// Seconds PostgreSQL is unreachable in the outage scenario
        #[arg(long, default_value_t = 60.0)]
        outage_secs: f64,
        /// Concurrent booking clients
        #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=1024))]
        clients: u16,
    },
    /// The dashboard's bookings CSV over HTTP with 100 000 bookings: time, and resident memory
    /// at idle beside its peak during the streamed download
    Export {
        /// Stores to measure
        #[arg(long, value_enum, value_delimiter = ',', default_value = "sqlite")]
        stores: Vec<bench::StoreKind>,
        /// Bookings in the table
        #[arg(long, default_value_t = 100_000)]
        rows: usize,
    },
}

fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_env("SALON_LOG").unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if std::env::var("SALON_LOG_FORMAT").as_deref() == Ok("json") {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// A closed standard output (`salon events tail | head`) ends the command quietly.
fn quiet_pipe(result: anyhow::Result<u64>) -> anyhow::Result<u64> {
    match result {
        Err(e)
            if e.chain().any(|c| {
                let pipe = std::io::ErrorKind::BrokenPipe;
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == pipe)
                    || c.downcast_ref::<serde_json::Error>()
                        .is_some_and(|j| j.io_error_kind() == Some(pipe))
                    || c.downcast_ref::<csv::Error>().is_some_and(
                        |c| matches!(c.kind(), csv::ErrorKind::Io(io) if io.kind() == pipe),
                    )
            }) =>
        {
            Ok(0)
        }
        other => other,
    }
}

/// A switch given as on/off (also true/false, yes/no, 1/0).
fn on_off(value: &str) -> Result<bool, String> {
    match value.trim().to_ascii_lowercase().as_str() {
        "on" | "true" | "yes" | "1" => Ok(true),
        "off" | "false" | "no" | "0" => Ok(false),
        other => Err(format!("expected on or off, not {other:?}")),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    init_logging();
    let cli = Cli::parse();
    let url = cli.database_url;
    match cli.command {
        Command::Serve {
            addr,
            demo,
            read_your_writes_ms,
            public_api_base,
            public_intake_url,
            site_origin,
            rate_bookings,
            rate_tokens,
            trust_forwarded,
            notify,
            log_poll_ms,
        } => {
            let mut config = Config::new(url, addr);
            config.booking_rate = rate_bookings;
            config.token_rate = rate_tokens;
            config.trust_forwarded = trust_forwarded;
            config.site =
                web::SiteConfig::new(public_api_base.as_deref(), public_intake_url.as_deref())?;
            config.site_origins = intake::origins(site_origin.as_deref());
            config.seed_demo = demo;
            config.setup_link = true;
            config.collect_deposits =
                std::env::var("STRIPE_SECRET_KEY").is_ok_and(|k| !k.is_empty());
            config.read_your_writes = Duration::from_millis(read_your_writes_ms);
            config.notify = notify;
            config.log_poll = log_poll_ms.map(Duration::from_millis);
            config.calendars = app::calendar_settings_from_env()?;
            if config.calendars.sealer.is_none() {
                config.calendars.sealer = Some(app::secret_key_file(&config.database_url)?);
            }
            config.metrics_token = std::env::var("SALON_METRICS_TOKEN")
                .ok()
                .and_then(|t| api::metrics::MetricsToken::new(&t));
            app::reactor_settings_from_env(&mut config)?;
            app::dashboard_settings_from_env(&mut config)?;
            app::admin_settings_from_env(&mut config)?;
            let server = app::start(config).await?;
            server.run_until(app::shutdown_signal()).await?;
        }
        Command::Intake { addr, db, api_url } => {
            let mut config = IntakeConfig::new(db, addr).with_env();
            config.api_url = match api_url.as_deref().map(str::trim) {
                None | Some("") => None,
                Some(u) => Some(web::SiteConfig::new(Some(u), None)?.api_base),
            };
            let running = intake::start(config).await?;
            app::shutdown_signal().await;
            tracing::info!("shutting down");
            running.shutdown().await?;
        }
        Command::ExportSite {
            dir,
            api_base,
            intake_url,
        } => {
            let config = web::SiteConfig::new(api_base.as_deref(), intake_url.as_deref())?;
            let written = web::export(&dir, &config)
                .with_context(|| format!("writing the site into {}", dir.display()))?;
            eprintln!(
                "wrote {} files into {} (API: {}, intake: {})",
                written.len(),
                dir.display(),
                if config.api_base.is_empty() {
                    "same origin"
                } else {
                    &config.api_base
                },
                config.intake_url.as_deref().unwrap_or("none"),
            );
        }
        Command::Migrate => {
            let store = app::open_store(&url).await?;
            store.close().await;
            eprintln!("migrations applied to {}", app::redact(&url));
        }
        Command::Demo => {
            let store = app::open_store(&url).await?;
            let bus = commands::CommandBus::new(store.clone(), migrations::LogSignal::default());
            match bus.seed_demo().await? {
                Some(_) => eprintln!("seeded the demo salon"),
                None => eprintln!("the salon is already set up; nothing seeded"),
            }
            migrations::notify::announce_once(&url, bus.signal().last()).await;
            store.close().await;
        }
        Command::SetupLink { public_url } => {
            let store = app::open_store(&url).await?;
            let read = projections::ReadDb::connect(&url).await?;
            match web::admin::setup::new_link(&read).await? {
                Some(token) => println!("{}", web::admin::setup::link(&public_url, &token)),
                None => {
                    eprintln!(
                        "an owner account exists already: log in at {}/admin/login (salon owner add \
                         --email … sets a new password)",
                        public_url.trim_end_matches('/')
                    );
                    std::process::exit(1);
                }
            }
            read.close().await;
            store.close().await;
        }
        Command::Owner { command } => {
            let store = app::open_store(&url).await?;
            let read = projections::ReadDb::connect(&url).await?;
            match command {
                OwnerCommand::Add { email, name } => {
                    let password = match std::env::var("SALON_ADMIN_PASSWORD") {
                        Ok(p) if !p.is_empty() => p,
                        _ => {
                            eprintln!(
                                "password (at least {} characters):",
                                web::admin::accounts::MIN_PASSWORD
                            );
                            let mut line = String::new();
                            std::io::stdin().read_line(&mut line)?;
                            line.trim_end_matches(['\r', '\n']).to_string()
                        }
                    };
                    let created =
                        web::admin::accounts::upsert(&read, &email, &name, &password).await?;
                    eprintln!(
                        "{} the owner account {}",
                        if created { "created" } else { "updated" },
                        web::admin::accounts::normal_email(&email)
                    );
                }
                OwnerCommand::List => {
                    println!("email\tname");
                    for a in web::admin::accounts::list(&read).await? {
                        println!("{}\t{}", a.email, a.name);
                    }
                }
                OwnerCommand::Remove { email } => {
                    if web::admin::accounts::remove(&read, &email).await? {
                        eprintln!("removed {}", web::admin::accounts::normal_email(&email));
                    } else {
                        anyhow::bail!("no owner account {email}");
                    }
                }
            }
            read.close().await;
            store.close().await;
        }
        Command::Clients {
            command: ClientsCommand::Forget { client, reason },
        } => {
            let id = salon::clients::forget(&url, &client, reason).await?;
            eprintln!("forgot client {id}");
        }
        Command::Import { command } => salon::import::run(&url, command).await?,
        Command::Token {
            command: TokenCommand::Create { name, scope },
        } => {
            let store = app::open_store(&url).await?;
            let bus = commands::CommandBus::new(store.clone(), migrations::LogSignal::default());
            let scope = domain::token::Scope::parse(&scope)?;
            let meta = domain::metadata::EventMetadata::new("owner", domain::metadata::Source::Cli);
            let token = bus
                .create_token(&name, scope, &meta)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("{}", token.secret);
            migrations::notify::announce_once(&url, bus.signal().last()).await;
            store.close().await;
        }
        Command::Token {
            command: TokenCommand::List,
        } => {
            let store = app::open_store(&url).await?;
            let read = projections::ReadDb::connect(&url).await?;
            projections::runner::catch_up(&read, projections::Projection::Tokens).await?;
            println!("id\tname\tscope\tstate\tcreated_at\tlast_used_at");
            for t in projections::queries::tokens(&read).await? {
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}",
                    t.id,
                    t.name,
                    t.scope,
                    if t.revoked { "revoked" } else { "active" },
                    t.created_at,
                    t.last_used_at.as_deref().unwrap_or("never")
                );
            }
            read.close().await;
            store.close().await;
        }
        Command::Token {
            command: TokenCommand::Revoke { id, reason },
        } => {
            let store = app::open_store(&url).await?;
            let bus = commands::CommandBus::new(store.clone(), migrations::LogSignal::default());
            let id = domain::ids::TokenId::parse(&id).map_err(|e| anyhow::anyhow!("{e}"))?;
            let meta = domain::metadata::EventMetadata::new("owner", domain::metadata::Source::Cli)
                .with_reason(reason);
            bus.revoke_token(id, &meta)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            eprintln!("revoked {id}");
            migrations::notify::announce_once(&url, bus.signal().last()).await;
            store.close().await;
        }
        Command::Events {
            command:
                EventsCommand::Export {
                    format,
                    since,
                    filter,
                },
        } => {
            let _ = app::open_store(&url).await?;
            let db = projections::ReadDb::connect(&url).await?;
            let filter = filter.into_filter();
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::new(stdout.lock());
            let n = export::export(&db, format, since, &filter, &mut out).await;
            drop(out);
            let n = quiet_pipe(n)?;
            db.close().await;
            eprintln!("{n} events");
        }
        Command::Events {
            command:
                EventsCommand::Tail {
                    since,
                    poll_ms,
                    filter,
                },
        } => {
            // Listen for ctrl-c/SIGTERM from the start, so one that comes while connecting
            // still ends the command cleanly.
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            tokio::spawn(async move {
                app::shutdown_signal().await;
                let _ = stop.send(());
            });
            let _ = app::open_store(&url).await?;
            let db = projections::ReadDb::connect(&url).await?;
            let filter = filter.into_filter();
            let mut out = std::io::stdout();
            let n = export::tail(
                &db,
                since,
                &filter,
                Duration::from_millis(poll_ms.max(1)),
                &mut out,
                async {
                    let _ = stopped.await;
                },
            )
            .await;
            let n = quiet_pipe(n)?;
            db.close().await;
            eprintln!("{n} events");
        }
        Command::Projections { json } => {
            let _ = app::open_store(&url).await?;
            let db = projections::ReadDb::connect(&url).await?;
            let (head, rows) = projections::runner::status(&db).await?;
            db.close().await;
            print!("{}", status::render(head.position, &rows, json)?);
        }
        Command::Replay {
            projection,
            all,
            verify,
            json,
        } => {
            let chosen: Vec<projections::Projection> = match (projection, all) {
                (Some(name), _) => vec![projections::Projection::from_name(&name)
                    .with_context(|| format!("no projection named {name}"))?],
                (None, true) => projections::Projection::ALL.to_vec(),
                (None, false) => anyhow::bail!("say --projection NAME or --all"),
            };
            let names: Vec<&str> = chosen.iter().map(|p| p.name()).collect();
            let _ = app::open_store(&url).await?;
            let db = projections::ReadDb::connect(&url).await?;
            if verify {
                let (at, diffs) = projections::replay::verify(&db, &chosen).await?;
                db.close().await;
                print!("{}", status::render_verify(at.position, &diffs, json)?);
                if diffs.iter().any(|d| !d.same()) {
                    std::process::exit(1);
                }
            } else {
                let done = projections::replay::rebuild(&db, &chosen).await?;
                db.close().await;
                eprintln!(
                    "{}: rebuilt from {} events to position {} in {:.2} s, readied in {} ms \
                     and swapped in ({} ms, {})",
                    names.join(", "),
                    done.events,
                    done.position.position,
                    done.build.as_secs_f64(),
                    done.prepare.as_millis(),
                    done.swap.as_millis(),
                    if done.renamed { "renamed" } else { "copied" }
                );
            }
        }
        Command::Bench {
            command:
                BenchCommand::Availability {
                    stores,
                    past,
                    seconds,
                },
        } => {
            salon::bench_availability::run(&stores, &past, seconds).await?;
        }
        Command::Bench {
            command:
                BenchCommand::Replay {
                    stores,
                    events,
                    burst,
                },
        } => {
            salon::bench_replay::run(&stores, events, burst).await?;
        }
        Command::Bench {
            command:
                BenchCommand::Chaos {
                    stores,
                    scenarios,
                    kills,
                    outage_secs,
                    clients,
                },
        } => {
            anyhow::ensure!(
                outage_secs.is_finite() && (0.1..=86_400.0).contains(&outage_secs),
                "--outage-secs must be between 0.1 and 86400"
            );
            let mut options = salon::bench_chaos::Options::new(
                std::env::current_exe().context("finding this program to run as the server")?,
            );
            options.kills = kills;
            options.outage = Duration::from_secs_f64(outage_secs);
            options.clients = usize::from(clients);
            let reports = salon::bench_chaos::run(&stores, &scenarios, &options).await?;
            let failed = reports.iter().filter(|r| !r.ok()).count();
            anyhow::ensure!(
                failed == 0,
                "{failed} of {} runs lost, duplicated or double-booked bookings (or booked none)",
                reports.len()
            );
        }
        Command::Bench {
            command: BenchCommand::Export { stores, rows },
        } => {
            salon::bench_export::run(&stores, rows).await?;
        }
        Command::Bench {
            command:
                BenchCommand::Api {
                    stores,
                    bookings,
                    seconds,
                },
        } => {
            salon::bench_api::run(&stores, bookings, seconds).await?;
        }
        Command::Bench {
            command:
                BenchCommand::Booking {
                    stores,
                    clients,
                    seconds,
                },
        } => {
            bench::print_header();
            let options = bench::Options {
                stores,
                clients,
                seconds,
            };
            bench::booking(&options).await?;
        }
    }
    Ok(())
}
