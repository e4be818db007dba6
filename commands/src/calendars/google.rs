//! Google Calendar: `freeBusy.query` over OAuth2, with a service-account key (signed JWT
//! assertion) or an installed-app refresh token. Base URLs are configurable so tests talk to a
//! local stub of the documented wire format. Quota errors and 5xx are retried with backoff.

use super::{Https, SourceError};
use chrono::{DateTime, Utc};
use domain::availability::Interval;
use http::header::{AUTHORIZATION, CONTENT_TYPE};
use http_body_util::BodyExt;
use serde::Deserialize;
use std::time::{Duration, Instant};

pub const DEFAULT_API_BASE: &str = "https://www.googleapis.com";
pub const DEFAULT_TOKEN_URL: &str = "https://oauth2.googleapis.com/token";
const SCOPE: &str = "https://www.googleapis.com/auth/calendar.freebusy";

#[derive(Debug, Clone)]
pub struct GoogleConfig {
    /// `GOOGLE_API_BASE`: where `/calendar/v3/freeBusy` lives.
    pub api_base: String,
    /// `GOOGLE_OAUTH_TOKEN_URL`: the OAuth2 token endpoint.
    pub token_url: String,
    /// Attempts per request (quota errors, 5xx, network errors) and the first backoff delay.
    pub attempts: u32,
    pub first_backoff: Duration,
}

impl Default for GoogleConfig {
    fn default() -> Self {
        Self {
            api_base: DEFAULT_API_BASE.into(),
            token_url: DEFAULT_TOKEN_URL.into(),
            attempts: 4,
            first_backoff: Duration::from_millis(500),
        }
    }
}

/// The credentials a Google source is registered with (the JSON Google hands out).
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum GoogleCredentials {
    ServiceAccount {
        client_email: String,
        private_key: String,
    },
    AuthorizedUser {
        client_id: String,
        client_secret: String,
        refresh_token: String,
    },
}

impl std::fmt::Debug for GoogleCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GoogleCredentials(<hidden>)")
    }
}

impl GoogleCredentials {
    /// Parses and checks credentials as the API receives them; the message names what is wrong
    /// without echoing any secret.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let creds: GoogleCredentials = serde_json::from_str(raw).map_err(|_| {
            "must be the JSON of a service account key (\"type\": \"service_account\", \
             client_email, private_key) or of an authorized user (\"type\": \"authorized_user\", \
             client_id, client_secret, refresh_token)"
                .to_string()
        })?;
        if let GoogleCredentials::ServiceAccount { private_key, .. } = &creds {
            jsonwebtoken::EncodingKey::from_rsa_pem(private_key.as_bytes())
                .map_err(|_| "private_key is not an RSA private key in PEM form".to_string())?;
        }
        Ok(creds)
    }
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

#[derive(Deserialize)]
struct OAuthError {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

#[derive(Deserialize)]
struct ApiErrorBody {
    error: ApiError,
}

#[derive(Deserialize)]
struct ApiError {
    #[serde(default)]
    code: u16,
    #[serde(default)]
    message: String,
    #[serde(default)]
    errors: Vec<ErrorItem>,
}

#[derive(Deserialize)]
struct ErrorItem {
    #[serde(default)]
    domain: String,
    #[serde(default)]
    reason: String,
}

#[derive(Deserialize)]
struct FreeBusyResponse {
    #[serde(default)]
    calendars: std::collections::HashMap<String, CalendarBusy>,
}

#[derive(Deserialize)]
struct CalendarBusy {
    #[serde(default)]
    busy: Vec<BusyPeriod>,
    #[serde(default)]
    errors: Vec<ErrorItem>,
}

#[derive(Deserialize)]
struct BusyPeriod {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
}

/// An answer: status and body text.
struct Answer {
    status: u16,
    body: String,
}

/// One Google calendar, with its cached access token.
pub struct GoogleCalendar {
    http: Https,
    timeout: Duration,
    config: GoogleConfig,
    calendar_id: String,
    credentials: GoogleCredentials,
    token: Option<(String, Instant)>,
}

impl GoogleCalendar {
    pub fn new(
        config: GoogleConfig,
        calendar_id: &str,
        credentials: &str,
        timeout: Duration,
    ) -> Result<Self, SourceError> {
        let credentials = GoogleCredentials::parse(credentials)
            .map_err(|m| SourceError::config(format!("Google credentials {m}")))?;
        Ok(Self {
            http: super::https_client(),
            timeout,
            config,
            calendar_id: calendar_id.trim().to_string(),
            credentials,
            token: None,
        })
    }

