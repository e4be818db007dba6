//! Operations over HTTP: `/metrics` (counts move with requests and commands, projection lag and
//! calendar staleness are there, the optional bearer token is enforced) and the filtered event
//! log `GET /api/v1/events` (several types, recorded range, actor, aggregate, position), on both
//! stores.

use domain::token::Scope;
use migrations::Backend;
use serde_json::{json, Value};
use tests::{booking_body, ScratchDb, TestApp};

/// The value of the sample named exactly `series` (name and labels), if present.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

async fn scrape(app: &TestApp) -> String {
    let r = app.get("/metrics").await;
    assert_eq!(r.status().as_u16(), 200);
    let ct = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    assert!(ct.starts_with("text/plain; version=0.0.4"), "{ct}");
    r.text().await.expect("body")
}

#[tokio::test]
async fn metrics_count_requests_commands_and_show_lag_and_staleness() {
    let app = TestApp::spawn_with(ScratchDb::new(Backend::Sqlite).await, |c| {
        c.calendar_schedule = false;
    })
    .await;
    let services =
        "salon_http_requests_total{method=\"GET\",route=\"/api/v1/services\",status=\"200\"}";
    let latency =
        "salon_http_request_duration_seconds_count{method=\"GET\",route=\"/api/v1/services\"}";
    let committed = "salon_commands_total{aggregate=\"Booking\",outcome=\"committed\"}";
    let before = scrape(&app).await;
    let base_requests = sample(&before, services).unwrap_or(0.0);
    let base_latency = sample(&before, latency).unwrap_or(0.0);
    let base_bookings = sample(&before, committed).unwrap_or(0.0);
    let base_days = sample(
        &before,
        "salon_commands_total{aggregate=\"StylistDay\",outcome=\"committed\"}",
    )
    .unwrap_or(0.0);
    for _ in 0..3 {
        assert_eq!(app.get("/api/v1/services").await.status().as_u16(), 200);
    }
    // A path with an id is counted under its route pattern, never its raw path.
    let missing = format!("/api/v1/services/{}", uuid::Uuid::new_v4());
    assert_eq!(app.get(&missing).await.status().as_u16(), 404);
    let service = app.service_id("Retwist").await;
    let stylist = TestApp::stylist_id("Amara Diallo");
    let slot = app.first_slot(&service, &stylist).await;
    let (s, b) = app
        .post_booking(
            &booking_body(
                &service,
                &stylist,
                slot["start"].as_str().unwrap(),
                "Metric",
            ),
            None,
        )
        .await;
    assert_eq!(s, 201, "{b}");
    // The same slot again: the day refuses it.
    let (s, _) = app
        .post_booking(
            &booking_body(&service, &stylist, slot["start"].as_str().unwrap(), "Late"),
            None,
        )
        .await;
    assert_eq!(s, 409);

    let write = app.token("ops", Scope::Write).await;
    let r = app
        .http
        .post(app.url("/api/v1/calendar-sources"))
        .bearer_auth(&write)
        .json(
            &json!({"kind": "caldav", "name": "Amara's iCloud", "url": "http://127.0.0.1:9/dav/",
                      "stylist": stylist}),
        )
        .send()
        .await
        .expect("POST source");
    assert_eq!(r.status().as_u16(), 201);
    let source: Value = r.json().await.expect("source");
    let source_id = source["id"].as_str().expect("id").to_string();

    let after = scrape(&app).await;
    assert_eq!(
        sample(&after, services),
        Some(base_requests + 3.0),
        "{after}"
    );
    assert_eq!(sample(&after, latency), Some(base_latency + 3.0));
    assert_eq!(
        sample(
            &after,
            "salon_http_requests_total{method=\"GET\",route=\"/api/v1/services/{id}\",status=\"404\"}"
        ),
        Some(1.0),
        "{after}"
    );
    assert!(!after.contains(&missing), "raw paths never become labels");
    assert_eq!(
        sample(
            &after,
            "salon_http_requests_total{method=\"POST\",route=\"/api/v1/bookings\",status=\"409\"}"
        ),
        Some(1.0)
    );
    assert_eq!(sample(&after, committed), Some(base_bookings + 1.0));
    // The booking commits the stylist's day and the booking together: both counted.
    assert_eq!(
        sample(
            &after,
            "salon_commands_total{aggregate=\"StylistDay\",outcome=\"committed\"}"
        ),
        Some(base_days + 1.0),
        "{after}"
    );
    assert!(after.contains("# TYPE salon_command_conflicts_total counter"));
    assert!(after.contains("# TYPE salon_http_request_duration_seconds histogram"));

    // Projections: every one listed with its checkpoint and lag, against the head.
    let head = sample(&after, "salon_log_head_position").expect("head");
    assert!(head > 10.0);
    for p in projections::Projection::ALL {
        let cp = sample(
            &after,
            &format!(
                "salon_projection_checkpoint_position{{projection=\"{}\"}}",
                p.name()
            ),
        )
        .unwrap_or_else(|| panic!("{} missing:\n{after}", p.name()));
        let lag = sample(
            &after,
            &format!("salon_projection_lag_events{{projection=\"{}\"}}", p.name()),
        )
        .expect("lag");
        assert!(cp <= head && lag >= 0.0, "{}: {cp} {lag}", p.name());
    }
    let staleness = sample(
        &after,
        &format!("salon_calendar_sync_staleness_seconds{{source=\"{source_id}\",kind=\"caldav\"}}"),
    )
    .unwrap_or_else(|| panic!("staleness of the new source missing:\n{after}"));
    assert!((0.0..60.0).contains(&staleness), "{staleness}");
    assert!(after.contains("# TYPE salon_outbox_pending gauge"));
    assert_eq!(sample(&after, "salon_store_up"), Some(1.0));
    assert_eq!(sample(&after, "salon_projections_leader"), Some(1.0));
    assert!(!after.contains(&write), "no secret in the metrics");
    app.stop().await;
}

