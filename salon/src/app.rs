//! Wiring: open the store, migrate, seed demo data, start projections, serve HTTP, and shut
//! down in order (stop taking requests, let in-flight ones finish, stop projections, close
//! pools). Used by `salon serve`, the tests and the benchmarks alike.

use anyhow::Context;
use api::{ApiSettings, AppState};
use commands::calendars::{CalendarSettings, CalendarSync};
use commands::links::LinkSigner;
use commands::payments::{Payments, StripeSettings, StripeWebhooks};
use commands::reactors::holds::HoldExpiry;
use commands::reactors::mail::{Mail, MailSettings};
use commands::reactors::plan::BookingPlanner;
use commands::reactors::refunds::Refunds;
use commands::reactors::webhooks::{self as webhook_reactor, WebhookDelivery, WebhookPlanner};
use commands::reactors::{Backoff, Clock, Reactors};
use commands::webhooks::Webhooks;
use commands::{CommandBus, Store};
use migrations::LogSignal;
use projections::runner::{self, Running};
use projections::ReadDb;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// How `salon serve` runs; from flags and the environment.
#[derive(Debug, Clone)]
pub struct Config {
    pub database_url: String,
    pub addr: SocketAddr,
    /// Seed the demo salon into an empty store.
    pub seed_demo: bool,
    /// On an unconfigured store without an owner account, log a one-time setup link.
    pub setup_link: bool,
    /// With `seed_demo`: also the demo's past visits and approved reviews (the test suites keep
    /// to the catalog, which their counts are written against).
    pub demo_visits: bool,
    /// Hold bookings that need a deposit until it is paid (needs Stripe keys).
    pub collect_deposits: bool,
    pub read_your_writes: Duration,
    /// What the booking site's `/config.js` says (API base, intake URL).
    pub site: web::SiteConfig,
    /// Browser origins allowed to call the API (CORS; `SALON_SITE_ORIGIN`). Empty: same
    /// origin only, no CORS headers.
    pub site_origins: Vec<String>,
    /// External calendars: the credentials key, Google's endpoints, timeouts.
    pub calendars: CalendarSettings,
    /// Run the scheduled calendar sync (on-demand syncs work either way).
    pub calendar_schedule: bool,
    /// Stripe (`STRIPE_SECRET_KEY`, `STRIPE_WEBHOOK_SECRET`, `STRIPE_API_BASE`).
    pub stripe: Option<StripeSettings>,
    /// Email (`SMTP_URL`, `SALON_MAIL_FROM`, `SALON_OWNER_EMAIL`, `SALON_PARTNER_EMAIL`).
    pub mail: MailSettings,
    /// The booking site's public address (`SALON_PUBLIC_URL`): links in emails, Stripe's
    /// return pages.
    pub public_url: String,
    /// How long before an appointment the reminder goes (`SALON_REMINDER_HOURS`, default 24).
    pub reminder_before: chrono::Duration,
    /// Signs clients' links (from `SALON_SECRET_KEY`); `None`: a key the server keeps in the
    /// database.
    pub links: Option<LinkSigner>,
    /// The reactors' clock (tests hold it still and move it by hand).
    pub clock: Clock,
    pub reactor_backoff: Backoff,
    /// Run the reactors in the background (tests may run rounds by hand instead).
    pub run_reactors: bool,
    /// The partner's dashboard: password, cookie security, where the intake lists its entries.
    pub dashboard: web::dashboard::DashboardConfig,
    /// The owner's panel: cookie security, session length.
    pub admin: web::admin::AdminConfig,
    /// An owner account to create or update at start (`SALON_ADMIN_EMAIL`,
    /// `SALON_ADMIN_PASSWORD`, `SALON_ADMIN_NAME`).
    pub admin_account: Option<AdminAccount>,
    /// Bookings per client address (`SALON_RATE_BOOKINGS`, default 30 a minute, burst 10).
    pub booking_rate: api::limit::Rate,
    /// Calls per API token (`SALON_RATE_TOKENS`, default 600 a minute, burst 120).
    pub token_rate: api::limit::Rate,
    /// Read the client address from `X-Forwarded-For` (`SALON_TRUST_FORWARDED`; only behind a
    /// proxy that sets it).
    pub trust_forwarded: bool,
    /// The bearer token `/metrics` asks for (`SALON_METRICS_TOKEN`); `None`: open.
    pub metrics_token: Option<api::metrics::MetricsToken>,
    /// On PostgreSQL: announce this server's appends to the other servers and listen for
    /// theirs (`LISTEN/NOTIFY`, see `migrations::notify`); `SALON_NOTIFY=off` turns it off
    /// (a pooler in transaction mode, such as PgBouncer's, cannot hold a `LISTEN`). Ignored on
    /// SQLite.
    pub notify: bool,
    /// How often the live alerts and the projections look at the log for appends nobody
    /// announced (`SALON_LOG_POLL_MS`). `None`: 1 s when notifications carry the news
    /// (PostgreSQL), else 250 ms for alerts and 200 ms for projections.
    pub log_poll: Option<Duration>,
}