    async fn access_token(&mut self) -> Result<String, SourceError> {
        if let Some((token, until)) = &self.token {
            if Instant::now() < *until {
                return Ok(token.clone());
            }
        }
        let form: Vec<(&str, String)> = match &self.credentials {
            GoogleCredentials::ServiceAccount {
                client_email,
                private_key,
            } => {
                let now = Utc::now().timestamp();
                let claims = serde_json::json!({
                    "iss": client_email,
                    "scope": SCOPE,
                    "aud": self.config.token_url,
                    "iat": now,
                    "exp": now + 3600,
                });
                let key = jsonwebtoken::EncodingKey::from_rsa_pem(private_key.as_bytes())
                    .map_err(|_| SourceError::config("Google private_key is not an RSA key"))?;
                let jwt = jsonwebtoken::encode(
                    &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256),
                    &claims,
                    &key,
                )
                .map_err(|e| SourceError::config(format!("signing the Google assertion: {e}")))?;
                vec![
                    (
                        "grant_type",
                        "urn:ietf:params:oauth:grant-type:jwt-bearer".to_string(),
                    ),
                    ("assertion", jwt),
                ]
            }
            GoogleCredentials::AuthorizedUser {
                client_id,
                client_secret,
                refresh_token,
            } => vec![
                ("grant_type", "refresh_token".to_string()),
                ("client_id", client_id.clone()),
                ("client_secret", client_secret.clone()),
                ("refresh_token", refresh_token.clone()),
            ],
        };
        let url = self.config.token_url.clone();
        let encoded = form
            .iter()
            .map(|(k, v)| format!("{k}={}", form_encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let answer = self
            .send_with_retry("getting a Google access token", || {
                http::Request::post(url.as_str())
                    .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .body(encoded.clone())
            })
            .await?;
        let (status, body) = (answer.status, answer.body);
        if !(200..300).contains(&status) {
            let detail = serde_json::from_str::<OAuthError>(&body)
                .map(|e| match e.error_description {
                    Some(d) => format!("{}: {d}", e.error),
                    None => e.error,
                })
                .unwrap_or_else(|_| status.to_string());
            if status == 429 || status >= 500 {
                return Err(SourceError::transient(format!(
                    "Google's token endpoint answered {detail}"
                )));
            }
            return Err(SourceError::config(format!(
                "Google refused the credentials ({detail})"
            )));
        }
        let token: TokenResponse = serde_json::from_str(&body)
            .map_err(|_| SourceError::transient("Google's token answer was not understood"))?;
        let lifetime = Duration::from_secs(token.expires_in.unwrap_or(3600).saturating_sub(60));
        self.token = Some((token.access_token.clone(), Instant::now() + lifetime));
        Ok(token.access_token)
    }

    /// One request, bounded by the timeout.
    async fn send(&self, request: http::Request<String>) -> Result<Answer, String> {
        let exchange = async {
            let response = self
                .http
                .request(request)
                .await
                .map_err(|e| connect_error(&e))?;
            let status = response.status().as_u16();
            let bytes = response
                .into_body()
                .collect()
                .await
                .map_err(|e| format!("reading the answer: {e}"))?
                .to_bytes();
            Ok(Answer {
                status,
                body: String::from_utf8_lossy(&bytes).into_owned(),
            })
        };
        match tokio::time::timeout(self.timeout, exchange).await {
            Ok(answer) => answer,
            Err(_) => Err("timed out".to_string()),
        }
    }

    /// Sends the request built by `build`, again after quota errors, 5xx and network errors,
    /// with doubling delays. Returns the last answer (success or not).
    async fn send_with_retry<F>(&self, what: &str, build: F) -> Result<Answer, SourceError>
    where
        F: Fn() -> Result<http::Request<String>, http::Error>,
    {
        let mut delay = self.config.first_backoff;
        let attempts = self.config.attempts.max(1);
        for attempt in 1..=attempts {
            let last = attempt == attempts;
            let request = build().map_err(|e| SourceError::config(format!("{what}: {e}")))?;
            match self.send(request).await {
                Ok(answer) => {
                    let status = answer.status;
                    let quota = status == 403 && is_quota_error(&answer.body);
                    let retry = status == 429 || status >= 500 || quota;
                    if !retry || last {
                        return Ok(answer);
                    }
                }
                Err(e) if last => return Err(SourceError::transient(format!("{what}: {e}"))),
                Err(_) => {}
            }
            tokio::time::sleep(delay).await;
            delay = delay.saturating_mul(2);
        }
        Err(SourceError::transient(format!("{what}: no answer")))
    }

    /// Busy periods of the calendar within `window`.
    pub async fn read(&mut self, window: Interval) -> Result<Vec<Interval>, SourceError> {
        for pass in 0..2 {
            let token = self.access_token().await?;
            let url = format!(
                "{}/calendar/v3/freeBusy",
                self.config.api_base.trim_end_matches('/')
            );
            let body = serde_json::json!({
                "timeMin": window.start.to_rfc3339(),
                "timeMax": window.end.to_rfc3339(),
                "timeZone": "UTC",
                "items": [{ "id": self.calendar_id }],
            });
            let body = body.to_string();
            let answer = self
                .send_with_retry("asking Google for free/busy", || {
                    http::Request::post(url.as_str())
                        .header(CONTENT_TYPE, "application/json")
                        .header(AUTHORIZATION, format!("Bearer {token}"))
                        .body(body.clone())
                })
                .await?;
            let (status, text) = (answer.status, answer.body);
            if status == 401 && pass == 0 {
                self.token = None;
                continue;
            }
            if !(200..300).contains(&status) {
                return Err(api_error("asking Google for free/busy", status, &text));
            }
            let parsed: FreeBusyResponse = serde_json::from_str(&text).map_err(|_| {
                SourceError::transient("Google's free/busy answer was not understood")
            })?;
            let calendar = parsed.calendars.get(&self.calendar_id).ok_or_else(|| {
                SourceError::transient("Google's answer does not mention the calendar")
            })?;
            if let Some(e) = calendar.errors.first() {
                return Err(SourceError::config(format!(
                    "Google cannot read calendar {}: {} ({})",
                    self.calendar_id, e.reason, e.domain
                )));
            }
            return Ok(calendar
                .busy
                .iter()
                .filter(|b| b.start < b.end)
                .map(|b| Interval::new(b.start, b.end))
                .collect());
        }
        Err(SourceError::config(
            "Google keeps refusing the access token",
        ))
    }
}

fn is_quota_error(body: &str) -> bool {
    serde_json::from_str::<ApiErrorBody>(body)
        .map(|b| {
            b.error.errors.iter().any(|e| {
                matches!(
                    e.reason.as_str(),
                    "rateLimitExceeded" | "userRateLimitExceeded" | "quotaExceeded"
                ) || e.domain == "usageLimits"
            })
        })
        .unwrap_or(false)
}

fn api_error(what: &str, status: u16, body: &str) -> SourceError {
    let detail = serde_json::from_str::<ApiErrorBody>(body)
        .map(|b| {
            let reason = b
                .error
                .errors
                .first()
                .map(|e| e.reason.clone())
                .unwrap_or_default();
            format!("{} {} {}", b.error.code, b.error.message, reason)
                .trim()
                .to_string()
        })
        .unwrap_or_else(|_| status.to_string());
    let message = format!("{what}: Google answered {detail}");
    if status == 429 || status >= 500 || is_quota_error(body) {
        SourceError::transient(message)
    } else {
        SourceError::config(message)
    }
}

/// A connection error in a few words (hyper's chain of causes, without the request).
fn connect_error(e: &hyper_util::client::legacy::Error) -> String {
    let mut msg = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        msg = format!("{msg}: {cause}");
        source = cause.source();
    }
    msg
}

/// `application/x-www-form-urlencoded` value encoding.
fn form_encode(raw: &str) -> String {
    raw.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => {
                (b as char).to_string()
            }
            b' ' => "+".to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