#[tokio::test]
async fn metrics_token_is_required_when_set() {
    let app = TestApp::spawn_with(ScratchDb::new(Backend::Sqlite).await, |c| {
        c.metrics_token = api::metrics::MetricsToken::new("m3trics-s3cret");
    })
    .await;
    let r = app.get("/metrics").await;
    assert_eq!(r.status().as_u16(), 401);
    assert!(r.headers().contains_key("www-authenticate"));
    assert_eq!(
        r.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/problem+json")
    );
    for wrong in ["m3trics-s3cre", "m3trics-s3cret2", ""] {
        let r = app
            .http
            .get(app.url("/metrics"))
            .bearer_auth(wrong)
            .send()
            .await
            .expect("GET");
        assert_eq!(r.status().as_u16(), 401, "{wrong:?}");
    }
    let r = app
        .http
        .get(app.url("/metrics"))
        .bearer_auth("m3trics-s3cret")
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status().as_u16(), 200);
    let text = r.text().await.expect("text");
    // The refused scrapes were counted too.
    assert_eq!(
        sample(
            &text,
            "salon_http_requests_total{method=\"GET\",route=\"/metrics\",status=\"401\"}"
        ),
        Some(4.0),
        "{text}"
    );
    app.stop().await;
}

async fn events(app: &TestApp, token: &str, query: &str) -> (u16, Value) {
    let a = app
        .call(
            reqwest::Method::GET,
            &format!("/api/v1/events?limit=1000&{query}"),
            Some(token),
            None,
            &[],
        )
        .await;
    (a.status, a.body)
}

