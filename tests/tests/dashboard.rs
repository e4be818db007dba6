//! The partner's dashboard (issue 7, parts 3 and 4; the intake list of issue 5) against the
//! real app on both stores: login (right, wrong, throttled at the tenth wrong try, CSRF
//! missing or wrong), logout, the route sweep without a session, the live stream opened with
//! the dashboard's cookie, filters on the pages, each CSV export parsed back (quoting and the
//! formula guard included), and the intake list against a real `salon intake`.

use salon::intake::{self as intake_proc, IntakeConfig};
use serde_json::{json, Value};
use std::time::Duration;
use tests::browser::{client as browser, csrf_in, set_cookie, FormBody};
use tests::{booking_body, ScratchDb, TestApp, BACKENDS};

const PASSWORD: &str = "correct horse battery staple";
const INTAKE_TOKEN: &str = "dashboard-test-intake-token";

async fn spawn(
    backend: migrations::Backend,
    adjust: impl FnOnce(&mut salon::app::Config),
) -> TestApp {
    let db = ScratchDb::new(backend).await;
    TestApp::spawn_with(db, |c| {
        c.dashboard.password = web::dashboard::Password::new(PASSWORD);
        adjust(c);
    })
    .await
}

/// The login form's token and its cookie.
async fn login_form(app: &TestApp, http: &reqwest::Client) -> (String, String) {
    let r = http
        .get(app.url("/dashboard/login"))
        .send()
        .await
        .expect("GET login");
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["x-frame-options"],
        "DENY",
        "the login form cannot be framed"
    );
    assert!(r.headers()["content-security-policy"]
        .to_str()
        .expect("ascii")
        .contains("frame-ancestors 'none'"));
    let (cookie, _) = set_cookie(&r, "salon_dashboard_login").expect("login csrf cookie");
    let html = r.text().await.expect("html");
    assert!(html.contains(r#"<label for="password">Password</label>"#));
    (csrf_in(&html), cookie)
}

async fn post_login(
    app: &TestApp,
    http: &reqwest::Client,
    cookie: Option<&str>,
    csrf: Option<&str>,
    password: &str,
) -> reqwest::Response {
    let mut form = vec![("password", password)];
    if let Some(c) = csrf {
        form.push(("csrf", c));
    }
    let mut req = http.post(app.url("/dashboard/login")).form_body(&form);
    if let Some(c) = cookie {
        req = req.header("cookie", format!("salon_dashboard_login={c}"));
    }
    req.send().await.expect("POST login")
}

/// Logs in; returns the session cookie header value.
async fn log_in(app: &TestApp) -> String {
    let http = browser();
    let (csrf, cookie) = login_form(app, &http).await;
    let r = post_login(app, &http, Some(&cookie), Some(&csrf), PASSWORD).await;
    assert_eq!(r.status(), 303);
    let (session, _) = set_cookie(&r, "salon_dashboard").expect("session cookie");
    format!("salon_dashboard={session}")
}

async fn get_with(app: &TestApp, cookie: &str, path: &str) -> reqwest::Response {
    browser()
        .get(app.url(path))
        .header("cookie", cookie)
        .send()
        .await
        .expect("GET")
}

async fn page(app: &TestApp, cookie: &str, path: &str) -> String {
    let r = get_with(app, cookie, path).await;
    assert_eq!(r.status(), 200, "{path}");
    r.text().await.expect("html")
}

#[tokio::test]
async fn login_logout_wrong_passwords_throttle_and_csrf() {
    for backend in BACKENDS {
        let app = spawn(backend, |_| {}).await;
        let http = browser();

        // Right password: a session cookie with the promised attributes, then the overview.
        let (csrf, cookie) = login_form(&app, &http).await;
        let r = post_login(&app, &http, Some(&cookie), Some(&csrf), PASSWORD).await;
        assert_eq!(r.status(), 303);
        assert_eq!(r.headers()["location"], "/dashboard");
        let (session, raw) = set_cookie(&r, "salon_dashboard").expect("session cookie");
        assert_eq!(session.len(), 64);
        for attribute in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=43200"] {
            assert!(raw.contains(attribute), "{raw} lacks {attribute}");
        }
        assert!(
            !raw.contains("Secure"),
            "http public URL: no Secure ({raw})"
        );
        let session = format!("salon_dashboard={session}");
        let html = page(&app, &session, "/dashboard").await;
        assert!(html.contains("<h1>Overview</h1>"));

        // The session is in the database, hashed: the cookie's value is not stored.
        let stored: Vec<String> =
            sqlx::query_scalar::<_, String>("SELECT id_hash FROM web_sessions")
                .fetch_all(app.server.state.read.pool())
                .await
                .expect("sessions");
        assert_eq!(stored.len(), 1);
        assert!(!session.contains(&stored[0]));

        // Logout needs the session's CSRF token.
        let token = csrf_in(&html);
        let r = http
            .post(app.url("/dashboard/logout"))
            .header("cookie", &session)
            .form_body(&[("csrf", &"0".repeat(64))])
            .send()
            .await
            .expect("logout");
        assert_eq!(r.status(), 403);
        let r = http
            .post(app.url("/dashboard/logout"))
            .header("cookie", &session)
            .send()
            .await
            .expect("logout");
        assert_eq!(r.status(), 403);
        assert_eq!(get_with(&app, &session, "/dashboard").await.status(), 200);
        let r = http
            .post(app.url("/dashboard/logout"))
            .header("cookie", &session)
            .form_body(&[("csrf", token.as_str())])
            .send()
            .await
            .expect("logout");
        assert_eq!(r.status(), 303);
        assert_eq!(r.headers()["location"], "/dashboard/login");
        let r = get_with(&app, &session, "/dashboard").await;
        assert_eq!(r.status(), 303, "the session ended with the logout");

        // CSRF: missing token, missing cookie, or a token that is not the cookie's: refused,
        // and a right password does not get through that way.
        let (csrf, cookie) = login_form(&app, &http).await;
        let bogus = "a".repeat(64);
        for (c, t) in [
            (Some(cookie.as_str()), None),
            (None, Some(csrf.as_str())),
            (Some(cookie.as_str()), Some(bogus.as_str())),
        ] {
            let r = post_login(&app, &http, c, t, PASSWORD).await;
            assert_eq!(r.status(), 403);
            assert!(set_cookie(&r, "salon_dashboard").is_none());
            let text = r.text().await.expect("html");
            assert!(text.contains("This form has expired"), "{text}");
        }

        // Nine wrong passwords are answered 401 with words; the tenth is 429, and so is the
        // right password while the minute lasts.
        for i in 1..=9 {
            let r = post_login(&app, &http, Some(&cookie), Some(&csrf), "hunter2").await;
            assert_eq!(r.status(), 401, "wrong try {i}");
            assert!(r
                .text()
                .await
                .expect("html")
                .contains("That password is not right"));
        }
        let r = post_login(&app, &http, Some(&cookie), Some(&csrf), "hunter2").await;
        assert_eq!(r.status(), 429, "the tenth wrong try");
        let wait: u64 = r.headers()["retry-after"]
            .to_str()
            .expect("ascii")
            .parse()
            .expect("seconds");
        assert!((1..=60).contains(&wait));
        let text = r.text().await.expect("html");
        assert!(text.contains("Too many wrong passwords"), "{text}");
        assert!(text.contains("<h1>"));
        let r = post_login(&app, &http, Some(&cookie), Some(&csrf), PASSWORD).await;
        assert_eq!(r.status(), 429);
        app.stop().await;
    }
}

