//! A real salon opens on it (issue 19): an empty store serves no demo data; the one-time setup
//! link works once; `PATCH /api/v1/salon` with auth, `If-Match`, validation and confirmation;
//! a Europe/Madrid + EUR salon prices in EUR and offers Madrid wall-clock slots across its own
//! DST change, clipped to its opening hours; clients cannot book before it opens. Both stores.

use domain::token::Scope;
use migrations::Backend;
use reqwest::Method;
use serde_json::{json, Value};
use tests::browser::{csrf_in, set_cookie, FormBody};
use tests::TestApp;

async fn patch(
    app: &TestApp,
    token: Option<&str>,
    body: Value,
    headers: &[(&str, &str)],
) -> tests::Answer {
    app.call(Method::PATCH, "/api/v1/salon", token, Some(&body), headers)
        .await
}

async fn an_empty_store_serves_no_demo_and_opens_as_a_real_salon(backend: Backend) {
    let app = TestApp::spawn_empty(backend).await;
    // Nothing of the demo: no salon, no stylists, services or reviews.
    let (status, salon) = app.get_json("/api/v1/salon").await;
    assert_eq!(status, 200);
    assert_eq!(salon["configured"], false);
    assert_eq!(salon["open"], false);
    assert_eq!(salon["demo"], false);
    for list in ["/api/v1/services", "/api/v1/stylists", "/api/v1/reviews"] {
        let (status, body) = app.get_json(list).await;
        assert_eq!(status, 200, "{list}");
        assert_eq!(body["count"], 0, "{list} is not empty: {body}");
    }

    // Auth: no token 401, a read token 403.
    let read = app.token("reader", Scope::Read).await;
    let write = app.token("writer", Scope::Write).await;
    assert_eq!(
        patch(&app, None, json!({"name": "x"}), &[]).await.status,
        401
    );
    assert_eq!(
        patch(&app, Some(&read), json!({"name": "x"}), &[])
            .await
            .status,
        403
    );

    // Validation as problem+json, one field each; nothing is set up by a bad request.
    let bad = patch(
        &app,
        Some(&write),
        json!({"name": "Rizos", "time_zone": "Mars/Olympus"}),
        &[],
    )
    .await;
    assert_eq!(bad.status, 422);
    assert!(bad
        .header("content-type")
        .starts_with("application/problem+json"));
    assert_eq!(bad.error_fields(), ["time_zone"]);
    let bad = patch(
        &app,
        Some(&write),
        json!({"name": "Rizos", "currency": "EUD"}),
        &[],
    )
    .await;
    assert_eq!(
        (bad.status, bad.error_fields()),
        (422, vec!["currency".to_string()])
    );
    let bad = patch(
        &app,
        Some(&write),
        json!({"name": "Rizos", "opening_hours": {"tue": {"open": "20:00", "close": "10:00"}}}),
        &[],
    )
    .await;
    assert_eq!(
        (bad.status, bad.error_fields()),
        (422, vec!["opening_hours".to_string()])
    );
    let bad = patch(
        &app,
        Some(&write),
        json!({"name": "Rizos", "policy": {"horizon_days": 730}}),
        &[],
    )
    .await;
    assert_eq!(
        (bad.status, bad.error_fields()),
        (422, vec!["policy.horizon_days".to_string()])
    );
    let bad = patch(&app, Some(&write), json!({"address": "Calle 1"}), &[]).await;
    assert_eq!(
        (bad.status, bad.error_fields()),
        (422, vec!["name".to_string()]),
        "a salon needs a name"
    );
    assert_eq!(app.get_json("/api/v1/salon").await.1["configured"], false);

    // Set up: Madrid, euros, open Tuesday 10:00-20:00, a year ahead, no lead time.
    let made = patch(
        &app,
        Some(&write),
        json!({
            "name": "Rizos Madrid", "time_zone": "Europe/Madrid", "currency": "eur",
            "address": "Calle de Fuencarral 45\n28004 Madrid", "phone": "+34 910 000 000",
            "email": "hola@rizos.example",
            "opening_hours": {"tue": {"open": "10:00", "close": "20:00"}},
            "closures": [{"from": "2027-11-09", "to": "2027-11-09", "label": "Almudena"}],
            "policy": {"horizon_days": 366, "lead_time_minutes": 0},
            "policy_text": "Cancela con 24 horas y te devolvemos la señal."
        }),
        &[],
    )
    .await;
    assert_eq!(made.status, 200, "{}", made.body);
    assert_eq!(made.body["currency"], "EUR");
    assert_eq!(made.body["time_zone"], "Europe/Madrid");
    assert_eq!(made.body["phone"], "+34910000000");
    assert_eq!(made.body["configured"], true);
    assert_eq!(
        made.body["open"], false,
        "a new salon is not open until the owner says so"
    );
    let etag = made.header("etag").to_string();
    assert!(!etag.is_empty());
    let stale = patch(
        &app,
        Some(&write),
        json!({"name": "Rizos"}),
        &[("if-match", "\"1\"")],
    )
    .await;
    assert_eq!(stale.status, 412);
    let renamed = patch(
        &app,
        Some(&write),
        json!({"name": "Rizos Madrid Centro"}),
        &[("if-match", &etag)],
    )
    .await;
    assert_eq!(renamed.status, 200, "{}", renamed.body);

    // One salon, one currency: a service in another currency is refused; without one it is EUR.
    let usd = app
        .call(Method::POST, "/api/v1/services", Some(&write), Some(&json!({"name": "Retwist", "duration_minutes": 60, "price_cents": 9500, "currency": "USD"})), &[])
        .await;
    assert_eq!(
        (usd.status, usd.error_fields()),
        (422, vec!["currency".to_string()])
    );
    let service = app
        .call(Method::POST, "/api/v1/services", Some(&write), Some(&json!({"name": "Retwist", "duration_minutes": 60, "price_cents": 9500, "deposit_cents": 0})), &[])
        .await;
    assert_eq!(service.status, 201, "{}", service.body);
    assert_eq!(service.body["currency"], "EUR");
    let service_id = service.body["id"].as_str().expect("id").to_string();
    let hours = json!({"tue": {"open": "09:00", "close": "21:00"}});
    let stylist = app
        .call(
            Method::POST,
            "/api/v1/stylists",
            Some(&write),
            Some(&json!({"name": "Lucía", "services": [service_id], "hours": hours})),
            &[],
        )
        .await;
    assert_eq!(stylist.status, 201, "{}", stylist.body);
    let stylist_id = stylist.body["id"].as_str().expect("id").to_string();

    // Madrid wall-clock slots across its DST change (31 Oct 2027), inside the salon's hours
    // (the stylist works 09-21, the salon opens 10-20), none on the closure.
    let day = |date: &str| {
        let path = format!(
            "/api/v1/availability?service={service_id}&stylist={stylist_id}&from={date}&to={date}"
        );
        let app = &app;
        async move { app.get_json(&path).await.1 }
    };
    let before = day("2027-10-26").await;
    let after = day("2027-11-02").await;
    let closed = day("2027-11-09").await;
    let starts = |v: &Value| -> Vec<String> {
        v["slots"]
            .as_array()
            .map(|s| {
                s.iter()
                    .map(|x| x["start"].as_str().unwrap_or("").to_string())
                    .collect()
            })
            .unwrap_or_default()
    };
    let (b, a) = (starts(&before), starts(&after));
    assert_eq!(
        b.first().map(String::as_str),
        Some("2027-10-26T10:00:00+02:00"),
        "{before}"
    );
    assert_eq!(
        b.last().map(String::as_str),
        Some("2027-10-26T19:00:00+02:00")
    );
    assert_eq!(
        a.first().map(String::as_str),
        Some("2027-11-02T10:00:00+01:00"),
        "{after}"
    );
    assert_eq!(
        a.last().map(String::as_str),
        Some("2027-11-02T19:00:00+01:00")
    );
    assert!(
        starts(&closed).is_empty(),
        "a closure has no slots: {closed}"
    );

    // Clients cannot book before the salon opens; then they can, in euros.
    let body = tests::booking_body(
        &service_id,
        &stylist_id,
        "2027-11-02T10:00:00+01:00",
        "Ana García",
    );
    let (status, refused) = app.post_booking(&body, Some("before-open")).await;
    assert_eq!(status, 409, "{refused}");
    assert_eq!(
        refused["type"]
            .as_str()
            .map(|t| t.ends_with("salon-not-open")),
        Some(true),
        "{refused}"
    );
    let opened = patch(&app, Some(&write), json!({"open": true}), &[]).await;
    assert_eq!(
        (opened.status, opened.body["open"].clone()),
        (200, json!(true))
    );
    let (status, booked) = app.post_booking(&body, Some("after-open")).await;
    assert_eq!(status, 201, "{booked}");
    assert_eq!(booked["currency"], "EUR");
    assert_eq!(booked["price_cents"], 9500);

    // With a booking, a new currency or zone needs confirmation (409), then is made.
    let unconfirmed = patch(&app, Some(&write), json!({"currency": "USD"}), &[]).await;
    assert_eq!(unconfirmed.status, 409, "{}", unconfirmed.body);
    assert_eq!(unconfirmed.error_fields(), ["currency"]);
    assert_eq!(app.get_json("/api/v1/salon").await.1["currency"], "EUR");
    let confirmed = patch(
        &app,
        Some(&write),
        json!({"currency": "USD", "confirm": true}),
        &[("x-reason", "moving to New York")],
    )
    .await;
    assert_eq!(confirmed.status, 200, "{}", confirmed.body);
    assert_eq!(confirmed.body["currency"], "USD");
    app.stop().await;
}

