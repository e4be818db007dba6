//! Rate limits: per client address on the public booking endpoint, and per API token on
//! every authenticated call. Token buckets kept in this process's memory: each key refills at
//! its rate and holds at most `burst` requests; a request finding the bucket empty is answered
//! 429 (problem+json) with `Retry-After`, and does nothing.
//!
//! Per process, not shared: behind a load balancer with N servers a client gets up to N times
//! the rate. That bounds abuse well enough for a salon; a shared limiter would cost a database
//! round trip on every request.

use crate::problem::Problem;
use axum::extract::{ConnectInfo, Request};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::Instant;

/// How fast a key may go: `per_minute` on average, up to `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub per_minute: u32,
    pub burst: u32,
}

impl Rate {
    pub const fn new(per_minute: u32, burst: u32) -> Self {
        Self { per_minute, burst }
    }

    /// No limit at all (benchmarks and tests that are not about limits).
    pub const UNLIMITED: Rate = Rate::new(u32::MAX, u32::MAX);

    /// Reads `"N"` (per minute, burst N) or `"N/B"` (per minute N, burst B).
    pub fn parse(raw: &str) -> Result<Self, String> {
        let number = |s: &str| {
            s.trim()
                .parse::<u32>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| format!("{raw:?} is not a rate like 30 or 30/10 (per minute/burst)"))
        };
        match raw.split_once('/') {
            Some((rate, burst)) => Ok(Self::new(number(rate)?, number(burst)?)),
            None => {
                let n = number(raw)?;
                Ok(Self::new(n, n))
            }
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Token buckets by key.
#[derive(Debug)]
pub struct Limiter {
    rate: Rate,
    // A std mutex: every critical section is a map lookup and a little arithmetic.
    buckets: Mutex<HashMap<String, Bucket>>,
}

/// Past this many keys, buckets that are full again are dropped (they hold no information).
const MAX_KEYS: usize = 50_000;

impl Limiter {
    pub fn new(rate: Rate) -> Self {
        Self {
            rate,
            buckets: Mutex::default(),
        }
    }

    /// Takes one request for `key` at `now`: `Err(seconds to wait)` when the bucket is empty.
    pub fn take(&self, key: &str, now: Instant) -> Result<(), u32> {
        if self.rate == Rate::UNLIMITED {
            return Ok(());
        }
        let per_sec = f64::from(self.rate.per_minute) / 60.0;
        let burst = f64::from(self.rate.burst);
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() >= MAX_KEYS {
            buckets.retain(|_, b| {
                b.tokens + now.saturating_duration_since(b.at).as_secs_f64() * per_sec < burst
            });
        }
        let bucket = buckets.entry(key.to_string()).or_insert(Bucket {
            tokens: burst,
            at: now,
        });
        let refill = now.saturating_duration_since(bucket.at).as_secs_f64() * per_sec;
        bucket.tokens = (bucket.tokens + refill).min(burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            let wait = ((1.0 - bucket.tokens) / per_sec).ceil();
            Err(wait.clamp(1.0, 3600.0) as u32)
        }
    }
}

/// The limits of one server.
#[derive(Debug)]
pub struct RateLimits {
    /// `POST /api/v1/bookings` by client address.
    pub bookings: Limiter,
    /// Authenticated calls by token.
    pub tokens: Limiter,
    /// Take the client address from `X-Forwarded-For` (behind a trusted proxy only).
    pub trust_forwarded: bool,
}

impl RateLimits {
    pub fn new(bookings: Rate, tokens: Rate, trust_forwarded: bool) -> Self {
        Self {
            bookings: Limiter::new(bookings),
            tokens: Limiter::new(tokens),
            trust_forwarded,
        }
    }

    pub fn unlimited() -> Self {
        Self::new(Rate::UNLIMITED, Rate::UNLIMITED, false)
    }
}

impl Default for RateLimits {
    /// 30 bookings a minute per address (a burst of 10), 600 calls a minute per token (a
    /// burst of 120).
    fn default() -> Self {
        Self::new(Rate::new(30, 10), Rate::new(600, 120), false)
    }
}

/// 429 with `Retry-After`.
pub fn too_many(retry_after: u32, what: &str) -> Problem {
    let mut p = Problem::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate-limited",
        "Too many requests",
        format!("Too many {what}; try again in {retry_after} seconds."),
    );
    p.retry_after = Some(retry_after);
    p
}

/// The client's address: the connection's peer, or the first `X-Forwarded-For` hop when the
/// server is told it sits behind a proxy that sets it.
fn client_ip(req: &Request, trust_forwarded: bool) -> Option<IpAddr> {
    if trust_forwarded {
        if let Some(ip) = req
            .headers()
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .and_then(|v| v.trim().parse::<IpAddr>().ok())
        {
            return Some(ip);
        }
    }
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
}

/// Middleware: the per-address limit on placing bookings.
pub async fn bookings(
    axum::extract::State(state): axum::extract::State<crate::AppState>,
    req: Request,
    next: Next,
) -> Response {
    if req.method() == axum::http::Method::POST && req.uri().path() == "/api/v1/bookings" {
        let key = client_ip(&req, state.limits.trust_forwarded)
            .map(|ip| ip.to_string())
            .unwrap_or_else(|| "unknown".into());
        if let Err(wait) = state.limits.bookings.take(&key, Instant::now()) {
            tracing::info!(client = %key, "booking rate limit reached");
            return too_many(wait, "bookings from this address").into_response();
        }
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_bucket_allows_its_burst_then_refills_at_its_rate() {
        let limiter = Limiter::new(Rate::new(60, 3));
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(limiter.take("a", t0), Ok(()));
        }
        assert_eq!(limiter.take("a", t0), Err(1));
        // Another key has its own bucket.
        assert_eq!(limiter.take("b", t0), Ok(()));
        // One a second comes back.
        assert_eq!(limiter.take("a", t0 + Duration::from_millis(1000)), Ok(()));
        assert!(limiter.take("a", t0 + Duration::from_millis(1100)).is_err());
        // Never more than the burst, however long the wait.
        let later = t0 + Duration::from_secs(3600);
        for _ in 0..3 {
            assert_eq!(limiter.take("a", later), Ok(()));
        }
        assert!(limiter.take("a", later).is_err());
    }

    #[test]
    fn rates_parse_from_the_environment_form() {
        assert_eq!(Rate::parse("30"), Ok(Rate::new(30, 30)));
        assert_eq!(Rate::parse("600/120"), Ok(Rate::new(600, 120)));
        assert!(Rate::parse("0").is_err());
        assert!(Rate::parse("fast").is_err());
    }
}