#[tokio::test]
async fn without_a_password_the_dashboard_never_opens() {
    let app = TestApp::spawn(migrations::Backend::Sqlite).await;
    let http = browser();
    let r = http
        .get(app.url("/dashboard/login"))
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status(), 503);
    let text = r.text().await.expect("html");
    assert!(text.contains("not configured"), "{text}");
    assert!(!text.contains("<form"));
    let r = post_login(&app, &http, None, None, "").await;
    assert_eq!(r.status(), 503);
    let r = http.get(app.url("/dashboard")).send().await.expect("GET");
    assert_eq!(r.status(), 303);
    let r = http
        .get(app.url("/dashboard/export/bookings.csv"))
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status(), 401);
    app.stop().await;
}

#[tokio::test]
async fn every_route_without_a_session_redirects_or_answers_401() {
    for backend in BACKENDS {
        let app = spawn(backend, |_| {}).await;
        let http = browser();
        let forged = format!("salon_dashboard={}", "f".repeat(64));
        for cookie in [
            None,
            Some(forged.as_str()),
            Some("salon_dashboard=nonsense"),
        ] {
            let get = |path: &str| {
                let mut r = http.get(app.url(path));
                if let Some(c) = cookie {
                    r = r.header("cookie", c);
                }
                r
            };
            for path in web::dashboard::PAGES {
                let r = get(path).send().await.expect("GET page");
                assert_eq!(r.status(), 303, "{path}");
                assert_eq!(r.headers()["location"], "/dashboard/login", "{path}");
                // The same page asked by htmx: 401 and where to go.
                let r = get(path)
                    .header("hx-request", "true")
                    .send()
                    .await
                    .expect("GET");
                assert_eq!(r.status(), 401, "{path} by htmx");
                assert_eq!(r.headers()["hx-redirect"], "/dashboard/login");
            }
            for path in web::dashboard::FRAGMENTS
                .iter()
                .chain(web::dashboard::EXPORTS)
            {
                let r = get(path).send().await.expect("GET");
                assert_eq!(r.status(), 401, "{path}");
                assert_eq!(r.headers()["hx-redirect"], "/dashboard/login");
            }
            let mut r = http
                .post(app.url("/dashboard/logout"))
                .form_body(&[("csrf", "x")]);
            if let Some(c) = cookie {
                r = r.header("cookie", c);
            }
            assert_eq!(r.send().await.expect("POST").status(), 303);
            // The live stream takes a token or the dashboard's session, nothing else.
            let mut r = http.get(app.url("/events/stream"));
            if let Some(c) = cookie {
                r = r.header("cookie", c);
            }
            assert_eq!(r.send().await.expect("stream").status(), 401);
        }
        // Assets are public (no data in them).
        let r = http
            .get(app.url("/dashboard/assets/htmx.min.js"))
            .send()
            .await
            .expect("GET");
        assert_eq!(r.status(), 200);
        app.stop().await;
    }
}

