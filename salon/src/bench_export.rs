//! `salon bench export`: the dashboard's bookings CSV over HTTP with a large bookings table, and
//! the server's memory while it streams. The app runs in this process on a fresh database; the
//! bookings read model is filled directly with `rows` bookings (the export reads only that
//! table, so how the rows got there does not matter to it, and 100 000 bookings through the
//! command path would take minutes to seed). Then:
//!
//! 1. idle: resident memory (VmRSS) after seeding, with the server waiting;
//! 2. the peak is reset (`5` into `/proc/self/clear_refs`, Linux) and the partner logs in and
//!    downloads `/dashboard/export/bookings.csv`, reading the body as it arrives and keeping
//!    only a byte and line count;
//! 3. peak: the highest resident memory during the download (VmHWM), beside idle.
//!
//! A streamed export holds one chunk of rows at a time: peak minus idle stays a few MB whatever
//! the table's size. The same CSV held whole in memory would need at least its own size.

use crate::app::{self, Config};
use crate::bench::StoreKind;
use crate::scratch;
use std::time::{Duration, Instant};

fn status_kb(field: &str) -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/status").ok()?;
    text.lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

fn mb(kb: Option<u64>) -> String {
    kb.map(|k| format!("{:.1} MB", k as f64 / 1024.0))
        .unwrap_or_else(|| "n/a".into())
}

/// Fills `rm_bookings` with `rows` bookings spread over the last two years.
async fn seed(read: &projections::ReadDb, rows: usize) -> anyhow::Result<()> {
    let stylists = ["Amara Diallo", "Keisha Brown", "Malik Johnson"]
        .map(|n| commands::demo::stylist_id(n).to_string());
    let services = ["Retwist", "Interlocking", "Loc Repair", "Consultation"]
        .map(|n| commands::demo::service_id(n).to_string());
    let statuses = [
        "confirmed",
        "completed",
        "completed",
        "no_show",
        "cancelled",
    ];
    let start = chrono::Utc::now() - chrono::Duration::days(730);
    const PER_TX: usize = 500;
    let mut done = 0;
    while done < rows {
        let n = PER_TX.min(rows - done);
        let mut sql = String::from(
            "INSERT INTO rm_bookings (id, status, deposit_status, service, stylist, start_at, end_at, \
             start_epoch, client_name, client_email, client_phone, notes, price_cents, deposit_cents, \
             currency, created_at, updated_at) VALUES ",
        );
        let mut values = Vec::with_capacity(n);
        for k in 0..n {
            let i = done + k;
            let at = start + chrono::Duration::minutes(10 * i as i64);
            let end = at + chrono::Duration::minutes(90);
            values.push(format!(
                "('{id}', '{status}', '{deposit}', '{service}', '{stylist}', '{s}', '{e}', {epoch}, \
                 'Client {i}, \"bench\"', 'client{i}@example.com', '(212) 555-{p:04}', 'note {i}', 9500, 2500, \
                 'USD', '{s}', '{s}')",
                id = uuid::Uuid::new_v4(),
                status = statuses[i % statuses.len()],
                deposit = if i % 3 == 0 { "paid" } else { "none" },
                service = services[i % services.len()],
                stylist = stylists[i % stylists.len()],
                s = at.to_rfc3339(),
                e = end.to_rfc3339(),
                epoch = at.timestamp(),
                p = i % 10_000,
            ));
        }
        sql.push_str(&values.join(", "));
        // Not kept in the statement cache: each batch is a different text, and a cache full of
        // them would inflate the idle figure this measures against.
        sqlx::query(&sql)
            .persistent(false)
            .execute(read.pool())
            .await?;
        done += n;
    }
    Ok(())
}

pub async fn run(stores: &[StoreKind], rows: usize) -> anyhow::Result<()> {
    println!("| store | bookings | CSV size | time | rows/s | RSS idle | RSS peak during export | peak − idle |");
    println!("|---|---|---|---|---|---|---|---|");
    for store in stores {
        let dir = std::env::temp_dir().join(format!(
            "salon-bench-export-{}",
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&dir)?;
        let url = match store {
            StoreKind::Sqlite => scratch::sqlite_in(&dir, "bench.db"),
            StoreKind::Postgres => scratch::create_postgres("salon_bench").await?,
        };
        let mut config = Config::new(url.clone(), "127.0.0.1:0".parse()?);
        config.dashboard.password = web::dashboard::Password::new("bench-password");
        config.run_reactors = false;
        config.calendar_schedule = false;
        let server = app::start(config).await?;
        let base = format!("http://{}", server.addr);
        seed(&server.state.read, rows).await?;
        tokio::time::sleep(Duration::from_secs(2)).await;
        let idle = status_kb("VmRSS:");
        let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
        if !reset {
            eprintln!(
                "could not reset the peak (/proc/self/clear_refs): the peak includes seeding"
            );
        }
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let form = http.get(format!("{base}/dashboard/login")).send().await?;
        let login_cookie = form
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|v| v.strip_prefix("salon_dashboard_login="))
            .and_then(|v| v.split(';').next())
            .unwrap_or_default()
            .to_string();
        let answer = http
            .post(format!("{base}/dashboard/login"))
            .header("cookie", format!("salon_dashboard_login={login_cookie}"))
            .header("content-type", "application/x-www-form-urlencoded")
            // Both values are URL-safe as they are (a fixed word and hex).
            .body(format!("password=bench-password&csrf={login_cookie}"))
            .send()
            .await?;
        let session = answer
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|v| v.strip_prefix("salon_dashboard="))
            .and_then(|v| v.split(';').next())
            .map(str::to_string)
            .ok_or_else(|| anyhow::anyhow!("login failed: {}", answer.status()))?;
        let started = Instant::now();
        let mut r = http
            .get(format!("{base}/dashboard/export/bookings.csv"))
            .header("cookie", format!("salon_dashboard={session}"))
            .send()
            .await?;
        anyhow::ensure!(r.status() == 200, "export answered {}", r.status());
        let (mut bytes, mut lines) = (0usize, 0usize);
        while let Some(chunk) = r.chunk().await? {
            bytes += chunk.len();
            lines += chunk.iter().filter(|b| **b == b'\n').count();
        }
        let took = started.elapsed();
        let peak = status_kb("VmHWM:");
        anyhow::ensure!(
            lines > rows,
            "the export has {lines} lines for {rows} bookings"
        );
        println!(
            "| {:?} | {rows} | {:.1} MB | {:.2} s | {:.0} | {} | {} | {} |",
            store,
            bytes as f64 / 1_048_576.0,
            took.as_secs_f64(),
            rows as f64 / took.as_secs_f64(),
            mb(idle),
            mb(peak),
            match (idle, peak) {
                (Some(i), Some(p)) => mb(Some(p.saturating_sub(i))),
                _ => "n/a".into(),
            }
        );
        server.shutdown().await?;
        match store {
            StoreKind::Sqlite => {
                let _ = std::fs::remove_dir_all(&dir);
            }
            StoreKind::Postgres => scratch::drop_postgres(&url).await?,
        }
    }
    Ok(())
}
