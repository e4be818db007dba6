//! Sessions, CSRF tokens and login throttling for the server-rendered faces. The partner's
//! dashboard uses it with one shared password; the owner's panel with owner accounts (another
//! [`Realm`], its own cookie), so nothing here knows about passwords.
//!
//! - **Sessions** live in the database (`web_sessions`, migration 0008): the cookie carries 32
//!   random bytes; the table keeps only their SHA-256, the realm, the subject, the session's
//!   CSRF token and the expiry. Cookies are `HttpOnly; SameSite=Strict; Path=/`, `Secure` when
//!   the public URL is https.
//! - **CSRF**: a logged-in form carries the session's token; the login form, which has no
//!   session yet, carries a token that must equal a short-lived cookie set with the form
//!   (double submit). Both compared in constant time.
//! - **Throttle**: failed logins are counted per client address and overall in a sliding
//!   minute; the attempt after the ninth failure is refused with 429 before the password is
//!   looked at. Counted in this process (a second server counts its own).

use axum::http::{header, HeaderMap, HeaderValue};
use projections::ReadDb;
use sha2::{Digest, Sha256};
use sqlx::Row;
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;

/// Which face a session opens. A session of one realm never opens the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Realm {
    /// The partner's dashboard (`/dashboard`).
    Dashboard,
    /// The owner's panel (`/admin`).
    Admin,
}

impl Realm {
    pub fn name(self) -> &'static str {
        match self {
            Self::Dashboard => "dashboard",
            Self::Admin => "admin",
        }
    }

    /// The session cookie's name.
    pub fn cookie(self) -> &'static str {
        match self {
            Self::Dashboard => "salon_dashboard",
            Self::Admin => "salon_admin",
        }
    }

    /// The login form's CSRF cookie.
    pub fn login_cookie(self) -> &'static str {
        match self {
            Self::Dashboard => "salon_dashboard_login",
            Self::Admin => "salon_admin_login",
        }
    }
}

/// A valid session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub realm: Realm,
    /// Who: `partner` on the dashboard; an owner account on the panel.
    pub subject: String,
    /// The token every form of this session must carry.
    pub csrf: String,
    pub expires_epoch: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error(transparent)]
    Sql(#[from] sqlx::Error),
}

/// 32 random bytes from the operating system's generator, hex-encoded.
pub fn random_token() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Equal in constant time. Both sides are hashed first, so not even the length leaks.
pub fn same_secret(given: &str, expected: &str) -> bool {
    let a = Sha256::digest(given.as_bytes());
    let b = Sha256::digest(expected.as_bytes());
    bool::from(a.as_slice().ct_eq(b.as_slice()))
}

fn hash(id: &str) -> String {
    hex::encode(Sha256::digest(id.as_bytes()))
}

/// A cookie's value from the request, if sent.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
}

