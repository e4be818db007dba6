//! The OpenAPI document (`GET /api/v1/openapi.json`) against the running app:
//!
//! - every route the API's routers declare (`api/src/routes/*.rs`, read from the source, so a
//!   new route cannot slip past) is in the document, and every documented operation answers
//!   something other than "no such route", with a status and content type the document lists;
//! - the document is valid OpenAPI 3.1 (`openapi-spec-validator`, which must also refuse a
//!   broken copy);
//! - Swagger UI at `/api/docs` is served from the binary, with no external URL;
//! - a property-based fuzz generated from the document (schemathesis) finds no 5xx and no answer
//!   the document does not describe (status, content type, body schema) — and does notice a
//!   response that contradicts a doctored copy of the document.
//!
//! The Python tools come from the test virtualenv (`scripts/test.sh`, `ensure_python_tools`).

use domain::token::Scope;
use migrations::Backend;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tests::{venv_tool, ScratchDb, TestApp};

const NIL: &str = "00000000-0000-0000-0000-000000000000";
const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

async fn document(app: &TestApp) -> Value {
    let r = app.get("/api/v1/openapi.json").await;
    assert_eq!(r.status().as_u16(), 200);
    let content_type = r.headers()["content-type"].to_str().unwrap().to_string();
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    r.json().await.expect("the document is JSON")
}

/// A scratch folder for files handed to the Python tools.
fn scratch_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("salon-openapi-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// `(method, path)` of every `.route("…", get(…).post(…))` in the API's route modules.
fn declared_routes() -> BTreeSet<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../api/src/routes");
    let mut routes = BTreeSet::new();
    for entry in std::fs::read_dir(&dir).expect("api/src/routes") {
        let path = entry.expect("entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("rs") {
            continue;
        }
        let source = std::fs::read_to_string(&path).expect("read a route module");
        let mut rest = source.as_str();
        while let Some(at) = rest.find(".route(") {
            rest = &rest[at + ".route(".len()..];
            // The call's arguments, up to its closing parenthesis.
            let mut depth = 1;
            let end = rest
                .char_indices()
                .find(|&(_, c)| {
                    depth += match c {
                        '(' => 1,
                        ')' => -1,
                        _ => 0,
                    };
                    depth == 0
                })
                .map(|(i, _)| i)
                .expect("a closed .route(");
            let args = &rest[..end];
            let route = args
                .split('"')
                .nth(1)
                .unwrap_or_else(|| panic!("a literal path in {}: {args}", path.display()));
            let mut found = false;
            for method in METHODS {
                let call = format!("{method}(");
                let mut from = 0;
                while let Some(i) = args[from..].find(&call) {
                    let i = from + i;
                    let before = args[..i].chars().last().unwrap_or(' ');
                    if !(before.is_alphanumeric() || before == '_') {
                        routes.insert((method.to_string(), route.to_string()));
                        found = true;
                    }
                    from = i + call.len();
                }
            }
            assert!(found, "no method found for {route} in {}", path.display());
            rest = &rest[end..];
        }
    }
    routes
}

/// Does a documented path (`/calendar/{stylist}.ics`) fall under a router path
/// (`/calendar/{file}`)? A router's `{param}` takes one whole segment.
fn route_matches(route: &str, documented: &str) -> bool {
    let (r, d): (Vec<_>, Vec<_>) = (route.split('/').collect(), documented.split('/').collect());
    r.len() == d.len()
        && r.iter()
            .zip(&d)
            .all(|(r, d)| r == d || (r.starts_with('{') && r.ends_with('}') && !d.is_empty()))
}

fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in METHODS {
            if let Some(op) = item.get(method) {
                out.push((method.to_string(), path.clone(), op.clone()));
            }
        }
    }
    out
}

