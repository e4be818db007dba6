//! API tokens for integrators. Only a SHA-256 hash of the secret is ever recorded; the secret is
//! shown once when the token is created.

use crate::ids::{ParseError, TokenId};
use crate::values::bounded_text;
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    #[default]
    Read,
    Write,
}

impl Scope {
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        match raw.trim() {
            "read" => Ok(Self::Read),
            "write" => Ok(Self::Write),
            other => Err(ParseError::new(
                "scope",
                format!("{other:?} is not read or write"),
            )),
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ApiToken {
    pub id: Option<TokenId>,
    pub name: String,
    pub scope: Scope,
    pub revoked: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ApiTokenCommand {
    Create {
        id: TokenId,
        name: String,
        scope: Scope,
        secret_hash: String,
    },
    Revoke,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ApiTokenEvent {
    TokenCreated {
        id: TokenId,
        name: String,
        scope: Scope,
        secret_hash: String,
    },
    TokenRevoked {
        id: TokenId,
    },
}

impl DomainEvent for ApiTokenEvent {
    fn event_type(&self) -> String {
        match self {
            Self::TokenCreated { .. } => "TokenCreated",
            Self::TokenRevoked { .. } => "TokenRevoked",
        }
        .into()
    }
    fn event_version(&self) -> String {
        "1".into()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiTokenError {
    #[error("the token already exists")]
    AlreadyExists,
    #[error("no such token")]
    NotFound,
    #[error("the token is already revoked")]
    AlreadyRevoked,
    #[error("the secret hash must be 64 hex characters")]
    BadHash,
    #[error(transparent)]
    Invalid(#[from] ParseError),
}

impl Aggregate for ApiToken {
    const TYPE: &'static str = "ApiToken";
    type Command = ApiTokenCommand;
    type Event = ApiTokenEvent;
    type Error = ApiTokenError;
    type Services = ();

    async fn handle(
        &mut self,
        command: ApiTokenCommand,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), ApiTokenError> {
        match command {
            ApiTokenCommand::Create {
                id,
                name,
                scope,
                secret_hash,
            } => {
                if self.id.is_some() {
                    return Err(ApiTokenError::AlreadyExists);
                }
                let name = bounded_text("name", &name, 1, 64)?;
                if secret_hash.len() != 64 || !secret_hash.chars().all(|c| c.is_ascii_hexdigit()) {
                    return Err(ApiTokenError::BadHash);
                }
                sink.write(
                    ApiTokenEvent::TokenCreated {
                        id,
                        name,
                        scope,
                        secret_hash,
                    },
                    self,
                )
                .await;
            }
            ApiTokenCommand::Revoke => {
                let id = self.id.ok_or(ApiTokenError::NotFound)?;
                if self.revoked {
                    return Err(ApiTokenError::AlreadyRevoked);
                }
                sink.write(ApiTokenEvent::TokenRevoked { id }, self).await;
            }
        }
        Ok(())
    }

    fn apply(&mut self, event: ApiTokenEvent) {
        match event {
            ApiTokenEvent::TokenCreated {
                id, name, scope, ..
            } => {
                self.id = Some(id);
                self.name = name;
                self.scope = scope;
            }
            ApiTokenEvent::TokenRevoked { .. } => self.revoked = true,
        }
    }
}