fn types(body: &Value) -> Vec<String> {
    body["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|e| e["event_type"].as_str().unwrap_or("").to_string())
        .collect()
}

async fn filtered_event_list(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.token("history", Scope::Read).await;
    let service = app.service_id("Retwist").await;
    let stylist = TestApp::stylist_id("Amara Diallo");
    let slot = app.first_slot(&service, &stylist).await;
    let (s, booking) = app
        .post_booking(
            &booking_body(
                &service,
                &stylist,
                slot["start"].as_str().unwrap(),
                "Filter",
            ),
            None,
        )
        .await;
    assert_eq!(s, 201, "{booking}");
    let booking_id = booking["id"].as_str().unwrap().to_string();
    let all = tests::events_eventually(&app.server.state.read, 1).await;
    // The booking's events are written together; wait until they are listed.
    let mut body = Value::Null;
    for _ in 0..200 {
        let (s, b) = events(&app, &token, "type=BookingRequested,BookingConfirmed").await;
        assert_eq!(s, 200, "{b}");
        if b["count"] == 2 {
            body = b;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert_eq!(
        types(&body),
        ["BookingRequested", "BookingConfirmed"],
        "{body}"
    );
    // One type is still one type.
    let (_, b) = events(&app, &token, "type=StylistHired").await;
    assert_eq!(b["count"], 3);
    // Aggregate type and id.
    let (_, b) = events(
        &app,
        &token,
        &format!("aggregate_type=Booking&aggregate_id={booking_id}"),
    )
    .await;
    assert_eq!(types(&b), ["BookingRequested", "BookingConfirmed"]);
    // Actor: the demo was seeded by the system, the token by the owner.
    let (_, b) = events(&app, &token, "actor=owner&type=TokenCreated").await;
    assert_eq!(b["count"], 1, "{b}");
    let (_, b) = events(&app, &token, "actor=client").await;
    assert!(b["results"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["metadata"]["actor"] == "client"));
    assert!(b["count"].as_u64().unwrap() >= 2);

    // Recorded range: from the booking's first event on (inclusive), and up to it (exclusive).
    let (_, b) = events(&app, &token, &format!("aggregate_id={booking_id}")).await;
    let first = &b["results"][0];
    let at = first["metadata"]["recorded_at"]
        .as_str()
        .unwrap()
        .to_string();
    let position = first["position"].as_i64().unwrap();
    let enc = at.replace('+', "%2B");
    let (s, b) = events(&app, &token, &format!("from={enc}")).await;
    assert_eq!(s, 200, "{b}");
    let from_positions: Vec<i64> = b["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["position"].as_i64().unwrap())
        .collect();
    assert!(from_positions.contains(&position), "from is inclusive");
    let (_, b) = events(&app, &token, &format!("to={enc}")).await;
    assert!(
        b["results"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["position"].as_i64().unwrap() != position),
        "to is exclusive"
    );
    let listed = b["count"].as_u64().unwrap() as usize + from_positions.len();
    assert!(listed >= all.len(), "from and to split the log: {listed}");
    // Both ends, and a position range, together.
    let later = chrono::DateTime::parse_from_rfc3339(&at).unwrap() + chrono::Duration::hours(1);
    let (_, b) = events(
        &app,
        &token,
        &format!(
            "from={enc}&to={}&position__lte={position}&type=BookingRequested",
            later.to_rfc3339().replace('+', "%2B")
        ),
    )
    .await;
    assert_eq!(b["count"], 1, "{b}");
    assert_eq!(b["results"][0]["position"], position);

    // Streamed: the whole filtered log as NDJSON, and as CSV parsed back, the same events.
    let listed: Vec<Value> = {
        let (_, b) = events(&app, &token, "type=StylistHired,ServiceCreated").await;
        b["results"].as_array().unwrap().clone()
    };
    assert_eq!(listed.len(), 9);
    let r = app
        .http
        .get(app.url("/api/v1/events?format=ndjson&type=StylistHired,ServiceCreated"))
        .bearer_auth(&token)
        .header("Accept", "application/x-ndjson")
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(
        r.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/x-ndjson")
    );
    let text = r.text().await.unwrap();
    let streamed: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(streamed, listed);
    let r = app
        .http
        .get(app.url("/api/v1/events?format=csv&type__in=StylistHired,ServiceCreated"))
        .bearer_auth(&token)
        .header("Accept", "text/csv")
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status().as_u16(), 200);
    let bytes = r.bytes().await.unwrap();
    let mut reader = csv::Reader::from_reader(bytes.as_ref());
    assert_eq!(
        reader.headers().unwrap().iter().collect::<Vec<_>>(),
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
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), listed.len());
    for (row, e) in rows.iter().zip(&listed) {
        assert_eq!(
            row[0].parse::<i64>().unwrap(),
            e["position"].as_i64().unwrap()
        );
        assert_eq!(&row[4], e["event_type"].as_str().unwrap());
        let payload: Value = serde_json::from_str(&row[6]).unwrap();
        assert_eq!(payload, e["payload"]);
    }
    // Past one page (1000 rows a query): 1100 more tokens, then the whole log streamed over
    // HTTP and exported in process, filtered and not; each page picks up where the last ended.
    let meta = domain::metadata::EventMetadata::new("owner", domain::metadata::Source::Cli);
    for i in 0..1100 {
        app.server
            .state
            .bus
            .create_token(&format!("bulk-{i}"), Scope::Read, &meta)
            .await
            .expect("token");
    }
    let total = tests::events_eventually(&app.server.state.read, all.len() + 1100)
        .await
        .len();
    let stream = |query: &'static str| {
        let app = &app;
        let token = token.clone();
        async move {
            let r = app
                .http
                .get(app.url(&format!("/api/v1/events?format=ndjson{query}")))
                .bearer_auth(&token)
                .send()
                .await
                .expect("GET");
            assert_eq!(r.status().as_u16(), 200);
            r.text()
                .await
                .unwrap()
                .lines()
                .map(|l| {
                    serde_json::from_str::<Value>(l).expect("JSON")["position"]
                        .as_i64()
                        .unwrap()
                })
                .collect::<Vec<i64>>()
        }
    };
    let everything = stream("").await;
    assert_eq!(everything.len(), total);
    assert!(
        everything.windows(2).all(|w| w[0] < w[1]),
        "in log order, once each"
    );
    let tokens = stream("&type=TokenCreated").await;
    assert_eq!(tokens.len(), 1101);
    for (filter, expected) in [
        (projections::log::LogFilter::default(), &everything),
        (
            projections::log::LogFilter {
                event_types: vec!["TokenCreated".into()],
                ..Default::default()
            },
            &tokens,
        ),
    ] {
        let mut out = Vec::new();
        let n = salon::export::export(
            &app.server.state.read,
            salon::export::Format::Ndjson,
            0,
            &filter,
            &mut out,
        )
        .await
        .expect("export");
        let exported: Vec<i64> = String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| {
                serde_json::from_str::<Value>(l).unwrap()["position"]
                    .as_i64()
                    .unwrap()
            })
            .collect();
        assert_eq!(n as usize, exported.len());
        assert_eq!(&exported, expected, "{filter:?}");
    }

    // Bad filters: problem+json naming the parameter.
    for (query, field) in [
        ("from=yesterday", "from"),
        ("to=2027-13-01T00:00:00Z", "to"),
        ("type=,", "type"),
        ("position__gt=x", "position__gt"),
        ("colour=red", "colour"),
        ("format=xml", "format"),
        ("format=csv&limit=5", "limit"),
    ] {
        let a = app
            .call(
                reqwest::Method::GET,
                &format!("/api/v1/events?{query}"),
                Some(&token),
                None,
                &[],
            )
            .await;
        assert!(matches!(a.status, 400 | 422), "{query}: {}", a.status);
        assert_eq!(a.header("content-type"), "application/problem+json");
        assert_eq!(a.error_fields(), [field], "{query}: {}", a.body);
    }
    app.stop().await;
}

#[tokio::test]
async fn event_list_filters_on_sqlite() {
    filtered_event_list(Backend::Sqlite).await;
}

#[tokio::test]
async fn event_list_filters_on_postgres() {
    filtered_event_list(Backend::Postgres).await;
}