#[tokio::test]
async fn an_empty_store_serves_no_demo_and_opens_as_a_real_salon_on_sqlite() {
    an_empty_store_serves_no_demo_and_opens_as_a_real_salon(Backend::Sqlite).await;
}

#[tokio::test]
async fn an_empty_store_serves_no_demo_and_opens_as_a_real_salon_on_postgres() {
    an_empty_store_serves_no_demo_and_opens_as_a_real_salon(Backend::Postgres).await;
}

/// The setup link opens the owner-account form once; after the account is made with it, the
/// same link (and any other) is refused, and the new owner is logged in on the wizard.
async fn the_setup_link_works_once(backend: Backend) {
    let app = TestApp::spawn_empty(backend).await;
    let read = app.server.state.read.clone();
    let token = web::admin::setup::new_link(&read)
        .await
        .expect("link")
        .expect("no owner yet");
    let other = web::admin::setup::new_link(&read)
        .await
        .expect("link")
        .expect("no owner yet");
    let wrong = app.get("/admin/setup?token=not-a-token").await;
    assert_eq!(wrong.status(), 410);
    let page = app.get(&format!("/admin/setup?token={token}")).await;
    assert_eq!(page.status(), 200);
    let (cookie, _) = set_cookie(&page, "salon_admin_login").expect("form cookie");
    let html = page.text().await.expect("html");
    let csrf = csrf_in(&html);
    let send = |password_again: &'static str| {
        let form = [
            ("csrf", csrf.as_str()),
            ("token", token.as_str()),
            ("email", "Owner@Rizos.example"),
            ("name", "Marta"),
            ("password", "una contraseña larga"),
            ("password_again", password_again),
        ];
        app.http
            .post(app.url("/admin/setup/account"))
            .form_body(&form)
            .header("cookie", format!("salon_admin_login={cookie}"))
            .send()
    };
    let mismatch = send("otra cosa").await.expect("POST");
    assert_eq!(mismatch.status(), 422);
    assert!(mismatch
        .text()
        .await
        .unwrap_or_default()
        .contains("The two passwords differ"));
    let made = send("una contraseña larga").await.expect("POST");
    assert_eq!(made.status(), 303);
    assert_eq!(made.headers()["location"], "/admin/setup");
    let (session, _) = set_cookie(&made, "salon_admin").expect("logged in");
    let wizard = app
        .http
        .get(app.url("/admin/setup"))
        .header("cookie", format!("salon_admin={session}"))
        .send()
        .await
        .expect("GET");
    assert_eq!(wizard.status(), 200);
    assert!(wizard
        .text()
        .await
        .unwrap_or_default()
        .contains("Your salon"));
    for used in [&token, &other] {
        let again = app.get(&format!("/admin/setup?token={used}")).await;
        assert_eq!(
            again.status(),
            410,
            "a link works once, and none after an owner exists"
        );
    }
    assert!(web::admin::setup::new_link(&read)
        .await
        .expect("link")
        .is_none());
    app.stop().await;
}

#[tokio::test]
async fn the_setup_link_works_once_on_sqlite() {
    the_setup_link_works_once(Backend::Sqlite).await;
}

#[tokio::test]
async fn the_setup_link_works_once_on_postgres() {
    the_setup_link_works_once(Backend::Postgres).await;
}
