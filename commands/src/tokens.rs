//! API token creation. The secret is random (256 bits), shown once, and only its SHA-256 hash is
//! recorded. A fast hash is right here: the secret is not a password a person chose, so there
//! is nothing to brute-force from the hash.

use crate::bus::{CommandBus, CommandError, Committed};
use domain::ids::TokenId;
use domain::metadata::EventMetadata;
use domain::token::{ApiToken, ApiTokenCommand, ApiTokenError, Scope};
use rand::RngCore;
use sha2::{Digest, Sha256};

/// Prefix that makes a leaked salon token recognisable to secret scanners.
pub const TOKEN_PREFIX: &str = "salon_";

/// The hex SHA-256 of a token secret, as recorded in the log and looked up by the API.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// A freshly created token: the secret exists only in this value.
pub struct NewToken {
    pub id: TokenId,
    pub secret: String,
    pub committed: Committed,
}

impl CommandBus {
    pub async fn create_token(
        &self,
        name: &str,
        scope: Scope,
        metadata: &EventMetadata,
    ) -> Result<NewToken, CommandError<ApiTokenError>> {
        let mut bytes = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut bytes);
        let secret = format!("{TOKEN_PREFIX}{}", hex::encode(bytes));
        let id = TokenId::new();
        let command = ApiTokenCommand::Create {
            id,
            name: name.to_string(),
            scope,
            secret_hash: hash_secret(&secret),
        };
        let (committed, _) = self
            .execute::<ApiToken>(&id.to_string(), command, metadata)
            .await?;
        Ok(NewToken {
            id,
            secret,
            committed,
        })
    }
}

impl CommandBus {
    /// Revokes a token: from now on it gets 401.
    pub async fn revoke_token(
        &self,
        id: TokenId,
        metadata: &EventMetadata,
    ) -> Result<Committed, CommandError<ApiTokenError>> {
        let (committed, _) = self
            .execute::<ApiToken>(&id.to_string(), ApiTokenCommand::Revoke, metadata)
            .await?;
        Ok(committed)
    }
}
