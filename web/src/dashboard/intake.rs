//! The intake's open entries, asked over HTTP (`GET /intake/entries?state=open` with
//! `SALON_INTAKE_TOKEN`): submissions the API has not accepted yet. Every way this can fail
//! becomes a sentence on the page, never an error page.

use serde::Deserialize;
use serde_json::Value;

/// Where `salon intake` is and the token it lists entries for.
#[derive(Clone)]
pub struct IntakeSource {
    /// Base URL, without a trailing slash (`SALON_INTAKE_URL`).
    pub url: String,
    /// `SALON_INTAKE_TOKEN` (secret).
    pub token: Option<String>,
}

impl std::fmt::Debug for IntakeSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntakeSource")
            .field("url", &self.url)
            .field("token", &self.token.as_ref().map(|_| "***"))
            .finish()
    }
}

impl IntakeSource {
    pub fn new(url: &str, token: Option<String>) -> Self {
        Self {
            url: url.trim().trim_end_matches('/').to_string(),
            token: token.filter(|t| !t.is_empty()),
        }
    }
}

/// One entry as the intake lists it (the fields the page shows).
#[derive(Debug, Clone, Deserialize)]
pub struct Entry {
    pub kind: String,
    pub state: String,
    #[serde(default)]
    pub body: Value,
    #[serde(default)]
    pub attempts: i64,
    pub last_error: Option<String>,
    pub problem: Option<Value>,
    pub received_at: Option<String>,
    #[serde(default)]
    pub owner_emailed: bool,
}

#[derive(Debug, Deserialize)]
struct Listing {
    count: i64,
    results: Vec<Entry>,
}

/// What asking the intake gave.
#[derive(Debug)]
pub enum Outcome {
    NotConfigured,
    NoToken,
    /// The open entries (at most 200 shown) and how many there are in all.
    Listed {
        count: i64,
        entries: Vec<Entry>,
    },
    /// Could not ask, in words.
    Failed(String),
}

pub async fn open_entries(http: &reqwest::Client, source: Option<&IntakeSource>) -> Outcome {
    let Some(source) = source else {
        return Outcome::NotConfigured;
    };
    let Some(token) = &source.token else {
        return Outcome::NoToken;
    };
    let url = format!("{}/intake/entries?state=open&limit=200", source.url);
    let answer = match http.get(&url).bearer_auth(token).send().await {
        Ok(a) => a,
        Err(e) => {
            let why = if e.is_timeout() {
                "it did not answer in time"
            } else if e.is_connect() {
                "nothing answers at that address"
            } else {
                "the connection failed"
            };
            tracing::warn!(url = %source.url, error = %e, "intake unreachable");
            return Outcome::Failed(format!(
                "The intake at {} cannot be reached right now: {why}. Bookings it holds are safe there; this list will show them once it answers.",
                source.url
            ));
        }
    };
    match answer.status().as_u16() {
        200 => match answer.json::<Listing>().await {
            Ok(l) => Outcome::Listed {
                count: l.count,
                entries: l.results,
            },
            Err(e) => {
                tracing::warn!(error = %e, "intake listing unreadable");
                Outcome::Failed(format!(
                    "The intake at {} answered, but not with a list of entries. Is SALON_INTAKE_URL the intake's address?",
                    source.url
                ))
            }
        },
        401 | 403 => Outcome::Failed(
            "The intake refused the dashboard's token: SALON_INTAKE_TOKEN here must be the same as the intake's.".into(),
        ),
        404 => Outcome::Failed(format!(
            "There is no intake listing at {}. Is SALON_INTAKE_URL the intake's address?",
            source.url
        )),
        s => Outcome::Failed(format!(
            "The intake at {} had a problem answering (HTTP {s}). Try again in a moment.",
            source.url
        )),
    }
}
