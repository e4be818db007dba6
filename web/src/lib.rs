//! The client booking site at `/`: vanilla JavaScript modules, CSS and a service worker,
//! embedded in the binary so it stands alone. Every file is served with its Content-Type, a
//! weak ETag (answering `If-None-Match` with 304), `Cache-Control: no-cache` and gzip, so browsers
//! and the service worker revalidate cheaply and never run a stale shell after a deploy.
//!
//! `/config.js` is not a file: it is written from [`SiteConfig`] (where the API and the intake
//! are), by the server for the live site and by [`export`] for a copy served elsewhere (a CDN).
//!
//! The partner's dashboard (`/dashboard`) lives in [`dashboard`], over the session, CSRF and
//! login-throttle layer in [`auth`], which the owner's panel (`/admin`, [`admin`]) shares.

pub mod admin;
pub mod auth;
pub mod dashboard;
pub mod upload;

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use std::sync::OnceLock;
use tower_http::compression::CompressionLayer;

/// One embedded file: the URL path it answers, its type and bytes.
pub struct Asset {
    pub path: &'static str,
    pub content_type: &'static str,
    pub body: &'static [u8],
}

macro_rules! asset {
    ($path:literal, $file:literal, $ty:expr) => {
        Asset {
            path: $path,
            content_type: $ty,
            body: include_bytes!(concat!("../site/", $file)),
        }
    };
}

const JS: &str = "text/javascript; charset=utf-8";

/// Every file of the site.
pub static ASSETS: &[Asset] = &[
    asset!("/", "index.html", "text/html; charset=utf-8"),
    asset!("/index.html", "index.html", "text/html; charset=utf-8"),
    asset!("/styles.css", "styles.css", "text/css; charset=utf-8"),
    asset!("/app.js", "app.js", JS),
    asset!("/api.js", "api.js", JS),
    asset!("/queue.js", "queue.js", JS),
    asset!("/manage.js", "manage.js", JS),
    asset!("/review.js", "review.js", JS),
    asset!("/format.js", "format.js", JS),
    asset!("/fallback-data.js", "fallback-data.js", JS),
    asset!("/sw.js", "sw.js", JS),
    asset!(
        "/manifest.webmanifest",
        "manifest.webmanifest",
        "application/manifest+json"
    ),
    asset!("/icon.svg", "icon.svg", "image/svg+xml"),
    asset!("/blank.html", "blank.html", "text/html; charset=utf-8"),
];

/// Where the site finds the API and the intake. Empty `api_base` means the site's own origin.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SiteConfig {
    /// Origin (and optional path prefix) of the API, without a trailing slash; "" = same origin.
    pub api_base: String,
    /// Base URL of `salon intake`, without a trailing slash; `None` = no second path.
    pub intake_url: Option<String>,
}

/// A configured URL that is not an absolute http(s) URL.
#[derive(Debug, thiserror::Error)]
#[error(
    "{name} must be an absolute http:// or https:// URL without query or fragment, got {value:?}"
)]
pub struct BadUrl {
    pub name: &'static str,
    pub value: String,
}

fn base_url(name: &'static str, value: &str) -> Result<String, BadUrl> {
    let v = value.trim().trim_end_matches('/');
    let rest = v
        .strip_prefix("https://")
        .or_else(|| v.strip_prefix("http://"));
    match rest {
        Some(host)
            if !host.is_empty()
                && !host.starts_with('/')
                && !v.contains(['?', '#', '"', '\\', '<', '>', ' '])
                && v.is_ascii() =>
        {
            Ok(v.to_string())
        }
        _ => Err(BadUrl {
            name,
            value: value.to_string(),
        }),
    }
}

