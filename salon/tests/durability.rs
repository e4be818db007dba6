//! A killed server loses no acknowledged booking: the real binary takes a burst of bookings, is
//! killed with SIGKILL while more are in flight, and after a restart every booking it answered
//! 201 for is there. On both stores.

use futures::future::join_all;
use salon::scratch;
use serde_json::{json, Value};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_salon");

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

fn serve(url: &str, port: u16) -> Child {
    Command::new(BIN)
        .args(["serve", "--demo", "--addr", &format!("127.0.0.1:{port}")])
        .env(
            "SALON_SECRET_KEY",
            "test-secret-key-of-at-least-32-characters",
        )
        .env("DATABASE_URL", url)
        .env("SALON_LOG", "warn")
        .env("SALON_RATE_BOOKINGS", "1000000")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start salon serve")
}

async fn wait_ready(http: &reqwest::Client, base: &str) {
    for _ in 0..400 {
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

/// Free (stylist, start) pairs for the demo's consultation over the next weeks.
async fn free_slots(http: &reqwest::Client, base: &str) -> Vec<(String, String)> {
    let service = commands::demo::service_id("Consultation");
    let today = chrono::Utc::now().date_naive();
    let from = today + chrono::Duration::days(2);
    let to = today + chrono::Duration::days(40);
    let v: Value = http
        .get(format!(
            "{base}/api/v1/availability?service={service}&from={from}&to={to}"
        ))
        .send()
        .await
        .expect("availability")
        .json()
        .await
        .expect("json");
    v["slots"]
        .as_array()
        .expect("slots")
        .iter()
        .map(|s| {
            (
                s["stylist"].as_str().unwrap_or("").to_string(),
                s["start"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

async fn post(
    http: &reqwest::Client,
    base: &str,
    stylist: &str,
    start: &str,
    i: usize,
) -> Option<String> {
    let body = json!({
        "service": commands::demo::service_id("Consultation"), "stylist": stylist, "start": start,
        "client": {"name": format!("Durable {i}"), "email": "durable@example.com", "phone": "+12125550100"},
    });
    let r = http
        .post(format!("{base}/api/v1/bookings"))
        .json(&body)
        .send()
        .await
        .ok()?;
    if r.status().as_u16() != 201 {
        return None;
    }
    let v: Value = r.json().await.ok()?;
    v["id"].as_str().map(str::to_string)
}

async fn killed_server_loses_no_acknowledged_booking(url: &str) {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut child = serve(url, port);
    wait_ready(&http, &base).await;
    let slots = free_slots(&http, &base).await;
    assert!(slots.len() >= 200, "{} slots", slots.len());
    let acked = Arc::new(Mutex::new(Vec::new()));
    // A first burst, all answered.
    let burst = slots[..100].iter().enumerate().map(|(i, (st, start))| {
        let (http, base, acked) = (http.clone(), base.clone(), acked.clone());
        async move {
            if let Some(id) = post(&http, &base, st, start, i).await {
                acked.lock().expect("lock").push(id);
            }
        }
    });
    join_all(burst).await;
    // A second burst, killed in flight: whatever was answered 201 before the kill must survive.
    let in_flight: Vec<_> = slots[100..200]
        .iter()
        .enumerate()
        .map(|(i, (st, start))| {
            let (http, base, acked) = (http.clone(), base.clone(), acked.clone());
            let (st, start) = (st.clone(), start.clone());
            tokio::spawn(async move {
                if let Some(id) = post(&http, &base, &st, &start, 100 + i).await {
                    acked.lock().expect("lock").push(id);
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(30)).await;
    child.kill().expect("SIGKILL");
    child.wait().expect("reap");
    for t in in_flight {
        let _ = t.await;
    }
    let acked = acked.lock().expect("lock").clone();
    assert!(acked.len() >= 100, "only {} acknowledged", acked.len());

    let mut child = serve(url, port);
    wait_ready(&http, &base).await;
    let out = Command::new(BIN)
        .args(["token", "create", "--name", "durability", "--scope", "read"])
        .env("DATABASE_URL", url)
        .env("SALON_LOG", "warn")
        .env("SALON_RATE_BOOKINGS", "1000000")
        .output()
        .expect("token create");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(token.starts_with("salon_"));
    let mut missing = acked.clone();
    for _ in 0..200 {
        let mut still = Vec::new();
        for id in &missing {
            let r = http
                .get(format!("{base}/api/v1/bookings/{id}"))
                .bearer_auth(&token)
                .send()
                .await;
            if !matches!(r, Ok(ref r) if r.status().as_u16() == 200) {
                still.push(id.clone());
            }
        }
        missing = still;
        if missing.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged bookings lost: {:?}",
        missing.len(),
        acked.len(),
        &missing[..missing.len().min(5)]
    );
}

#[tokio::test]
async fn sqlite_killed_server_loses_no_acknowledged_booking() {
    let dir = std::env::temp_dir().join(format!(
        "salon-durability-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).expect("dir");
    killed_server_loses_no_acknowledged_booking(&scratch::sqlite_in(&dir, "salon.db")).await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn postgres_killed_server_loses_no_acknowledged_booking() {
    let url = scratch::create_postgres("salon_durability")
        .await
        .expect("database");
    killed_server_loses_no_acknowledged_booking(&url).await;
    scratch::drop_postgres(&url).await.expect("drop");
}