/// A value for a parameter: its example, else something of its type.
fn sample(param: &Value) -> String {
    let example = param
        .get("example")
        .or_else(|| param["schema"].get("example"))
        .or_else(|| param["schema"]["examples"].get(0));
    match example {
        Some(Value::String(s)) => s.clone(),
        Some(v) if !v.is_null() => v.to_string(),
        _ => match param["schema"]["format"].as_str() {
            Some("uuid") => NIL.to_string(),
            Some("date") => "2027-03-16".to_string(),
            _ => "x".to_string(),
        },
    }
}

/// Percent-encodes a query component.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// How the walk below asks.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Probe {
    Proper,
    BadPathParameter,
    RepeatedQuery(String),
    BodyTooLarge,
}

#[tokio::test]
async fn every_route_is_documented_and_every_documented_operation_answers_as_documented() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let doc = document(&app).await;
    let ops = operations(&doc);

    // Every route the routers declare is documented with the same method.
    let declared = declared_routes();
    assert!(declared.len() >= 30, "only {} routes found", declared.len());
    let mut missing = Vec::new();
    for (method, route) in &declared {
        if !ops
            .iter()
            .any(|(m, p, _)| m == method && route_matches(route, p))
        {
            missing.push(format!("{} {route}", method.to_uppercase()));
        }
    }
    assert!(
        missing.is_empty(),
        "routes missing from the document: {missing:?}"
    );
    // … and the document describes nothing the routers do not declare (beyond the document).
    let mut unknown = Vec::new();
    for (method, path, _) in &ops {
        if path != "/api/v1/openapi.json"
            && !declared
                .iter()
                .any(|(m, r)| m == method && route_matches(r, path))
        {
            unknown.push(format!("{} {path}", method.to_uppercase()));
        }
    }
    assert!(unknown.is_empty(), "documented but not routed: {unknown:?}");

    // Every documented operation is routed and answers with a documented status and content
    // type: asked properly (with sample parameters), and asked badly (a path parameter that is
    // not UTF-8, a query parameter given twice, a body over the 64 KiB limit), since the
    // extractors answer those before any handler runs.
    let token = app.token("openapi-walk", Scope::Write).await;
    let mut wrong = Vec::new();
    for (method, path, op) in &ops {
        let params = op["parameters"].as_array().cloned().unwrap_or_default();
        let mut probes = vec![Probe::Proper];
        if params.iter().any(|p| p["in"] == "path") {
            probes.push(Probe::BadPathParameter);
        }
        if let Some(name) = params
            .iter()
            .find(|p| p["in"] == "query")
            .and_then(|p| p["name"].as_str())
        {
            probes.push(Probe::RepeatedQuery(name.to_string()));
        }
        if op.get("requestBody").is_some() {
            probes.push(Probe::BodyTooLarge);
        }
        for probe in probes {
            let mut url = path.clone();
            let mut query = Vec::new();
            let mut headers = Vec::new();
            let mut bad_path_done = false;
            for p in &params {
                let name = p["name"].as_str().expect("a parameter's name");
                match p["in"].as_str() {
                    Some("path") => {
                        let value = if probe == Probe::BadPathParameter && !bad_path_done {
                            bad_path_done = true;
                            "%FF".to_string()
                        } else {
                            sample(p)
                        };
                        url = url.replace(&format!("{{{name}}}"), &value)
                    }
                    Some("query")
                        if p["required"] == json!(true)
                            || probe == Probe::RepeatedQuery(name.to_string()) =>
                    {
                        query.push((name.to_string(), sample(p)));
                        if probe == Probe::RepeatedQuery(name.to_string()) {
                            query.push((name.to_string(), sample(p)));
                        }
                    }
                    Some("header") if p["required"] == json!(true) => {
                        headers.push((name.to_string(), sample(p)))
                    }
                    _ => {}
                }
            }
            assert!(!url.contains('{'), "unfilled parameter in {url}");
            if !query.is_empty() {
                let pairs: Vec<String> = query
                    .iter()
                    .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
                    .collect();
                url = format!("{url}?{}", pairs.join("&"));
            }
            let mut request = app
                .http
                .request(
                    method.to_uppercase().parse().expect("method"),
                    app.url(&url),
                )
                .bearer_auth(&token)
                .timeout(Duration::from_secs(10));
            for (name, value) in headers {
                request = request.header(name, value);
            }
            // Picture uploads take their bytes (up to 5 MiB), not JSON: too large is more.
            let binary = op["requestBody"]["content"]
                .get("application/json")
                .is_none();
            if probe == Probe::BodyTooLarge && binary {
                request = request
                    .header("content-type", "application/octet-stream")
                    .body(vec![0u8; 5 * 1024 * 1024 + 1]);
            } else if probe == Probe::BodyTooLarge {
                request = request.json(&json!({ "notes": "n".repeat(70 * 1024) }));
            } else if op.get("requestBody").is_some() {
                request = request.json(&json!({}));
            }
            let response = request.send().await.expect("send");
            let status = response.status().as_u16();
            let content_type = response
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string();
            let what = format!("{} {url} ({probe:?})", method.to_uppercase());
            let expected = match probe {
                Probe::Proper => None,
                Probe::BadPathParameter | Probe::RepeatedQuery(_) => Some(400),
                Probe::BodyTooLarge => Some(413),
            };
            if expected.is_some_and(|e| e != status) {
                wrong.push(format!("{what}: {status}, expected {expected:?}"));
            }
            let documented = &op["responses"][status.to_string()];
            if documented.is_null() {
                wrong.push(format!("{what}: {status} is not documented"));
                continue;
            }
            // Reusable responses are references.
            let documented = match documented["$ref"].as_str() {
                Some(r) => &doc["components"]["responses"][r.rsplit('/').next().unwrap_or("")],
                None => documented,
            };
            if let Some(content) = documented["content"].as_object() {
                let media = content_type.split(';').next().unwrap_or("").trim();
                if !content.contains_key(media) {
                    wrong.push(format!(
                        "{what}: {status} came as {content_type:?}, documented as {:?}",
                        content.keys().collect::<Vec<_>>()
                    ));
                }
            }
            if content_type.starts_with("text/event-stream") {
                continue; // endless: the headers are the answer
            }
            let body = response.text().await.unwrap_or_default();
            if status == 404 && body.contains("No route for") || status == 405 {
                wrong.push(format!("{what}: not routed ({status}: {body})"));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    app.stop().await;
}

#[tokio::test]
async fn the_document_is_valid_openapi_3_1() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let doc = document(&app).await;
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"],
        json!({"type": "http", "scheme": "bearer", "description": doc["components"]["securitySchemes"]["bearer"]["description"]})
    );
    let ids: Vec<_> = operations(&doc)
        .iter()
        .map(|(_, _, op)| op["operationId"].as_str().expect("operationId").to_string())
        .collect();
    assert_eq!(
        ids.len(),
        ids.iter().collect::<BTreeSet<_>>().len(),
        "operation ids must be unique"
    );

    let dir = scratch_dir();
    let good = dir.join("openapi.json");
    std::fs::write(&good, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
    // A copy the validator must refuse, so a validator that accepts anything fails this test.
    let mut broken = doc.clone();
    broken["paths"]["/healthz"]["get"]["responses"]["200"] = json!({"content": "nothing"});
    let bad = dir.join("broken.json");
    std::fs::write(&bad, serde_json::to_vec_pretty(&broken).unwrap()).unwrap();

    let started = Instant::now();
    let validate = |file: &Path| {
        std::process::Command::new(venv_tool("openapi-spec-validator"))
            .args(["--schema", "3.1"])
            .arg(file)
            .output()
            .expect("run openapi-spec-validator")
    };
    let ok = validate(&good);
    let refused = validate(&bad);
    eprintln!(
        "openapi-spec-validator: {:?} for both files",
        started.elapsed()
    );
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        ok.status.success(),
        "the document is not valid OpenAPI 3.1:\n{}{}",
        String::from_utf8_lossy(&ok.stdout),
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(
        !refused.status.success(),
        "the validator accepted a broken document:\n{}",
        String::from_utf8_lossy(&refused.stdout)
    );
    app.stop().await;
}

#[tokio::test]
async fn swagger_ui_is_served_from_the_binary() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let r = app.get("/api/docs").await; // redirects to /api/docs/
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.url().path(), "/api/docs/");
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let html = r.text().await.unwrap();
    assert!(html.contains("swagger-ui"), "{html}");
    // Every src/href is local; nothing points at another host.
    let mut assets = Vec::new();
    for attr in ["src=\"", "href=\""] {
        for part in html.split(attr).skip(1) {
            let url = part.split('"').next().unwrap_or("");
            assert!(
                !url.contains("://") && !url.starts_with("//"),
                "external URL in /api/docs: {url}"
            );
            assets.push(url.trim_start_matches("./").to_string());
        }
    }
    for needed in [
        "swagger-ui.css",
        "swagger-ui-bundle.js",
        "swagger-initializer.js",
    ] {
        assert!(
            assets.iter().any(|a| a == needed),
            "{needed} not in {assets:?}"
        );
    }
    for asset in &assets {
        let r = app.get(&format!("/api/docs/{asset}")).await;
        assert_eq!(r.status().as_u16(), 200, "{asset}");
        let content_type = r.headers()["content-type"].to_str().unwrap().to_string();
        let body = r.bytes().await.unwrap();
        assert!(!body.is_empty(), "{asset} is empty");
        if asset.ends_with(".js") {
            assert!(
                content_type.contains("javascript"),
                "{asset}: {content_type}"
            );
        } else if asset.ends_with(".css") {
            assert!(
                content_type.starts_with("text/css"),
                "{asset}: {content_type}"
            );
        }
        if asset == "swagger-initializer.js" {
            let js = String::from_utf8_lossy(&body);
            assert!(js.contains("/api/v1/openapi.json"), "{js}");
            // No spec is sent to swagger.io's online validator.
            assert!(js.contains("\"validatorUrl\": \"none\""), "{js}");
            assert!(!js.contains("://"), "external URL in the initializer: {js}");
        }
    }
    app.stop().await;
}