/// The fallback poll when notifications carry other servers' appends.
pub const NOTIFIED_LOG_POLL: Duration = Duration::from_secs(1);

impl Config {
    pub fn new(database_url: impl Into<String>, addr: SocketAddr) -> Self {
        Self {
            database_url: database_url.into(),
            addr,
            seed_demo: true,
            setup_link: false,
            demo_visits: true,
            collect_deposits: false,
            read_your_writes: Duration::from_secs(2),
            booking_rate: api::limit::Rate::new(30, 10),
            token_rate: api::limit::Rate::new(600, 120),
            trust_forwarded: false,
            site: web::SiteConfig::default(),
            site_origins: Vec::new(),
            calendars: CalendarSettings::default(),
            calendar_schedule: true,
            stripe: None,
            mail: MailSettings::default(),
            public_url: "http://localhost:8080".into(),
            reminder_before: chrono::Duration::hours(24),
            links: None,
            clock: Clock::System,
            reactor_backoff: Backoff::default(),
            run_reactors: true,
            dashboard: web::dashboard::DashboardConfig::default(),
            admin: web::admin::AdminConfig::default(),
            admin_account: None,
            metrics_token: None,
            notify: true,
            log_poll: None,
        }
    }
}

/// An owner account from the environment; the password never reaches a log.
#[derive(Clone)]
pub struct AdminAccount {
    pub email: String,
    pub name: String,
    pub password: String,
}

impl std::fmt::Debug for AdminAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminAccount")
            .field("email", &self.email)
            .field("name", &self.name)
            .field("password", &"***")
            .finish()
    }
}

/// A running server.
pub struct Server {
    pub addr: SocketAddr,
    pub state: AppState,
    stop: tokio::sync::oneshot::Sender<()>,
    task: JoinHandle<anyhow::Result<()>>,
}

impl Server {
    /// Graceful shutdown: stop accepting, drain requests, stop projections, close pools.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        let _ = self.stop.send(());
        self.task.await.context("server task")?
    }

    /// Runs until the server stops by itself (a fatal error) or `signal` fires.
    pub async fn run_until(self, signal: impl Future<Output = ()>) -> anyhow::Result<()> {
        let Server { stop, mut task, .. } = self;
        tokio::select! {
            r = &mut task => r.context("server task")?,
            _ = signal => {
                tracing::info!("shutting down");
                let _ = stop.send(());
                task.await.context("server task")?
            }
        }
    }
}

/// Opens the store and applies migrations.
pub async fn open_store(url: &str) -> anyhow::Result<Store> {
    let store = Store::connect(url)
        .await
        .with_context(|| format!("opening {}", redact(url)))?;
    store.migrate().await.context("applying migrations")?;
    Ok(store)
}

/// A database URL with any password replaced, fit for logs.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}://{}:***@{}", &url[..scheme], user, &url[at + 1..])
        }
        _ => url.to_string(),
    }
}