impl SiteConfig {
    /// From optional settings (`SALON_PUBLIC_API_BASE`, `SALON_PUBLIC_INTAKE_URL`); empty
    /// strings count as unset.
    pub fn new(api_base: Option<&str>, intake_url: Option<&str>) -> Result<Self, BadUrl> {
        fn set(v: Option<&str>) -> Option<&str> {
            v.map(str::trim).filter(|v| !v.is_empty())
        }
        Ok(Self {
            api_base: match set(api_base) {
                Some(v) => base_url("the API base", v)?,
                None => String::new(),
            },
            intake_url: set(intake_url)
                .map(|v| base_url("the intake URL", v))
                .transpose()?,
        })
    }

    /// The ES module the site imports as `./config.js`.
    pub fn to_js(&self) -> String {
        let json = serde_json::json!({
            "api_base": self.api_base,
            "intake_url": self.intake_url,
        });
        format!("// Written by salon from SALON_PUBLIC_API_BASE and SALON_PUBLIC_INTAKE_URL.\nexport default {json};\n")
    }
}

const STYLESHEET_LINK: &str = r#"<link rel="stylesheet" href="/styles.css">"#;

impl Asset {
    /// The bytes served (and exported) for this path. `index.html` goes out with `styles.css`
    /// inlined: one round trip fewer before the first paint (measured in BENCHMARKS.md); the
    /// source files stay separate and the stylesheet is still served on its own.
    pub fn served(&self) -> &'static [u8] {
        if self.path == "/" || self.path == "/index.html" {
            index_html()
        } else {
            self.body
        }
    }
}

fn index_html() -> &'static [u8] {
    static INDEX: OnceLock<Vec<u8>> = OnceLock::new();
    INDEX.get_or_init(|| {
        let html = String::from_utf8_lossy(include_bytes!("../site/index.html"));
        let css = String::from_utf8_lossy(include_bytes!("../site/styles.css"));
        html.replacen(STYLESHEET_LINK, &format!("<style>\n{css}</style>"), 1)
            .into_bytes()
    })
}

/// FNV-1a, 64 bits: enough to tell versions of a file apart.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn etags() -> &'static [HeaderValue] {
    static ETAGS: OnceLock<Vec<HeaderValue>> = OnceLock::new();
    ETAGS.get_or_init(|| {
        ASSETS
            .iter()
            .map(|a| {
                HeaderValue::from_str(&format!("W/\"{:016x}\"", fnv1a(a.served())))
                    .unwrap_or_else(|_| HeaderValue::from_static("W/\"0\""))
            })
            .collect()
    })
}

fn serve(index: usize, headers: &HeaderMap) -> Response {
    let asset = &ASSETS[index];
    respond(
        asset.content_type,
        asset.served(),
        etags()[index].clone(),
        headers,
    )
}

fn respond(
    content_type: &'static str,
    body: &'static [u8],
    etag: HeaderValue,
    headers: &HeaderMap,
) -> Response {
    // Weak comparison (RFC 9110 §13.1.2): the gzipped and plain bodies are the same file.
    let opaque = |t: &str| t.trim().trim_start_matches("W/").to_string();
    let ours = etag.to_str().map(opaque).unwrap_or_default();
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == "*" || opaque(t) == ours));
    let common = [
        (header::ETAG, etag),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
    ];
    if matches {
        return (StatusCode::NOT_MODIFIED, common).into_response();
    }
    (
        common,
        [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
        body,
    )
        .into_response()
}

/// The site's routes, one per file, with the default config (API on the same origin, no
/// intake). Sets no fallback: it is merged into the API router, whose fallback answers
/// everything else with problem+json. Files go out gzipped to clients that accept it.
pub fn site_router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    site_router_with(&SiteConfig::default())
}

