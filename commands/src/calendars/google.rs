//! Google Calendar: `freeBusy.query` over OAuth2, with a service-account key (signed JWT
//! assertion) or an installed-app refresh token. Base URLs are configurable so tests talk to a
//! local stub of the documented wire format. Quota errors and 5xx are retried with backoff.

use super::SourceError;
use chrono::{DateTime, Utc};
use domain::availability::Interval;
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

/// One Google calendar, with its cached access token.
pub struct GoogleCalendar {
    http: reqwest::Client,
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
        super::install_crypto_provider();
        let credentials = GoogleCredentials::parse(credentials)
            .map_err(|m| SourceError::config(format!("Google credentials {m}")))?;
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|e| SourceError::config(format!("HTTP client: {e}")))?;
        Ok(Self {
            http,
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
        let response = self
            .send_with_retry("getting a Google access token", || {
                self.http.post(&url).form(&form)
            })
            .await?;
        let status = response.status();
        let body = response
            .text()
            .await
            .map_err(|e| SourceError::transient(format!("reading the Google token: {e}")))?;
        if !status.is_success() {
            let detail = serde_json::from_str::<OAuthError>(&body)
                .map(|e| match e.error_description {
                    Some(d) => format!("{}: {d}", e.error),
                    None => e.error,
                })
                .unwrap_or_else(|_| status.to_string());
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

    /// Sends the request built by `build`, again after quota errors, 5xx and network errors,
    /// with doubling delays. Returns the last response (success or not).
    async fn send_with_retry<F>(&self, what: &str, build: F) -> Result<reqwest::Response, SourceError>
    where
        F: Fn() -> reqwest::RequestBuilder,
    {
        let mut delay = self.config.first_backoff;
        let attempts = self.config.attempts.max(1);
        for attempt in 1..=attempts {
            let last = attempt == attempts;
            match build().send().await {
                Ok(response) => {
                    let status = response.status().as_u16();
                    let retry = status == 429 || status >= 500 || status == 403;
                    if !retry || last {
                        return Ok(response);
                    }
                    if status == 403 {
                        // 403 is retried only for quota reasons; anything else is final.
                        let body = response.text().await.unwrap_or_default();
                        if !is_quota_error(&body) {
                            return Err(api_error(what, 403, &body));
                        }
                    }
                }
                Err(e) if last => {
                    return Err(SourceError::transient(format!("{what}: {}", without_url(&e))))
                }
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
            let response = self
                .send_with_retry("asking Google for free/busy", || {
                    self.http.post(&url).bearer_auth(&token).json(&body)
                })
                .await?;
            let status = response.status().as_u16();
            let text = response
                .text()
                .await
                .map_err(|e| SourceError::transient(format!("reading free/busy: {e}")))?;
            if status == 401 && pass == 0 {
                self.token = None;
                continue;
            }
            if !(200..300).contains(&status) {
                return Err(api_error("asking Google for free/busy", status, &text));
            }
            let parsed: FreeBusyResponse = serde_json::from_str(&text)
                .map_err(|_| SourceError::transient("Google's free/busy answer was not understood"))?;
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
        Err(SourceError::config("Google keeps refusing the access token"))
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

/// reqwest errors print the URL; ours carry no secrets, but keep messages short anyway.
fn without_url(e: &reqwest::Error) -> String {
    let mut msg = e.to_string();
    if let Some(url) = e.url() {
        msg = msg.replace(url.as_str(), "");
    }
    if e.is_timeout() {
        "timed out".to_string()
    } else {
        msg.trim().to_string()
    }
}
