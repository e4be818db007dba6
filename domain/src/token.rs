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
    /// Renames the token and/or changes its scope; what does not change appends nothing. A
    /// revoked token cannot change.
    Change {
        name: Option<String>,
        scope: Option<Scope>,
    },
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
    TokenRenamed {
        id: TokenId,
        name: String,
    },
    TokenScopeChanged {
        id: TokenId,
        scope: Scope,
    },
}

impl DomainEvent for ApiTokenEvent {
    fn event_type(&self) -> String {
        match self {
            Self::TokenCreated { .. } => "TokenCreated",
            Self::TokenRevoked { .. } => "TokenRevoked",
            Self::TokenRenamed { .. } => "TokenRenamed",
            Self::TokenScopeChanged { .. } => "TokenScopeChanged",
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
            ApiTokenCommand::Change { name, scope } => {
                let id = self.id.ok_or(ApiTokenError::NotFound)?;
                if self.revoked {
                    return Err(ApiTokenError::AlreadyRevoked);
                }
                if let Some(name) = name {
                    let name = bounded_text("name", &name, 1, 64)?;
                    if name != self.name {
                        sink.write(ApiTokenEvent::TokenRenamed { id, name }, self)
                            .await;
                    }
                }
                if let Some(scope) = scope.filter(|s| *s != self.scope) {
                    sink.write(ApiTokenEvent::TokenScopeChanged { id, scope }, self)
                        .await;
                }
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
            ApiTokenEvent::TokenRenamed { name, .. } => self.name = name,
            ApiTokenEvent::TokenScopeChanged { scope, .. } => self.scope = scope,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cqrs_es::test::TestFramework;
    use uuid::Uuid;

    type TokenTest = TestFramework<ApiToken>;

    fn id() -> TokenId {
        TokenId::from_uuid(Uuid::from_u128(1))
    }

    /// SHA-256 of "secret", hex.
    const HASH: &str = "2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b";

    fn create(name: &str, secret_hash: &str) -> ApiTokenCommand {
        ApiTokenCommand::Create {
            id: id(),
            name: name.into(),
            scope: Scope::Write,
            secret_hash: secret_hash.into(),
        }
    }

    fn created() -> ApiTokenEvent {
        ApiTokenEvent::TokenCreated {
            id: id(),
            name: "Partner site".into(),
            scope: Scope::Write,
            secret_hash: HASH.into(),
        }
    }

    #[test]
    fn creating_a_token_records_its_trimmed_name_and_hash() {
        TokenTest::with(())
            .given_no_previous_events()
            .when(create(" Partner site ", HASH))
            .then_expect_events(vec![created()]);
    }

    #[test]
    fn creating_an_existing_token_is_refused() {
        TokenTest::with(())
            .given(vec![created()])
            .when(create("Partner site", HASH))
            .then_expect_error(ApiTokenError::AlreadyExists);
    }

    #[test]
    fn a_token_without_a_name_is_refused() {
        TokenTest::with(())
            .given_no_previous_events()
            .when(create("  ", HASH))
            .then_expect_error(ApiTokenError::Invalid(ParseError::new(
                "name",
                "is required",
            )));
    }

    #[test]
    fn a_token_name_over_64_characters_is_refused() {
        TokenTest::with(())
            .given_no_previous_events()
            .when(create(&"x".repeat(65), HASH))
            .then_expect_error(ApiTokenError::Invalid(ParseError::new(
                "name",
                "is longer than 64 characters",
            )));
    }

    #[test]
    fn a_hash_shorter_than_64_characters_is_refused() {
        TokenTest::with(())
            .given_no_previous_events()
            .when(create("Partner site", &HASH[..63]))
            .then_expect_error(ApiTokenError::BadHash);
    }

    #[test]
    fn a_hash_longer_than_64_characters_is_refused() {
        TokenTest::with(())
            .given_no_previous_events()
            .when(create("Partner site", &format!("{HASH}0")))
            .then_expect_error(ApiTokenError::BadHash);
    }

    #[test]
    fn a_hash_that_is_not_hex_is_refused() {
        TokenTest::with(())
            .given_no_previous_events()
            .when(create("Partner site", &format!("g{}", &HASH[1..])))
            .then_expect_error(ApiTokenError::BadHash);
    }

    #[test]
    fn a_raw_secret_in_place_of_the_hash_is_refused() {
        TokenTest::with(())
            .given_no_previous_events()
            .when(create("Partner site", "secret"))
            .then_expect_error(ApiTokenError::BadHash);
    }

    #[test]
    fn revoking_a_token_records_it() {
        TokenTest::with(())
            .given(vec![created()])
            .when(ApiTokenCommand::Revoke)
            .then_expect_events(vec![ApiTokenEvent::TokenRevoked { id: id() }]);
    }

    #[test]
    fn revoking_twice_is_refused() {
        TokenTest::with(())
            .given(vec![created(), ApiTokenEvent::TokenRevoked { id: id() }])
            .when(ApiTokenCommand::Revoke)
            .then_expect_error(ApiTokenError::AlreadyRevoked);
    }

    #[test]
    fn revoking_an_unknown_token_is_refused() {
        TokenTest::with(())
            .given_no_previous_events()
            .when(ApiTokenCommand::Revoke)
            .then_expect_error(ApiTokenError::NotFound);
    }

    #[test]
    fn scopes_parse_from_read_and_write_only() {
        assert_eq!(Scope::parse(" read "), Ok(Scope::Read));
        assert_eq!(Scope::parse("write"), Ok(Scope::Write));
        assert_eq!(Scope::parse("admin").unwrap_err().field, "scope");
        assert_eq!(Scope::Write.as_str(), "write");
    }

    #[test]
    fn a_change_records_the_new_name_and_scope() {
        TokenTest::with(())
            .given(vec![created()])
            .when(ApiTokenCommand::Change {
                name: Some(" CRM sync ".into()),
                scope: Some(Scope::Read),
            })
            .then_expect_events(vec![
                ApiTokenEvent::TokenRenamed {
                    id: id(),
                    name: "CRM sync".into(),
                },
                ApiTokenEvent::TokenScopeChanged {
                    id: id(),
                    scope: Scope::Read,
                },
            ]);
    }

    #[test]
    fn a_change_to_nothing_new_appends_nothing() {
        TokenTest::with(())
            .given(vec![created()])
            .when(ApiTokenCommand::Change {
                name: Some("Partner site".into()),
                scope: Some(Scope::Write),
            })
            .then_expect_events(vec![]);
    }

    #[test]
    fn a_revoked_token_cannot_change() {
        TokenTest::with(())
            .given(vec![created(), ApiTokenEvent::TokenRevoked { id: id() }])
            .when(ApiTokenCommand::Change {
                name: Some("Back".into()),
                scope: None,
            })
            .then_expect_error(ApiTokenError::AlreadyRevoked);
    }

    #[test]
    fn a_blank_name_is_refused() {
        TokenTest::with(())
            .given(vec![created()])
            .when(ApiTokenCommand::Change {
                name: Some(" ".into()),
                scope: None,
            })
            .then_expect_error(ApiTokenError::Invalid(ParseError::new(
                "name",
                "is required",
            )));
    }

    #[test]
    fn changing_an_unknown_token_is_refused() {
        TokenTest::with(())
            .given_no_previous_events()
            .when(ApiTokenCommand::Change {
                name: None,
                scope: None,
            })
            .then_expect_error(ApiTokenError::NotFound);
    }
}
