//! The command line, run as a user would: `--help`, `migrate`, `seed-demo`, `token create`,
//! `events export` in both formats, `replay`, on both stores.

use salon::scratch;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_salon");

fn salon(url: &str, args: &[&str]) -> Output {
    let out = Command::new(BIN)
        .args(args)
        .env("DATABASE_URL", url)
        .env("SALON_LOG", "warn")
        .output()
        .expect("run salon");
    assert!(
        out.status.success(),
        "salon {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn help_lists_every_subcommand_with_a_line() {
    let out = Command::new(BIN).arg("--help").output().expect("help");
    let text = String::from_utf8_lossy(&out.stdout);
    for sub in [
        "serve",
        "migrate",
        "demo",
        "setup-link",
        "token",
        "events",
        "replay",
        "bench",
        "intake",
        "export-site",
    ] {
        let line = text
            .lines()
            .find(|l| l.trim_start().starts_with(sub))
            .unwrap_or_else(|| panic!("{sub} missing:\n{text}"));
        assert!(
            line.trim().len() > sub.len() + 5,
            "{sub} has no description"
        );
    }
}

async fn cli_round_trip(url: &str) {
    salon(url, &["migrate"]);
    salon(url, &["seed-demo"]);
    let again = salon(url, &["seed-demo"]);
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("already"),
        "seeding twice must not seed twice"
    );
    let token = salon(
        url,
        &["token", "create", "--name", "cli", "--scope", "write"],
    );
    let secret = String::from_utf8_lossy(&token.stdout).to_string();
    assert_eq!(
        secret.lines().count(),
        1,
        "the token alone on standard output"
    );
    assert!(secret.trim().starts_with("salon_") && secret.trim().len() > 60);

    let ndjson = salon(url, &["events", "export", "--format", "ndjson"]);
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&ndjson.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    // Salon, six services, three stylists hired and given hours; six past visits (each
    // reserved, requested, confirmed, completed), five reviewed and approved, three replied to;
    // one token.
    let count = |t: &str| lines.iter().filter(|l| l["event_type"] == t).count();
    assert_eq!(
        (
            count("SalonConfigured"),
            count("ServiceCreated"),
            count("StylistHired"),
            count("StylistHoursSet")
        ),
        (1, 6, 3, 3)
    );
    for t in [
        "SlotReserved",
        "BookingRequested",
        "BookingConfirmed",
        "BookingCompleted",
    ] {
        assert_eq!(count(t), 6, "{t}");
    }
    assert_eq!(
        (
            count("ReviewSubmitted"),
            count("ReviewApproved"),
            count("ReviewReplied")
        ),
        (5, 5, 3)
    );
    assert_eq!(count("TokenCreated"), 1);
    assert_eq!(lines.len(), 1 + 6 + 3 * 2 + 6 * 4 + 5 + 5 + 3 + 1);
    for l in &lines {
        for field in [
            "position",
            "aggregate_type",
            "aggregate_id",
            "sequence",
            "event_type",
            "event_version",
            "payload",
            "metadata",
        ] {
            assert!(l.get(field).is_some(), "{field} missing in {l}");
        }
        assert!(l["metadata"]["actor"].is_string());
    }
    assert!(
        !String::from_utf8_lossy(&ndjson.stdout).contains(secret.trim()),
        "the secret must never reach the log"
    );
    let since = lines[5]["position"].as_i64().expect("position");
    let tail = salon(url, &["events", "export", "--since", &since.to_string()]);
    assert_eq!(
        String::from_utf8_lossy(&tail.stdout).lines().count(),
        lines.len() - 6
    );

    let csv_out = salon(url, &["events", "export", "--format", "csv"]);
    let mut reader = csv::Reader::from_reader(csv_out.stdout.as_slice());
    let headers = reader.headers().expect("headers").clone();
    assert_eq!(
        headers.iter().collect::<Vec<_>>(),
        [
            "position",
            "aggregate_type",
            "aggregate_id",
            "sequence",
            "event_type",
            "event_version",
            "payload",
            "metadata"
        ]
    );
    let records: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("record")).collect();
    assert_eq!(records.len(), lines.len());
    let payload: serde_json::Value = serde_json::from_str(&records[0][6]).expect("payload is JSON");
    assert!(payload.get("SalonConfigured").is_some());

    // Listed (never with its secret), then revoked.
    let listed = String::from_utf8_lossy(&salon(url, &["token", "list"]).stdout).to_string();
    let row = listed
        .lines()
        .find(|l| l.contains("\tcli\t"))
        .unwrap_or_else(|| panic!("the token in {listed}"));
    assert!(
        row.contains("\twrite\tactive\t") && row.ends_with("\tnever"),
        "{row}"
    );
    assert!(!listed.contains(secret.trim()));
    let id = row.split('\t').next().expect("id").to_string();
    salon(url, &["token", "revoke", &id, "--reason", "rotated"]);
    let listed = String::from_utf8_lossy(&salon(url, &["token", "list"]).stdout).to_string();
    assert!(
        listed.contains(&format!("{id}\tcli\twrite\trevoked")),
        "{listed}"
    );

    let replay = salon(url, &["replay", "--all"]);
    let said = String::from_utf8_lossy(&replay.stderr);
    for p in ["catalog", "bookings", "availability", "audit", "tokens"] {
        assert!(said.contains(p), "{said}");
    }
    assert!(said.contains("swapped in"), "{said}");

    // Verify compares a rebuild with the live tables; a tampered row is reported (exit 1).
    let verified = salon(url, &["replay", "--all", "--verify"]);
    let table = String::from_utf8_lossy(&verified.stdout).to_string();
    assert!(
        table.contains("rm_audit_log") && table.contains("the read models equal a rebuild"),
        "{table}"
    );
    let db = projections::ReadDb::connect(url).await.expect("read db");
    sqlx::query("DELETE FROM rm_api_tokens")
        .execute(db.pool())
        .await
        .expect("tamper");
    db.close().await;
    let out = Command::new(BIN)
        .args(["replay", "--projection", "tokens", "--verify", "--json"])
        .env("DATABASE_URL", url)
        .output()
        .expect("salon replay --verify");
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(report["same"], false);
    assert_eq!(report["tables"][0]["table"], "rm_api_tokens");
    assert_eq!(report["tables"][0]["only_rebuilt"], 1);
    // A replay repairs it.
    salon(url, &["replay", "--projection", "tokens"]);
    salon(url, &["replay", "--projection", "tokens", "--verify"]);
}