/// Starts everything and returns once the listener is bound.
pub async fn start(config: Config) -> anyhow::Result<Server> {
    let store = open_store(&config.database_url).await?;
    let read = ReadDb::connect(&config.database_url)
        .await
        .context("opening the read models")?;
    let signal = LogSignal::default();
    // Several servers on one PostgreSQL: hear about each other's appends at once.
    let notifying = config.notify && read.backend() == migrations::Backend::Postgres;
    let (alerts_poll, projections_poll) = match config.log_poll {
        Some(poll) => (poll, poll),
        None if notifying => (NOTIFIED_LOG_POLL, NOTIFIED_LOG_POLL),
        None => (api::alerts::POLL, runner::IDLE_POLL),
    };
    let collect_deposits = config.collect_deposits || config.stripe.is_some();
    let metrics = api::metrics::Metrics::new();
    let bus = CommandBus::new(store.clone(), signal.clone())
        .with_deposits(collect_deposits)
        .with_observer(metrics.clone());
    if !collect_deposits {
        tracing::info!("STRIPE_SECRET_KEY is not set: the deposit step is skipped and bookings are confirmed at once");
    }
    let payments = config
        .stripe
        .clone()
        .map(Payments::new)
        .transpose()
        .context("STRIPE_SECRET_KEY or STRIPE_API_BASE is unusable")?;
    let stripe_webhooks = match config
        .stripe
        .as_ref()
        .and_then(|s| s.webhook_secret.clone())
    {
        Some(secret) => Some(StripeWebhooks::new(bus.clone(), read.clone(), secret)),
        None => {
            if config.stripe.is_some() {
                tracing::warn!("STRIPE_WEBHOOK_SECRET is not set: /webhooks/stripe refuses deliveries, so payments are only seen when a hold runs out");
            }
            None
        }
    };
    let links = match &config.links {
        Some(signer) => signer.clone(),
        None => LinkSigner::from_store(&read)
            .await
            .context("making the link-signing key")?,
    };
    if config.mail.smtp_url.is_none() {
        tracing::info!("SMTP_URL is not set: confirmation, reminder and alert emails are not sent");
    }
    let mail = Mail::new(bus.clone(), &config.mail, links.clone()).map_err(anyhow::Error::msg)?;
    // Webhook signing secrets are sealed at rest with the same key as calendar credentials.
    let webhooks = Webhooks::new(bus.clone(), config.calendars.sealer.clone());
    let reactors = Arc::new(
        Reactors::new(read.clone(), config.clock.clone(), config.reactor_backoff)
            .plan_with(Arc::new(BookingPlanner {
                bus: bus.clone(),
                clock: config.clock.clone(),
                reminder_before: config.reminder_before,
                mail: config.mail.smtp_url.is_some(),
            }))
            .plan_with(Arc::new(WebhookPlanner::new(
                read.clone(),
                config.clock.clone(),
            )))
            .handle_with(Arc::new(HoldExpiry {
                bus: bus.clone(),
                payments: payments.clone(),
            }))
            .handle_with(Arc::new(Refunds {
                bus: bus.clone(),
                payments: payments.clone(),
            }))
            .handle_with(Arc::new(mail))
            .handle_with(Arc::new(WebhookDelivery::new(
                webhooks.clone(),
                webhook_reactor::DEFAULT_TIMEOUT,
            ))),
    );
    // From here on every event is planned, whether the loop below runs or a test runs rounds.
    reactors.init().await.context("starting the reactors")?;
    let reactors_running = config.run_reactors.then(|| reactors.clone().start(&signal));
    if config.seed_demo {
        let seeded = bus
            .seed_demo_with(config.demo_visits)
            .await
            .context("seeding demo data")?;
        if let Some(at) = seeded {
            tracing::info!(position = at.position.position, "seeded the demo salon");
        }
    }
    // The alert broadcaster starts at the head of the log, before anyone can subscribe.
    let alerts = api::alerts::Alerts::start_polling(
        read.clone(),
        &signal,
        api::alerts::DEFAULT_CAPACITY,
        alerts_poll,
    )
    .await
    .context("starting the live alerts")?;
    if let Some(account) = &config.admin_account {
        let created =
            web::admin::accounts::upsert(&read, &account.email, &account.name, &account.password)
                .await
                .context("SALON_ADMIN_EMAIL / SALON_ADMIN_PASSWORD: the owner account")?;
        tracing::info!(email = %account.email, created, "owner account from the environment is ready");
    }
    if config.setup_link {
        // Without SALON_PUBLIC_URL the link names the port this server listens on.
        let base = if std::env::var("SALON_PUBLIC_URL").is_ok_and(|u| !u.trim().is_empty()) {
            config.public_url.clone()
        } else {
            format!("http://localhost:{}", config.addr.port())
        };
        log_setup_link(&bus, &read, &base).await?;
    }
    let fanout = notifying.then(|| {
        migrations::notify::Fanout::start(&config.database_url, read.clone(), signal.clone())
    });
    if let Some(fanout) = &fanout {
        metrics.watch_listener(fanout.listening());
    }
    let running: Running = runner::start_polling(read.clone(), signal, projections_poll);
    if config.calendars.sealer.is_none() {
        tracing::info!("SALON_SECRET_KEY is not set: calendar sources with passwords or credentials cannot be added");
    }
    let calendars = Arc::new(CalendarSync::new(bus.clone(), config.calendars.clone()));
    let (stop_sync, sync_stopped) = tokio::sync::watch::channel(false);
    let sync_task = config
        .calendar_schedule
        .then(|| tokio::spawn(calendars.clone().run(sync_stopped)));
    let state = AppState {
        bus,
        read: read.clone(),
        projections: running.handle.clone(),
        settings: Arc::new(ApiSettings {
            read_your_writes: config.read_your_writes,
            public_url: config.public_url.clone(),
        }),
        calendars,
        answers: Arc::new(api::cache::AnswerCache::default()),
        alerts: alerts.clone(),
        payments,
        stripe_webhooks,
        links,
        reactors,
        token_usage: Arc::default(),
        webhooks,
        limits: Arc::new(api::limit::RateLimits::new(
            config.booking_rate,
            config.token_rate,
            config.trust_forwarded,
        )),
    };
    let admin = web::admin::router(
        web::admin::AdminDeps {
            read: read.clone(),
            projections: running.handle.clone(),
            bus: state.bus.clone(),
            calendars: state.calendars.clone(),
        },
        web::admin::AdminConfig {
            trust_forwarded: config.trust_forwarded,
            read_your_writes: config.read_your_writes,
            ..config.admin.clone()
        },
    );
    // The booking site's files first; the API's fallback answers every other path.
    let mut router = api::router(state.clone())
        .merge(admin)
        .merge(web::site_router_with(&config.site))
        .merge(web::dashboard::router(
            read.clone(),
            running.handle.clone(),
            web::dashboard::DashboardConfig {
                trust_forwarded: config.trust_forwarded,
                ..config.dashboard.clone()
            },
        ));
    if config.dashboard.password.is_none() {
        tracing::info!("SALON_DASHBOARD_PASSWORD is not set: the partner's dashboard says it is not configured");
    }
    if !config.site_origins.is_empty() {
        // The site served from elsewhere (`salon export-site` on a CDN) calls the API across
        // origins: only the listed origins get CORS headers.
        router = router.layer(crate::intake::cors(&config.site_origins));
    }
    // Operations: `/metrics`, and around every route the request id, its log span and the
    // request counters (outermost, so it sees every answer).
    let router = router
        .merge(api::metrics::router(
            metrics.clone(),
            read.clone(),
            running.handle.clone(),
            config.metrics_token.clone(),
        ))
        .layer(axum::middleware::from_fn_with_state(
            metrics,
            api::metrics::observe,
        ));
    let listener = TcpListener::bind(config.addr)
        .await
        .with_context(|| format!("binding {}", config.addr))?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, database = %redact(&config.database_url), "salon is listening");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let served = axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown({
            let alerts = alerts.clone();
            async move {
                let _ = stopped.await;
                // Open alert streams never end by themselves: end them, so the drain below
                // does not wait for them forever.
                alerts.stop();
            }
        })
        .await;
        alerts.shutdown().await;
        let _ = stop_sync.send(true);
        if let Some(task) = sync_task {
            let _ = task.await;
        }
        if let Some(reactors) = reactors_running {
            reactors.stop().await;
        }
        running.stop().await;
        if let Some(fanout) = fanout {
            fanout.stop().await;
        }
        read.close().await;
        store.close().await;
        served.context("serving HTTP")
    });
    Ok(Server {
        addr,
        state,
        stop,
        task,
    })
}