fn well_formed(token: &str) -> bool {
    token.len() == 64 && token.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The session store of one realm.
#[derive(Clone, Debug)]
pub struct Sessions {
    db: ReadDb,
    realm: Realm,
    /// Add `Secure` to cookies (the public URL is https).
    secure: bool,
    ttl: chrono::Duration,
}

impl Sessions {
    pub fn new(db: ReadDb, realm: Realm, secure: bool, ttl: chrono::Duration) -> Self {
        Self {
            db,
            realm,
            secure,
            ttl,
        }
    }

    pub fn realm(&self) -> Realm {
        self.realm
    }

    /// Opens a session for `subject`; returns the cookie value (the only copy of the id) and
    /// the session. Expired sessions of every realm are swept on the way.
    pub async fn create(&self, subject: &str) -> Result<(String, Session), AuthError> {
        let now = chrono::Utc::now();
        sqlx::query("DELETE FROM web_sessions WHERE expires_epoch < $1")
            .bind(now.timestamp())
            .execute(self.db.pool())
            .await?;
        let id = random_token();
        let session = Session {
            realm: self.realm,
            subject: subject.to_string(),
            csrf: random_token(),
            expires_epoch: (now + self.ttl).timestamp(),
        };
        sqlx::query(
            "INSERT INTO web_sessions (id_hash, realm, subject, csrf_token, created_at, expires_epoch) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(hash(&id))
        .bind(self.realm.name().to_string())
        .bind(session.subject.clone())
        .bind(session.csrf.clone())
        .bind(now.to_rfc3339())
        .bind(session.expires_epoch)
        .execute(self.db.pool())
        .await?;
        Ok((id, session))
    }

    /// The session the request's cookie names, when it exists, is of this realm and has not
    /// expired.
    pub async fn find(&self, headers: &HeaderMap) -> Result<Option<Session>, AuthError> {
        find(&self.db, self.realm, headers).await
    }

    /// Ends the request's session (logout). Ending none is not an error.
    pub async fn end(&self, headers: &HeaderMap) -> Result<(), AuthError> {
        if let Some(id) = cookie(headers, self.realm.cookie()).filter(|v| well_formed(v)) {
            sqlx::query("DELETE FROM web_sessions WHERE id_hash = $1 AND realm = $2")
                .bind(hash(id))
                .bind(self.realm.name().to_string())
                .execute(self.db.pool())
                .await?;
        }
        Ok(())
    }

    fn attributes(&self, max_age: i64) -> String {
        let secure = if self.secure { "; Secure" } else { "" };
        format!("; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}")
    }

    /// `Set-Cookie` for a new session.
    pub fn set_cookie(&self, id: &str) -> HeaderValue {
        let v = format!(
            "{}={id}{}",
            self.realm.cookie(),
            self.attributes(self.ttl.num_seconds())
        );
        HeaderValue::from_str(&v).unwrap_or_else(|_| HeaderValue::from_static(""))
    }

    /// `Set-Cookie` that removes the session cookie.
    pub fn clear_cookie(&self) -> HeaderValue {
        let v = format!("{}={}", self.realm.cookie(), self.attributes(0));
        HeaderValue::from_str(&v).unwrap_or_else(|_| HeaderValue::from_static(""))
    }

    /// The login form's CSRF token: the one in the request's cookie when well formed, else a
    /// new one. The second value is the `Set-Cookie` to send (always, so it is refreshed).
    pub fn login_token(&self, headers: &HeaderMap) -> (String, HeaderValue) {
        let token = cookie(headers, self.realm.login_cookie())
            .filter(|t| well_formed(t))
            .map(str::to_string)
            .unwrap_or_else(random_token);
        let v = format!(
            "{}={token}{}",
            self.realm.login_cookie(),
            self.attributes(3600)
        );
        let header = HeaderValue::from_str(&v).unwrap_or_else(|_| HeaderValue::from_static(""));
        (token, header)
    }

    /// Does the login form's token match its cookie?
    pub fn login_token_ok(&self, headers: &HeaderMap, sent: Option<&str>) -> bool {
        match (cookie(headers, self.realm.login_cookie()), sent) {
            (Some(c), Some(s)) if well_formed(c) => same_secret(s, c),
            _ => false,
        }
    }
}

/// Looks up the session a request's cookie names (for extractors outside this crate, such as
/// the live stream's watcher).
pub async fn find(
    db: &ReadDb,
    realm: Realm,
    headers: &HeaderMap,
) -> Result<Option<Session>, AuthError> {
    let Some(id) = cookie(headers, realm.cookie()).filter(|v| well_formed(v)) else {
        return Ok(None);
    };
    let row = sqlx::query(
        "SELECT subject, csrf_token, expires_epoch FROM web_sessions \
         WHERE id_hash = $1 AND realm = $2 AND expires_epoch >= $3",
    )
    .bind(hash(id))
    .bind(realm.name().to_string())
    .bind(chrono::Utc::now().timestamp())
    .fetch_optional(db.pool())
    .await?;
    let Some(r) = row else { return Ok(None) };
    Ok(Some(Session {
        realm,
        subject: r.try_get("subject")?,
        csrf: r.try_get("csrf_token")?,
        expires_epoch: r.try_get("expires_epoch")?,
    }))
}

/// The client's address for a login throttle: the first `X-Forwarded-For` hop when the server
/// is told it sits behind a proxy that sets it (`SALON_TRUST_FORWARDED`), else the
/// connection's peer. Untrusted, a forged header would let one client spread its failures over
/// made-up addresses; behind an untrusted proxy every client counts as the proxy (the overall
/// limit holds either way).
pub fn client_ip(parts: &axum::http::request::Parts, trust_forwarded: bool) -> IpAddr {
    let forwarded = trust_forwarded
        .then(|| {
            parts
                .headers
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(',').next())
                .and_then(|v| v.trim().parse::<IpAddr>().ok())
        })
        .flatten();
    forwarded.unwrap_or_else(|| {
        parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0.ip())
            .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED))
    })
}

