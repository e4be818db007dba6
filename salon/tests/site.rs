//! The booking site's configuration and export: `/config.js` from the environment,
//! `salon export-site`, and CORS on the API for the allow-listed site origins only.

use salon::app::{self, Config};
use salon::scratch;
use serde_json::Value;
use std::process::Command;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_salon");

fn temp_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("salon-site-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

#[test]
fn export_site_writes_every_file_with_the_configured_urls() {
    let dir = temp_dir();
    let out = dir.join("public");
    let run = Command::new(BIN)
        .arg("export-site")
        .arg(&out)
        .args(["--api-base", "https://api.example.com/"])
        .args(["--intake-url", "https://intake.example.com"])
        .env_remove("SALON_PUBLIC_API_BASE")
        .env_remove("SALON_PUBLIC_INTAKE_URL")
        .output()
        .expect("run export-site");
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    for asset in web::ASSETS.iter().filter(|a| a.path != "/") {
        let written = std::fs::read(out.join(asset.path.trim_start_matches('/'))).expect("file");
        assert_eq!(
            written,
            asset.served(),
            "{} differs from what the binary serves",
            asset.path
        );
    }
    let config = std::fs::read_to_string(out.join("config.js")).expect("config.js");
    assert!(
        config.contains(
            r#"{"api_base":"https://api.example.com","intake_url":"https://intake.example.com"}"#
        ),
        "{config}"
    );
    // A bad URL is refused with a readable message, and nothing half-written is claimed.
    let bad = Command::new(BIN)
        .arg("export-site")
        .arg(dir.join("bad"))
        .args(["--api-base", "api.example.com"])
        .output()
        .expect("run export-site");
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("absolute http:// or https:// URL"));
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn config_js_and_cors_follow_the_settings() {
    let dir = temp_dir();
    let mut config = Config::new(
        scratch::sqlite_in(&dir, "salon.db"),
        "127.0.0.1:0".parse().expect("addr"),
    );
    config.site = web::SiteConfig::new(None, Some("http://127.0.0.1:8081")).expect("valid");
    config.site_origins = vec!["https://book.example.com".into()];
    let server = app::start(config).await.expect("start");
    let base = format!("http://{}", server.addr);
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client");

    let js = http
        .get(format!("{base}/config.js"))
        .send()
        .await
        .expect("config.js");
    assert_eq!(js.status(), 200);
    assert!(js.headers()["content-type"]
        .to_str()
        .unwrap_or("")
        .starts_with("text/javascript"));
    assert!(js.headers().contains_key("etag"));
    let text = js.text().await.expect("text");
    assert!(
        text.contains(r#"{"api_base":"","intake_url":"http://127.0.0.1:8081"}"#),
        "{text}"
    );

    let preflight = |origin: &'static str| {
        http.request(reqwest::Method::OPTIONS, format!("{base}/api/v1/bookings"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "content-type,idempotency-key",
            )
            .send()
    };
    let allowed = preflight("https://book.example.com")
        .await
        .expect("preflight");
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://book.example.com"
    );
    let headers = allowed.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap_or("")
        .to_string();
    assert!(headers.contains("idempotency-key"), "{headers}");
    let other = preflight("https://evil.example.com")
        .await
        .expect("preflight");
    assert!(!other.headers().contains_key("access-control-allow-origin"));
    // A simple GET from the allowed origin carries the header too; the body is unchanged.
    let r = http
        .get(format!("{base}/api/v1/salon"))
        .header("origin", "https://book.example.com")
        .send()
        .await
        .expect("GET salon");
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "https://book.example.com"
    );
    let v: Value = r.json().await.expect("json");
    assert!(v["name"].is_string());

    server.shutdown().await.expect("shutdown");
    let _ = std::fs::remove_dir_all(dir);
}
