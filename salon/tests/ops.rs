//! Operations from the command line, run as an operator would: `events export` with filters in
//! both formats (the CSV parsed back), `events tail` following appends live and stopping on
//! SIGTERM, `salon projections`; and `salon serve` draining an in-flight request on SIGTERM with
//! JSON logs that carry the request id and no secret.

use salon::scratch;
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

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

fn ndjson(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect()
}

fn positions(lines: &[Value]) -> Vec<i64> {
    lines
        .iter()
        .map(|l| l["position"].as_i64().expect("position"))
        .collect()
}

/// The CSV export parsed back into the same shape as the NDJSON one.
fn csv_lines(out: &Output) -> Vec<Value> {
    let mut reader = csv::Reader::from_reader(out.stdout.as_slice());
    let headers = reader.headers().expect("headers").clone();
    assert_eq!(
        headers.iter().collect::<Vec<_>>(),
        salon::export::COLUMNS,
        "the CSV header"
    );
    reader
        .records()
        .map(|r| {
            let r = r.expect("record");
            serde_json::json!({
                "position": r[0].parse::<i64>().expect("position"),
                "aggregate_type": &r[1],
                "aggregate_id": &r[2],
                "sequence": r[3].parse::<i64>().expect("sequence"),
                "event_type": &r[4],
                "event_version": &r[5],
                "payload": serde_json::from_str::<Value>(&r[6]).expect("payload is JSON"),
                "metadata": serde_json::from_str::<Value>(&r[7]).expect("metadata is JSON"),
            })
        })
        .collect()
}

/// Both formats of one filtered export; they must hold the same events.
fn export(url: &str, filter: &[&str]) -> Vec<Value> {
    let mut args = vec!["events", "export", "--format", "ndjson"];
    args.extend_from_slice(filter);
    let lines = ndjson(&salon(url, &args));
    args[3] = "csv";
    let csv = csv_lines(&salon(url, &args));
    assert_eq!(csv, lines, "CSV and NDJSON differ for {filter:?}");
    lines
}