/// Failed logins in a sliding window, per client address and overall.
#[derive(Debug)]
pub struct Throttle {
    window: Duration,
    /// Failures within the window after which attempts are refused (per address).
    per_address: usize,
    /// The same, over all addresses together.
    overall: usize,
    state: Mutex<ThrottleState>,
}

#[derive(Debug, Default)]
struct ThrottleState {
    by_address: HashMap<IpAddr, VecDeque<Instant>>,
    all: VecDeque<Instant>,
}

impl Default for Throttle {
    /// Nine failures a minute; the tenth attempt is refused.
    fn default() -> Self {
        Self::new(Duration::from_secs(60), 9, 9)
    }
}

fn prune(q: &mut VecDeque<Instant>, now: Instant, window: Duration) {
    while q.front().is_some_and(|t| now.duration_since(*t) >= window) {
        q.pop_front();
    }
}

impl Throttle {
    pub fn new(window: Duration, per_address: usize, overall: usize) -> Self {
        Self {
            window,
            per_address,
            overall,
            state: Mutex::default(),
        }
    }

    /// `Some(wait)` when an attempt from `ip` must be refused now, with how long until the
    /// oldest counted failure leaves the window.
    pub fn refused(&self, ip: IpAddr) -> Option<Duration> {
        // A poisoned lock only means another request panicked mid-update; the counts are
        // still counts.
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let window = self.window;
        prune(&mut s.all, now, window);
        let wait = |q: &VecDeque<Instant>| {
            q.front()
                .map(|t| window.saturating_sub(now.duration_since(*t)))
                .unwrap_or(window)
        };
        if s.all.len() >= self.overall {
            return Some(wait(&s.all));
        }
        if let Some(q) = s.by_address.get_mut(&ip) {
            prune(q, now, window);
            if q.len() >= self.per_address {
                return Some(wait(q));
            }
        }
        None
    }

    /// Counts one failed attempt from `ip`.
    pub fn failed(&self, ip: IpAddr) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let window = self.window;
        if s.by_address.len() > 10_000 {
            // Bounded memory under a spray of addresses: forget addresses whose failures
            // have all left the window.
            s.by_address.retain(|_, q| {
                prune(q, now, window);
                !q.is_empty()
            });
        }
        s.by_address.entry(ip).or_default().push_back(now);
        s.all.push_back(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tenth_attempt_after_nine_failures_is_refused() {
        let t = Throttle::default();
        let ip: IpAddr = "10.0.0.1".parse().expect("ip");
        for _ in 0..9 {
            assert!(t.refused(ip).is_none());
            t.failed(ip);
        }
        assert!(t.refused(ip).is_some());
    }

    #[test]
    fn failures_leave_the_window() {
        let t = Throttle::new(Duration::from_millis(50), 2, 100);
        let ip: IpAddr = "10.0.0.2".parse().expect("ip");
        t.failed(ip);
        t.failed(ip);
        assert!(t.refused(ip).is_some());
        std::thread::sleep(Duration::from_millis(60));
        assert!(t.refused(ip).is_none());
    }

    #[test]
    fn overall_failures_count_across_addresses() {
        let t = Throttle::new(Duration::from_secs(60), 100, 3);
        for i in 1..=3u8 {
            t.failed(IpAddr::from([10, 0, 1, i]));
        }
        assert!(t.refused(IpAddr::from([10, 0, 2, 1])).is_some());
    }

    #[test]
    fn cookies_are_read_from_any_cookie_header() {
        let mut h = HeaderMap::new();
        h.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; salon_dashboard=xyz"),
        );
        h.append(header::COOKIE, HeaderValue::from_static("b=2"));
        assert_eq!(cookie(&h, "salon_dashboard"), Some("xyz"));
        assert_eq!(cookie(&h, "b"), Some("2"));
        assert_eq!(cookie(&h, "c"), None);
    }

    #[test]
    fn secrets_compare_equal_only_when_equal() {
        assert!(same_secret("hunter2", "hunter2"));
        assert!(!same_secret("hunter", "hunter2"));
        assert!(!same_secret("", "hunter2"));
    }
}