/// The site's routes with `/config.js` written from `config`.
pub fn site_router_with<S: Clone + Send + Sync + 'static>(config: &SiteConfig) -> Router<S> {
    // Built once per server; leaked so it can be served as a static body like the files.
    let js: &'static [u8] = Box::leak(config.to_js().into_bytes().into_boxed_slice());
    let etag = HeaderValue::from_str(&format!("W/\"{:016x}\"", fnv1a(js)))
        .unwrap_or_else(|_| HeaderValue::from_static("W/\"0\""));
    ASSETS
        .iter()
        .enumerate()
        .fold(Router::new(), |router, (index, asset)| {
            router.route(
                asset.path,
                get(move |headers: HeaderMap| async move { serve(index, &headers) }),
            )
        })
        .route(
            "/config.js",
            get(move |headers: HeaderMap| async move { respond(JS, js, etag.clone(), &headers) }),
        )
        .layer(CompressionLayer::new())
}

/// Writes the site into `dir` (created if missing) with `config.js` from `config`, ready for
/// any static file server or CDN. Returns the paths written, relative to `dir`.
pub fn export(dir: &std::path::Path, config: &SiteConfig) -> std::io::Result<Vec<String>> {
    std::fs::create_dir_all(dir)?;
    let mut written = Vec::new();
    for asset in ASSETS.iter().filter(|a| a.path != "/") {
        let name = asset.path.trim_start_matches('/');
        std::fs::write(dir.join(name), asset.served())?;
        written.push(name.to_string());
    }
    std::fs::write(dir.join("config.js"), config.to_js())?;
    written.push("config.js".to_string());
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_is_non_empty_and_paths_are_unique() {
        let mut paths: Vec<_> = ASSETS.iter().map(|a| a.path).collect();
        paths.sort_unstable();
        paths.dedup();
        assert_eq!(paths.len(), ASSETS.len());
        assert!(ASSETS.iter().all(|a| !a.body.is_empty()));
    }

    #[test]
    fn etag_matches_answer_not_modified() {
        let mut headers = HeaderMap::new();
        headers.insert(header::IF_NONE_MATCH, etags()[0].clone());
        assert_eq!(serve(0, &headers).status(), StatusCode::NOT_MODIFIED);
        assert_eq!(serve(0, &HeaderMap::new()).status(), StatusCode::OK);
    }

    #[test]
    fn index_goes_out_with_the_stylesheet_inlined() {
        let index = String::from_utf8_lossy(ASSETS[0].served()).to_string();
        assert!(!index.contains(STYLESHEET_LINK));
        assert!(index.contains("<style>\n:root {"));
        assert!(
            String::from_utf8_lossy(include_bytes!("../site/index.html")).contains(STYLESHEET_LINK)
        );
    }

    #[test]
    fn config_takes_absolute_urls_and_writes_a_module() {
        let c = SiteConfig::new(
            Some("https://api.example.com/"),
            Some("http://127.0.0.1:8081"),
        )
        .expect("valid");
        assert_eq!(c.api_base, "https://api.example.com");
        assert_eq!(
            c.to_js().lines().last(),
            Some(
                r#"export default {"api_base":"https://api.example.com","intake_url":"http://127.0.0.1:8081"};"#
            )
        );
        let default = SiteConfig::new(None, Some(" ")).expect("unset");
        assert_eq!(default, SiteConfig::default());
        assert!(default
            .to_js()
            .contains(r#"{"api_base":"","intake_url":null}"#));
        for bad in [
            "ftp://x",
            "example.com",
            "http://",
            "https://a.b/?q=1",
            "http://a\"b",
        ] {
            assert!(SiteConfig::new(Some(bad), None).is_err(), "{bad} accepted");
            assert!(SiteConfig::new(None, Some(bad)).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn export_writes_every_file_and_the_config() {
        let dir = std::env::temp_dir().join(format!("salon-export-{}", std::process::id()));
        let config = SiteConfig::new(Some("http://api.test"), None).expect("valid");
        let written = export(&dir, &config).expect("export");
        assert!(written.contains(&"index.html".to_string()));
        assert_eq!(written.len(), ASSETS.len()); // every file but "/" (= index.html), plus config
        let js = std::fs::read_to_string(dir.join("config.js")).expect("config.js");
        assert!(js.contains("http://api.test"));
        let _ = std::fs::remove_dir_all(dir);
    }
}
