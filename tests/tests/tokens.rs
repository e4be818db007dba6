//! API tokens over HTTP, on SQLite and PostgreSQL: create (secret shown once, never stored),
//! list with filters and paging, last use recorded, revoke, and auth at every step.

use domain::token::Scope;
use serde_json::{json, Value};
use tests::{TestApp, BACKENDS};

async fn call(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value, reqwest::header::HeaderMap) {
    let mut req = app.http.request(method, app.url(path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.expect("request");
    let status = r.status().as_u16();
    assert!(status < 500, "{path}: {status}");
    let headers = r.headers().clone();
    (status, r.json().await.unwrap_or(Value::Null), headers)
}

#[tokio::test]
async fn tokens_are_created_listed_used_and_revoked_with_auth_at_every_step() {
    for backend in BACKENDS {
        let app = TestApp::spawn(backend).await;
        let admin = app.token("admin", Scope::Write).await;
        let reader = app.token("reader", Scope::Read).await;
        use reqwest::Method;

        // No token, a wrong one, a read token writing.
        let (status, _, headers) = call(&app, Method::GET, "/api/v1/tokens", None, None).await;
        assert_eq!(status, 401);
        assert!(headers.contains_key("www-authenticate"));
        let (status, _, _) = call(
            &app,
            Method::GET,
            "/api/v1/tokens",
            Some("salon_nope"),
            None,
        )
        .await;
        assert_eq!(status, 401);
        let new = json!({"name": "Partner site", "scope": "write"});
        let (status, _, _) = call(
            &app,
            Method::POST,
            "/api/v1/tokens",
            Some(&reader),
            Some(new.clone()),
        )
        .await;
        assert_eq!(status, 403);

        // Created: the secret once.
        let (status, created, _) = call(
            &app,
            Method::POST,
            "/api/v1/tokens",
            Some(&admin),
            Some(new.clone()),
        )
        .await;
        assert_eq!(status, 201, "{created}");
        let secret = created["token"].as_str().unwrap().to_string();
        assert!(secret.starts_with("salon_"));
        assert_eq!(created["scope"], "write");
        assert_eq!(created["revoked"], false);
        let id = created["id"].as_str().unwrap().to_string();
        // Bad input and a name in use.
        let (status, dup, _) = call(
            &app,
            Method::POST,
            "/api/v1/tokens",
            Some(&admin),
            Some(new),
        )
        .await;
        assert_eq!(status, 422);
        assert_eq!(dup["errors"][0]["field"], "name");
        let (status, bad, _) = call(
            &app,
            Method::POST,
            "/api/v1/tokens",
            Some(&admin),
            Some(json!({"name": "x", "scope": "admin"})),
        )
        .await;
        assert_eq!(status, 422);
        assert_eq!(bad["errors"][0]["field"], "scope");
        let (status, bad, _) = call(
            &app,
            Method::POST,
            "/api/v1/tokens",
            Some(&admin),
            Some(json!({"scope": "read"})),
        )
        .await;
        assert_eq!(status, 422);
        assert_eq!(bad["errors"][0]["field"], "name");

        // The new token works, and its use is recorded.
        let (status, listed, _) =
            call(&app, Method::GET, "/api/v1/tokens", Some(&secret), None).await;
        assert_eq!(status, 200, "{listed}");
        assert_eq!(listed["count"], 3);
        let mine = listed["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["id"] == json!(id))
            .cloned()
            .unwrap();
        assert!(mine["last_used_at"].as_str().is_some(), "{mine}");
        let text = listed.to_string();
        assert!(!text.contains(&secret) && !text.contains("secret_hash"));

        // Filters and paging.
        let (_, writes, _) = call(
            &app,
            Method::GET,
            "/api/v1/tokens?scope=write",
            Some(&admin),
            None,
        )
        .await;
        assert_eq!(writes["count"], 2);
        let (_, found, _) = call(
            &app,
            Method::GET,
            "/api/v1/tokens?search=PARTNER",
            Some(&admin),
            None,
        )
        .await;
        assert_eq!(found["count"], 1);
        let (_, first, _) = call(
            &app,
            Method::GET,
            "/api/v1/tokens?limit=2",
            Some(&admin),
            None,
        )
        .await;
        assert_eq!(first["results"].as_array().unwrap().len(), 2);
        assert!(first["next"].as_str().unwrap().contains("offset=2"));
        assert_eq!(first["previous"], Value::Null);
        let (_, last, _) = call(
            &app,
            Method::GET,
            "/api/v1/tokens?limit=2&offset=2",
            Some(&admin),
            None,
        )
        .await;
        assert_eq!(last["results"].as_array().unwrap().len(), 1);
        assert_eq!(last["next"], Value::Null);
        let (status, _, _) = call(
            &app,
            Method::GET,
            "/api/v1/tokens?revoked=maybe",
            Some(&admin),
            None,
        )
        .await;
        assert_eq!(status, 422);

        // Revoked: 401 from then on; twice is a conflict; unknown is 404.
        let path = format!("/api/v1/tokens/{id}");
        let (status, _, _) = call(&app, Method::DELETE, &path, Some(&reader), None).await;
        assert_eq!(status, 403);
        let (status, _, _) = call(&app, Method::DELETE, &path, Some(&admin), None).await;
        assert_eq!(status, 204);
        let (status, _, _) = call(&app, Method::GET, "/api/v1/tokens", Some(&secret), None).await;
        assert_eq!(status, 401);
        let (status, _, _) = call(&app, Method::DELETE, &path, Some(&admin), None).await;
        assert_eq!(status, 409);
        let (status, _, _) = call(
            &app,
            Method::DELETE,
            "/api/v1/tokens/00000000-0000-0000-0000-000000000000",
            Some(&admin),
            None,
        )
        .await;
        assert_eq!(status, 404);
        let (_, revoked, _) = call(
            &app,
            Method::GET,
            "/api/v1/tokens?revoked=true",
            Some(&admin),
            None,
        )
        .await;
        assert_eq!(revoked["count"], 1);
        // The name is free again once revoked.
        let (status, _, _) = call(
            &app,
            Method::POST,
            "/api/v1/tokens",
            Some(&admin),
            Some(json!({"name": "Partner site"})),
        )
        .await;
        assert_eq!(status, 201);

        // The secret is nowhere in the log; who created it is.
        let log: Vec<String> = sqlx::query_scalar("SELECT CAST(payload AS TEXT) || CAST(metadata AS TEXT) FROM events WHERE aggregate_type = 'ApiToken'")
            .fetch_all(app.server.state.read.pool())
            .await
            .unwrap();
        assert!(log.iter().all(|e| !e.contains(&secret)));
        assert!(log.iter().any(|e| e.contains("token:admin")));
        app.stop().await;
    }
}