/// Runs schemathesis against the app, in `dir` (where it keeps its cache of past failures, so
/// no run replays another's); `(success, output, elapsed)`.
async fn schemathesis(dir: &Path, args: &[String], limit: Duration) -> (bool, String, Duration) {
    let started = Instant::now();
    let child = tokio::process::Command::new(venv_tool("schemathesis"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start schemathesis");
    let output = tokio::time::timeout(limit, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("schemathesis ran longer than {limit:?}"))
        .expect("schemathesis output");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text, started.elapsed())
}

/// Real data for the fuzz to work on, as a schemathesis configuration: two bookings (one to
/// cancel, one for every other change) and a token to revoke, so that revoking never hits the
/// fuzz's own token (which `GET /api/v1/tokens` shows it).
async fn fuzz_config(app: &TestApp) -> String {
    let service = app.service_id("Retwist").await;
    let mut bookings = Vec::new();
    for stylist in ["Amara Diallo", "Keisha Brown"] {
        let stylist = TestApp::stylist_id(stylist);
        let slot = app.first_slot(&service, &stylist).await;
        let body = tests::booking_body(
            &service,
            &stylist,
            slot["start"].as_str().unwrap(),
            "Fuzz Target",
        );
        let (status, booking) = app.post_booking(&body, None).await;
        assert_eq!(status, 201, "{booking}");
        let link = booking["manage_url"].as_str().expect("manage_url");
        let link_token = link
            .split("token=")
            .nth(1)
            .expect("the link's token")
            .to_string();
        bookings.push((booking["id"].as_str().unwrap().to_string(), link_token));
    }
    let victim = app.token("fuzz-victim", Scope::Read).await;
    let (status, tokens) = {
        let r = app
            .http
            .get(app.url("/api/v1/tokens?search=fuzz-victim"))
            .bearer_auth(&victim)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json::<Value>().await.unwrap())
    };
    assert_eq!(status, 200, "{tokens}");
    let victim_id = tokens["results"][0]["id"]
        .as_str()
        .expect("the victim's id")
        .to_string();
    // A completed visit (a service without a deposit, so confirmed at once) for the client's
    // review link, the fuzz bookings' client, and a review to read, moderate and archive.
    let styling = app.service_id("Loc Styling").await;
    let keisha = TestApp::stylist_id("Keisha Brown");
    let slot = app.first_slot(&styling, &keisha).await;
    let body = tests::booking_body(
        &styling,
        &keisha,
        slot["start"].as_str().unwrap(),
        "Fuzz Target",
    );
    let (status, visit) = app.post_booking(&body, None).await;
    assert_eq!(status, 201, "{visit}");
    let visit_id = domain::ids::BookingId::parse(visit["id"].as_str().unwrap()).unwrap();
    let start = chrono::DateTime::parse_from_rfc3339(visit["start"].as_str().unwrap())
        .unwrap()
        .with_timezone(&chrono::Utc);
    let setup = domain::metadata::EventMetadata::new("owner", domain::metadata::Source::Cli);
    app.server
        .state
        .bus
        .change_booking(
            visit_id,
            domain::booking::BookingCommand::Complete {
                now: start + chrono::Duration::hours(2),
            },
            &setup,
        )
        .await
        .expect("complete the visit");
    let review_token = app.server.state.links.sign_review(visit_id);
    let client_id = domain::ids::ClientId::for_email(
        &domain::values::Email::parse("client@example.com").unwrap(),
    );
    let text = domain::review::ReviewText {
        rating: 4,
        text: "Lovely".into(),
        display_name: "Fuzz".into(),
    };
    let reviewed = commands::reviews::Reviewed::Stylist {
        stylist: domain::ids::StylistId::parse(&keisha).unwrap(),
        service: None,
    };
    let (_, review_id) = app
        .server
        .state
        .bus
        .submit_review(reviewed, text, &setup)
        .await
        .expect("a review");
    format!(
        r#"
[[operations]]
include-operation-id = "revoke_token"
parameters = {{ "path.id" = "{victim_id}" }}

[[operations]]
include-operation-id = "review_booking"
parameters = {{ "path.id" = "{visit_id}", "query.token" = "{review_token}" }}

[[operations]]
include-operation-id = ["get_client", "update_client", "delete_client"]
parameters = {{ "path.id" = "{client_id}" }}

[[operations]]
include-operation-id = ["get_review", "update_review", "delete_review"]
parameters = {{ "path.id" = "{review_id}" }}

[[operations]]
include-operation-id = ["get_booking", "manage_booking", "reschedule_booking", "booking_checkout", "mark_no_show", "complete_booking"]
parameters = {{ "path.id" = "{}", "query.token" = "{}" }}

[[operations]]
include-operation-id = "cancel_booking"
parameters = {{ "path.id" = "{}", "query.token" = "{}" }}
"#,
        bookings[0].0, bookings[0].1, bookings[1].0, bookings[1].1
    )
}