async fn export_filters(url: &str) {
    salon(url, &["seed-demo"]);
    salon(url, &["token", "create", "--name", "ops"]);
    let all = export(url, &[]);
    let n = all.len();
    assert!(n > 40, "{n}");
    let by_type = |t: &str| all.iter().filter(|l| l["event_type"] == t).count();

    // Types: a comma list, or the flag repeated.
    let two = export(url, &["--type", "ServiceCreated,StylistHired"]);
    assert_eq!(
        two.len(),
        by_type("ServiceCreated") + by_type("StylistHired")
    );
    assert_eq!(two.len(), 9);
    assert_eq!(
        export(url, &["--type", "ServiceCreated", "--type", "StylistHired"]),
        two
    );
    assert!(two
        .iter()
        .all(|l| l["event_type"] == "ServiceCreated" || l["event_type"] == "StylistHired"));

    // Aggregate type, then one aggregate.
    let stylists = export(url, &["--aggregate-type", "Stylist"]);
    assert!(stylists.iter().all(|l| l["aggregate_type"] == "Stylist"));
    assert_eq!(
        stylists.len(),
        all.iter()
            .filter(|l| l["aggregate_type"] == "Stylist")
            .count()
    );
    let one = stylists[0]["aggregate_id"].as_str().unwrap().to_string();
    let mine = export(
        url,
        &["--aggregate-type", "Stylist", "--aggregate-id", &one],
    );
    assert!(!mine.is_empty() && mine.len() < stylists.len());
    let sequences: Vec<i64> = mine
        .iter()
        .map(|l| l["sequence"].as_i64().unwrap())
        .collect();
    assert_eq!(sequences, (1..=mine.len() as i64).collect::<Vec<_>>());

    // Actor: the token was created by the owner at the command line.
    let owner = export(url, &["--actor", "owner"]);
    assert_eq!(
        owner
            .iter()
            .map(|l| l["event_type"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["TokenCreated"]
    );

    // Position range: after --since, up to and including --until.
    let (since, until) = (
        all[4]["position"].as_i64().unwrap(),
        all[9]["position"].as_i64().unwrap(),
    );
    let range = export(
        url,
        &["--since", &since.to_string(), "--until", &until.to_string()],
    );
    assert_eq!(positions(&range), positions(&all[5..=9]));

    // Recorded range: from (inclusive) the token's event, to (exclusive) it.
    let token = &owner[0];
    let at = token["metadata"]["recorded_at"]
        .as_str()
        .unwrap()
        .to_string();
    let from = export(url, &["--from", &at]);
    assert!(positions(&from).contains(&token["position"].as_i64().unwrap()));
    let before = export(url, &["--to", &at]);
    assert!(!positions(&before).contains(&token["position"].as_i64().unwrap()));
    let mut split: Vec<i64> = positions(&before);
    split.extend(positions(&from));
    assert_eq!(split, positions(&all), "from and to split the log in two");
    let far = export(url, &["--from", "2999-01-01T00:00:00Z"]);
    assert!(far.is_empty());
    // Filters combine.
    let both = export(
        url,
        &["--from", &at, "--type", "TokenCreated,ServiceCreated"],
    );
    assert_eq!(positions(&both), positions(&owner));

    // A bad time is refused with a message naming the flag.
    let bad = Command::new(BIN)
        .args(["events", "export", "--from", "yesterday"])
        .env("DATABASE_URL", url)
        .output()
        .expect("run");
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--from"));

    // Projections: none has run yet (seeded and exported only), so each is behind by the
    // whole log; after a replay of one, that one is at the head.
    let text = String::from_utf8_lossy(&salon(url, &["projections"]).stdout).to_string();
    let head = all.last().unwrap()["position"].as_i64().unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("NAME"), "{text}");
    let column = |line: &str, word: &str| line.find(word).unwrap_or(usize::MAX);
    let kind_at = column(lines[0], "KIND");
    for p in ["catalog", "bookings", "availability", "audit", "tokens"] {
        let row = lines
            .iter()
            .find(|l| l.starts_with(&format!("{p} ")))
            .unwrap_or_else(|| panic!("{p} missing:\n{text}"));
        assert_eq!(column(row, "projection"), kind_at, "aligned:\n{text}");
        let cells: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(
            cells[2..5],
            ["0", &head.to_string(), &n.to_string()],
            "{row}"
        );
    }
    salon(url, &["replay", "--projection", "catalog"]);
    let json: Value =
        serde_json::from_slice(&salon(url, &["projections", "--json"]).stdout).expect("JSON");
    assert_eq!(json["head"], head);
    let rows = json["projections"].as_array().expect("rows");
    let catalog = rows
        .iter()
        .find(|r| r["name"] == "catalog")
        .expect("catalog");
    assert_eq!(
        (catalog["checkpoint"].as_i64(), catalog["lag"].as_i64()),
        (Some(head), Some(0))
    );
    let bookings = rows
        .iter()
        .find(|r| r["name"] == "bookings")
        .expect("bookings");
    assert_eq!(bookings["lag"].as_i64(), Some(n as i64));
    assert_eq!(
        rows.iter().filter(|r| r["kind"] == "projection").count(),
        projections::Projection::ALL.len(),
        "every projection listed"
    );
}

#[tokio::test]
async fn export_filters_and_projections_on_sqlite() {
    let dir = scratch_dir("ops-export");
    export_filters(&scratch::sqlite_in(&dir, "salon.db")).await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn export_filters_and_projections_on_postgres() {
    let url = scratch::create_postgres("salon_test")
        .await
        .expect("database");
    export_filters(&url).await;
    scratch::drop_postgres(&url).await.expect("drop");
}

fn scratch_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("salon-{name}-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("dir");
    dir
}

fn sigterm(child: &Child) {
    let ok = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill")
        .success();
    assert!(ok, "SIGTERM");
}

fn wait_exit(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let until = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status;
        }
        if Instant::now() > until {
            let _ = child.kill();
            panic!("the process did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Lines of a child's standard output, as they come.
fn lines_of(child: &mut Child) -> mpsc::Receiver<String> {
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

async fn tail_follows(url: &str) {
    salon(url, &["seed-demo"]);
    let all = ndjson(&salon(url, &["events", "export"]));
    let head = all.last().unwrap()["position"].as_i64().unwrap();
    let at = all
        .iter()
        .rposition(|l| l["event_type"] == "ServiceCreated")
        .expect("a service");
    let last_service = all[at]["position"].as_i64().unwrap();
    let before = all[at - 1]["position"].as_i64().unwrap();
    // From a position: the events after it that pass the filter first, then new ones live.
    let mut tail = Command::new(BIN)
        .args([
            "events",
            "tail",
            "--since",
            &before.to_string(),
            "--type",
            "TokenCreated,ServiceCreated",
            "--poll-ms",
            "50",
        ])
        .env("DATABASE_URL", url)
        .env("SALON_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start tail");
    let lines = lines_of(&mut tail);
    let first: Value =
        serde_json::from_str(&lines.recv_timeout(Duration::from_secs(20)).expect("a line"))
            .expect("JSON");
    assert_eq!(first["position"], last_service);
    assert_eq!(first["event_type"], "ServiceCreated");
    let mut latencies = Vec::new();
    for name in ["one", "two", "three"] {
        salon(url, &["token", "create", "--name", name]);
        let written = Instant::now();
        let line = lines
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("the {name} token never arrived"));
        latencies.push(written.elapsed());
        let e: Value = serde_json::from_str(&line).expect("JSON");
        assert_eq!(e["event_type"], "TokenCreated");
        assert!(e["position"].as_i64().unwrap() > head);
        assert_eq!(
            e["payload"]["TokenCreated"]["name"], name,
            "in order, the one just written: {e}"
        );
        assert!(
            !line.contains("salon_"),
            "a token's secret never reaches the log"
        );
    }
    eprintln!("tail: appended → printed in {latencies:?}");
    // Nothing else passed the filter.
    assert!(lines.recv_timeout(Duration::from_millis(300)).is_err());
    sigterm(&tail);
    let status = wait_exit(&mut tail, Duration::from_secs(10));
    assert!(status.success(), "tail exits 0 on SIGTERM: {status:?}");
    let mut err = String::new();
    tail.stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(err.contains("4 events"), "{err}");

    // From the head (no --since): only what is written after it starts.
    let mut tail = Command::new(BIN)
        .args(["events", "tail", "--poll-ms", "50"])
        .env("DATABASE_URL", url)
        .env("SALON_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start tail");
    let lines = lines_of(&mut tail);
    // It reads the head first thing; give it a moment to start.
    std::thread::sleep(Duration::from_millis(1500));
    assert!(lines.try_recv().is_err(), "nothing old is printed");
    salon(url, &["token", "create", "--name", "four"]);
    let e: Value = serde_json::from_str(
        &lines
            .recv_timeout(Duration::from_secs(20))
            .expect("the new event"),
    )
    .expect("JSON");
    assert_eq!(e["payload"]["TokenCreated"]["name"], "four");
    sigterm(&tail);
    assert!(wait_exit(&mut tail, Duration::from_secs(10)).success());
}

#[tokio::test]
async fn tail_follows_the_log_on_sqlite() {
    let dir = scratch_dir("ops-tail");
    tail_follows(&scratch::sqlite_in(&dir, "salon.db")).await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn tail_follows_the_log_on_postgres() {
    let url = scratch::create_postgres("salon_test")
        .await
        .expect("database");
    tail_follows(&url).await;
    scratch::drop_postgres(&url).await.expect("drop");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

async fn wait_ready(http: &reqwest::Client, base: &str) {
    for _ in 0..600 {
        if let Ok(r) = http.get(format!("{base}/api/v1/stylists")).send().await {
            if let Ok(v) = r.json::<Value>().await {
                if v["count"] == 3 {
                    return;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("server at {base} never became ready");
}

/// SIGTERM while a booking is half sent: the server stops taking connections but answers the
/// booking in full, then exits 0. Its JSON log lines carry the request's id, and never the
/// bearer token or the client's signed link.
#[tokio::test]
async fn sigterm_drains_the_request_in_flight_and_logs_carry_the_request_id() {
    let dir = scratch_dir("ops-drain");
    let url = scratch::sqlite_in(&dir, "salon.db");
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut server = Command::new(BIN)
        .args(["serve", "--demo", "--addr", &format!("127.0.0.1:{port}")])
        .env(
            "SALON_SECRET_KEY",
            "test-secret-key-of-at-least-32-characters",
        )
        .env("DATABASE_URL", &url)
        .env("SALON_LOG_FORMAT", "json")
        .env("SALON_LOG", "info,sqlx=warn,salon::http=debug")
        .env("SALON_METRICS_TOKEN", "metrics-secret-123")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start salon serve");
    let stderr = server.stderr.take().expect("stderr");
    let log = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = BufReader::new(stderr).read_to_string(&mut text);
        text
    });
    let http = reqwest::Client::new();
    wait_ready(&http, &base).await;

    // A request with a known id and a secret that must not be logged.
    let r = http
        .get(format!("{base}/metrics"))
        .bearer_auth("metrics-secret-123")
        .header("X-Request-Id", "ops-check-42")
        .send()
        .await
        .expect("metrics");
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(
        r.headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok()),
        Some("ops-check-42")
    );

    // A free slot for the booking.
    let service = commands::demo::service_id("Consultation");
    let stylist = commands::demo::stylist_id("Amara Diallo");
    let today = chrono::Utc::now().date_naive();
    let slots: Value = http
        .get(format!(
            "{base}/api/v1/availability?service={service}&stylist={stylist}&from={}&to={}",
            today + chrono::Duration::days(2),
            today + chrono::Duration::days(30)
        ))
        .send()
        .await
        .expect("availability")
        .json()
        .await
        .expect("JSON");
    let start = slots["slots"][0]["start"]
        .as_str()
        .expect("a slot")
        .to_string();
    let body = serde_json::json!({
        "service": service, "stylist": stylist, "start": start,
        "client": {"name": "Drain Test", "email": "drain@example.com", "phone": "(212) 555-0199"},
    })
    .to_string();
    let (head, rest) = body.split_at(body.len() / 2);
    let mut conn = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    conn.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    write!(
        conn,
        "POST /api/v1/bookings HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
         X-Request-Id: drain-request-1\r\nContent-Length: {}\r\n\r\n{head}",
        body.len()
    )
    .unwrap();
    conn.flush().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    sigterm(&server);
    std::thread::sleep(Duration::from_millis(700));
    assert!(
        server.try_wait().expect("wait").is_none(),
        "the server must wait for the request in flight"
    );
    // New connections are no longer taken.
    assert!(
        reqwest::Client::new()
            .get(format!("{base}/healthz"))
            .timeout(Duration::from_secs(2))
            .send()
            .await
            .is_err(),
        "a draining server takes no new requests"
    );
    conn.write_all(rest.as_bytes()).unwrap();
    conn.flush().unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match conn.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                answer.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&answer);
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let length = head.lines().find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                    });
                    if length.is_some_and(|n| body.len() >= n) {
                        break;
                    }
                }
            }
            Err(e) => panic!("reading the answer: {e}"),
        }
    }
    let answer = String::from_utf8_lossy(&answer).to_string();
    assert!(
        answer.starts_with("HTTP/1.1 201"),
        "the booking in flight is answered in full:\n{answer}"
    );
    let (_, json) = answer.split_once("\r\n\r\n").unwrap();
    let booking: Value = serde_json::from_str(json).expect("the booking");
    assert!(booking["id"].is_string(), "{booking}");
    drop(conn);
    let status = wait_exit(&mut server, Duration::from_secs(20));
    assert!(status.success(), "exit 0 after draining: {status:?}");

    let text = log.join().expect("log");
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not JSON: {l}")))
        .collect();
    let of = |id: &str| -> Vec<&Value> {
        lines
            .iter()
            .filter(|l| l["span"]["request_id"] == id)
            .collect()
    };
    let metrics = of("ops-check-42");
    assert!(
        !metrics.is_empty(),
        "no line carries the request id:\n{text}"
    );
    assert!(metrics
        .iter()
        .any(|l| l["span"]["route"] == "/metrics" && l["span"]["method"] == "GET"));
    assert!(
        !of("drain-request-1").is_empty(),
        "the booking's lines carry its id:\n{text}"
    );
    assert!(!text.contains("metrics-secret-123"), "a secret was logged");
    assert!(
        !text.contains("drain@example.com"),
        "client data was logged"
    );
    let _ = std::fs::remove_dir_all(dir);
}