/// Calendar settings from the environment: `SALON_SECRET_KEY` (seals calendar credentials),
/// `GOOGLE_API_BASE`, `GOOGLE_OAUTH_TOKEN_URL`, `SALON_CALENDAR_TIMEOUT_SECS` (default 30).
pub fn calendar_settings_from_env() -> anyhow::Result<CalendarSettings> {
    let mut settings = CalendarSettings::default();
    if let Some(key) = std::env::var("SALON_SECRET_KEY")
        .ok()
        .filter(|k| !k.is_empty())
    {
        settings.sealer =
            Some(commands::calendars::Sealer::new(&key).context("SALON_SECRET_KEY is unusable")?);
    }
    if let Some(base) = std::env::var("GOOGLE_API_BASE")
        .ok()
        .filter(|v| !v.is_empty())
    {
        settings.google.api_base = base;
    }
    if let Some(url) = std::env::var("GOOGLE_OAUTH_TOKEN_URL")
        .ok()
        .filter(|v| !v.is_empty())
    {
        settings.google.token_url = url;
    }
    if let Ok(secs) = std::env::var("SALON_CALENDAR_TIMEOUT_SECS") {
        let secs: u64 = secs
            .parse()
            .context("SALON_CALENDAR_TIMEOUT_SECS must be a number of seconds")?;
        settings.timeout = Duration::from_secs(secs.max(1));
    }
    Ok(settings)
}