/// `salon setup-link` prints a one-time link into the first-run setup while nobody can log in,
/// and refuses (exit 1, in words) once an owner account exists.
#[test]
fn setup_link_is_printed_until_an_owner_account_exists() {
    let dir = std::env::temp_dir().join(format!("salon-cli-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("dir");
    let url = scratch::sqlite_in(&dir, "salon.db");
    salon(&url, &["migrate"]);
    let first = salon(
        &url,
        &["setup-link", "--public-url", "https://book.example/"],
    );
    let link = String::from_utf8_lossy(&first.stdout).trim().to_string();
    let token = link
        .strip_prefix("https://book.example/admin/setup?token=")
        .unwrap_or_else(|| panic!("not a setup link: {link}"));
    assert!(
        token.len() >= 32,
        "the token is too short to be unguessable: {token}"
    );
    let second = salon(&url, &["setup-link"]);
    assert_ne!(first.stdout, second.stdout, "each link is new");
    let added = Command::new(BIN)
        .args(["owner", "add", "--email", "owner@example.com"])
        .env("DATABASE_URL", &url)
        .env("SALON_ADMIN_PASSWORD", "a long enough password")
        .output()
        .expect("owner add");
    assert!(added.status.success());
    let refused = Command::new(BIN)
        .args(["setup-link"])
        .env("DATABASE_URL", &url)
        .output()
        .expect("setup-link");
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("owner account exists"));
    assert!(refused.stdout.is_empty());
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn cli_round_trip_on_sqlite() {
    let dir = std::env::temp_dir().join(format!("salon-cli-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("dir");
    cli_round_trip(&scratch::sqlite_in(&dir, "salon.db")).await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn cli_round_trip_on_postgres() {
    let url = scratch::create_postgres("salon_test")
        .await
        .expect("database");
    cli_round_trip(&url).await;
    scratch::drop_postgres(&url).await.expect("drop");
}

/// `salon bench replay` at a small size, so the benchmark cannot rot: it prints its row with a
/// rebuild rate, a ratio to the raw scan and a lag.
#[test]
fn bench_replay_prints_rates_ratio_and_lag() {
    let out = Command::new(BIN)
        .args([
            "bench", "replay", "--stores", "sqlite", "--events", "3000", "--burst", "40",
        ])
        .env("SALON_LOG", "warn")
        .output()
        .expect("salon bench replay");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let row = text
        .lines()
        .find(|l| l.starts_with("sqlite"))
        .unwrap_or_else(|| panic!("no sqlite row in {text}"));
    let cells: Vec<&str> = row.split_whitespace().collect();
    let events: usize = cells[1].parse().expect("events");
    assert!(events >= 3000, "{row}");
    assert!(row.contains('%'), "{row}");
}