/// Books `n` appointments of `service` with `stylist` on consecutive free slots.
async fn book(app: &TestApp, service: &str, stylist: &str, names: &[&str]) -> Vec<Value> {
    let today = chrono::Utc::now().date_naive();
    let from = (today + chrono::Duration::days(2)).to_string();
    let to = (today + chrono::Duration::days(40)).to_string();
    let slots = app.slots(service, Some(stylist), &from, &to).await;
    let mut out = Vec::new();
    // Every third slot: no overlap whatever the service's length.
    for (name, slot) in names.iter().zip(slots.iter().step_by(6)) {
        let body = booking_body(
            service,
            stylist,
            slot["start"].as_str().expect("start"),
            name,
        );
        let (status, booking) = app
            .post_booking(&body, Some(&uuid::Uuid::new_v4().to_string()))
            .await;
        assert!(status == 201, "{status} {booking}");
        out.push(booking);
    }
    out
}

async fn caught_up(app: &TestApp) {
    let head = projections::log::head(&app.server.state.read)
        .await
        .expect("head");
    assert!(
        app.server
            .state
            .projections
            .wait_for(
                &[
                    projections::Projection::Bookings,
                    projections::Projection::Audit
                ],
                head,
                Duration::from_secs(10)
            )
            .await
    );
}

fn parse_csv(text: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header = reader
        .headers()
        .expect("header")
        .iter()
        .map(str::to_string)
        .collect();
    let rows = reader
        .records()
        .map(|r| {
            r.expect("a well-formed row")
                .iter()
                .map(str::to_string)
                .collect()
        })
        .collect();
    (header, rows)
}

async fn export_csv(app: &TestApp, cookie: &str, path: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let r = get_with(app, cookie, path).await;
    assert_eq!(r.status(), 200, "{path}");
    assert_eq!(r.headers()["content-type"], "text/csv; charset=utf-8");
    assert!(r.headers()["content-disposition"]
        .to_str()
        .expect("ascii")
        .starts_with("attachment; filename="));
    parse_csv(&r.text().await.expect("body"))
}