fn env(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// Payments, mail and links from the environment: `STRIPE_SECRET_KEY`, `STRIPE_WEBHOOK_SECRET`,
/// `STRIPE_API_BASE`, `SMTP_URL`, `SALON_MAIL_FROM`, `SALON_OWNER_EMAIL`,
/// `SALON_PARTNER_EMAIL`, `SALON_PUBLIC_URL`, `SALON_REMINDER_HOURS`, `SALON_SECRET_KEY`.
pub fn reactor_settings_from_env(config: &mut Config) -> anyhow::Result<()> {
    if let Some(url) = env("SALON_PUBLIC_URL") {
        config.public_url = url.trim_end_matches('/').to_string();
    }
    config.stripe = env("STRIPE_SECRET_KEY").map(|secret_key| StripeSettings {
        secret_key,
        webhook_secret: env("STRIPE_WEBHOOK_SECRET"),
        api_base: env("STRIPE_API_BASE"),
        public_url: config.public_url.clone(),
    });
    config.mail = MailSettings {
        smtp_url: env("SMTP_URL"),
        from: env("SALON_MAIL_FROM").unwrap_or_else(|| "salon@localhost".into()),
        owners: ["SALON_OWNER_EMAIL", "SALON_PARTNER_EMAIL"]
            .iter()
            .filter_map(|n| env(n))
            .collect(),
        public_url: config.public_url.clone(),
    };
    if let Some(hours) = env("SALON_REMINDER_HOURS") {
        let hours: i64 = hours
            .parse()
            .ok()
            .filter(|h| (0..=24 * 14).contains(h))
            .context("SALON_REMINDER_HOURS must be a number of hours (0 to 336)")?;
        config.reminder_before = chrono::Duration::hours(hours);
    }
    config.links = env("SALON_SECRET_KEY").map(|k| LinkSigner::from_secret(&k));
    Ok(())
}

/// The dashboard's settings from the environment: `SALON_DASHBOARD_PASSWORD` (secret),
/// `SALON_DASHBOARD_SESSION_HOURS` (default 12), `SALON_INTAKE_URL` and `SALON_INTAKE_TOKEN`
/// (secret). Cookies are `Secure` when `SALON_PUBLIC_URL` is https, so call this after
/// [`reactor_settings_from_env`].
pub fn dashboard_settings_from_env(config: &mut Config) -> anyhow::Result<()> {
    let d = &mut config.dashboard;
    // Not trimmed: a password may end in a space on purpose.
    d.password = std::env::var("SALON_DASHBOARD_PASSWORD")
        .ok()
        .and_then(web::dashboard::Password::new);
    d.secure_cookies = config.public_url.starts_with("https://");
    if let Some(hours) = env("SALON_DASHBOARD_SESSION_HOURS") {
        d.session_hours = hours
            .parse::<i64>()
            .ok()
            .filter(|h| (1..=720).contains(h))
            .context("SALON_DASHBOARD_SESSION_HOURS must be a number of hours (1 to 720)")?;
    }
    d.intake = match env("SALON_INTAKE_URL") {
        Some(url) => {
            let base = web::SiteConfig::new(None, Some(&url))
                .context("SALON_INTAKE_URL is unusable")?
                .intake_url
                .unwrap_or(url);
            Some(web::dashboard::IntakeSource::new(
                &base,
                env("SALON_INTAKE_TOKEN"),
            ))
        }
        None => None,
    };
    Ok(())
}

/// The owner panel's settings from the environment: `SALON_ADMIN_SESSION_HOURS` (default 12),
/// and an owner account to make sure of at start: `SALON_ADMIN_EMAIL`, `SALON_ADMIN_PASSWORD`
/// (secret), `SALON_ADMIN_NAME` (default "Owner"). Cookies are `Secure` when `SALON_PUBLIC_URL`
/// is https, so call this after [`reactor_settings_from_env`].
pub fn admin_settings_from_env(config: &mut Config) -> anyhow::Result<()> {
    config.admin.secure_cookies = config.public_url.starts_with("https://");
    if let Some(hours) = env("SALON_ADMIN_SESSION_HOURS") {
        config.admin.session_hours = hours
            .parse::<i64>()
            .ok()
            .filter(|h| (1..=720).contains(h))
            .context("SALON_ADMIN_SESSION_HOURS must be a number of hours (1 to 720)")?;
    }
    // The password is not trimmed: it may end in a space on purpose.
    let password = std::env::var("SALON_ADMIN_PASSWORD")
        .ok()
        .filter(|p| !p.is_empty());
    config.admin_account = match (env("SALON_ADMIN_EMAIL"), password) {
        (Some(email), Some(password)) => Some(AdminAccount {
            email,
            name: env("SALON_ADMIN_NAME").unwrap_or_else(|| "Owner".into()),
            password,
        }),
        (None, None) => None,
        _ => anyhow::bail!("set both SALON_ADMIN_EMAIL and SALON_ADMIN_PASSWORD, or neither"),
    };
    Ok(())
}

/// Resolves on SIGTERM or ctrl-c.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

/// The key that seals calendar credentials and webhook secrets when `SALON_SECRET_KEY` is not
/// set: read from `SALON_SECRET_KEY_FILE`, by default a file beside the store (`FILE.key` for
/// `sqlite://FILE`, `salon-secret.key` in the working directory for PostgreSQL). On first
/// start the file is made with a random key, readable by its owner only (mode 0600), and the
/// log says where: sealed data cannot be read without it, so it belongs in the backups. Several
/// servers on one PostgreSQL must share the same key (set `SALON_SECRET_KEY`, or the same file).
pub fn secret_key_file(database_url: &str) -> anyhow::Result<commands::calendars::Sealer> {
    let path = match env("SALON_SECRET_KEY_FILE") {
        Some(p) => std::path::PathBuf::from(p),
        None => default_key_path(database_url),
    };
    let key = match std::fs::read_to_string(&path) {
        Ok(text) => {
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                if let Ok(meta) = std::fs::metadata(&path) {
                    if meta.permissions().mode() & 0o077 != 0 {
                        tracing::warn!(path = %path.display(), "the secret key file can be read by other users; chmod 600 it");
                    }
                }
            }
            text.trim().to_string()
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = new_secret_key();
            write_private(&path, &key)
                .with_context(|| format!("writing a new secret key into {}", path.display()))?;
            tracing::warn!(
                path = %path.display(),
                "generated the secret key that seals calendar passwords and webhook secrets; back this file up with the database: sealed data cannot be read without it"
            );
            key
        }
        Err(e) => {
            return Err(e).with_context(|| format!("reading the secret key {}", path.display()))
        }
    };
    commands::calendars::Sealer::new(&key)
        .with_context(|| format!("the secret key in {} is unusable", path.display()))
}

