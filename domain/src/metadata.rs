//! The audit trail: who did what, when, why, through which path and because of what. Every
//! event in the log carries one of these beside its payload.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The path a command came in through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Spa,
    Panel,
    Api,
    Webhook,
    Intake,
    Cli,
    Job,
    /// A client list imported from another booking product (`salon import clients`, the panel).
    Import,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Source::Spa => "spa",
            Source::Panel => "panel",
            Source::Api => "api",
            Source::Webhook => "webhook",
            Source::Intake => "intake",
            Source::Cli => "cli",
            Source::Job => "job",
            Source::Import => "import",
        };
        f.write_str(s)
    }
}

/// Audit metadata of one command; every event the command appends carries a copy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventMetadata {
    /// `client`, `owner`, `partner`, `token:<name>`, `stripe`, `calendar:<source>` or `system`.
    pub actor: String,
    pub source: Source,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub causation_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub recorded_at: DateTime<Utc>,
}

impl EventMetadata {
    pub fn new(actor: impl Into<String>, source: Source) -> Self {
        Self {
            actor: actor.into(),
            source,
            request_id: None,
            correlation_id: None,
            causation_id: None,
            reason: None,
            recorded_at: Utc::now(),
        }
    }
    pub fn with_request_id(mut self, id: impl Into<String>) -> Self {
        let id = id.into();
        if self.correlation_id.is_none() {
            self.correlation_id = Some(id.clone());
        }
        self.request_id = Some(id);
        self
    }
    pub fn with_reason(mut self, reason: Option<String>) -> Self {
        self.reason = reason.filter(|r| !r.trim().is_empty());
        self
    }
    pub fn with_causation(mut self, causation: impl Into<String>) -> Self {
        self.causation_id = Some(causation.into());
        self
    }
}
