//! The owner's panel (issue 7, part 1) against the real app: owner accounts from the
//! environment, login (right, wrong, throttled at the tenth wrong try, CSRF), logout, the route
//! sweep (every page redirects to the login without a session, every fragment answers 401,
//! every form is refused without a valid CSRF token and writes nothing), and the owner's work
//! on both stores: a service with field errors then saved, hours with a bad break then saved,
//! an appointment booked by hand, moved with a reason that shows in its history and the audit
//! trail, cancelled; a review approved and seen by the public API; settings; an API token made
//! in the panel that works, then revoked.

use reqwest::Method;
use serde_json::{json, Value};
use tests::browser::{client, csrf_in, set_cookie, FormBody};
use tests::{count_events, ScratchDb, TestApp, BACKENDS};

const EMAIL: &str = "owner@salon.test";
const PASSWORD: &str = "correct horse battery staple";

async fn spawn(backend: migrations::Backend) -> TestApp {
    let db = ScratchDb::new(backend).await;
    TestApp::spawn_with(db, |c| {
        c.admin_account = Some(salon::app::AdminAccount {
            email: EMAIL.into(),
            name: "Kofi".into(),
            password: PASSWORD.into(),
        });
    })
    .await
}

async fn login_form(app: &TestApp, http: &reqwest::Client) -> (String, String) {
    let r = http.get(app.url("/admin/login")).send().await.expect("GET");
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-frame-options"], "DENY");
    let (cookie, _) = set_cookie(&r, "salon_admin_login").expect("login csrf cookie");
    let html = r.text().await.expect("html");
    assert!(html.contains(r#"<label for="email">Email</label>"#));
    (csrf_in(&html), cookie)
}

async fn post_login(
    app: &TestApp,
    http: &reqwest::Client,
    cookie: Option<&str>,
    csrf: Option<&str>,
    password: &str,
) -> reqwest::Response {
    let mut form = vec![("email", EMAIL), ("password", password)];
    if let Some(c) = csrf {
        form.push(("csrf", c));
    }
    let mut req = http.post(app.url("/admin/login")).form_body(&form);
    if let Some(c) = cookie {
        req = req.header("cookie", format!("salon_admin_login={c}"));
    }
    req.send().await.expect("POST login")
}

/// A logged-in owner: the session cookie and the session's CSRF token.
struct Owner {
    cookie: String,
    csrf: String,
}

async fn log_in(app: &TestApp) -> Owner {
    let http = client();
    let (csrf, cookie) = login_form(app, &http).await;
    let r = post_login(app, &http, Some(&cookie), Some(&csrf), PASSWORD).await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/admin");
    let (session, header) = set_cookie(&r, "salon_admin").expect("session cookie");
    assert!(header.contains("HttpOnly") && header.contains("SameSite=Strict"));
    let cookie = format!("salon_admin={session}");
    let html = get_page(app, &cookie, "/admin").await;
    Owner {
        csrf: csrf_in(&html),
        cookie,
    }
}

async fn get(app: &TestApp, cookie: &str, path: &str) -> reqwest::Response {
    client()
        .get(app.url(path))
        .header("cookie", cookie)
        .send()
        .await
        .expect("GET")
}

async fn get_page(app: &TestApp, cookie: &str, path: &str) -> String {
    let r = get(app, cookie, path).await;
    assert_eq!(r.status(), 200, "{path}");
    r.text().await.expect("html")
}

/// Posts a form as the owner (the CSRF token added); the status and the body or the redirect.
async fn post(app: &TestApp, owner: &Owner, path: &str, pairs: &[(&str, &str)]) -> (u16, String) {
    let mut form: Vec<(&str, &str)> = pairs.to_vec();
    form.push(("csrf", owner.csrf.as_str()));
    let r = client()
        .post(app.url(path))
        .header("cookie", &owner.cookie)
        .form_body(&form)
        .send()
        .await
        .expect("POST");
    let status = r.status().as_u16();
    assert!(status < 500, "POST {path}: {status}");
    if status == 303 {
        let to = r.headers()["location"].to_str().expect("ascii").to_string();
        return (status, to);
    }
    (status, r.text().await.expect("html"))
}

fn fill(path: &str, ids: &[(&str, &str)]) -> String {
    ids.iter().fold(path.to_string(), |p, (k, v)| {
        p.replace(&format!("{{{k}}}"), v)
    })
}

#[tokio::test]
async fn route_sweep_login_throttle_and_csrf() {
    let app = spawn(migrations::Backend::Sqlite).await;
    let service = app.service_id("Retwist").await;
    let stylist = TestApp::stylist_id("Amara Diallo");
    let slot = app.first_slot(&service, &stylist).await;
    let (status, booking) = app
        .post_booking(
            &tests::booking_body(
                &service,
                &stylist,
                slot["start"].as_str().expect("start"),
                "Ada",
            ),
            None,
        )
        .await;
    assert_eq!(status, 201);
    let ids = [
        ("booking", booking["id"].as_str().expect("id")),
        ("stylist", stylist.as_str()),
        ("service", service.as_str()),
        ("review", "0193b1f0-7a3e-7c4d-9a51-3f0e2b9c8d11"),
        ("source", "0193b1f0-7a3e-7c4d-9a51-3f0e2b9c8d12"),
        ("token", "0193b1f0-7a3e-7c4d-9a51-3f0e2b9c8d13"),
        ("time_off", "0193b1f0-7a3e-7c4d-9a51-3f0e2b9c8d14"),
    ];
    let http = client();

    // Without a session: pages go to the login page, htmx requests and fragments get 401.
    for page in web::admin::PAGES {
        let path = fill(page, &ids);
        let r = http.get(app.url(&path)).send().await.expect("GET");
        assert_eq!(r.status(), 303, "{path}");
        assert_eq!(r.headers()["location"], "/admin/login", "{path}");
        let r = http
            .get(app.url(&path))
            .header("hx-request", "true")
            .send()
            .await
            .expect("GET");
        assert_eq!(r.status(), 401, "{path} (htmx)");
        assert_eq!(r.headers()["hx-redirect"], "/admin/login");
    }
    for fragment in web::admin::FRAGMENTS {
        let r = http.get(app.url(fragment)).send().await.expect("GET");
        assert_eq!(r.status(), 401, "{fragment}");
    }
    // A dashboard session does not open the panel.
    let events_before = count_events(&app).await;
    for form in web::admin::FORMS {
        let path = fill(form, &ids);
        let r = http
            .post(app.url(&path))
            .form_body(&[("name", "x")])
            .send()
            .await
            .expect("POST");
        assert_eq!(r.status(), 303, "{path} without a session");
        assert_eq!(r.headers()["location"], "/admin/login");
    }

    // With a session, every form without the token, or with a wrong one, is refused.
    let owner = log_in(&app).await;
    let wrong = "b".repeat(64);
    for form in web::admin::FORMS {
        let path = fill(form, &ids);
        for token in [None, Some(wrong.as_str())] {
            let mut pairs = vec![("name", "x"), ("reason", "sweep")];
            if let Some(t) = token {
                pairs.push(("csrf", t));
            }
            let r = http
                .post(app.url(&path))
                .header("cookie", &owner.cookie)
                .form_body(&pairs)
                .send()
                .await
                .expect("POST");
            assert_eq!(r.status(), 403, "{path} with token {token:?}");
            let text = r.text().await.expect("html");
            assert!(text.contains("This form has expired"), "{path}: {text}");
        }
    }
    assert_eq!(
        count_events(&app).await,
        events_before,
        "refused forms wrote nothing"
    );
    // Every page opens for the owner (ids that do not exist answer 404 in words, not 500).
    for page in web::admin::PAGES {
        let path = fill(page, &ids);
        let r = get(&app, &owner.cookie, &path).await;
        assert!(
            r.status() == 200 || (r.status() == 404 && path.contains("0193b1f0")),
            "{path}: {}",
            r.status()
        );
    }

    // The login form: CSRF missing or wrong is refused; nine wrong passwords are 401; the
    // tenth attempt is 429, even with the right password.
    let (csrf, cookie) = login_form(&app, &http).await;
    let r = post_login(&app, &http, Some(&cookie), None, PASSWORD).await;
    assert_eq!(r.status(), 403);
    assert!(set_cookie(&r, "salon_admin").is_none());
    let r = post_login(&app, &http, Some(&cookie), Some(&wrong), PASSWORD).await;
    assert_eq!(r.status(), 403);
    for i in 1..=9 {
        let r = post_login(&app, &http, Some(&cookie), Some(&csrf), "hunter2hunter2").await;
        assert_eq!(r.status(), 401, "wrong try {i}");
        let text = r.text().await.expect("html");
        assert!(text.contains("do not match an owner account"), "{text}");
    }
    let r = post_login(&app, &http, Some(&cookie), Some(&csrf), "hunter2hunter2").await;
    assert_eq!(r.status(), 429, "the tenth wrong try");
    assert!(r.headers().contains_key("retry-after"));
    let r = post_login(&app, &http, Some(&cookie), Some(&csrf), PASSWORD).await;
    assert_eq!(r.status(), 429);

    // The live stream opens with the panel's cookie.
    let r = http
        .get(app.url("/events/stream"))
        .header("cookie", &owner.cookie)
        .send()
        .await
        .expect("stream");
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .expect("ascii")
        .starts_with("text/event-stream"));
    drop(r);

    // Logout needs the token and ends the session.
    let (status, to) = post(&app, &owner, "/admin/logout", &[]).await;
    assert_eq!((status, to.as_str()), (303, "/admin/login"));
    assert_eq!(get(&app, &owner.cookie, "/admin").await.status(), 303);
    app.stop().await;
}

#[tokio::test]
async fn without_an_account_the_login_page_says_how_to_make_one() {
    let app = TestApp::spawn(migrations::Backend::Sqlite).await;
    let html = client()
        .get(app.url("/admin/login"))
        .send()
        .await
        .expect("GET")
        .text()
        .await
        .expect("html");
    assert!(html.contains("There is no owner account yet"), "{html}");
    assert!(html.contains("salon owner add"));
    app.stop().await;
}

#[tokio::test]
async fn the_owner_runs_the_salon_from_the_panel() {
    for backend in BACKENDS {
        let app = spawn(backend).await;
        let owner = log_in(&app).await;
        let token = app.token("panel-check", domain::token::Scope::Read).await;

        // A service: a bad price and a deposit above the price are named in place; then saved.
        let (status, html) = post(
            &app,
            &owner,
            "/admin/services",
            &[
                ("name", "Loc repair"),
                ("duration", "45"),
                ("price", "abc"),
                ("deposit", "0"),
            ],
        )
        .await;
        assert_eq!(status, 422, "{backend:?}");
        assert!(html.contains(r#"id="price-error""#), "{html}");
        assert!(
            html.contains(r#"value="Loc repair""#),
            "the form keeps what was typed"
        );
        let (status, html) = post(
            &app,
            &owner,
            "/admin/services",
            &[
                ("name", "Loc repair"),
                ("duration", "45"),
                ("price", "40"),
                ("deposit", "50"),
            ],
        )
        .await;
        assert_eq!(status, 422);
        assert!(html.contains(r#"id="deposit-error""#), "{html}");
        let (status, to) = post(
            &app,
            &owner,
            "/admin/services",
            &[
                ("name", "Loc repair"),
                ("description", "Fixing thin or broken locs."),
                ("duration", "45"),
                ("buffer_after", "10"),
                ("price", "60.00"),
                ("deposit", "15"),
                ("reason", "new on the menu"),
            ],
        )
        .await;
        assert_eq!(status, 303);
        assert!(to.ends_with("?done=created"), "{to}");
        let (_, services) = app.get_json("/api/v1/services").await;
        let repair = services["results"]
            .as_array()
            .expect("services")
            .iter()
            .find(|s| s["name"] == "Loc repair")
            .expect("the new service is on the menu")
            .clone();
        assert_eq!(repair["price_cents"], 6000);
        assert_eq!(repair["deposit_cents"], 1500);
        assert_eq!(repair["buffer_after_minutes"], 10);

        // Hours: a break outside the day is named; then Amara works Sundays 10–16 with a break.
        let amara = TestApp::stylist_id("Amara Diallo");
        let path = format!("/admin/stylists/{amara}/hours");
        let (status, html) = post(
            &app,
            &owner,
            &path,
            &[
                ("sun_works", "on"),
                ("sun_open", "10:00"),
                ("sun_close", "16:00"),
                ("sun_breaks", "17:00-17:30"),
            ],
        )
        .await;
        assert_eq!(status, 422);
        assert!(html.contains(r#"id="sun-error""#), "{html}");
        assert!(html.contains("Sunday"), "{html}");
        let (status, to) = post(
            &app,
            &owner,
            &path,
            &[
                ("mon_works", "on"),
                ("mon_open", "09:00"),
                ("mon_close", "17:00"),
                ("tue_works", "on"),
                ("tue_open", "09:00"),
                ("tue_close", "17:00"),
                ("wed_works", "on"),
                ("wed_open", "09:00"),
                ("wed_close", "17:00"),
                ("thu_works", "on"),
                ("thu_open", "09:00"),
                ("thu_close", "17:00"),
                ("fri_works", "on"),
                ("fri_open", "09:00"),
                ("fri_close", "17:00"),
                ("sat_works", "on"),
                ("sat_open", "09:00"),
                ("sat_close", "17:00"),
                ("sun_works", "on"),
                ("sun_open", "10:00"),
                ("sun_close", "16:00"),
                ("sun_breaks", "12:00-12:30"),
                ("reason", "opening on Sundays"),
            ],
        )
        .await;
        assert_eq!(status, 303, "{to}");
        let (_, stylist) = app.get_json(&format!("/api/v1/stylists/{amara}")).await;
        assert_eq!(stylist["hours"]["sun"]["open"], "10:00", "{stylist}");
        assert_eq!(stylist["hours"]["sun"]["breaks"][0]["start"], "12:00");
        // The stylist offers the new service.
        let (status, _) = post(
            &app,
            &owner,
            &format!("/admin/stylists/{amara}"),
            &[
                ("name", "Amara Diallo"),
                ("bio", stylist["bio"].as_str().expect("bio")),
                ("services", repair["id"].as_str().expect("id")),
                ("services", &app.service_id("Retwist").await),
            ],
        )
        .await;
        assert_eq!(status, 303);

        // An appointment booked by hand on a free time, with the deposit waived.
        let service = repair["id"].as_str().expect("id").to_string();
        let slot = app.first_slot(&service, &amara).await;
        let start = chrono::DateTime::parse_from_rfc3339(slot["start"].as_str().expect("start"))
            .expect("rfc3339");
        let date = start.format("%Y-%m-%d").to_string();
        let time = start.format("%H:%M").to_string();
        let form_page = get_page(
            &app,
            &owner.cookie,
            &format!("/admin/bookings/new?service={service}&stylist={amara}&date={date}"),
        )
        .await;
        assert!(
            form_page.contains(&format!(r#"data-time="{time}""#)),
            "the free times are offered"
        );
        let key = uuid::Uuid::new_v4().to_string();
        let booking_form = [
            ("key", key.as_str()),
            ("service", service.as_str()),
            ("stylist", amara.as_str()),
            ("date", date.as_str()),
            ("time", time.as_str()),
            ("name", "Zora Neale"),
            ("email", "zora@example.com"),
            ("phone", "+1 212 555 0188"),
            ("reason", "booked by phone"),
        ];
        let (status, html) = post(
            &app,
            &owner,
            "/admin/bookings",
            &[
                ("service", service.as_str()),
                ("date", "someday"),
                ("name", ""),
                ("email", "nope"),
            ],
        )
        .await;
        assert_eq!(status, 422);
        for field in ["date", "time", "name", "email", "phone"] {
            assert!(
                html.contains(&format!(r#"id="{field}-error""#)),
                "{field}: {html}"
            );
        }
        let (status, to) = post(&app, &owner, "/admin/bookings", &booking_form).await;
        assert_eq!(status, 303, "{to}");
        let id = to
            .trim_start_matches("/admin/bookings/")
            .trim_end_matches("?done=booked")
            .to_string();
        // The same form sent twice books once.
        let (status, again) = post(&app, &owner, "/admin/bookings", &booking_form).await;
        assert_eq!((status, again.as_str()), (303, to.as_str()));
        let answer = app
            .call(
                Method::GET,
                &format!("/api/v1/bookings/{id}"),
                Some(&token),
                None,
                &[],
            )
            .await;
        assert_eq!(answer.status, 200);
        assert_eq!(answer.body["status"], "confirmed", "{}", answer.body);
        let day = get_page(&app, &owner.cookie, &format!("/admin?date={date}")).await;
        assert!(day.contains("Zora Neale"), "the day shows the appointment");
        let week = get_page(&app, &owner.cookie, &format!("/admin/week?date={date}")).await;
        assert!(week.contains("Zora Neale"));

        // Moved to a later free time with a reason: the history says who, through what, why.
        let until = (start + chrono::Duration::days(10))
            .format("%Y-%m-%d")
            .to_string();
        let later = app
            .slots(&service, Some(&amara), &date, &until)
            .await
            .into_iter()
            .filter_map(|s| chrono::DateTime::parse_from_rfc3339(s["start"].as_str()?).ok())
            .find(|s| *s >= start + chrono::Duration::hours(1))
            .expect("a later free time");
        let (later_date, later_time) = (
            later.format("%Y-%m-%d").to_string(),
            later.format("%H:%M").to_string(),
        );
        let (status, to) = post(
            &app,
            &owner,
            &format!("/admin/bookings/{id}/move"),
            &[
                ("date", &later_date),
                ("time", &later_time),
                ("reason", "client asked for later"),
            ],
        )
        .await;
        assert_eq!(status, 303, "{to}");
        assert!(to.ends_with("?done=moved"));
        let page = get_page(&app, &owner.cookie, &to).await;
        assert!(page.contains("The appointment was moved."));
        assert!(page.contains("Reason: “client asked for later”"), "{page}");
        assert!(
            page.contains(&format!(
                "The owner ({EMAIL}) through the owner&#39;s panel"
            )),
            "{page}"
        );
        let audit = app
            .call(
                Method::GET,
                &format!("/api/v1/audit?aggregate_id={id}"),
                Some(&token),
                None,
                &[],
            )
            .await;
        let moved = audit.body["results"]
            .as_array()
            .expect("audit")
            .iter()
            .find(|e| e["event_type"] == "BookingRescheduled")
            .unwrap_or_else(|| panic!("a reschedule in {}", audit.body))
            .clone();
        assert_eq!(moved["reason"], "client asked for later");
        assert_eq!(moved["actor"], format!("owner:{EMAIL}"));
        assert_eq!(moved["source"], "panel");

        // A time outside the hours is refused in words, under the move form.
        let (status, html) = post(
            &app,
            &owner,
            &format!("/admin/bookings/{id}/move"),
            &[("date", &date), ("time", "03:00")],
        )
        .await;
        assert_eq!(status, 422);
        assert!(html.contains(r#"id="move-error""#), "{html}");
        // Notes, then cancelled with a reason.
        let (status, _) = post(
            &app,
            &owner,
            &format!("/admin/bookings/{id}/notes"),
            &[("notes", "Bring photos of the look"), ("reason", "")],
        )
        .await;
        assert_eq!(status, 303);
        let (status, to) = post(
            &app,
            &owner,
            &format!("/admin/bookings/{id}/cancel"),
            &[("reason", "stylist ill")],
        )
        .await;
        assert_eq!(
            (status, to.ends_with("?done=cancelled")),
            (303, true),
            "{to}"
        );
        let answer = app
            .call(
                Method::GET,
                &format!("/api/v1/bookings/{id}"),
                Some(&token),
                None,
                &[],
            )
            .await;
        assert_eq!(answer.body["status"], "cancelled");
        assert_eq!(answer.body["notes"], "Bring photos of the look");
        let list = get_page(&app, &owner.cookie, "/admin/bookings?status=cancelled").await;
        assert!(list.contains("Zora Neale"));
        let (status, html) = {
            let r = get(&app, &owner.cookie, "/admin/bookings?from=yesterday").await;
            (r.status().as_u16(), r.text().await.expect("html"))
        };
        assert_eq!(status, 422);
        assert!(html.contains(r#"id="from-error""#), "{html}");

        // A review entered through the API waits; approved in the panel, the public sees it.
        let writer = app.token("reviews-in", domain::token::Scope::Write).await;
        let review = app
            .call(
                Method::POST,
                "/api/v1/reviews",
                Some(&writer),
                Some(&json!({"stylist": amara, "rating": 5, "text": "Gentle hands, perfect parts.", "display_name": "Ama B."})),
                &[],
            )
            .await;
        assert_eq!(review.status, 201, "{}", review.body);
        let rid = review.body["id"].as_str().expect("id").to_string();
        let public = |v: &Value| {
            v["results"]
                .as_array()
                .map(|a| a.iter().any(|r| r["id"] == rid.as_str()))
                .unwrap_or(false)
        };
        let (_, before) = app.get_json("/api/v1/reviews").await;
        assert!(!public(&before), "a waiting review is not public");
        let waiting = get_page(&app, &owner.cookie, "/admin/reviews").await;
        assert!(waiting.contains("Gentle hands, perfect parts."));
        let (status, to) = post(
            &app,
            &owner,
            &format!("/admin/reviews/{rid}"),
            &[("action", "approve"), ("back_status", "pending")],
        )
        .await;
        assert_eq!(status, 303, "{to}");
        let (status, _) = post(
            &app,
            &owner,
            &format!("/admin/reviews/{rid}"),
            &[
                ("action", "reply"),
                ("reply", "Thank you, Ama!"),
                ("back_status", "approved"),
            ],
        )
        .await;
        assert_eq!(status, 303);
        let (_, after) = app.get_json("/api/v1/reviews").await;
        assert!(public(&after), "approved: public ({after})");
        let shown = after["results"]
            .as_array()
            .expect("reviews")
            .iter()
            .find(|r| r["id"] == rid.as_str())
            .expect("review")
            .clone();
        assert_eq!(shown["reply"], "Thank you, Ama!");

        // Settings: a bad time zone is named; a good change is saved.
        let (status, html) = post(
            &app,
            &owner,
            "/admin/settings",
            &[
                ("name", "Crown & Coil"),
                ("time_zone", "Mars/Olympus"),
                ("slot_step", "15"),
                ("lead_time", "60"),
                ("horizon", "90"),
                ("hold", "15"),
                ("cancellation_window", "24"),
            ],
        )
        .await;
        assert_eq!(status, 422);
        assert!(html.contains(r#"id="time_zone-error""#), "{html}");
        let (status, _) = post(
            &app,
            &owner,
            "/admin/settings",
            &[
                ("name", "Crown & Coil"),
                ("time_zone", "America/New_York"),
                ("slot_step", "15"),
                ("lead_time", "60"),
                ("horizon", "90"),
                ("hold", "15"),
                ("cancellation_window", "24"),
            ],
        )
        .await;
        assert_eq!(status, 303);
        let (_, salon) = app.get_json("/api/v1/salon").await;
        assert_eq!(salon["name"], "Crown & Coil");
        assert_eq!(salon["policy"]["slot_step_minutes"], 15);

        // A token made in the panel is shown once and works; revoked, it does not.
        let (status, html) = post(
            &app,
            &owner,
            "/admin/tokens",
            &[("name", "accounting"), ("scope", "read")],
        )
        .await;
        assert_eq!(status, 201);
        let at = html
            .find(r#"<code class="secret">"#)
            .expect("the secret is shown");
        let secret: String = html[at + 21..].chars().take_while(|c| *c != '<').collect();
        let works = app
            .call(Method::GET, "/api/v1/bookings", Some(&secret), None, &[])
            .await;
        assert_eq!(works.status, 200);
        let tokens_page = get_page(&app, &owner.cookie, "/admin/tokens").await;
        assert!(
            !tokens_page.contains(&secret),
            "the secret is shown only once"
        );
        let listed = app
            .call(Method::GET, "/api/v1/tokens", Some(&writer), None, &[])
            .await;
        let tid = listed.body["results"]
            .as_array()
            .expect("tokens")
            .iter()
            .find(|t| t["name"] == "accounting")
            .expect("token")["id"]
            .as_str()
            .expect("id")
            .to_string();
        let (status, _) = post(&app, &owner, &format!("/admin/tokens/{tid}/revoke"), &[]).await;
        assert_eq!(status, 303);
        let refused = app
            .call(Method::GET, "/api/v1/bookings", Some(&secret), None, &[])
            .await;
        assert_eq!(refused.status, 401);

        // A calendar: a bad address is named; a password without SALON_SECRET_KEY is refused
        // in words; connected without one, it is listed, synced on demand (the calendar does
        // not answer: said so), and disconnected.
        let (status, html) = post(
            &app,
            &owner,
            "/admin/calendars",
            &[
                ("kind", "caldav"),
                ("stylist", &amara),
                ("url", "calendar.example"),
                ("sync_minutes", "5"),
            ],
        )
        .await;
        assert_eq!(status, 422);
        assert!(html.contains(r#"id="url-error""#), "{html}");
        let (status, html) = post(
            &app,
            &owner,
            "/admin/calendars",
            &[
                ("kind", "caldav"),
                ("stylist", &amara),
                ("url", "http://127.0.0.1:9/cal/"),
                ("password", "app-password"),
            ],
        )
        .await;
        assert_eq!(status, 422);
        assert!(html.contains("no SALON_SECRET_KEY"), "{html}");
        let (status, to) = post(
            &app,
            &owner,
            "/admin/calendars",
            &[
                ("kind", "caldav"),
                ("stylist", &amara),
                ("name", "Amara's phone"),
                ("url", "http://127.0.0.1:9/cal/"),
                ("sync_minutes", "30"),
            ],
        )
        .await;
        assert_eq!(
            (status, to.as_str()),
            (303, "/admin/calendars?done=connected")
        );
        let listed = get_page(&app, &owner.cookie, &to).await;
        assert!(listed.contains("Amara&#39;s phone"), "{listed}");
        let at = listed.find("/admin/calendars/").expect("a source link");
        let source: String = listed[at + 17..].chars().take(36).collect();
        let (status, html) = post(
            &app,
            &owner,
            &format!("/admin/calendars/{source}/sync"),
            &[],
        )
        .await;
        assert_eq!(status, 200);
        assert!(html.contains("The calendar could not be read"), "{html}");
        let (status, to) = post(
            &app,
            &owner,
            &format!("/admin/calendars/{source}/remove"),
            &[("reason", "new phone")],
        )
        .await;
        assert_eq!(
            (status, to.as_str()),
            (303, "/admin/calendars?done=disconnected")
        );
        let after = get_page(&app, &owner.cookie, "/admin/calendars").await;
        assert!(!after.contains("Amara&#39;s phone"));

        // A second owner: a short password is named; added, they can log in.
        let (status, html) = post(
            &app,
            &owner,
            "/admin/accounts",
            &[
                ("email", "partner@salon.test"),
                ("name", "Efua"),
                ("password", "short"),
                ("password_again", "short"),
            ],
        )
        .await;
        assert_eq!(status, 422);
        assert!(html.contains(r#"id="password-error""#), "{html}");
        let (status, _) = post(
            &app,
            &owner,
            "/admin/accounts",
            &[
                ("email", "Partner@Salon.test"),
                ("name", "Efua"),
                ("password", "another long secret"),
                ("password_again", "another long secret"),
            ],
        )
        .await;
        assert_eq!(status, 303);
        let owners = get_page(&app, &owner.cookie, "/admin/accounts").await;
        assert!(owners.contains("partner@salon.test"));
        app.stop().await;
    }
}