/// Where the secret key lives by default: beside the SQLite file, else the working directory.
pub fn default_key_path(database_url: &str) -> std::path::PathBuf {
    let file = database_url
        .strip_prefix("sqlite://")
        .or_else(|| database_url.strip_prefix("sqlite:"))
        .map(|rest| rest.split('?').next().unwrap_or(rest))
        .filter(|f| !f.is_empty() && !f.starts_with(':'));
    match file {
        Some(f) => std::path::PathBuf::from(format!("{f}.key")),
        None => std::path::PathBuf::from("salon-secret.key"),
    }
}

/// 32 random bytes as 64 hex digits.
fn new_secret_key() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Creates `path` with `text`, readable and writable by its owner only; never replaces a file.
fn write_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(text.as_bytes())?;
    file.write_all(b"\n")?;
    file.sync_all()
}

/// Logs a one-time link to the first-run setup when the salon is not set up and nobody can log
/// in yet. The link is the only way in until it is used, so it is logged at warn level (shown
/// with `SALON_LOG=warn`); `salon setup-link` prints another.
async fn log_setup_link(
    bus: &commands::CommandBus,
    read: &ReadDb,
    public_url: &str,
) -> anyhow::Result<()> {
    let salon = bus
        .load_fresh::<domain::salon::Salon>(domain::ids::SALON_ID)
        .await
        .context("reading the salon")?;
    if salon.state.configured {
        return Ok(());
    }
    if let Some(token) = web::admin::setup::new_link(read)
        .await
        .context("making a setup link")?
    {
        tracing::warn!(
            "this salon is not set up yet: open {} to create the owner account and set it up (one-time link)",
            web::admin::setup::link(public_url, &token)
        );
    }
    Ok(())
}
