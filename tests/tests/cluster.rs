//! Two `salon serve` processes' worth of app on one PostgreSQL database (issue 8, part 5):
//! clients racing for one slot through both servers still get exactly one winner; an
//! idempotency key sent to one server and retried on the other books once; both servers' read
//! models converge; with one server stopped the other goes on booking and projecting; and when
//! the session holding the leader's lock dies alone, exactly one server leads again.
//!
//! One server at a time advances the projections: the one holding the PostgreSQL advisory lock
//! `projections::runner::LEADER_LOCK`; the other stands by and takes over when the leader's
//! session ends (see `projections::runner`).

use futures::future::join_all;
use reqwest::Method;
use serde_json::Value;
use std::time::Duration;
use tests::{booking_body, ScratchDb, TestApp};

async fn two_servers() -> (TestApp, TestApp) {
    let db = ScratchDb::new(migrations::Backend::Postgres).await;
    let second = db.shared();
    let a = TestApp::spawn_on(db).await;
    let b = TestApp::spawn_on(second).await;
    (a, b)
}

/// Waits until `app`'s read model shows booking `id`.
async fn visible(app: &TestApp, token: &str, id: &str) -> Value {
    for _ in 0..200 {
        let answer = app
            .call(
                Method::GET,
                &format!("/api/v1/bookings/{id}"),
                Some(token),
                None,
                &[],
            )
            .await;
        if answer.status == 200 {
            return answer.body;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("booking {id} never showed on {}", app.base);
}

#[tokio::test]
async fn two_servers_race_for_one_slot_and_share_idempotency_keys() {
    let (a, b) = two_servers().await;
    let service = a.service_id("Retwist").await;
    let stylist = TestApp::stylist_id("Keisha Brown");
    let slot = a.first_slot(&service, &stylist).await;
    let start = slot["start"].as_str().expect("start").to_string();

    // Sixteen clients, alternately on each server, for one slot: one winner, fifteen 409s.
    let requests = (0..16).map(|i| {
        let body = booking_body(&service, &stylist, &start, &format!("Client {i}"));
        let app = if i % 2 == 0 { &a } else { &b };
        async move {
            app.post_booking(&body, Some(&format!("cluster-race-{i}")))
                .await
        }
    });
    let results = join_all(requests).await;
    let winners: Vec<&Value> = results
        .iter()
        .filter(|(s, _)| *s == 201)
        .map(|(_, b)| b)
        .collect();
    let conflicts = results.iter().filter(|(s, _)| *s == 409).count();
    assert_eq!(winners.len(), 1, "{results:?}");
    assert_eq!(conflicts, 15, "{results:?}");
    let winner = winners[0]["id"].as_str().expect("id").to_string();

    // Exactly one session holds the projections' lock.
    let pool = sqlx::PgPool::connect(&a.db.url).await.expect("connect");
    let key = projections::runner::LEADER_LOCK;
    let holders: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted \
         AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
         AND classid::bigint = $1 AND objid::bigint = $2",
    )
    .bind(key >> 32)
    .bind(key & 0xffff_ffff)
    .fetch_one(&pool)
    .await
    .expect("pg_locks");
    pool.close().await;
    assert_eq!(holders, 1, "one leader");

    // Both servers' read models show the winner, and hold one reservation for that time.
    let token_a = a.token("cluster-a", domain::token::Scope::Read).await;
    let token_b = b.token("cluster-b", domain::token::Scope::Read).await;
    visible(&a, &token_a, &winner).await;
    visible(&b, &token_b, &winner).await;

    // One idempotency key: the first try on A, the retry on B: one booking, the same answer.
    let next = a
        .slots(
            &service,
            Some(&stylist),
            &start[..10],
            &(chrono::DateTime::parse_from_rfc3339(&start).expect("rfc3339")
                + chrono::Duration::days(14))
            .format("%Y-%m-%d")
            .to_string(),
        )
        .await
        .into_iter()
        .find(|s| s["start"] != start.as_str())
        .expect("another free slot");
    let body = booking_body(
        &service,
        &stylist,
        next["start"].as_str().expect("start"),
        "Retry Across",
    );
    let key = [("idempotency-key", "cluster-retry-1")];
    let first = a
        .call(Method::POST, "/api/v1/bookings", None, Some(&body), &key)
        .await;
    let retry = b
        .call(Method::POST, "/api/v1/bookings", None, Some(&body), &key)
        .await;
    assert_eq!(first.status, 201, "{}", first.body);
    assert_eq!(retry.status, 201, "{}", retry.body);
    assert_eq!(first.body["id"], retry.body["id"]);
    assert_eq!(retry.header("idempotent-replayed"), "true");
    let events = tests::count_events(&a).await;
    let again = b
        .call(Method::POST, "/api/v1/bookings", None, Some(&body), &key)
        .await;
    assert_eq!(again.body["id"], first.body["id"]);
    assert_eq!(
        tests::count_events(&a).await,
        events,
        "a replayed key appends nothing"
    );

    let TestApp { server, .. } = b;
    server.shutdown().await.expect("stop B");
    a.stop().await;
}

/// The leader (A, started first) stops; B takes the lock over and its read models follow its
/// own new booking within seconds.
#[tokio::test]
async fn with_one_server_stopped_the_other_books_and_projects() {
    let (a, b) = two_servers().await;
    let service = a.service_id("Retwist").await;
    let stylist = TestApp::stylist_id("Malik Johnson");
    // A stops (as a crashed or drained server would leave the database).
    let TestApp { server, db, .. } = a;
    server.shutdown().await.expect("stop A");
    let slot = b.first_slot(&service, &stylist).await;
    let body = booking_body(
        &service,
        &stylist,
        slot["start"].as_str().expect("start"),
        "After A",
    );
    let (status, booking) = b.post_booking(&body, Some("cluster-after-a")).await;
    assert_eq!(status, 201, "{booking}");
    let token = b
        .token("cluster-survivor", domain::token::Scope::Read)
        .await;
    let shown = visible(&b, &token, booking["id"].as_str().expect("id")).await;
    assert_eq!(shown["status"], "confirmed");
    // The slot is gone from B's free times: its availability projection advanced too.
    let still = b
        .slots(
            &service,
            Some(&stylist),
            &slot["start"].as_str().expect("start")[..10],
            &slot["start"].as_str().expect("start")[..10],
        )
        .await;
    assert!(
        still.iter().all(|s| s["start"] != slot["start"]),
        "the booked time is no longer free"
    );
    b.stop().await;
    db.drop_db().await;
}

/// The session holding the leader's lock dies on its own (terminated by an operator, cut by the
/// network) while the leader's other connections work: within seconds exactly one server leads
/// again, never both, and bookings on either are still projected.
#[tokio::test]
async fn when_the_lock_session_dies_one_server_leads_again() {
    let (a, b) = two_servers().await;
    let leaders = |a: &TestApp, b: &TestApp| {
        [a, b]
            .iter()
            .filter(|app| app.server.state.projections.leading())
            .count()
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while leaders(&a, &b) != 1 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(leaders(&a, &b), 1, "one leader before");
    let pool = a.server.state.read.pool().clone();
    let key = projections::runner::LEADER_LOCK;
    let terminated: i64 = sqlx::query_scalar(
        "SELECT count(pg_terminate_backend(pid))::bigint FROM pg_locks \
         WHERE locktype = 'advisory' AND granted AND classid::bigint = $1 AND objid::bigint = $2 \
         AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
    )
    .bind(key >> 32)
    .bind(key & 0xffff_ffff)
    .fetch_one(&pool)
    .await
    .expect("terminate the lock's session");
    assert_eq!(terminated, 1, "one session held the lock");
    // The old leader notices within LEADER_CHECK; someone takes the lock again.
    let started = std::time::Instant::now();
    let mut stable = 0;
    while started.elapsed() < Duration::from_secs(15) && stable < 20 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let held: i64 = sqlx::query_scalar(
            "SELECT count(*)::bigint FROM pg_locks WHERE locktype = 'advisory' AND granted \
             AND classid::bigint = $1 AND objid::bigint = $2 \
             AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        )
        .bind(key >> 32)
        .bind(key & 0xffff_ffff)
        .fetch_one(&pool)
        .await
        .expect("pg_locks");
        stable = if held == 1 && leaders(&a, &b) == 1 {
            stable + 1
        } else {
            0
        };
    }
    assert_eq!(
        stable,
        20,
        "after {:?}: one lock holder and one leading server for 2 s (leading: {})",
        started.elapsed(),
        leaders(&a, &b)
    );
    // Both still book, and the leader projects both servers' bookings.
    let service = a.service_id("Retwist").await;
    for (i, app) in [&a, &b].into_iter().enumerate() {
        let stylist = TestApp::stylist_id(["Amara Diallo", "Keisha Brown"][i]);
        let slot = app.first_slot(&service, &stylist).await;
        let body = booking_body(
            &service,
            &stylist,
            slot["start"].as_str().expect("start"),
            &format!("After terminate {i}"),
        );
        let (status, booking) = app
            .post_booking(&body, Some(&format!("cluster-terminate-{i}")))
            .await;
        assert_eq!(status, 201, "{booking}");
        let token = app
            .token(
                &format!("cluster-terminate-{i}"),
                domain::token::Scope::Read,
            )
            .await;
        let shown = visible(app, &token, booking["id"].as_str().expect("id")).await;
        assert_eq!(shown["status"], "confirmed");
    }
    let TestApp { server, db, .. } = a;
    server.shutdown().await.expect("stop A");
    b.stop().await;
    db.drop_db().await;
}
