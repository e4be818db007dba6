//! `salon clients forget ID|EMAIL`: erase a client's personal data (issue 8). Deletes the
//! client's key and records `ClientForgotten`; the projections scrub the read models.

use crate::app;
use anyhow::{anyhow, bail};
use domain::ids::ClientId;
use domain::metadata::{EventMetadata, Source};
use domain::values::Email;

/// The client `who` names: their id, or their email address.
pub fn client_id(who: &str) -> anyhow::Result<ClientId> {
    if let Ok(id) = ClientId::parse(who.trim()) {
        return Ok(id);
    }
    let email = Email::parse(who)
        .map_err(|_| anyhow!("{who:?} is neither a client id nor an email address"))?;
    Ok(ClientId::for_email(&email))
}

/// Forgets the client `who` names; answers their id. A client the read models have never seen
/// is refused (nothing is written), as is one already forgotten. The read models are scrubbed
/// by the projections of a running server, or of the next `salon serve` (this command does not
/// move their checkpoints itself, so it is safe beside running servers).
pub async fn forget(url: &str, who: &str, reason: Option<String>) -> anyhow::Result<ClientId> {
    let id = client_id(who)?;
    let store = app::open_store(url).await?;
    let read = projections::ReadDb::connect(url).await?;
    let result = async {
        let known = projections::clients::client(&read, &id.to_string())
            .await?
            .is_some()
            || !store
                .load::<domain::client::Client>(&id.to_string())
                .await?
                .is_empty();
        if !known {
            bail!("no such client: {id} (or the read models have not seen them yet)");
        }
        let bus = commands::CommandBus::new(store.clone(), migrations::LogSignal::default());
        let meta = EventMetadata::new("owner", Source::Cli).with_reason(reason);
        commands::clients::forget(&bus, id, &meta)
            .await
            .map_err(|e| anyhow!("{e}"))?;
        Ok(id)
    }
    .await;
    read.close().await;
    store.close().await;
    result
}
