//! Forgetting a client (erasure without rewriting history, issue 8): the client's key is
//! deleted, so every sealed value about them in the log can never be opened again, and
//! `ClientForgotten` is appended so the read models scrub what they show now and readers redact
//! the plain version-1 values written before sealing existed.

use crate::bus::{CommandBus, CommandError, Committed};
use domain::client::{Client, ClientCommand, ClientError};
use domain::ids::ClientId;
use domain::metadata::EventMetadata;

/// Deletes client `id`'s key, then records `ClientForgotten`. The key goes first: if the append
/// fails the client is already unreadable and forgetting again finishes the job (the key's
/// deletion is idempotent). Forgetting a forgotten client is `AlreadyForgotten`.
pub async fn forget(
    bus: &CommandBus,
    id: ClientId,
    metadata: &EventMetadata,
) -> Result<Committed, CommandError<ClientError>> {
    bus.store()
        .forget_client_key(&id.to_string())
        .await
        .map_err(|e| CommandError::Store(crate::store::map_sqlx(e)))?;
    // Webhook deliveries planned before carry the opened data: erase it there too.
    bus.store()
        .scrub_outbox(&id.to_string())
        .await
        .map_err(|e| CommandError::Store(crate::store::map_sqlx(e)))?;
    // Aggregates cached in this process were opened with the key: drop them all.
    bus.clear_cache();
    let (committed, _) = bus
        .execute::<Client>(&id.to_string(), ClientCommand::Forget { id }, metadata)
        .await?;
    Ok(committed)
}