#[tokio::test]
async fn pages_filter_and_exports_parse_back() {
    for backend in BACKENDS {
        // Deposits collected (held bookings) so the payments export has rows, without Stripe.
        let app = spawn(backend, |c| c.collect_deposits = true).await;
        let cookie = log_in(&app).await;
        let amara = TestApp::stylist_id("Amara Diallo");
        let kofi = TestApp::stylist_id("Malik Johnson");
        let consult = app.service_id("Consultation").await;
        let retwist = app.service_id("Retwist").await;
        book(
            &app,
            &consult,
            &amara,
            &["Ada \"Quote\", Jr.", "=HYPERLINK(\"x\")"],
        )
        .await;
        book(
            &app,
            &retwist,
            &kofi,
            &["Bea Kofi-Client", "Cy Kofi-Client", "Di Kofi-Client"],
        )
        .await;
        caught_up(&app).await;

        // History: everything, then by stylist, by service, by status, by dates.
        let all = page(&app, &cookie, "/dashboard/bookings").await;
        assert!(all.contains("5 bookings"), "{all}");
        assert!(
            all.contains("Ada &#34;Quote&#34;, Jr.") || all.contains("Ada &quot;Quote&quot;, Jr.")
        );
        let kofis = page(
            &app,
            &cookie,
            &format!("/dashboard/bookings?stylist={kofi}"),
        )
        .await;
        assert!(kofis.contains("3 bookings"));
        assert!(kofis.contains("Bea Kofi-Client") && !kofis.contains("HYPERLINK"));
        let consults = page(
            &app,
            &cookie,
            &format!("/dashboard/bookings?service={consult}"),
        )
        .await;
        assert!(consults.contains("2 bookings"));
        let none = page(&app, &cookie, "/dashboard/bookings?status=completed").await;
        assert!(none.contains("No bookings match"));
        let past = page(&app, &cookie, "/dashboard/bookings?to=2001-01-01").await;
        assert!(past.contains("No bookings match"));
        // The htmx fragment is the table alone.
        let fragment = page(
            &app,
            &cookie,
            &format!("/dashboard/fragments/bookings?stylist={kofi}"),
        )
        .await;
        assert!(fragment.starts_with("<div id=\"results\">") && fragment.contains("3 bookings"));
        // Paging.
        let second = page(&app, &cookie, "/dashboard/bookings?page=2").await;
        assert!(second.contains("page 2 of 1") || second.contains("No bookings match"));
        // Bad filters are named, not a 500.
        let bad = page(
            &app,
            &cookie,
            "/dashboard/bookings?from=yesterday&stylist=nobody&page=x",
        )
        .await;
        assert!(bad.contains("is not a date like"));
        assert!(bad.contains("There is no such stylist"));
        assert!(bad.contains("5 bookings"));

        // CSV: the same filters, parsed back.
        let (header, rows) = export_csv(&app, &cookie, "/dashboard/export/bookings.csv").await;
        assert_eq!(header[0], "booking");
        assert_eq!(rows.len(), 5);
        let name = header
            .iter()
            .position(|h| h == "client_name")
            .expect("column");
        let phone = header
            .iter()
            .position(|h| h == "client_phone")
            .expect("column");
        let names: Vec<&str> = rows.iter().map(|r| r[name].as_str()).collect();
        assert!(
            names.contains(&"Ada \"Quote\", Jr."),
            "quoted cell comes back whole: {names:?}"
        );
        assert!(
            names.contains(&"'=HYPERLINK(\"x\")"),
            "formula guarded: {names:?}"
        );
        let phones: Vec<&str> = rows.iter().map(|r| r[phone].as_str()).collect();
        assert!(phones.iter().all(|p| *p == "+12125550142"), "{phones:?}");
        let (_, kofi_rows) = export_csv(
            &app,
            &cookie,
            &format!("/dashboard/export/bookings.csv?stylist={kofi}"),
        )
        .await;
        assert_eq!(kofi_rows.len(), 3);
        let stylist = header.iter().position(|h| h == "stylist").expect("column");
        assert!(kofi_rows.iter().all(|r| r[stylist] == "Malik Johnson"));
        let r = get_with(&app, &cookie, "/dashboard/export/bookings.csv?from=nope").await;
        assert_eq!(r.status(), 400);
        assert!(r.text().await.expect("text").contains("is not a date like"));

        // Payments: the held bookings with a deposit due.
        let (pheader, prows) = export_csv(&app, &cookie, "/dashboard/export/payments.csv").await;
        assert_eq!(pheader[0], "booking");
        let deposits: i64 = sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FROM rm_bookings WHERE deposit_cents > 0 AND deposit_status <> 'none'",
        )
        .fetch_one(app.server.state.read.pool())
        .await
        .expect("count");
        assert!(deposits > 0, "the demo services take deposits");
        assert_eq!(prows.len() as i64, deposits);
        let ds = pheader
            .iter()
            .position(|h| h == "deposit_status")
            .expect("column");
        assert!(prows.iter().all(|r| r[ds] == "pending"));

        // Audit: sentences on the page, no JSON; CSV with every event; filters.
        let audit = page(&app, &cookie, "/dashboard/audit").await;
        assert!(audit.contains("The client, through"), "{audit}");
        let shown = &audit[audit.find("<main").expect("main")..];
        assert!(
            !shown.contains("{&#34;") && !shown.contains("{\""),
            "no JSON on screen"
        );
        let clients = page(&app, &cookie, "/dashboard/audit?actor=client").await;
        let whos: Vec<&str> = clients.split("<p class=\"who\">").skip(1).collect();
        assert!(!whos.is_empty() && whos.iter().all(|w| w.starts_with("The client, through")));
        let everyone = audit.split("<p class=\"who\">").skip(1).count();
        assert!(everyone > whos.len(), "the filter left some out");
        let (aheader, arows) = export_csv(&app, &cookie, "/dashboard/export/audit.csv").await;
        assert_eq!(aheader[..3], ["position", "recorded_at", "who"]);
        let logged: i64 = sqlx::query_scalar::<_, i64>("SELECT count(*) FROM rm_audit_log")
            .fetch_one(app.server.state.read.pool())
            .await
            .expect("count");
        assert_eq!(arows.len() as i64, logged);
        let positions: Vec<i64> = arows
            .iter()
            .map(|r| r[0].parse().expect("number"))
            .collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "in log order");
        let (_, client_rows) =
            export_csv(&app, &cookie, "/dashboard/export/audit.csv?actor=client").await;
        assert!(!client_rows.is_empty() && client_rows.iter().all(|r| r[2] == "client"));
        assert!(client_rows.len() < arows.len());

        // Figures: charts and rates.
        let figures = page(&app, &cookie, "/dashboard/figures").await;
        assert!(figures.contains("<svg class=\"chart weekly\""));
        assert!(figures.contains("Malik Johnson") && figures.contains("Retwist"));
        assert!(figures.contains("Cancellation rate"));
        let odd = page(
            &app,
            &cookie,
            "/dashboard/figures?from=2030-01-01&to=2029-01-01",
        )
        .await;
        assert!(odd.contains("they were swapped"));

        // Overview: the bookings are in the live list.
        let overview = page(&app, &cookie, "/dashboard").await;
        assert!(overview.contains("Bea Kofi-Client"));
        let live = page(&app, &cookie, "/dashboard/fragments/live").await;
        assert!(live.contains("Di Kofi-Client"));
        app.stop().await;
    }
}

