//! Killing (not stopping) the projections' leader fails over (issue 8): two `salon serve`
//! processes on one PostgreSQL database; the one holding the advisory lock
//! `projections::runner::LEADER_LOCK` is killed with SIGKILL; a booking made on the survivor
//! shows in the read models within seconds, and the survivor now holds the lock.
//!
//! Which process holds the lock: each server's `DATABASE_URL` names it (`application_name`), and
//! `pg_locks` joined with `pg_stat_activity` says whose session holds the lock.

use salon::bench_chaos::{free_port, ServerProcess};
use salon::scratch;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_salon");
const A: &str = "salon_failover_a";
const B: &str = "salon_failover_b";

/// The application names of the sessions holding the projections' lock in this database.
async fn lock_holders(admin: &sqlx::PgPool) -> Vec<String> {
    let key = projections::runner::LEADER_LOCK;
    sqlx::query_scalar(
        "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
         WHERE l.locktype = 'advisory' AND l.granted \
         AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
         AND l.classid::bigint = $1 AND l.objid::bigint = $2 ORDER BY 1",
    )
    .bind(key >> 32)
    .bind(key & 0xffff_ffff)
    .fetch_all(admin)
    .await
    .expect("pg_locks")
}

/// Waits (at most 15 s) until exactly one session holds the lock and it is `want` (or anyone's,
/// when `want` is `None`).
async fn holder(admin: &sqlx::PgPool, want: Option<&str>) -> (String, Duration) {
    let started = Instant::now();
    loop {
        let holders = lock_holders(admin).await;
        if let [one] = holders.as_slice() {
            if want.is_none_or(|w| w == one) {
                return (one.clone(), started.elapsed());
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "waited {:.1} s for {} to hold the projections' lock; holders now: {holders:?}",
            started.elapsed().as_secs_f64(),
            want.unwrap_or("one session")
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn wait_for_catalog(http: &reqwest::Client, base: &str) {
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
    panic!("{base} never showed the demo catalog");
}

#[tokio::test]
async fn killing_the_projections_leader_moves_them_to_the_survivor() {
    let url = scratch::create_postgres("salon_failover")
        .await
        .expect("database");
    let dir =
        std::env::temp_dir().join(format!("salon-failover-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("dir");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    let named = |name: &str| format!("{url}?application_name={name}");
    let addr = |_| SocketAddr::from(([127, 0, 0, 1], free_port().expect("port")));

    // A first (it seeds the demo salon and takes the lock), then B on the same database.
    let mut a = ServerProcess::start(BIN.as_ref(), &named(A), addr(()), &dir.join("a.log"), true)
        .expect("start A");
    a.wait_ready(&http, Duration::from_secs(60))
        .await
        .expect("A ready");
    wait_for_catalog(&http, &format!("http://{}", a.addr)).await;
    let mut b = ServerProcess::start(BIN.as_ref(), &named(B), addr(()), &dir.join("b.log"), true)
        .expect("start B");
    b.wait_ready(&http, Duration::from_secs(60))
        .await
        .expect("B ready");

    let admin = sqlx::PgPool::connect(&url).await.expect("admin pool");
    // The driver passes application_name through: both servers' sessions show by name.
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT application_name FROM pg_stat_activity \
         WHERE datname = current_database() ORDER BY 1",
    )
    .fetch_all(&admin)
    .await
    .expect("pg_stat_activity");
    assert!(
        names.iter().any(|n| n == A) && names.iter().any(|n| n == B),
        "application_name did not reach PostgreSQL: sessions are named {names:?}"
    );
    let (leader_name, _) = holder(&admin, None).await;
    assert!(
        leader_name == A || leader_name == B,
        "the lock is held by a session named {leader_name:?}"
    );
    let (mut leader, mut survivor, survivor_name) = if leader_name == A {
        (a, b, B)
    } else {
        (b, a, A)
    };
    let base = format!("http://{}", survivor.addr);

    // A read token, visible on the survivor before the kill.
    let out = Command::new(BIN)
        .args(["token", "create", "--name", "failover", "--scope", "read"])
        .env("DATABASE_URL", &url)
        .env("SALON_LOG", "warn")
        .output()
        .expect("token create");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let mut token_ready = false;
    for _ in 0..400 {
        let r = http
            .get(format!("{base}/api/v1/bookings?limit=1"))
            .bearer_auth(&token)
            .send()
            .await;
        if matches!(r, Ok(ref r) if r.status().as_u16() == 200) {
            token_ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(token_ready, "the token never worked on the survivor");

    // A free slot, from the survivor.
    let service = commands::demo::service_id("Consultation");
    let today = chrono::Utc::now().date_naive();
    let (from, to) = (
        today + chrono::Duration::days(2),
        today + chrono::Duration::days(30),
    );
    let slots: Value = http
        .get(format!(
            "{base}/api/v1/availability?service={service}&from={from}&to={to}"
        ))
        .send()
        .await
        .expect("availability")
        .json()
        .await
        .expect("json");
    let slot = slots["slots"][0].clone();
    let (stylist, start) = (
        slot["stylist"].as_str().expect("a free slot").to_string(),
        slot["start"].as_str().expect("start").to_string(),
    );

    // SIGKILL the leader: no drain, no goodbye; its sessions end when the kernel closes them.
    let pid = leader.pid();
    leader.kill().expect("SIGKILL the leader");
    let killed = Instant::now();
    // Meanwhile, watch for the survivor to take the lock.
    let lock_watch = tokio::spawn({
        let admin = admin.clone();
        async move { holder(&admin, Some(survivor_name)).await.1 }
    });
    let body = json!({
        "service": service, "stylist": stylist, "start": start,
        "client": {"name": "Failover Client", "email": "failover@example.com", "phone": "+12125550100"},
    });
    let r = http
        .post(format!("{base}/api/v1/bookings"))
        .header("Idempotency-Key", "failover-1")
        .json(&body)
        .send()
        .await
        .expect("book on the survivor");
    assert_eq!(r.status().as_u16(), 201, "booking on the survivor");
    let booked: Value = r.json().await.expect("json");
    let id = booked["id"].as_str().expect("id").to_string();
    let answered = killed.elapsed();

    // The survivor's read models show it (only the leader writes them), within seconds.
    let visible = loop {
        let r = http
            .get(format!("{base}/api/v1/bookings/{id}"))
            .bearer_auth(&token)
            .send()
            .await
            .expect("get booking");
        if r.status().as_u16() == 200 {
            break killed.elapsed();
        }
        assert!(
            killed.elapsed() < Duration::from_secs(10),
            "booking {id} not in the survivor's read models {:.1} s after the leader (pid {pid:?}) \
             was killed; lock holders: {:?}",
            killed.elapsed().as_secs_f64(),
            lock_holders(&admin).await
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let gone: Value = http
        .get(format!(
            "{base}/api/v1/availability?service={service}&stylist={stylist}&from={from}&to={to}"
        ))
        .send()
        .await
        .expect("availability")
        .json()
        .await
        .expect("json");
    assert!(
        gone["slots"]
            .as_array()
            .expect("slots")
            .iter()
            .all(|s| s["start"].as_str() != Some(start.as_str())),
        "the booked slot is still offered"
    );
    let lock_moved = lock_watch.await.expect("the survivor takes the lock");
    assert_eq!(lock_holders(&admin).await, vec![survivor_name.to_string()]);
    println!(
        "failover after SIGKILL of the leader: the survivor held the projections' lock after \
         {:.3} s; the booking made on it right after the kill answered 201 after {:.3} s and \
         showed in the read models after {:.3} s",
        lock_moved.as_secs_f64(),
        answered.as_secs_f64(),
        visible.as_secs_f64(),
    );

    survivor.kill().expect("stop the survivor");
    admin.close().await;
    scratch::drop_postgres(&url).await.expect("drop");
    let _ = std::fs::remove_dir_all(dir);
}