/// What every schemathesis run here checks.
const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fuzz_from_the_document_finds_no_server_error_and_no_undocumented_answer() {
    let stub = tests::stripe_stub::StripeStub::start().await;
    let backend = match std::env::var("SALON_FUZZ_STORE").as_deref() {
        Ok("postgres") => Backend::Postgres,
        _ => Backend::Sqlite,
    };
    let db = ScratchDb::new(backend).await;
    let stripe_base = stub.base.clone();
    let app = TestApp::spawn_with(db, move |config| {
        // Payments configured as in production (against the local stub), so deposits, checkout
        // and the webhook receiver answer as they would there.
        config.stripe = Some(commands::payments::StripeSettings {
            secret_key: "sk_test_stub".into(),
            webhook_secret: Some("whsec_fuzz".into()),
            api_base: Some(stripe_base),
            public_url: "http://site.test".into(),
        });
        config.collect_deposits = true;
        config.calendar_schedule = false;
    })
    .await;
    let token = app.token("fuzz", Scope::Write).await;
    let config = fuzz_config(&app).await;
    let dir = scratch_dir();
    let config_file = dir.join("schemathesis.toml");
    std::fs::write(&config_file, config).unwrap();
    let seed = std::env::var("SALON_FUZZ_SEED").ok();
    let mut args = vec![
        app.url("/api/v1/openapi.json"),
        "--url".into(),
        app.base.clone(),
        "--checks".into(),
        CHECKS.into(),
        "--header".into(),
        format!("Authorization: Bearer {token}"),
        "--max-examples".into(),
        std::env::var("SALON_FUZZ_EXAMPLES").unwrap_or_else(|_| "25".into()),
        "--request-timeout".into(),
        "10".into(),
        "--workers".into(),
        "2".into(),
        "--generation-database".into(),
        "none".into(),
        "--no-color".into(),
        // Not fuzzed: the alert stream never ends (a request would only time out); adding a
        // calendar source makes the server connect to whatever URL the fuzz made up, and this
        // machine may talk to no host but itself. Both are covered by their own tests.
        "--exclude-operation-id".into(),
        "event_stream".into(),
        "--exclude-operation-id".into(),
        "create_calendar_source".into(),
    ];
    if let Some(seed) = &seed {
        args.extend(["--seed".into(), seed.clone()]);
    }
    let mut args_with_config = vec![
        "--config-file".to_string(),
        config_file.display().to_string(),
        "run".into(),
    ];
    args_with_config.extend(args);
    let (ok, output, elapsed) =
        schemathesis(&dir, &args_with_config, Duration::from_secs(110)).await;
    eprintln!("schemathesis took {elapsed:?}\n{output}");
    assert!(ok, "the fuzz found problems (rerun with SALON_FUZZ_SEED=<the seed above> to reproduce):\n{output}");
    // It really ran: "Test cases: N generated, N passed".
    let generated: usize = output
        .split("Test cases:")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(
        generated >= 500,
        "only {generated} test cases ran:\n{output}"
    );
    // The fuzz's own token still works (it may not have revoked itself and gone on as 401s).
    let r = app
        .http
        .get(app.url("/api/v1/tokens"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status().as_u16(),
        200,
        "the fuzz's token was revoked mid-run"
    );

    // The same harness notices an answer that contradicts the document: a copy in which the
    // salon must have a field it never sends.
    let mut doctored = document(&app).await;
    let salon = &mut doctored["components"]["schemas"]["Salon"];
    salon["required"]
        .as_array_mut()
        .expect("Salon has required fields")
        .push(json!("opening_hours"));
    salon["properties"]["opening_hours"] = json!({"type": "string"});
    let file = dir.join("doctored.json");
    std::fs::write(&file, serde_json::to_vec(&doctored).unwrap()).unwrap();
    let control = vec![
        "run".into(),
        file.display().to_string(),
        "--url".into(),
        app.base.clone(),
        "--checks".into(),
        CHECKS.into(),
        "--max-examples".into(),
        "3".into(),
        "--generation-database".into(),
        "none".into(),
        "--no-color".into(),
        "--include-operation-id".into(),
        "get_salon".into(),
    ];
    let control_dir = dir.join("control");
    std::fs::create_dir_all(&control_dir).unwrap();
    let (ok, output, _) = schemathesis(&control_dir, &control, Duration::from_secs(60)).await;
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        !ok,
        "schemathesis missed a response that breaks the document:\n{output}"
    );
    assert!(
        output.contains("opening_hours"),
        "the control failed for another reason:\n{output}"
    );
    app.stop().await;
}