#[tokio::test]
async fn the_live_stream_takes_the_dashboard_session() {
    for backend in BACKENDS {
        let app = spawn(backend, |_| {}).await;
        let cookie = log_in(&app).await;
        let mut stream = reqwest::Client::new()
            .get(app.url("/events/stream"))
            .header("cookie", &cookie)
            .send()
            .await
            .expect("stream");
        assert_eq!(stream.status(), 200);
        assert!(stream.headers()["content-type"]
            .to_str()
            .expect("ascii")
            .starts_with("text/event-stream"));
        let consult = app.service_id("Consultation").await;
        book(
            &app,
            &consult,
            &TestApp::stylist_id("Amara Diallo"),
            &["Live Client"],
        )
        .await;
        let mut seen = String::new();
        let found = tokio::time::timeout(Duration::from_secs(10), async {
            while let Ok(Some(chunk)) = stream.chunk().await {
                seen.push_str(&String::from_utf8_lossy(&chunk));
                if seen.contains("event: BookingRequested") && seen.contains("Live Client") {
                    return true;
                }
            }
            false
        })
        .await;
        assert_eq!(found, Ok(true), "{seen}");
        app.stop().await;
    }
}

async fn start_intake(api_port: Option<u16>) -> (intake_proc::Intake, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!(
        "salon-dash-intake-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).expect("dir");
    let mut c = IntakeConfig::new(
        salon::scratch::sqlite_in(&dir, "intake.db"),
        "127.0.0.1:0".parse().expect("addr"),
    );
    c.api_url = api_port.map(|p| format!("http://127.0.0.1:{p}"));
    c.token = Some(INTAKE_TOKEN.into());
    c.retry_base = Duration::from_millis(100);
    c.retry_max = Duration::from_millis(300);
    (intake_proc::start(c).await.expect("start the intake"), dir)
}

#[tokio::test]
async fn the_intake_list_shows_what_the_api_has_not_accepted() {
    for backend in BACKENDS {
        // An intake whose API is down (a port nobody listens on): entries stay open.
        let dead = tests::free_port();
        let (intake, dir) = start_intake(Some(dead)).await;
        let intake_url = format!("http://{}", intake.addr);
        let source = web::dashboard::IntakeSource::new(&intake_url, Some(INTAKE_TOKEN.into()));
        let app = spawn(backend, |c| c.dashboard.intake = Some(source)).await;
        let cookie = log_in(&app).await;
        let consult = app.service_id("Consultation").await;
        let amara = TestApp::stylist_id("Amara Diallo");
        let slot = app.first_slot(&consult, &amara).await;
        let body = booking_body(
            &consult,
            &amara,
            slot["start"].as_str().expect("start"),
            "Nia Intake",
        );
        let r = reqwest::Client::new()
            .post(format!("{intake_url}/intake/bookings"))
            .header("Idempotency-Key", "dash-intake-1")
            .json(&body)
            .send()
            .await
            .expect("post to intake");
        assert_eq!(r.status(), 202);
        let request = json!({
            "service": consult, "stylist": "any", "day": "2030-05-01", "window": "morning",
            "client": {"name": "Ola Request", "email": "ola@example.com", "phone": "(212) 555-0199"},
        });
        let r = reqwest::Client::new()
            .post(format!("{intake_url}/intake/requests"))
            .header("Idempotency-Key", "dash-intake-2")
            .json(&request)
            .send()
            .await
            .expect("post request");
        assert_eq!(r.status(), 202, "{}", r.text().await.unwrap_or_default());
        let html = page(&app, &cookie, "/dashboard/intake").await;
        assert!(html.contains("Nia Intake"), "{html}");
        assert!(html.contains("Consultation with Amara Diallo"));
        assert!(html.contains("Waiting to reach the booking system"));
        assert!(html.contains("Ola Request") && html.contains("Call the client back"));
        assert!(html.contains("2 entries not accepted yet"));
        app.stop().await;

        // The same intake with the wrong token: said in words.
        let wrong = web::dashboard::IntakeSource::new(&intake_url, Some("nope".into()));
        let app = spawn(backend, |c| c.dashboard.intake = Some(wrong)).await;
        let cookie = log_in(&app).await;
        let html = page(&app, &cookie, "/dashboard/intake").await;
        assert!(
            html.contains("refused the dashboard&#39;s token")
                || html.contains("refused the dashboard's token"),
            "{html}"
        );
        app.stop().await;
        intake.shutdown().await.expect("intake stops");
        let _ = std::fs::remove_dir_all(dir);

        // The intake is down: said in words, not an error page.
        let down = web::dashboard::IntakeSource::new(&intake_url, Some(INTAKE_TOKEN.into()));
        let app = spawn(backend, |c| c.dashboard.intake = Some(down)).await;
        let cookie = log_in(&app).await;
        let html = page(&app, &cookie, "/dashboard/intake").await;
        assert!(html.contains("cannot be reached right now"), "{html}");
        app.stop().await;
    }
    // Not configured at all.
    let app = spawn(migrations::Backend::Sqlite, |_| {}).await;
    let cookie = log_in(&app).await;
    let html = page(&app, &cookie, "/dashboard/intake").await;
    assert!(html.contains("No intake is configured"));
    app.stop().await;
}

#[tokio::test]
async fn cookies_are_secure_when_the_public_url_is_https() {
    let db = ScratchDb::new(migrations::Backend::Sqlite).await;
    let app = TestApp::spawn_with(db, |c| {
        c.public_url = "https://salon.example".into();
        salon::app::dashboard_settings_from_env(c).expect("settings");
        assert!(c.dashboard.secure_cookies);
        c.dashboard.password = web::dashboard::Password::new(PASSWORD);
    })
    .await;
    let http = browser();
    let r = http
        .get(app.url("/dashboard/login"))
        .send()
        .await
        .expect("GET");
    let (_, raw) = set_cookie(&r, "salon_dashboard_login").expect("login cookie");
    assert!(raw.ends_with("; Secure"), "{raw}");
    let (csrf, cookie) = (
        csrf_in(&r.text().await.expect("html")),
        raw[22..86].to_string(),
    );
    let r = post_login(&app, &http, Some(&cookie), Some(&csrf), PASSWORD).await;
    assert_eq!(r.status(), 303);
    let (_, raw) = set_cookie(&r, "salon_dashboard").expect("session cookie");
    assert!(
        raw.contains("; Secure") && raw.contains("HttpOnly"),
        "{raw}"
    );
    app.stop().await;
}
