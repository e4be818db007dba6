//! The client booking site at `/`: vanilla JavaScript modules, CSS and a service worker,
//! embedded in the binary so it stands alone. Every file is served with its Content-Type, a
//! weak ETag (answering `If-None-Match` with 304), `Cache-Control: no-cache` and gzip, so browsers
//! and the service worker revalidate cheaply and never run a stale shell after a deploy.
//!
//! The owner's panel (`/admin`) and the partner's dashboard (`/dashboard`) will live here too.

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
    asset!("/format.js", "format.js", JS),
    asset!("/fallback-data.js", "fallback-data.js", JS),
    asset!("/sw.js", "sw.js", JS),
    asset!(
        "/manifest.webmanifest",
        "manifest.webmanifest",
        "application/manifest+json"
    ),
    asset!("/icon.svg", "icon.svg", "image/svg+xml"),
];

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
                HeaderValue::from_str(&format!("W/\"{:016x}\"", fnv1a(a.body)))
                    .unwrap_or_else(|_| HeaderValue::from_static("W/\"0\""))
            })
            .collect()
    })
}

fn serve(index: usize, headers: &HeaderMap) -> Response {
    let asset = &ASSETS[index];
    let etag = etags()[index].clone();
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
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(asset.content_type),
        )],
        asset.body,
    )
        .into_response()
}

/// The site's routes, one per file. Sets no fallback: it is merged into the API router,
/// whose fallback answers everything else with problem+json.
/// Files go out gzipped to clients that accept it.
pub fn site_router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    ASSETS
        .iter()
        .enumerate()
        .fold(Router::new(), |router, (index, asset)| {
            router.route(
                asset.path,
                get(move |headers: HeaderMap| async move { serve(index, &headers) }),
            )
        })
        .layer(CompressionLayer::new())
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
}
